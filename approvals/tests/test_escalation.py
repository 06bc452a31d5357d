"""Escalation: a step pending past its SLA tells the approver's manager, or moves to them,
once, and says so on the request's timeline."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from approvals.models import ApprovalStep, Decision, StepApprover
from approvals.services import (
    approval_step_decide,
    approval_step_escalate,
    approval_steps_overdue,
)
from approvals.tasks import escalate_overdue_steps
from approvals.tests.helpers import policy, submitted
from procurement.models import AuditEntry

pytestmark = pytest.mark.django_db


def rule(on_overdue: str, sla_hours: int = 48) -> dict[str, object]:
    return {
        "name": "Line manager",
        "approver_kind": "line_manager",
        "sla_hours": sla_hours,
        "on_overdue": on_overdue,
    }


def open_for(request, hours: float) -> ApprovalStep:
    step = ApprovalStep.objects.get(request=request, state="pending")
    ApprovalStep.objects.filter(pk=step.pk).update(
        activated_at=timezone.now() - dt.timedelta(hours=hours)
    )
    return ApprovalStep.objects.get(pk=step.pk)


def escalations(request) -> list[str]:
    return list(
        AuditEntry.objects.filter(
            content_type__model="purchaserequest", object_id=request.pk, action="escalated"
        ).values_list("comment", flat=True)
    )


def test_it_tells_the_approvers_manager_once_when_a_step_is_overdue(
    org, django_capture_on_commit_callbacks, mailoutbox
):
    policy(rule("notify_manager"))
    request = submitted(org)
    step = open_for(request, 49)
    mailoutbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        assert approval_step_escalate(step_id=step.pk) is True
    with django_capture_on_commit_callbacks(execute=True):
        assert approval_step_escalate(step_id=step.pk) is False

    [email] = mailoutbox
    assert email.to == ["hana@example.com"]
    assert email.subject == f"Overdue approval: {request.reference} {request.title} (Line manager)"
    assert "for Mark Manager" in email.body
    assert escalations(request) == [
        "Line manager: pending for 49 hours, past its 48-hour limit; "
        "Hana Head, manager of Mark Manager, was told."
    ]
    # Nothing moved: Mark still decides.
    assert list(
        StepApprover.objects.filter(step=step).values_list("approver__username", "decision")
    ) == [("mark", "pending")]
    approval_step_decide(step_id=step.pk, by=org.manager, action="approve")


def test_it_reassigns_an_overdue_step_to_the_approvers_manager(
    org, django_capture_on_commit_callbacks, mailoutbox
):
    policy(rule("reassign", sla_hours=24))
    request = submitted(org)
    step = open_for(request, 30)
    mailoutbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        assert approval_step_escalate(step_id=step.pk) is True

    assignments = list(
        StepApprover.objects.filter(step=step).values_list("approver__username", "decision")
    )
    assert assignments == [("mark", Decision.NOT_NEEDED), ("hana", Decision.PENDING)]
    assert escalations(request) == [
        "Line manager: pending for 30 hours, past its 24-hour limit; "
        "reassigned from Mark Manager to Hana Head."
    ]
    [email] = mailoutbox
    assert email.to == ["hana@example.com"]
    assert email.subject.startswith("Reassigned to you:")
    assert "/approvals/email/" in email.body
    approval_step_decide(step_id=step.pk, by=org.head, action="approve")
    assert ApprovalStep.objects.get(pk=step.pk).state == "approved"


def test_it_escalates_nothing_before_the_sla_or_after_a_decision(org):
    policy(rule("reassign", sla_hours=48))
    young = submitted(org)
    open_for(young, 47)
    decided = submitted(org)
    old = open_for(decided, 100)
    approval_step_decide(step_id=old.pk, by=org.manager, action="approve")
    never = submitted(org)
    ApprovalStep.objects.filter(request=never).update(sla_hours=0)
    open_for(never, 1000)

    assert approval_steps_overdue(now=timezone.now()) == []
    assert escalate_overdue_steps.delay().get() == 0
    assert escalations(young) == escalations(decided) == escalations(never) == []


def test_it_escalates_every_overdue_step_once_from_the_periodic_task(org, mailoutbox):
    policy(rule("notify_manager", sla_hours=8))
    first = open_for(submitted(org), 9)
    second = open_for(submitted(org), 20)
    mailoutbox.clear()

    assert approval_steps_overdue(now=timezone.now()) == [second.pk, first.pk]
    assert escalate_overdue_steps.delay().get() == 2
    assert escalate_overdue_steps.delay().get() == 0

    assert ApprovalStep.objects.filter(escalated_at__isnull=False).count() == 2


def test_it_records_when_there_is_no_manager_to_escalate_to(org):
    org.manager.manager = None
    org.manager.save()
    policy(rule("reassign", sla_hours=1))
    request = submitted(org)
    step = open_for(request, 2)

    assert approval_step_escalate(step_id=step.pk) is True

    assert escalations(request) == [
        "Line manager: pending for 2 hours, past its 1-hour limit; "
        "Mark Manager has no manager to escalate to."
    ]
    assert StepApprover.objects.get(step=step).decision == Decision.PENDING


def test_it_names_only_the_approvers_still_to_decide_in_the_overdue_email(
    org, django_capture_on_commit_callbacks, mailoutbox
):
    from procurement.models import Role
    from tests.factories import UserFactory

    UserFactory.create(
        username="frank",
        first_name="Frank",
        last_name="Figures",
        roles=[Role.FINANCE],
        manager=org.head,
    )
    org.finance.manager = org.head
    org.finance.save()
    policy(
        {
            "name": "All finance",
            "approver_kind": "role",
            "approver_role": Role.FINANCE,
            "mode": "all",
            "on_overdue": "notify_manager",
        }
    )
    request = submitted(org)
    step = open_for(request, 49)
    approval_step_decide(step_id=step.pk, by=org.finance, action="approve")
    mailoutbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        assert approval_step_escalate(step_id=step.pk) is True

    [email] = mailoutbox
    assert email.to == ["hana@example.com"]
    # Fiona approved in time: only Frank is late.
    assert "limit for Frank Figures." in email.body
    assert "Fiona" not in email.body


def test_it_never_reassigns_an_overdue_step_to_the_requester(
    org, django_capture_on_commit_callbacks, mailoutbox
):
    # Hana (no manager of her own) asks; Fiona, who reports to Hana, is late to approve it.
    org.finance.manager = org.head
    org.finance.save()
    policy(
        {
            "name": "Finance",
            "approver_kind": "user",
            "approver_user": org.finance,
            "sla_hours": 24,
            "on_overdue": "reassign",
        }
    )
    request = submitted(org, requester=org.head)
    step = open_for(request, 30)
    mailoutbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        assert approval_step_escalate(step_id=step.pk) is True

    assert list(
        StepApprover.objects.filter(step=step).values_list("approver__username", "decision")
    ) == [("fiona", Decision.PENDING)]
    assert mailoutbox == []
    assert escalations(request) == [
        "Finance: pending for 30 hours, past its 24-hour limit; "
        "Fiona Finance has no manager to escalate to but the requester."
    ]


def test_it_never_reassigns_an_overdue_step_to_the_requesters_delegate(
    org, django_capture_on_commit_callbacks, mailoutbox
):
    from approvals.services import delegation_create

    # Hana asks and is away; Fiona, who reports to Hana, is late to approve it.
    org.finance.manager = org.head
    org.finance.save()
    delegation_create(
        delegator=org.head,
        delegate=org.procurement,
        starts_on=timezone.localdate(),
        ends_on=timezone.localdate() + dt.timedelta(days=3),
    )
    policy(
        {
            "name": "Finance",
            "approver_kind": "user",
            "approver_user": org.finance,
            "sla_hours": 24,
            "on_overdue": "reassign",
        }
    )
    request = submitted(org, requester=org.head)
    step = open_for(request, 30)
    mailoutbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        assert approval_step_escalate(step_id=step.pk) is True

    # Pat would otherwise approve Hana's request on Hana's behalf.
    assert list(
        StepApprover.objects.filter(step=step).values_list(
            "approver__username", "on_behalf_of__username", "decision"
        )
    ) == [("fiona", None, Decision.PENDING)]
    assert mailoutbox == []
