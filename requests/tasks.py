"""Side effects of requests, run by the Celery worker. Thin: load by id, call the email."""

from __future__ import annotations

from celery import shared_task

from requests import emails


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def notify_mentions(comment_id: int) -> int:
    return emails.send_mention_emails(comment_id=comment_id)


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def notify_requester_of_transition(audit_entry_id: int) -> bool:
    return emails.send_transition_email(audit_entry_id=audit_entry_id)
