"""From the mail in the local outbox to an approved request: the manager opens the emailed
Approve link (no login), confirms on the page, and the requester then sees "Approved"."""

from __future__ import annotations

import email
import email.policy
import re
from email.message import EmailMessage
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from approvals.tests.helpers import LINE_MANAGER, policy, submitted
from requests.models import PurchaseRequest
from tests.browser.helpers import BROWSER_DB

pytestmark = [pytest.mark.browser, pytest.mark.django_db(**BROWSER_DB)]


def approve_link_in_the_outbox(outbox: Path, to: str) -> str:
    for eml in sorted(outbox.glob("*.eml")):
        message = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        if message["To"] != to:
            continue
        html = message.get_body(preferencelist=("html",))
        assert html is not None
        [link] = re.findall(r'<a href="([^"]+)"[^>]*>Approve</a>', html.get_content())
        return link
    raise AssertionError(f"No mail to {to} in {outbox}")


def test_it_approves_from_the_link_in_the_outbox(
    org, settings, live_server, page: Page, log_in_as, screenshot
):
    settings.EMAIL_BACKEND = "procurement.mail.EmlOutboxBackend"
    settings.SITE_URL = live_server.url
    policy(LINE_MANAGER)
    request = submitted(org, title="Standing desks")  # the mail is written when it commits
    link = approve_link_in_the_outbox(Path(settings.EMAIL_OUTBOX_DIR), "mark@example.com")
    assert link.startswith(f"{live_server.url}/approvals/email/")

    page.goto(link)
    expect(
        page.get_by_role("heading", name=f"Approve or reject {request.reference}?")
    ).to_be_visible()
    expect(page.get_by_text("Standing desks").first).to_be_visible()
    screenshot(page, "email-approval-confirm")
    # Opening the page decided nothing: that takes the button.
    assert PurchaseRequest.objects.get(pk=request.pk).state == "pending_approval"

    page.get_by_role("button", name=f"Approve {request.reference}").click()

    expect(
        page.get_by_role("heading", name=f"Thank you — you approved {request.reference}")
    ).to_be_visible()
    screenshot(page, "email-approval-done")

    log_in_as(org.requester)
    page.goto(f"/requests/{request.pk}/")
    expect(page.locator(".detail-head .badge")).to_have_text("Approved")
    expect(page.locator("#timeline")).to_contain_text("Mark Manager")
