"""Questions and answers: a vendor asks through its link, procurement answers, and every
invited vendor sees (and is emailed) the answer without who asked; nobody sees another
vendor's unanswered question."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone

from procurement.errors import Conflict, InvalidInput
from sourcing.models import Question
from sourcing.quotes import invitation_decline, question_ask
from sourcing.rfqs import clarification_publish, question_answer
from sourcing.tests.helpers import invite, make_rfq, vendor
from sourcing.tests.test_rfq_helpers import portal_path

pytestmark = pytest.mark.django_db


@pytest.fixture
def invited(org):
    rfq = make_rfq(org)
    northwind = invite(org, rfq, vendor(org, "Northwind Hardware Ltd"))
    contoso = invite(org, rfq, vendor(org, "Contoso Devices Ltd"))
    fabrikam = invite(org, rfq, vendor(org, "Fabrikam Prospects Ltd", approved=False))
    return rfq, northwind, contoso, fabrikam


def test_it_emails_an_answer_to_every_invited_vendor_without_who_asked(
    org, invited, django_capture_on_commit_callbacks, mailoutbox
):
    _, northwind, _, fabrikam = invited
    invitation_decline(invitation_id=fabrikam.pk, reason="")
    with django_capture_on_commit_callbacks(execute=True):
        question = question_ask(
            invitation_id=northwind.pk, text="May we offer the 16 inch model instead?"
        )
    [to_buyer] = mailoutbox
    assert to_buyer.to == [org.procurement.email]
    assert "Question from Northwind Hardware Ltd" in to_buyer.subject
    mailoutbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        question_answer(
            question_id=question.pk, by=org.procurement, answer="Yes, if the price is the same."
        )

    assert sorted(m.to[0] for m in mailoutbox) == [
        "sales@contoso.example",
        "sales@northwind.example",
    ]
    for message in mailoutbox:
        assert "May we offer the 16 inch model instead?" in message.body
        assert "Yes, if the price is the same." in message.body
    [to_contoso] = [m for m in mailoutbox if m.to == ["sales@contoso.example"]]
    assert "Northwind" not in to_contoso.body + to_contoso.subject + to_contoso.alternatives[0][0]


def test_it_shows_a_vendor_its_own_open_question_and_everyones_answers_only(org, invited):
    _, northwind, contoso, _ = invited
    asked = question_ask(invitation_id=northwind.pk, text="Is a docking station included?")
    question_ask(invitation_id=contoso.pk, text="Which keyboard layout?")
    client = org.client_for(org.outsider)

    northwind_page = client.get(portal_path(northwind)).content.decode()
    contoso_page = client.get(portal_path(contoso)).content.decode()

    assert "Is a docking station included?" in northwind_page
    assert "Which keyboard layout?" not in northwind_page
    assert "Is a docking station included?" not in contoso_page

    question_answer(question_id=asked.pk, by=org.procurement, answer="No, quote it separately.")

    contoso_page = client.get(portal_path(contoso)).content.decode()
    assert "Is a docking station included?" in contoso_page
    assert "No, quote it separately." in contoso_page
    assert "Northwind" not in contoso_page


def test_it_publishes_a_clarification_to_every_vendor(
    org, invited, django_capture_on_commit_callbacks, mailoutbox
):
    rfq, northwind, _, _ = invited

    with django_capture_on_commit_callbacks(execute=True):
        clarification_publish(
            rfq_id=rfq.pk,
            by=org.procurement,
            text="Delivery address",
            answer="Deliver to the London office, 3rd floor.",
        )

    assert len(mailoutbox) == 3
    assert all(m.subject.startswith("Answer published:") for m in mailoutbox)
    page = org.client_for(org.outsider).get(portal_path(northwind)).content.decode()
    assert "Deliver to the London office, 3rd floor." in page


def test_it_refuses_a_blank_question_and_one_after_the_deadline(org, invited):
    rfq, northwind, _, _ = invited

    with pytest.raises(InvalidInput) as refused:
        question_ask(invitation_id=northwind.pk, text="   ")
    assert refused.value.fields == {"text": ["Write your question."]}

    rfq.__class__.objects.filter(pk=rfq.pk).update(
        deadline=timezone.now() - dt.timedelta(seconds=1)
    )
    with pytest.raises(Conflict, match="questions are no longer taken"):
        question_ask(invitation_id=northwind.pk, text="Too late?")
    assert not Question.objects.exists()


def test_it_refuses_a_blank_answer_and_a_second_answer(org, invited):
    _, northwind, _, _ = invited
    question = question_ask(invitation_id=northwind.pk, text="Warranty?")

    with pytest.raises(InvalidInput) as refused:
        question_answer(question_id=question.pk, by=org.procurement, answer=" ")
    assert refused.value.fields == {"answer": ["Write the answer."]}

    question_answer(question_id=question.pk, by=org.procurement, answer="Three years.")
    with pytest.raises(Conflict, match="already answered"):
        question_answer(question_id=question.pk, by=org.procurement, answer="Two years.")
    question.refresh_from_db()
    assert question.answer == "Three years."


def test_it_bounds_the_questions_a_vendor_may_have_waiting(org, invited):
    """Each question emails the buyer: ten unanswered at once, then the vendor is told to wait
    for answers; an answer frees a place."""
    _, northwind, contoso, _ = invited
    asked = [question_ask(invitation_id=northwind.pk, text=f"Question {n}?") for n in range(1, 11)]

    with pytest.raises(Conflict, match="10 questions waiting for an answer"):
        question_ask(invitation_id=northwind.pk, text="One more?")
    page = Client().post(
        portal_path(northwind), {"intent": "ask", "text": "One more?"}, follow=True
    )

    assert Question.objects.filter(asked_by=northwind).count() == 10
    assert "10 questions waiting for an answer" in page.text
    # Another vendor is not held back, and an answer frees a place.
    question_ask(invitation_id=contoso.pk, text="Delivery to Leeds?")
    question_answer(question_id=asked[0].pk, by=org.procurement, answer="See the instructions.")
    question_ask(invitation_id=northwind.pk, text="One more?")
    assert Question.objects.filter(asked_by=northwind).count() == 11
