"""Comments and @mentions: bring finance, legal or IT into the discussion."""

from __future__ import annotations

import pytest

from procurement.errors import InvalidInput, NotFound
from requests.selectors import purchase_request_timeline
from requests.services import comment_create, purchase_request_transition
from requests.tests.helpers import draft_for, request_in_state
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_it_emails_each_mentioned_colleague_once(
    org, django_capture_on_commit_callbacks, mailoutbox
):
    request = draft_for(org)

    with django_capture_on_commit_callbacks(execute=True):
        comment = comment_create(
            request_id=request.pk,
            by=org.requester,
            body="@fiona is this in budget? @Fiona, and @lee too.",
        )

    assert set(comment.mentions.values_list("username", flat=True)) == {"fiona", "lee"}
    assert sorted(message.to[0] for message in mailoutbox) == [org.finance.email, org.legal.email]
    message = next(m for m in mailoutbox if m.to == [org.finance.email])
    assert message.subject == f"Alice Asker mentioned you on {request.reference}: {request.title}"
    assert "is this in budget?" in message.body
    html = message.alternatives[0][0]
    assert f'href="http://127.0.0.1:8000/requests/{request.pk}/"' in html


def test_it_writes_the_title_in_the_mention_subject_as_typed(
    org, django_capture_on_commit_callbacks, mailoutbox
):
    # A subject is plain text: HTML escaping would show "Tom&#x27;s &amp; Jerry&#x27;s".
    request = draft_for(org, title="Tom's & Jerry's <dock>")

    with django_capture_on_commit_callbacks(execute=True):
        comment_create(request_id=request.pk, by=org.requester, body="@fiona budget?")

    assert mailoutbox[0].subject == (
        f"Alice Asker mentioned you on {request.reference}: Tom's & Jerry's <dock>"
    )


def test_it_ignores_unknown_names_emails_and_self_mentions(
    org, django_capture_on_commit_callbacks, mailoutbox
):
    request = draft_for(org)
    UserFactory(username="gone", is_active=False)

    with django_capture_on_commit_callbacks(execute=True):
        comment = comment_create(
            request_id=request.pk,
            by=org.requester,
            body="@nobody @gone @alice write to ops@example.com",
        )

    assert comment.mentions.count() == 0
    assert mailoutbox == []


def test_it_does_not_send_a_mention_twice_when_the_task_is_retried(
    org, django_capture_on_commit_callbacks, mailoutbox
):
    from requests.tasks import notify_mentions

    request = draft_for(org)
    with django_capture_on_commit_callbacks(execute=True):
        comment = comment_create(request_id=request.pk, by=org.requester, body="@pat please quote")

    assert notify_mentions(comment.pk) == 0  # a redelivered task finds the send already recorded
    assert len(mailoutbox) == 1


def test_it_refuses_an_empty_comment(org):
    request = draft_for(org)
    with pytest.raises(InvalidInput, match="cannot be empty"):
        comment_create(request_id=request.pk, by=org.requester, body="   ")


def test_it_refuses_comments_from_people_who_cannot_see_the_request(org):
    request = draft_for(org)
    with pytest.raises(NotFound):
        comment_create(request_id=request.pk, by=org.outsider, body="hello")


def test_it_puts_comments_and_state_changes_on_one_timeline(org):
    request = request_in_state(org, "submitted")
    comment_create(request_id=request.pk, by=org.manager, body="Why four docks?")
    purchase_request_transition(
        request_id=request.pk, by=org.manager, action="return", comment="Two is enough."
    )

    timeline = purchase_request_timeline(request=request)

    assert [
        (event.kind, event.action or event.text, event.actor.username) for event in timeline
    ] == [
        ("transition", "submit", "alice"),
        ("comment", "Why four docks?", "mark"),
        ("transition", "return", "mark"),
    ]
    assert timeline[-1].text == "Two is enough."
    assert timeline[-1].to_state == "returned"
