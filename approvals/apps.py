from __future__ import annotations

from django.apps import AppConfig


class ApprovalsConfig(AppConfig):
    name = "approvals"
    verbose_name = "Approvals"

    def ready(self) -> None:
        from approvals.route_panel import route_panel
        from approvals.services import ApprovalWorkflow
        from approvals.visibility import APPROVERS_SEE_THEIR_REQUESTS
        from requests import workflow

        workflow.install(ApprovalWorkflow())
        workflow.register_detail_panel(route_panel)
        workflow.register_visibility(APPROVERS_SEE_THEIR_REQUESTS)
