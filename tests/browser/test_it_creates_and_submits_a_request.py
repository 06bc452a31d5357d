"""The whole way through: log in, fill in a request with two lines, submit it, see it on the timeline."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from playwright.sync_api import Page, expect

from requests.models import PurchaseRequest
from tests.browser.helpers import BROWSER_DB, add_line, fill_line, fill_request_fields

pytestmark = [pytest.mark.browser, pytest.mark.django_db(**BROWSER_DB)]


def test_it_creates_and_submits_a_request_with_two_lines(org, page: Page, password, screenshot):
    page.goto("/requests/new/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/requests/new/$"))
    screenshot(page, "login")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()

    expect(page.get_by_role("heading", name="New purchase request")).to_be_visible()
    fill_request_fields(page)
    page.get_by_label("Currency").select_option("EUR")
    fill_line(page, 0, description="Laptop", quantity="2", unit_price="1249.99")
    add_line(page)
    # The new row takes the cursor, so typing can go straight on.
    expect(page.locator("#id_line_items-1-description")).to_be_focused()
    fill_line(page, 1, description="USB-C dock", quantity="3", unit_price="150.01")
    expect(page.locator("#id_line_items-TOTAL_FORMS")).to_have_value("2")
    expect(page.locator("#estimated-total")).to_have_text("2,950.01 EUR")
    screenshot(page, "form")

    page.get_by_role("button", name="Save draft").click()

    expect(page.get_by_role("heading", name="Laptops for the new starters")).to_be_visible()
    expect(page.get_by_role("status").first).to_contain_text("saved as a draft")
    screenshot(page, "detail-draft")
    page.get_by_role("button", name="Submit", exact=True).click()

    expect(page.locator(".detail-head .badge")).to_have_text("Pending approval")
    timeline = page.locator("#timeline")
    expect(timeline).to_contain_text("Alice Asker submitted")
    expect(timeline.locator("time")).to_have_count(3)  # created, submitted, sent for approval
    expect(page.locator(".line-table tfoot")).to_contain_text("2,950.01 EUR")
    screenshot(page, "detail")

    created = PurchaseRequest.objects.get()
    assert created.state == "pending_approval"
    assert created.currency == "EUR"
    assert created.total == Decimal("2950.01")
    assert [line.description for line in created.line_items.all()] == ["Laptop", "USB-C dock"]
