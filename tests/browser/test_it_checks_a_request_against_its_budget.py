"""A request that would take its budget over, in a real browser, through the pages only:

finance sets IT-100's budget for this fiscal year on the budget page, asking the budget's
owner (Hana, the IT head) for an extra approval step when a request would exceed it; Alice
writes a request for the "Replace end-of-life laptops" objective that costs more than is
left, and submits it; Mark, her line manager, opens the approval email from the outbox, sees
the objective and the budget before and after the request, follows the link to the
confirmation page, sees the same there and approves; the budget owner's step then waits for
Hana, who sees the figures on the request's page and approves it (or rejects it, with a
reason), and the budgets page shows what the request now commits.

What finance would set in the admin (the fiscal year, the objective) and an earlier approved
request of 2,500.00 are the only things made outside the browser.
"""

from __future__ import annotations

import email
import email.policy
import re
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Locator, Page, expect

from approvals.models import ApprovalStep, StepState
from approvals.services import approval_step_decide
from approvals.tests.helpers import LINE_MANAGER, policy, submitted
from planning.tests.helpers import objective, this_year
from procurement.models import FiscalYear, Objective
from requests.models import PurchaseRequest
from tests.browser.helpers import BROWSER_DB, fill_line, fill_request_fields

pytestmark = [pytest.mark.browser, pytest.mark.django_db(**BROWSER_DB)]

TITLE = "Laptops for the new starters"
GOAL = "Replace end-of-life laptops"
# The budget leaves 2,500.00 after the earlier request; this one costs 3,000.00.
BUDGET, EARLIER, THIS_REQUEST = "5,000.00", "2,500.00", "3,000.00"
REMAINING_AFTER, OVER_BY = "-500.00", "500.00"


def gbp(amount: str) -> str:
    return f"{amount} GBP"


def email_in_the_outbox(outbox: Path, *, to: str, subject_contains: str) -> EmailMessage:
    for eml in sorted(outbox.glob("*.eml")):
        message = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        if message["To"] == to and subject_contains in str(message["Subject"]):
            return message
    raise AssertionError(f"No mail to {to} about {subject_contains!r} in {outbox}")


def expect_row(scope: Locator, label: str, value: str) -> None:
    """A row of a panel (a <tr> in the email, a <div> of the facts list on the pages)."""
    row = scope.locator("tr, dl.facts > div").filter(has_text=re.compile(rf"^\s*{label}"))
    expect(row.first).to_contain_text(value)


def panel_rows(panel: Locator) -> dict[str, str]:
    """A panel's rows as its reader sees them: label and value, in the email's table rows or
    the page's list of facts."""
    expect(panel).to_be_visible()
    rows: dict[str, str] = panel.evaluate(
        """panel => Object.fromEntries(
            [...panel.querySelectorAll("tr, dl.facts > div")]
                .map(row => [...row.querySelectorAll("td, dt, dd")].map(cell => cell.textContent.trim()))
                .filter(cells => cells.length === 2))"""
    )
    return rows


def expect_budget_figures(scope: Locator, budget_name: str) -> None:
    """What an approver sees: the objective the request serves, and the budget before and
    after this request, over (in the email, each panel is a table; on a page, an article)."""
    panels = scope.locator("table, article")
    goal = panels.filter(has_text="Serves")
    assert panel_rows(goal) == {
        "Serves": GOAL,
        "Owner": "Hana Head",
        "Period": budget_name.removeprefix("IT-100 "),
        "Status": "Active",
    }
    budget = panels.filter(has_text=f"Budget {budget_name}")
    assert panel_rows(budget) == {
        "Budget": gbp(BUDGET),
        "Consumed before this request": gbp(EARLIER),
        "This request": gbp(THIS_REQUEST),
        "Remaining after": gbp(REMAINING_AFTER),
        "Owner": "Hana Head",
    }
    expect(budget).to_contain_text(
        f"Over budget by {gbp(OVER_BY)}. The budget says: Ask for an extra approval step."
    )


def expect_figure(page: Page, label: str, value: str) -> None:
    """One of the budget page's key figures (Budget, Committed, Actual, Available)."""
    figure = page.get_by_label("Key figures").locator("article", has_text=label)
    expect(figure.locator("strong")).to_have_text(value)


def finance_sets_the_budget(page: Page, year: FiscalYear) -> str:
    """Fiona sets IT-100's budget on the create page; returns its name as the pages show it."""
    page.goto("/planning/budgets/")
    page.get_by_role("button", name="New budget").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("New budget")
    # The year holding today is already chosen.
    expect(page.get_by_label("Fiscal year")).to_have_value(str(year.pk))
    page.get_by_label("Cost centre").select_option(label="IT-100 IT operations")
    page.get_by_label("Amount").fill("5000")
    page.get_by_label("Owner").select_option(label="Hana Head (hana)")
    page.get_by_label("When a request would exceed it").select_option(
        label="Ask for an extra approval step"
    )
    page.get_by_label("Extra step decided by").select_option(label="The budget owner")
    page.get_by_label("Note").fill("Agreed at the planning round.")
    page.get_by_role("button", name="Set the budget").click()

    name = f"IT-100 {year.name}"
    expect(page.locator(".flash").first).to_have_text(f"Budget {name} set: {gbp(BUDGET)}.")
    expect(page.get_by_role("heading", level=1)).to_have_text("Budget IT-100")
    expect_figure(page, "Budget", f"GBP {BUDGET}")
    expect_figure(page, "Committed", f"GBP {EARLIER}")  # the earlier request
    expect_figure(page, "Available", f"GBP {EARLIER}")
    settings_card = page.locator("section.card", has_text="Settings")
    expect_row(settings_card, "Owner", "Hana Head")
    expect_row(settings_card, "When a request would exceed it", "Ask for an extra approval step")
    expect_row(settings_card, "Extra step decided by", "The budget owner")
    return name


def alice_submits_a_request_over_the_budget(page: Page, goal: Objective) -> PurchaseRequest:
    page.goto("/requests/new/")
    fill_request_fields(page, title=TITLE, no_objective_reason=None)
    page.get_by_label("Business objective").select_option(label=str(goal))
    fill_line(page, 0, description="Laptop, 14 inch", quantity="2", unit_price="1500.00")
    expect(page.locator("#estimated-total")).to_have_text(gbp(THIS_REQUEST))
    page.get_by_role("button", name="Save draft").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(TITLE)
    page.get_by_role("button", name="Submit", exact=True).click()
    expect(page.locator(".detail-head .badge")).to_have_text("Pending approval")
    return PurchaseRequest.objects.get(title=TITLE)


def mark_approves_from_the_email(
    page: Page,
    context: BrowserContext,
    outbox: Path,
    request: PurchaseRequest,
    budget_name: str,
    screenshot: Callable[..., Path] | None = None,
) -> None:
    message = email_in_the_outbox(outbox, to="mark@example.com", subject_contains=request.reference)
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert text is not None
    assert html is not None
    # The plain-text part says it too, for mail readers that show no HTML.
    assert f"Budget {budget_name} (OVER):" in text.get_content()
    assert f"Remaining after: {gbp(REMAINING_AFTER)}" in text.get_content()

    # Mark reads the email (its HTML part) in his mail reader: a tab of its own, since the
    # email's inline styles are its own business, not under the site's Content-Security-Policy.
    context.clear_cookies()  # signed in as nobody
    reader = context.new_page()
    reader.set_content(html.get_content())
    expect_budget_figures(reader.locator("body"), budget_name)
    if screenshot:
        screenshot(reader, "budget-check-approval-email")
    approve = reader.get_by_role("link", name="Approve", exact=True).get_attribute("href")
    reader.close()
    assert approve is not None
    page.goto(approve)  # he follows the link

    expect(
        page.get_by_role("heading", name=f"Approve or reject {request.reference}?")
    ).to_be_visible()
    panels = page.locator("#decision-panels")
    expect(panels.get_by_role("heading", name="Objective and budget")).to_be_visible()
    expect_budget_figures(panels, budget_name)
    if screenshot:
        screenshot(page, "budget-check-email-confirm")
    page.get_by_role("button", name=f"Approve {request.reference}").click()
    expect(
        page.get_by_role("heading", name=f"Thank you — you approved {request.reference}")
    ).to_be_visible()
    expect(page.locator("main")).to_contain_text("now waits for the other approvals on its route")
    # The budget owner is asked next, by email too.
    email_in_the_outbox(outbox, to="hana@example.com", subject_contains=request.reference)


def hana_sees_her_step(page: Page, request: PurchaseRequest, budget_name: str) -> Locator:
    """Hana opens the request: the line manager approved, her step waits for her."""
    page.goto(f"/requests/{request.pk}/")
    route = page.locator("#approval-route")
    manager_step = route.locator("tr.route-step", has_text="Line manager")
    expect(manager_step).to_contain_text("Approved")
    expect(manager_step).to_contain_text("Mark Manager")
    owner_step = route.locator("tr.route-step", has_text=f"Budget owner: over budget {budget_name}")
    expect(owner_step).to_contain_text("Pending")
    expect(owner_step).to_contain_text("Hana Head (you): pending")
    expect_budget_figures(page.locator("#decision-panels"), budget_name)
    # The page shows no template source (an unclosed multi-line comment once did).
    expect(page.locator("main")).not_to_contain_text("{#")
    return owner_step


def a_year_an_objective_and_an_earlier_request(org) -> tuple[FiscalYear, Objective]:
    """What finance keeps in the admin, and 2,500.00 of IT-100's money already committed."""
    policy(LINE_MANAGER)
    year = this_year()
    goal = objective(org, name=GOAL, department=org.department)
    earlier = submitted(org, title="Docking stations")
    step = ApprovalStep.objects.get(request=earlier, state=StepState.PENDING)
    approval_step_decide(step_id=step.pk, by=org.manager, action="approve")
    return year, goal


def test_it_asks_the_budget_owner_before_approving_a_request_over_its_budget(
    org, settings, live_server, context: BrowserContext, page: Page, log_in_as, screenshot
):
    year, goal = a_year_an_objective_and_an_earlier_request(org)
    settings.EMAIL_BACKEND = "procurement.mail.EmlOutboxBackend"
    settings.SITE_URL = live_server.url
    outbox = Path(settings.EMAIL_OUTBOX_DIR)

    # 1. Finance sets the budget: 5,000.00, of which 2,500.00 is already committed.
    log_in_as(org.finance)
    budget_name = finance_sets_the_budget(page, year)
    screenshot(page, "budget-check-budget-set")

    # 2. Alice asks for 3,000.00 of laptops, for the objective.
    context.clear_cookies()
    log_in_as(org.requester)
    request = alice_submits_a_request_over_the_budget(page, goal)
    # The route already holds the budget owner's step, after the line manager's.
    route = page.locator("#approval-route")
    expect(route.locator("tr.route-step", has_text="Line manager")).to_contain_text("Pending")
    owner_step = route.locator("tr.route-step", has_text=f"Budget owner: over budget {budget_name}")
    expect(owner_step).to_contain_text("Waiting for an earlier stage")
    expect(owner_step).to_contain_text("Hana Head")
    # The requester sees the objective she chose, not the budget's figures.
    panels = page.locator("#decision-panels")
    expect(panels.get_by_role("heading", level=2)).to_have_text("Objective")
    expect(panels).to_contain_text(GOAL)
    expect(panels).not_to_contain_text("Remaining after")
    screenshot(page, "budget-check-submitted")

    # 3. Mark approves from the email, having seen the budget in it and on the page it opens.
    mark_approves_from_the_email(page, context, outbox, request, budget_name, screenshot)

    # 4. Hana, the budget's owner, approves the overrun on the request's page.
    log_in_as(org.head)
    owner_step = hana_sees_her_step(page, request, budget_name)
    screenshot(page, "budget-check-owner-step")
    page.get_by_role("button", name="Approve", exact=True).click()
    expect(page.locator(".detail-head .badge")).to_have_text("Approved")
    expect(owner_step).to_contain_text("Hana Head (you): approved")

    # 5. The budgets page counts it: over by 500.00.
    page.goto("/planning/budgets/")
    row = page.locator("main table tbody tr", has_text="IT-100")
    expect(row.locator(".badge-over")).to_have_text("Over")
    expect(row.locator("td[data-label='Committed']")).to_have_text("5,500.00")
    expect(row.locator("td[data-label='Available']")).to_have_text(REMAINING_AFTER)
    row.get_by_role("link", name="IT-100").click()
    committed = page.locator("table", has_text="Needed by")
    expect(committed.locator("tr", has_text=request.reference)).to_contain_text(THIS_REQUEST)
    expect_figure(page, "Committed", "GBP 5,500.00")
    expect_figure(page, "Available", f"GBP {REMAINING_AFTER}")
    screenshot(page, "budget-check-over")


def test_it_lets_the_budget_owner_reject_a_request_over_its_budget_with_a_reason(
    org, settings, live_server, context: BrowserContext, page: Page, log_in_as
):
    year, goal = a_year_an_objective_and_an_earlier_request(org)
    settings.EMAIL_BACKEND = "procurement.mail.EmlOutboxBackend"
    settings.SITE_URL = live_server.url
    outbox = Path(settings.EMAIL_OUTBOX_DIR)
    log_in_as(org.finance)
    budget_name = finance_sets_the_budget(page, year)
    context.clear_cookies()
    log_in_as(org.requester)
    request = alice_submits_a_request_over_the_budget(page, goal)
    mark_approves_from_the_email(page, context, outbox, request, budget_name)

    log_in_as(org.head)
    owner_step = hana_sees_her_step(page, request, budget_name)
    reason = "Half of them can wait for the next fiscal year."
    page.get_by_label("Reason to reject").fill(reason)
    page.get_by_role("button", name="Reject", exact=True).click()
    expect(page.locator(".detail-head .badge")).to_have_text("Rejected")
    expect(owner_step).to_contain_text(reason)
    expect(page.locator("#timeline")).to_contain_text(re.compile(f"Hana Head rejected.*{reason}"))

    # Nothing of it is committed: the budget still has the 2,500.00 it had.
    page.goto("/planning/budgets/")
    row = page.locator("main table tbody tr", has_text="IT-100")
    expect(row.locator(".badge-over")).to_have_count(0)
    expect(row.locator("td[data-label='Committed']")).to_have_text(EARLIER)
    expect(row.locator("td[data-label='Available']")).to_have_text(EARLIER)
