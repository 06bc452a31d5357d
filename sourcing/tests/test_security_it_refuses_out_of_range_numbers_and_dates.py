"""Numbers and dates no column or calendar can hold are a clear 400 next to the field, never
a 500 or a row that breaks a later page: a price of "1e30" on the quote page and in its TCO
preview, a weight of "9e99999999" in the running sum, an invoice line worth more than the
spend ledger holds, a receipt dated 1900 and an invoice dated year 1."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from analytics.models import SpendLine
from procurement.errors import InvalidInput
from sourcing.invoices import invoice_record
from sourcing.models import Invoice, Quote, Receipt, RfqState
from sourcing.receipts import receipt_record
from sourcing.tests.helpers import invite, issued_po, make_rfq, vendor
from sourcing.tests.test_rfq_helpers import portal_path, quote_form

pytestmark = pytest.mark.django_db


def _api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def northwind(org):
    return invite(org, make_rfq(org), vendor(org, "Northwind Hardware Ltd"))


@pytest.mark.parametrize("price", ["1e30", "1e999999999", "99999999999999999"])
def test_it_answers_a_price_too_large_with_a_form_error_not_a_crash(northwind, price):
    vendor_browser = Client(raise_request_exception=False)
    [line] = northwind.rfq.lines.all()

    page = vendor_browser.post(portal_path(northwind), quote_form(northwind.rfq, [price]))

    assert page.status_code == 400
    assert f'id="id_price_{line.pk}_error"' in page.content.decode()
    assert "Enter a unit price (more than 0) for every line to see the total." in (
        page.content.decode()
    )
    assert not Quote.objects.exists()


@pytest.mark.parametrize("price", ["1e30", "1e999999999", "-5", "0.001"])
def test_it_leaves_an_impossible_price_out_of_the_tco_preview(northwind, price):
    vendor_browser = Client(raise_request_exception=False)

    preview = vendor_browser.post(
        portal_path(northwind) + "tco/",
        quote_form(northwind.rfq, [price], implementation_cost="1e40"),
    )

    assert preview.status_code == 200
    assert "no price yet" in preview.content.decode()


def test_it_sums_the_weights_typed_so_far_without_an_impossible_one(org):
    rfq = make_rfq(org, state=RfqState.DRAFT)

    answer = org.client_for(org.procurement).post(
        reverse("rfqs:criteria-sum", args=[rfq.pk]),
        {
            "criteria-TOTAL_FORMS": "2",
            "criteria-0-weight": "60",
            "criteria-1-weight": "9e99999999",
        },
    )

    assert answer.status_code == 200
    assert "60%" in answer.content.decode()


def test_it_refuses_an_invoice_line_worth_more_than_the_spend_ledger_holds(org):
    po = issued_po(org)
    line = po.lines.get()

    with pytest.raises(InvalidInput) as refused:
        invoice_record(
            po_id=po.pk,
            by=org.procurement,
            number="INV-HUGE",
            invoice_date=timezone.localdate(),
            currency="GBP",
            total=Decimal("2300.00"),
            lines={line.pk: (Decimal("999999999.999"), Decimal("999999999999.99"))},
        )
    answer = _api(org.procurement).post(
        f"/api/orders/{po.pk}/invoices/",
        {
            "number": "INV-HUGE",
            "invoice_date": timezone.localdate().isoformat(),
            "currency": "GBP",
            "total": "2300.00",
            "lines": [{"line": line.pk, "quantity": "1000", "unit_price": "999999999999.99"}],
        },
        format="json",
    )

    message = "The line's amount (quantity x unit price) is too large to record."
    assert refused.value.fields == {f"unit_price_{line.pk}": [message]}
    assert answer.status_code == 400
    assert answer.json()["errors"] == {f"unit_price_{line.pk}": [message]}
    assert not Invoice.objects.exists()
    assert not SpendLine.objects.exists()


def test_it_refuses_a_receipt_dated_before_the_order_was_issued(org):
    po = issued_po(org)
    line = po.lines.get()
    issued_on = timezone.localdate(po.issued_at)

    with pytest.raises(InvalidInput) as refused:
        receipt_record(
            po_id=po.pk,
            by=org.requester,
            received_on=dt.date(1900, 1, 1),
            lines={line.pk: Decimal("2")},
        )
    answer = _api(org.requester).post(
        f"/api/orders/{po.pk}/receipts/",
        {"received_on": "0001-01-01", "lines": [{"line": line.pk, "quantity": "2"}]},
        format="json",
    )

    message = (
        f"{po.number} was issued on {issued_on:%d %b %Y}: goods received against it cannot "
        "have arrived earlier."
    )
    assert refused.value.fields == {"received_on": [message]}
    assert answer.status_code == 400
    assert answer.json()["errors"] == {"received_on": [message]}
    assert not Receipt.objects.exists()
    po.refresh_from_db()
    assert po.state == "issued"


def test_it_refuses_an_invoice_dated_before_the_order_was_issued(org):
    po = issued_po(org)
    line = po.lines.get()
    issued_on = timezone.localdate(po.issued_at)

    answer = _api(org.finance).post(
        f"/api/orders/{po.pk}/invoices/",
        {
            "number": "INV-1",
            "invoice_date": "0001-01-01",
            "currency": "GBP",
            "total": "2300.00",
            "lines": [{"line": line.pk, "quantity": "2", "unit_price": "1150.00"}],
        },
        format="json",
    )

    assert answer.status_code == 400
    assert answer.json()["errors"] == {
        "invoice_date": [
            f"{po.number} was issued on {issued_on:%d %b %Y}: an invoice against it cannot "
            "be dated earlier."
        ]
    }
    assert not Invoice.objects.exists()


def test_it_still_takes_a_receipt_and_an_invoice_dated_the_day_of_issue(org):
    po = issued_po(org)
    line = po.lines.get()
    issued_on = timezone.localdate(po.issued_at)

    receipt_record(po_id=po.pk, by=org.requester, received_on=issued_on, lines={line.pk: 2})
    invoice = invoice_record(
        po_id=po.pk,
        by=org.procurement,
        number="INV-1",
        invoice_date=issued_on,
        currency="GBP",
        total=Decimal("2300.00"),
        lines={line.pk: (Decimal("2"), Decimal("1150.00"))},
    )

    assert invoice.state == "matched"
