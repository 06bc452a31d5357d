"""Side effects of vendors, run by the Celery worker. Thin: load by id, call a service."""

from __future__ import annotations

from celery import shared_task

from vendors import emails


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def notify_bank_details_changed(change_id: int) -> bool:
    return emails.send_bank_details_changed(change_id=change_id)


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def notify_vendor_back_under_review(audit_entry_id: int) -> bool:
    return emails.send_vendor_back_under_review(audit_entry_id=audit_entry_id)


@shared_task
def screen_vendor(vendor_id: int) -> int:
    """Screen one vendor's names against the imported sanctions lists; returns new matches."""
    from vendors.sanctions import vendor_sanctions_screen

    return vendor_sanctions_screen(vendor_id=vendor_id)


@shared_task
def rescreen_all_vendors() -> int:
    """After a sanctions list import: screen every vendor not offboarded again."""
    from vendors.sanctions import vendors_rescreen_all

    return vendors_rescreen_all()


@shared_task
def update_contract_states() -> int:
    """Beat: active contracts entering their notice window become expiring; ended ones expire
    (or renew, when they auto-renew). Returns how many contracts moved."""
    from vendors.contracts import contracts_update_states

    return contracts_update_states()


@shared_task
def send_vendor_reminders() -> int:
    """Beat: contract-owner, vendor-owner and weekly procurement digests that are due."""
    from vendors.reminders import reminders_send_due

    return reminders_send_due()


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def notify_assessment_link(assessment_id: int) -> bool:
    from vendors.assessments import assessment_email_link

    return assessment_email_link(assessment_id=assessment_id)


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def notify_assessment_submitted(assessment_id: int) -> bool:
    from vendors.assessments import assessment_email_submitted

    return assessment_email_submitted(assessment_id=assessment_id)
