"""POST /requests/<pk>/comments/: comments on the timeline, and @mentions by email."""

from __future__ import annotations

import pytest

from requests.models import Comment
from requests.tests.helpers import draft_for
from requests.tests.page_helpers import field_error, text

pytestmark = pytest.mark.django_db


def test_it_adds_a_comment_to_the_timeline(org):
    draft = draft_for(org)
    client = org.client_for(org.requester)

    response = client.post(f"/requests/{draft.pk}/comments/", {"body": "The dock must be USB-C."})

    assert response.status_code == 302
    assert response["Location"] == f"/requests/{draft.pk}/#timeline"
    assert "Alice Asker commented The dock must be USB-C." in text(
        client.get(f"/requests/{draft.pk}/")
    )


def test_it_emails_a_mentioned_colleague_once(org, mailoutbox, django_capture_on_commit_callbacks):
    draft = draft_for(org)

    with django_capture_on_commit_callbacks(execute=True):
        response = org.client_for(org.requester).post(
            f"/requests/{draft.pk}/comments/", {"body": "@mark could you approve this one quickly?"}
        )

    assert response.status_code == 302
    assert len(mailoutbox) == 1
    assert mailoutbox[0].to == ["mark@example.com"]
    assert draft.reference in mailoutbox[0].subject
    assert "could you approve this one quickly?" in mailoutbox[0].body


def test_it_sends_no_email_without_a_mention(org, mailoutbox, django_capture_on_commit_callbacks):
    draft = draft_for(org)

    with django_capture_on_commit_callbacks(execute=True):
        org.client_for(org.requester).post(
            f"/requests/{draft.pk}/comments/", {"body": "Just a note."}
        )

    assert mailoutbox == []


def test_it_refuses_an_empty_comment_next_to_the_field(org):
    draft = draft_for(org)

    response = org.client_for(org.requester).post(
        f"/requests/{draft.pk}/comments/", {"body": "   "}
    )

    assert response.status_code == 400
    assert field_error(response, "id_body") == "This field is required."
    assert Comment.objects.count() == 0


def test_it_answers_404_to_someone_who_cannot_see_the_request(org):
    draft = draft_for(org)

    response = org.client_for(org.outsider).post(
        f"/requests/{draft.pk}/comments/", {"body": "Hello?"}
    )

    assert response.status_code == 404
    assert Comment.objects.count() == 0


def test_it_only_accepts_posts(org):
    draft = draft_for(org)

    assert org.client_for(org.requester).get(f"/requests/{draft.pk}/comments/").status_code == 405
