"""A refused value is explained under its own field, which gets the focus; nothing is saved."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from requests.models import PurchaseRequest
from tests.browser.helpers import BROWSER_DB, add_line, fill_line, fill_request_fields

pytestmark = [pytest.mark.browser, pytest.mark.django_db(**BROWSER_DB)]


def test_it_shows_a_negative_quantity_error_next_to_the_quantity(
    org, page: Page, log_in_as, screenshot
):
    log_in_as(org.requester)
    page.goto("/requests/new/")
    fill_request_fields(page)
    fill_line(page, 0, description="Laptop", quantity="2", unit_price="1249.99")
    add_line(page)
    fill_line(page, 1, description="USB-C dock", quantity="-3", unit_price="150.01")

    page.get_by_role("button", name="Save draft").click()

    quantity = page.locator("#id_line_items-1-quantity")
    error = page.locator("#id_line_items-1-quantity_error")
    expect(error).to_have_text("Quantity must be greater than zero.")
    expect(quantity).to_have_attribute("aria-invalid", "true")
    expect(quantity).to_have_attribute("aria-describedby", "id_line_items-1-quantity_error")
    expect(quantity).to_have_value("-3")
    expect(quantity).to_be_focused()
    expect(page.locator("#id_line_items-0-quantity")).not_to_have_attribute("aria-invalid", "true")
    expect(page.get_by_role("alert").first).to_contain_text("Please correct the errors below.")
    screenshot(page, "form-error")
    assert PurchaseRequest.objects.count() == 0
