"""Invoices against purchase orders and the 3-way match (PO vs receipt vs invoice).

An invoice is recorded with its lines (quantity and unit price per PO line) and matched at
once, per line and in total, within tolerances per vendor and category:

- the currency is the PO's;
- each unit price is at most the PO's price plus the price tolerance;
- the quantity invoiced so far (this invoice and the earlier ones not rejected) is at most
  what was received plus the quantity tolerance, and never above what was ordered plus it;
- the printed total is the sum of the lines, within 0.01;
- the amount invoiced so far is at most the PO's lines plus their price tolerance.

No difference: the invoice is MATCHED. Otherwise it is ON_HOLD with its reasons and finance
is emailed; a later receipt re-matches it (a hold for "nothing received yet" clears), and
finance may release it (with a reason) or reject it. A matched or released invoice becomes
spend in analytics in the same transaction: one spend line per invoice line, under the
vendor (its payee mapped to it), the PO line's category, the request's department and the
PO's contract.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django_fsm import ConcurrentTransition, TransitionNotAllowed

from analytics.models import Payee, SpendCategory, SpendDepartment, SpendSource
from analytics.payees import PayeeResolver, payee_map_to_vendor
from analytics.scope import spend_may_import
from analytics.services import LineInput, spend_lines_add, spend_source_get_or_create
from procurement.errors import Conflict, InvalidInput, NotAllowed, NotFound
from procurement.models import Category, Department, Role, User
from procurement.money import CENT
from procurement.outbox import enqueue
from procurement.services import audit_record, email_send_once
from sourcing.access import may_resolve_invoices, may_source
from sourcing.models import (
    Invoice,
    InvoiceLine,
    InvoiceState,
    MatchTolerance,
    PoState,
    PurchaseOrder,
    ReceiptLine,
)
from sourcing.order_selectors import po_may_see
from sourcing.orders import (
    PRICE_LIMIT,
    QUANTITY_LIMIT,
    TOTAL_LIMIT,
    line_amount,
    money_text,
    percent_text,
    po_issued_on,
    positive_decimal_errors,
    quantity_text,
)
from vendors.models import Vendor

logger = logging.getLogger(__name__)

SPEND_SOURCE_NAME = "Purchase orders"
INVOICEABLE_PO_STATES = [
    PoState.ISSUED,
    PoState.ACKNOWLEDGED,
    PoState.PARTIALLY_RECEIVED,
    PoState.RECEIVED,
]
REASON_MAX_CHARS = 5000
# A matched or released invoice line becomes a spend line, whose amount column holds less
# than this (analytics SpendLine.amount, max_digits=14, 2 places): a larger line would be a
# 500 when it is counted, so it is refused when it is recorded.
LINE_AMOUNT_LIMIT = Decimal(10) ** 12
TOTAL_SLACK = Decimal("0.01")
TENTH = Decimal("0.1")


def quantity_field(line_id: int) -> str:
    return f"quantity_{line_id}"


def unit_price_field(line_id: int) -> str:
    return f"unit_price_{line_id}"


@dataclass(frozen=True)
class HoldReason:
    """One difference the 3-way match found. `code`: currency, price, not_received,
    over_received, over_ordered, total, over_po_total. `line_id`: the PO line, if any."""

    code: str
    message: str
    line_id: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"line_id": self.line_id, "code": self.code, "message": self.message}


# --- Tolerances ----------------------------------------------------------------------------


def _pk(value: Any) -> int | None:
    return value if value is None or isinstance(value, int) else value.pk


def tolerance_for(vendor: Vendor | int, category: Category | int | None) -> tuple[Decimal, Decimal]:
    """(price percent, quantity percent) an invoice may differ by: the MatchTolerance of the
    vendor and category, else of the vendor, else of the category, else the
    INVOICE_PRICE_TOLERANCE_PERCENT / INVOICE_QUANTITY_TOLERANCE_PERCENT settings."""
    vendor_id, category_id = _pk(vendor), _pk(category)
    rows = {
        (row.vendor_id, row.category_id): row
        for row in MatchTolerance.objects.filter(
            Q(vendor_id=vendor_id, category_id=category_id)
            | Q(vendor_id=vendor_id, category__isnull=True)
            | Q(vendor__isnull=True, category_id=category_id)
        )
    }
    for key in ((vendor_id, category_id), (vendor_id, None), (None, category_id)):
        row = rows.get(key)
        if row is not None:
            return row.price_percent, row.quantity_percent
    return (
        Decimal(str(settings.INVOICE_PRICE_TOLERANCE_PERCENT)),
        Decimal(str(settings.INVOICE_QUANTITY_TOLERANCE_PERCENT)),
    )


def _plus(value: Decimal, percent: Decimal) -> Decimal:
    return value * (1 + percent / 100)


# --- The 3-way match -----------------------------------------------------------------------


def invoice_match(invoice: Invoice) -> list[HoldReason]:
    """What keeps `invoice` from matching its PO and receipts; empty when it matches. Reads
    only (the caller holds the PO's lock, so receipts and other invoices cannot move)."""
    po = invoice.po
    po_lines = list(po.lines.order_by("position", "id"))
    number_of = {line.pk: index for index, line in enumerate(po_lines, start=1)}
    lines = list(invoice.lines.select_related("po_line"))
    received: dict[int, Decimal] = {}
    for line_id, quantity in ReceiptLine.objects.filter(po_line__po=po).values_list(
        "po_line_id", "quantity"
    ):
        received[line_id] = received.get(line_id, Decimal(0)) + quantity
    earlier_quantity: dict[int, Decimal] = {}
    earlier_amount = Decimal(0)
    earlier = (
        InvoiceLine.objects.filter(po_line__po=po, invoice_id__lt=invoice.pk)
        .exclude(invoice__state=InvoiceState.REJECTED)
        .values_list("po_line_id", "quantity", "unit_price", "invoice__currency")
    )
    for line_id, quantity, unit_price, currency in earlier:
        earlier_quantity[line_id] = earlier_quantity.get(line_id, Decimal(0)) + quantity
        if currency == po.currency:
            earlier_amount += line_amount(quantity, unit_price)
    tolerances = {line.pk: tolerance_for(po.vendor_id, line.category_id) for line in po_lines}

    reasons: list[HoldReason] = []
    same_currency = invoice.currency == po.currency
    if not same_currency:
        reasons.append(
            HoldReason(
                "currency",
                f"Invoiced in {invoice.currency}, ordered in {po.currency}: the prices cannot "
                "be compared.",
            )
        )
    for line in lines:
        po_line = line.po_line
        label = f"Line {number_of[po_line.pk]}"
        price_percent, quantity_percent = tolerances[po_line.pk]
        if same_currency and line.unit_price > _plus(po_line.unit_price, price_percent):
            above = ((line.unit_price - po_line.unit_price) / po_line.unit_price * 100).quantize(
                TENTH, rounding=ROUND_HALF_UP
            )
            reasons.append(
                HoldReason(
                    "price",
                    f"{label}: invoiced at {money_text(line.unit_price)}, ordered at "
                    f"{money_text(po_line.unit_price)}: {above}% above, tolerance "
                    f"{percent_text(price_percent)}%",
                    po_line.pk,
                )
            )
        invoiced = earlier_quantity.get(po_line.pk, Decimal(0)) + line.quantity
        got = received.get(po_line.pk, Decimal(0))
        so_far = "" if invoiced == line.quantity else " in all"
        if invoiced > _plus(po_line.quantity, quantity_percent):
            reasons.append(
                HoldReason(
                    "over_ordered",
                    f"{label}: {quantity_text(invoiced)} invoiced{so_far}, "
                    f"{quantity_text(po_line.quantity)} ordered, tolerance "
                    f"{percent_text(quantity_percent)}%",
                    po_line.pk,
                )
            )
        elif got == 0:
            reasons.append(
                HoldReason(
                    "not_received",
                    f"{label}: not yet received ({quantity_text(invoiced)} invoiced{so_far})",
                    po_line.pk,
                )
            )
        elif invoiced > _plus(got, quantity_percent):
            reasons.append(
                HoldReason(
                    "over_received",
                    f"{label}: {quantity_text(invoiced)} invoiced{so_far}, "
                    f"{quantity_text(got)} received, tolerance {percent_text(quantity_percent)}%",
                    po_line.pk,
                )
            )
    lines_sum = sum((line_amount(line.quantity, line.unit_price) for line in lines), Decimal(0))
    if abs(invoice.total - lines_sum) > TOTAL_SLACK:
        reasons.append(
            HoldReason(
                "total",
                f"The invoice total {money_text(invoice.total)} is not the sum of its lines, "
                f"{money_text(lines_sum)}",
            )
        )
    if same_currency:
        allowed = sum(
            (
                _plus(line_amount(line.quantity, line.unit_price), tolerances[line.pk][0])
                for line in po_lines
            ),
            Decimal(0),
        ).quantize(CENT, rounding=ROUND_HALF_UP)
        invoiced_amount = earlier_amount + lines_sum
        if invoiced_amount > allowed:
            reasons.append(
                HoldReason(
                    "over_po_total",
                    f"{money_text(invoiced_amount)} {po.currency} invoiced against {po.number}"
                    f"{' in all' if earlier_amount else ''}, above its total "
                    f"{money_text(po.total)} plus tolerance ({money_text(allowed)})",
                )
            )
    return reasons


# --- Recording -----------------------------------------------------------------------------


def _check_recorder(by: User) -> None:
    if not (may_source(by) or may_resolve_invoices(by)):
        raise NotAllowed("Only procurement and finance can record invoices.")


def _lock_po_of_invoice(invoice_id: int) -> tuple[PurchaseOrder, Invoice]:
    # The PO first, always: receipts and invoices of a PO serialise on its row.
    po_id = Invoice.objects.filter(pk=invoice_id).values_list("po_id", flat=True).first()
    if po_id is None:
        raise NotFound("No such invoice.")
    po = PurchaseOrder.objects.select_for_update().get(pk=po_id)
    invoice = Invoice.objects.select_for_update().get(pk=invoice_id)
    return po, invoice


def invoice_record(
    *,
    po_id: int,
    by: User,
    number: str,
    invoice_date: dt.date,
    currency: str,
    total: Decimal,
    lines: Mapping[int, tuple[Decimal, Decimal]],
) -> Invoice:
    """Record a vendor's invoice against a PO and match it three ways.

    Procurement or finance (403). `lines` maps PO line ids to (quantity, unit price), each
    above 0 (400 naming `quantity_<id>` / `unit_price_<id>`); the number must be new for the
    vendor (400 on `number`), the date not before the PO was issued (400 on
    `invoice_date`) and each line's amount below LINE_AMOUNT_LIMIT (it becomes spend); the PO
    must have been issued and not closed or cancelled (409). In one transaction, with the PO locked: the invoice and its lines, the match,
    then MATCHED (and its spend lines in analytics) or ON_HOLD with its reasons (finance
    emailed on commit), and the audit entry on the PO. Nothing is written on any error.
    """
    _check_recorder(by)
    number = " ".join((number or "").replace("\x00", "").split())
    currency = (currency or "").strip().upper()
    errors: dict[str, list[str]] = {}
    if not number:
        errors["number"] = ["Enter the vendor's invoice number."]
    elif len(number) > 60:
        errors["number"] = ["At most 60 characters."]
    if not isinstance(invoice_date, dt.date):
        errors["invoice_date"] = ["Enter the date printed on the invoice."]
    elif invoice_date > timezone.localdate():
        errors["invoice_date"] = ["The invoice date cannot be in the future."]
    if len(currency) != 3 or not currency.isascii() or not currency.isalpha():
        errors["currency"] = ["Enter a three-letter currency code, e.g. GBP."]
    total_errors = positive_decimal_errors(total, decimals=2, limit=TOTAL_LIMIT, what="total")
    if total_errors:
        errors["total"] = total_errors
    if not lines:
        errors["lines"] = ["Enter the quantity and unit price of at least one line."]
    with transaction.atomic():
        po = PurchaseOrder.objects.select_for_update().filter(pk=po_id).first()
        if po is None or not po_may_see(by, po):
            raise NotFound("No such purchase order.")
        if po.state not in INVOICEABLE_PO_STATES:
            raise Conflict(
                f"{po.number} is {po.get_state_display().lower()}: no invoice can be recorded "
                "against it."
            )
        issued_on = po_issued_on(po)
        if "invoice_date" not in errors and issued_on is not None and invoice_date < issued_on:
            # An invoice for an order not yet placed, or a typo ("0001-01-01") that would
            # become spend in a year nobody looks at.
            errors["invoice_date"] = [
                f"{po.number} was issued on {issued_on:%d %b %Y}: an invoice against it cannot "
                "be dated earlier."
            ]
        po_line_ids = set(po.lines.values_list("pk", flat=True))
        for line_id, pair in lines.items():
            if line_id not in po_line_ids:
                errors[quantity_field(line_id)] = [f"Not a line of {po.number}."]
                continue
            quantity, unit_price = pair
            quantity_errors = positive_decimal_errors(
                quantity, decimals=3, limit=QUANTITY_LIMIT, what="quantity"
            )
            price_errors = positive_decimal_errors(
                unit_price, decimals=2, limit=PRICE_LIMIT, what="unit price"
            )
            if quantity_errors:
                errors[quantity_field(line_id)] = quantity_errors
            if price_errors:
                errors[unit_price_field(line_id)] = price_errors
            if (
                not quantity_errors
                and not price_errors
                and line_amount(Decimal(quantity), Decimal(unit_price)) >= LINE_AMOUNT_LIMIT
            ):
                errors[unit_price_field(line_id)] = [
                    "The line's amount (quantity x unit price) is too large to record."
                ]
        if number and "number" not in errors:
            duplicate = (
                Invoice.objects.filter(vendor_id=po.vendor_id, number__iexact=number)
                .select_related("po")
                .first()
            )
            if duplicate is not None:
                errors["number"] = [_duplicate_message(po, duplicate)]
        if errors:
            first = next(iter(errors.values()))[0]
            raise InvalidInput(f"The invoice was not recorded: {first}", fields=errors)
        try:
            with transaction.atomic():
                invoice = Invoice.objects.create(
                    po=po,
                    vendor_id=po.vendor_id,
                    number=number,
                    invoice_date=invoice_date,
                    currency=currency,
                    total=Decimal(total),
                    recorded_by=by,
                )
        except IntegrityError:
            # The same number recorded at the same moment by someone else.
            raise InvalidInput(
                f"The invoice was not recorded: {po.vendor.legal_name} already has invoice {number}.",
                fields={"number": [f"{po.vendor.legal_name} already has invoice {number}."]},
            ) from None
        InvoiceLine.objects.bulk_create(
            InvoiceLine(
                invoice=invoice,
                po_line_id=line_id,
                quantity=Decimal(quantity),
                unit_price=Decimal(unit_price),
            )
            for line_id, (quantity, unit_price) in lines.items()
        )
        reasons = invoice_match(invoice)
        if reasons:
            invoice.hold()
            invoice.hold_reasons = [reason.as_dict() for reason in reasons]
            invoice.save()
            audit_record(
                target=po,
                actor=by,
                action="invoice_held",
                to_state=invoice.state,
                comment=f"Invoice {number}, {money_text(invoice.total)} {currency}: "
                + "; ".join(reason.message for reason in reasons),
            )
            invoice_id = invoice.pk
            from sourcing.order_tasks import notify_invoice_on_hold

            enqueue(notify_invoice_on_hold, invoice_id)
        else:
            invoice.match()
            invoice.save()
            _spend_record(invoice=invoice, po=po, by=by)
            audit_record(
                target=po,
                actor=by,
                action="invoice_matched",
                to_state=invoice.state,
                comment=f"Invoice {number}, {money_text(invoice.total)} {currency}.",
            )
    logger.info("invoice %s on %s: %s", invoice.pk, po.number, invoice.state)
    return invoice


def _duplicate_message(po: PurchaseOrder, duplicate: Invoice) -> str:
    when = timezone.localtime(duplicate.recorded_at)
    return (
        f"{po.vendor.legal_name} already has invoice {duplicate.number} "
        f"(recorded on {when:%d %b %Y} against {duplicate.po.number})."
    )


# --- Re-match, release, reject ---------------------------------------------------------------


def invoice_rematch_locked(*, invoice: Invoice, po: PurchaseOrder, by: User | None) -> bool:
    """Match a held invoice again (the caller holds the PO's and the invoice's locks, in its
    transaction). Matched: the spend is recorded. Still different: its reasons are updated.
    Returns whether it matched."""
    reasons = invoice_match(invoice)
    if not reasons:
        invoice.match()
        invoice.hold_reasons = []
        _save(invoice)
        _spend_record(invoice=invoice, po=po, by=by)
        audit_record(
            target=po,
            actor=by,
            action="invoice_rematched",
            from_state=InvoiceState.ON_HOLD,
            to_state=invoice.state,
            comment=f"Invoice {invoice.number} now matches.",
        )
        return True
    fresh = [reason.as_dict() for reason in reasons]
    if fresh != invoice.hold_reasons:
        invoice.hold_reasons = fresh
        _save(invoice)
        audit_record(
            target=po,
            actor=by,
            action="invoice_still_held",
            comment=f"Invoice {invoice.number} still on hold: "
            + "; ".join(reason.message for reason in reasons),
        )
    return False


def invoice_rematch(*, invoice_id: int, by: User | None = None) -> Invoice:
    """Run the 3-way match of a held invoice again (procurement or finance; `by` None for
    the system). Locks the PO and the invoice; 409 unless it is on hold."""
    if by is not None:
        _check_recorder(by)
    with transaction.atomic():
        po, invoice = _lock_po_of_invoice(invoice_id)
        if invoice.state != InvoiceState.ON_HOLD:
            raise Conflict(
                f"Invoice {invoice.number} is {invoice.get_state_display().lower()}: only an "
                "invoice on hold is matched again."
            )
        invoice_rematch_locked(invoice=invoice, po=po, by=by)
    return invoice


def _resolve(*, invoice_id: int, by: User, reason: str, action: str) -> Invoice:
    if not may_resolve_invoices(by):
        raise NotAllowed("Only finance can release or reject invoices on hold.")
    reason = (reason or "").replace("\x00", "").strip()
    if not reason:
        raise InvalidInput(
            f"Say why the invoice is {action}d: it is kept in the order's history.",
            fields={"reason": ["This field is required."]},
        )
    if len(reason) > REASON_MAX_CHARS:
        raise InvalidInput(
            "The reason is too long.",
            fields={"reason": [f"At most {REASON_MAX_CHARS} characters."]},
        )
    with transaction.atomic():
        po, invoice = _lock_po_of_invoice(invoice_id)
        if action == "release" and invoice.recorded_by_id == by.pk:
            # Four eyes: whoever typed the invoice in does not also let its differences pass.
            raise NotAllowed(
                f"You recorded invoice {invoice.number}: someone else in finance must decide "
                "whether to release it."
            )
        from_state = invoice.state
        try:
            getattr(invoice, action)()
        except TransitionNotAllowed:
            raise Conflict(
                f"Invoice {invoice.number} is {invoice.get_state_display().lower()}: only an "
                f"invoice on hold can be {action}d."
            ) from None
        invoice.resolved_by = by
        invoice.resolution = reason
        _save(invoice)
        if action == "release":
            _spend_record(invoice=invoice, po=po, by=by)
        audit_record(
            target=po,
            actor=by,
            action=f"invoice_{action}d",
            from_state=from_state,
            to_state=invoice.state,
            comment=f"Invoice {invoice.number}: {reason}",
        )
    return invoice


def invoice_release(*, invoice_id: int, by: User, reason: str) -> Invoice:
    """Finance releases a held invoice for payment despite its differences (reason
    required): it becomes spend in the same transaction. 409 unless on hold; 403 for the
    person who recorded it (someone else decides)."""
    return _resolve(invoice_id=invoice_id, by=by, reason=reason, action="release")


def invoice_reject(*, invoice_id: int, by: User, reason: str) -> Invoice:
    """Finance rejects a held invoice (reason required); it no longer counts towards what
    was invoiced. 409 unless on hold."""
    return _resolve(invoice_id=invoice_id, by=by, reason=reason, action="reject")


def _save(invoice: Invoice) -> None:
    try:
        invoice.save()
    except ConcurrentTransition:
        raise Conflict(
            f"Invoice {invoice.number} was changed by someone else; reload and try again."
        ) from None


# --- Spend -----------------------------------------------------------------------------------


def _spend_key(name: str) -> str:
    # How analytics keys a category or department name (analytics.services._NameResolver).
    return " ".join(name.casefold().split())


def _spend_category_name(category: Category) -> str:
    """The spend category our lines are filed under, mapped to `category` so the dashboards'
    category filter finds them (created mapped if new; mapped if it was not yet)."""
    row, _ = SpendCategory.objects.get_or_create(
        key=_spend_key(category.name), defaults={"name": category.name, "category": category}
    )
    if row.category_id is None:
        SpendCategory.objects.filter(pk=row.pk).update(category=category)
    return category.name


def _spend_department_name(department: Department) -> str:
    row, _ = SpendDepartment.objects.get_or_create(
        key=_spend_key(department.name),
        defaults={"name": department.name, "department": department},
    )
    if row.department_id is None:
        SpendDepartment.objects.filter(pk=row.pk).update(department=department)
    return department.name


def _payee_map(*, vendor: Vendor, supplier: str, people: list[User | None]) -> None:
    """Make sure the payee the spend lands under is mapped to `vendor`.

    A new payee named exactly as the vendor is matched to it by the resolver. One that
    exists without a vendor is mapped through analytics' own `payee_map_to_vendor` (by the
    first of `people` allowed to map payees), which re-links that payee's earlier lines with
    the rollups kept exact; it runs before our lines are added, so they keep the PO's
    contract. A payee mapped to another vendor is left alone (a person must decide), and
    logged.
    """
    payee_id = PayeeResolver().resolve([supplier])[supplier]
    payee = Payee.objects.get(pk=payee_id)
    if payee.vendor_id == vendor.pk:
        return
    if payee.vendor_id is not None:
        logger.warning(
            "payee %s is mapped to vendor %s, not %s: spend left under it",
            payee.pk,
            payee.vendor_id,
            vendor.pk,
        )
        return
    mapper = next(
        (person for person in people if person is not None and spend_may_import(person)), None
    )
    if mapper is None:
        logger.warning("payee %s not mapped to vendor %s: nobody may map it", payee.pk, vendor.pk)
        return
    payee_map_to_vendor(payee=payee, vendor=vendor, user=mapper)


def _spend_source() -> SpendSource:
    source = spend_source_get_or_create(name=SPEND_SOURCE_NAME)
    if source.kind != SpendSource.Kind.PLATFORM:
        SpendSource.objects.filter(pk=source.pk).update(kind=SpendSource.Kind.PLATFORM)
    return source


def _spend_record(*, invoice: Invoice, po: PurchaseOrder, by: User | None) -> None:
    """Write the invoice's lines to the spend ledger (in the caller's transaction) and set
    spend_recorded_at. Idempotent: each line's identity is its id, and a second call for
    the same invoice adds nothing. A missing exchange rate is a 400 and rolls it all back."""
    if invoice.spend_recorded_at is not None:
        return
    vendor = Vendor.objects.get(pk=po.vendor_id)
    department = Department.objects.get(pk=po.request.department_id)
    supplier = " ".join(vendor.legal_name.split())
    recorder = User.objects.filter(pk=invoice.recorded_by_id).first()
    _payee_map(vendor=vendor, supplier=supplier, people=[by, recorder])
    department_name = _spend_department_name(department)
    lines = []
    for line in invoice.lines.select_related("po_line__category").order_by(
        "po_line__position", "po_line_id"
    ):
        lines.append(
            LineInput(
                date=invoice.invoice_date,
                amount=line_amount(line.quantity, line.unit_price),
                currency=invoice.currency,
                supplier=supplier,
                reference=f"{po.number}/{invoice.number}",
                identity=f"invoice-line-{line.pk}",
                category=_spend_category_name(line.po_line.category),
                department=department_name,
                description=line.po_line.description,
                quantity=line.quantity,
                contract_id=po.contract_id,
            )
        )
    batch = spend_lines_add(
        source=_spend_source(),
        lines=lines,
        label=f"Invoice {invoice.number} on {po.number}",
        user=by,
    )
    if batch.rows_bad:
        raise InvalidInput(
            f"There is no exchange rate from {invoice.currency} to {settings.BASE_CURRENCY} "
            f"for {invoice.invoice_date:%d %b %Y}, so invoice {invoice.number} cannot be "
            "counted as spend. Ask finance to add the rate, then try again.",
            fields={"currency": [f"No exchange rate for {invoice.currency}."]},
        )
    invoice.spend_recorded_at = timezone.now()
    Invoice.objects.filter(pk=invoice.pk).update(spend_recorded_at=invoice.spend_recorded_at)


# --- Email -----------------------------------------------------------------------------------


def invoice_email_on_hold(*, invoice_id: int) -> int:
    """Email every active finance person (but whoever recorded it) that an invoice is on
    hold, with the reasons; once per person. Returns how many were sent."""
    invoice = (
        Invoice.objects.select_related("po", "vendor", "recorded_by").filter(pk=invoice_id).first()
    )
    if invoice is None or invoice.state != InvoiceState.ON_HOLD:
        return 0
    people = (
        User.objects.filter(is_active=True, roles__role=Role.FINANCE)
        .exclude(pk=invoice.recorded_by_id)
        .exclude(email="")
        .distinct()
        .order_by("username")
    )
    sent = 0
    for person in people:
        sent += email_send_once(
            key=f"invoice-on-hold:{invoice.pk}:{person.pk}",
            to=person.email,
            template="invoice_on_hold",
            context={
                "invoice": invoice,
                "po": invoice.po,
                "reasons": [reason["message"] for reason in invoice.hold_reasons],
                "person": person,
                "url": settings.SITE_URL + reverse("orders:detail", args=[invoice.po_id]),
                "queue_url": settings.SITE_URL + reverse("orders:on-hold"),
            },
        )
    return sent
