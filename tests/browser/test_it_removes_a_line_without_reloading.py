"""The Remove button hides a line at once, and the saved request leaves it out."""

from __future__ import annotations

from decimal import Decimal

import pytest
from playwright.sync_api import Page, expect

from requests.models import PurchaseRequest
from tests.browser.helpers import BROWSER_DB, add_line, fill_line, fill_request_fields

pytestmark = [pytest.mark.browser, pytest.mark.django_db(**BROWSER_DB)]


def test_it_removes_a_line_without_reloading_the_page(org, page: Page, log_in_as):
    log_in_as(org.requester)
    page.goto("/requests/new/")
    fill_request_fields(page)
    fill_line(page, 0, description="Laptop", quantity="2", unit_price="1249.99")
    add_line(page)
    fill_line(page, 1, description="USB-C dock", quantity="3", unit_price="150.01")
    expect(page.locator("#estimated-total")).to_have_text("2,950.01 GBP")
    page.evaluate("window.stillTheSamePage = true")

    page.locator("#line_items-0").get_by_role("button", name="Remove").click()

    expect(page.locator("#line_items-0")).to_be_hidden()
    assert page.evaluate("window.stillTheSamePage") is True
    expect(page.locator("#id_line_items-0-DELETE")).to_be_checked()
    expect(page.locator("#line_items-1 legend")).to_have_text("Line 1")
    expect(page.locator("#estimated-total")).to_have_text("450.03 GBP")
    expect(page.get_by_role("button", name="Add line")).to_be_focused()

    page.get_by_role("button", name="Save draft").click()

    expect(page.locator(".detail-head .badge")).to_have_text("Draft")
    created = PurchaseRequest.objects.get()
    assert [line.description for line in created.line_items.all()] == ["USB-C dock"]
    assert created.total == Decimal("450.03")
