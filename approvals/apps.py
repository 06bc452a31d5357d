from __future__ import annotations

from django.apps import AppConfig


class ApprovalsConfig(AppConfig):
    name = "approvals"
    verbose_name = "Approvals"

    def ready(self) -> None:
        from approvals.services import ApprovalWorkflow
        from requests import workflow

        workflow.install(ApprovalWorkflow())
