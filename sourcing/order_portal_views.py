"""The vendor's purchase-order page, opened from the link in the PO email: the order
(read-only) and an "Acknowledge" button. No account: the signed token is the credential,
so the responses are never cached or indexed and never send the address on as a Referer.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from procurement.errors import Conflict
from procurement.secret_links import secret_link_page
from sourcing.models import PoState, PurchaseOrder
from sourcing.order_selectors import po_line_statuses
from sourcing.orders import PoLinkDead, organisation, po_acknowledge_by_token, po_from_token

# The page with the form may not say "no-referrer": browsers then send `Origin: null` with
# its POST, which Django's CSRF check refuses. "strict-origin" still never sends the path.
FORM_REFERRER_POLICY = "strict-origin"


def _dead(request: HttpRequest, error: PoLinkDead) -> HttpResponse:
    return render(
        request,
        "sourcing/po_portal/link_dead.html",
        {"error": error, "po": error.po},
        status=error.status,
    )


def _page(
    request: HttpRequest,
    po: PurchaseOrder,
    *,
    message: str = "",
    message_level: str = "success",
    status: int = 200,
) -> HttpResponse:
    response = render(
        request,
        "sourcing/po_portal/po.html",
        {
            "po": po,
            "statuses": po_line_statuses(po),
            "organisation": organisation(),
            "can_acknowledge": po.state == PoState.ISSUED,
            "message": message,
            "message_level": message_level,
        },
        status=status,
    )
    response["Referrer-Policy"] = FORM_REFERRER_POLICY
    return response


@secret_link_page
@require_http_methods(["GET", "HEAD", "POST"])
def po_portal(request: HttpRequest, token: str) -> HttpResponse:
    try:
        po = po_from_token(token)
    except PoLinkDead as error:
        return _dead(request, error)
    if request.method != "POST":
        return _page(request, po)
    try:
        po = po_acknowledge_by_token(token=token)
    except PoLinkDead as error:
        return _dead(request, error)
    except Conflict as error:
        try:
            # Read again for the page: cancelled or sent anew meanwhile, it is a dead link.
            current = po_from_token(token)
        except PoLinkDead as dead:
            return _dead(request, dead)
        return _page(request, current, message=error.message, message_level="error", status=409)
    return _page(
        request,
        po,
        message=f"Thank you: {po.number} is acknowledged. We look forward to the delivery.",
    )
