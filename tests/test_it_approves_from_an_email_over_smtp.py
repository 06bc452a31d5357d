"""A manager approves from the email itself: sent over real SMTP, its Approve link followed,
the confirmation page checked, then its form posted with the CSRF token a browser would send."""

from __future__ import annotations

import email
import email.policy
import re
from email.message import EmailMessage
from urllib.parse import urlsplit

import pytest
from django.test import Client

from approvals.tests.helpers import LINE_MANAGER, policy, submitted
from procurement.models import AuditEntry
from requests.models import PurchaseRequest
from tests.smtp import RecordingHandler

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


def test_it_approves_from_the_link_in_the_email(
    org, settings, smtp_server: RecordingHandler, django_capture_on_commit_callbacks
) -> None:
    settings.SITE_URL = "https://procurement.example.com"
    policy(LINE_MANAGER)
    with django_capture_on_commit_callbacks(execute=True):
        request = submitted(org, title="Standing desks")

    [envelope] = smtp_server.received
    assert envelope.rcpt_tos == ["mark@example.com"]
    assert isinstance(envelope.content, bytes)
    message = email.message_from_bytes(envelope.content, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    assert message["Subject"].startswith(f"Approval needed: {request.reference}")
    html_part = message.get_body(preferencelist=("html",))
    text_part = message.get_body(preferencelist=("plain",))
    assert html_part is not None
    assert text_part is not None
    [approve_url] = re.findall(r'<a href="([^"]+)"[^>]*>Approve</a>', html_part.get_content())
    text_lines = text_part.get_content().splitlines()
    assert text_lines[text_lines.index("Approve:") + 1] == approve_url
    link = urlsplit(approve_url)
    assert (link.scheme, link.netloc) == ("https", "procurement.example.com")

    browser = Client(enforce_csrf_checks=True)
    page = browser.get(f"{link.path}?{link.query}")

    assert page.status_code == 200
    html = page.content.decode()
    assert f"Approve or reject {request.reference}?" in html
    assert "Standing desks" in html
    assert PurchaseRequest.objects.get(pk=request.pk).state == "pending_approval"

    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    assert csrf is not None
    done = browser.post(
        f"{link.path}?{link.query}", {"decision": "approve", "csrfmiddlewaretoken": csrf[1]}
    )

    assert done.status_code == 200
    assert f"you approved {request.reference}" in done.content.decode()
    assert PurchaseRequest.objects.get(pk=request.pk).state == "approved"
    assert AuditEntry.objects.filter(
        object_id=request.pk, action="approved_step", actor=org.manager
    ).exists()
