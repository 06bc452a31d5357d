"""Test data for sourcing, built straight from the models so that each part's tests (RFQs,
evaluation, orders) can start where the part before leaves off without going through it.
The services of each part are tested through their own entry points."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.utils import timezone

from approvals.models import ApprovalStep
from approvals.services import approval_step_decide
from approvals.tests.helpers import LINE_MANAGER, policy, submitted
from procurement.models import Category
from requests.models import PurchaseRequest
from sourcing.models import (
    Award,
    Billing,
    Criterion,
    CriterionKind,
    Invitation,
    Quote,
    QuoteLine,
    Rfq,
    RfqLine,
    RfqState,
)
from sourcing.pricing import PricedLine, tco
from tests.factories import vendor_approved, vendor_create

DEFAULT_CRITERIA = [
    (CriterionKind.TCO, "Total cost of ownership", Decimal("50")),
    (CriterionKind.DELIVERY, "Delivery time", Decimal("20")),
    (CriterionKind.RISK, "Vendor risk tier", Decimal("15")),
    (CriterionKind.PERFORMANCE, "Past performance", Decimal("10")),
    (CriterionKind.CUSTOM, "Quality of the proposal", Decimal("5")),
]


def approved_request(org: Any, **fields: Any) -> PurchaseRequest:
    """org.requester's request for 2 laptops at 1,250.00 GBP (one line per total_lines),
    approved by Mark, the line manager, through the real approval route."""
    policy(LINE_MANAGER)
    request = submitted(org, **fields)
    step = ApprovalStep.objects.get(request=request)
    approval_step_decide(step_id=step.pk, by=org.manager, action="approve")
    return PurchaseRequest.objects.get(pk=request.pk)


def vendor(org: Any, name: str, *, approved: bool = True) -> Any:
    if approved:
        return vendor_approved(by=org.procurement, legal_name=name)
    return vendor_create(by=org.procurement, legal_name=name)


def make_rfq(
    org: Any,
    *,
    request: PurchaseRequest | None = None,
    state: str = RfqState.OPEN,
    deadline: dt.datetime | None = None,
    term_months: int = 12,
    lines: list[tuple[str, str, str, str]] | None = None,
    criteria: list[tuple[str, str, Decimal]] | None = None,
    target: str | None = "2300.00",
    walk_away: str | None = "2600.00",
) -> Rfq:
    """An RFQ in `state` (default open, deadline in 7 days) with `lines` as
    (description, quantity, billing, category code) and the default criteria."""
    request = request or approved_request(org)
    rfq = Rfq.objects.create(
        request=request,
        title=request.title,
        currency="GBP",
        deadline=deadline or timezone.now() + dt.timedelta(days=7),
        term_months=term_months,
        target_price=Decimal(target) if target else None,
        walk_away_price=Decimal(walk_away) if walk_away else None,
        prices_set_at=timezone.now() if target and walk_away else None,
        created_by=org.procurement,
        opened_at=timezone.now() if state != RfqState.DRAFT else None,
    )
    Rfq.objects.filter(pk=rfq.pk).update(state=state)
    rfq.refresh_from_db()
    for position, (description, quantity, billing, code) in enumerate(
        lines or [("Laptop, 14 inch", "2", Billing.ONE_OFF, "hardware")]
    ):
        RfqLine.objects.create(
            rfq=rfq,
            position=position,
            description=description,
            quantity=Decimal(quantity),
            billing=billing,
            category=Category.objects.get(code=code),
        )
    for position, (kind, name, weight) in enumerate(criteria or DEFAULT_CRITERIA):
        Criterion.objects.create(rfq=rfq, position=position, kind=kind, name=name, weight=weight)
    return rfq


def invite(org: Any, rfq: Rfq, vendor_record: Any, *, email: str = "") -> Invitation:
    slug = vendor_record.legal_name.split()[0].lower()
    return Invitation.objects.create(
        rfq=rfq,
        vendor=vendor_record,
        contact_name=f"{vendor_record.legal_name} sales",
        contact_email=email or f"sales@{slug}.example",
        is_prospect=vendor_record.state != "approved",
        invited_by=org.procurement,
    )


def make_quote(
    invitation: Invitation,
    prices: list[str],
    *,
    delivery_days: int = 10,
    implementation: str = "0",
    support_per_year: str = "0",
    in_reply_to: Any = None,
) -> Quote:
    """A quote (the next revision; the one before is superseded) with one unit price per
    RFQ line, in the RFQ's currency, its totals computed as the service computes them."""
    rfq = invitation.rfq
    rfq_lines = list(rfq.lines.order_by("position", "id"))
    assert len(prices) == len(rfq_lines)
    computed = tco(
        lines=[
            PricedLine(line.quantity, Decimal(price), line.billing)
            for line, price in zip(rfq_lines, prices, strict=True)
        ],
        implementation_cost=Decimal(implementation),
        support_cost_per_year=Decimal(support_per_year),
        term_months=rfq.term_months,
    )
    previous = invitation.quotes.filter(superseded_at__isnull=True).first()
    if previous:
        previous.superseded_at = timezone.now()
        previous.save(update_fields=["superseded_at"])
    quote = Quote.objects.create(
        invitation=invitation,
        revision=(previous.revision + 1) if previous else 1,
        in_reply_to=in_reply_to,
        currency=rfq.currency,
        delivery_days=delivery_days,
        valid_until=timezone.localdate() + dt.timedelta(days=60),
        implementation_cost=Decimal(implementation),
        support_cost_per_year=Decimal(support_per_year),
        lines_total=computed.lines_total,
        tco=computed.total,
        tco_in_rfq_currency=computed.total,
    )
    for line, price in zip(rfq_lines, prices, strict=True):
        QuoteLine.objects.create(quote=quote, rfq_line=line, unit_price=Decimal(price))
    return quote


def closed_rfq_with_two_quotes(org: Any) -> tuple[Rfq, Quote, Quote]:
    """Northwind quotes 1,150.00 a laptop (10 days), Contoso 1,200.00 (5 days); the RFQ is
    closed (deadline passed), target 2,300.00 and walk-away 2,600.00 set."""
    rfq = make_rfq(org)
    northwind = make_quote(invite(org, rfq, vendor(org, "Northwind Hardware Ltd")), ["1150.00"])
    contoso = make_quote(
        invite(org, rfq, vendor(org, "Contoso Devices Ltd")), ["1200.00"], delivery_days=5
    )
    Rfq.objects.filter(pk=rfq.pk).update(
        state=RfqState.CLOSED,
        deadline=timezone.now() - dt.timedelta(minutes=1),
        closed_at=timezone.now(),
    )
    rfq.refresh_from_db()
    return rfq, northwind, contoso


def make_award(org: Any, rfq: Rfq, quote: Quote, *, rank: int = 1) -> Award:
    """An approved award of `quote` (no extra approval), the RFQ marked awarded."""
    award = Award.objects.create(
        rfq=rfq,
        quote=quote,
        justification="" if rank == 1 else "Faster delivery.",
        rank=rank,
        score=Decimal("80"),
        awarded_by=org.procurement,
    )
    Rfq.objects.filter(pk=rfq.pk).update(state=RfqState.AWARDED)
    rfq.refresh_from_db()
    return award


# --- Orders (helper C) ----------------------------------------------------------------------


def awarded_po(org: Any) -> Any:
    """A draft PO for Northwind's approved award (2 laptops at 1,150.00 GBP, delivery in 10
    days), created by org.procurement through sourcing.orders.po_create_from_award."""
    from sourcing.orders import po_create_from_award

    rfq, northwind, _contoso = closed_rfq_with_two_quotes(org)
    award = make_award(org, rfq, northwind)
    return po_create_from_award(award_id=award.pk, by=org.procurement)


def issued_po(org: Any) -> Any:
    """awarded_po, issued by org.procurement (its email is queued on commit, not sent)."""
    from sourcing.orders import po_issue

    return po_issue(po_id=awarded_po(org).pk, by=org.procurement)
