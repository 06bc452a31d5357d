"""The approval route on the purchase request's page (registered from ApprovalsConfig.ready())."""

from __future__ import annotations

from typing import Any

from approvals.models import ApprovalStep, Decision, Mode, StepState
from approvals.selectors import approval_route
from procurement.models import User
from requests.models import PurchaseRequest, RequestState


def step_mode_label(step: ApprovalStep) -> str:
    """How many of the step's approvers must approve: "one approver", "any 1 of 3", "2 of 3",
    "all of 3". Uses the prefetched approvers (approval_route)."""
    approvers = list(step.approvers.all())
    if step.state in (StepState.WAITING, StepState.PENDING):
        # Someone taken off an open step (escalated to their manager, say) no longer counts.
        approvers = [a for a in approvers if a.decision != Decision.NOT_NEEDED]
    group = len(approvers)
    if step.mode == Mode.ALL:
        return f"all of {group}" if group > 1 else "one approver"
    if step.mode == Mode.N_OF_M:
        return f"{step.required_approvals} of {group}"
    return f"any 1 of {group}" if group > 1 else "one approver"


def route_panel(request: PurchaseRequest, user: User) -> tuple[str, dict[str, Any]] | None:
    """The latest round of the route, step by step: nothing before the first submission."""
    if request.state == RequestState.DRAFT and request.submitted_at is None:
        # A route starts on submission (ApprovalWorkflow.on_transition) and submitted_at is
        # never cleared: a draft never submitted has none, and asking costs a query (~0.7 ms).
        return None
    steps = approval_route(request=request)
    if not steps:
        return None
    return (
        "approvals/_route.html",
        {
            "purchase_request": request,
            "route_round": steps[0].round,
            "route": [(step, step_mode_label(step)) for step in steps],
            "viewer": user,
        },
    )
