"""The approval route on the purchase request's page (registered from ApprovalsConfig.ready())."""

from __future__ import annotations

import datetime as dt
from typing import Any, TypedDict

from django.utils import dateformat, timezone

from approvals.models import ApprovalStep, Decision, Mode, StepState
from approvals.selectors import RouteApprover, RouteStep, approval_route_table
from procurement.models import User
from requests.models import PurchaseRequest, RequestState


def _mode_label(mode: str, required_approvals: int, group: int) -> str:
    if mode == Mode.ALL:
        return f"all of {group}" if group > 1 else "one approver"
    if mode == Mode.N_OF_M:
        return f"{required_approvals} of {group}"
    return f"any 1 of {group}" if group > 1 else "one approver"


def _counted(state: str, decisions: list[str]) -> int:
    """How many approvers a step counts: on an open step, someone taken off it (escalated to
    their manager, say) no longer does."""
    if state in (StepState.WAITING, StepState.PENDING):
        return sum(1 for decision in decisions if decision != Decision.NOT_NEEDED)
    return len(decisions)


def step_mode_label(step: ApprovalStep) -> str:
    """How many of the step's approvers must approve: "one approver", "any 1 of 3", "2 of 3",
    "all of 3". Uses the prefetched approvers (approval_route)."""
    group = _counted(step.state, [a.decision for a in step.approvers.all()])
    return _mode_label(step.mode, step.required_approvals, group)


class RouteApproverRow(TypedDict):
    """An approver of a step, every cell a string. Dicts, formatted here rather than with
    |date in the template, as on the rest of the page (requests/views.py)."""

    approver_id: int
    approver: str
    decision: str
    decision_label: str  # in lower case, as the sentence shows it
    on_behalf_of_id: int | None
    on_behalf_of: str
    decided_at_iso: str
    decided_at: str
    comment: str


class RouteStepRow(TypedDict):
    id: int
    stage: int
    name: str
    mode_label: str
    state: str
    state_label: str
    decided_by: str
    decided_at_iso: str
    decided_at: str
    activated_at_iso: str
    activated_at: str
    approvers: list[RouteApproverRow]


_STEP_STATE_LABELS: dict[str, str] = dict(StepState.choices)
_DECISION_LABELS: dict[str, str] = dict(Decision.choices)


def _when(value: dt.datetime | None) -> tuple[str, str]:
    """As |date:"c" and |date:"j M Y, H:i" in the current time zone; ("", "") for no date."""
    if value is None:
        return "", ""
    local = timezone.localtime(value)
    return local.isoformat(), dateformat.format(local, "j M Y, H:i")


def _approver_row(assignment: RouteApprover) -> RouteApproverRow:
    decided_at_iso, decided_at = _when(assignment.decided_at)
    return RouteApproverRow(
        approver_id=assignment.approver_id,
        approver=assignment.approver,
        decision=assignment.decision,
        decision_label=_DECISION_LABELS.get(assignment.decision, assignment.decision).lower(),
        on_behalf_of_id=assignment.on_behalf_of_id,
        on_behalf_of=assignment.on_behalf_of,
        decided_at_iso=decided_at_iso,
        decided_at=decided_at,
        comment=assignment.comment,
    )


def _step_row(step: RouteStep) -> RouteStepRow:
    decided_at_iso, decided_at = _when(step.decided_at)
    activated_at_iso, activated_at = _when(step.activated_at)
    group = _counted(step.state, [a.decision for a in step.approvers])
    return RouteStepRow(
        id=step.id,
        stage=step.stage,
        name=step.name,
        mode_label=_mode_label(step.mode, step.required_approvals, group),
        state=step.state,
        state_label=_STEP_STATE_LABELS.get(step.state, step.state),
        decided_by=step.decided_by,
        decided_at_iso=decided_at_iso,
        decided_at=decided_at,
        activated_at_iso=activated_at_iso,
        activated_at=activated_at,
        approvers=[_approver_row(assignment) for assignment in step.approvers],
    )


def route_panel(request: PurchaseRequest, user: User) -> tuple[str, dict[str, Any]] | None:
    """The latest round of the route, step by step: nothing before the first submission."""
    if request.state == RequestState.DRAFT and request.submitted_at is None:
        # A route starts on submission (ApprovalWorkflow.on_transition) and submitted_at is
        # never cleared: a draft never submitted has none, and asking costs a query (~0.7 ms).
        return None
    steps = approval_route_table(request=request)
    if not steps:
        return None
    return (
        "approvals/_route.html",
        {
            "route_round": steps[0].round,
            "route": [_step_row(step) for step in steps],
            "viewer_id": user.pk,
        },
    )
