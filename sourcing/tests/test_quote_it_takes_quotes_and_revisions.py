"""A vendor's quote through its link: prices per line, the TCO computed over the term, revisions
that replace the current quote and keep the history, other currencies, attachments, and the
reply to a counter-offer after the close."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import pytest
import xlsxwriter
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import dateformat, timezone

from procurement.errors import Conflict, InvalidInput
from procurement.models import AuditEntry, ExchangeRate
from sourcing.models import (
    Billing,
    CounterOffer,
    CounterOfferState,
    Quote,
    QuoteAttachment,
    RfqState,
)
from sourcing.quotes import counter_offer_decline, invitation_decline, quote_submit
from sourcing.tests.helpers import invite, make_quote, make_rfq, vendor
from sourcing.tests.test_rfq_helpers import quote_input

pytestmark = pytest.mark.django_db


@pytest.fixture
def northwind(org):
    rfq = make_rfq(org)
    return invite(org, rfq, vendor(org, "Northwind Hardware Ltd"))


def test_it_records_a_quote_with_its_tco_and_emails_a_receipt(
    org, django_capture_on_commit_callbacks, mailoutbox
):
    rfq = make_rfq(
        org,
        term_months=24,
        lines=[
            ("Laptop, 14 inch", "2", Billing.ONE_OFF, "hardware"),
            ("Device management", "3", Billing.MONTHLY, "software"),
        ],
    )
    invitation = invite(org, rfq, vendor(org, "Northwind Hardware Ltd"))

    with django_capture_on_commit_callbacks(execute=True):
        quote = quote_submit(
            invitation_id=invitation.pk,
            data=quote_input(
                rfq,
                ["1150.00", "4.50"],
                implementation_cost=Decimal("500"),
                support_cost_per_year=Decimal("1200"),
            ),
        )

    # Laptops once; device management every month of the 24; support for two years.
    expected = 2 * Decimal("1150") + 3 * Decimal("4.50") * 24 + 500 + Decimal(1200) * 2
    assert quote.tco == expected
    assert quote.tco_in_rfq_currency == expected
    assert quote.lines_total == 2 * Decimal("1150") + 3 * Decimal("4.50")
    assert quote.revision == 1
    assert quote.superseded_at is None
    assert [line.unit_price for line in quote.lines.all()] == [Decimal("1150.00"), Decimal("4.50")]
    entry = AuditEntry.objects.get(action="quote_submitted")
    assert (entry.object_id, entry.actor, entry.comment) == (
        rfq.pk,
        None,
        "r1 by Northwind Hardware Ltd",
    )
    [receipt] = mailoutbox
    assert receipt.to == [invitation.contact_email]
    assert "revision 1" in receipt.subject
    assert f"{expected:,.2f} GBP" in receipt.body


def test_it_keeps_the_history_and_replaces_the_current_quote_on_a_revision(org, northwind):
    first = quote_submit(invitation_id=northwind.pk, data=quote_input(northwind.rfq, ["1200.00"]))

    second = quote_submit(invitation_id=northwind.pk, data=quote_input(northwind.rfq, ["1150.00"]))

    first.refresh_from_db()
    assert first.superseded_at is not None
    assert first.tco == Decimal("2400.00")  # kept as it was
    assert (second.revision, second.superseded_at, second.tco) == (2, None, Decimal("2300.00"))
    assert list(northwind.quotes.order_by("revision").values_list("revision", flat=True)) == [1, 2]
    assert [e.comment for e in AuditEntry.objects.filter(action="quote_submitted")] == [
        "r1 by Northwind Hardware Ltd",
        "r2 by Northwind Hardware Ltd",
    ]


@pytest.mark.parametrize("price", ["0", "-10.00"])
def test_it_refuses_a_price_of_zero_or_below_on_the_line_and_writes_nothing(org, price):
    rfq = make_rfq(
        org,
        lines=[
            ("Laptop, 14 inch", "2", Billing.ONE_OFF, "hardware"),
            ("Docking station", "2", Billing.ONE_OFF, "hardware"),
        ],
    )
    invitation = invite(org, rfq, vendor(org, "Northwind Hardware Ltd"))
    docking = rfq.lines.get(description="Docking station")

    with pytest.raises(InvalidInput) as refused:
        quote_submit(invitation_id=invitation.pk, data=quote_input(rfq, ["1150.00", price]))

    assert refused.value.fields == {
        f"price_{docking.pk}": ["The price of “Docking station” must be more than 0."]
    }
    assert "nothing was saved" in refused.value.message
    assert not Quote.objects.exists()
    assert not AuditEntry.objects.filter(action="quote_submitted").exists()


def test_it_refuses_a_quote_missing_a_line_price(org, northwind):
    [line] = northwind.rfq.lines.all()
    data = quote_input(northwind.rfq, [])

    with pytest.raises(InvalidInput) as refused:
        quote_submit(invitation_id=northwind.pk, data=data)

    assert refused.value.fields == {
        f"price_{line.pk}": ["Give a unit price for “Laptop, 14 inch”."]
    }


def test_it_refuses_a_validity_in_the_past_and_negative_delivery_days(org, northwind):
    data = quote_input(
        northwind.rfq,
        ["1150.00"],
        delivery_days=-1,
        valid_until=timezone.localdate() - dt.timedelta(days=1),
    )

    with pytest.raises(InvalidInput) as refused:
        quote_submit(invitation_id=northwind.pk, data=data)

    assert refused.value.fields == {
        "delivery_days": ["Delivery days cannot be negative."],
        "valid_until": ["The quote must be valid until today or later."],
    }
    assert not Quote.objects.exists()


def test_it_refuses_another_currency_without_an_exchange_rate(org, northwind):
    with pytest.raises(InvalidInput) as refused:
        quote_submit(
            invitation_id=northwind.pk, data=quote_input(northwind.rfq, ["1300"], currency="EUR")
        )

    assert refused.value.status == 400
    assert "There is no exchange rate from EUR to GBP" in refused.value.message
    assert list(refused.value.fields) == ["currency"]
    assert not Quote.objects.exists()


def test_it_converts_another_currency_at_the_rate_of_the_day(org, northwind):
    ExchangeRate.objects.create(
        currency="EUR", rate=Decimal("0.85"), valid_from=timezone.localdate() - dt.timedelta(days=3)
    )

    quote = quote_submit(
        invitation_id=northwind.pk, data=quote_input(northwind.rfq, ["1300.00"], currency="EUR")
    )

    assert (quote.currency, quote.tco) == ("EUR", Decimal("2600.00"))
    assert quote.exchange_rate == Decimal("0.85")
    assert quote.tco_in_rfq_currency == Decimal("2600.00") * Decimal("0.85")


def test_it_refuses_a_quote_after_the_deadline_even_before_the_rfq_is_closed(org):
    deadline = timezone.now() - dt.timedelta(minutes=5)
    rfq = make_rfq(org, deadline=deadline)
    invitation = invite(org, rfq, vendor(org, "Northwind Hardware Ltd"))

    with pytest.raises(Conflict) as refused:
        quote_submit(invitation_id=invitation.pk, data=quote_input(rfq, ["1150.00"]))

    shown = dateformat.format(timezone.localtime(deadline), "j M Y H:i")
    assert refused.value.message == f"The deadline was {shown}; quotes are no longer accepted."
    assert not Quote.objects.exists()


def test_it_refuses_a_vendor_that_declined(org, northwind):
    invitation_decline(invitation_id=northwind.pk, reason="No stock.")

    with pytest.raises(Conflict, match="You declined to quote"):
        quote_submit(invitation_id=northwind.pk, data=quote_input(northwind.rfq, ["1150.00"]))
    assert AuditEntry.objects.get(action="invitation_declined").comment == (
        "Northwind Hardware Ltd: No stock."
    )


def _real_xlsx() -> bytes:
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True})
    book.add_worksheet("Prices").write_row(0, 0, ["Item", "Price"])
    book.close()
    return out.getvalue()


def test_it_stores_attachments_of_office_pdf_and_text_types(org, northwind):
    files = [
        SimpleUploadedFile("offer.pdf", b"%PDF-1.4 offer", content_type="application/pdf"),
        SimpleUploadedFile("prices.xlsx", _real_xlsx(), content_type="application/zip"),
        SimpleUploadedFile("notes.txt", b"Lieferung in 10 Tagen", content_type="text/plain"),
    ]

    quote = quote_submit(
        invitation_id=northwind.pk, data=quote_input(northwind.rfq, ["1150"]), attachments=files
    )

    assert sorted(quote.attachments.values_list("filename", "content_type")) == [
        ("notes.txt", "text/plain"),
        ("offer.pdf", "application/pdf"),
        (
            "prices.xlsx",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ),
    ]


def test_it_refuses_a_program_and_a_file_too_large_and_stores_nothing(org, northwind, settings):
    settings.QUOTE_ATTACHMENT_MAX_BYTES = 1024
    files = [
        SimpleUploadedFile("setup.exe", b"MZ\x90\x00binary", content_type="application/pdf"),
        SimpleUploadedFile("big.pdf", b"%PDF-" + b"x" * 2000, content_type="application/pdf"),
    ]

    with pytest.raises(InvalidInput) as refused:
        quote_submit(
            invitation_id=northwind.pk, data=quote_input(northwind.rfq, ["1150"]), attachments=files
        )

    [program, too_large] = refused.value.fields["attachments"]
    assert program.startswith("setup.exe is not a PDF, an image, an office document")
    assert too_large == "big.pdf is too large: attachments can be at most 1 KB."
    assert not Quote.objects.exists()
    assert not QuoteAttachment.objects.exists()


def test_it_keeps_the_files_of_the_earlier_revision_with_a_new_one(org, northwind):
    offer = SimpleUploadedFile("offer.pdf", b"%PDF-1.4 offer", content_type="application/pdf")
    quote_submit(
        invitation_id=northwind.pk, data=quote_input(northwind.rfq, ["1200"]), attachments=[offer]
    )

    second = quote_submit(invitation_id=northwind.pk, data=quote_input(northwind.rfq, ["1150"]))

    assert list(second.attachments.values_list("filename", flat=True)) == ["offer.pdf"]


# --- Counter-offers (helper B sends them; the vendor answers here) ----------------------------


def closed_with_counter_offer(org, *, respond_in=dt.timedelta(days=2)):
    rfq = make_rfq(org)
    invitation = invite(org, rfq, vendor(org, "Northwind Hardware Ltd"))
    quote = make_quote(invitation, ["1200.00"])
    rfq.__class__.objects.filter(pk=rfq.pk).update(
        state=RfqState.CLOSED, deadline=timezone.now() - dt.timedelta(hours=1)
    )
    offer = CounterOffer.objects.create(
        invitation=invitation,
        round=1,
        quote=quote,
        proposed_tco=Decimal("2200.00"),
        message="Can you meet 1,100 a laptop?",
        respond_by=timezone.now() + respond_in,
        sent_by=org.procurement,
    )
    invitation.refresh_from_db()
    return invitation, offer


def test_it_accepts_a_revised_quote_answering_an_open_counter_offer_after_the_close(org):
    invitation, offer = closed_with_counter_offer(org)

    quote = quote_submit(invitation_id=invitation.pk, data=quote_input(invitation.rfq, ["1100.00"]))

    offer.refresh_from_db()
    assert quote.in_reply_to == offer
    assert quote.revision == 2
    assert offer.state == CounterOfferState.ANSWERED
    assert offer.answered_at is not None
    assert AuditEntry.objects.get(action="counter_offer_answered").comment == (
        "Round 1: Northwind Hardware Ltd answered with r2."
    )


def test_it_refuses_a_reply_once_the_counter_offer_reply_by_time_passed(org):
    invitation, offer = closed_with_counter_offer(org, respond_in=dt.timedelta(minutes=-1))

    with pytest.raises(Conflict, match="counter-offer had to be answered by"):
        quote_submit(invitation_id=invitation.pk, data=quote_input(invitation.rfq, ["1100.00"]))
    offer.refresh_from_db()
    assert offer.state == CounterOfferState.OPEN
    assert invitation.quotes.count() == 1


def test_it_declines_a_counter_offer_and_the_current_quote_stands(org):
    invitation, offer = closed_with_counter_offer(org)

    counter_offer_decline(
        invitation_id=invitation.pk, counter_offer_id=offer.pk, message="1,200 is our best price."
    )

    offer.refresh_from_db()
    assert offer.state == CounterOfferState.DECLINED
    assert offer.vendor_message == "1,200 is our best price."
    assert invitation.quotes.get().superseded_at is None
    with pytest.raises(Conflict, match="quotes are no longer accepted"):
        quote_submit(invitation_id=invitation.pk, data=quote_input(invitation.rfq, ["1100.00"]))
    with pytest.raises(Conflict, match="no longer open \\(declined by the vendor\\)"):
        counter_offer_decline(invitation_id=invitation.pk, counter_offer_id=offer.pk, message="")
