"""An approved request sourced all the way to a matched invoice, in a real browser:

procurement opens an RFQ from the request, moves its deadline, sets the target and walk-away
prices and invites two vendors; each vendor quotes through the link in its email, without an
account; the deadline passes and the worker closes the RFQ; procurement compares the quotes
(ranking and past prices), sends one vendor a counter-offer, which it answers with a revised
quote; the award goes to the best quote and becomes a purchase order, issued by email with
its PDF; the laptops arrive, the invoice is matched three ways, and the spend shows in
analytics under the vendor, with the saving the negotiation made.
"""

from __future__ import annotations

import datetime as dt
import re
import statistics
from decimal import Decimal

import pytest
from django.core.mail import EmailMessage
from django.utils import timezone
from playwright.sync_api import Browser, Page, expect

from analytics.services import LineInput, spend_lines_add, spend_source_get_or_create
from sourcing.models import Invoice, PurchaseOrder, Rfq
from sourcing.rfq_tasks import close_due_rfqs
from sourcing.tests.helpers import approved_request, vendor
from tests.browser.helpers import BROWSER_DB

pytestmark = [pytest.mark.browser, pytest.mark.django_db(**BROWSER_DB)]

QUOTE_LINK = re.compile(r"https?://\S+/sourcing/quote/\S+/")
VENDORS = {
    "Northwind Hardware Ltd": ("Nora North", "nora@northwind.example"),
    "Contoso Devices Ltd": ("Carl Conti", "carl@contoso.example"),
}
LAPTOPS = 2  # the request's one line: 2 of "Laptop model 1" (tests.factories)
# Contoso is cheaper and faster, so it ranks first on both; it then comes down to the target.
NORTHWIND_PRICE, CONTOSO_PRICE, CONTOSO_REVISED = "1200.00", "1190.00", "1150.00"
TARGET, WALK_AWAY = "2300.00", "2500.00"


def money(amount: Decimal | str) -> str:
    return f"{Decimal(amount):,.2f}"


def tco(unit_price: str) -> str:
    """The TCO over the term of a one-off quote for the laptops, as the pages show it."""
    return money(LAPTOPS * Decimal(unit_price))


def link_in_email(outbox: list[EmailMessage], to: str, subject_contains: str) -> str:
    """The quote link of the latest email to `to` whose subject says `subject_contains`."""
    for message in reversed(outbox):
        if to in message.to and subject_contains in message.subject:
            found = QUOTE_LINK.search(str(message.body))
            assert found, f"No quote link in {message.subject!r}"
            return found.group(0)
    subjects = [(m.to, m.subject) for m in outbox]
    raise AssertionError(f"No email to {to} about {subject_contains!r}: {subjects}")


def seed_past_laptop_spend() -> list[Decimal]:
    """Three laptops bought over the last year from a supplier not invited; returns the
    unit prices paid, so the benchmark's median can be checked against them."""
    today = timezone.localdate()
    paid = [("1100.00", 300), ("1200.00", 200), ("1300.00", 100)]
    spend_lines_add(
        source=spend_source_get_or_create(name="Finance system", currency="GBP"),
        lines=[
            LineInput(
                date=today - dt.timedelta(days=days),
                amount=Decimal(price),
                supplier="Old Laptop Supplier Ltd",
                currency="GBP",
                category="Hardware",
                department="IT",
                description="Laptop model 1",
                quantity=Decimal("1"),
                reference=f"old-laptop-{days}",
            )
            for price, days in paid
        ],
    )
    return [Decimal(price) for price, _days in paid]


def quote_as_vendor(
    browser: Browser,
    base_url: str,
    link: str,
    *,
    price: str,
    delivery_days: str,
    first_price: str = "",
) -> None:
    """The vendor's contact opens the emailed link (no account) and quotes; with
    `first_price`, it first submits that one and is told why nothing was saved."""
    context = browser.new_context(base_url=base_url, locale="en-GB")
    page = context.new_page()
    page.goto(link)
    expect(page.get_by_role("heading", level=1)).to_have_text("Laptops for the new starters")
    price_input = page.get_by_label("Unit price: Laptop model 1")
    page.get_by_label("Delivery (days after the order)").fill(delivery_days)
    valid_until = timezone.localdate() + dt.timedelta(days=45)
    page.get_by_label("Quote valid until").fill(valid_until.isoformat())
    if first_price:
        price_input.fill(first_price)
        page.get_by_role("button", name="Submit the quote").click()
        expect(page.locator("#error-summary")).to_contain_text("nothing was saved")
        expect(page.locator("#quote-form td.has-error .field-error")).to_be_visible()
        expect(price_input).to_have_attribute("aria-invalid", "true")
    price_input.fill(price)
    page.get_by_role("button", name="Submit the quote").click()
    expect(page.locator("#revisions")).to_contain_text("r1")
    context.close()


def test_it_sources_an_approved_request_to_a_matched_invoice_and_its_spend(
    org, settings, live_server, mailoutbox, browser: Browser, page: Page, log_in_as, screenshot
):
    settings.SITE_URL = live_server.url
    settings.SOURCING_SAVINGS_BASELINE = "first_quote"
    request = approved_request(org, title="Laptops for the new starters")
    for name in VENDORS:
        vendor(org, name)
    past_prices = seed_past_laptop_spend()

    # 1. Procurement opens an RFQ from the approved request.
    log_in_as(org.procurement)
    page.goto(f"/requests/{request.pk}/")
    page.get_by_role("button", name="Open an RFQ").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Laptops for the new starters")
    expect(page.locator(".detail-head .badge")).to_have_text("Draft")
    rfq = Rfq.objects.get(request=request)
    # The page lists what is missing before it can open.
    missing = page.get_by_role("status").filter(has_text="Before this RFQ can open")
    expect(missing).to_contain_text("Set the target and walk-away prices")
    expect(missing).to_contain_text("Invite at least one vendor")

    deadline = (timezone.localtime() + dt.timedelta(days=3)).replace(
        hour=12, minute=0, second=0, microsecond=0
    )
    page.get_by_text("Edit the title, instructions, deadline").click()
    terms = page.locator("#settings form")
    terms.get_by_label("Deadline").fill(deadline.strftime("%Y-%m-%dT%H:%M"))
    terms.get_by_role("button", name="Save").click()
    expect(page.locator("#settings")).to_contain_text(f"{deadline.day} {deadline:%b %Y}, 12:00")

    page.get_by_label("Target price").fill(TARGET)
    page.get_by_label("Walk-away price").fill(WALK_AWAY)
    page.get_by_role("button", name="Set prices").click()
    expect(page.locator("#prices")).to_contain_text(f"{money(TARGET)} GBP")
    expect(page.locator("#prices")).to_contain_text(f"{money(WALK_AWAY)} GBP")

    invite = page.get_by_role("form", name="Invite a vendor")
    for name, (contact, email) in VENDORS.items():
        invite.get_by_label("Vendor").select_option(label=name)
        invite.get_by_label("Contact name").fill(contact)
        invite.get_by_label("Contact email").fill(email)
        invite.get_by_role("button", name="Invite").click()
        expect(page.locator("#invitations")).to_contain_text(name)
    screenshot(page, "sourcing-rfq-draft")

    expect(missing).to_have_count(0)
    page.get_by_role("button", name="Open for quotes").click()
    expect(page.locator(".detail-head .badge")).to_have_text("Open for quotes")
    expect(page.locator("#quotes")).to_contain_text("sealed until the deadline")

    # 2. Each vendor quotes through the link in its invitation email.
    quote_as_vendor(
        browser,
        live_server.url,
        link_in_email(mailoutbox, "nora@northwind.example", rfq.reference),
        price=NORTHWIND_PRICE,
        delivery_days="10",
        first_price="0",
    )
    quote_as_vendor(
        browser,
        live_server.url,
        link_in_email(mailoutbox, "carl@contoso.example", rfq.reference),
        price=CONTOSO_PRICE,
        delivery_days="5",
    )
    page.reload()
    expect(page.locator("#invitations")).to_contain_text("Received r1")

    # 3. The deadline passes; the worker's minute task closes the RFQ and tells procurement.
    Rfq.objects.filter(pk=rfq.pk).update(deadline=timezone.now() - dt.timedelta(minutes=1))
    assert close_due_rfqs() == 1
    assert any(
        org.procurement.email in m.to and "Quotes are ready" in m.subject for m in mailoutbox
    )
    page.reload()
    expect(page.locator(".detail-head .badge")).to_have_text("Closed for evaluation")
    page.get_by_role("button", name="Compare quotes").click()  # a link styled as a button

    # 4. The comparison ranks the quotes and sets them against past prices.
    expect(page.get_by_role("heading", level=1)).to_contain_text("Compare quotes")
    matrix = page.locator("table.matrix")
    headers = matrix.locator("thead th")
    expect(headers.nth(1)).to_contain_text("Contoso Devices Ltd")
    expect(headers.nth(1)).to_contain_text("rank 1")
    expect(headers.nth(2)).to_contain_text("Northwind Hardware Ltd")
    expect(headers.nth(2)).to_contain_text("rank 2")
    tco_row = matrix.locator("tr", has_text="TCO over the term")
    expect(tco_row.locator("td").nth(0)).to_contain_text(tco(CONTOSO_PRICE))
    expect(tco_row.locator("td").nth(1)).to_contain_text(tco(NORTHWIND_PRICE))
    # The best offer is between the target and the walk-away price.
    best_offer = page.locator(
        "section", has=page.get_by_role("heading", name="Best offer against target and walk-away")
    )
    expect(best_offer).to_contain_text(f"{tco(CONTOSO_PRICE)} GBP from Contoso Devices Ltd")
    expect(best_offer).to_contain_text("Negotiate.")
    benchmark = page.get_by_role("table", name="Benchmarks for Laptop model 1")
    median = statistics.median(past_prices)
    expect(benchmark.locator("tbody tr").first).to_contain_text(f"{median:,.2f}")
    screenshot(page, "sourcing-compare-before-negotiation")

    # ...and procurement asks Contoso, the best offer, to come down to the target.
    negotiation = page.locator(
        "article", has=page.get_by_role("heading", name="Contoso Devices Ltd")
    )
    negotiation.get_by_text("Send a counter-offer to Contoso Devices Ltd").click()
    negotiation.get_by_label("Proposed TCO").fill(TARGET)
    negotiation.get_by_label("Message").fill(f"Can you meet {money(TARGET)} for the two laptops?")
    reply_by = timezone.localtime() + dt.timedelta(days=2)
    negotiation.get_by_label("Reply by").fill(reply_by.strftime("%Y-%m-%dT%H:%M"))
    negotiation.get_by_role("button", name="Send counter-offer").click()
    expect(page.locator(".flash").first).to_contain_text("Counter-offer (round 1) sent")

    # Contoso opens the link of the counter-offer email and revises its quote.
    vendor_side = browser.new_context(base_url=live_server.url, locale="en-GB")
    answer = vendor_side.new_page()
    answer.goto(link_in_email(mailoutbox, "carl@contoso.example", "Counter-offer"))
    expect(answer.locator("#counter-offer")).to_contain_text(f"{money(TARGET)} GBP")
    expect(answer.locator("#quote-form")).not_to_contain_text("sealed")  # the deadline passed
    answer.get_by_label("Unit price: Laptop model 1").fill(CONTOSO_REVISED)
    # The TCO is worked out again as the vendor types.
    expect(answer.locator("#tco-preview")).to_contain_text(f"= {tco(CONTOSO_REVISED)} GBP")
    screenshot(answer, "sourcing-vendor-counter-offer")
    answer.get_by_role("button", name="Submit the revised quote").click()
    # The deadline has passed: the page thanks it and takes no further revision.
    expect(answer.locator(".flash").first).to_contain_text("It answers our counter-offer")
    expect(answer.locator(".flash").first).not_to_contain_text("until the deadline")
    expect(answer.get_by_role("heading", level=1)).to_have_text("Quotes are closed")
    expect(answer.locator("main")).to_contain_text("revision 2")
    expect(answer.locator("main")).to_contain_text(f"TCO {tco(CONTOSO_REVISED)} GBP")
    vendor_side.close()

    # 5. The comparison now shows the revised quote, still first, at the target.
    page.reload()
    expect(headers.nth(1)).to_contain_text("Contoso Devices Ltd")
    expect(headers.nth(1)).to_contain_text("revision 2")
    expect(tco_row.locator("td").nth(0)).to_contain_text(tco(CONTOSO_REVISED))
    expect(best_offer).to_contain_text("at or below the target price")
    expect(benchmark.locator("tbody tr", has_text="Contoso")).to_contain_text(
        f"{(Decimal(CONTOSO_REVISED) - median) / median * 100:.1f}%"
    )
    screenshot(page, "sourcing-compare-after-negotiation")

    # 6. Award to the top-ranked quote: a draft PO, issued to Contoso by email with its PDF.
    award = page.locator("#award")
    expect(award.get_by_label(re.compile("Contoso Devices Ltd — rank 1"))).to_be_checked()
    award.get_by_role("button", name="Award").click()
    expect(page.locator(".flash").first).to_contain_text("Awarded to Contoso Devices Ltd")
    po = PurchaseOrder.objects.get(request=request)
    page.get_by_role("link", name=po.number).click()
    expect(page.locator(".detail-head .badge")).to_have_text("Draft")
    page.get_by_role("button", name="Issue to the vendor").click()
    expect(page.locator(".detail-head .badge")).to_have_text("Issued")
    expect(page.locator(".detail-head")).to_contain_text(po.number)
    [po_email] = [m for m in mailoutbox if po.number in m.subject]
    assert po_email.to == ["carl@contoso.example"]
    [(filename, pdf, content_type)] = po_email.attachments
    assert (filename, content_type) == (f"{po.number}.pdf", "application/pdf")
    assert pdf[:5] == b"%PDF-"
    screenshot(page, "sourcing-po-issued")

    # 7. The laptops arrive, the invoice comes in and is matched three ways.
    page.get_by_role("link", name="Record what arrived").click()
    receipt = page.locator("#receipts form")
    receipt.get_by_label("Laptop model 1: quantity received").fill(str(LAPTOPS))
    expect(receipt.get_by_label("Received on")).to_have_value(timezone.localdate().isoformat())
    receipt.get_by_role("button", name="Record receipt").click()
    expect(page.locator(".detail-head .badge")).to_have_text("Received")

    page.get_by_role("link", name="Record an invoice").click()
    invoice = page.locator("#invoices form")
    invoice.get_by_label("Vendor's invoice number").fill("CD-1001")
    invoice.get_by_label("Invoice date").fill(timezone.localdate().isoformat())
    invoice.get_by_label("Laptop model 1: quantity invoiced").fill(str(LAPTOPS))
    invoice.get_by_label("Laptop model 1: unit price invoiced").fill(CONTOSO_REVISED)
    invoice.get_by_label("Total as printed").fill(str(LAPTOPS * Decimal(CONTOSO_REVISED)))
    invoice.get_by_role("button", name="Record and match").click()
    expect(page.locator(".flash").first).to_contain_text("matches the order and the receipts")
    recorded = page.locator("#invoices article", has_text="CD-1001")
    expect(recorded.locator(".badge")).to_have_text("Matched")
    expect(recorded).to_contain_text(f"{tco(CONTOSO_REVISED)} GBP")
    assert Invoice.objects.get(number="CD-1001").spend_recorded_at is not None
    screenshot(page, "sourcing-invoice-matched")

    # 8. The spend shows in analytics under the vendor.
    recorded.get_by_role("link", name="see the spend with Contoso Devices Ltd").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Top vendors and concentration")
    expect(page.get_by_label("Vendor", exact=True)).to_have_value(str(po.vendor_id))
    rows = page.locator("main table tbody tr", has_text="Contoso Devices Ltd")
    expect(rows.first).to_contain_text(tco(CONTOSO_REVISED))
    screenshot(page, "sourcing-spend-by-vendor")

    # ...and what the negotiation saved against Contoso's first quote (the default baseline).
    page.get_by_role("link", name="Savings", exact=True).click()
    saving = page.locator("main table tbody tr", has_text=rfq.reference)
    saved = LAPTOPS * (Decimal(CONTOSO_PRICE) - Decimal(CONTOSO_REVISED))
    expect(saving).to_contain_text("Contoso Devices Ltd")
    expect(saving.locator("td.numeric").nth(2)).to_have_text(money(saved))
    screenshot(page, "sourcing-savings")
