"""Reads of approval routes and of what waits for whom."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Prefetch, QuerySet, Subquery

from approvals.models import ApprovalStep, Decision, StepApprover, StepState
from procurement.models import User
from procurement.prepared import PreparedQuery
from requests.models import PurchaseRequest


def approval_round_latest(*, request: PurchaseRequest) -> Subquery:
    """The number of the request's latest round, as a subquery: the rows of that round are
    read in one query rather than a MAX() first. No step at all: NULL, which matches no round."""
    return Subquery(
        ApprovalStep.objects.filter(request=request).order_by("-round").values("round")[:1]
    )


def approval_route(*, request: PurchaseRequest) -> list[ApprovalStep]:
    """The latest round of the request's frozen route, with who was asked and what they decided."""
    return list(
        ApprovalStep.objects.filter(request=request, round=approval_round_latest(request=request))
        .select_related("decided_by")
        .prefetch_related(
            Prefetch(
                "approvers",
                queryset=StepApprover.objects.select_related("approver", "on_behalf_of").order_by(
                    "id"
                ),
            )
        )
        .order_by("stage", "position", "id")
    )


def _person(username: str | None, first_name: str | None, last_name: str | None) -> str:
    """User.__str__ from three columns: the full name, else the username ("" for nobody)."""
    if username is None:
        return ""
    return f"{first_name} {last_name}".strip() or username


@dataclass(frozen=True)
class RouteApprover:
    """Someone asked to decide a step of the route, as the request's page shows them."""

    approver_id: int
    approver: str  # the person, as User.__str__ names them
    decision: str
    decided_at: dt.datetime | None
    comment: str
    on_behalf_of_id: int | None
    on_behalf_of: str  # "" when they stand in for no one


@dataclass
class RouteStep:
    """A step of the route with its approvers in the order they were asked (filled in by
    approval_route_table as it reads their rows)."""

    id: int
    round: int
    stage: int
    name: str
    state: str
    mode: str
    required_approvals: int
    activated_at: dt.datetime | None
    decided_at: dt.datetime | None
    decided_by: str  # the person, as User.__str__ names them; "" when nobody decided it
    approvers: list[RouteApprover] = field(default_factory=list)


# One row per step and approver (a step without approvers: one row, its approver columns NULL).
_ROUTE_STEP_COLUMNS = (
    "id",
    "round",
    "stage",
    "name",
    "state",
    "mode",
    "required_approvals",
    "activated_at",
    "decided_at",
    "decided_by__username",
    "decided_by__first_name",
    "decided_by__last_name",
)
_ROUTE_APPROVER_COLUMNS = (
    "approvers__id",
    "approvers__approver_id",
    "approvers__approver__username",
    "approvers__approver__first_name",
    "approvers__approver__last_name",
    "approvers__decision",
    "approvers__decided_at",
    "approvers__comment",
    "approvers__on_behalf_of_id",
    "approvers__on_behalf_of__username",
    "approvers__on_behalf_of__first_name",
    "approvers__on_behalf_of__last_name",
)

# On every request page: compiled once (procurement/prepared.py).
_ROUTE_ROWS: PreparedQuery[tuple[Any, ...]] = PreparedQuery(
    lambda request_id: (
        ApprovalStep.objects.filter(request_id=request_id)
        .order_by("-round", "stage", "position", "id", "approvers__id")
        .values_list(*_ROUTE_STEP_COLUMNS, *_ROUTE_APPROVER_COLUMNS)
    )
)


def approval_route_table(*, request: PurchaseRequest) -> list[RouteStep]:
    """What approval_route says, as the request's page shows it: the latest round's steps in
    route order, each with its approvers' names and decisions.

    One query of plain values instead of steps, approvers and their people as model
    instances (two queries): ~3.5 ms of Python instead of ~9 ms per page (bench/web
    cpu_profile). Every round is read, newest first, and the rows of the first one kept: a
    request is rarely routed more than once, and a MAX(round) subquery costs more to plan.
    """
    rows = _ROUTE_ROWS.list(request_id=request.pk)
    steps: list[RouteStep] = []
    for row in rows:
        (step_id, round_, stage, name, state, mode, required, activated_at, decided_at) = row[:9]
        if steps and round_ != steps[0].round:
            break  # an earlier round
        if not steps or steps[-1].id != step_id:
            steps.append(
                RouteStep(
                    id=step_id,
                    round=round_,
                    stage=stage,
                    name=name,
                    state=state,
                    mode=mode,
                    required_approvals=required,
                    activated_at=activated_at,
                    decided_at=decided_at,
                    decided_by=_person(*row[9:12]),
                )
            )
        (assignment_id, approver_id, *approver_name) = row[12:17]
        if assignment_id is None:
            continue  # a step nobody was asked to decide
        (decision, assignment_decided_at, comment, on_behalf_of_id, *stand_in) = row[17:]
        steps[-1].approvers.append(
            RouteApprover(
                approver_id=approver_id,
                approver=_person(*approver_name),
                decision=decision,
                decided_at=assignment_decided_at,
                comment=comment,
                on_behalf_of_id=on_behalf_of_id,
                on_behalf_of=_person(*stand_in),
            )
        )
    return steps


@dataclass(frozen=True)
class ApprovedStep:
    """A step approved so far, as an approval email and its link's page name it."""

    name: str
    decided_by: str  # the person, as User.__str__ names them


# Every link's page: compiled once (procurement/prepared.py).
_APPROVED_STEPS_OF_ROUND: PreparedQuery[tuple[str, str, str, str | None]] = PreparedQuery(
    lambda request_id, round: (
        ApprovalStep.objects.filter(request_id=request_id, round=round, state=StepState.APPROVED)
        .order_by("stage", "position", "id")
        .values_list(
            "name", "decided_by__first_name", "decided_by__last_name", "decided_by__username"
        )
    )
)


def approval_steps_approved(*, step: ApprovalStep) -> list[ApprovedStep]:
    """The approved steps of `step`'s round, in route order, with who decided each: what an
    email link's page and the approver's email list as "approved so far". An open step is
    always of the latest round (a new round starts only once the last one is closed), so
    this is what approval_route says, without its approvers or a subquery for the round.
    Four columns rather than the steps and their people (0.3-0.4 ms less per page)."""
    rows = _APPROVED_STEPS_OF_ROUND.list(request_id=step.request_id, round=step.round)
    return [
        ApprovedStep(
            name=name,
            # An unsaved User only to name them as everywhere else (never saved).
            decided_by=str(User(first_name=first, last_name=last, username=username))
            if username is not None
            else "",
        )
        for name, first, last, username in rows
    ]


def approval_inbox(*, user: User) -> QuerySet[StepApprover]:
    """The open steps `user` is asked to decide, oldest first."""
    return (
        StepApprover.objects.filter(
            approver=user, decision=Decision.PENDING, step__state=StepState.PENDING
        )
        .select_related(
            "step",
            "step__request",
            "step__request__requester",
            "step__request__department",
            "step__request__category",
        )
        .order_by("step__activated_at", "id")
    )
