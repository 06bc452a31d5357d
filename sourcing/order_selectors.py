"""Reads for purchase orders, receipts and invoices: who sees which PO, the quantities per
line, the actions a person may take, the history, the finance queue of held invoices.

Who sees a PO: whoever may see sourcing (procurement, finance, admins); the requester of
the request it orders (to record receipts); the holders of the approver role of a change
awaiting approval on it. Everybody else gets a 404, as if it did not exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db.models import Q, QuerySet, Sum

from procurement.errors import NotFound
from procurement.models import AuditEntry, User
from procurement.permissions import allowed
from procurement.prepared import PreparedQuery
from sourcing.access import may_receive, may_resolve_invoices, may_see_sourcing, may_source
from sourcing.models import (
    RECEIVABLE_PO_STATES,
    ChangeOrder,
    ChangeOrderState,
    Invoice,
    InvoiceLine,
    InvoiceState,
    PoLine,
    PoState,
    PurchaseOrder,
    ReceiptLine,
)

ZERO = Decimal(0)


def _visible_q(user: User) -> Q:
    return Q(request__requester_id=user.pk) | Q(
        change_orders__state=ChangeOrderState.PENDING_APPROVAL,
        change_orders__approver_role__in=sorted(user.role_set),
    )


def po_may_see(user: User, po: PurchaseOrder) -> bool:
    """sourcing/rules.py: the same people as po_list shows the PO to."""
    return allowed(user, "sourcing.view_purchaseorder", po)


def po_list(*, by: User, state: str = "") -> QuerySet[PurchaseOrder]:
    """The POs `by` may see, newest first, optionally in one state."""
    pos = PurchaseOrder.objects.select_related("vendor", "request")
    if not by.is_authenticated or not by.is_active:
        return pos.none()
    if not may_see_sourcing(by):
        ids = PurchaseOrder.objects.filter(_visible_q(by)).values("pk")
        pos = pos.filter(pk__in=ids)
    if state:
        pos = pos.filter(state=state)
    return pos.order_by("-created_at", "-id")


def po_get(*, by: User, po_id: int) -> PurchaseOrder:
    """The PO if `by` may see it; NotFound (a 404) otherwise, the same as a missing one."""
    po = (
        PurchaseOrder.objects.select_related(
            "vendor", "request__requester", "request__department", "contract", "award__rfq"
        )
        .filter(pk=po_id)
        .first()
    )
    if po is None or not po_may_see(by, po):
        raise NotFound("No such purchase order.")
    return po


@dataclass(frozen=True)
class LineStatus:
    line: PoLine
    received: Decimal
    invoiced: Decimal  # on invoices not rejected

    @property
    def ordered(self) -> Decimal:
        return self.line.quantity

    @property
    def to_receive(self) -> Decimal:
        return max(self.line.quantity - self.received, ZERO)

    @property
    def ordered_text(self) -> str:
        return _quantity(self.line.quantity)

    @property
    def received_text(self) -> str:
        return _quantity(self.received)

    @property
    def invoiced_text(self) -> str:
        return _quantity(self.invoiced)

    @property
    def to_receive_text(self) -> str:
        return _quantity(self.to_receive)

    @property
    def amount(self) -> Decimal:
        from sourcing.orders import line_amount

        return line_amount(self.line.quantity, self.line.unit_price)


def _quantity(value: Decimal) -> str:
    return f"{value.normalize():f}"


def po_line_statuses(po: PurchaseOrder) -> list[LineStatus]:
    """Each line with what was ordered, received and invoiced (invoices not rejected)."""
    received = dict(
        ReceiptLine.objects.filter(po_line__po=po)
        .values("po_line_id")
        .annotate(total=Sum("quantity"))
        .order_by()
        .values_list("po_line_id", "total")
    )
    invoiced = dict(
        InvoiceLine.objects.filter(po_line__po=po)
        .exclude(invoice__state=InvoiceState.REJECTED)
        .values("po_line_id")
        .annotate(total=Sum("quantity"))
        .order_by()
        .values_list("po_line_id", "total")
    )
    return [
        LineStatus(line, received.get(line.pk, ZERO), invoiced.get(line.pk, ZERO))
        for line in po.lines.select_related("category")
    ]


def po_available_actions(*, po: PurchaseOrder, user: User) -> list[str]:
    """What `user` may do to `po` now: issue, cancel, close, change, receive, invoice."""
    actions: list[str] = []
    sourcing = may_source(user)
    if sourcing and po.state == PoState.DRAFT:
        actions.append("issue")
    cancellable = (PoState.DRAFT, PoState.ISSUED, PoState.ACKNOWLEDGED)
    if (
        sourcing
        and po.state in cancellable
        and not ReceiptLine.objects.filter(po_line__po=po).exists()
    ):
        actions.append("cancel")
    if sourcing and po.state == PoState.RECEIVED:
        actions.append("close")
    changeable = (*cancellable, PoState.PARTIALLY_RECEIVED)
    if (
        sourcing
        and po.state in changeable
        and not po.change_orders.filter(state=ChangeOrderState.PENDING_APPROVAL).exists()
    ):
        actions.append("change")
    if po.state in RECEIVABLE_PO_STATES and may_receive(user, po):
        actions.append("receive")
    if (sourcing or may_resolve_invoices(user)) and po.state in (
        PoState.ISSUED,
        PoState.ACKNOWLEDGED,
        PoState.PARTIALLY_RECEIVED,
        PoState.RECEIVED,
    ):
        actions.append("invoice")
    return actions


def po_change_orders(po: PurchaseOrder) -> QuerySet[ChangeOrder]:
    return po.change_orders.select_related("requested_by", "decided_by").order_by("-number")


def po_receipts(po: PurchaseOrder) -> list[Any]:
    return list(
        po.receipts.select_related("received_by")
        .prefetch_related("lines__po_line")
        .order_by("-received_on", "-recorded_at", "-id")
    )


def po_invoices(po: PurchaseOrder) -> QuerySet[Invoice]:
    return (
        po.invoices.select_related("recorded_by", "resolved_by")
        .prefetch_related("lines__po_line")
        .order_by("-recorded_at", "-id")
    )


def invoices_on_hold(*, by: User) -> QuerySet[Invoice]:
    """Finance's queue: every invoice on hold, oldest first (empty for people who may not
    see sourcing)."""
    if not may_see_sourcing(by):
        return Invoice.objects.none()
    return (
        Invoice.objects.filter(state=InvoiceState.ON_HOLD)
        .select_related("po", "vendor", "recorded_by")
        .order_by("recorded_at", "id")
    )


# How the PO's audit actions read in its history.
HISTORY_VERBS = {
    "created": "created the order",
    "issued": "issued it to the vendor",
    "acknowledged": "acknowledged it",
    "cancelled": "cancelled it",
    "closed": "closed it",
    "change_applied": "changed it",
    "change_requested": "asked for a change needing approval",
    "change_approved": "approved a change",
    "change_refused": "refused a change",
    "received": "recorded a receipt",
    "invoice_matched": "recorded an invoice that matched",
    "invoice_held": "recorded an invoice put on hold",
    "invoice_rematched": "matched a held invoice again",
    "invoice_released": "released a held invoice",
    "invoice_rejected": "rejected a held invoice",
}


@dataclass(frozen=True)
class HistoryRow:
    entry: AuditEntry
    verb: str
    comment: str
    from_label: str = ""
    to_label: str = ""


def po_history(po: PurchaseOrder) -> list[HistoryRow]:
    """The PO's audit timeline, oldest first (invoices, receipts and changes are recorded on
    the PO, with the vendor as "the vendor" when it acknowledged through its link)."""
    entries = AuditEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(PurchaseOrder), object_id=po.pk
    ).select_related("actor")
    labels = dict(PoState.choices)
    return [
        HistoryRow(
            entry=entry,
            verb=HISTORY_VERBS.get(entry.action, entry.action.replace("_", " ")),
            comment=entry.comment,
            from_label=str(labels.get(entry.from_state, "")),
            to_label=str(labels.get(entry.to_state, "")),
        )
        for entry in entries.order_by("created_at", "id")
    ]


@dataclass(frozen=True)
class RequestOrder:
    """A purchase order as the page of the request it orders lists it."""

    id: int
    number: str
    vendor: str  # Vendor.__str__: its legal name
    state: str
    state_label: str
    currency: str
    total: Decimal


# Asked on the page of every submitted request: compiled once (procurement/prepared.py), the
# vendor's name joined rather than read per order.
_ORDERS_OF_REQUEST: PreparedQuery[tuple[Any, ...]] = PreparedQuery(
    lambda request_id: PurchaseOrder.objects.filter(request_id=request_id).values_list(
        "id", "number", "vendor__legal_name", "state", "currency", "total"
    )
)


def purchase_orders_of_request(*, request_id: int) -> list[RequestOrder]:
    """The request's purchase orders, newest first. The caller decides who may see them
    (sourcing.panels.purchase_orders_panel: as _visible_q, the requester and sourcing roles)."""
    return [
        RequestOrder(
            id=pk,
            number=number,
            vendor=vendor,
            state=state,
            state_label=PoState(state).label,
            currency=currency,
            total=total,
        )
        for pk, number, vendor, state, currency, total in _ORDERS_OF_REQUEST.list(
            request_id=request_id
        )
    ]
