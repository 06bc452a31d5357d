"""Side effects of orders and invoices, run by the Celery worker. Thin: load by id, call the
function that sends; each send is keyed, so a retried task never sends twice."""

from __future__ import annotations

from celery import shared_task


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def send_purchase_order(po_id: int, version: int) -> bool:
    """Email the vendor the PO of `version` with its PDF and acknowledgement link."""
    from sourcing.orders import po_email_send

    return po_email_send(po_id=po_id, version=version)


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def notify_change_order_approvers(change_order_id: int) -> int:
    """Email the holders of a change order's approver role that it awaits them."""
    from sourcing.orders import change_order_email_approvers

    return change_order_email_approvers(change_order_id=change_order_id)


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def notify_invoice_on_hold(invoice_id: int) -> int:
    """Email finance that an invoice is on hold, with the reasons."""
    from sourcing.invoices import invoice_email_on_hold

    return invoice_email_on_hold(invoice_id=invoice_id)
