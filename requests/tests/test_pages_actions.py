"""POST /requests/<pk>/actions/<action>/: every button on the detail page, and every refusal."""

from __future__ import annotations

import pytest

from procurement.models import AuditEntry
from requests.tests.helpers import draft_for, request_in_state
from requests.tests.page_helpers import flash_messages, text

pytestmark = pytest.mark.django_db

BUTTONS = [
    # from state, action, who clicks, state after, message
    ("draft", "submit", "requester", "submitted", "submitted."),
    ("submitted", "approve", "manager", "approved", "approved."),
    ("submitted", "reject", "manager", "rejected", "rejected."),
    ("submitted", "return", "manager", "returned", "returned for changes."),
    ("draft", "cancel", "requester", "cancelled", "cancelled."),
    ("approved", "order", "procurement", "ordered", "marked ordered."),
    ("ordered", "receive", "requester", "received", "marked received."),
    ("received", "close", "procurement", "closed", "closed."),
]


@pytest.mark.parametrize(("state", "action", "who", "after", "message"), BUTTONS)
def test_it_fires_each_button_and_goes_back_to_the_request(org, state, action, who, after, message):
    request = request_in_state(org, state)

    response = org.client_for(getattr(org, who)).post(
        f"/requests/{request.pk}/actions/{action}/", {"comment": "Looks right."}
    )

    assert response.status_code == 302
    assert response["Location"] == f"/requests/{request.pk}/"
    request.refresh_from_db()
    assert request.state == after
    assert flash_messages(response) == [f"{request.reference} {message}"]
    entry = AuditEntry.objects.filter(object_id=request.pk, action=action).get()
    assert entry.actor == getattr(org, who)
    assert entry.comment == "Looks right."


def test_it_sends_a_revised_request_to_the_edit_page(org):
    returned = request_in_state(org, "returned")

    response = org.client_for(org.requester).post(f"/requests/{returned.pk}/actions/revise/")

    assert response.status_code == 302
    assert response["Location"] == f"/requests/{returned.pk}/edit/"
    returned.refresh_from_db()
    assert returned.state == "draft"


@pytest.mark.parametrize("action", ["reject", "return"])
def test_it_requires_a_reason_to_reject_or_return(org, action):
    submitted = request_in_state(org, "submitted")

    response = org.client_for(org.manager).post(
        f"/requests/{submitted.pk}/actions/{action}/", {"comment": "   "}, follow=True
    )

    assert response.redirect_chain == [(f"/requests/{submitted.pk}/", 302)]
    assert "A comment is required to" in text(response)
    submitted.refresh_from_db()
    assert submitted.state == "submitted"


def test_it_refuses_a_submit_by_someone_who_is_not_the_requester(org):
    draft = draft_for(org)

    response = org.client_for(org.manager).post(
        f"/requests/{draft.pk}/actions/submit/", follow=True
    )

    assert response.status_code == 200
    assert f"Only the requester can submit {draft.reference}." in text(response)
    draft.refresh_from_db()
    assert draft.state == "draft"


def test_it_explains_a_double_submit(org):
    draft = draft_for(org)
    client = org.client_for(org.requester)

    first = client.post(f"/requests/{draft.pk}/actions/submit/")
    second = client.post(f"/requests/{draft.pk}/actions/submit/", follow=True)

    assert first.status_code == 302
    assert second.redirect_chain == [(f"/requests/{draft.pk}/", 302)]
    assert f"{draft.reference} is submitted; it cannot be submitted" in text(second)
    assert AuditEntry.objects.filter(object_id=draft.pk, action="submit").count() == 1


def test_it_explains_why_a_request_without_lines_cannot_be_submitted(org):
    empty = draft_for(org, line_items=0)

    response = org.client_for(org.requester).post(
        f"/requests/{empty.pk}/actions/submit/", follow=True
    )

    assert "Add at least one line item before submitting." in text(response)
    empty.refresh_from_db()
    assert empty.state == "draft"


def test_it_refuses_an_approval_by_the_requester(org):
    submitted = request_in_state(org, "submitted")

    response = org.client_for(org.requester).post(
        f"/requests/{submitted.pk}/actions/approve/", follow=True
    )

    assert f"You are not an approver of {submitted.reference}." in text(response)
    submitted.refresh_from_db()
    assert submitted.state == "submitted"


def test_it_answers_404_to_someone_who_cannot_see_the_request(org):
    draft = draft_for(org)

    response = org.client_for(org.outsider).post(f"/requests/{draft.pk}/actions/cancel/")

    assert response.status_code == 404
    draft.refresh_from_db()
    assert draft.state == "draft"


def test_it_answers_404_for_an_unknown_action(org):
    draft = draft_for(org)

    assert (
        org.client_for(org.requester).post(f"/requests/{draft.pk}/actions/explode/").status_code
        == 404
    )


@pytest.mark.parametrize("action", ["submit", "cancel", "approve"])
def test_it_never_changes_anything_on_get(org, action):
    draft = draft_for(org)

    response = org.client_for(org.requester).get(f"/requests/{draft.pk}/actions/{action}/")

    assert response.status_code == 405
    draft.refresh_from_db()
    assert draft.state == "draft"


def test_it_needs_the_csrf_token(org):
    from django.test import Client

    draft = draft_for(org)
    client = Client(enforce_csrf_checks=True)
    client.force_login(org.requester)

    response = client.post(f"/requests/{draft.pk}/actions/submit/")

    assert response.status_code == 403
    draft.refresh_from_db()
    assert draft.state == "draft"


def test_it_refuses_an_overlong_comment_without_acting(org):
    submitted = request_in_state(org, "submitted")

    response = org.client_for(org.manager).post(
        f"/requests/{submitted.pk}/actions/approve/", {"comment": "x" * 5001}, follow=True
    )

    assert "Comment: Ensure this value has at most 5000 characters (it has 5001)." in text(response)
    submitted.refresh_from_db()
    assert submitted.state == "submitted"
