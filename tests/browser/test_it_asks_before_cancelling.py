"""Cancelling cannot be undone, so the page asks first; saying no leaves the request alone."""

from __future__ import annotations

import pytest
from playwright.sync_api import Dialog, Page, expect

from requests.tests.helpers import draft_for
from tests.browser.helpers import BROWSER_DB

pytestmark = [pytest.mark.browser, pytest.mark.django_db(**BROWSER_DB)]


def test_it_cancels_only_after_the_requester_confirms(org, page: Page, log_in_as):
    draft = draft_for(org)
    log_in_as(org.requester)
    page.goto(f"/requests/{draft.pk}/")
    questions: list[str] = []

    def say(answer: bool):
        def respond(dialog: Dialog) -> None:
            questions.append(dialog.message)
            dialog.accept() if answer else dialog.dismiss()

        return respond

    page.once("dialog", say(False))
    page.get_by_role("button", name="Cancel request").click()

    expect(page.locator(".detail-head .badge")).to_have_text("Draft")
    draft.refresh_from_db()
    assert draft.state == "draft"

    page.once("dialog", say(True))
    page.get_by_role("button", name="Cancel request").click()

    expect(page.locator(".detail-head .badge")).to_have_text("Cancelled")
    expect(page.get_by_role("status").first).to_have_text(f"{draft.reference} cancelled.")
    assert questions == [f"Cancel {draft.reference}? This cannot be undone."] * 2
    draft.refresh_from_db()
    assert draft.state == "cancelled"
