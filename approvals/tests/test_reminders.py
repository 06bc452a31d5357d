"""Daily digests: one a day per approver from the configured hour, each pending step with its
own links, at most APPROVAL_REMINDER_MAX times per step, never twice for a re-run."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from approvals.models import ApprovalStep, StepApprover
from approvals.reminders import approvers_due_a_digest, send_reminder_digest
from approvals.services import approval_step_decide
from approvals.tasks import send_due_reminders
from approvals.tests.helpers import LINE_MANAGER, policy, submitted
from approvals.tokens import decision_token_read
from procurement.models import SentEmail

pytestmark = pytest.mark.django_db

LONDON = ZoneInfo("Europe/London")


def at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=LONDON)


@pytest.fixture(autouse=True)
def _reminders(settings):
    settings.TIME_ZONE = "Europe/London"
    settings.APPROVAL_REMINDER_HOUR = 9
    settings.APPROVAL_REMINDER_MAX = 3


def opened_days_ago(request, days: int) -> ApprovalStep:
    step = ApprovalStep.objects.get(request=request, state="pending")
    ApprovalStep.objects.filter(pk=step.pk).update(
        activated_at=timezone.now() - dt.timedelta(days=days)
    )
    return step


def run_scan(now: dt.datetime) -> int:
    day, approver_ids = approvers_due_a_digest(now=now)
    return sum(send_reminder_digest(approver_id=pk, day=day) for pk in approver_ids)


def test_it_sends_one_digest_listing_each_pending_step_with_its_own_links(org, mailoutbox):
    policy(LINE_MANAGER)
    first = submitted(org, title="Laptops")
    second = submitted(org, title="Monitors")
    steps = [opened_days_ago(first, 2), opened_days_ago(second, 1)]
    mailoutbox.clear()
    today = timezone.localdate()

    assert run_scan(at(today, 9, 5)) == 1

    [digest] = mailoutbox
    assert digest.to == ["mark@example.com"]
    assert digest.subject == "2 approvals waiting for you"
    body = digest.body
    assert "Laptops" in body
    assert "Monitors" in body
    links = re.findall(r"https?://\S+/approvals/email/([^/\s]+)/\?decision=(approve|reject)", body)
    assert sorted((decision_token_read(token).step_id, d) for token, d in links) == sorted(
        (step.pk, d) for step in steps for d in ("approve", "reject")
    )
    html = digest.alternatives[0][0]
    assert "Approve</a>" in html


def test_it_never_sends_the_same_days_digest_twice(org, mailoutbox):
    policy(LINE_MANAGER)
    request = submitted(org)
    opened_days_ago(request, 2)
    mailoutbox.clear()
    today = timezone.localdate()

    assert run_scan(at(today, 9)) == 1
    assert run_scan(at(today, 10)) == 0
    assert send_reminder_digest(approver_id=org.manager.pk, day=today) is False

    assert len(mailoutbox) == 1
    assert StepApprover.objects.get(step__request=request).reminders_sent == 1
    assert SentEmail.objects.filter(key__startswith="approval-digest:").count() == 1


def test_it_waits_for_the_reminder_hour_in_local_time(org, mailoutbox, settings):
    settings.APPROVAL_REMINDER_HOUR = 14
    policy(LINE_MANAGER)
    opened_days_ago(submitted(org), 2)
    mailoutbox.clear()
    today = timezone.localdate()

    assert approvers_due_a_digest(now=at(today, 13, 59)) == (today, [])
    # 13:30 UTC is 14:30 in London in summer, 13:30 in winter: local time decides.
    utc_half_past_one = dt.datetime.combine(today, dt.time(13, 30), tzinfo=dt.UTC)
    local_hour = timezone.localtime(utc_half_past_one).hour
    assert bool(approvers_due_a_digest(now=utc_half_past_one)[1]) == (local_hour >= 14)
    assert approvers_due_a_digest(now=at(today, 14)) == (today, [org.manager.pk])


def test_it_stops_after_the_maximum_number_of_reminders_per_step(org, mailoutbox, settings):
    settings.APPROVAL_REMINDER_MAX = 2
    policy(LINE_MANAGER)
    opened_days_ago(submitted(org), 10)
    mailoutbox.clear()
    today = timezone.localdate()

    sent = [run_scan(at(today + dt.timedelta(days=n), 9)) for n in range(4)]

    assert sent == [1, 1, 0, 0]
    assert len(mailoutbox) == 2


def test_it_leaves_out_steps_opened_today_and_steps_already_decided(org, mailoutbox):
    policy(LINE_MANAGER)
    today_request = submitted(org, title="Opened today")
    decided = submitted(org, title="Decided")
    step = opened_days_ago(decided, 3)
    approval_step_decide(step_id=step.pk, by=org.manager, action="approve")
    mailoutbox.clear()

    assert run_scan(at(timezone.localdate(), 9)) == 0
    assert mailoutbox == []
    assert ApprovalStep.objects.get(request=today_request).state == "pending"


def test_it_queues_digests_from_the_periodic_task(
    org, mailoutbox, settings, django_capture_on_commit_callbacks
):
    settings.APPROVAL_REMINDER_HOUR = 0  # any time of day is past midnight
    policy(LINE_MANAGER)
    opened_days_ago(submitted(org), 2)
    mailoutbox.clear()

    # Each digest is queued through the task outbox and sent when the scan commits.
    with django_capture_on_commit_callbacks(execute=True):
        assert send_due_reminders.delay().get() == 1
    with django_capture_on_commit_callbacks(execute=True):
        assert send_due_reminders.delay().get() == 1  # still due: its key stops the second send

    assert [m.to for m in mailoutbox] == [["mark@example.com"]]
