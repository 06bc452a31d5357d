"""POST /api/requests/{id}/{action}/: every move of the lifecycle, and every refusal."""

from __future__ import annotations

import pytest

from procurement.models import AuditEntry
from requests.tests.helpers import request_in_state


def act(org, user_role: str, request_id: int, action: str, comment: str | None = None):
    body = {} if comment is None else {"comment": comment}
    return org.client_for(getattr(org, user_role)).post(
        f"/api/requests/{request_id}/{action}/", body, content_type="application/json"
    )


@pytest.mark.parametrize(
    ("start", "who", "action", "comment", "end"),
    [
        ("draft", "requester", "submit", None, "submitted"),
        ("submitted", "manager", "approve", None, "approved"),
        ("submitted", "head", "approve", "Fine by me.", "approved"),
        ("submitted", "manager", "reject", "Not this quarter.", "rejected"),
        ("submitted", "manager", "return", "Add a quote.", "returned"),
        ("submitted", "procurement", "return", "Use the framework supplier.", "returned"),
        ("returned", "requester", "revise", None, "draft"),
        ("draft", "requester", "cancel", None, "cancelled"),
        ("approved", "procurement", "cancel", "Supplier gone.", "cancelled"),
        ("approved", "procurement", "order", None, "ordered"),
        ("ordered", "requester", "receive", None, "received"),
        ("ordered", "procurement", "receive", None, "received"),
        ("received", "procurement", "close", None, "closed"),
    ],
)
def test_it_moves_the_request_and_answers_with_the_new_detail(
    org, start, who, action, comment, end
):
    request = request_in_state(org, start)
    entries = AuditEntry.objects.count()

    response = act(org, who, request.pk, action, comment)

    assert response.status_code == 200, response.content
    assert response.json()["state"] == end
    request.refresh_from_db()
    assert request.state == end
    assert AuditEntry.objects.count() == entries + 1
    last = response.json()["timeline"][-1]
    assert (last["action"], last["from_state"], last["to_state"]) == (action, start, end)
    assert last["actor"]["username"] == getattr(org, who).username
    assert last["text"] == (comment or "")


def test_it_carries_a_request_from_draft_to_closed_through_the_api(org):
    request = request_in_state(org, "draft")
    steps = [
        ("requester", "submit", "submitted"),
        ("manager", "approve", "approved"),
        ("procurement", "order", "ordered"),
        ("requester", "receive", "received"),
        ("procurement", "close", "closed"),
    ]

    for who, action, state in steps:
        response = act(org, who, request.pk, action)
        assert (response.status_code, response.json()["state"]) == (200, state)

    timeline = org.client_for(org.requester).get(f"/api/requests/{request.pk}/").json()["timeline"]
    assert [event["action"] for event in timeline] == [
        "submit",
        "approve",
        "order",
        "receive",
        "close",
    ]


def test_it_emails_the_requester_when_their_request_is_approved(
    org, mailoutbox, django_capture_on_commit_callbacks
):
    request = request_in_state(org, "submitted")

    with django_capture_on_commit_callbacks(execute=True):
        response = act(org, "manager", request.pk, "approve")

    assert response.status_code == 200
    assert [message.to for message in mailoutbox] == [[org.requester.email]]


def test_it_lists_the_next_actions_after_a_move(org):
    request = request_in_state(org, "submitted")

    response = act(org, "manager", request.pk, "approve")

    # The manager approved; ordering is procurement's, so nothing is left for the manager.
    assert response.json()["available_actions"] == []


@pytest.mark.parametrize(
    ("start", "who", "action", "comment"),
    [
        ("submitted", "requester", "approve", None),
        ("submitted", "requester", "reject", "Changed my mind."),
        ("submitted", "procurement", "approve", None),
        ("submitted", "finance", "reject", "Too dear."),
        ("draft", "manager", "submit", None),
        ("returned", "manager", "revise", None),
        ("draft", "manager", "cancel", None),
        ("approved", "manager", "order", None),
        ("approved", "requester", "order", None),
        ("ordered", "finance", "receive", None),
        ("received", "requester", "close", None),
    ],
)
def test_it_answers_403_to_someone_who_sees_the_request_but_may_not_do_that(
    org, start, who, action, comment
):
    request = request_in_state(org, start)
    entries = AuditEntry.objects.count()

    response = act(org, who, request.pk, action, comment)

    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    assert request.reference in response.json()["detail"]
    request.refresh_from_db()
    assert request.state == start
    assert AuditEntry.objects.count() == entries


@pytest.mark.parametrize(
    ("start", "who", "action"),
    [
        ("draft", "manager", "approve"),
        ("submitted", "requester", "submit"),
        ("submitted", "requester", "revise"),
        ("approved", "manager", "approve"),
        ("rejected", "requester", "cancel"),
        ("ordered", "requester", "cancel"),
        ("submitted", "procurement", "order"),
        ("approved", "requester", "receive"),
        ("ordered", "procurement", "close"),
        ("closed", "procurement", "close"),
    ],
)
def test_it_answers_409_to_a_move_the_state_does_not_allow(org, start, who, action):
    request = request_in_state(org, start)
    entries = AuditEntry.objects.count()

    response = act(org, who, request.pk, action, "A reason.")

    assert response.status_code == 409
    assert response.json()["code"] == "conflict"
    assert response.json()["detail"].startswith(f"{request.reference} is ")
    request.refresh_from_db()
    assert request.state == start
    assert AuditEntry.objects.count() == entries


@pytest.mark.parametrize("action", ["reject", "return"])
@pytest.mark.parametrize("comment", [None, "", "   "], ids=["missing", "empty", "blank"])
def test_it_wants_a_comment_to_reject_or_return(org, action, comment):
    request = request_in_state(org, "submitted")
    entries = AuditEntry.objects.count()

    response = act(org, "manager", request.pk, action, comment)

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert response.json()["errors"] == {"comment": ["This field is required."]}
    request.refresh_from_db()
    assert request.state == "submitted"
    assert AuditEntry.objects.count() == entries


@pytest.mark.parametrize(
    ("start", "action"),
    [
        ("draft", "submit"),
        ("draft", "cancel"),
        ("submitted", "approve"),
        ("submitted", "return"),
        ("returned", "revise"),
        ("approved", "order"),
        ("ordered", "receive"),
        ("received", "close"),
    ],
)
def test_it_answers_404_to_someone_who_cannot_see_the_request(org, start, action):
    request = request_in_state(org, start)
    entries = AuditEntry.objects.count()

    response = act(org, "outsider", request.pk, action, "A reason.")

    assert response.status_code == 404
    assert response.json() == {
        "code": "not_found",
        "detail": "No such purchase request.",
        "errors": {},
    }
    request.refresh_from_db()
    assert request.state == start
    assert AuditEntry.objects.count() == entries


@pytest.mark.parametrize("action", ["reject", "return"])
def test_it_answers_404_before_asking_an_outsider_for_the_missing_comment(org, action):
    request = request_in_state(org, "submitted")

    response = act(org, "outsider", request.pk, action)

    assert response.status_code == 404
    request.refresh_from_db()
    assert request.state == "submitted"


def test_it_knows_no_action_outside_the_lifecycle(org):
    request = request_in_state(org, "draft")

    response = act(org, "requester", request.pk, "delete")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_it_does_not_move_anything_on_get(org):
    request = request_in_state(org, "draft")

    response = org.client_for(org.requester).get(f"/api/requests/{request.pk}/submit/")

    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"
    request.refresh_from_db()
    assert request.state == "draft"
