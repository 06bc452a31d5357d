"""Tasks of the evaluation part (negotiation, award): thin, fetch by id and call a service;
queued through the task outbox. Emails are idempotent per key, so a retry never sends
twice."""

from __future__ import annotations

from celery import shared_task


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def notify_counter_offer(counter_offer_id: int) -> bool:
    from sourcing.negotiation import counter_offer_email

    return counter_offer_email(counter_offer_id=counter_offer_id)


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def notify_award_approval_needed(award_id: int) -> int:
    from sourcing.awards import award_approval_needed_emails

    return award_approval_needed_emails(award_id=award_id)


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def notify_award_outcome(award_id: int) -> int:
    from sourcing.awards import award_outcome_emails

    return award_outcome_emails(award_id=award_id)


@shared_task
def expire_due_counter_offers() -> int:
    """Beat: open counter-offers past their reply-by time expire. Returns how many."""
    from sourcing.negotiation import counter_offers_expire_due

    return counter_offers_expire_due()
