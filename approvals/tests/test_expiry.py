"""A step nobody decides in time expires, and the request goes back to its requester."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from approvals.models import ApprovalStep
from approvals.services import approval_step_decide, approval_step_expire
from approvals.tasks import expire_stale_steps
from approvals.tests.helpers import LINE_MANAGER, policy, steps_of, submitted
from procurement.models import AuditEntry, Role
from requests.models import PurchaseRequest

pytestmark = pytest.mark.django_db


def opened_days_ago(request, days):
    ApprovalStep.objects.filter(request=request).update(
        activated_at=timezone.now() - dt.timedelta(days=days)
    )


def test_it_expires_a_step_left_undecided_and_tells_the_requester(
    org, settings, django_capture_on_commit_callbacks, mailoutbox
):
    settings.APPROVAL_STEP_EXPIRY_DAYS = 30
    policy(LINE_MANAGER, {"name": "Legal", "approver_kind": "role", "approver_role": Role.LEGAL})
    request = submitted(org)
    opened_days_ago(request, 31)

    with django_capture_on_commit_callbacks(execute=True):
        assert expire_stale_steps() == 1

    assert PurchaseRequest.objects.get(pk=request.pk).state == "returned"
    assert sorted(state for _, _, state, _ in steps_of(request)) == ["expired", "skipped"]
    entry = AuditEntry.objects.get(object_id=request.pk, action="return")
    assert entry.actor is None
    assert "expired: nobody decided it within 30 days" in entry.comment
    assert [message.to for message in mailoutbox] == [[org.requester.email]]


def test_it_leaves_steps_within_the_limit_and_runs_twice_safely(org, settings):
    settings.APPROVAL_STEP_EXPIRY_DAYS = 30
    policy(LINE_MANAGER)
    fresh = submitted(org)
    opened_days_ago(fresh, 29)

    assert expire_stale_steps() == 0
    opened_days_ago(fresh, 31)
    assert expire_stale_steps() == 1
    assert expire_stale_steps() == 0
    assert AuditEntry.objects.filter(object_id=fresh.pk, action="return").count() == 1


def test_it_never_expires_when_turned_off(org, settings):
    settings.APPROVAL_STEP_EXPIRY_DAYS = 0
    policy(LINE_MANAGER)
    request = submitted(org)
    opened_days_ago(request, 400)

    assert expire_stale_steps() == 0
    assert PurchaseRequest.objects.get(pk=request.pk).state == "pending_approval"


def test_it_does_not_expire_a_step_decided_meanwhile(org, settings):
    settings.APPROVAL_STEP_EXPIRY_DAYS = 30
    policy(LINE_MANAGER)
    request = submitted(org)
    step = ApprovalStep.objects.get(request=request)
    opened_days_ago(request, 31)
    approval_step_decide(step_id=step.pk, by=org.manager, action="approve")

    assert approval_step_expire(step_id=step.pk) is False
    assert PurchaseRequest.objects.get(pk=request.pk).state == "approved"
