"""Random sequences of what people do to purchase requests keep the rules of the workflow.

A Hypothesis state machine creates, edits, submits, approves, rejects, returns, revises and
cancels requests, delegates approvals and has two approvers of one any-of step approve at
the same moment, all through the services the pages and the API call, under a two-stage
policy (line manager; then any one of finance from 3,000) and a budget that, when exceeded,
stops the request or asks its owner or finance for an extra step. After every step it
checks what an auditor would:

- every request and step is in a state its state machine knows;
- the audit trail has exactly one entry per state change, chained from/to, ending in the
  request's state, and every state the test saw the request in is on that chain;
- nobody ever approved their own request (no approving step decision, step or audit entry);
- an approved request has every step of its last round approved;
- no step collected more approvals than it needs;
- the budget's consumption equals what the test computes from its own record of totals,
  and a stopping budget is never exceeded.

Each example builds its own department, people, policy and budget (names numbered per
example), so examples do not see each other's requests or budgets.

On PostgreSQL the two approvers race in two threads, each on its own connection (the rows
must be committed for the other connection to see them, hence a transactional test); on
SQLite they decide one after the other, which its whole-database lock would force anyway.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import threading
from dataclasses import dataclass
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection, connections
from django.db.models import Count, F, Max, Q
from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from approvals.models import (
    ApprovalPolicy,
    ApprovalStep,
    Decision,
    Delegation,
    StepApprover,
    StepState,
)
from approvals.services import approval_step_decide, delegation_create, delegation_end
from approvals.tests.helpers import policy
from planning.budgets import COMMITTING_REQUEST_STATES, budget_consumption
from planning.models import Budget, ExtraApprover, OnExceed
from planning.tests.helpers import budget
from procurement.errors import ApplicationError, Conflict, InvalidInput, NotAllowed
from procurement.models import AuditEntry, Category, Role, User
from requests.models import CANCELLABLE, PurchaseRequest, RequestState
from requests.services import (
    LineItemInput,
    RequestInput,
    purchase_request_create,
    purchase_request_transition,
    purchase_request_update,
)
from tests.factories import CostCentreFactory, DepartmentFactory, UserFactory

THREADS = connection.vendor == "postgresql"
LINE_PRICE = Decimal("1250.00")
FINANCE_FROM = Decimal("3000")  # requests of three lines need finance too
PEOPLE = ("requester", "colleague", "finance", "finance2", "manager", "head", "procurement")
# finance asks for things too: their own request's finance step is then the other's alone.
REQUESTERS = ("requester", "colleague", "finance")
# A few open requests at a time, so that steps go into moving them along.
MAX_OPEN_REQUESTS = 3
OPEN = (RequestState.DRAFT, RequestState.PENDING_APPROVAL, RequestState.RETURNED)
# Three lines make a request big enough for finance's any-of step, where approvers race.
LINES = (1, 2, 3, 3)

# What a successful action may do to a request: {action: {state before: states after}}.
# A refused action must leave the state as it was.
EFFECTS: dict[str, dict[str, set[str]]] = {
    "edit": {RequestState.DRAFT: {RequestState.DRAFT}},
    # Straight to approved only if no step is needed, which this policy never allows.
    "submit": {RequestState.DRAFT: {RequestState.PENDING_APPROVAL}},
    "approve": {
        RequestState.PENDING_APPROVAL: {RequestState.PENDING_APPROVAL, RequestState.APPROVED}
    },
    "reject": {RequestState.PENDING_APPROVAL: {RequestState.REJECTED}},
    "return": {RequestState.PENDING_APPROVAL: {RequestState.RETURNED}},
    "revise": {RequestState.RETURNED: {RequestState.DRAFT}},
    "cancel": {state: {RequestState.CANCELLED} for state in CANCELLABLE},
}

_examples = itertools.count(1)


@dataclass
class Tracked:
    """What the test itself knows of a request, independently of the database."""

    pk: int
    requester: str
    total: Decimal
    seen: list[str]  # states observed after each step, consecutive repeats dropped


class RequestsAndApprovals(RuleBasedStateMachine):
    requests = Bundle("requests")

    def __init__(self) -> None:
        super().__init__()
        self.tracked: dict[int, Tracked] = {}
        self.people: dict[str, User] = {}

    # --- The world of one example ----------------------------------------------------

    @initialize(
        on_exceed=st.sampled_from([OnExceed.STOP, OnExceed.APPROVAL]),
        extra_approver=st.sampled_from([ExtraApprover.OWNER, ExtraApprover.FINANCE]),
        # One request of three lines (3,750.00) fits the smaller budget; a second does not.
        amount=st.sampled_from(["4000", "8000"]),
    )
    def build_world(self, on_exceed: str, extra_approver: str, amount: str) -> None:
        n = next(_examples)
        department = DepartmentFactory.create(code=f"dept-sm{n}", name=f"Department {n}")
        self.department = department
        self.cost_centre = CostCentreFactory.create(department=department)
        self.category = Category.objects.get(code="hardware")

        def person(key: str, roles: list[str], manager: User | None = None) -> User:
            user = UserFactory.create(
                username=f"sm{n}-{key}", department=department, manager=manager, roles=roles
            )
            self.people[key] = user
            return user

        head = person("head", [Role.MANAGER])
        department.head = head
        department.save()
        manager = person("manager", [Role.MANAGER], head)
        person("requester", [Role.REQUESTER], manager)
        person("colleague", [Role.REQUESTER], manager)
        person("finance", [Role.FINANCE], manager)
        person("finance2", [Role.FINANCE], manager)
        person("procurement", [Role.PROCUREMENT], manager)
        policy(
            {"name": "Line manager", "approver_kind": "line_manager", "stage": 1},
            {
                "name": "Finance",
                "approver_kind": "role",
                "approver_role": Role.FINANCE,
                "mode": "any",
                "min_total": FINANCE_FROM,
                "stage": 2,
            },
            name=f"Policy {n}",
        )
        org = SimpleNamespace(
            cost_centre=self.cost_centre, head=head, finance=self.people["finance"]
        )
        self.budget: Budget = budget(
            org, amount, on_exceed=on_exceed, extra_approver=extra_approver
        )

    def teardown(self) -> None:
        # Later examples' "any one of finance" must not reach this example's people.
        User.objects.filter(pk__in=[user.pk for user in self.people.values()]).update(
            is_active=False
        )
        ApprovalPolicy.objects.filter(is_active=True).update(is_active=False)

    # --- Helpers ---------------------------------------------------------------------

    def _input(self, lines: int, requester: User) -> RequestInput:
        return RequestInput(
            title="Laptops for the new starters",
            justification="Three new engineers start next month.",
            department=self.department,
            cost_centre=self.cost_centre,
            category=self.category,
            needed_by=timezone.localdate() + dt.timedelta(days=30),
            currency="GBP",
            line_items=[
                LineItemInput(
                    description=f"Laptop {i + 1}", quantity=Decimal(1), unit_price=LINE_PRICE
                )
                for i in range(lines)
            ],
            no_objective_reason="Keeps the team working",
        )

    def _state(self, pk: int) -> str:
        return PurchaseRequest.objects.values_list("state", flat=True).get(pk=pk)

    def _observe(self, pk: int) -> str:
        state = self._state(pk)
        seen = self.tracked[pk].seen
        if seen[-1] != state:
            seen.append(state)
        return state

    def _committed(self) -> Decimal:
        """What the budget holds, from the test's own totals: approved requests' totals."""
        states = dict(
            PurchaseRequest.objects.filter(pk__in=self.tracked).values_list("pk", "state")
        )
        return sum(
            (t.total for t in self.tracked.values() if states[t.pk] in COMMITTING_REQUEST_STATES),
            Decimal("0.00"),
        )

    def _pending(self, pk: int) -> list[StepApprover]:
        """The open assignments of the request's current round, first stage first."""
        last_round = ApprovalStep.objects.filter(request_id=pk).aggregate(last=Max("round"))["last"]
        return list(
            StepApprover.objects.select_related("approver", "step")
            .filter(
                step__request_id=pk,
                step__round=last_round,
                step__state=StepState.PENDING,
                decision=Decision.PENDING,
            )
            .order_by("step__stage", "step__position", "id")
        )

    def _assigned(self, pk: int, pick: int) -> User:
        """One of the people the route asks now (someone always is, while it is pending)."""
        pending = self._pending(pk)
        assert pending, f"request {pk} is pending approval but nobody is asked to decide it"
        return pending[pick % len(pending)].approver

    def _attempt(self, action: str, pk: int, run) -> ApplicationError | None:
        """Run one action; a refusal must be one of the application's errors and change nothing."""
        before = self._state(pk)
        refusal: ApplicationError | None = None
        try:
            run()
        except ApplicationError as error:
            refusal = error
        after = self._observe(pk)
        if refusal is not None:
            assert after == before, (
                f"{action} was refused ({refusal}) but moved {before} -> {after}"
            )
            return refusal
        allowed = EFFECTS[action].get(before)
        assert allowed is not None, f"{action} succeeded from {before}"
        assert after in allowed, f"{action} moved {before} -> {after}, expected one of {allowed}"
        return None

    # --- Rules: what people do ---------------------------------------------------------

    @precondition(lambda self: len(self._in(*OPEN)) < MAX_OPEN_REQUESTS)
    @rule(target=requests, who=st.sampled_from(REQUESTERS), lines=st.sampled_from(LINES))
    def create(self, who: str, lines: int) -> int:
        requester = self.people[who]
        request = purchase_request_create(requester=requester, data=self._input(lines, requester))
        self.tracked[request.pk] = Tracked(
            pk=request.pk, requester=who, total=LINE_PRICE * lines, seen=[RequestState.DRAFT]
        )
        return request.pk

    # Most rules act on a request in the state they need (the precondition says there is
    # one; `pick` chooses which), so sequences get far; `anyone_tries_anything` takes any
    # request, any person and any action, so refusals are exercised too. Few rules, so
    # that Hypothesis' choice among them lands often enough on the ones that move requests.

    def _in(self, *states: str) -> list[int]:
        return sorted(
            PurchaseRequest.objects.filter(pk__in=self.tracked, state__in=states).values_list(
                "pk", flat=True
            )
        )

    def _racy_step(self, pk: int) -> list[StepApprover]:
        """Two open assignments of one pending any-of step: what two approvers can race for."""
        pending = self._pending(pk)
        if not pending or pending[0].step.mode != "any":
            return []
        racers = [a for a in pending if a.step_id == pending[0].step_id][:2]
        return racers if len(racers) == 2 else []

    def _nobody_for_the_budget_step(self, tracked: Tracked, *, overrun: bool) -> bool:
        """Whether submitting must be refused because nobody may take the budget's extra step.

        Finance's own request from FINANCE_FROM: the policy's Finance step then has one
        approver, finance2, who must decide it (one decision per person), and the requester
        may not decide their own. "Any one of finance" is left with nobody, and a route that
        nobody can finish is refused at submission rather than left stuck.
        """
        return (
            overrun
            and self.budget.on_exceed == OnExceed.APPROVAL
            and self.budget.extra_approver == ExtraApprover.FINANCE
            and tracked.requester == "finance"
            and tracked.total >= FINANCE_FROM
        )

    @precondition(lambda self: self._in(RequestState.DRAFT, RequestState.RETURNED))
    @rule(
        pick=st.integers(0, 99),
        then=st.sampled_from(["submit", "submit", "edit"]),
        lines=st.sampled_from(LINES),
    )
    def requester_moves_on(self, pick: int, then: str, lines: int) -> None:
        """The requester edits or submits a draft, or takes a returned request back to edit."""
        mine = self._in(RequestState.DRAFT, RequestState.RETURNED)
        pk = mine[pick % len(mine)]
        tracked = self.tracked[pk]
        requester = self.people[tracked.requester]
        if self._state(pk) == RequestState.RETURNED:
            error = self._attempt(
                "revise",
                pk,
                lambda: purchase_request_transition(request_id=pk, by=requester, action="revise"),
            )
            assert error is None, error
        elif then == "edit":
            error = self._attempt(
                "edit",
                pk,
                lambda: purchase_request_update(
                    request_id=pk, by=requester, data=self._input(lines, requester)
                ),
            )
            assert error is None, error
            tracked.total = LINE_PRICE * lines
        else:
            room = self.budget.amount - self._committed()
            error = self._attempt(
                "submit",
                pk,
                lambda: purchase_request_transition(request_id=pk, by=requester, action="submit"),
            )
            overrun = tracked.total > room
            if self.budget.on_exceed == OnExceed.STOP and overrun:
                assert isinstance(error, InvalidInput), "a stopping budget let an overrun through"
            elif self._nobody_for_the_budget_step(tracked, overrun=overrun):
                assert isinstance(error, InvalidInput), "a budget step went to nobody"
                assert error.message.startswith("Nobody can approve the step"), error
            else:
                assert error is None, error

    @precondition(lambda self: self._in(RequestState.PENDING_APPROVAL))
    @rule(
        pick=st.integers(0, 99), action=st.sampled_from(["approve", "approve", "reject", "return"])
    )
    def decide(self, pick: int, action: str) -> None:
        """Someone the route asks now approves, rejects or returns the request."""
        pending = self._in(RequestState.PENDING_APPROVAL)
        pk = pending[pick % len(pending)]
        by = self._assigned(pk, pick)
        comment = "" if action == "approve" else "Not this quarter."
        error = self._attempt(
            action,
            pk,
            lambda: purchase_request_transition(
                request_id=pk, by=by, action=action, comment=comment
            ),
        )
        # Refused only by a stopping budget at the last step, or because this person already
        # decided another step of the request (one decision per person; delegations do that).
        assert error is None or isinstance(error, Conflict | NotAllowed), error
        if isinstance(error, NotAllowed):
            assert "already decided another step" in error.message, error

    @rule(pk=requests, who=st.sampled_from(PEOPLE), action=st.sampled_from(sorted(EFFECTS)))
    def anyone_tries_anything(self, pk: int, who: str, action: str) -> None:
        """Whoever, whatever, whenever: it is done as the table says, or refused cleanly."""
        by = self.people[who]
        tracked = self.tracked[pk]
        if action == "edit":
            run = lambda: purchase_request_update(  # noqa: E731
                request_id=pk, by=by, data=self._input(1, self.people[tracked.requester])
            )
        else:
            run = lambda: purchase_request_transition(  # noqa: E731
                request_id=pk, by=by, action=action, comment="Because."
            )
        before = self._state(pk)
        error = self._attempt(action, pk, run)
        if error is None and action == "edit":
            tracked.total = LINE_PRICE
        is_requester = by == self.people[tracked.requester]
        if is_requester and action in ("approve", "reject"):
            assert error is not None, f"the requester could {action} their own request"
        if action == "cancel":
            may = is_requester or who == "procurement"
            assert (error is None) == (before in CANCELLABLE and may), (before, who, error)

    @precondition(lambda self: self._in(RequestState.PENDING_APPROVAL))
    @rule(who=st.sampled_from(PEOPLE), to=st.sampled_from(PEOPLE), end=st.booleans())
    def delegate(self, who: str, to: str, end: bool) -> None:
        """Someone goes away and hands their approvals to someone else, or comes back (while
        a request waits for a decision, when it matters)."""
        delegator = self.people[who]
        today = timezone.localdate()
        if end:
            for delegation in Delegation.objects.filter(delegator=delegator, ends_on__gte=today):
                delegation_end(delegation_id=delegation.pk, by=delegator)
            return
        # Oneself, an overlap or a cycle is refused, as it should be.
        with contextlib.suppress(InvalidInput):
            delegation_create(
                delegator=delegator,
                delegate=self.people[to],
                starts_on=today,
                ends_on=today + dt.timedelta(days=7),
                reason="Annual leave",
            )

    @precondition(
        lambda self: any(self._racy_step(pk) for pk in self._in(RequestState.PENDING_APPROVAL))
    )
    @rule(pick=st.integers(0, 99))
    def concurrent_approve(self, pick: int) -> None:
        """Two approvers of one any-of step click Approve at the same moment: one decides."""
        racy = [pk for pk in self._in(RequestState.PENDING_APPROVAL) if self._racy_step(pk)]
        pk = racy[pick % len(racy)]
        assignments = self._racy_step(pk)
        step = assignments[0].step
        racers = [assignment.approver for assignment in assignments]
        before = self._state(pk)
        outcomes: dict[str, object] = {}

        def decide(person: User, barrier: threading.Barrier | None) -> None:
            try:
                if barrier is not None:
                    barrier.wait()
                approval_step_decide(step_id=step.pk, by=person, action="approve")
                outcomes[person.username] = "approved"
            except ApplicationError as error:
                outcomes[person.username] = error
            finally:
                if barrier is not None:
                    connections.close_all()  # this thread's own connection

        if THREADS:
            barrier = threading.Barrier(len(racers), timeout=30)
            threads = [threading.Thread(target=decide, args=(p, barrier)) for p in racers]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=60)
            assert not any(thread.is_alive() for thread in threads)
        else:
            for person in racers:
                decide(person, None)

        after = self._observe(pk)
        wins = [name for name, outcome in outcomes.items() if outcome == "approved"]
        assert len(wins) <= 1, outcomes
        step.refresh_from_db()
        approvals = step.approvers.filter(decision=Decision.APPROVED).count()
        if step.state == StepState.APPROVED:
            assert step.decided_by is not None
            assert (len(wins), approvals, step.decided_by.username) == (1, 1, wins[0]), outcomes
        else:
            # Both refused: only a stopping budget refuses the last approval of a route.
            assert (len(wins), approvals, after) == (0, 0, before), outcomes
            assert self.budget.on_exceed == OnExceed.STOP, outcomes
        for name, outcome in outcomes.items():
            if outcome != "approved":
                assert isinstance(outcome, ApplicationError), (name, outcome)

    # --- Invariants: what must hold after every step -----------------------------------

    @invariant()
    def states_are_valid(self) -> None:
        states = set(
            PurchaseRequest.objects.filter(pk__in=self.tracked).values_list("state", flat=True)
        )
        assert states <= set(RequestState.values), states
        steps = set(
            ApprovalStep.objects.filter(request_id__in=self.tracked).values_list("state", flat=True)
        )
        assert steps <= set(StepState.values), steps

    @invariant()
    def audit_trail_matches_transitions_one_to_one(self) -> None:
        if not self.tracked:
            return
        content_type = ContentType.objects.get_for_model(PurchaseRequest)
        entries: dict[int, list[AuditEntry]] = {pk: [] for pk in self.tracked}
        for entry in AuditEntry.objects.filter(
            content_type=content_type, object_id__in=self.tracked
        ).exclude(from_state="", to_state=""):
            entries[entry.object_id].append(entry)
        states = dict(
            PurchaseRequest.objects.filter(pk__in=self.tracked).values_list("pk", "state")
        )
        for pk, changes in entries.items():
            first, *rest = changes
            assert (first.action, first.from_state, first.to_state) == (
                "created",
                "",
                RequestState.DRAFT,
            ), first
            chain = [first.to_state]
            for entry in rest:
                assert entry.from_state == chain[-1], (pk, entry.action, chain, entry.from_state)
                assert entry.to_state != entry.from_state, (pk, entry.action)
                assert entry.to_state in RequestState.values, entry.to_state
                chain.append(entry.to_state)
            assert chain[-1] == states[pk], (pk, chain, states[pk])
            # Every state the test saw is on the chain, in the order it saw them.
            remaining = iter(chain)
            assert all(state in remaining for state in self.tracked[pk].seen), (
                pk,
                self.tracked[pk].seen,
                chain,
            )

    @invariant()
    def nobody_approves_their_own_request(self) -> None:
        mine = {"step__request_id__in": list(self.tracked)}
        assert not StepApprover.objects.filter(
            **mine, approver=F("step__request__requester"), decision=Decision.APPROVED
        ).exists()
        assert not ApprovalStep.objects.filter(
            request_id__in=list(self.tracked), decided_by=F("request__requester")
        ).exists()
        requesters = dict(
            PurchaseRequest.objects.filter(pk__in=self.tracked).values_list("pk", "requester_id")
        )
        content_type = ContentType.objects.get_for_model(PurchaseRequest)
        approvals = AuditEntry.objects.filter(
            content_type=content_type, object_id__in=self.tracked
        ).filter(action__in=["approve", "approved_step"])
        for object_id, actor_id in approvals.values_list("object_id", "actor_id"):
            assert actor_id != requesters[object_id], object_id

    @invariant()
    def approved_requests_passed_every_step_of_their_last_round(self) -> None:
        approved = self._in(RequestState.APPROVED)
        rounds: dict[int, dict[int, set[str]]] = {pk: {} for pk in approved}
        for pk, round_number, state in ApprovalStep.objects.filter(
            request_id__in=approved
        ).values_list("request_id", "round", "state"):
            rounds[pk].setdefault(round_number, set()).add(state)
        for pk, by_round in rounds.items():
            assert by_round, f"request {pk} was approved without a route"
            assert by_round[max(by_round)] == {StepState.APPROVED}, (pk, by_round)

    @invariant()
    def no_step_has_more_approvals_than_it_needs(self) -> None:
        overfull = (
            ApprovalStep.objects.filter(request_id__in=self.tracked)
            .annotate(given=Count("approvers", filter=Q(approvers__decision=Decision.APPROVED)))
            .filter(given__gt=F("required_approvals"))
        )
        assert not overfull.exists(), list(overfull.values("pk", "given", "required_approvals"))

    @invariant()
    def budget_consumption_matches_a_fresh_computation(self) -> None:
        if not self.people:
            return
        consumption = budget_consumption(budget=Budget.objects.get(pk=self.budget.pk))
        expected = self._committed()
        # Nothing in this example's cost centre is ordered, invoiced or imported.
        assert (
            consumption.committed_requests,
            consumption.committed_orders,
            consumption.actual,
        ) == (expected, 0, 0)
        assert consumption.consumed == expected
        if self.budget.on_exceed == OnExceed.STOP:
            assert consumption.consumed <= self.budget.amount, consumption


@pytest.mark.django_db(transaction=THREADS, serialized_rollback=THREADS)
def test_it_keeps_every_invariant_through_random_sequences_of_actions() -> None:
    run_state_machine_as_test(
        RequestsAndApprovals,
        settings=settings(
            max_examples=30,
            stateful_step_count=30,
            deadline=None,
            # The examples share one test database: nothing to replay from earlier runs.
            database=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
