"""The vendor's quote page, opened by its signed link without an account: what it shows,
quoting and revising from it, the TCO explained as the vendor types, counter-offers, and
the clear pages for a closed RFQ and for tampered, expired or replaced links."""

from __future__ import annotations

import datetime as dt
import re
import time
from decimal import Decimal
from unittest import mock

import pytest
from django.utils import dateformat, timezone

from sourcing.models import CounterOffer, CounterOfferState, Quote, RfqState
from sourcing.quotes import invitation_link_token, quote_submit
from sourcing.rfqs import invitation_resend
from sourcing.tests.helpers import invite, make_quote, make_rfq, vendor
from sourcing.tests.test_rfq_helpers import portal_path, quote_form, quote_input

pytestmark = pytest.mark.django_db


@pytest.fixture
def northwind(org):
    rfq = make_rfq(org)
    rfq.instructions = "Quote a 3-year warranty."
    rfq.save(update_fields=["instructions"])
    return invite(org, rfq, vendor(org, "Northwind Hardware Ltd"))


@pytest.fixture
def client(org):
    # A vendor has no account: an anonymous browser.
    from django.test import Client

    return Client()


def test_it_shows_the_rfq_and_the_quote_form_without_writing_the_token(northwind, client):
    rfq = northwind.rfq
    token = invitation_link_token(northwind)

    page = client.get(portal_path(northwind))

    html = page.content.decode()
    assert page.status_code == 200
    assert rfq.title in html
    assert "Quote a 3-year warranty." in html
    assert "Laptop, 14 inch" in html
    assert dateformat.format(timezone.localtime(rfq.deadline), "j F Y, H:i") in html
    assert "TCO over 12 months" in html
    assert token not in html  # forms post back to the page's own address
    assert page["Referrer-Policy"] == "strict-origin"
    assert page["X-Robots-Tag"] == "noindex, nofollow"
    assert "no-store" in page["Cache-Control"]


def test_it_takes_a_quote_and_a_revision_from_the_page_and_lists_both(northwind, client):
    path = portal_path(northwind)

    first = client.post(path, quote_form(northwind.rfq, ["1200.00"]), follow=True)
    assert "Revision 1 received: TCO 2,400.00 GBP." in first.content.decode()
    second = client.post(path, quote_form(northwind.rfq, ["1150.00"]), follow=True)

    html = second.content.decode()
    assert "Revision 2 received: TCO 2,300.00 GBP." in html
    revisions = html.split('id="revisions"')[1]
    assert "r1" in revisions
    assert "r2" in revisions
    assert "2,400.00 GBP" in revisions
    assert "2,300.00 GBP" in revisions
    assert "Submit revision 3" in html
    assert [q.superseded_at is None for q in northwind.quotes.order_by("revision")] == [False, True]


def test_it_shows_a_price_error_next_to_its_line_and_keeps_what_was_typed(northwind, client):
    [line] = northwind.rfq.lines.all()

    page = client.post(portal_path(northwind), quote_form(northwind.rfq, ["0"], delivery_days="7"))

    html = page.content.decode()
    assert page.status_code == 400
    assert "The price of “Laptop, 14 inch” must be more than 0." in html
    assert f'id="id_price_{line.pk}_error"' in html
    assert 'name="delivery_days" value="7"' in html
    assert not Quote.objects.exists()


def test_it_shows_a_missing_exchange_rate_on_the_currency_field(northwind, client):
    page = client.post(portal_path(northwind), quote_form(northwind.rfq, ["1300"], currency="EUR"))

    assert page.status_code == 400
    assert "No exchange rate for EUR" in page.content.decode()
    assert not Quote.objects.exists()


def test_it_explains_the_tco_as_the_vendor_types(northwind, client):
    page = client.post(
        portal_path(northwind) + "tco/",
        quote_form(northwind.rfq, ["1150"], implementation_cost="100", support_cost_per_year="120"),
    )

    html = page.content.decode()
    assert page.status_code == 200
    # 2 laptops x 1,150 once, + 100 implementation + 120 a year for 12 months.
    assert "TCO over 12 months = 2,300.00 + 100.00 + 120.00 \u00d7 12/12 = 2,520.00 GBP" in html
    assert not Quote.objects.exists()


def test_it_never_shows_a_vendor_another_vendors_quote(org, northwind, client):
    contoso = invite(org, northwind.rfq, vendor(org, "Contoso Devices Ltd"))
    make_quote(northwind, ["1187.65"])

    html = client.get(portal_path(contoso)).content.decode()

    assert "1,187.65" not in html
    assert "2,375.30" not in html
    assert "Northwind" not in html


def test_it_shows_a_closed_page_after_the_deadline(northwind, client):
    make_quote(northwind, ["1150.00"])
    deadline = timezone.now() - dt.timedelta(minutes=1)
    northwind.rfq.__class__.objects.filter(pk=northwind.rfq_id).update(
        state=RfqState.CLOSED, deadline=deadline
    )

    page = client.get(portal_path(northwind))
    posted = client.post(portal_path(northwind), quote_form(northwind.rfq, ["1000"]), follow=True)

    html = page.content.decode()
    assert page.status_code == 200
    assert "Quotes are closed" in html
    shown = dateformat.format(timezone.localtime(deadline), "j M Y H:i")
    assert f"The deadline was {shown}; quotes are no longer accepted." in html
    assert "revision 1" in html
    assert northwind.quotes.count() == 1
    assert "Quotes are closed" in posted.content.decode()


def test_it_answers_a_tampered_link_with_a_404_page(northwind, client):
    token = invitation_link_token(northwind)
    tampered = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")

    page = client.get(f"/sourcing/quote/{tampered}/")

    assert page.status_code == 404
    assert "This link is not valid" in page.content.decode()
    assert "Northwind" not in page.content.decode()


def test_it_answers_an_expired_link_with_a_410_page(northwind, client, settings):
    settings.SOURCING_QUOTE_LINK_DAYS = 30
    with mock.patch("django.core.signing.time.time", return_value=time.time() - 31 * 86400):
        token = invitation_link_token(northwind)

    page = client.get(f"/sourcing/quote/{token}/")
    posted = client.post(f"/sourcing/quote/{token}/", quote_form(northwind.rfq, ["1150"]))

    assert page.status_code == 410
    assert "This link has expired" in page.content.decode()
    assert posted.status_code == 410
    assert not Quote.objects.exists()


def test_it_kills_the_old_link_when_a_new_one_is_sent(
    org, northwind, client, settings, django_capture_on_commit_callbacks, mailoutbox
):
    old = portal_path(northwind)

    with django_capture_on_commit_callbacks(execute=True):
        invitation_resend(invitation_id=northwind.pk, by=org.procurement)

    page = client.get(old)
    assert page.status_code == 410
    assert "This link was replaced" in page.content.decode()
    [message] = mailoutbox
    [link] = re.findall(r"http\S+/sourcing/quote/\S+/", message.body)
    assert client.get(link.removeprefix(settings.SITE_URL)).status_code == 200


def test_it_shows_an_open_counter_offer_and_takes_the_revised_quote_after_the_close(
    org, northwind, client
):
    quote = make_quote(northwind, ["1200.00"])
    northwind.rfq.__class__.objects.filter(pk=northwind.rfq_id).update(
        state=RfqState.CLOSED, deadline=timezone.now() - dt.timedelta(hours=1)
    )
    offer = CounterOffer.objects.create(
        invitation=northwind,
        round=1,
        quote=quote,
        proposed_tco=Decimal("2200.00"),
        message="Can you meet 1,100 a laptop?",
        respond_by=timezone.now() + dt.timedelta(days=2),
        sent_by=org.procurement,
    )
    path = portal_path(northwind)

    html = client.get(path).content.decode()
    assert "Can you meet 1,100 a laptop?" in html
    assert "2,200.00 GBP" in html
    assert 'value="1200.00"' in html  # the form starts from the current quote
    response = client.post(path, quote_form(northwind.rfq, ["1100.00"]), follow=True)

    assert "It answers our counter-offer." in response.content.decode()
    offer.refresh_from_db()
    assert offer.state == CounterOfferState.ANSWERED
    assert northwind.quotes.get(superseded_at__isnull=True).in_reply_to == offer


def test_it_declines_a_counter_offer_from_the_page(org, northwind, client):
    quote = make_quote(northwind, ["1200.00"])
    northwind.rfq.__class__.objects.filter(pk=northwind.rfq_id).update(
        state=RfqState.CLOSED, deadline=timezone.now() - dt.timedelta(hours=1)
    )
    offer = CounterOffer.objects.create(
        invitation=northwind,
        round=1,
        quote=quote,
        proposed_tco=Decimal("2200.00"),
        message="Lower?",
        respond_by=timezone.now() + dt.timedelta(days=2),
        sent_by=org.procurement,
    )

    response = client.post(
        portal_path(northwind),
        {"intent": "decline_counter", "counter_offer": offer.pk, "message": "Best price already."},
        follow=True,
    )

    offer.refresh_from_db()
    assert offer.state == CounterOfferState.DECLINED
    assert offer.vendor_message == "Best price already."
    assert "Quotes are closed" in response.content.decode()


def test_it_declines_to_quote_from_the_page(northwind, client):
    response = client.post(
        portal_path(northwind), {"intent": "decline", "reason": "No capacity."}, follow=True
    )

    html = response.content.decode()
    assert "You declined to quote" in html
    northwind.refresh_from_db()
    assert northwind.decline_reason == "No capacity."
    with pytest.raises(Exception, match="You declined"):
        quote_submit(invitation_id=northwind.pk, data=quote_input(northwind.rfq, ["1"]))


def test_it_takes_a_question_from_the_page(northwind, client):
    response = client.post(
        portal_path(northwind), {"intent": "ask", "text": "Is delivery included?"}, follow=True
    )

    assert "Question sent." in response.content.decode()
    assert "Is delivery included?" in response.content.decode()
    assert northwind.questions.get().text == "Is delivery included?"
    blank = client.post(portal_path(northwind), {"intent": "ask", "text": ""})
    assert blank.status_code == 400
