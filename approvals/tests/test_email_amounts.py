"""Approval emails write amounts as the pages do: "5,000.00 GBP", never "5000.00 GBP", in the
subject and in both the text and the HTML part."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail
from django.utils import timezone

from approvals.models import ApprovalStep
from approvals.reminders import send_reminder_digest
from approvals.services import approval_step_escalate
from approvals.tests.helpers import LINE_MANAGER, policy, submitted

pytestmark = pytest.mark.django_db


def parts(message: mail.EmailMultiAlternatives) -> list[str]:
    [(html, _)] = message.alternatives
    return [str(message.body), str(html)]


def waiting_since(request, *, hours: int) -> None:
    ApprovalStep.objects.filter(request=request).update(
        activated_at=timezone.now() - dt.timedelta(hours=hours)
    )


def test_it_writes_the_total_and_each_line_with_thousands_separators(
    org, django_capture_on_commit_callbacks, mailoutbox
):
    policy(LINE_MANAGER)
    with django_capture_on_commit_callbacks(execute=True):
        request = submitted(org, total_lines=2)  # two lines of 2 x 1,250.00: 5,000.00 GBP

    [message] = mailoutbox
    assert message.subject.endswith("(5,000.00 GBP)")
    for body in parts(message):
        assert "5,000.00 GBP" in body
        assert "1,250.00" in body  # a line's unit price
        assert "2,500.00" in body  # a line's amount
        assert "5000.00" not in body
        assert "1250.00" not in body
    assert request.total == 5000


def test_it_writes_the_total_in_the_daily_digest_as_the_pages_do(org, mailoutbox):
    policy(LINE_MANAGER)
    request = submitted(org, total_lines=2)
    waiting_since(request, hours=49)
    mailoutbox.clear()

    assert send_reminder_digest(approver_id=org.manager.pk, day=timezone.localdate())

    [digest] = mailoutbox
    for body in parts(digest):
        assert "5,000.00 GBP" in body


def test_it_writes_the_total_in_the_overdue_email_as_the_pages_do(
    org, django_capture_on_commit_callbacks, mailoutbox
):
    policy({**LINE_MANAGER, "sla_hours": 48})
    request = submitted(org, total_lines=2)
    waiting_since(request, hours=49)
    mailoutbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        assert approval_step_escalate(step_id=ApprovalStep.objects.get(request=request).pk)

    [email] = mailoutbox
    for body in parts(email):
        assert "5,000.00 GBP" in body
