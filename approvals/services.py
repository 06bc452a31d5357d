"""Writes of the approvals workflow: freeze a route at submission, decide its steps.

Every write here runs inside the transaction of the request's own state change, with the
request row locked first and then the step rows, always in that order (no deadlocks).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from approvals.conditions import RequestFacts, rule_matches
from approvals.models import (
    ApprovalPolicy,
    ApprovalRule,
    ApprovalStep,
    ApproverKind,
    Decision,
    Mode,
    NoMatch,
    StepApprover,
    StepState,
)
from procurement.errors import Conflict, InvalidInput, NotAllowed, NotFound
from procurement.models import User
from procurement.services import audit_record
from requests.models import PurchaseRequest, RequestState
from requests.services import purchase_request_apply

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


def approval_route_start(*, request: PurchaseRequest, by: User | None) -> list[ApprovalStep]:
    """Freeze the route of a just-submitted, locked request and open its first stage.

    Runs inside the submit transaction (called by the workflow), so a refused plan
    leaves the request a draft and writes nothing.
    """
    policy = active_policy()
    plan = approval_route_plan(request=request, policy=policy)
    purchase_request_apply(
        request=request,
        by=by,
        action="approval_started",
        transition="start_approval",
        comment=f"Policy: {policy.name}" if policy else "Default: line manager",
    )
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
    steps: list[ApprovalStep] = []
    for position, planned in enumerate(sorted(plan, key=lambda p: p.stage)):
        step = ApprovalStep.objects.create(
            request=request,
            round=round_number,
            stage=planned.stage,
            position=position,
            name=planned.name,
            rule=planned.rule,
            mode=planned.mode,
            required_approvals=planned.required_approvals,
            sla_hours=planned.sla_hours,
            on_overdue=planned.on_overdue,
        )
        StepApprover.objects.bulk_create(
            StepApprover(step=step, approver=person) for person in planned.approvers
        )
        steps.append(step)
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
    for step in opened:
        step.activate()
        step.save()
    from approvals.tasks import notify_step_pending

    step_ids = [step.pk for step in opened]
    transaction.on_commit(lambda: [notify_step_pending.delay(step_id) for step_id in step_ids])
    return opened


def _current_steps(request: PurchaseRequest) -> list[ApprovalStep]:
    last_round = request.approval_steps.aggregate(last=Max("round"))["last"]
    return list(
        ApprovalStep.objects.select_for_update()
        .filter(request=request, round=last_round)
        .order_by("stage", "position", "id")
    )


def approval_route_close(*, request: PurchaseRequest) -> None:
    """Skip every open step when the request leaves approval (cancelled, returned by procurement)."""
    for step in ApprovalStep.objects.select_for_update().filter(
        request=request, state__in=["waiting", "pending"]
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
        request_id = (
            ApprovalStep.objects.filter(pk=step_id).values_list("request_id", flat=True).first()
        )
        if request_id is None:
            raise NotFound("No such approval step.")
        request = (
            PurchaseRequest.objects.select_for_update(of=("self",))
            .select_related("requester", "department")
            .get(pk=request_id)
        )
        step = ApprovalStep.objects.select_for_update().get(pk=step_id)
        _decide_locked(
            request=request,
            step=step,
            by=by,
            action=action,
            comment=comment,
            request_version=request_version,
        )
    return step


def _decide_locked(
    *,
    request: PurchaseRequest,
    step: ApprovalStep,
    by: User,
    action: str,
    comment: str,
    request_version: int | None = None,
) -> None:
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
    if request.requester_id == by.pk:
        raise NotAllowed("Nobody can approve their own request.")
    assignment = step.approvers.filter(approver=by).first()
    if assignment is None:
        raise NotAllowed(f'You are not an approver of "{step.name}".')
    if assignment.decision != Decision.PENDING:
        raise Conflict(f'You already decided "{step.name}".')
    policy = step.rule.policy if step.rule_id and step.rule else active_policy()
    if (policy is None or policy.one_decision_per_person) and StepApprover.objects.filter(
        step__request=request, step__round=step.round, approver=by
    ).exclude(step=step).exclude(decision__in=[Decision.PENDING, Decision.NOT_NEEDED]).exists():
        raise NotAllowed(
            "You already decided another step of this request; someone else must decide this one."
        )

    now = timezone.now()
    assignment.decision = DECISION_OF_ACTION[action]
    assignment.decided_at = now
    assignment.comment = comment
    assignment.save()
    verb = {
        "approve": "approved_step",
        "reject": "rejected_step",
        "return": "requested_changes_on_step",
    }[action]
    audit_record(
        target=request,
        actor=by,
        action=verb,
        comment=f"{step.name}" + (f": {comment}" if comment else ""),
    )

    if action == "approve":
        approvals = step.approvers.filter(decision=Decision.APPROVED).count()
        if approvals < step.required_approvals:
            return  # the step waits for more of its group
        step.approve()
        step.decided_by = by
        step.save()
        step.approvers.filter(decision=Decision.PENDING).update(decision=Decision.NOT_NEEDED)
        steps = _current_steps(request)
        if any(s.stage == step.stage and s.state != StepState.APPROVED for s in steps):
            return  # a parallel step of this stage is still open
        if _open_next_stage(request=request, steps=steps):
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
    step.save()
    # The request leaves approval; purchase_request_apply tells the workflow, which closes the route.
    purchase_request_apply(request=request, by=by, action=action, comment=f"{step.name}: {comment}")


class ApprovalWorkflow:
    """Installed into requests.workflow by ApprovalsConfig.ready()."""

    def may_decide(self, request: PurchaseRequest, user: User) -> bool:
        if request.state != RequestState.PENDING_APPROVAL or request.requester_id == user.pk:
            return False
        return pending_assignment(request=request, user=user) is not None

    def on_transition(self, *, request: PurchaseRequest, by: User | None, action: str) -> None:
        if action == "submit":
            approval_route_start(request=request, by=by)
        elif request.state != RequestState.PENDING_APPROVAL:
            approval_route_close(request=request)

    def decide(self, *, request: PurchaseRequest, by: User, action: str, comment: str) -> None:
        assignment = pending_assignment(request=request, user=by)
        if assignment is None:
            raise NotAllowed(f"You are not an approver of {request.reference} at this stage.")
        step = ApprovalStep.objects.select_for_update().get(pk=assignment.step_id)
        _decide_locked(request=request, step=step, by=by, action=action, comment=comment)
