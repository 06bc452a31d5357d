"""The needs board in a real browser, through the pages: Alice (IT) posts a problem, Otto
(Marketing) finds it on the board, says "we need this too" with his own numbers and suggests
an alternative; Pat (procurement) ticks it and another open need on the board and gathers
them into one draft purchase request, one line per need at its rough budget."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from planning.tests.helpers import objective
from planning.tests.test_need_helpers import in_days, post_need
from tests.browser.helpers import BROWSER_DB

pytestmark = [pytest.mark.browser, pytest.mark.django_db(**BROWSER_DB)]

TITLE = "Video calls drop in the meeting rooms"
GOAL = "Hybrid meetings that work"


def test_it_posts_a_need_gathers_support_and_consolidates_it_into_a_request(
    org, context: BrowserContext, page: Page, log_in_as, screenshot
):
    goal = objective(org, name=GOAL)  # company-wide, set by finance in the admin
    # Another open need, Marketing's, for the same objective, already on the board.
    post_need(
        org,
        by=org.outsider,
        title="Headsets for the events team",
        people=4,
        budget="800",
        objective=goal,
    )

    # 1. Alice posts the problem, not a product.
    log_in_as(org.requester)
    page.goto("/planning/needs/")
    page.get_by_role("button", name="Post a need").click()
    page.get_by_label("Title").fill(TITLE)
    page.get_by_label("Problem").fill("Remote colleagues cannot hear the room.")
    expect(page.get_by_label("Department")).to_have_value(str(org.department.pk))
    page.get_by_label("People affected").fill("10")
    page.get_by_label("Needed by").fill(in_days(30).isoformat())
    page.get_by_label("Rough budget").fill("1000")
    page.get_by_label("Business objective").select_option(
        label=f"{GOAL} ({goal.fiscal_year}, company-wide)"
    )
    page.get_by_role("button", name="Post the need").click()
    expect(page.locator(".flash").first).to_have_text(
        re.compile(r"^N-\d{6} posted to the needs board\.$")
    )
    expect(page.get_by_role("heading", level=1)).to_have_text(TITLE)
    screenshot(page, "needs-posted")

    # 2. Otto, in Marketing, finds it on the board and says Marketing needs it too.
    context.clear_cookies()
    log_in_as(org.outsider)
    page.goto("/planning/needs/")
    row = page.locator("tbody tr", has_text=TITLE)
    expect(row.locator("td[data-label='Departments']")).to_have_text("IT")
    row.get_by_role("link", name=TITLE).click()
    support = page.locator("#support-form")
    support.get_by_label("People affected").fill("5")
    support.get_by_label("Rough budget").fill("500")
    support.get_by_label("Note").fill("Same in our rooms.")
    support.get_by_role("button", name="We need this too").click()
    expect(page.locator(".flash").first).to_have_text("Noted: Marketing needs this too.")
    facts = page.locator("dl.facts")
    expect(facts.locator("div", has_text="Departments")).to_contain_text("IT, Marketing")
    expect(facts.locator("div", has_text="People affected")).to_contain_text("15 (10 in IT)")
    expect(facts.locator("div", has_text="Rough budget")).to_contain_text(
        "1,500.00 GBP (1,000.00 for IT)"
    )
    # ...and suggests another way to solve it.
    comments = page.locator("#comment-form")
    comments.get_by_role("radio", name="Alternative").check()
    comments.get_by_label("Your comment or alternative").fill("Headsets instead of room kits.")
    comments.get_by_role("button", name="Add").click()
    expect(page.locator(".flash").first).to_have_text("Alternative added.")
    expect(page.locator("#comments")).to_contain_text("Otto Outsider suggested an alternative")
    screenshot(page, "needs-supported")

    # 3. Pat, procurement, gathers both open needs into one request.
    context.clear_cookies()
    log_in_as(org.procurement)
    page.goto("/planning/needs/")
    page.get_by_label(f"Select “{TITLE}”").check()
    page.get_by_label("Select “Headsets for the events team”").check()
    page.get_by_role("button", name="Consolidate selected needs…").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Consolidate 2 needs")
    expect(page.locator(".page-head")).to_contain_text(
        "Volume is leverage: 19 people in 2 departments, 2,300.00 GBP of rough budget."
    )
    page.get_by_label("A new draft purchase request").check()
    page.get_by_label("Title of the request").fill("Meeting room audio for IT and Marketing")
    page.get_by_label("Department").select_option(label="IT")
    page.get_by_label("Cost centre").select_option(label="IT-100 IT operations (IT)")
    page.get_by_label("Category").select_option(label="Hardware")
    page.get_by_label("Note").fill("One order, one installer.")
    screenshot(page, "needs-consolidate")
    page.get_by_role("button", name="Consolidate", exact=True).click()

    expect(page.locator(".flash").first).to_have_text("Needs consolidated.")
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "2 needs consolidated into a purchase request"
    )
    leverage = page.locator("dl.facts")
    expect(leverage.locator("div", has_text="People affected")).to_contain_text("19")
    expect(leverage.locator("div", has_text="Rough budget")).to_contain_text("2,300.00 GBP")
    screenshot(page, "needs-consolidated")
    leverage.get_by_role("link", name=re.compile("Meeting room audio for IT and Marketing")).click()

    # The request is Pat's draft: one line per need at its rough budget with its supporters'.
    expect(page.locator(".detail-head .badge")).to_have_text("Draft")
    lines = page.locator(".line-table tbody tr")
    expect(lines).to_have_count(2)
    expect(lines.filter(has_text=TITLE)).to_contain_text("1,500.00")
    expect(lines.filter(has_text="Headsets for the events team")).to_contain_text("800.00")
    expect(page.locator(".line-table tfoot")).to_contain_text("2,300.00 GBP")
    # ...serving the objective both needs serve, so it can be submitted as it is.
    expect(page.locator("dl.facts > div", has_text="Objective")).to_contain_text(GOAL)

    # The board no longer lists them as open.
    page.goto("/planning/needs/")
    expect(page.locator("tbody tr", has_text=TITLE)).to_have_count(0)
