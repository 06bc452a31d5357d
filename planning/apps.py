from __future__ import annotations

from django.apps import AppConfig


class PlanningConfig(AppConfig):
    name = "planning"
    verbose_name = "Planning"

    def ready(self) -> None:
        from approvals import gates
        from planning.budgets import BudgetGate
        from planning.panels import budget_panel, needs_panel
        from requests import workflow

        gates.install(BudgetGate())
        workflow.register_detail_panel(budget_panel)
        workflow.register_detail_panel(needs_panel)
