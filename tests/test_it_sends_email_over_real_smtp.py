"""Email leaves through a real SMTP conversation, once per key (email_send_once)."""

from __future__ import annotations

import email
import email.policy
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from procurement.models import SentEmail
from requests.emails import send_mention_emails
from requests.models import Comment
from requests.services import comment_create
from tests.factories import PurchaseRequestFactory


@dataclass
class RecordingHandler:
    received: list[Envelope] = field(default_factory=list)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.received.append(envelope)
        return "250 Message accepted for delivery"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def smtp_port(settings) -> int:
    """A port nothing listens on yet, with Django's SMTP backend pointed at it."""
    port = _free_port()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = port
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_TIMEOUT = 10
    return port


@pytest.fixture
def smtp_server(smtp_port: int) -> Iterator[RecordingHandler]:
    handler = RecordingHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    yield handler
    controller.stop()


@pytest.fixture
def mention(org) -> Comment:
    request = PurchaseRequestFactory.create(
        requester=org.requester, department=org.department, cost_centre=org.cost_centre
    )
    # The test's transaction never commits, so nothing is queued: the tests send by hand.
    return comment_create(
        request_id=request.pk, by=org.requester, body="@mark the quote runs out Friday"
    )


def _parsed(envelope: Envelope) -> EmailMessage:
    assert isinstance(envelope.content, bytes)
    message = email.message_from_bytes(envelope.content, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


@pytest.mark.integration
def test_it_sends_a_mention_with_text_and_html_parts(
    smtp_server: RecordingHandler, mention: Comment
) -> None:
    assert send_mention_emails(comment_id=mention.pk) == 1

    [envelope] = smtp_server.received
    assert envelope.rcpt_tos == ["mark@example.com"]
    message = _parsed(envelope)
    assert message["To"] == "mark@example.com"
    assert message["Subject"] == (
        f"Alice Asker mentioned you on {mention.request.reference}: {mention.request.title}"
    )
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert text is not None
    assert html is not None
    assert "the quote runs out Friday" in text.get_content()
    assert "the quote runs out Friday" in html.get_content()
    assert "<a href=" in html.get_content()


@pytest.mark.integration
def test_it_does_not_send_the_same_mention_twice(
    smtp_server: RecordingHandler, mention: Comment
) -> None:
    send_mention_emails(comment_id=mention.pk)

    # A retried or duplicated task: the key is already recorded, so nothing leaves.
    assert send_mention_emails(comment_id=mention.pk) == 0

    assert len(smtp_server.received) == 1
    assert (
        SentEmail.objects.filter(
            key=f"mention:{mention.pk}:{mention.request.requester.manager_id}"
        ).count()
        == 1
    )


@pytest.mark.integration
def test_it_sends_on_the_retry_after_the_server_was_down(smtp_port: int, mention: Comment) -> None:
    # Nothing listens on the port yet: the send fails and must leave no "already sent" key.
    with pytest.raises(OSError):
        send_mention_emails(comment_id=mention.pk)
    assert not SentEmail.objects.exists()

    handler = RecordingHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    try:
        assert send_mention_emails(comment_id=mention.pk) == 1
    finally:
        controller.stop()

    [envelope] = handler.received
    assert envelope.rcpt_tos == ["mark@example.com"]
