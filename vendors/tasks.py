"""Side effects of vendors, run by the Celery worker. Thin: load by id, call a service."""

from __future__ import annotations

from celery import shared_task

from vendors import emails


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def notify_bank_details_changed(change_id: int) -> bool:
    return emails.send_bank_details_changed(change_id=change_id)


@shared_task
def screen_vendor(vendor_id: int) -> int:
    """Screen one vendor's names against the imported sanctions lists; returns new matches."""
    from vendors.sanctions import vendor_sanctions_screen

    return vendor_sanctions_screen(vendor_id=vendor_id)
