"""Every field of the request form can be reached with Tab and filled without a mouse."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from requests.models import PurchaseRequest
from tests.browser.helpers import BROWSER_DB

pytestmark = [pytest.mark.browser, pytest.mark.django_db(**BROWSER_DB)]


def focused(page: Page) -> str:
    return page.evaluate("document.activeElement.id || document.activeElement.textContent.trim()")


def a_date_typed_the_same_either_way() -> dt.date:
    """The next date whose day and month are one number (12 Dec, 1 Jan...): typed as digits it
    means the same whether this Chromium's date field wants the day or the month first."""
    day = timezone.localdate() + dt.timedelta(days=1)
    while day.day != day.month:
        day += dt.timedelta(days=1)
    return day


def tab_to(page: Page, target: str, *, at_most: int = 10) -> None:
    """Press Tab until `target` (an id or a button's text) has the focus."""
    for _ in range(at_most):
        page.keyboard.press("Tab")
        if focused(page) == target:
            return
    raise AssertionError(f"Tab never reached {target!r}; the focus is on {focused(page)!r}")


def test_it_tabs_through_the_form_in_reading_order(org, page: Page, log_in_as):
    log_in_as(org.requester)
    page.goto("/requests/new/")

    seen: list[str] = []
    for _ in range(45):
        page.keyboard.press("Tab")
        current = focused(page)
        if not seen or seen[-1] != current:  # a date input takes several Tabs, one per part
            seen.append(current)

    expected = [
        "id_title",
        "id_justification",
        "id_department",
        "id_cost_centre",
        "id_category",
        "id_needed_by",
        "id_currency",
        "id_line_items-0-description",
        "id_line_items-0-quantity",
        "id_line_items-0-unit",
        "id_line_items-0-unit_price",
        "id_line_items-0-vendor_sku",
        "id_line_items-0-vendor_url",
        "add-line",
        "id_attachments",
        "Save draft",
        "Save and submit",
    ]
    positions = [seen.index(name) for name in expected]
    assert positions == sorted(positions), seen


def test_it_fills_and_saves_a_request_with_the_keyboard_only(org, page: Page, log_in_as):
    log_in_as(org.requester)
    page.goto("/requests/new/")
    needed_by = a_date_typed_the_same_either_way()

    tab_to(page, "id_title", at_most=15)
    page.keyboard.type("Keyboard-only request")
    tab_to(page, "id_justification")
    page.keyboard.type("Typed without a mouse.")
    tab_to(page, "id_category")
    page.keyboard.type("Soft")  # a focused select jumps to the option typed
    tab_to(page, "id_needed_by")
    page.keyboard.type(needed_by.strftime("%d%m%Y"))
    expect(page.locator("#id_needed_by")).to_have_value(needed_by.isoformat())
    tab_to(page, "id_currency")
    page.keyboard.type("EUR")
    tab_to(page, "id_line_items-0-description")
    page.keyboard.type("Licence")
    tab_to(page, "id_line_items-0-quantity")
    page.keyboard.type("3")
    tab_to(page, "id_line_items-0-unit_price")
    page.keyboard.type("99.50")
    tab_to(page, "add-line")
    page.keyboard.press("Enter")
    expect(page.locator("#id_line_items-1-description")).to_be_focused()
    page.keyboard.type("Support plan")
    tab_to(page, "id_line_items-1-quantity")
    page.keyboard.type("1")
    tab_to(page, "id_line_items-1-unit_price")
    page.keyboard.type("120")
    expect(page.locator("#estimated-total")).to_have_text("418.50 EUR")
    tab_to(page, "Save draft", at_most=15)
    page.keyboard.press("Enter")

    expect(page.get_by_role("heading", name="Keyboard-only request")).to_be_visible()
    created = PurchaseRequest.objects.get()
    assert created.category.code == "software"
    assert created.currency == "EUR"
    assert created.needed_by == needed_by
    assert [(line.description, str(line.quantity)) for line in created.line_items.all()] == [
        ("Licence", "3.000"),
        ("Support plan", "1.000"),
    ]
