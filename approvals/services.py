"""Writes of the approvals workflow: freeze a route at submission, decide its steps.

Every write here runs inside the transaction of the request's own state change, with the
request row locked first and then the step rows, always in that order (no deadlocks).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import Max, Subquery
from django.utils import timezone

from approvals import gates
from approvals.conditions import RequestFacts, rule_matches
from approvals.models import (
    ApprovalPolicy,
    ApprovalRule,
    ApprovalStep,
    ApprovedTotal,
    ApproverKind,
    Decision,
    Delegation,
    Mode,
    NoMatch,
    OnOverdue,
    StepApprover,
    StepState,
)
from approvals.selectors import approval_round_latest
from procurement.errors import Conflict, InvalidInput, NotAllowed, NotFound
from procurement.models import User
from procurement.outbox import enqueue
from procurement.permissions import require
from procurement.prepared import PreparedInsert, PreparedQuery, prepared_save
from procurement.services import audit_record
from requests.models import CENT, PurchaseRequest, RequestState
from requests.services import (
    MAX_LINE_ITEMS,
    LineItemInput,
    purchase_request_apply,
    purchase_request_line_items_replace,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PlannedStep:
    name: str
    stage: int
    mode: str
    required_approvals: int
    approvers: list[User]
    rule: ApprovalRule | None = None
    sla_hours: int = 48
    on_overdue: str = "notify_manager"
    gate: str = ""


def active_policy() -> ApprovalPolicy | None:
    return ApprovalPolicy.objects.filter(is_active=True).prefetch_related("rules").first()


def _resolve(
    rule_kind: str, request: PurchaseRequest, *, role: str = "", user: User | None = None
) -> list[User]:
    requester = request.requester
    if rule_kind == ApproverKind.LINE_MANAGER:
        people = [requester.manager] if requester.manager else []
    elif rule_kind == ApproverKind.DEPARTMENT_HEAD:
        people = [request.department.head] if request.department.head else []
    elif rule_kind == ApproverKind.ROLE:
        people = list(
            User.objects.filter(is_active=True, roles__role=role).order_by("username").distinct()
        )
    else:
        people = [user] if user else []
    people = [person for person in people if person.is_active]
    if [person.pk for person in people] == [requester.pk]:
        # Segregation of duties: nobody approves their own request; it goes one level up.
        people = [requester.manager] if requester.manager and requester.manager.is_active else []
    return [person for person in people if person.pk != requester.pk]


def approval_route_plan(
    *, request: PurchaseRequest, policy: ApprovalPolicy | None
) -> list[PlannedStep] | None:
    """The steps a request needs under `policy`; None means "approve automatically".

    Raises InvalidInput when a step would have nobody to approve it, or when the total
    cannot be converted to the base currency: a submission never passes silently.
    """
    facts = RequestFacts.of(request)
    steps: list[PlannedStep] = []
    rules = list(policy.rules.all()) if policy else []
    for rule in rules:
        if not rule_matches(rule, facts):
            continue
        approvers = _resolve(
            rule.approver_kind, request, role=rule.approver_role, user=rule.approver_user
        )
        if not approvers:
            raise InvalidInput(
                f'Nobody can approve the step "{rule.name}" for this request. Ask an admin to fix the '
                "approval policy or your line manager in your profile."
            )
        required = {
            Mode.ONE: 1,
            Mode.ANY: 1,
            Mode.ALL: len(approvers),
            Mode.N_OF_M: rule.required_approvals or 1,
        }[Mode(rule.mode)]
        if required > len(approvers):
            raise InvalidInput(
                f'The step "{rule.name}" needs {required} approvals but only {len(approvers)} '
                "people can give one. Ask an admin to fix the approval policy."
            )
        steps.append(
            PlannedStep(
                name=rule.name,
                stage=rule.stage,
                mode=rule.mode,
                required_approvals=required,
                approvers=approvers,
                rule=rule,
                sla_hours=rule.sla_hours,
                on_overdue=rule.on_overdue,
            )
        )
    if steps:
        return steps
    no_match = policy.no_match if policy else NoMatch.LINE_MANAGER
    if (
        policy
        and no_match == NoMatch.AUTO_APPROVE_BELOW_FLOOR
        and facts.total_in_base < policy.auto_approve_floor
    ):
        return None
    approvers = _resolve(ApproverKind.LINE_MANAGER, request)
    if not approvers:
        raise InvalidInput(
            "You have no line manager to approve this request. Ask an admin to set one."
        )
    return [
        PlannedStep(
            name="Line manager approval",
            stage=1,
            mode=Mode.ONE,
            required_approvals=1,
            approvers=approvers,
        )
    ]


def _gate_steps(
    request: PurchaseRequest,
    extra: Sequence[gates.ExtraStep],
    *,
    after_stage: int,
    busy: frozenset[int] | set[int] = frozenset(),
) -> list[PlannedStep]:
    """A gate's steps, as a stage of their own after `after_stage`: the budget owner decides
    once the others have approved. Never the requester, nor (when the policy allows one
    decision per person) someone in `busy`, who decides another step of this round: then
    the gate's fallback (finance) decides."""
    planned = []
    for step in extra:

        def allowed(people: Sequence[User]) -> list[User]:
            return [
                person
                for person in people
                if person.is_active and person.pk != request.requester_id and person.pk not in busy
            ]

        approvers, name = allowed(step.approvers), step.name
        if not approvers and (step.fallback or step.fallback_name):
            approvers, name = allowed(step.fallback), step.fallback_name or step.name
        if not approvers:
            raise InvalidInput(
                f'Nobody can approve the step "{name}" for this request (its requester may '
                "not, nor someone who decides another of its steps). Ask finance to name "
                "another budget owner, or an admin to give someone the finance role."
            )
        planned.append(
            PlannedStep(
                name=name,
                stage=after_stage + 1,
                mode=Mode.ANY,
                required_approvals=1,
                approvers=approvers,
                sla_hours=step.sla_hours,
                gate=step.gate,
            )
        )
    return planned


def _one_decision_per_person() -> bool:
    """The active policy's rule (no policy: one decision per person). One column: the rules
    active_policy() prefetches are not needed for it."""
    rows = list(
        ApprovalPolicy.objects.filter(is_active=True)
        .order_by("pk")
        .values_list("one_decision_per_person", flat=True)[:1]
    )
    return not rows or rows[0]


def _bound_to_decide(plan: Sequence[PlannedStep]) -> set[int]:
    """People a planned route cannot do without: every approver of a step that needs all of
    its group (a step of one person, or mode "all")."""
    if not _one_decision_per_person():
        return set()
    return {
        person.pk
        for planned in plan
        if planned.required_approvals >= len(planned.approvers)
        for person in planned.approvers
    }


def _final_gate_steps(
    request: PurchaseRequest, *, by: User | None, passed: set[str], after_stage: int
) -> list[PlannedStep]:
    """Ask each gate, with the request locked, whether it may now be approved. A gate may
    refuse (raises) or name steps still needed."""
    extra = [
        step
        for gate in gates.installed()
        for step in gate.at_final_approval(request, passed=passed, by=by)
        if step.gate not in passed
    ]
    if not extra:
        return []  # nothing to plan: who is busy does not matter (two queries saved)
    busy: set[int] = set()
    if _one_decision_per_person():
        busy = set(
            StepApprover.objects.filter(
                step__request=request, step__round=approval_round_latest(request=request)
            )
            .exclude(decision__in=[Decision.PENDING, Decision.NOT_NEEDED])
            .order_by()  # a set: the default ordering would only join the request table
            .values_list("approver_id", flat=True)
        )
    return _gate_steps(request, extra, after_stage=after_stage, busy=busy)


def _create_steps(
    *, request: PurchaseRequest, round_number: int, plan: Sequence[PlannedStep], position: int = 0
) -> list[ApprovalStep]:
    steps: list[ApprovalStep] = []
    for offset, planned in enumerate(sorted(plan, key=lambda p: p.stage)):
        step = ApprovalStep.objects.create(
            request=request,
            round=round_number,
            stage=planned.stage,
            position=position + offset,
            name=planned.name,
            rule=planned.rule,
            gate=planned.gate,
            mode=planned.mode,
            required_approvals=planned.required_approvals,
            sla_hours=planned.sla_hours,
            on_overdue=planned.on_overdue,
        )
        StepApprover.objects.bulk_create(
            StepApprover(step=step, approver=person) for person in planned.approvers
        )
        steps.append(step)
    return steps


def approval_route_start(*, request: PurchaseRequest, by: User | None) -> list[ApprovalStep]:
    """Freeze the route of a just-submitted, locked request and open its first stage.

    Runs inside the submit transaction (called by the workflow), so a refused plan
    leaves the request a draft and writes nothing. Installed gates (planning's budget
    check) may add a stage of their own after the policy's, or refuse the submission.
    """
    policy = active_policy()
    plan = approval_route_plan(request=request, policy=policy)
    extra = [step for gate in gates.installed() for step in gate.at_submit(request)]
    if extra:
        last_stage = max((planned.stage for planned in plan or []), default=0)
        plan = [
            *(plan or []),
            *_gate_steps(request, extra, after_stage=last_stage, busy=_bound_to_decide(plan or [])),
        ]
    started = f"Policy: {policy.name}" if policy else "Default: line manager"
    if request.state == RequestState.SUBMITTED:
        purchase_request_apply(
            request=request,
            by=by,
            action="approval_started",
            transition="start_approval",
            comment=started,
        )
    else:
        # Re-approval after an amendment: the request is already pending approval.
        audit_record(target=request, actor=by, action="approval_started", comment=started)
    if plan is None:
        plan = _final_gate_steps(request, by=None, passed=set(), after_stage=0) or None
    if plan is None:
        floor = policy.auto_approve_floor if policy else 0
        purchase_request_apply(
            request=request,
            by=None,
            action="auto_approved",
            transition="approve",
            comment=f"No approval rule matched and the total is below {floor} (base currency).",
        )
        return []
    round_number = (request.approval_steps.aggregate(last=Max("round"))["last"] or 0) + 1
    steps = _create_steps(request=request, round_number=round_number, plan=plan)
    _open_next_stage(request=request, steps=steps)
    return steps


def _open_next_stage(
    *, request: PurchaseRequest, steps: Sequence[ApprovalStep]
) -> list[ApprovalStep]:
    waiting = [step for step in steps if step.state == StepState.WAITING]
    if not waiting:
        return []
    stage = min(step.stage for step in waiting)
    opened = [step for step in waiting if step.stage == stage]
    today = timezone.localdate()
    for step in opened:
        step.activate()
        step.save()
        # An approver who is away today: the step opens straight in their delegate's inbox.
        _delegate_pending(step=step, request=request, on=today)
    from approvals.tasks import notify_step_pending

    for step in opened:
        enqueue(notify_step_pending, step.pk)
    return opened


def approval_route_close(*, request: PurchaseRequest) -> None:
    """Skip every open step when the request leaves approval (cancelled, returned by procurement)."""
    # In id order: the default ordering would join (and so lock) the request row again.
    for step in (
        ApprovalStep.objects.select_for_update()
        .filter(request=request, state__in=["waiting", "pending"])
        .order_by("pk")
    ):
        step.skip()
        step.save()
        step.approvers.filter(decision=Decision.PENDING).update(decision=Decision.NOT_NEEDED)


def pending_assignment(*, request: PurchaseRequest, user: User) -> StepApprover | None:
    """The first open step of the current round that `user` is asked to decide."""
    return (
        StepApprover.objects.select_related("step")
        .filter(
            step__request=request,
            step__state=StepState.PENDING,
            approver=user,
            decision=Decision.PENDING,
        )
        .order_by("step__stage", "step__position")
        .first()
    )


# What deciding a step changes (its transitions stamp decided_at): the UPDATE writes these,
# not every column of the step (the state column still guards against a concurrent writer).
DECIDED_STEP_FIELDS = ["state", "decided_at", "decided_by"]

DECISION_OF_ACTION = {
    "approve": Decision.APPROVED,
    "reject": Decision.REJECTED,
    "return": Decision.CHANGES_REQUESTED,
}


def approval_step_decide(
    *, step_id: int, by: User, action: str, comment: str = "", request_version: int | None = None
) -> ApprovalStep:
    """Record `by`'s decision on a step: approve, reject (reason required) or return (changes).

    Locks the request row, then the step row; re-checks that the step is still pending
    (else 409 "already decided by X"), that `by` is asked to decide it, is not the
    requester and (if the policy says so) has not decided another step of this request.
    Writes the audit entry in the same transaction; emails go out after commit.
    `request_version`, when given (email links), must still be the request's version.
    """
    if action not in DECISION_OF_ACTION:
        raise InvalidInput(f"Unknown decision {action!r}.")
    comment = comment.strip()
    if action in ("reject", "return") and not comment:
        raise InvalidInput(
            "Say why, so the requester knows what to do.",
            fields={"comment": ["A reason is required."]},
        )
    with transaction.atomic():
        request = _request_of_step_locked(step_id)
        step, round_steps = _round_locked(step_id, request=request)
        _decide_locked(
            request=request,
            step=step,
            round_steps=round_steps,
            by=by,
            action=action,
            comment=comment,
            request_version=request_version,
        )
    return step


def _lock_request_and_step(step_id: int) -> tuple[PurchaseRequest, ApprovalStep]:
    """Lock the step's request row, then the step row: the one order every writer uses."""
    request = _request_of_step_locked(step_id)
    # The step's request is the row just locked: not read a second time.
    step = _step_locked(step_id)
    step.request = request
    return request, step


# Every decision runs both: compiled once (procurement/prepared.py), and always inside the
# caller's transaction (the lock is held until it ends).
_REQUEST_OF_STEP_LOCKED: PreparedQuery[PurchaseRequest] = PreparedQuery(
    lambda step_id: (
        PurchaseRequest.objects.select_for_update(of=("self",))
        .filter(
            pk=Subquery(ApprovalStep.objects.filter(pk=step_id).order_by().values("request_id"))
        )
        .order_by()
    )
)
_ROUND_OF_STEP_LOCKED: PreparedQuery[ApprovalStep] = PreparedQuery(
    lambda request_id, step_id: (
        ApprovalStep.objects.select_for_update()
        .filter(
            request_id=request_id,
            round=Subquery(ApprovalStep.objects.filter(pk=step_id).order_by().values("round")),
        )
        .order_by("stage", "position", "id")
    )
)


# order_by(): the default ordering, by step as steps sort, would join the request.
_ROUND_ASSIGNMENTS: PreparedQuery[StepApprover] = PreparedQuery(
    lambda request_id, round_number: StepApprover.objects.filter(
        step__request_id=request_id, step__round=round_number
    ).order_by()
)


def _request_of_step_locked(step_id: int) -> PurchaseRequest:
    """The step's request, locked (lock it before any step row: the one order every writer
    uses); NotFound when there is no such step."""
    # The step's request found by a subquery: one statement, not a look-up and then the lock.
    # The request row alone: its requester, department and manager are read where a rarer
    # path needs them (the page after a rejection names the requester; an approval, the
    # usual POST, names nobody): 0.5-1.2 ms of Python less per approval for the requester.
    request = _REQUEST_OF_STEP_LOCKED.first(step_id=step_id)
    if request is None:
        raise NotFound("No such approval step.")
    return request


def _step_locked(step_id: int) -> ApprovalStep:
    return ApprovalStep.objects.select_for_update().get(pk=step_id)


def _round_locked(
    step_id: int, *, request: PurchaseRequest
) -> tuple[ApprovalStep, list[ApprovalStep]]:
    """The step, and every step of its round in route order (it among them), all locked;
    `request` is the step's request, locked by the caller. Deciding the step needs the
    round (is its stage done? which stage opens next?): one read for both, rather than the
    step and then its round again (a statement and ~1 ms of Python less per decision).
    Another writer locks the request first, so it cannot change the round in between.
    The steps alone: their rule's policy is read only when a decision asks it (see
    _one_decision_per_person_on), not joined here on every one (1-1.5 ms of Python)."""
    round_steps = _ROUND_OF_STEP_LOCKED.list(request_id=request.pk, step_id=step_id)
    step = next((candidate for candidate in round_steps if candidate.pk == step_id), None)
    if step is None:
        raise NotFound("No such approval step.")
    step.request = request  # the row the caller locked: not read a second time
    return step, round_steps


def _one_decision_per_person_on(step: ApprovalStep) -> bool:
    """Whether one person may decide only one step of the step's route: the rule of the
    policy the route was frozen from, or, for a step no rule made, the active policy's."""
    if step.rule_id and step.rule:
        return step.rule.policy.one_decision_per_person
    return _one_decision_per_person()


def _decide_locked(
    *,
    request: PurchaseRequest,
    step: ApprovalStep,
    round_steps: list[ApprovalStep],
    by: User,
    action: str,
    comment: str,
    request_version: int | None = None,
) -> None:
    """Decide `step` for `by` (approval_step_decide's contract). `round_steps` are the
    steps of the step's round, locked, as _round_locked reads them."""
    if request_version is not None and request_version != request.version:
        raise Conflict(
            f"{request.reference} has changed since this was sent; open it to see the new version."
        )
    if step.state != StepState.PENDING:
        if step.decided_by_id:
            who = step.decided_by
            raise Conflict(
                f'"{step.name}" was already decided by {who} ({step.get_state_display().lower()}).'
            )
        raise Conflict(
            f'"{step.name}" is {step.get_state_display().lower()}; it cannot be decided now.'
        )
    # The round's assignments, in one read (three before issue #8's second pass). `by`'s:
    # the one to this step answers the permission's "named among its approvers" (handed to
    # approvals.rules, which would read it again) and carries the decision; any other says
    # whether `by` decided another step (one decision per person). The step's others say
    # whether anyone else is still asked (when nobody is, as with one approver, no UPDATE
    # marks them not needed: ~0.8 ms of Python less). Read under the locks every writer of
    # an assignment takes first; by the round (its request and number) rather than the
    # step ids read already, so the statement has one shape and is compiled once.
    assignments = _ROUND_ASSIGNMENTS.list(request_id=request.pk, round_number=step.round)
    mine = [row for row in assignments if row.approver_id == by.pk]
    assignment = next((row for row in mine if row.step_id == step.pk), None)
    step.approvers_named = {by.pk: assignment is not None}
    require(
        by,
        "approvals.decide_approvalstep",
        step,
        message="Nobody can approve their own request."
        if request.requester_id == by.pk
        else f'You are not an approver of "{step.name}".',
    )
    if assignment is None:  # not reached: the permission refuses anyone not named on the step
        raise NotAllowed(f'You are not an approver of "{step.name}".')
    if assignment.decision == Decision.NOT_NEEDED:
        holder = step.approvers.filter(decision=Decision.PENDING, on_behalf_of=by).first()
        raise NotAllowed(
            f'"{step.name}" was handed to {holder.approver}; they decide it now.'
            if holder
            else f'"{step.name}" was delegated or reassigned; it is no longer yours to decide.'
        )
    if assignment.decision != Decision.PENDING:
        raise Conflict(f'You already decided "{step.name}".')
    # The policy is asked only of someone who decided another step of this round (rare):
    # its rows are read then, not with every decision.
    if any(
        row.step_id != step.pk and row.decision not in (Decision.PENDING, Decision.NOT_NEEDED)
        for row in mine
    ) and _one_decision_per_person_on(step):
        raise NotAllowed(
            "You already decided another step of this request; someone else must decide this one."
        )

    now = timezone.now()
    assignment.decision = DECISION_OF_ACTION[action]
    assignment.decided_at = now
    assignment.comment = comment
    # Saved as save(update_fields=...) would, with its UPDATE built once (as the step's and the
    # request's below): every decision writes these three rows.
    prepared_save(assignment, update_fields=["decision", "decided_at", "comment"])
    # A delegate's decision is recorded as theirs, on behalf of the approver they stand in for.
    behalf = f" (on behalf of {assignment.on_behalf_of})" if assignment.on_behalf_of_id else ""
    if action == "approve":
        # A rejection or a return is recorded once, by the request's own transition below.
        audit_record(
            target=request,
            actor=by,
            action="approved_step",
            comment=f"{step.name}{behalf}" + (f": {comment}" if comment else ""),
        )

    if action == "approve":
        # This approval is saved above, so a step that needs one is done without counting.
        if step.required_approvals > 1:
            approvals = step.approvers.filter(decision=Decision.APPROVED).count()
            if approvals < step.required_approvals:
                return  # the step waits for more of its group
        step.approve()
        step.decided_by = by
        prepared_save(step, update_fields=DECIDED_STEP_FIELDS, where={"state": StepState.PENDING})
        # The others still asked to decide this step are no longer needed.
        if any(
            row.step_id == step.pk and row.pk != assignment.pk and row.decision == Decision.PENDING
            for row in assignments
        ):
            step.approvers.filter(decision=Decision.PENDING).update(decision=Decision.NOT_NEEDED)
        # The round as it stands now: the others as read under their lock, this one decided.
        steps = [step if other.pk == step.pk else other for other in round_steps]
        if any(s.stage == step.stage and s.state != StepState.APPROVED for s in steps):
            return  # a parallel step of this stage is still open
        if _open_next_stage(request=request, steps=steps):
            return
        passed = {s.gate for s in steps if s.gate and s.state == StepState.APPROVED}
        more = _final_gate_steps(
            request, by=by, passed=passed, after_stage=max(s.stage for s in steps)
        )
        if more:
            # A gate's answer changed while the route ran (the budget filled up): its step
            # joins the route now, as a last stage, and the request waits for it.
            added = _create_steps(
                request=request, round_number=step.round, plan=more, position=len(steps)
            )
            for extra_step in added:
                audit_record(
                    target=request, actor=None, action="step_added", comment=extra_step.name
                )
            _open_next_stage(request=request, steps=added)
            return
        purchase_request_apply(
            request=request, by=by, action="approve", comment="Every approval step is approved."
        )
        return

    if action == "reject":
        step.reject()
    else:
        step.request_changes()
    step.decided_by = by
    prepared_save(step, update_fields=DECIDED_STEP_FIELDS, where={"state": StepState.PENDING})
    # The request leaves approval; purchase_request_apply tells the workflow, which closes the route.
    purchase_request_apply(request=request, by=by, action=action, comment=f"{comment}{behalf}")


_APPROVED_TOTAL_UPSERT = PreparedInsert(
    ApprovedTotal, update_fields=["total", "approved_at"], unique_fields=["request"]
)


class ApprovalWorkflow:
    """Installed into requests.workflow by ApprovalsConfig.ready()."""

    def may_decide(self, request: PurchaseRequest, user: User) -> bool:
        if request.state != RequestState.PENDING_APPROVAL or request.requester_id == user.pk:
            return False
        return pending_assignment(request=request, user=user) is not None

    def on_transition(self, *, request: PurchaseRequest, by: User | None, action: str) -> None:
        if action in ("submit", "require_reapproval"):
            approval_route_start(request=request, by=by)
        elif action == "approve" and request.state == RequestState.APPROVED:
            # Approved by the decision on its last open step (_decide_locked: every step of
            # the round is approved, and earlier rounds were closed when they ended): no
            # step is left to skip, so no locking read looks for one (0.5 ms per approval).
            pass
        elif request.state != RequestState.PENDING_APPROVAL:
            approval_route_close(request=request)
        if request.state == RequestState.APPROVED:
            # What was approved: an amendment is measured against it (re-approval).
            # One upsert statement (update_or_create took six, with its savepoints), compiled
            # once (bulk_create's update_conflicts compiled it on every approval).
            _APPROVED_TOTAL_UPSERT.create(
                request=request, total=request.total, approved_at=timezone.now()
            )

    def refusal(self, request: PurchaseRequest, user: User) -> Conflict | None:
        """Someone else decided the step `user` was asked to decide (a stale page): say who."""
        if request.state != RequestState.PENDING_APPROVAL or request.requester_id == user.pk:
            return None
        last_round = request.approval_steps.aggregate(last=Max("round"))["last"]
        taken = (
            StepApprover.objects.select_related("step__decided_by")
            .filter(
                step__request=request,
                step__round=last_round,
                approver=user,
                decision=Decision.NOT_NEEDED,
                step__decided_by__isnull=False,
            )
            .exclude(step__decided_by=user)
            .order_by("-step__decided_at")
            .first()
        )
        if taken is None:
            return None
        step = taken.step
        return Conflict(
            f'"{step.name}" was already decided by {step.decided_by} '
            f"({step.get_state_display().lower()})."
        )

    def decide(self, *, request: PurchaseRequest, by: User, action: str, comment: str) -> None:
        assignment = pending_assignment(request=request, user=by)
        if assignment is None:
            raise NotAllowed(f"You are not an approver of {request.reference} at this stage.")
        # The request is the row the caller locked: the permission reads its requester.
        step, round_steps = _round_locked(assignment.step_id, request=request)
        _decide_locked(
            request=request,
            step=step,
            round_steps=round_steps,
            by=by,
            action=action,
            comment=comment,
        )


# --- Delegation -------------------------------------------------------------


def delegation_active(*, person_id: int, on: dt.date) -> Delegation | None:
    """The delegation of `person_id` that runs on `on`, if any (overlaps are refused)."""
    return (
        Delegation.objects.select_related("delegate")
        .filter(delegator_id=person_id, starts_on__lte=on, ends_on__gte=on)
        .order_by("starts_on", "id")
        .first()
    )


def _stand_in(person: User, *, request: PurchaseRequest, on: dt.date) -> User:
    """Who decides in `person`'s place on `on`: the end of their delegation chain, or themselves.

    Never the requester: a chain reaching the requester goes to the requester's own
    manager instead (segregation of duties), or stays with `person` when there is none.
    """
    target = person
    seen = {person.pk}
    # A chain reaching the requester stops there: the requester may not pick, through their
    # own delegation, who decides their request.
    while (
        target.pk != request.requester_id
        and (delegation := delegation_active(person_id=target.pk, on=on)) is not None
    ):
        delegate = delegation.delegate
        if delegate.pk in seen or not delegate.is_active:
            break  # cycles are refused on create; this only guards against a race
        seen.add(delegate.pk)
        target = delegate
    if target.pk == request.requester_id:
        manager = request.requester.manager
        usable = manager is not None and manager.is_active and manager.pk != request.requester_id
        target = manager if usable and manager is not None else person
    return target


def _move_assignment(
    *, assignment: StepApprover, to: User, on_behalf_of: User | None, note: str
) -> StepApprover | None:
    """Hand a pending assignment to `to`, the old one marked not needed.

    Returns None and changes nothing when `to` already holds a live assignment on the step:
    one person cannot give two of a group's approvals.
    """
    existing = StepApprover.objects.filter(step_id=assignment.step_id, approver=to).first()
    if existing is not None and existing.decision != Decision.NOT_NEEDED:
        return None
    assignment.decision = Decision.NOT_NEEDED
    assignment.comment = note
    assignment.save(update_fields=["decision", "comment"])
    if existing is None:
        return StepApprover.objects.create(
            step_id=assignment.step_id, approver=to, on_behalf_of=on_behalf_of
        )
    # `to` was asked before and handed it on (a delegation that ended): it comes back.
    existing.decision = Decision.PENDING
    existing.decided_at = None
    existing.comment = ""
    existing.on_behalf_of = on_behalf_of
    existing.reminders_sent = 0
    existing.save()
    return existing


def _delegate_pending(*, step: ApprovalStep, request: PurchaseRequest, on: dt.date) -> list[int]:
    """Move the step's pending assignments of approvers who are away to whoever stands in.

    The caller holds the request and step locks. Each move is audited on the request.
    Returns the ids of the people who now hold an assignment.
    """
    moved: list[int] = []
    pending = step.approvers.select_related("approver", "on_behalf_of").filter(
        decision=Decision.PENDING
    )
    for assignment in pending:
        away = assignment.approver
        to = _stand_in(away, request=request, on=on)
        if to.pk == away.pk:
            continue
        # "On behalf of" names the approver the route asked, even along a chain of delegates.
        principal = assignment.on_behalf_of or away
        new = _move_assignment(
            assignment=assignment,
            to=to,
            on_behalf_of=principal if principal.pk != to.pk else None,
            note=f"Delegated to {to}.",
        )
        if new is None:
            logger.info("step %s: %s already decides it; not delegated", step.pk, to.username)
            continue
        audit_record(
            target=request,
            actor=None,
            action="delegated_step",
            comment=f"{step.name}: {away} is away; {new.acting_as} decides it.",
        )
        moved.append(to.pk)
    return moved


def _delegate_steps_of(*, person_ids: Sequence[int], on: dt.date) -> int:
    """Move the pending steps of `person_ids` to their stand-ins; each step in its own
    transaction (savepoint inside a caller's), locked request first. Emails go on commit."""
    from approvals.tasks import notify_step_pending

    step_ids = sorted(
        set(
            StepApprover.objects.filter(
                approver_id__in=person_ids,
                decision=Decision.PENDING,
                step__state=StepState.PENDING,
            ).values_list("step_id", flat=True)
        )
    )
    moved = 0
    for step_id in step_ids:
        with transaction.atomic():
            request, step = _lock_request_and_step(step_id)
            if step.state != StepState.PENDING:
                continue
            if _delegate_pending(step=step, request=request, on=on):
                moved += 1
                enqueue(notify_step_pending, step.pk)
    return moved


def delegation_validate(
    *,
    delegator: User,
    delegate: User,
    starts_on: dt.date,
    ends_on: dt.date,
    exclude_id: int | None = None,
) -> None:
    """Raise InvalidInput (with fields) unless the delegation may be created."""
    if delegate.pk == delegator.pk:
        raise InvalidInput(
            "You cannot delegate to yourself.", fields={"delegate": ["Choose someone else."]}
        )
    if not delegate.is_active:
        message = f"{delegate} cannot sign in, so cannot decide for you."
        raise InvalidInput(message, fields={"delegate": [message]})
    if ends_on < starts_on:
        message = "The last day must be on or after the first day."
        raise InvalidInput(message, fields={"ends_on": [message]})
    if ends_on < timezone.localdate():
        message = "The last day is in the past."
        raise InvalidInput(message, fields={"ends_on": [message]})
    others = Delegation.objects.exclude(pk=exclude_id) if exclude_id else Delegation.objects.all()
    overlapping = (
        others.filter(delegator=delegator, starts_on__lte=ends_on, ends_on__gte=starts_on)
        .select_related("delegate")
        .first()
    )
    if overlapping is not None:
        message = (
            f"{delegator} already delegates to {overlapping.delegate} from "
            f"{overlapping.starts_on:%d %b %Y} to {overlapping.ends_on:%d %b %Y}; "
            "one delegate at a time."
        )
        raise InvalidInput(message, fields={"starts_on": [message]})
    cycle = _delegation_cycle(
        delegator=delegator,
        delegate=delegate,
        starts_on=starts_on,
        ends_on=ends_on,
        exclude_id=exclude_id,
    )
    if cycle:
        chain = " → ".join(str(person) for person in cycle)
        message = f"That would make a delegation cycle ({chain}): nobody would decide."
        raise InvalidInput(message, fields={"delegate": [message]})


def _delegation_cycle(
    *,
    delegator: User,
    delegate: User,
    starts_on: dt.date,
    ends_on: dt.date,
    exclude_id: int | None = None,
) -> list[User] | None:
    """The people of a cycle the new delegation would close on some day, or None.

    Follows delegations onward from `delegate` whose dates overlap every earlier link of
    the chain (a cycle needs one day on which all of its links run).
    """
    stack: list[tuple[User, dt.date, dt.date, list[User]]] = [
        (delegate, starts_on, ends_on, [delegator, delegate])
    ]
    while stack:
        person, first, last, path = stack.pop()
        onward = Delegation.objects.filter(
            delegator=person, starts_on__lte=last, ends_on__gte=first
        ).select_related("delegate")
        if exclude_id:
            onward = onward.exclude(pk=exclude_id)
        for link in onward:
            if link.delegate_id == delegator.pk:
                return [*path, delegator]
            if link.delegate_id in {p.pk for p in path}:
                continue
            stack.append(
                (
                    link.delegate,
                    max(first, link.starts_on),
                    min(last, link.ends_on),
                    [*path, link.delegate],
                )
            )
    return None


def delegation_create(
    *,
    delegator: User,
    delegate: User,
    starts_on: dt.date,
    ends_on: dt.date,
    reason: str = "",
    created_by: User | None = None,
) -> Delegation:
    """Let `delegate` decide `delegator`'s approval steps from `starts_on` to `ends_on`.

    Refuses (InvalidInput) delegating to oneself, to an inactive account, an overlap with
    the delegator's other delegations and any cycle. Locks both people's rows (in id order)
    so that two delegations closing a cycle between them cannot both pass. If it runs
    today, the delegator's pending steps move to the delegate now (their emails go on
    commit); a future one is started by the periodic task approvals.tasks.start_due_delegations.
    """
    with transaction.atomic():
        list(
            User.objects.select_for_update()
            .filter(pk__in=[delegator.pk, delegate.pk])
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        delegation_validate(
            delegator=delegator, delegate=delegate, starts_on=starts_on, ends_on=ends_on
        )
        delegation = Delegation.objects.create(
            delegator=delegator,
            delegate=delegate,
            starts_on=starts_on,
            ends_on=ends_on,
            reason=reason.strip(),
            created_by=created_by or delegator,
        )
        audit_record(
            target=delegation,
            actor=created_by or delegator,
            action="created",
            comment=f"{delegate} decides for {delegator} from {starts_on} to {ends_on}.",
        )
        today = timezone.localdate()
        if starts_on <= today:
            _delegate_steps_of(person_ids=[delegator.pk], on=today)
    return delegation


def delegation_end(*, delegation_id: int, by: User) -> None:
    """End a delegation today (or drop it if it has not started). Steps it already moved
    stay with the delegate, who may still decide them; new steps go to the delegator again."""
    with transaction.atomic():
        delegation = Delegation.objects.select_for_update().filter(pk=delegation_id).first()
        if delegation is None:
            raise NotFound("No such delegation.")
        require(
            by,
            "approvals.end_delegation",
            delegation,
            message="Only the person who delegated can end a delegation.",
        )
        today = timezone.localdate()
        audit_record(target=delegation, actor=by, action="ended", comment=f"Ended on {today}.")
        if delegation.starts_on >= today:
            delegation.delete()
        elif delegation.ends_on >= today:
            delegation.ends_on = today - dt.timedelta(days=1)
            delegation.save(update_fields=["ends_on"])


def delegations_start_due(*, on: dt.date) -> int:
    """Move the pending steps of everyone delegating on `on` to their delegates.

    Run by the periodic task for delegations dated in the future when created; running it
    again moves nothing more (moved steps are no longer the delegator's). Returns how many
    steps moved.
    """
    delegators = list(
        Delegation.objects.filter(starts_on__lte=on, ends_on__gte=on)
        .values_list("delegator_id", flat=True)
        .distinct()
    )
    return _delegate_steps_of(person_ids=delegators, on=on) if delegators else 0


# --- Escalation -------------------------------------------------------------


def _overdue_at(activated_at: dt.datetime | None, sla_hours: int) -> dt.datetime | None:
    # An SLA of 0 hours means "never escalates".
    if activated_at is None or not sla_hours:
        return None
    return activated_at + dt.timedelta(hours=sla_hours)


def approval_steps_overdue(*, now: dt.datetime) -> list[int]:
    """Ids of pending steps past their SLA that have not escalated yet, oldest first."""
    candidates = (
        ApprovalStep.objects.filter(
            state=StepState.PENDING, escalated_at__isnull=True, activated_at__lt=now
        )
        .order_by("activated_at", "id")
        .values_list("pk", "activated_at", "sla_hours")
    )
    # Few steps are pending at once; the per-row SLA is compared here rather than in
    # SQL, where interval arithmetic differs between SQLite and PostgreSQL.
    return [
        pk
        for pk, activated_at, sla_hours in candidates
        if (due := _overdue_at(activated_at, sla_hours)) is not None and due <= now
    ]


def approval_step_escalate(*, step_id: int, now: dt.datetime | None = None) -> bool:
    """Escalate a pending step past its SLA, once; False when there is nothing (more) to do.

    Locks the request row, then the step row; `escalated_at` set under that lock makes
    a re-run, a retry or a second worker a no-op. For each approver still to decide:
    notify_manager emails their manager; reassign moves the assignment to their manager
    (or that manager's delegate), the old one marked not needed. Either way the request's
    timeline gets an "escalated" entry; emails go after commit.
    """
    now = now or timezone.now()
    with transaction.atomic():
        request, step = _lock_request_and_step(step_id)
        due = _overdue_at(step.activated_at, step.sla_hours)
        if step.state != StepState.PENDING or step.escalated_at or due is None or due > now:
            return False
        step.escalated_at = now
        step.save(update_fields=["escalated_at"])
        reassign = step.on_overdue == OnOverdue.REASSIGN
        today = timezone.localdate(now)
        notes: list[str] = []
        recipients: list[int] = []
        waiting = step.approvers.select_related("approver", "approver__manager").filter(
            decision=Decision.PENDING
        )
        for assignment in waiting:
            person = assignment.approver
            manager = person.manager
            if manager is None or not manager.is_active:
                notes.append(f"{person} has no manager to escalate to")
                continue
            if not reassign:
                notes.append(f"{manager}, manager of {person}, was told")
                recipients.append(manager.pk)
                continue
            if manager.pk == request.requester_id:
                # Segregation of duties: the requester's own report is late. Neither the
                # requester nor their delegate (on their behalf) may take it; it stays.
                notes.append(f"{person} has no manager to escalate to but the requester")
                continue
            to = _stand_in(manager, request=request, on=today)
            new = _move_assignment(
                assignment=assignment,
                to=to,
                on_behalf_of=manager if to.pk != manager.pk else None,
                note=f"Escalated to {to}: overdue.",
            )
            if new is None:
                notes.append(f"{person}'s part could not move to {to}, who already has one")
                continue
            notes.append(f"reassigned from {person} to {new.acting_as}")
            recipients.append(to.pk)
        hours = int((now - (step.activated_at or now)).total_seconds() // 3600)
        audit_record(
            target=request,
            actor=None,
            action="escalated",
            comment=f"{step.name}: pending for {hours} hours, past its {step.sla_hours}-hour "
            f"limit; " + ("; ".join(notes) or "nobody left to decide") + ".",
        )
        if recipients:
            from approvals.tasks import notify_step_escalated

            enqueue(notify_step_escalated, step.pk, sorted(set(recipients)), reassign)
    return True


# --- Expiry -----------------------------------------------------------------


def approval_steps_stale(*, now: dt.datetime) -> list[int]:
    """Ids of steps pending for longer than APPROVAL_STEP_EXPIRY_DAYS, oldest first."""
    days = settings.APPROVAL_STEP_EXPIRY_DAYS
    if days == 0:
        return []
    return list(
        ApprovalStep.objects.filter(
            state=StepState.PENDING, activated_at__lte=now - dt.timedelta(days=days)
        )
        .order_by("activated_at", "id")
        .values_list("pk", flat=True)
    )


def approval_step_expire(*, step_id: int, now: dt.datetime | None = None) -> bool:
    """Expire a step nobody decided in time; the request goes back to its requester.

    Locks the request row, then the step row, and re-checks under the lock, so a run that
    races a decision does nothing (returns False). The requester is emailed on commit, as
    for any return, and may resubmit, which routes the request afresh.
    """
    now = now or timezone.now()
    days = settings.APPROVAL_STEP_EXPIRY_DAYS
    with transaction.atomic():
        request, step = _lock_request_and_step(step_id)
        if (
            days == 0
            or step.state != StepState.PENDING
            or step.activated_at is None
            or step.activated_at > now - dt.timedelta(days=days)
        ):
            return False
        step.expire()
        step.save()
        step.approvers.filter(decision=Decision.PENDING).update(decision=Decision.NOT_NEEDED)
        purchase_request_apply(
            request=request,
            by=None,
            action="return",
            comment=f'"{step.name}" expired: nobody decided it within {days} days. '
            "Resubmit it if it is still needed.",
        )
    return True


# --- Re-approval ------------------------------------------------------------


def purchase_request_amend_approved(
    *, request_id: int, by: User, line_items: Sequence[LineItemInput], comment: str
) -> PurchaseRequest:
    """Procurement replaces the line items of an approved request (a price or quantity changed).

    Locks the request row. If the new total is more than APPROVAL_REAPPROVAL_TOLERANCE_PERCENT
    above the total last approved, the request goes back to pending approval with a new
    route round under the active policy (its approvers are emailed after commit); else it
    stays approved. A total that goes up is also put to the installed gates (the budget
    check, which locks the budgets): a limit that stops it is a 409 and nothing changes; a
    gate that asks for a step sends the request back to approval even within the tolerance. Either way the version goes up (emailed links of the old version die)
    and the timeline records the old and new totals. All or nothing.
    """
    comment = comment.strip()
    require(
        by,
        "requests.amend_purchaserequest",
        message="Only procurement can amend an approved request.",
    )
    if not comment:
        raise InvalidInput(
            "Say why the request is amended.", fields={"comment": ["A reason is required."]}
        )
    if not line_items:
        raise InvalidInput(
            "A request needs at least one line item.",
            fields={"line_items": ["Add at least one line item."]},
        )
    if len(line_items) > MAX_LINE_ITEMS:
        message = f"A request can have at most {MAX_LINE_ITEMS} line items."
        raise InvalidInput(message, fields={"line_items": [message]})
    with transaction.atomic():
        request = (
            PurchaseRequest.objects.select_for_update(of=("self",))
            .select_related("requester", "requester__manager", "department")
            .filter(pk=request_id)
            .first()
        )
        if request is None:
            raise NotFound("No such purchase request.")
        if request.state != RequestState.APPROVED:
            raise Conflict(
                f"{request.reference} is {request.get_state_display().lower()}; "
                "only an approved request can be amended."
            )
        old_total = request.total
        baseline = ApprovedTotal.objects.filter(request=request).first()
        approved = baseline.total if baseline else old_total
        purchase_request_line_items_replace(request=request, items=line_items)
        request.version += 1
        request.save()
        tolerance = Decimal(settings.APPROVAL_REAPPROVAL_TOLERANCE_PERCENT)
        ceiling = (approved * (100 + tolerance) / 100).quantize(CENT)
        currency = request.currency
        audit_record(
            target=request,
            actor=by,
            action="amended",
            comment=f"Total {old_total} → {request.total} {currency} (approved: {approved}, "
            f"re-approval above {ceiling}). {comment}",
        )
        steps: list[gates.ExtraStep] = []
        if request.total > old_total:
            # More money than before: a stop budget refuses it (Conflict rolls it all back);
            # a budget asking for a step needs it decided for the new total.
            steps = [
                step for gate in gates.installed() for step in gate.at_amendment(request, by=by)
            ]
        if request.total > ceiling or steps:
            reason = (
                f"The total {request.total} {currency} is more than {tolerance}% above "
                f"the approved {approved} {currency}."
                if request.total > ceiling
                else f"The total {request.total} {currency} needs: "
                + "; ".join(step.name for step in steps)
                + "."
            )
            purchase_request_apply(
                request=request,
                by=by,
                action="require_reapproval",
                transition="require_reapproval",
                comment=reason,
            )
    return request
