"""The objective and budget panel on the purchase request's page (registered from
PlanningConfig.ready()); the same panels go into the approval email and confirmation page."""

from __future__ import annotations

from typing import Any

from approvals.models import StepApprover
from planning.budgets import READ_ALL_ROLES, decision_panels, objective_panel
from procurement.models import User
from requests.models import PurchaseRequest, RequestState


def _sees_budgets(request: PurchaseRequest, user: User) -> bool:
    """Budget figures are for those who decide or manage money: the request's approvers,
    finance, procurement, admins and the department head. Not its requester."""
    if user.has_role(*READ_ALL_ROLES) or request.department.head_id == user.pk:
        return True
    return StepApprover.objects.filter(step__request=request, approver=user).exists()


def budget_panel(request: PurchaseRequest, user: User) -> tuple[str, dict[str, Any]] | None:
    if request.state == RequestState.DRAFT and request.requester_id == user.pk:
        return None
    if not _sees_budgets(request, user):
        return (
            "approvals/_decision_panels.html",
            {"decision_panels": [objective_panel(request)], "decision_panels_heading": "Objective"},
        )
    return ("approvals/_decision_panels.html", {"decision_panels": decision_panels(request)})
