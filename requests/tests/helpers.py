"""Builders shared by this app's tests."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.utils import timezone

from procurement.models import Category
from requests.models import PurchaseRequest
from requests.services import LineItemInput, RequestInput, purchase_request_transition
from tests.factories import PurchaseRequestFactory


def request_input(org: Any, **overrides: Any) -> RequestInput:
    values: dict[str, Any] = {
        "title": "Two laptops",
        "justification": "New starters in January.",
        "department": org.department,
        "cost_centre": org.cost_centre,
        "category": Category.objects.get(code="hardware"),
        "needed_by": timezone.localdate() + dt.timedelta(days=14),
        "currency": "GBP",
        "no_objective_reason": "Replaces laptops past their service life",
        "line_items": [
            LineItemInput(
                description="Laptop", quantity=Decimal("2"), unit_price=Decimal("1249.99")
            ),
            LineItemInput(
                description="Dock",
                quantity=Decimal("3"),
                unit_price=Decimal("150.01"),
                unit="each",
                vendor_sku="DK-1",
                vendor_url="https://example.com/dock",
            ),
        ],
    }
    values.update(overrides)
    return RequestInput(**values)


def draft_for(org: Any, **kwargs: Any) -> PurchaseRequest:
    kwargs.setdefault("requester", org.requester)
    if "department" not in kwargs:
        kwargs["department"] = org.department
        kwargs.setdefault("cost_centre", org.cost_centre)
    return PurchaseRequestFactory.create(**kwargs)


def request_in_state(org: Any, state: str) -> PurchaseRequest:
    """A request of org.requester brought to `state` through the real transitions."""
    request = draft_for(org)
    paths = {
        "draft": [],
        "submitted": [("submit", org.requester)],
        "returned": [("submit", org.requester), ("return", org.manager)],
        "approved": [("submit", org.requester), ("approve", org.manager)],
        "rejected": [("submit", org.requester), ("reject", org.manager)],
        "ordered": [
            ("submit", org.requester),
            ("approve", org.manager),
            ("order", org.procurement),
        ],
        "received": [
            ("submit", org.requester),
            ("approve", org.manager),
            ("order", org.procurement),
            ("receive", org.requester),
        ],
        "closed": [
            ("submit", org.requester),
            ("approve", org.manager),
            ("order", org.procurement),
            ("receive", org.requester),
            ("close", org.procurement),
        ],
        "cancelled": [("cancel", org.requester)],
    }
    for action, user in paths[state]:
        request = purchase_request_transition(
            request_id=request.pk, by=user, action=action, comment="because"
        )
    request.refresh_from_db()
    assert request.state == state
    return request
