"""Builders for the RFQ and quote-portal tests (no tests here): a draft RFQ made through the
service, the vendor's link path, and a quote as the page or the service receives it."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.urls import reverse
from django.utils import timezone

from sourcing.models import Invitation, Rfq
from sourcing.quotes import QuoteInput, invitation_link_token, note_key, price_key
from sourcing.rfqs import rfq_create_from_request
from sourcing.tests.helpers import approved_request


def draft_rfq(org: Any, **request_fields: Any) -> Rfq:
    """A draft RFQ opened by Pat (procurement) from Alice's approved request for 2 laptops."""
    request = approved_request(org, **request_fields)
    return rfq_create_from_request(request_id=request.pk, by=org.procurement)


def portal_path(invitation: Invitation) -> str:
    """The path of the vendor's quote page, as its emailed link has it."""
    return reverse("quote_portal:quote", args=[invitation_link_token(invitation)])


def quote_input(rfq: Rfq, prices: list[str], **fields: Any) -> QuoteInput:
    """A quote in the RFQ's currency with one unit price per line (in line order)."""
    lines = list(rfq.lines.order_by("position", "id"))
    values: dict[str, Any] = {
        "currency": rfq.currency,
        "delivery_days": 10,
        "valid_until": timezone.localdate() + dt.timedelta(days=30),
        # Fewer prices than lines: the rest are left out (a quote missing a line).
        "prices": {line.pk: Decimal(price) for line, price in zip(lines, prices, strict=False)},
    }
    values.update(fields)
    return QuoteInput(**values)


def quote_form(rfq: Rfq, prices: list[str], **fields: Any) -> dict[str, Any]:
    """The quote page's POST for one unit price per line (in line order)."""
    lines = list(rfq.lines.order_by("position", "id"))
    data: dict[str, Any] = {
        "intent": "quote",
        "currency": rfq.currency,
        "delivery_days": "10",
        "valid_until": (timezone.localdate() + dt.timedelta(days=30)).isoformat(),
        "implementation_cost": "0",
        "support_cost_per_year": "0",
        "terms": "30 days net.",
    }
    for line, price in zip(lines, prices, strict=True):
        data[price_key(line.pk)] = price
        data[note_key(line.pk)] = ""
    data.update(fields)
    return data
