"""The line manager sees the decisions; returning needs a reason, which then shows on the timeline."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.helpers import BROWSER_DB, request_with_history

pytestmark = [pytest.mark.browser, pytest.mark.django_db(**BROWSER_DB)]


def test_it_returns_a_request_only_with_a_reason(org, page: Page, log_in_as, screenshot):
    request = request_with_history(org)
    log_in_as(org.manager)
    page.goto(f"/requests/{request.pk}/")
    expect(page.get_by_role("button", name="Approve")).to_be_visible()
    expect(page.get_by_role("button", name="Reject")).to_be_visible()
    screenshot(page, "detail-manager")

    page.get_by_role("button", name="Return for changes").click()
    # The browser itself refuses an empty reason before anything is posted.
    reason = page.get_by_label("Reason to return for changes")
    assert reason.evaluate("element => element.validity.valueMissing") is True
    expect(page.locator(".detail-head .badge")).to_have_text("Pending approval")

    reason.fill("The second quote is from the same reseller.")
    page.get_by_role("button", name="Return for changes").click()

    expect(page.locator(".detail-head .badge")).to_have_text("Returned for changes")
    expect(page.locator("#timeline")).to_contain_text(
        "Mark Manager returned for changes: The second quote is from the same reseller."
    )
    request.refresh_from_db()
    assert request.state == "returned"
