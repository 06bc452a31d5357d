"""Sourcing's panel on the purchase request's page (registered from SourcingConfig.ready()):
the purchase orders that order it."""

from __future__ import annotations

from typing import Any

from procurement.models import User
from requests.models import PurchaseRequest, RequestState
from sourcing.access import may_see_sourcing
from sourcing.order_selectors import purchase_orders_of_request


def purchase_orders_panel(
    request: PurchaseRequest, user: User
) -> tuple[str, dict[str, Any]] | None:
    """For whoever may open the orders: sourcing roles, and the requester (who records
    receipts). A draft never submitted has none (an order needs an award, an award an RFQ, an
    RFQ a submitted request): no query then."""
    if request.submitted_at is None and request.state == RequestState.DRAFT:
        return None
    if request.requester_id != user.pk and not may_see_sourcing(user):
        return None
    orders = purchase_orders_of_request(request_id=request.pk)
    if not orders:
        return None
    return ("sourcing/orders/_request_orders.html", {"orders": orders})
