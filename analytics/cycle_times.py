"""How long approvals take: median and p90 time to decision per step and per approver, and
the slowest steps, open or decided.

A step's clock starts when it becomes pending (`activated_at`, not the submission: a
stage-2 step does not wait for stage 1 on its own account) and stops at its decision. An
approver's clock stops at their own decision, so a group step shows who in the group is slow.
Figures come from a bounded read of the period's steps (the newest MAX_STEPS), computed in
Python: approvals are thousands a year, not millions.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from django.db.models import Q, QuerySet
from django.utils import timezone

from analytics.exports import Table
from analytics.scope import IDS_PER_FILTER_MAX, filter_id, filter_month
from approvals.models import ApprovalStep, Decision, StepApprover, StepState
from procurement.errors import InvalidInput, NotAllowed
from procurement.models import ROLES_SEEING_ALL_REQUESTS, Department, Role, User
from procurement.permissions import allowed
from requests.models import PurchaseRequest

MAX_STEPS = 20_000
BOTTLENECKS = 10
DECIDED_STATES = [StepState.APPROVED, StepState.REJECTED, StepState.CHANGES_REQUESTED]
DECISIONS = [Decision.APPROVED, Decision.REJECTED, Decision.CHANGES_REQUESTED]


@dataclass(frozen=True)
class CycleFilters:
    """Steps that became pending in [month_from, end of month_to]; department ids are ours
    (procurement.Department), of the request."""

    month_from: dt.date | None = None
    month_to: dt.date | None = None
    department_ids: frozenset[int] = field(default_factory=frozenset)
    # None: every department; a set: only these (may be empty: nothing).
    scope_department_ids: frozenset[int] | None = None

    def steps_q(self, prefix: str = "") -> Q:
        q = Q()
        if self.month_from:
            q &= Q(**{f"{prefix}activated_at__date__gte": self.month_from})
        if self.month_to:
            q &= Q(**{f"{prefix}activated_at__date__lt": _next_month(self.month_to)})
        if self.department_ids:
            q &= Q(**{f"{prefix}request__department_id__in": self.department_ids})
        if self.scope_department_ids is not None:
            q &= Q(**{f"{prefix}request__department_id__in": self.scope_department_ids})
        return q


def _next_month(month: dt.date) -> dt.date:
    return (month.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def cycle_times_access(user: User) -> bool:
    return allowed(user, "analytics.view_cycletimes")


def cycle_times_departments(user: User) -> QuerySet[Department]:
    """The departments whose requests `user` may measure."""
    if user.has_role(*ROLES_SEEING_ALL_REQUESTS):
        return Department.objects.all()
    if not user.has_role(Role.MANAGER):
        return Department.objects.none()
    mine = Q(head=user)
    if user.department_id:
        mine |= Q(pk=user.department_id)
    return Department.objects.filter(mine)


def cycle_filters_for(user: User, filters: CycleFilters | None = None) -> CycleFilters:
    """`filters` narrowed to the requests `user` may see. Raises NotAllowed for no access."""
    if not cycle_times_access(user):
        raise NotAllowed("Approval cycle times are for procurement, finance and managers.")
    scope = None
    if not user.has_role(*ROLES_SEEING_ALL_REQUESTS):
        scope = frozenset(cycle_times_departments(user).values_list("pk", flat=True))
    return replace(filters or CycleFilters(), scope_department_ids=scope)


def cycle_filters_parse(params: dict[str, list[str]]) -> CycleFilters:
    """from=YYYY-MM, to=YYYY-MM and department (ids, repeated or comma-separated)."""

    def first(name: str) -> str:
        return (params.get(name) or [""])[0]

    month_from = filter_month(first("from"), "from")
    month_to = filter_month(first("to"), "to")
    if month_from and month_to and month_from > month_to:
        raise InvalidInput(
            "The period ends before it starts.", fields={"to": ["Must not be before 'from'."]}
        )
    ids = set()
    for value in params.get("department", []):
        for part in value.split(","):
            part = part.strip()
            if not part:
                continue
            department_id = filter_id(part)
            if department_id is None:
                raise InvalidInput(
                    "department must be ids (whole numbers).",
                    fields={"department": [f"{part[:40]!r} is not an id."]},
                )
            ids.add(department_id)
    if len(ids) > IDS_PER_FILTER_MAX:
        raise InvalidInput(
            "department names too many ids.",
            fields={"department": [f"At most {IDS_PER_FILTER_MAX} ids."]},
        )
    return CycleFilters(month_from=month_from, month_to=month_to, department_ids=frozenset(ids))


def percentile(values: Sequence[float], fraction: float) -> float:
    """The `fraction` percentile with linear interpolation between the closest ranks (what
    PostgreSQL's percentile_cont computes). `values` must be sorted and non-empty."""
    position = (len(values) - 1) * fraction
    low, high = math.floor(position), math.ceil(position)
    return values[low] + (values[high] - values[low]) * (position - low)


@dataclass
class CycleFigure:
    label: str
    decisions: int
    median_hours: float
    p90_hours: float


@dataclass
class Bottleneck:
    request_id: int
    reference: str
    title: str
    step: str
    state: str
    is_open: bool
    people: str  # who decided it, or who it is waiting for
    started_at: dt.datetime
    hours: float


@dataclass
class CycleTimes:
    by_step: list[CycleFigure]
    by_approver: list[CycleFigure]
    bottlenecks: list[Bottleneck]
    decided_steps: int
    open_steps: int
    truncated: bool


@dataclass
class _StepRow:
    id: int
    name: str
    request_id: int
    state: str
    activated_at: dt.datetime
    hours: float


def _hours(delta: dt.timedelta) -> float:
    return delta.total_seconds() / 3600


def _figures(durations: dict[str, list[float]]) -> list[CycleFigure]:
    figures = []
    for label, hours in durations.items():
        hours.sort()
        figures.append(
            CycleFigure(
                label=label,
                decisions=len(hours),
                median_hours=percentile(hours, 0.5),
                p90_hours=percentile(hours, 0.9),
            )
        )
    # Slowest first: the page is read for what to fix.
    return sorted(figures, key=lambda f: (-f.p90_hours, f.label))


def _person(first: str, last: str, username: str) -> str:
    return f"{first} {last}".strip() or username


def approval_cycle_times(*, filters: CycleFilters, now: dt.datetime | None = None) -> CycleTimes:
    """Median and p90 hours to decision per step name and per approver, over the steps that
    became pending within `filters`, and the BOTTLENECKS slowest steps, open or decided."""
    now = now or timezone.now()
    steps = ApprovalStep.objects.filter(filters.steps_q(), activated_at__isnull=False)
    decided = [
        _StepRow(
            id=row["id"],
            name=row["name"],
            request_id=row["request_id"],
            state=row["state"],
            activated_at=row["activated_at"],
            hours=_hours(row["decided_at"] - row["activated_at"]),
        )
        for row in steps.filter(state__in=DECIDED_STATES, decided_at__isnull=False)
        .order_by("-activated_at", "-id")
        .values("id", "name", "request_id", "state", "activated_at", "decided_at")[:MAX_STEPS]
    ]
    pending = [
        _StepRow(**row, hours=_hours(now - row["activated_at"]))
        for row in steps.filter(state=StepState.PENDING)
        .order_by("activated_at", "id")
        .values("id", "name", "request_id", "state", "activated_at")[:MAX_STEPS]
    ]
    by_step: dict[str, list[float]] = defaultdict(list)
    for step in decided:
        by_step[step.name].append(step.hours)

    by_approver: dict[str, list[float]] = defaultdict(list)
    approvals = (
        StepApprover.objects.filter(
            filters.steps_q("step__"),
            step__activated_at__isnull=False,
            decision__in=DECISIONS,
            decided_at__isnull=False,
        )
        .order_by("-decided_at", "-id")
        .values(
            "decided_at",
            "step__activated_at",
            "approver__first_name",
            "approver__last_name",
            "approver__username",
        )[:MAX_STEPS]
    )
    for row in approvals:
        name = _person(
            row["approver__first_name"], row["approver__last_name"], row["approver__username"]
        )
        decided_at, activated_at = row["decided_at"], row["step__activated_at"]
        if decided_at and activated_at:  # both filtered non-null above
            by_approver[name].append(_hours(decided_at - activated_at))

    slowest = sorted([*decided, *pending], key=lambda s: (-s.hours, s.id))[:BOTTLENECKS]
    return CycleTimes(
        by_step=_figures(by_step),
        by_approver=_figures(by_approver),
        bottlenecks=_bottlenecks(slowest),
        decided_steps=len(decided),
        open_steps=len(pending),
        truncated=len(decided) >= MAX_STEPS,
    )


def _bottlenecks(slowest: list[_StepRow]) -> list[Bottleneck]:
    requests = PurchaseRequest.objects.in_bulk([s.request_id for s in slowest])
    people: dict[int, list[str]] = defaultdict(list)
    for row in (
        StepApprover.objects.filter(step_id__in=[s.id for s in slowest])
        .exclude(decision=Decision.NOT_NEEDED)
        .order_by("id")
        .values("step_id", "approver__first_name", "approver__last_name", "approver__username")
    ):
        people[row["step_id"]].append(
            _person(
                row["approver__first_name"], row["approver__last_name"], row["approver__username"]
            )
        )
    labels = dict(StepState.choices)
    result = []
    for step in slowest:
        request = requests[step.request_id]
        result.append(
            Bottleneck(
                request_id=request.pk,
                reference=request.reference,
                title=request.title,
                step=step.name,
                state=labels.get(step.state, step.state),
                is_open=step.state == StepState.PENDING,
                people=", ".join(people[step.id]),
                started_at=step.activated_at,
                hours=step.hours,
            )
        )
    return result


def cycle_times_tables(figures: CycleTimes) -> list[Table]:
    """The page's three tables, for CSV (the first) and XLSX (all)."""

    def rounded(hours: float) -> float:
        return round(hours, 1)

    def rows(items: list[CycleFigure]) -> list[list[object]]:
        return [
            [f.label, f.decisions, rounded(f.median_hours), rounded(f.p90_hours)] for f in items
        ]

    return [
        Table(
            title="By step",
            header=["Step", "Decisions", "Median hours", "P90 hours"],
            rows=rows(figures.by_step),  # type: ignore[arg-type]
            notes=[("Decided steps", figures.decided_steps), ("Open steps", figures.open_steps)],
        ),
        Table(
            title="By approver",
            header=["Approver", "Decisions", "Median hours", "P90 hours"],
            rows=rows(figures.by_approver),  # type: ignore[arg-type]
        ),
        Table(
            title="Slowest steps",
            header=["Request", "Title", "Step", "State", "People", "Pending since", "Hours"],
            rows=[
                [
                    b.reference,
                    b.title,
                    b.step,
                    b.state,
                    b.people,
                    timezone.localtime(b.started_at).date(),
                    rounded(b.hours),
                ]
                for b in figures.bottlenecks
            ],
        ),
    ]


def cycle_times_chart(figures: CycleTimes) -> dict[str, object]:
    """What static/analytics/cycle_times.js draws: hours per step, median and p90."""
    return {
        "labels": [f.label for f in figures.by_step],
        "median": [round(f.median_hours, 1) for f in figures.by_step],
        "p90": [round(f.p90_hours, 1) for f in figures.by_step],
    }
