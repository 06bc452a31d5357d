from __future__ import annotations

from django.apps import AppConfig


class ApprovalsConfig(AppConfig):
    name = "approvals"
    verbose_name = "Approvals"

    def ready(self) -> None:
        from approvals.route_panel import route_panel
        from approvals.services import ApprovalWorkflow
        from approvals.visibility import approvers_see_their_requests
        from requests import workflow

        workflow.install(ApprovalWorkflow())
        workflow.register_detail_panel(route_panel)
        workflow.register_visibility(approvers_see_their_requests)
