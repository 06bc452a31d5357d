"""Receipts: what arrived against a purchase order, in full or in part, who recorded it and
when. A receipt moves the PO to partially received or received, the request to received
when its order is in, and re-matches the PO's held invoices (a hold for "nothing received
yet" clears once the goods are in)."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from decimal import Decimal

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from procurement.errors import Conflict, InvalidInput, NotAllowed, NotFound
from procurement.models import User
from procurement.services import audit_record
from requests.models import PurchaseRequest, RequestState
from requests.services import purchase_request_apply
from sourcing.access import may_receive
from sourcing.models import (
    RECEIVABLE_PO_STATES,
    Invoice,
    InvoiceState,
    PoState,
    PurchaseOrder,
    Receipt,
    ReceiptLine,
)
from sourcing.order_selectors import po_may_see
from sourcing.orders import QUANTITY_LIMIT, po_issued_on, positive_decimal_errors, quantity_text

logger = logging.getLogger(__name__)

NOTE_MAX_CHARS = 5000


def quantity_field(line_id: int) -> str:
    """The field a line's quantity is named by: in the form, the API and error `fields`."""
    return f"quantity_{line_id}"


def receipt_record(
    *,
    po_id: int,
    by: User,
    received_on: dt.date,
    lines: Mapping[int, Decimal],
    note: str = "",
) -> Receipt:
    """Record what arrived: `lines` maps PO line ids to the quantity received.

    The request's requester or procurement (403); the PO must be issued, acknowledged or
    partially received (409). Each quantity must be above 0 and at most what is still to be
    received ("Only 1 of 2 is still to be received.", on `quantity_<line id>`), and the
    date not in the future nor before the PO was issued (on `received_on`); every error
    is reported at once and nothing is written when any line fails. In one transaction,
    with the PO locked: the receipt and its lines, the PO's move to partially received or
    received, the audit entry, the request's move to received when all its orders are in,
    and a re-match of the PO's held invoices.
    """
    note = (note or "").replace("\x00", "").strip()
    errors: dict[str, list[str]] = {}
    if len(note) > NOTE_MAX_CHARS:
        errors["note"] = [f"At most {NOTE_MAX_CHARS} characters."]
    if not isinstance(received_on, dt.date):
        errors["received_on"] = ["Enter the date the goods arrived."]
    elif received_on > timezone.localdate():
        errors["received_on"] = ["The date cannot be in the future."]
    with transaction.atomic():
        po = PurchaseOrder.objects.select_for_update().filter(pk=po_id).first()
        if po is None or not po_may_see(by, po):
            raise NotFound("No such purchase order.")
        request = PurchaseRequest.objects.get(pk=po.request_id)
        if not may_receive(by, po):
            raise NotAllowed(
                f"Only {request.requester} (who asked for it) or procurement can record "
                f"what arrived for {po.number}."
            )
        if po.state not in RECEIVABLE_PO_STATES:
            raise Conflict(
                f"{po.number} is {po.get_state_display().lower()}: nothing can be received "
                "against it now."
            )
        issued_on = po_issued_on(po)
        if "received_on" not in errors and issued_on is not None and received_on < issued_on:
            # A typo ("1900-01-01"), or a date moved back to make a late delivery look on
            # time: the vendor's past-performance score reads these dates.
            errors["received_on"] = [
                f"{po.number} was issued on {issued_on:%d %b %Y}: goods received against it "
                "cannot have arrived earlier."
            ]
        po_lines = {line.pk: line for line in po.lines.all()}
        received = dict(
            ReceiptLine.objects.filter(po_line__po=po)
            .values("po_line_id")
            .annotate(total=Sum("quantity"))
            .order_by()
            .values_list("po_line_id", "total")
        )
        wanted: dict[int, Decimal] = {}
        for line_id, quantity in lines.items():
            field = quantity_field(line_id)
            if line_id not in po_lines:
                errors[field] = [f"Not a line of {po.number}."]
                continue
            problems = positive_decimal_errors(
                quantity, decimals=3, limit=QUANTITY_LIMIT, what="quantity received"
            )
            if problems:
                errors[field] = problems
                continue
            quantity = Decimal(quantity)
            ordered = po_lines[line_id].quantity
            left = ordered - received.get(line_id, Decimal(0))
            if quantity > left:
                errors[field] = [
                    f"Only {quantity_text(left)} of {quantity_text(ordered)} is still to be received."
                    if left > 0
                    else f"All {quantity_text(ordered)} were received already."
                ]
                continue
            wanted[line_id] = quantity
        if not lines:
            errors["lines"] = ["Enter the quantity received of at least one line."]
        if errors:
            first_field, messages = next(iter(errors.items()))
            line_id_text = first_field.removeprefix("quantity_")
            where = (
                f"“{po_lines[int(line_id_text)].description}”: "
                if line_id_text.isdigit() and int(line_id_text) in po_lines
                else ""
            )
            raise InvalidInput(f"Nothing was recorded. {where}{messages[0]}", fields=errors)
        receipt = Receipt.objects.create(po=po, received_by=by, received_on=received_on, note=note)
        ReceiptLine.objects.bulk_create(
            ReceiptLine(receipt=receipt, po_line_id=line_id, quantity=quantity)
            for line_id, quantity in wanted.items()
        )
        for line_id, quantity in wanted.items():
            received[line_id] = received.get(line_id, Decimal(0)) + quantity
        in_full = all(
            received.get(pk, Decimal(0)) >= line.quantity for pk, line in po_lines.items()
        )
        from_state = po.state
        if in_full:
            po.receive_all()
        else:
            po.receive_part()
        po.save()
        audit_record(
            target=po,
            actor=by,
            action="received",
            from_state=from_state,
            to_state=po.state,
            comment=(
                f"Received on {received_on:%d %b %Y}: "
                + "; ".join(
                    f"{quantity_text(quantity)} x {po_lines[line_id].description}"
                    for line_id, quantity in wanted.items()
                )
                + (f". {note}" if note else "")
            ),
        )
        if in_full:
            _request_mark_received(request_id=po.request_id, by=by, po=po)
        _rematch_held_invoices(po=po, by=by)
    logger.info("receipt %s on %s by %s", receipt.pk, po.number, by.username)
    return receipt


def _request_mark_received(*, request_id: int, by: User, po: PurchaseOrder) -> None:
    """The request moves from ordered to received once every order of it is in."""
    request = PurchaseRequest.objects.select_for_update().get(pk=request_id)
    if request.state != RequestState.ORDERED:
        return
    still_open = (
        PurchaseOrder.objects.filter(request_id=request_id)
        .exclude(pk=po.pk)
        .exclude(state__in=[PoState.RECEIVED, PoState.CLOSED, PoState.CANCELLED])
        .exists()
    )
    if still_open:
        return
    purchase_request_apply(
        request=request, by=by, action="receive", comment=f"{po.number} received in full."
    )


def _rematch_held_invoices(*, po: PurchaseOrder, by: User) -> None:
    from sourcing.invoices import invoice_rematch_locked

    for invoice in (
        Invoice.objects.select_for_update()
        .filter(po=po, state=InvoiceState.ON_HOLD)
        .order_by("recorded_at", "id")
    ):
        invoice_rematch_locked(invoice=invoice, po=po, by=by)
