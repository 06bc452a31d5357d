"""Side effects of approvals, run by the Celery worker. Thin: load by id, call a service.

The scans (start_due_delegations, escalate_overdue_steps, send_due_reminders,
expire_stale_steps) are run by
Celery beat every few minutes (CELERY_BEAT_SCHEDULE); each is safe to run twice.
"""

from __future__ import annotations

import datetime as dt

from celery import shared_task
from django.db import transaction
from django.utils import timezone

from approvals import emails, reminders, services
from procurement.outbox import enqueue


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def notify_step_pending(step_id: int) -> int:
    return emails.send_step_pending_emails(step_id=step_id)


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def notify_step_escalated(step_id: int, recipient_ids: list[int], reassigned: bool) -> int:
    return reminders.send_escalation_emails(
        step_id=step_id, recipient_ids=recipient_ids, reassigned=reassigned
    )


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def send_reminder_digest(approver_id: int, day: str) -> bool:
    return reminders.send_reminder_digest(approver_id=approver_id, day=dt.date.fromisoformat(day))


@shared_task
def send_due_reminders() -> int:
    """Queue one digest per approver who is due one today (each digest sends at most once).

    Through the outbox, not .delay: a Redis blip halfway through the loop would otherwise
    lose the rest of today's digests until the next scan (their rows now wait for the relay).
    """
    day, approver_ids = reminders.approvers_due_a_digest(now=timezone.now())
    with transaction.atomic():
        for approver_id in approver_ids:
            enqueue(send_reminder_digest, approver_id, day.isoformat())
    return len(approver_ids)


@shared_task
def escalate_overdue_steps() -> int:
    now = timezone.now()
    return sum(
        services.approval_step_escalate(step_id=step_id, now=now)
        for step_id in services.approval_steps_overdue(now=now)
    )


@shared_task
def expire_stale_steps() -> int:
    now = timezone.now()
    return sum(
        services.approval_step_expire(step_id=step_id, now=now)
        for step_id in services.approval_steps_stale(now=now)
    )


@shared_task
def start_due_delegations() -> int:
    return services.delegations_start_due(on=timezone.localdate())
