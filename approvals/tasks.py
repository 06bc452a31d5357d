"""Side effects of approvals, run by the Celery worker."""

from __future__ import annotations

from celery import shared_task

from approvals import emails


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def notify_step_pending(step_id: int) -> int:
    return emails.send_step_pending_emails(step_id=step_id)
