"""The RFQ API: the shape of an RFQ (quotes null while sealed), each operation, the JSON error
bodies naming the field, and who may call what."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from sourcing.models import Rfq, RfqState
from sourcing.quotes import question_ask, quote_submit
from sourcing.tests.helpers import approved_request, invite, make_rfq, vendor
from sourcing.tests.test_rfq_helpers import draft_rfq, quote_input
from vendors.services import vendor_transition

pytestmark = pytest.mark.django_db


def call(client, method: str, name: str, *args: Any, body: Any = None):
    url = reverse(f"rfq_api:{name}", args=args)
    return getattr(client, method)(url, body or {}, content_type="application/json")


def test_it_drafts_an_rfq_from_a_request_and_answers_with_its_shape(org):
    request = approved_request(org)
    client = org.client_for(org.procurement)

    response = call(client, "post", "create-from-request", request.pk)

    assert response.status_code == 201
    body = response.json()
    rfq = Rfq.objects.get()
    assert response["Location"].endswith(reverse("rfq_api:detail", args=[rfq.pk]))
    assert (body["state"], body["reference"], body["currency"]) == ("draft", rfq.reference, "GBP")
    assert [line["description"] for line in body["lines"]] == ["Laptop model 1"]
    assert body["lines"][0]["category"] == "hardware"
    assert sum(float(c["weight"]) for c in body["criteria"]) == 100
    assert body["invitations"] == []
    assert body["quotes"] is None
    assert set(body["open_blockers"]) == {"invitations", "prices"}
    assert body["available_actions"] == ["open", "cancel"]


def test_it_refuses_weights_not_adding_up_to_100_with_a_json_body_naming_the_field(org):
    rfq = draft_rfq(org)
    criteria = [
        {"kind": "tco", "name": "TCO", "weight": "60"},
        {"kind": "delivery", "name": "Delivery", "weight": "35"},
    ]

    response = call(
        org.client_for(org.procurement), "put", "criteria", rfq.pk, body={"criteria": criteria}
    )

    assert response.status_code == 400
    assert response.json() == {
        "code": "invalid",
        "detail": "The weights add up to 95%; they must add up to 100%.",
        "errors": {"criteria": ["The weights add up to 95%; they must add up to 100%."]},
    }
    assert rfq.criteria.count() == 5


def test_it_names_the_bad_line_field(org):
    rfq = draft_rfq(org)
    client = org.client_for(org.procurement)
    lines = [
        {"description": "Laptop", "quantity": "2", "category": "hardware"},
        {"description": "Mouse", "quantity": "0", "category": "hardware"},
    ]

    zero = call(client, "put", "lines", rfq.pk, body={"lines": lines})
    lines[1] = {"description": "Mouse", "quantity": "2", "category": "groceries"}
    unknown = call(client, "put", "lines", rfq.pk, body={"lines": lines})

    assert zero.status_code == 400
    assert zero.json()["errors"] == {"lines[1].quantity": ["A quantity must be more than 0."]}
    assert unknown.status_code == 400
    assert unknown.json()["errors"] == {"lines[1].category": ['Unknown category "groceries".']}
    assert list(rfq.lines.values_list("description", flat=True)) == ["Laptop model 1"]


def test_it_runs_an_rfq_from_draft_to_closed_and_unseals_the_quotes_only_then(
    org, django_capture_on_commit_callbacks, mailoutbox
):
    rfq = draft_rfq(org)
    client = org.client_for(org.procurement)
    northwind = vendor(org, "Northwind Hardware Ltd")

    refused = call(client, "post", "open", rfq.pk)
    assert refused.status_code == 409
    assert refused.json()["code"] == "conflict"
    assert set(refused.json()["errors"]) == {"invitations", "prices"}

    prices = call(
        client, "put", "prices", rfq.pk, body={"target_price": "2300", "walk_away_price": "2600"}
    )
    assert prices.status_code == 200
    assert prices.json()["walk_away_price"] == "2600.00"
    invited = call(
        client,
        "post",
        "invite",
        rfq.pk,
        body={"vendor": northwind.pk, "contact_name": "Nina", "contact_email": "nina@nw.example"},
    )
    assert invited.status_code == 201
    with django_capture_on_commit_callbacks(execute=True):
        opened = call(client, "post", "open", rfq.pk)
    assert opened.status_code == 200
    assert opened.json()["state"] == "open"
    assert [m.to for m in mailoutbox] == [["nina@nw.example"]]

    invitation = rfq.invitations.get()
    quote_submit(invitation_id=invitation.pk, data=quote_input(rfq, ["1150.00"]))
    sealed = call(client, "get", "detail", rfq.pk).json()
    assert sealed["quotes"] is None
    assert sealed["invitations"][0]["current_revision"] == 1
    assert "1150" not in str(sealed)

    closed = call(client, "post", "close", rfq.pk).json()
    assert closed["state"] == "closed"
    [quote] = closed["quotes"]
    assert (quote["vendor"], quote["tco"], quote["revision"]) == (
        "Northwind Hardware Ltd",
        "2300.00",
        1,
    )
    assert quote["lines"][0]["unit_price"] == "1150.00"


def test_it_refuses_a_blocked_vendor_with_a_409(org):
    rfq = draft_rfq(org)
    blocked = vendor(org, "Shady Supplies Ltd")
    vendor_transition(vendor_id=blocked.pk, by=org.procurement, action="block", reason="Fraud")

    response = call(
        org.client_for(org.procurement),
        "post",
        "invite",
        rfq.pk,
        body={"vendor": blocked.pk, "contact_name": "S", "contact_email": "s@shady.example"},
    )

    assert response.status_code == 409
    assert response.json()["detail"] == (
        "Shady Supplies Ltd is blocked: it cannot be invited to quote."
    )
    assert response.json()["errors"] == {"vendor": ["Blocked vendors cannot be invited."]}


def test_it_updates_the_deadline_and_refuses_one_in_the_past(org):
    rfq = draft_rfq(org)
    client = org.client_for(org.procurement)
    later = (timezone.now() + dt.timedelta(days=10)).replace(microsecond=0)

    past = call(client, "patch", "detail", rfq.pk, body={"deadline": "2001-01-01T10:00:00Z"})
    moved = call(
        client, "patch", "detail", rfq.pk, body={"deadline": later.isoformat(), "term_months": 24}
    )

    assert past.status_code == 400
    assert past.json()["errors"] == {"deadline": ["Choose a moment in the future."]}
    assert moved.status_code == 200
    assert moved.json()["term_months"] == 24
    rfq.refresh_from_db()
    assert rfq.deadline == later


def test_it_reopens_and_needs_a_reason(org):
    rfq = make_rfq(org)
    Rfq.objects.filter(pk=rfq.pk).update(state=RfqState.CLOSED)
    client = org.client_for(org.procurement)
    deadline = (timezone.now() + dt.timedelta(days=2)).isoformat()

    missing = call(client, "post", "reopen", rfq.pk, body={"deadline": deadline})
    reopened = call(
        client, "post", "reopen", rfq.pk, body={"deadline": deadline, "reason": "One quote."}
    )

    assert missing.status_code == 400
    assert missing.json()["errors"] == {"reason": ["This field is required."]}
    assert reopened.status_code == 200
    assert reopened.json()["state"] == "open"


def test_it_answers_a_question_and_cancels(org):
    rfq = make_rfq(org)
    northwind = invite(org, rfq, vendor(org, "Northwind Hardware Ltd"))
    question = question_ask(invitation_id=northwind.pk, text="Warranty?")
    client = org.client_for(org.procurement)

    answered = call(
        client, "post", "question-answer", rfq.pk, question.pk, body={"answer": "3 years."}
    )
    cancelled = call(client, "post", "cancel", rfq.pk, body={"reason": "Stopped."})

    [q] = answered.json()["questions"]
    assert (q["text"], q["answer"], q["asked_by_vendor"]) == (
        "Warranty?",
        "3 years.",
        "Northwind Hardware Ltd",
    )
    assert cancelled.json()["state"] == "cancelled"


def test_it_lists_the_rfqs_by_state_and_refuses_an_unknown_state(org):
    make_rfq(org)
    client = org.client_for(org.finance)

    listed = client.get(reverse("rfq_api:list"), {"state": "open"})
    bad = client.get(reverse("rfq_api:list"), {"state": "shipped"})

    assert listed.json()["count"] == 1
    assert listed.json()["results"][0]["quotes_received"] == 0
    assert bad.status_code == 400
    assert "state" in bad.json()["errors"]


def test_it_hides_rfqs_from_requesters_and_lets_finance_read_but_not_act(org):
    rfq = make_rfq(org)
    request = approved_request(org)

    for who in (org.requester, org.outsider):
        client = org.client_for(who)
        assert call(client, "get", "detail", rfq.pk).status_code == 404
        assert call(client, "post", "close", rfq.pk).status_code == 404
        assert client.get(reverse("rfq_api:list")).json()["count"] == 0
        created = call(client, "post", "create-from-request", request.pk)
        assert created.status_code == 403
    finance = org.client_for(org.finance)
    assert call(finance, "get", "detail", rfq.pk).status_code == 200
    refused = call(finance, "post", "close", rfq.pk)
    assert refused.status_code == 403
    assert refused.json() == {
        "code": "permission_denied",
        "detail": "Only procurement can run RFQs.",
        "errors": {},
    }
    from django.test import Client

    assert call(Client(), "get", "detail", rfq.pk).status_code == 403
