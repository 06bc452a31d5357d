"""Planning's panels on the purchase request's page (registered from PlanningConfig.ready()):
the objective and budget (the same panels go into the approval email and confirmation page),
and the needs the request was consolidated from."""

from __future__ import annotations

from typing import Any

from planning.budgets import decision_panels, may_see_budget_figures, objective_panel
from planning.needs import needs_of_request
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


def needs_panel(request: PurchaseRequest, user: User) -> tuple[str, dict[str, Any]] | None:
    """Where the request came from, when procurement gathered it from needs: each need and
    the consolidation (the requests app cannot link back itself: it may not import planning)."""
    needs = needs_of_request(request_id=request.pk)
    if not needs:
        return None
    consolidations = list(dict.fromkeys(need.consolidation_id for need in needs))
    return (
        "planning/needs/_request_needs.html",
        {"needs": needs, "consolidations": consolidations},
    )
