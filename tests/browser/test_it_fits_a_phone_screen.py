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
from sourcing.tests.helpers import invite, issued_po, make_quote, make_rfq
from tests.browser.helpers import BROWSER_DB, request_with_history

pytestmark = [pytest.mark.browser, pytest.mark.django_db(**BROWSER_DB)]


def overflows_sideways(page: Page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth > window.innerWidth")


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
