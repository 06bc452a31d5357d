"""The procurement pages of RFQs: the list, the RFQ page with its forms (errors next to the
fields), sealed quotes before the close, actions, and who may see any of it."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from sourcing.models import Invitation, Rfq, RfqState
from sourcing.quotes import question_ask, quote_submit
from sourcing.rfqs import rfqs_close_due
from sourcing.tests.helpers import closed_rfq_with_two_quotes, invite, make_quote, make_rfq, vendor
from sourcing.tests.test_rfq_helpers import draft_rfq, quote_input

pytestmark = pytest.mark.django_db


def detail(rfq: Rfq) -> str:
    return reverse("rfqs:detail", args=[rfq.pk])


def criteria_post(rfq: Rfq, weights: list[str]) -> dict[str, str]:
    data = {
        "criteria-TOTAL_FORMS": str(len(weights)),
        "criteria-INITIAL_FORMS": str(rfq.criteria.count()),
        "criteria-MIN_NUM_FORMS": "0",
        "criteria-MAX_NUM_FORMS": "20",
    }
    kinds = ["tco", "delivery", "risk", "performance", "custom"]
    for index, weight in enumerate(weights):
        data[f"criteria-{index}-kind"] = kinds[index]
        data[f"criteria-{index}-name"] = f"Criterion {index + 1}"
        data[f"criteria-{index}-weight"] = weight
    return data


def test_it_lists_rfqs_with_state_deadline_and_quotes_received(org):
    open_rfq = make_rfq(org)
    make_quote(invite(org, open_rfq, vendor(org, "Northwind Hardware Ltd")), ["1150.00"])
    invite(org, open_rfq, vendor(org, "Contoso Devices Ltd"))
    draft = make_rfq(org, request=open_rfq.request, state=RfqState.DRAFT)
    client = org.client_for(org.procurement)

    page = client.get(reverse("rfqs:list"))
    only_drafts = client.get(reverse("rfqs:list"), {"state": "draft"})

    html = page.content.decode()
    assert open_rfq.reference in html
    assert draft.reference in html
    assert "Open for quotes" in html
    row = html.split(open_rfq.reference)[1].split("</tr>")[0]
    assert '<td class="num" data-label="Invited">2</td>' in row
    assert '<td class="num" data-label="Quotes received">1' in row
    assert open_rfq.reference not in only_drafts.content.decode()
    assert draft.reference in only_drafts.content.decode()


@pytest.mark.parametrize("who", ["requester", "manager", "outsider"])
def test_it_hides_rfqs_from_people_outside_procurement_and_finance(org, who):
    rfq = make_rfq(org)
    client = org.client_for(getattr(org, who))

    assert client.get(reverse("rfqs:list")).status_code == 404
    assert client.get(detail(rfq)).status_code == 404
    assert client.post(reverse("rfqs:open", args=[rfq.pk])).status_code == 404


def test_it_shows_finance_the_rfq_without_any_form(org):
    rfq = make_rfq(org, state=RfqState.DRAFT)

    page = org.client_for(org.finance).get(detail(rfq))

    assert page.status_code == 200
    assert "<form" not in page.content.decode().split('id="main"')[1]
    response = org.client_for(org.finance).post(reverse("rfqs:open", args=[rfq.pk]), follow=True)
    assert "Only procurement can run RFQs." in response.content.decode()


def test_it_seals_the_prices_until_the_close(org):
    rfq = make_rfq(org)
    northwind = invite(org, rfq, vendor(org, "Northwind Hardware Ltd"))
    quote_submit(invitation_id=northwind.pk, data=quote_input(rfq, ["1187.65"]))
    client = org.client_for(org.procurement)

    sealed = client.get(detail(rfq)).content.decode()

    assert "sealed until the deadline" in sealed
    assert "Received r1" in sealed
    assert "1,187.65" not in sealed
    assert "2,375.30" not in sealed
    assert reverse("evaluation:compare", args=[rfq.pk]) not in sealed

    Rfq.objects.filter(pk=rfq.pk).update(deadline=timezone.now() - dt.timedelta(seconds=1))
    rfqs_close_due()
    unsealed = client.get(detail(rfq)).content.decode()
    assert "2,375.30" in unsealed
    assert reverse("evaluation:compare", args=[rfq.pk]) in unsealed


def test_it_shows_weights_not_adding_up_to_100_above_the_criteria(org):
    rfq = draft_rfq(org)
    client = org.client_for(org.procurement)

    page = client.post(
        reverse("rfqs:criteria", args=[rfq.pk]), criteria_post(rfq, ["50", "20", "15", "10"])
    )

    assert page.status_code == 400
    assert "The weights add up to 95%; they must add up to 100%." in page.content.decode()
    assert rfq.criteria.count() == 5  # unchanged


def test_it_saves_criteria_from_the_page(org):
    rfq = draft_rfq(org)

    response = org.client_for(org.procurement).post(
        reverse("rfqs:criteria", args=[rfq.pk]), criteria_post(rfq, ["60", "20", "10", "10"])
    )

    assert response.status_code == 302
    assert [c.weight for c in rfq.criteria.all()] == [
        Decimal(60),
        Decimal(20),
        Decimal(10),
        Decimal(10),
    ]


def test_it_shows_the_running_sum_of_the_weights_as_they_are_typed(org):
    rfq = draft_rfq(org)

    page = org.client_for(org.procurement).post(
        reverse("rfqs:criteria-sum", args=[rfq.pk]), criteria_post(rfq, ["50", "20", "15.5"])
    )

    assert "The weights add up to <strong>85.5%</strong>; they must add up to 100%" in (
        page.content.decode()
    )


def test_it_saves_lines_from_the_page_and_shows_a_bad_quantity_next_to_it(org):
    rfq = draft_rfq(org)
    [line] = rfq.lines.all()
    data = {
        "lines-TOTAL_FORMS": "2",
        "lines-INITIAL_FORMS": "1",
        "lines-MIN_NUM_FORMS": "0",
        "lines-MAX_NUM_FORMS": "200",
        "lines-0-description": "Laptop, 14 inch",
        "lines-0-quantity": "3",
        "lines-0-unit": "each",
        "lines-0-billing": "one_off",
        "lines-0-category": str(line.category_id),
        "lines-0-request_line": str(line.request_line_id),
        "lines-1-description": "Support",
        "lines-1-quantity": "0",
        "lines-1-unit": "seat",
        "lines-1-billing": "yearly",
        "lines-1-category": str(line.category_id),
    }
    client = org.client_for(org.procurement)

    bad = client.post(reverse("rfqs:lines", args=[rfq.pk]), data)
    assert bad.status_code == 400
    assert "Ensure this value is greater than or equal to 0.001." in bad.content.decode()

    data["lines-1-quantity"] = "3"
    good = client.post(reverse("rfqs:lines", args=[rfq.pk]), data)
    assert good.status_code == 302
    assert list(rfq.lines.values_list("description", "quantity", "billing")) == [
        ("Laptop, 14 inch", Decimal(3), "one_off"),
        ("Support", Decimal(3), "yearly"),
    ]


def test_it_lists_what_is_missing_when_opening_from_the_page(org):
    rfq = draft_rfq(org)
    client = org.client_for(org.procurement)

    page = client.get(detail(rfq)).content.decode()
    assert "Before this RFQ can open:" in page
    response = client.post(reverse("rfqs:open", args=[rfq.pk]), follow=True)

    html = response.content.decode()
    assert f"{rfq.reference} cannot open yet:" in html
    assert "Invite at least one vendor." in html
    assert Rfq.objects.get(pk=rfq.pk).state == RfqState.DRAFT


def test_it_invites_a_vendor_from_the_page_and_flags_prospects(org):
    rfq = draft_rfq(org)
    prospect = vendor(org, "Fabrikam Prospects Ltd", approved=False)
    client = org.client_for(org.procurement)

    form = client.get(detail(rfq)).content.decode()
    assert "Fabrikam Prospects Ltd (not yet approved: prospect)" in form
    response = client.post(
        reverse("rfqs:invite", args=[rfq.pk]),
        {"vendor": prospect.pk, "contact_name": "Fay", "contact_email": "fay@fabrikam.example"},
        follow=True,
    )

    html = response.content.decode()
    assert "Fabrikam Prospects Ltd invited" in html
    assert "not yet approved</span>" in html
    assert Invitation.objects.get().is_prospect


def test_it_shows_a_missing_contact_next_to_the_email_field(org):
    rfq = draft_rfq(org)
    contoso = vendor(org, "Contoso Devices Ltd")

    page = org.client_for(org.procurement).post(
        reverse("rfqs:invite", args=[rfq.pk]), {"vendor": contoso.pk}
    )

    assert page.status_code == 400
    assert 'id="id_contact_email_error"' in page.content.decode()
    assert "has no contact on file" in page.content.decode()


def test_it_answers_a_question_from_the_page(org):
    rfq = make_rfq(org)
    northwind = invite(org, rfq, vendor(org, "Northwind Hardware Ltd"))
    question = question_ask(invitation_id=northwind.pk, text="Warranty length?")
    client = org.client_for(org.procurement)
    assert "Q from Northwind Hardware Ltd" in client.get(detail(rfq)).content.decode()

    response = client.post(
        reverse("rfqs:question-answer", args=[rfq.pk, question.pk]),
        {f"q{question.pk}-answer": "Three years."},
        follow=True,
    )

    assert "Answer published to every invited vendor" in response.content.decode()
    question.refresh_from_db()
    assert question.answer == "Three years."


def test_it_reopens_from_the_page_and_needs_a_reason(org):
    rfq, _, _ = closed_rfq_with_two_quotes(org)
    client = org.client_for(org.procurement)
    deadline = (timezone.localtime() + dt.timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")

    refused = client.post(reverse("rfqs:reopen", args=[rfq.pk]), {"deadline": deadline})
    assert refused.status_code == 400
    assert "This field is required." in refused.content.decode()

    client.post(reverse("rfqs:reopen", args=[rfq.pk]), {"deadline": deadline, "reason": "More"})
    assert Rfq.objects.get(pk=rfq.pk).state == RfqState.OPEN


def test_it_cancels_from_the_page(org):
    rfq = make_rfq(org)

    org.client_for(org.procurement).post(
        reverse("rfqs:cancel", args=[rfq.pk]), {"cancel-reason": "Budget withdrawn."}
    )

    assert Rfq.objects.get(pk=rfq.pk).state == RfqState.CANCELLED


def test_it_serves_quote_attachments_only_once_the_rfq_is_closed(org):
    rfq = make_rfq(org)
    northwind = invite(org, rfq, vendor(org, "Northwind Hardware Ltd"))
    quote = quote_submit(
        invitation_id=northwind.pk,
        data=quote_input(rfq, ["1150"]),
        attachments=[SimpleUploadedFile("offer.pdf", b"%PDF-1.4 offer")],
    )
    attachment = quote.attachments.get()
    url = reverse("rfqs:attachment", args=[rfq.pk, attachment.pk])
    client = org.client_for(org.procurement)

    assert client.get(url).status_code == 404
    Rfq.objects.filter(pk=rfq.pk).update(state=RfqState.CLOSED)
    response = client.get(url)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"%PDF-1.4 offer"
    assert org.client_for(org.requester).get(url).status_code == 404


def test_it_saves_an_open_rfqs_settings_from_the_page_with_the_term_fixed(
    org, django_capture_on_commit_callbacks, mailoutbox
):
    rfq = make_rfq(org)
    invite(org, rfq, vendor(org, "Northwind Hardware Ltd"))
    deadline = timezone.localtime(rfq.deadline).strftime("%Y-%m-%dT%H:%M")
    client = org.client_for(org.procurement)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("rfqs:settings", args=[rfq.pk]),
            {
                "title": "Laptops, 14 inch",
                "instructions": "Warranty included.",
                "deadline": deadline,
                "term_months": "36",  # disabled on the page: ignored
                "currency": "EUR",
            },
        )

    assert response.status_code == 302
    rfq.refresh_from_db()
    assert (rfq.title, rfq.term_months, rfq.currency) == ("Laptops, 14 inch", 12, "GBP")
    assert mailoutbox == []  # the same deadline (to the minute) is no news to vendors
