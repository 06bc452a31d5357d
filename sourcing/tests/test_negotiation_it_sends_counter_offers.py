"""Negotiation rounds: a counter-offer is sent to one vendor by email with its quote link,
one open at a time, withdrawn or expired; the history shows quotes and counter-offers in
time order."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from procurement.errors import Conflict, InvalidInput, NotAllowed
from procurement.models import AuditEntry
from sourcing.evaluation_tasks import expire_due_counter_offers
from sourcing.models import CounterOffer, CounterOfferState, Rfq, RfqState
from sourcing.negotiation import (
    counter_offer_send,
    counter_offer_withdraw,
    counter_offers_expire_due,
    negotiation_history,
)
from sourcing.tests.helpers import closed_rfq_with_two_quotes, make_quote

IN_TWO_DAYS = dt.timedelta(days=2)


def send(org, quote, *, proposed="2200.00", by=None, respond_by=None, message="Can you do 2,200?"):
    return counter_offer_send(
        invitation_id=quote.invitation_id,
        by=by or org.procurement,
        proposed_tco=Decimal(proposed),
        message=message,
        respond_by=respond_by or timezone.now() + IN_TWO_DAYS,
    )


def test_it_emails_the_vendor_the_counter_offer_with_a_working_link(
    org, mailoutbox, django_capture_on_commit_callbacks
):
    rfq, northwind, _ = closed_rfq_with_two_quotes(org)

    with django_capture_on_commit_callbacks(execute=True):
        counter_offer = send(org, northwind)

    assert counter_offer.round == 1
    assert counter_offer.state == CounterOfferState.OPEN
    [email] = mailoutbox
    assert email.to == ["sales@northwind.example"]
    assert email.subject == f"Counter-offer on {rfq.reference} {rfq.title} (round 1)"
    assert "Our counter-offer: 2200.00 GBP" in email.body
    assert "Can you do 2,200?" in email.body
    link = re.search(rf"{re.escape(settings.SITE_URL)}(/sourcing/quote/\S+)", email.body)
    assert link is not None
    page = Client().get(link.group(1))  # the vendor has no account
    assert page.status_code == 200
    assert rfq.title in page.content.decode()


def test_it_audits_the_counter_offer_on_the_rfq(org):
    rfq, northwind, _ = closed_rfq_with_two_quotes(org)

    send(org, northwind)

    entry = AuditEntry.objects.get(object_id=rfq.pk, action="counter_offer_sent")
    assert entry.actor == org.procurement
    assert "Round 1 to Northwind Hardware Ltd: 2,200.00 GBP" in entry.comment


def test_it_allows_one_open_counter_offer_per_vendor(org):
    _, northwind, contoso = closed_rfq_with_two_quotes(org)
    send(org, northwind)

    with pytest.raises(Conflict) as error:
        send(org, northwind, proposed="2100.00")

    assert "already has an open counter-offer" in error.value.message
    assert CounterOffer.objects.filter(invitation=northwind.invitation).count() == 1
    # Another vendor may be negotiated with at the same time.
    assert send(org, contoso, proposed="2300.00").round == 1


def test_it_numbers_the_next_round_after_a_withdrawal(org):
    rfq, northwind, _ = closed_rfq_with_two_quotes(org)
    first = send(org, northwind)

    counter_offer_withdraw(counter_offer_id=first.pk, by=org.procurement)
    second = send(org, northwind, proposed="2250.00")

    assert CounterOffer.objects.get(pk=first.pk).state == CounterOfferState.WITHDRAWN
    assert second.round == 2
    assert AuditEntry.objects.filter(object_id=rfq.pk, action="counter_offer_withdrawn").exists()


@pytest.mark.parametrize(
    ("proposed", "field"),
    [
        ("0", "proposed_tco"),
        ("-5", "proposed_tco"),
        ("2300.00", "proposed_tco"),
        ("2500", "proposed_tco"),
    ],
)
def test_it_refuses_a_proposal_not_below_the_current_quote(org, proposed, field):
    _, northwind, _ = closed_rfq_with_two_quotes(org)

    with pytest.raises(InvalidInput) as error:
        send(org, northwind, proposed=proposed)

    assert field in error.value.fields
    assert not CounterOffer.objects.exists()


def test_it_refuses_a_reply_by_time_in_the_past_and_an_empty_message(org):
    _, northwind, _ = closed_rfq_with_two_quotes(org)

    with pytest.raises(InvalidInput) as error:
        send(org, northwind, respond_by=timezone.now() - dt.timedelta(hours=1), message=" ")

    assert set(error.value.fields) == {"respond_by", "message"}
    assert not CounterOffer.objects.exists()


def test_it_refuses_counter_offers_outside_evaluation_or_from_outside_procurement(org):
    rfq, northwind, _ = closed_rfq_with_two_quotes(org)

    with pytest.raises(NotAllowed):
        send(org, northwind, by=org.finance)
    Rfq.objects.filter(pk=rfq.pk).update(state=RfqState.AWARDED)
    with pytest.raises(Conflict) as error:
        send(org, northwind)

    assert "closed for evaluation" in error.value.message
    assert not CounterOffer.objects.exists()


def test_it_expires_counter_offers_past_their_reply_by_time(org):
    rfq, northwind, contoso = closed_rfq_with_two_quotes(org)
    due = send(org, northwind)
    waiting = send(org, contoso, proposed="2300.00")
    CounterOffer.objects.filter(pk=due.pk).update(
        respond_by=timezone.now() - dt.timedelta(minutes=1)
    )

    assert expire_due_counter_offers.delay().get() == 1

    assert CounterOffer.objects.get(pk=due.pk).state == CounterOfferState.EXPIRED
    assert CounterOffer.objects.get(pk=waiting.pk).state == CounterOfferState.OPEN
    entry = AuditEntry.objects.get(object_id=rfq.pk, action="counter_offer_expired")
    assert entry.actor is None
    assert counter_offers_expire_due() == 0  # nothing left to expire


def test_it_lists_quotes_and_counter_offers_in_time_order(org):
    _, northwind, _ = closed_rfq_with_two_quotes(org)
    counter_offer = send(org, northwind)
    revised = make_quote(northwind.invitation, ["1100.00"], in_reply_to=counter_offer)
    CounterOffer.objects.filter(pk=counter_offer.pk).update(
        state=CounterOfferState.ANSWERED, answered_at=revised.submitted_at
    )

    history = negotiation_history(invitation=northwind.invitation)

    assert [(e.kind, e.title, e.amount) for e in history] == [
        ("quote", "Quote revision 1", Decimal("2300.00")),
        ("counter_offer", "Counter-offer round 1", Decimal("2200.00")),
        ("quote", "Quote revision 2, answering round 1", Decimal("2200.00")),
    ]
    assert history[1].who == str(org.procurement)
    assert history[1].outcome == "Answered with a revised quote"
    assert history[0].outcome == "superseded"


def test_it_sends_a_counter_offer_from_the_comparison_page(
    org, mailoutbox, django_capture_on_commit_callbacks
):
    rfq, northwind, _ = closed_rfq_with_two_quotes(org)
    prefix = f"co-{northwind.invitation_id}"
    respond_by = timezone.localtime(timezone.now() + IN_TWO_DAYS)

    with django_capture_on_commit_callbacks(execute=True):
        response = org.client_for(org.procurement).post(
            reverse("evaluation:counter-offer", args=[rfq.pk, northwind.invitation_id]),
            {
                f"{prefix}-proposed_tco": "2200.00",
                f"{prefix}-message": "Match the other offer?",
                f"{prefix}-respond_by": respond_by.strftime("%Y-%m-%dT%H:%M"),
            },
            follow=True,
        )

    text = response.content.decode()
    assert "Counter-offer (round 1) sent to Northwind Hardware Ltd by email." in text
    assert "Round 1 is waiting for the vendor" in text
    assert len(mailoutbox) == 1


def test_it_puts_a_counter_offer_error_next_to_its_field(org):
    rfq, northwind, _ = closed_rfq_with_two_quotes(org)
    prefix = f"co-{northwind.invitation_id}"

    response = org.client_for(org.procurement).post(
        reverse("evaluation:counter-offer", args=[rfq.pk, northwind.invitation_id]),
        {
            f"{prefix}-proposed_tco": "2400.00",
            f"{prefix}-message": "More?",
            f"{prefix}-respond_by": (timezone.localtime() + IN_TWO_DAYS).strftime("%Y-%m-%dT%H:%M"),
        },
    )

    assert response.status_code == 400
    assert (
        "Propose less than the current quote&#x27;s TCO, 2,300.00 GBP." in response.content.decode()
    )
    assert not CounterOffer.objects.exists()


def test_it_sends_and_withdraws_counter_offers_over_the_api(org):
    rfq, northwind, _ = closed_rfq_with_two_quotes(org)
    client = org.client_for(org.procurement)
    url = reverse("evaluation_api:counter-offers", args=[rfq.pk])
    body = {
        "invitation": northwind.invitation_id,
        "proposed_tco": "2200.00",
        "message": "Can you do 2,200?",
        "respond_by": (timezone.now() + IN_TWO_DAYS).isoformat(),
    }

    created = client.post(url, body, content_type="application/json")
    again = client.post(url, body, content_type="application/json")
    too_high = client.post(
        url, {**body, "proposed_tco": "9999.00"}, content_type="application/json"
    )

    assert created.status_code == 201
    assert created.json()["round"] == 1
    assert again.status_code == 409
    assert again.json()["code"] == "conflict"
    assert too_high.status_code == 400
    assert list(too_high.json()["errors"]) == ["proposed_tco"]
    withdrawn = client.post(
        reverse("evaluation_api:counter-offer-withdraw", args=[rfq.pk, created.json()["id"]]),
        {},
        content_type="application/json",
    )
    assert withdrawn.status_code == 200
    assert withdrawn.json()["state"] == "withdrawn"
