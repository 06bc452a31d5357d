"""Purchase orders: created from an approved award, issued to the vendor by email with a PDF,
acknowledged through a signed link, changed by change orders, cancelled or closed.

Every service here checks who may act, locks the rows it changes (`select_for_update`),
moves states only through the models' django-fsm transitions, writes its audit entry in the
same transaction and queues emails in it (`procurement.outbox.enqueue`). Errors are
`procurement.errors` (InvalidInput 400, NotAllowed 403, NotFound 404, Conflict 409).

PO numbers ("PO-2026-000001") come from one `PoNumberSequence` row per year, locked in the
transaction that creates the PO: unique and gap-free, since a creation that rolls back rolls
its number back with it.

The vendor's acknowledgement link carries the PO id and its `link_nonce`, signed with
SECRET_KEY under its own salt; it works for PO_LINK_DAYS.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.core import signing
from django.db import IntegrityError, transaction
from django.db.models import Max, Sum
from django.urls import reverse
from django.utils import timezone
from django_fsm import ConcurrentTransition, TransitionNotAllowed

from approvals.services import active_policy
from procurement.errors import Conflict, InvalidInput, NotAllowed, NotFound
from procurement.models import Category, Role, User
from procurement.money import CENT
from procurement.outbox import enqueue
from procurement.permissions import allowed
from procurement.services import audit_record, email_send_once
from requests.models import PurchaseRequest, RequestState
from requests.services import purchase_request_apply
from sourcing.access import may_source
from sourcing.models import (
    CHANGEABLE_PO_STATES,
    Award,
    AwardState,
    ChangeOrder,
    ChangeOrderState,
    PoLine,
    PoNumberSequence,
    PoState,
    PurchaseOrder,
    ReceiptLine,
)
from sourcing.order_selectors import po_may_see
from vendors.models import LIVE_CONTRACT_STATES, Contract, Vendor

logger = logging.getLogger(__name__)

LINK_SALT = "sourcing.po-link.v1"
PO_LINK_DAYS = 90
REASON_MAX_CHARS = 5000
# PoLine.quantity is max_digits=12, decimal_places=3; unit_price 14/2; PO total 16/2.
QUANTITY_LIMIT = Decimal(10) ** 9
PRICE_LIMIT = Decimal(10) ** 12
TOTAL_LIMIT = Decimal(10) ** 14
# A change order may also happen once part of the order is in, as long as no line goes
# below what was received.
CHANGE_ORDER_PO_STATES = [*CHANGEABLE_PO_STATES, PoState.PARTIALLY_RECEIVED]
# After the PO was sent, a change is sent again (the vendor must know the new version).
SENT_PO_STATES = [PoState.ISSUED, PoState.ACKNOWLEDGED, PoState.PARTIALLY_RECEIVED]


# --- Formatting shared by the messages of orders, receipts and invoices ----------------------


def money_text(value: Decimal) -> str:
    """1300 -> "1,300.00": how amounts read in messages and emails."""
    return f"{value.quantize(CENT, rounding=ROUND_HALF_UP):,.2f}"


def quantity_text(value: Decimal) -> str:
    """Decimal("2.000") -> "2", Decimal("1.500") -> "1.5"."""
    return f"{value.normalize():f}"


def percent_text(value: Decimal) -> str:
    """Decimal("2.00") -> "2", Decimal("2.50") -> "2.5"."""
    return f"{value.normalize():f}"


def line_amount(quantity: Decimal, unit_price: Decimal) -> Decimal:
    return (quantity * unit_price).quantize(CENT, rounding=ROUND_HALF_UP)


def po_issued_on(po: PurchaseOrder) -> dt.date | None:
    """The day the PO was issued (None before): nothing can be received or invoiced against
    it earlier. Either calendar of the moment counts, local or UTC, so a date typed just
    after midnight is not refused for a difference of time zones."""
    if po.issued_at is None:
        return None
    return min(timezone.localdate(po.issued_at), po.issued_at.astimezone(dt.UTC).date())


# --- Numbers -------------------------------------------------------------------------------


def _next_po_number(year: int) -> tuple[str, int]:
    """The next number of `year`, taken under a lock on the year's sequence row.

    Must run inside the transaction that creates the PO: the lock is held until it commits,
    so a second creation waits (PostgreSQL) and then reads the incremented counter; a
    creation that rolls back rolls the counter back too, so numbers have no gaps.
    """
    # The row must exist before it can be locked; two first POs of a year may both try to
    # create it, and get_or_create falls back to reading the winner's row.
    PoNumberSequence.objects.get_or_create(year=year)
    sequence = PoNumberSequence.objects.select_for_update().get(year=year)
    sequence.last_number += 1
    sequence.save(update_fields=["last_number"])
    return f"PO-{year}-{sequence.last_number:06d}", sequence.last_number


# --- Creating from an award --------------------------------------------------------------


def vendor_unorderable_message(vendor: Vendor) -> str:
    return f"{vendor.legal_name} is {vendor.get_state_display().lower()}: no order can be placed with it."


def _require_orderable(vendor_id: int) -> Vendor:
    # Read fresh: the vendor may have been blocked since the PO's row was loaded.
    vendor = Vendor.objects.get(pk=vendor_id)
    if not vendor.orderable:
        raise Conflict(vendor_unorderable_message(vendor))
    return vendor


def contract_live_for(*, vendor_id: int, on: dt.date) -> Contract | None:
    """The vendor's live contract (active or expiring) whose dates cover `on`, if any."""
    return (
        Contract.objects.filter(
            vendor_id=vendor_id,
            state__in=LIVE_CONTRACT_STATES,
            start_date__lte=on,
            end_date__gte=on,
        )
        .order_by("-start_date", "-id")
        .first()
    )


def po_create_from_award(*, award_id: int, by: User) -> PurchaseOrder:
    """A draft PO for an approved award, its lines copied from the awarded quote.

    Atomic (joins the caller's transaction, e.g. the award's): locks the award, refuses an
    award not approved or that already has a PO (409) and a blocked or offboarded vendor
    (409), allocates the year's next number under the sequence row's lock, writes the PO,
    its lines and an audit entry. Procurement may create it, and so may the person who just
    approved the award (the walk-away approver). Sends nothing: issuing does.
    """
    with transaction.atomic():
        award = (
            Award.objects.select_for_update(of=("self",))
            .select_related("quote__invitation", "rfq__request")
            .filter(pk=award_id)
            .first()
        )
        if award is None:
            raise NotFound("No such award.")
        if not (may_source(by) or (by.is_authenticated and award.decided_by_id == by.pk)):
            raise NotAllowed("Only procurement can create purchase orders.")
        if award.state != AwardState.APPROVED:
            raise Conflict(
                f"The award of {award.rfq.reference} is {award.get_state_display().lower()}: "
                "a purchase order needs an approved award."
            )
        existing = PurchaseOrder.objects.filter(award=award).first()
        if existing is not None:
            raise Conflict(f"The award of {award.rfq.reference} already has {existing.number}.")
        quote = award.quote
        invitation = quote.invitation
        vendor = _require_orderable(invitation.vendor_id)
        today = timezone.localdate()
        quote_lines = list(quote.lines.select_related("rfq_line").order_by("rfq_line__position"))
        total = sum(
            (line_amount(line.rfq_line.quantity, line.unit_price) for line in quote_lines),
            Decimal(0),
        )
        contract = contract_live_for(vendor_id=vendor.pk, on=today)
        number, sequence = _next_po_number(today.year)
        try:
            po = PurchaseOrder.objects.create(
                number=number,
                year=today.year,
                sequence=sequence,
                award=award,
                request=award.rfq.request,
                vendor=vendor,
                contract=contract,
                contact_email=invitation.contact_email,
                currency=quote.currency,
                total=total,
                approved_total=total,
                delivery_date=today + dt.timedelta(days=quote.delivery_days),
                terms=quote.terms,
                created_by=by,
            )
        except IntegrityError:
            # The award's one-to-one: a PO was created for it at the same moment.
            raise Conflict(f"The award of {award.rfq.reference} already has a PO.") from None
        PoLine.objects.bulk_create(
            PoLine(
                po=po,
                position=position,
                rfq_line=line.rfq_line,
                description=line.rfq_line.description,
                category_id=line.rfq_line.category_id,
                quantity=line.rfq_line.quantity,
                unit=line.rfq_line.unit,
                unit_price=line.unit_price,
            )
            for position, line in enumerate(quote_lines)
        )
        audit_record(
            target=po,
            actor=by,
            action="created",
            to_state=po.state,
            comment=(
                f"{number} for {vendor.legal_name} from the award of {award.rfq.reference}, "
                f"{money_text(total)} {po.currency}"
                + (f", under contract “{contract.title}”" if contract else "")
            ),
        )
    logger.info("%s created from award %s by %s", number, award_id, by.username)
    return po


# --- Locking helpers -------------------------------------------------------------------------


def _lock_po(po_id: int) -> PurchaseOrder:
    po = PurchaseOrder.objects.select_for_update().filter(pk=po_id).first()
    if po is None:
        raise NotFound("No such purchase order.")
    return po


def _save_transition(po: PurchaseOrder) -> None:
    try:
        po.save()
    except ConcurrentTransition:
        raise Conflict(
            f"{po.number} was changed by someone else at the same time; reload and try again."
        ) from None


def _fire(po: PurchaseOrder, method_name: str, *, verb: str) -> str:
    """Fire a PO transition; a state that does not allow it is a 409 saying why."""
    from_state = po.state
    try:
        getattr(po, method_name)()
    except TransitionNotAllowed:
        raise Conflict(
            f"{po.number} is {po.get_state_display().lower()}: it cannot be {verb} now."
        ) from None
    return from_state


def _reason(reason: str, *, field: str = "reason", what: str = "a reason") -> str:
    reason = (reason or "").replace("\x00", "").strip()
    if not reason:
        raise InvalidInput(
            f"Give {what}: it is kept in the order's history.",
            fields={field: ["This field is required."]},
        )
    if len(reason) > REASON_MAX_CHARS:
        raise InvalidInput(
            "The text is too long.", fields={field: [f"At most {REASON_MAX_CHARS} characters."]}
        )
    return reason


# --- Issue ---------------------------------------------------------------------------------


def _request_mark_ordered(*, request_id: int, by: User, po: PurchaseOrder) -> None:
    """Move the request to ORDERED if it is APPROVED, through requests' own service."""
    request = PurchaseRequest.objects.select_for_update().get(pk=request_id)
    if request.state != RequestState.APPROVED:
        return
    meta = request.mark_ordered._django_fsm
    if not meta.conditions_met(request, request.state):
        # The request names another vendor, now blocked; this PO goes to an orderable one.
        # requests' rule ("nothing is ordered from a blocked vendor") refuses the move, so
        # the request stays approved and procurement marks it by hand if they wish.
        logger.warning(
            "%s issued but %s not marked ordered: its own vendor is not orderable",
            po.number,
            request.reference,
        )
        return
    purchase_request_apply(
        request=request,
        by=by,
        action="order",
        comment=f"{po.number} issued to {po.vendor.legal_name}.",
    )


def po_issue(*, po_id: int, by: User) -> PurchaseOrder:
    """Issue a draft PO: the vendor is emailed the PO as a PDF with the acknowledgement link.

    Procurement only (403). Locks the PO; refuses any state but draft (409) and a vendor
    blocked or offboarded since the award (409). In one transaction: the transition, the
    audit entry and the request's move from approved to ordered. The email is queued on
    commit, keyed by the PO's version (a change order's new version is sent again).
    """
    if not may_source(by):
        raise NotAllowed("Only procurement can issue purchase orders.")
    with transaction.atomic():
        po = _lock_po(po_id)
        _require_orderable(po.vendor_id)
        from_state = _fire(po, "issue", verb="issued")
        _save_transition(po)
        audit_record(
            target=po,
            actor=by,
            action="issued",
            from_state=from_state,
            to_state=po.state,
            comment=f"Sent to {po.contact_email} (version {po.version}).",
        )
        _request_mark_ordered(request_id=po.request_id, by=by, po=po)
        _queue_po_email(po)
    logger.info("%s issued by %s", po.number, by.username)
    return po


def _queue_po_email(po: PurchaseOrder) -> None:
    from sourcing.order_tasks import send_purchase_order

    enqueue(send_purchase_order, po.pk, po.version)


# --- The vendor's link -----------------------------------------------------------------------


def po_link_token(po: PurchaseOrder) -> str:
    return signing.dumps({"p": po.pk, "n": po.link_nonce.hex}, salt=LINK_SALT, compress=True)


def po_link_url(po: PurchaseOrder) -> str:
    """The absolute address (under SITE_URL) where the vendor reads and acknowledges the PO."""
    return settings.SITE_URL + reverse("po_portal:po", args=[po_link_token(po)])


class PoLinkDead(Conflict):
    """A PO link that shows nothing now. `reason`: invalid (tampered with, cut short or
    unknown: 404), expired, replaced or cancelled (410). `po` is set only for genuine links."""

    code = "link_dead"

    def __init__(
        self, message: str, *, reason: str, status: int, po: PurchaseOrder | None = None
    ) -> None:
        super().__init__(message)
        self.reason = reason
        self.status = status
        self.po = po


def _link_invalid() -> PoLinkDead:
    return PoLinkDead(
        "This link was changed or cut short: it is not one we sent.", reason="invalid", status=404
    )


def _token_contents(token: str, *, max_age: int | None) -> tuple[int, str]:
    data = signing.loads(token, salt=LINK_SALT, max_age=max_age)
    if not isinstance(data, dict):
        raise ValueError("not a PO link")
    return int(data["p"]), str(data["n"])


def po_from_token(token: str) -> PurchaseOrder:
    """The PO a live link shows, or PoLinkDead saying why not. Reads only."""
    signature_expired = False
    try:
        po_id, nonce = _token_contents(token, max_age=PO_LINK_DAYS * 24 * 3600)
    except signing.SignatureExpired:
        signature_expired = True
        try:
            po_id, nonce = _token_contents(token, max_age=None)
        except (signing.BadSignature, KeyError, TypeError, ValueError):
            raise _link_invalid() from None
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        raise _link_invalid() from None
    po = (
        PurchaseOrder.objects.select_related("vendor", "created_by", "contract")
        .filter(pk=po_id)
        .first()
    )
    # A draft was never sent: a link to it cannot be one of ours.
    if po is None or po.state == PoState.DRAFT:
        raise _link_invalid()
    if po.state == PoState.CANCELLED:
        raise PoLinkDead(
            f"Purchase order {po.number} was cancelled; please do not deliver it.",
            reason="cancelled",
            status=410,
            po=po,
        )
    if nonce != po.link_nonce.hex:
        raise PoLinkDead(
            "A newer link was sent for this purchase order: use the one in the latest email.",
            reason="replaced",
            status=410,
            po=po,
        )
    if signature_expired:
        raise PoLinkDead(
            "This link has expired. Ask your contact for the purchase order again.",
            reason="expired",
            status=410,
            po=po,
        )
    return po


def po_acknowledge_by_token(*, token: str) -> PurchaseOrder:
    """The vendor acknowledges the PO through its link: issued -> acknowledged.

    Checks the link (PoLinkDead), locks the PO, writes the audit entry (no user: the vendor).
    A second click is a 409 saying when it was acknowledged.
    """
    po = po_from_token(token)
    with transaction.atomic():
        po = _lock_po(po.pk)
        if po.acknowledged_at is not None:
            when = timezone.localtime(po.acknowledged_at)
            raise Conflict(f"{po.number} was already acknowledged on {when:%d %B %Y at %H:%M}.")
        from_state = _fire(po, "acknowledge", verb="acknowledged")
        _save_transition(po)
        audit_record(
            target=po,
            actor=None,
            action="acknowledged",
            from_state=from_state,
            to_state=po.state,
            comment=f"Acknowledged by the vendor (version {po.version}).",
        )
    logger.info("%s acknowledged by the vendor", po.number)
    return po


# --- Cancel and close ----------------------------------------------------------------------


def po_cancel(*, po_id: int, by: User, reason: str) -> PurchaseOrder:
    """Cancel a PO nothing was received against (procurement; a reason is required).

    Locks the PO; 409 once anything was received or in a state that cannot be cancelled. A
    change order awaiting approval is refused with it. The vendor's link then says the order
    was cancelled.
    """
    if not may_source(by):
        raise NotAllowed("Only procurement can cancel purchase orders.")
    reason = _reason(reason)
    with transaction.atomic():
        po = _lock_po(po_id)
        if ReceiptLine.objects.filter(po_line__po=po).exists():
            raise Conflict(
                f"Goods were already received against {po.number}: it cannot be cancelled. "
                "Change the order to what was delivered, or close it."
            )
        from_state = _fire(po, "cancel", verb="cancelled")
        po.state_reason = reason
        _save_transition(po)
        for change in ChangeOrder.objects.select_for_update().filter(
            po=po, state=ChangeOrderState.PENDING_APPROVAL
        ):
            change.refuse()
            change.decided_by = by
            change.decision_comment = f"{po.number} was cancelled."
            change.save()
        audit_record(
            target=po,
            actor=by,
            action="cancelled",
            from_state=from_state,
            to_state=po.state,
            comment=reason,
        )
    return po


def po_close(*, po_id: int, by: User) -> PurchaseOrder:
    """Close a PO received in full whose invoices are all settled (matched, released or
    rejected: none on hold). Procurement only; locks the PO; 409 otherwise, naming what is
    still open."""
    from sourcing.models import InvoiceState

    if not may_source(by):
        raise NotAllowed("Only procurement can close purchase orders.")
    with transaction.atomic():
        po = _lock_po(po_id)
        if po.state != PoState.RECEIVED:
            raise Conflict(
                f"{po.number} is {po.get_state_display().lower()}: only an order received in "
                "full can be closed."
            )
        open_invoices = list(
            po.invoices.filter(state__in=[InvoiceState.RECORDED, InvoiceState.ON_HOLD]).values_list(
                "number", flat=True
            )
        )
        if open_invoices:
            raise Conflict(
                f"{po.number} cannot be closed while invoice{'s' if len(open_invoices) > 1 else ''} "
                f"{', '.join(open_invoices)} {'are' if len(open_invoices) > 1 else 'is'} on hold: "
                "finance must release or reject them first."
            )
        from_state = _fire(po, "close", verb="closed")
        _save_transition(po)
        audit_record(target=po, actor=by, action="closed", from_state=from_state, to_state=po.state)
    return po


# --- Change orders ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ChangeLineInput:
    """One line of the PO as it should be after the change; `line_id` None adds a line."""

    description: str
    category_id: int
    quantity: Decimal
    unit_price: Decimal
    unit: str = "each"
    line_id: int | None = None


def positive_decimal_errors(value: Any, *, decimals: int, limit: Decimal, what: str) -> list[str]:
    """What is wrong with a quantity or price (positive, bounded, at most `decimals`)."""
    try:
        number = Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        return [f"Enter a number for the {what}."]
    if not number.is_finite():
        return [f"Enter a number for the {what}."]
    if number <= 0:
        return [f"Enter a {what} above 0."]
    if number >= limit:
        return [f"The {what} is too large."]
    if number != number.quantize(Decimal(1).scaleb(-decimals)):
        return [f"At most {decimals} decimal places."]
    return []


def _received_by_line(po: PurchaseOrder) -> dict[int, Decimal]:
    return {
        row["po_line_id"]: row["total"]
        for row in ReceiptLine.objects.filter(po_line__po=po)
        .values("po_line_id")
        .annotate(total=Sum("quantity"))
        .order_by()
    }


def _change_lines_check(
    po: PurchaseOrder, lines: Sequence[ChangeLineInput]
) -> tuple[list[dict[str, Any]], Decimal]:
    """The lines as stored on the change order, and the new total; InvalidInput naming
    every bad field (`lines[i].quantity`...) otherwise."""
    errors: dict[str, list[str]] = {}
    current = {line.pk: line for line in po.lines.all()}
    received = _received_by_line(po)
    invoiced_ids = set(
        po.lines.filter(invoice_lines__isnull=False).values_list("pk", flat=True).distinct()
    )
    if not lines:
        raise InvalidInput(
            "Keep at least one line: to call the whole order off, cancel the PO.",
            fields={"lines": ["Keep at least one line."]},
        )
    category_ids = {
        pk for pk in Category.objects.filter(is_active=True).values_list("pk", flat=True)
    }
    stored: list[dict[str, Any]] = []
    seen: set[int] = set()
    total = Decimal(0)
    for index, line in enumerate(lines):
        key = f"lines[{index}]"
        description = " ".join((line.description or "").replace("\x00", "").split())
        unit = (line.unit or "each").strip()[:20] or "each"
        if line.line_id is not None:
            if line.line_id not in current:
                errors[f"{key}.line_id"] = [f"Not a line of {po.number}."]
            elif line.line_id in seen:
                errors[f"{key}.line_id"] = ["This line is listed twice."]
            seen.add(line.line_id)
        if not description:
            errors[f"{key}.description"] = ["Describe the line."]
        elif len(description) > 300:
            errors[f"{key}.description"] = ["At most 300 characters."]
        if line.category_id not in category_ids:
            errors[f"{key}.category"] = ["Choose a category."]
        quantity_errors = positive_decimal_errors(
            line.quantity, decimals=3, limit=QUANTITY_LIMIT, what="quantity"
        )
        price_errors = positive_decimal_errors(
            line.unit_price, decimals=2, limit=PRICE_LIMIT, what="unit price"
        )
        if quantity_errors:
            errors[f"{key}.quantity"] = quantity_errors
        if price_errors:
            errors[f"{key}.unit_price"] = price_errors
        if quantity_errors or price_errors:
            continue
        quantity = Decimal(line.quantity)
        unit_price = Decimal(line.unit_price)
        already = received.get(line.line_id or 0, Decimal(0))
        if line.line_id in current and quantity < already:
            errors[f"{key}.quantity"] = [
                f"{quantity_text(already)} already received: the quantity cannot go below it."
            ]
        total += line_amount(quantity, unit_price)
        stored.append(
            {
                "line_id": line.line_id,
                "description": description,
                "category_id": line.category_id,
                "quantity": str(quantity),
                "unit": unit,
                "unit_price": str(unit_price),
            }
        )
    for line_id, po_line in current.items():
        if line_id in seen:
            continue
        if line_id in received or line_id in invoiced_ids:
            errors.setdefault("lines", []).append(
                f"“{po_line.description}” was received or invoiced: it cannot be removed."
            )
    if not errors and total >= TOTAL_LIMIT:
        errors["lines"] = ["The new total is too large."]
    if errors:
        first = next(iter(errors.values()))[0]
        raise InvalidInput(f"The change cannot be made: {first}", fields=errors)
    unchanged = len(stored) == len(current) and all(
        entry["line_id"] in current and _same_line(current[entry["line_id"]], entry)
        for entry in stored
    )
    if unchanged:
        raise InvalidInput(
            "This changes nothing on the order.",
            fields={"lines": ["Change a quantity, a price or a line."]},
        )
    return stored, total


def _same_line(line: PoLine, entry: dict[str, Any]) -> bool:
    return (
        line.description == entry["description"]
        and line.category_id == entry["category_id"]
        and line.quantity == Decimal(entry["quantity"])
        and line.unit == entry["unit"]
        and line.unit_price == Decimal(entry["unit_price"])
    )


def _change_apply(po: PurchaseOrder, change: ChangeOrder) -> None:
    """Replace the PO's lines by the change's (PO locked by the caller). Re-checks what was
    received since the change was asked for (409 if a line would go below it)."""
    current = {line.pk: line for line in po.lines.all()}
    received = _received_by_line(po)
    keep = {entry["line_id"] for entry in change.lines if entry["line_id"] is not None}
    for entry in change.lines:
        line_id = entry["line_id"]
        if line_id is not None and line_id not in current:
            raise Conflict(f"A line this change edits is no longer on {po.number}.")
        if line_id is not None and Decimal(entry["quantity"]) < received.get(line_id, 0):
            raise Conflict(
                f"Since this change was asked for, {quantity_text(received[line_id])} of "
                f"“{current[line_id].description}” were received: refuse it and ask again."
            )
    removed = [pk for pk in current if pk not in keep]
    if (
        any(pk in received for pk in removed)
        or PoLine.objects.filter(pk__in=removed, invoice_lines__isnull=False).exists()
    ):
        raise Conflict(
            "A line this change removes was received or invoiced since: refuse it and ask again."
        )
    PoLine.objects.filter(pk__in=removed).delete()
    for position, entry in enumerate(change.lines):
        values = {
            "position": position,
            "description": entry["description"],
            "category_id": entry["category_id"],
            "quantity": Decimal(entry["quantity"]),
            "unit": entry["unit"],
            "unit_price": Decimal(entry["unit_price"]),
        }
        if entry["line_id"] is None:
            PoLine.objects.create(po=po, **values)
        else:
            PoLine.objects.filter(pk=entry["line_id"]).update(**values)
    po.total = change.new_total
    po.version += 1
    po.save(update_fields=["total", "version"])


def _change_summary(po: PurchaseOrder, change: ChangeOrder) -> str:
    return (
        f"Change {change.number}: {money_text(change.old_total)} -> "
        f"{money_text(change.new_total)} {po.currency}. {change.reason}"
    )


def change_order_tolerance_limit(po: PurchaseOrder) -> Decimal:
    """The largest total a change may reach without re-approval: the approved total plus
    PO_CHANGE_TOLERANCE_PERCENT of it."""
    percent = Decimal(settings.PO_CHANGE_TOLERANCE_PERCENT)
    return (po.approved_total * (1 + percent / 100)).quantize(CENT, rounding=ROUND_HALF_UP)


def change_order_request(
    *, po_id: int, by: User, lines: list[ChangeLineInput], reason: str
) -> ChangeOrder:
    """Ask to change a PO's lines; applied at once within the tolerance, else sent for
    re-approval.

    Procurement only. Locks the PO; 409 when the PO cannot change (received in full,
    closed, cancelled) or a change already awaits approval. Validates every line (400
    naming `lines[i].field`), never below what was received. Up to the approved total plus
    PO_CHANGE_TOLERANCE_PERCENT, the change is applied in the same transaction (lines
    replaced, total, version + 1) and, if the PO was sent, re-sent on commit. Beyond it, it
    waits for a holder of the active policy's `change_order_approver_role`, each emailed on
    commit. Audit entry in both cases.
    """
    if not may_source(by):
        raise NotAllowed("Only procurement can change purchase orders.")
    reason = _reason(reason, what="the reason for the change")
    with transaction.atomic():
        po = _lock_po(po_id)
        if po.state not in CHANGE_ORDER_PO_STATES:
            raise Conflict(
                f"{po.number} is {po.get_state_display().lower()}: it can no longer be changed."
            )
        pending = po.change_orders.filter(state=ChangeOrderState.PENDING_APPROVAL).first()
        if pending is not None:
            raise Conflict(
                f"Change {pending.number} to {po.number} is still awaiting approval: "
                "wait for the decision before asking for another."
            )
        stored, new_total = _change_lines_check(po, lines)
        number = (po.change_orders.aggregate(last=Max("number"))["last"] or 0) + 1
        policy = active_policy()
        within = new_total <= change_order_tolerance_limit(po)
        change = ChangeOrder.objects.create(
            po=po,
            number=number,
            reason=reason,
            lines=stored,
            old_total=po.total,
            new_total=new_total,
            approver_role=""
            if within
            else (policy.change_order_approver_role if policy else Role.FINANCE),
            requested_by=by,
        )
        if within:
            change.apply()
            change.save()
            _change_apply(po, change)
            audit_record(
                target=po,
                actor=by,
                action="change_applied",
                comment=_change_summary(po, change) + " (within the tolerance)",
            )
            if po.state in SENT_PO_STATES:
                _queue_po_email(po)
        else:
            audit_record(
                target=po,
                actor=by,
                action="change_requested",
                comment=_change_summary(po, change)
                + f" (above {money_text(change_order_tolerance_limit(po))}: needs "
                f"{change.get_approver_role_display().lower()} approval)",
            )
            change_id = change.pk
            from sourcing.order_tasks import notify_change_order_approvers

            enqueue(notify_change_order_approvers, change_id)
    return change


CHANGE_DECISIONS = ("approve", "refuse")


def change_order_decide(
    *, change_order_id: int, by: User, action: str, comment: str = ""
) -> ChangeOrder:
    """Approve (apply) or refuse a change awaiting re-approval.

    Someone who may not see the PO gets a 404, as if it did not exist; `by` must hold the
    change's approver role and not have asked for it (403). Locks the PO
    and the change; 409 if it was decided already or the PO can no longer change. Approving
    applies the lines, makes the new total the approved one, bumps the version and re-sends
    a sent PO on commit; refusing (a comment required) leaves the PO as it was.
    """
    if action not in CHANGE_DECISIONS:
        raise InvalidInput(
            f"Unknown action {action!r}.", fields={"action": ["Choose approve or refuse."]}
        )
    comment = (comment or "").replace("\x00", "").strip()
    if action == "refuse" and not comment:
        raise InvalidInput(
            "Say why the change is refused: procurement reads it.",
            fields={"comment": ["This field is required."]},
        )
    if len(comment) > REASON_MAX_CHARS:
        raise InvalidInput(
            "The comment is too long.",
            fields={"comment": [f"At most {REASON_MAX_CHARS} characters."]},
        )
    with transaction.atomic():
        found = ChangeOrder.objects.filter(pk=change_order_id).values_list("po_id", flat=True)
        po_id = found.first()
        if po_id is None:
            raise NotFound("No such change order.")
        po = _lock_po(po_id)
        change = ChangeOrder.objects.select_for_update().get(pk=change_order_id)
        if not po_may_see(by, po):
            # Someone who may not see the order learns nothing of it, not even that it exists.
            raise NotFound("No such change order.")
        if not allowed(by, "sourcing.decide_changeorder", change):
            raise NotAllowed(
                "Only someone with the "
                f"{change.get_approver_role_display().lower() or 'approver'} role, other than "
                "the person who asked for it, can decide this change."
            )
        if change.state != ChangeOrderState.PENDING_APPROVAL:
            decided = change.decided_by or "someone"
            raise Conflict(
                f"Change {change.number} to {po.number} was already decided by {decided} "
                f"({change.get_state_display().lower()})."
            )
        if action == "approve" and po.state not in CHANGE_ORDER_PO_STATES:
            raise Conflict(
                f"{po.number} is {po.get_state_display().lower()}: it can no longer be changed."
            )
        change.decided_by = by
        change.decision_comment = comment
        if action == "approve":
            change.apply()
            change.save()
            _change_apply(po, change)
            po.approved_total = change.new_total
            po.save(update_fields=["approved_total"])
            audit_record(
                target=po,
                actor=by,
                action="change_approved",
                comment=_change_summary(po, change) + (f" Approval: {comment}" if comment else ""),
            )
            if po.state in SENT_PO_STATES:
                _queue_po_email(po)
        else:
            change.refuse()
            change.save()
            audit_record(
                target=po,
                actor=by,
                action="change_refused",
                comment=f"Change {change.number} refused: {comment}",
            )
    return change


# --- Emails --------------------------------------------------------------------------------


def po_url(po_id: int) -> str:
    return settings.SITE_URL + reverse("orders:detail", args=[po_id])


def organisation() -> dict[str, str]:
    """Who the PO is from: ORGANISATION_NAME / ORGANISATION_ADDRESS if the settings have them."""
    return {
        "name": str(getattr(settings, "ORGANISATION_NAME", "") or "Procurement"),
        "address": str(getattr(settings, "ORGANISATION_ADDRESS", "") or ""),
    }


def po_email_send(*, po_id: int, version: int) -> bool:
    """Email the vendor's contact the PO of `version` as a PDF, with the acknowledgement
    link; once per PO version (a newer version queued meanwhile sends instead)."""
    from sourcing.pdf import po_pdf

    po = (
        PurchaseOrder.objects.select_related("vendor", "contract", "request", "created_by")
        .filter(pk=po_id)
        .first()
    )
    if po is None or po.version != version or po.state not in SENT_PO_STATES:
        return False
    return email_send_once(
        key=f"purchase-order:{po.pk}:v{po.version}",
        to=po.contact_email,
        template="purchase_order",
        context={
            "po": po,
            "lines": [
                {
                    "description": line.description,
                    "quantity": quantity_text(line.quantity),
                    "unit": line.unit,
                    "unit_price": line.unit_price,
                    "amount": line_amount(line.quantity, line.unit_price),
                }
                for line in po.lines.order_by("position", "id")
            ],
            "vendor": po.vendor,
            "url": po_link_url(po),
            "organisation": organisation(),
            "link_days": PO_LINK_DAYS,
        },
        attachments=[(f"{po.number}.pdf", po_pdf(po), "application/pdf")],
    )


def change_order_email_approvers(*, change_order_id: int) -> int:
    """Email every active holder of the change's approver role (but the requester) that it
    awaits their decision; once per person. Returns how many were sent."""
    change = (
        ChangeOrder.objects.select_related("po__vendor", "requested_by")
        .filter(pk=change_order_id)
        .first()
    )
    if change is None or change.state != ChangeOrderState.PENDING_APPROVAL:
        return 0
    people = (
        User.objects.filter(is_active=True, roles__role=change.approver_role)
        .exclude(pk=change.requested_by_id)
        .exclude(email="")
        .distinct()
        .order_by("username")
    )
    sent = 0
    for person in people:
        sent += email_send_once(
            key=f"change-order-approval:{change.pk}:{person.pk}",
            to=person.email,
            template="change_order_approval_needed",
            context={
                "change": change,
                "po": change.po,
                "person": person,
                "limit": change_order_tolerance_limit(change.po),
                "tolerance": settings.PO_CHANGE_TOLERANCE_PERCENT,
                "url": po_url(change.po_id),
            },
        )
    return sent
