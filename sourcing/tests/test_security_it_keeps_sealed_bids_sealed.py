"""Sealed bids stay sealed: no page, API, download or admin screen shows a quote's amounts
before the RFQ closes, cancelling an open RFQ does not open them, and the target and
walk-away prices cannot be moved once the quotes were seen (not even after a reopen)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from procurement.errors import Conflict
from sourcing.models import QuoteAttachment, Rfq
from sourcing.quotes import quote_submit
from sourcing.rfqs import rfq_cancel, rfq_close, rfq_prices_set, rfq_reopen
from sourcing.tests.helpers import closed_rfq_with_two_quotes, invite, make_rfq, vendor
from sourcing.tests.test_rfq_helpers import quote_input

pytestmark = pytest.mark.django_db


def _api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def open_rfq_with_a_quote(org):
    """An open RFQ (deadline in a week) with Northwind's quote of 1,234.56 a laptop (TCO
    2,469.12 GBP) and its PDF."""
    rfq = make_rfq(org)
    northwind = invite(org, rfq, vendor(org, "Northwind Hardware Ltd"))
    offer = SimpleUploadedFile("offer.pdf", b"%PDF-1.4 offer", content_type="application/pdf")
    quote_submit(
        invitation_id=northwind.pk, data=quote_input(rfq, ["1234.56"]), attachments=[offer]
    )
    return rfq


def _what_procurement_sees(org, rfq: Rfq) -> tuple[str, object, int, int]:
    attachment = QuoteAttachment.objects.get()
    pat = org.client_for(org.procurement)
    page = pat.get(reverse("rfqs:detail", args=[rfq.pk]))
    assert page.status_code == 200
    api = _api(org.procurement).get(f"/api/sourcing/{rfq.pk}/")
    assert api.status_code == 200
    download = pat.get(reverse("rfqs:attachment", args=[rfq.pk, attachment.pk]))
    compare = pat.get(reverse("evaluation:compare", args=[rfq.pk]))
    return page.content.decode(), api.json()["quotes"], download.status_code, compare.status_code


def test_it_keeps_the_quotes_of_an_open_rfq_sealed_everywhere(org, open_rfq_with_a_quote):
    page, api_quotes, download, compare = _what_procurement_sees(org, open_rfq_with_a_quote)

    assert "2,469.12" not in page
    assert "Northwind Hardware Ltd" in page  # who quoted and when is shown, not the amount
    assert api_quotes is None
    assert download == 404
    assert compare == 409


def test_it_keeps_the_quotes_sealed_when_an_open_rfq_is_cancelled(org, open_rfq_with_a_quote):
    rfq = open_rfq_with_a_quote

    rfq_cancel(rfq_id=rfq.pk, by=org.procurement, reason="The budget was withdrawn.")
    page, api_quotes, download, compare = _what_procurement_sees(org, rfq)

    assert "This RFQ was cancelled." in page
    assert "2,469.12" not in page
    assert "1234.56" not in page
    assert api_quotes is None
    assert download == 404
    assert compare == 409


def test_it_shows_the_quotes_of_an_rfq_cancelled_after_it_closed(org, open_rfq_with_a_quote):
    rfq = open_rfq_with_a_quote
    rfq_close(rfq_id=rfq.pk, by=org.procurement)

    rfq_cancel(rfq_id=rfq.pk, by=org.procurement, reason="We buy elsewhere.")
    page, api_quotes, download, _compare = _what_procurement_sees(org, rfq)

    assert "This RFQ was cancelled." in page
    assert [quote["tco"] for quote in api_quotes] == ["2469.12"]
    assert download == 200


def test_it_hides_sealed_quotes_from_the_admin_too(org, open_rfq_with_a_quote):
    rfq = open_rfq_with_a_quote
    quote = rfq.invitations.get().quotes.get()
    admin = org.client_for(org.admin)

    listing = admin.get("/admin/sourcing/quote/")
    detail = admin.get(f"/admin/sourcing/quote/{quote.pk}/change/", follow=True)

    assert listing.status_code == 200
    assert "2469.12" not in listing.content.decode()
    assert "0 quotes" in listing.content.decode()
    assert "2469.12" not in detail.content.decode()

    rfq_close(rfq_id=rfq.pk, by=org.procurement)

    assert "2469.12" in admin.get("/admin/sourcing/quote/").content.decode()


def test_it_refuses_to_move_the_walk_away_price_after_a_reopen(org):
    rfq, _northwind, _contoso = closed_rfq_with_two_quotes(org)
    rfq_reopen(
        rfq_id=rfq.pk,
        by=org.procurement,
        deadline=timezone.now() + dt.timedelta(days=3),
        reason="One more vendor asked to quote.",
    )

    with pytest.raises(Conflict) as refused:
        rfq_prices_set(
            rfq_id=rfq.pk,
            by=org.procurement,
            target_price=Decimal("2000.00"),
            walk_away_price=Decimal("9999.00"),
        )
    api = _api(org.procurement).put(
        f"/api/sourcing/{rfq.pk}/prices/",
        {"target_price": "2000.00", "walk_away_price": "9999.00"},
        format="json",
    )
    page = org.client_for(org.procurement).get(reverse("rfqs:detail", args=[rfq.pk]))

    assert "reopened after its quotes were seen" in refused.value.message
    assert api.status_code == 409
    assert api.json()["code"] == "conflict"
    assert "reopened after its quotes were seen" in api.json()["detail"]
    assert reverse("rfqs:prices", args=[rfq.pk]) not in page.content.decode()
    rfq.refresh_from_db()
    assert (rfq.target_price, rfq.walk_away_price) == (Decimal("2300.00"), Decimal("2600.00"))


def test_it_still_lets_procurement_set_the_prices_of_an_open_rfq_never_closed(org):
    rfq = make_rfq(org)

    rfq_prices_set(
        rfq_id=rfq.pk,
        by=org.procurement,
        target_price=Decimal("2100.00"),
        walk_away_price=Decimal("2500.00"),
    )

    rfq.refresh_from_db()
    assert (rfq.target_price, rfq.walk_away_price) == (Decimal("2100.00"), Decimal("2500.00"))
