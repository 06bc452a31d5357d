"""The objective and budget panel on the purchase request's page (registered from
PlanningConfig.ready()); the same panels go into the approval email and confirmation page."""

from __future__ import annotations

from typing import Any

from planning.budgets import decision_panels, may_see_budget_figures, objective_panel
from procurement.models import User
from requests.models import PurchaseRequest, RequestState


def budget_panel(request: PurchaseRequest, user: User) -> tuple[str, dict[str, Any]] | None:
    if request.state == RequestState.DRAFT and request.requester_id == user.pk:
        return None
    if not may_see_budget_figures(request, user):
        return (
            "approvals/_decision_panels.html",
            {"decision_panels": [objective_panel(request)], "decision_panels_heading": "Objective"},
        )
    return ("approvals/_decision_panels.html", {"decision_panels": decision_panels(request)})
