"""Tasks of RFQs and quotes: thin, fetch by id and call a service or an email function;
queued through the task outbox by sourcing/rfqs.py and sourcing/quotes.py."""

from __future__ import annotations

from celery import shared_task


@shared_task
def close_due_rfqs() -> int:
    """Beat (every minute): close open RFQs past their deadline; returns how many closed."""
    from sourcing.rfqs import rfqs_close_due

    return rfqs_close_due()


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def notify_rfq_invitation(invitation_id: int) -> bool:
    from sourcing.rfqs import rfq_email_invitation

    return rfq_email_invitation(invitation_id=invitation_id)


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def notify_rfq_deadline_changed(invitation_id: int, reopened: bool) -> bool:
    from sourcing.rfqs import rfq_email_deadline_changed

    return rfq_email_deadline_changed(invitation_id=invitation_id, reopened=reopened)


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def notify_rfq_cancelled(invitation_id: int) -> bool:
    from sourcing.rfqs import rfq_email_cancelled

    return rfq_email_cancelled(invitation_id=invitation_id)


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def notify_rfq_closed(rfq_id: int) -> bool:
    from sourcing.rfqs import rfq_email_closed

    return rfq_email_closed(rfq_id=rfq_id)


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def notify_rfq_answer_published(question_id: int) -> int:
    from sourcing.rfqs import rfq_email_answer_published

    return rfq_email_answer_published(question_id=question_id)


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def notify_quote_received(quote_id: int) -> bool:
    from sourcing.quotes import quote_email_received

    return quote_email_received(quote_id=quote_id)


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def notify_question_asked(question_id: int) -> bool:
    from sourcing.quotes import question_email_asked

    return question_email_asked(question_id=question_id)
