"""Under the strict Content-Security-Policy, the main pages work and the browser refuses nothing.

Chromium reports each blocked inline script or style, eval and foreign load as a console
message ("Refused to load ...", "Executing inline script violates the following Content
Security Policy directive ..."). The page fixture (conftest.py) collects them in `csp_refusals` and
fails every browser test on one; here the main pages are visited on purpose, with their
scripted parts at work (htmx, Chart.js, Swagger UI, the admin).
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from analytics.tests.test_it_shows_spend_dashboards import Line, add_spend
from sourcing.tests.helpers import issued_po
from tests.browser.helpers import BROWSER_DB, add_line, request_with_history

pytestmark = [pytest.mark.browser, pytest.mark.django_db(**BROWSER_DB)]


def test_it_loads_the_main_pages_without_a_refusal(org, page: Page, password, csp_refusals):
    request = request_with_history(org)
    po = issued_po(org)
    today = timezone.localdate()
    add_spend(
        [
            Line(today.replace(day=1), Decimal("1200.00"), "Dell", "Hardware", "IT"),
            Line(today, Decimal("300.00"), "Adobe", "Software", "Marketing"),
        ]
    )

    # The login form itself, as a person uses it.
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(org.procurement.username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()

    page.goto("/requests/new/")
    add_line(page)  # an htmx request and swap
    expect(page.locator("#line_items-1")).to_be_visible()

    for path in [
        "/requests/",
        f"/requests/{request.pk}/",
        "/approvals/",
        "/vendors/",
        "/contracts/",
        "/sourcing/",
        "/orders/",
        f"/orders/{po.pk}/",
        "/planning/needs/",
        "/planning/budgets/",
    ]:
        page.goto(path)
        expect(page.locator("main h1").first).to_be_visible()

    # Chart.js draws on a canvas and sizes it through element.style, which the policy allows.
    for path in ["/analytics/", "/planning/forecast/"]:
        page.goto(path)
        expect(page.locator("canvas").first).to_be_visible()

    assert csp_refusals == []


def test_it_runs_the_api_docs_and_the_admin_without_a_refusal(
    org, page: Page, log_in_as, csp_refusals
):
    log_in_as(org.admin)

    page.goto("/api/docs/")
    # Swagger UI is a script: an operation listed means it ran, and fetched the schema.
    expect(page.get_by_text("/api/requests/", exact=True).first).to_be_visible()

    page.goto("/admin/")
    expect(page.get_by_role("heading", name="Site administration")).to_be_visible()
    page.goto("/admin/procurement/user/")
    expect(page.locator("#result_list")).to_be_visible()

    assert csp_refusals == []


def test_it_refuses_a_script_injected_into_a_page(org, page: Page, log_in_as, csp_refusals):
    # What the policy is for: markup an attacker slipped into a page does not run. Also
    # shows that the page fixture hears a refusal when there is one.
    log_in_as(org.requester)
    page.goto("/requests/")

    page.evaluate(
        """() => {
            const script = document.createElement("script");
            script.textContent = "window.injected = true";
            document.body.append(script);
            const style = document.createElement("style");
            style.textContent = "body { display: none }";
            document.head.append(style);
        }"""
    )

    assert page.evaluate("window.injected") is None
    expect(page.get_by_role("heading", name="My requests")).to_be_visible()
    assert any("inline script" in text for text in csp_refusals)
    assert any("inline style" in text for text in csp_refusals)
    csp_refusals.clear()  # expected here: the page fixture must not count them as the page's
