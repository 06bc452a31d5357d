"""The vendor's links and the ids people send: CSRF on the account-less portals, a link
working only where it was sent, a dead RFQ's or order's link writing nothing and showing a
clear page, quote files limited and served as downloads, emails' subjects on one line, and
ids of another RFQ or order (a line, an invitation, a quote) refused with a clear error
instead of being acted on."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from procurement.errors import Conflict, InvalidInput
from sourcing import order_portal_views
from sourcing.invoices import invoice_record
from sourcing.models import (
    CounterOffer,
    Invoice,
    PoState,
    PurchaseOrder,
    Question,
    Quote,
    Receipt,
)
from sourcing.orders import po_link_token
from sourcing.quotes import invitation_link_token, quote_submit
from sourcing.receipts import receipt_record
from sourcing.rfqs import rfq_cancel, rfq_close, rfq_email_invitation
from sourcing.tests.helpers import (
    closed_rfq_with_two_quotes,
    invite,
    issued_po,
    make_rfq,
    vendor,
)
from sourcing.tests.test_rfq_helpers import portal_path, quote_form, quote_input

pytestmark = pytest.mark.django_db


def _api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def _pdf(name: str = "offer.pdf") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, b"%PDF-1.4 offer", content_type="application/pdf")


@pytest.fixture
def northwind(org):
    return invite(org, make_rfq(org), vendor(org, "Northwind Hardware Ltd"))


# --- The portals -----------------------------------------------------------------------------


def test_it_refuses_a_quote_posted_without_the_pages_csrf_token(northwind):
    browser = Client(enforce_csrf_checks=True)
    path = portal_path(northwind)
    assert browser.get(path).status_code == 200  # the page sets the CSRF cookie

    forged = browser.post(path, quote_form(northwind.rfq, ["1150.00"]))
    question = browser.post(path, {"intent": "ask", "text": "Who else is quoting?"})

    assert forged.status_code == question.status_code == 403
    assert not Quote.objects.exists()
    assert not Question.objects.exists()


def test_it_refuses_an_acknowledgement_posted_without_the_csrf_token(org):
    po = issued_po(org)
    browser = Client(enforce_csrf_checks=True)

    forged = browser.post(f"/orders/vendor/{po_link_token(po)}/")

    assert forged.status_code == 403
    po.refresh_from_db()
    assert (po.state, po.acknowledged_at) == (PoState.ISSUED, None)


def test_it_opens_nothing_with_a_link_of_another_kind(org, northwind):
    po = issued_po(org)
    browser = Client()

    quote_page_with_po_link = browser.get(f"/sourcing/quote/{po_link_token(po)}/")
    po_page_with_quote_link = browser.get(f"/orders/vendor/{invitation_link_token(northwind)}/")

    assert quote_page_with_po_link.status_code == 404
    assert po_page_with_quote_link.status_code == 404
    assert po.number not in quote_page_with_po_link.content.decode()
    assert northwind.rfq.title not in po_page_with_quote_link.content.decode()


def test_it_writes_nothing_through_the_link_of_a_cancelled_rfq(org, northwind):
    path = portal_path(northwind)
    rfq_cancel(rfq_id=northwind.rfq_id, by=org.procurement, reason="No longer needed.")

    quote = Client().post(path, quote_form(northwind.rfq, ["1150.00"]))
    question = Client().post(path, {"intent": "ask", "text": "Still on?"})

    assert quote.status_code == question.status_code == 410
    assert "was cancelled" in quote.content.decode()
    assert not Quote.objects.exists()
    assert not Question.objects.exists()


def test_it_limits_the_files_of_a_quote_across_its_revisions(northwind):
    rfq = northwind.rfq
    quote_submit(
        invitation_id=northwind.pk,
        data=quote_input(rfq, ["1200.00"]),
        attachments=[_pdf(f"part-{n}.pdf") for n in range(8)],
    )

    with pytest.raises(InvalidInput) as refused:
        quote_submit(
            invitation_id=northwind.pk,
            data=quote_input(rfq, ["1150.00"]),
            attachments=[_pdf(f"more-{n}.pdf") for n in range(3)],
        )

    assert refused.value.fields == {
        "attachments": [
            "At most 10 files per quote: 8 are kept from your current quote, so 2 more can "
            "be added."
        ]
    }
    assert list(northwind.quotes.values_list("revision", flat=True)) == [1]
    second = quote_submit(
        invitation_id=northwind.pk,
        data=quote_input(rfq, ["1150.00"]),
        attachments=[_pdf("more-1.pdf"), _pdf("more-2.pdf")],
    )
    assert second.attachments.count() == 10


def test_it_serves_a_quote_file_as_a_download_the_browser_may_not_run(org, northwind):
    quote_submit(
        invitation_id=northwind.pk,
        data=quote_input(northwind.rfq, ["1150.00"]),
        attachments=[_pdf('offer"; filename="evil.html.pdf')],
    )
    with pytest.raises(InvalidInput):
        quote_submit(
            invitation_id=northwind.pk,
            data=quote_input(northwind.rfq, ["1140.00"]),
            attachments=[
                SimpleUploadedFile(
                    "page.html", b"<script>alert(1)</script>", content_type="application/pdf"
                )
            ],
        )
    rfq_close(rfq_id=northwind.rfq_id, by=org.procurement)
    attachment = Quote.objects.get().attachments.get()

    download = org.client_for(org.procurement).get(
        reverse("rfqs:attachment", args=[northwind.rfq_id, attachment.pk])
    )

    assert download.status_code == 200
    assert download["Content-Type"] == "application/pdf"
    assert download["Content-Disposition"].startswith("attachment;")
    assert 'filename="offer\\"; filename=\\"evil.html.pdf"' in download["Content-Disposition"]
    assert download["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in download["Content-Security-Policy"]
    assert not attachment.file.name.endswith(".html")


# --- Ids of another RFQ or order --------------------------------------------------------------


def test_it_refuses_a_price_for_a_line_of_another_rfq(org, northwind):
    other_rfq = make_rfq(org)
    [foreign_line] = other_rfq.lines.all()
    data = quote_input(northwind.rfq, ["1150.00"])
    data.prices[foreign_line.pk] = Decimal("1.00")

    with pytest.raises(InvalidInput) as refused:
        quote_submit(invitation_id=northwind.pk, data=data)

    assert refused.value.fields == {"prices": [f"Not lines of this RFQ: {foreign_line.pk}."]}
    assert not Quote.objects.exists()


def test_it_refuses_evaluation_actions_on_another_rfqs_vendor_or_quote(org):
    rfq, _northwind, _contoso = closed_rfq_with_two_quotes(org)
    other, foreign, _ = closed_rfq_with_two_quotes(org)
    custom = rfq.criteria.get(kind="custom")
    api = _api(org.procurement)

    counter = api.post(
        f"/api/sourcing/{rfq.pk}/evaluation/counter-offers/",
        {
            "invitation": foreign.invitation_id,
            "proposed_tco": "1000.00",
            "message": "Lower, please.",
            "respond_by": (timezone.now() + dt.timedelta(days=2)).isoformat(),
        },
        format="json",
    )
    score = api.put(
        f"/api/sourcing/{rfq.pk}/evaluation/scores/{custom.pk}/{foreign.invitation_id}/",
        {"score": "90"},
        format="json",
    )
    award = api.post(
        f"/api/sourcing/{rfq.pk}/evaluation/award/", {"quote": foreign.pk}, format="json"
    )

    assert counter.status_code == 404
    assert score.status_code == 400
    assert score.json()["errors"] == {"invitation": ["Choose an invited vendor."]}
    assert award.status_code == 400
    assert award.json()["errors"] == {"quote": ["Choose one of the current quotes."]}
    assert not CounterOffer.objects.exists()
    assert not rfq.awards.exists()
    assert not other.awards.exists()


def test_it_refuses_a_receipt_or_invoice_line_of_another_order(org):
    po = issued_po(org)
    other = issued_po(org)
    foreign_line = other.lines.get()

    with pytest.raises(InvalidInput) as receipt:
        receipt_record(
            po_id=po.pk,
            by=org.procurement,
            received_on=timezone.localdate(),
            lines={foreign_line.pk: Decimal("1")},
        )
    with pytest.raises(InvalidInput) as invoice:
        invoice_record(
            po_id=po.pk,
            by=org.procurement,
            number="INV-X",
            invoice_date=timezone.localdate(),
            currency="GBP",
            total=Decimal("1150.00"),
            lines={foreign_line.pk: (Decimal("1"), Decimal("1150.00"))},
        )

    message = [f"Not a line of {po.number}."]
    assert receipt.value.fields == {f"quantity_{foreign_line.pk}": message}
    assert invoice.value.fields == {f"quantity_{foreign_line.pk}": message}
    assert not Receipt.objects.exists()
    assert not Invoice.objects.exists()


def test_it_keeps_an_emails_subject_on_one_line_whatever_the_title_holds(northwind, mailoutbox):
    rfq = northwind.rfq
    rfq.title = "Laptops\r\nBcc: everyone@rival.example"
    rfq.save(update_fields=["title"])

    assert rfq_email_invitation(invitation_id=northwind.pk)

    [email] = mailoutbox
    assert email.to == [northwind.contact_email]
    assert email.bcc == []
    assert "\n" not in email.subject
    assert "Laptops Bcc: everyone@rival.example" in email.subject
    assert email.message().get_all("Bcc") is None


def test_it_shows_the_dead_link_page_when_the_order_is_cancelled_during_an_acknowledgement(
    org, monkeypatch
):
    po = issued_po(org)
    token = po_link_token(po)

    def cancelled_meanwhile(*, token: str) -> PurchaseOrder:
        PurchaseOrder.objects.filter(pk=po.pk).update(state=PoState.CANCELLED)
        raise Conflict(f"{po.number} is cancelled: it cannot be acknowledged now.")

    monkeypatch.setattr(order_portal_views, "po_acknowledge_by_token", cancelled_meanwhile)

    page = Client(raise_request_exception=False).post(f"/orders/vendor/{token}/")

    assert page.status_code == 410
    assert f"Purchase order {po.number} was cancelled; please do not deliver it." in (
        page.content.decode()
    )
