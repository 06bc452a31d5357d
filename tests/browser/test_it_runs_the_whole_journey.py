"""The whole platform in one story, through the pages only, as each person would click it:

1. Alice (staff) fills in a request for two laptops and submits it; it is over IT-100's
   budget, so the route holds finance's extra step after her line manager's;
2. Mark (her manager) opens the approval email the platform sent, follows its Approve link
   without signing in, and approves on the confirmation page;
3. Fiona (finance) finds the over-budget step in her approval inbox, sees by how much it is
   over, and approves: the request is approved;
4. Pat (procurement) opens an RFQ from the request, sets its prices, invites two vendors, who
   quote through the links in their emails; he closes it early, compares the quotes, awards
   the best, and issues the purchase order;
5. the laptops arrive and the invoice is matched three ways, which records it as spend;
6. the spend dashboard shows the invoice's amount.

Each step is saved as a full-page screenshot to var/screenshots/<nn>-<step>.png (CI keeps the
folder as an artifact) and checked with axe-core, as the page is at that moment.

Made before the story starts, as an admin would have set them up: the people (the `org`
fixture), the approval policy, this fiscal year with IT-100's budget of 2,000.00 GBP (over it,
finance is asked), and two approved vendors.
"""

from __future__ import annotations

import email
import email.policy
import re
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.utils import timezone
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Dialog,
    Locator,
    Page,
    expect,
)

from approvals.tests.helpers import LINE_MANAGER, policy
from planning.models import ExtraApprover, OnExceed
from planning.tests.helpers import budget, this_year
from requests.models import PurchaseRequest
from sourcing.models import PurchaseOrder, Rfq
from sourcing.tests.helpers import vendor
from tests.browser.accessibility import axe_violations, describe
from tests.browser.helpers import BROWSER_DB, fill_line, fill_request_fields, in_two_weeks

pytestmark = [pytest.mark.browser, pytest.mark.django_db(**BROWSER_DB)]

TITLE = "Laptops for the new starters"
LINE = "Laptop, 14 inch"
# The request: 2 x 1,200.00 = 2,400.00 against a budget of 2,000.00, over by 400.00.
QUANTITY, REQUESTED_PRICE = "2", "1200.00"
BUDGET = "2000"
# Northwind quotes 1,190.00 a laptop, Contoso 1,150.00: Contoso wins at 2,300.00.
NORTHWIND = ("Northwind Hardware Ltd", "Nora North", "nora@northwind.example", "1190.00", "10")
CONTOSO = ("Contoso Devices Ltd", "Carl Conti", "carl@contoso.example", "1150.00", "5")
TARGET, WALK_AWAY = "2300.00", "2500.00"
SPENT = "2,300.00"
QUOTE_LINK = re.compile(r"https?://\S+/sourcing/quote/[^\s\"<>]+/")


@dataclass
class Journey:
    """Where the story's screenshots go, and what axe-core found on its pages."""

    folder: Path
    taken: list[Path] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)

    def record(self, page: Page, step: str) -> None:
        """A full-page screenshot of the step, then axe-core on the same page."""
        path = self.folder / f"{len(self.taken) + 1:02d}-{step}.png"
        page.screenshot(path=str(path), full_page=True)
        self.taken.append(path)
        found = axe_violations(page)
        if found:
            self.violations.append(describe(found, where=f"{path.name} ({page.url})"))


@pytest.fixture
def journey() -> Journey:
    """var/screenshots/ (VAR_DIR's, git-ignored), emptied of an earlier run's steps."""
    folder = Path(django_settings.VAR_DIR) / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("[0-9][0-9]-*.png"):
        old.unlink()
    return Journey(folder)


def mail_to(outbox: Path, to: str, subject_contains: str) -> EmailMessage:
    """The latest email the platform wrote to the outbox for `to` about `subject_contains`."""
    for eml in sorted(outbox.glob("*.eml"), reverse=True):
        message = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        if to in str(message["To"]) and subject_contains in str(message["Subject"]):
            return message
    sent = [eml.name for eml in sorted(outbox.glob("*.eml"))]
    raise AssertionError(f"No mail to {to} about {subject_contains!r} in {outbox}: {sent}")


def html_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("html",))
    assert part is not None, f"{message['Subject']!r} has no HTML part"
    return str(part.get_content())


def text_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None, f"{message['Subject']!r} has no text part"
    return str(part.get_content())


def watch_csp(page: Page, refusals: list[str]) -> Page:
    """Report what the Content-Security-Policy refused on a page of a second browser context
    (the vendors' own browsers) to the test's `csp_refusals`, as the page fixture does."""

    def listen(message: ConsoleMessage) -> None:
        if "Refused to" in message.text or "Content Security Policy" in message.text:
            refusals.append(f"{page.url}: {message.text}")

    page.on("console", listen)
    return page


def badge(page: Page) -> Locator:
    return page.locator(".detail-head .badge")


def test_it_runs_a_request_from_submission_to_spend_on_the_dashboard(
    org,
    settings,
    live_server,
    browser: Browser,
    context: BrowserContext,
    page: Page,
    log_in_as,
    csp_refusals: list[str],
    journey: Journey,
):
    settings.EMAIL_BACKEND = "procurement.mail.EmlOutboxBackend"
    settings.SITE_URL = live_server.url
    outbox = Path(settings.EMAIL_OUTBOX_DIR)
    policy(LINE_MANAGER)
    year = this_year()
    budget(org, BUDGET, on_exceed=OnExceed.APPROVAL, extra_approver=ExtraApprover.FINANCE)
    budget_name = f"IT-100 {year.name}"
    for name, *_ in (NORTHWIND, CONTOSO):
        vendor(org, name)

    # 1. Alice fills in the request and submits it.
    log_in_as(org.requester)
    page.goto("/requests/")
    page.get_by_role("link", name="New request").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("New purchase request")
    fill_request_fields(page, title=TITLE)
    fill_line(page, 0, description=LINE, quantity=QUANTITY, unit_price=REQUESTED_PRICE)
    expect(page.locator("#estimated-total")).to_have_text("2,400.00 GBP")
    journey.record(page, "staff-fills-in-the-request")
    page.get_by_role("button", name="Save and submit").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(TITLE)
    expect(badge(page)).to_have_text("Pending approval")
    request = PurchaseRequest.objects.get(title=TITLE)
    route = page.locator("#approval-route")
    expect(route.locator("tr.route-step", has_text="Line manager")).to_contain_text("Pending")
    finance_step = route.locator("tr.route-step", has_text=f"Finance: over budget {budget_name}")
    expect(finance_step).to_contain_text("Waiting for an earlier stage")
    journey.record(page, "staff-submitted-pending-approval")

    # 2. Mark opens the approval email and approves from its link, signed in as nobody.
    message = mail_to(outbox, "mark@example.com", request.reference)
    assert "2,400.00 GBP" in text_of(message)
    context.clear_cookies()
    reader = context.new_page()  # his mail reader: the email's own HTML, not a page of ours
    reader.set_content(html_of(message))
    expect(reader).to_have_title(f"Approval needed: {request.reference} {TITLE} (2,400.00 GBP)")
    expect(reader.locator("body")).to_contain_text("Over budget by 400.00 GBP")
    journey.record(reader, "manager-reads-the-approval-email")
    approve_link = reader.get_by_role("link", name="Approve", exact=True).get_attribute("href")
    reader.close()
    assert approve_link is not None
    assert approve_link.startswith(f"{live_server.url}/approvals/email/")
    page.goto(approve_link)
    expect(
        page.get_by_role("heading", name=f"Approve or reject {request.reference}?")
    ).to_be_visible()
    expect(page.locator("main")).to_contain_text("2,400.00 GBP")
    journey.record(page, "manager-confirms-from-the-email-link")
    page.get_by_role("button", name=f"Approve {request.reference}").click()
    expect(
        page.get_by_role("heading", name=f"Thank you — you approved {request.reference}")
    ).to_be_visible()
    journey.record(page, "manager-approved")

    # 3. Finance gets the extra step, because the request is over budget, and approves it.
    mail_to(outbox, "fiona@example.com", request.reference)
    log_in_as(org.finance)
    page.goto("/approvals/")
    item = page.locator("tr.inbox-item", has_text=request.reference)
    expect(item).to_contain_text(f"Finance: over budget {budget_name}")
    expect(item).to_contain_text("2,400.00 GBP")
    journey.record(page, "finance-inbox")
    item.get_by_role("link", name=request.reference).click()
    budget_panel = page.locator("#decision-panels article", has_text=f"Budget {budget_name}")
    expect(budget_panel).to_contain_text("Over budget by 400.00 GBP")
    expect(finance_step).to_contain_text("Fiona Finance (you): pending")
    journey.record(page, "finance-sees-the-request-over-budget")
    page.get_by_role("button", name="Approve", exact=True).click()
    expect(badge(page)).to_have_text("Approved")
    expect(finance_step).to_contain_text("Fiona Finance (you): approved")
    journey.record(page, "finance-approved")

    # 4. Procurement runs an RFQ: prices, two vendors invited, two quotes by email link...
    context.clear_cookies()
    log_in_as(org.procurement)
    page.goto(f"/requests/{request.pk}/")
    page.get_by_role("button", name="Open an RFQ").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(TITLE)
    expect(badge(page)).to_have_text("Draft")
    rfq = Rfq.objects.get(request=request)
    page.get_by_label("Target price").fill(TARGET)
    page.get_by_label("Walk-away price").fill(WALK_AWAY)
    page.get_by_role("button", name="Set prices").click()
    expect(page.locator("#prices")).to_contain_text("2,300.00 GBP")
    invite = page.get_by_role("form", name="Invite a vendor")
    for name, contact, address, *_ in (NORTHWIND, CONTOSO):
        invite.get_by_label("Vendor").select_option(label=name)
        invite.get_by_label("Contact name").fill(contact)
        invite.get_by_label("Contact email").fill(address)
        invite.get_by_role("button", name="Invite").click()
        expect(page.locator("#invitations")).to_contain_text(name)
    journey.record(page, "procurement-prepares-the-rfq")
    page.get_by_role("button", name="Open for quotes").click()
    expect(badge(page)).to_have_text("Open for quotes")

    for name, _contact, address, price, days in (NORTHWIND, CONTOSO):
        invitation = mail_to(outbox, address, rfq.reference)
        found = QUOTE_LINK.search(text_of(invitation))
        assert found, f"No quote link in the invitation to {address}"
        vendor_browser = browser.new_context(base_url=live_server.url, locale="en-GB")
        quote_page = watch_csp(vendor_browser.new_page(), csp_refusals)
        quote_page.goto(found.group(0))
        expect(quote_page.get_by_role("heading", level=1)).to_have_text(TITLE)
        quote_page.get_by_label(f"Unit price: {LINE}").fill(price)
        quote_page.get_by_label("Delivery (days after the order)").fill(days)
        quote_page.get_by_label("Quote valid until").fill(in_two_weeks().isoformat())
        quote_page.get_by_role("button", name="Submit the quote").click()
        expect(quote_page.locator("#revisions")).to_contain_text("r1")
        if name == CONTOSO[0]:
            journey.record(quote_page, "vendor-quotes-through-its-link")
        vendor_browser.close()

    # ...then closes it early, compares, awards the best quote and issues the order.
    page.reload()
    expect(page.locator("#invitations")).to_contain_text("Received r1")
    questions: list[str] = []

    def confirm(dialog: Dialog) -> None:
        questions.append(dialog.message)
        dialog.accept()

    page.once("dialog", confirm)
    page.get_by_role("button", name="Close early").click()
    expect(badge(page)).to_have_text("Closed for evaluation")
    assert questions == [
        f"Close {rfq.reference} now, before its deadline? No more quotes will be accepted."
    ]
    page.get_by_role("button", name="Compare quotes").click()  # a link styled as a button
    expect(page.get_by_role("heading", level=1)).to_contain_text("Compare quotes")
    headers = page.locator("table.matrix thead th")
    expect(headers.nth(1)).to_contain_text("Contoso Devices Ltd")
    expect(headers.nth(1)).to_contain_text("rank 1")
    expect(headers.nth(2)).to_contain_text("Northwind Hardware Ltd")
    tco_row = page.locator("table.matrix tr", has_text="TCO over the term")
    expect(tco_row.locator("td").nth(0)).to_contain_text(SPENT)
    expect(tco_row.locator("td").nth(1)).to_contain_text("2,380.00")
    journey.record(page, "procurement-compares-the-quotes")
    award = page.locator("#award")
    expect(award.get_by_label(re.compile("Contoso Devices Ltd — rank 1"))).to_be_checked()
    award.get_by_role("button", name="Award").click()
    expect(page.locator(".flash").first).to_contain_text("Awarded to Contoso Devices Ltd")
    po = PurchaseOrder.objects.get(request=request)
    page.get_by_role("link", name=po.number).click()
    expect(badge(page)).to_have_text("Draft")
    page.get_by_role("button", name="Issue to the vendor").click()
    expect(badge(page)).to_have_text("Issued")
    expect(page.locator("main")).to_contain_text(f"{SPENT} GBP")
    mail_to(outbox, CONTOSO[2], po.number)  # the order went to the vendor
    journey.record(page, "procurement-issued-the-purchase-order")

    # 5. The laptops arrive; the invoice is recorded and matched to the order and receipt.
    page.get_by_role("link", name="Record what arrived").click()
    receipt = page.locator("#receipts form")
    receipt.get_by_label(f"{LINE}: quantity received").fill(QUANTITY)
    receipt.get_by_role("button", name="Record receipt").click()
    expect(badge(page)).to_have_text("Received")
    page.get_by_role("link", name="Record an invoice").click()
    invoice = page.locator("#invoices form")
    invoice.get_by_label("Vendor's invoice number").fill("CD-1001")
    invoice.get_by_label("Invoice date").fill(timezone.localdate().isoformat())
    invoice.get_by_label(f"{LINE}: quantity invoiced").fill(QUANTITY)
    invoice.get_by_label(f"{LINE}: unit price invoiced").fill(CONTOSO[3])
    invoice.get_by_label("Total as printed").fill("2300.00")
    invoice.get_by_role("button", name="Record and match").click()
    expect(page.locator(".flash").first).to_contain_text("matches the order and the receipts")
    recorded = page.locator("#invoices article", has_text="CD-1001")
    expect(recorded.locator(".badge")).to_have_text("Matched")
    expect(recorded).to_contain_text(f"{SPENT} GBP")
    journey.record(page, "invoice-matched")

    # 6. The matched invoice is spend: finance sees it on the dashboard.
    context.clear_cookies()
    log_in_as(org.finance)
    page.goto("/analytics/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Spend overview")
    figures = page.get_by_label("Key figures")

    def figure(label: str) -> Locator:
        return figures.locator("article").filter(has=page.get_by_text(label, exact=True))

    expect(figure("Total spend").locator("strong")).to_have_text(f"GBP {SPENT}")
    expect(figure("Lines").locator("strong")).to_have_text("1")
    expect(figure("Vendors").locator("strong")).to_have_text("1")
    this_month = timezone.localdate().strftime("%Y-%m")
    expect(page.locator("main table tbody tr", has_text=this_month)).to_contain_text(SPENT)
    journey.record(page, "spend-on-the-dashboard")

    assert [path.name for path in journey.taken] == sorted(p.name for p in journey.taken)
    assert all(path.stat().st_size > 10_000 for path in journey.taken)
    assert not journey.violations, (
        "axe-core found serious or critical accessibility violations on the journey:\n"
        + "\n".join(journey.violations)
    )
