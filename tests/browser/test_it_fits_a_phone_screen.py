"""The list, the form and the detail page fit a phone's width without sideways scrolling."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from playwright.sync_api import Page, expect

from requests.services import purchase_request_add_attachment
from requests.tests.helpers import draft_for
from requests.tests.page_helpers import PDF_BYTES
from sourcing.invoices import invoice_record
from sourcing.models import Rfq, RfqState
from sourcing.orders import po_link_token
from sourcing.quotes import invitation_link_token
from sourcing.receipts import receipt_record
from sourcing.tests.helpers import approved_request, invite, issued_po, make_quote, make_rfq
from tests.browser.helpers import BROWSER_DB, request_with_history

pytestmark = [pytest.mark.browser, pytest.mark.django_db(**BROWSER_DB)]


def overflows_sideways(page: Page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth > window.innerWidth")


def cells_off_screen(page: Page) -> list[str]:
    """Cells of stacked tables that end right of the screen. A table in an `overflow-auto`
    box scrolls inside it without making the page wider, so overflows_sideways misses it;
    on a phone the figures are then out of sight."""
    return page.evaluate(
        """() => [...document.querySelectorAll("main table.stack-on-phone :is(td, th)")]
            .filter(cell => cell.getBoundingClientRect().right > window.innerWidth + 1)
            .map(cell => (cell.dataset.label || "") + " " + cell.textContent.trim().slice(0, 40))"""
    )


def test_it_fits_a_phone_and_a_desktop(org, page: Page, log_in_as, screenshot):
    request = request_with_history(org)
    log_in_as(org.requester)

    draft = draft_for(org, title="Monitors for the design team", line_items=2)
    purchase_request_add_attachment(
        request_id=draft.pk,
        by=org.requester,
        upload=SimpleUploadedFile("monitor-quote.pdf", PDF_BYTES, content_type="application/pdf"),
    )

    page.goto("/requests/")
    expect(page.get_by_role("link", name=request.reference)).to_be_visible()
    screenshot(page, "list")
    page.goto(f"/requests/{draft.pk}/edit/")
    expect(page.get_by_label("Remove monitor-quote.pdf")).not_to_be_checked()
    screenshot(page, "edit")

    page.set_viewport_size({"width": 390, "height": 844})
    for path, name in [
        ("/requests/", "phone-list"),
        (f"/requests/{draft.pk}/edit/", "phone-form"),
        (f"/requests/{request.pk}/", "phone-detail"),
    ]:
        page.goto(path)
        screenshot(page, name)
        assert not overflows_sideways(page), f"{path} scrolls sideways on a phone"


def test_it_fits_the_sourcing_pages_on_a_phone(org, page: Page, log_in_as, screenshot):
    # An awarded RFQ whose PO was issued, half received and invoiced above its price (held);
    # a draft RFQ (its editable tables) and an open one (the vendor's quote page).
    po = issued_po(org)
    line = po.lines.get()
    today = timezone.localdate()
    receipt_record(po_id=po.pk, by=org.procurement, received_on=today, lines={line.pk: Decimal(1)})
    invoice_record(
        po_id=po.pk,
        by=org.procurement,
        number="INV-1001",
        invoice_date=today,
        currency=po.currency,
        total=Decimal("2600.00"),
        lines={line.pk: (Decimal(2), Decimal("1300.00"))},
    )
    award = po.award
    assert award is not None
    draft = make_rfq(org, state=RfqState.DRAFT)
    open_rfq = make_rfq(org)
    invitation = invite(org, open_rfq, po.vendor)
    # ...and one closed for evaluation: its comparison has a score form in each cell.
    closed = make_rfq(org)
    make_quote(invite(org, closed, po.vendor), ["1150.00"])
    Rfq.objects.filter(pk=closed.pk).update(
        state=RfqState.CLOSED, deadline=timezone.now() - dt.timedelta(minutes=1)
    )
    # ...and a contract with an agreed price (the prices page procurement keeps).
    from procurement.models import Category
    from sourcing.models import ContractPrice
    from vendors.contracts import ContractInput, contract_create

    contract = contract_create(
        by=org.procurement,
        data=ContractInput(
            vendor_id=po.vendor_id,
            title="Laptop supply framework",
            owner_id=org.procurement.pk,
            value=Decimal("50000"),
            currency="GBP",
            start_date=today,
            end_date=today + dt.timedelta(days=365),
        ),
    )
    ContractPrice.objects.create(
        contract=contract,
        description="Laptop, 14 inch, 32 GB, with a three-year on-site warranty",
        category=Category.objects.get(code="hardware"),
        unit_price=Decimal("1100.00"),
    )
    log_in_as(org.procurement)

    page.set_viewport_size({"width": 390, "height": 844})
    wide: list[str] = []  # every page checked before failing: one run names them all
    for path, name in [
        ("/sourcing/", "phone-rfqs"),
        (f"/sourcing/{draft.pk}/", "phone-rfq-draft"),
        (f"/sourcing/{open_rfq.pk}/", "phone-rfq-open"),
        (f"/sourcing/{award.rfq_id}/", "phone-rfq-awarded"),
        (f"/sourcing/{closed.pk}/compare/", "phone-compare"),
        (f"/sourcing/{award.rfq_id}/compare/", "phone-compare-awarded"),
        (f"/sourcing/awards/{award.pk}/", "phone-award"),
        (f"/sourcing/quote/{invitation_link_token(invitation)}/", "phone-quote-portal"),
        ("/orders/", "phone-orders"),
        (f"/orders/{po.pk}/", "phone-order"),
        ("/orders/invoices/on-hold/", "phone-invoices-on-hold"),
        (f"/orders/vendor/{po_link_token(po)}/", "phone-order-portal"),
        ("/analytics/savings/", "phone-savings"),
        (f"/sourcing/contracts/{contract.pk}/prices/", "phone-contract-prices"),
    ]:
        response = page.goto(path)
        assert response is not None
        assert response.ok, f"{path} answered {response.status}"
        screenshot(page, name)
        if overflows_sideways(page):
            wide.append(path)
    assert wide == [], f"These pages scroll sideways on a phone: {wide}"


def test_it_fits_the_planning_pages_on_a_phone(org, page: Page, log_in_as, screenshot):
    # Long names on purpose: they are what pushes a table wider than a phone.
    from planning.budgets import budget_revise
    from planning.models import ExtraApprover, NeedCommentKind, OnExceed
    from planning.needs import RequestTarget, need_comment_add, needs_consolidate_into_request
    from planning.tests.helpers import budget, objective, this_year
    from planning.tests.test_need_helpers import post_need, support
    from procurement.models import Category

    year = this_year()
    goal = objective(
        org,
        name="Move the finance workloads and the data warehouse to the cloud",
        department=org.department,
        description="Retire the two server rooms by the end of the year.",
    )
    objective(org, name="Cut the energy use of every office by a fifth")
    hardware = Category.objects.get(code="hardware")
    # IT-100's budget with what it has consumed: an approved request, an order half received
    # and invoiced, and a narrowed budget, phased by month and revised below what it consumed.
    po = issued_po(org)
    line = po.lines.get()
    today = timezone.localdate()
    receipt_record(po_id=po.pk, by=org.procurement, received_on=today, lines={line.pk: Decimal(2)})
    invoice_record(
        po_id=po.pk,
        by=org.procurement,
        number="INV-2001",
        invoice_date=today,
        currency=po.currency,
        total=Decimal("2300.00"),
        lines={line.pk: (Decimal(2), Decimal("1150.00"))},
    )
    draft_for(org, title="Monitors for the design team", line_items=1)
    # ...and an approved request serving the objective, counted by the narrowed budget.
    serving = approved_request(
        org,
        title="Laptops for the data warehouse team",
        objective=goal,
        no_objective_reason="",
        category=hardware,
    )
    whole = budget(org, "12000.00")
    narrowed = budget(
        org,
        "6000.00",
        category=hardware,
        objective=goal,
        phasing=[Decimal("500.00")] * 12,
        on_exceed=OnExceed.APPROVAL,
        extra_approver=ExtraApprover.FINANCE,
    )
    budget_revise(
        budget_id=whole.pk,
        by=org.finance,
        amount=Decimal("1000.00"),
        reason="Frozen after the second-quarter review: every purchase waits for the board.",
    )
    # The needs board: a need Marketing supports, with a comment and an alternative; and two
    # needs procurement gathered into one request.
    need = post_need(org, title="Video calls drop in the meeting rooms on the third floor")
    support(org, need)
    need_comment_add(need_id=need.pk, by=org.procurement, body="Could the vendor's loan kit do?")
    need_comment_add(
        need_id=need.pk,
        by=org.outsider,
        body="Headsets for everyone instead of room kits, at a third of the price.",
        kind=NeedCommentKind.ALTERNATIVE,
    )
    second = post_need(org, title="Screens for events", by=org.outsider, budget="2000.00")
    gathered = [
        post_need(org, title=f"Docking stations for the {floor} floor", budget="900.00")
        for floor in ("first", "second")
    ]
    consolidation = needs_consolidate_into_request(
        need_ids=[n.pk for n in gathered],
        by=org.procurement,
        target=RequestTarget(
            title="Docking stations for every floor",
            department=org.department,
            cost_centre=org.cost_centre,
            category=hardware,
        ),
        note="One order, one delivery.",
    )
    log_in_as(org.admin)  # sees and may change everything in planning

    pages = [
        ("/planning/needs/", "phone-needs-board"),
        ("/planning/needs/new/", "phone-need-form"),
        (f"/planning/needs/{need.pk}/", "phone-need"),
        (f"/planning/needs/{need.pk}/edit/", "phone-need-edit"),
        (f"/planning/needs/consolidate/?needs={need.pk}&needs={second.pk}", "phone-consolidate"),
        (f"/planning/needs/consolidations/{consolidation.pk}/", "phone-consolidation"),
        ("/planning/objectives/", "phone-objectives"),
        ("/planning/objectives/new/", "phone-objective-form"),
        (f"/planning/objectives/{goal.pk}/", "phone-objective"),
        (f"/planning/objectives/{goal.pk}/edit/", "phone-objective-edit"),
        ("/planning/budgets/", "phone-budgets"),
        (f"/planning/budgets/?year={year.pk}", "phone-budgets-filtered"),
        (f"/planning/budgets/{whole.pk}/", "phone-budget"),
        (f"/planning/budgets/{narrowed.pk}/", "phone-budget-narrowed"),
        ("/planning/budgets/new/", "phone-budget-form"),
        (f"/planning/budgets/{narrowed.pk}/revise/", "phone-budget-revise"),
        ("/planning/forecast/", "phone-forecast"),
        # The objective and budget panels beside a request an approver decides.
        (f"/requests/{serving.pk}/", "phone-request-budget-panels"),
    ]
    wide: list[str] = []  # every page checked before failing: one run names them all
    for width in (360, 390):
        page.set_viewport_size({"width": width, "height": 800})
        for path, name in pages:
            response = page.goto(path)
            assert response is not None
            assert response.ok, f"{path} answered {response.status}"
            expect(page.locator("main")).not_to_contain_text("{#")  # template source
            if width == 360:
                screenshot(page, name)
            if overflows_sideways(page):
                wide.append(f"{path} at {width}px")
            if hidden := cells_off_screen(page):
                wide.append(f"{path} at {width}px: {len(hidden)} cells, e.g. {hidden[0]!r}")

    # A refused form comes back with its errors next to the fields, still within the width.
    page.goto("/planning/budgets/new/")
    page.get_by_label("Cost centre").select_option(label="IT-100 IT operations")
    page.get_by_label("Amount").fill("-5")
    page.get_by_label("Month 1", exact=True).fill("100")
    page.get_by_role("button", name="Set the budget").click()
    expect(page.locator("#phasing_error")).to_have_text(
        "Give all twelve months, or none to spread the budget evenly."
    )
    screenshot(page, "phone-budget-form-errors")
    if overflows_sideways(page):
        wide.append("/planning/budgets/new/ with errors at 390px")
    assert wide == [], f"These pages scroll sideways on a phone: {wide}"
