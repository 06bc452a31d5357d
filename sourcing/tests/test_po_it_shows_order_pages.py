"""The order pages: who sees which PO, the actions each person gets, and the forms' errors
next to their fields."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from sourcing.models import ChangeOrder, Invoice, PurchaseOrder, Receipt
from sourcing.tests.helpers import awarded_po, issued_po

pytestmark = pytest.mark.django_db


def test_it_lists_orders_for_procurement_and_the_requesters_own(org):
    po = awarded_po(org)

    for person in (org.procurement, org.finance, org.requester):
        page = org.client_for(person).get("/orders/")
        assert page.status_code == 200
        assert po.number in page.text
        assert "Northwind Hardware Ltd" in page.text

    outsider = org.client_for(org.outsider).get("/orders/")
    assert po.number not in outsider.text
    assert "There are no purchase orders you can see yet." in outsider.text


def test_it_filters_the_list_by_state(org):
    po = awarded_po(org)
    client = org.client_for(org.procurement)

    assert po.number in client.get("/orders/?state=draft").text
    assert po.number not in client.get("/orders/?state=issued").text
    assert po.number in client.get("/orders/?state=nonsense").text  # unknown: no filter


def test_it_hides_an_order_from_people_who_may_not_see_it(org):
    po = awarded_po(org)

    for path in (f"/orders/{po.pk}/", f"/orders/{po.pk}/pdf/"):
        assert org.client_for(org.outsider).get(path).status_code == 404
    assert org.client_for(org.outsider).post(f"/orders/{po.pk}/issue/").status_code == 404
    anonymous = Client().get(f"/orders/{po.pk}/")
    assert anonymous.status_code == 302
    assert "login" in anonymous["Location"]


def test_it_shows_the_order_with_its_lines_and_actions(org):
    po = awarded_po(org)

    page = org.client_for(org.procurement).get(f"/orders/{po.pk}/")

    assert page.status_code == 200
    assert po.number in page.text
    assert "Laptop, 14 inch" in page.text
    assert "2,300.00 GBP" in page.text
    assert "Issue to the vendor" in page.text
    assert "Cancel the order" in page.text
    assert "created the order" in page.text


def test_it_offers_the_requester_only_what_they_may_do(org):
    po = issued_po(org)

    page = org.client_for(org.requester).get(f"/orders/{po.pk}/")

    assert page.status_code == 200
    assert "Record receipt" in page.text
    assert "Issue to the vendor" not in page.text
    assert "Cancel the order" not in page.text
    assert "Record and match" not in page.text


def test_it_downloads_the_pdf(org):
    po = awarded_po(org)

    response = org.client_for(org.requester).get(f"/orders/{po.pk}/pdf/")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    assert po.number.encode() in response.content


def test_it_issues_from_the_page_and_refuses_the_requester(org):
    po = awarded_po(org)

    refused = org.client_for(org.requester).post(f"/orders/{po.pk}/issue/", follow=True)
    assert "Only procurement can issue purchase orders." in refused.text
    assert PurchaseOrder.objects.get(pk=po.pk).state == "draft"
    assert org.client_for(org.procurement).get(f"/orders/{po.pk}/issue/").status_code == 405

    done = org.client_for(org.procurement).post(f"/orders/{po.pk}/issue/", follow=True)

    assert f"{po.number} issued: it is on its way to sales@northwind.example." in done.text
    assert PurchaseOrder.objects.get(pk=po.pk).state == "issued"


def test_it_needs_a_reason_to_cancel(org):
    po = awarded_po(org)
    client = org.client_for(org.procurement)

    page = client.post(f"/orders/{po.pk}/cancel/", {"reason": ""})

    assert page.status_code == 400
    assert 'id="id_reason_error">This field is required.' in page.text
    assert PurchaseOrder.objects.get(pk=po.pk).state == "draft"
    client.post(f"/orders/{po.pk}/cancel/", {"reason": "Budget withdrawn"})
    assert PurchaseOrder.objects.get(pk=po.pk).state == "cancelled"


def test_it_shows_a_receipt_error_next_to_its_line_and_records_nothing(org):
    po = issued_po(org)
    line = po.lines.get()
    client = org.client_for(org.requester)
    today = timezone.localdate().isoformat()

    page = client.post(
        f"/orders/{po.pk}/receipts/", {f"quantity_{line.pk}": "3", "received_on": today}
    )

    assert page.status_code == 400
    assert (
        f'id="id_receipt_quantity_{line.pk}_error">Only 2 of 2 is still to be received.'
        in page.text
    )
    assert not Receipt.objects.exists()
    done = client.post(
        f"/orders/{po.pk}/receipts/",
        {f"quantity_{line.pk}": "2", "received_on": today},
        follow=True,
    )
    assert "Receipt recorded." in done.text
    assert PurchaseOrder.objects.get(pk=po.pk).state == "received"


def test_it_records_an_invoice_and_shows_why_it_is_held(org):
    po = issued_po(org)
    line = po.lines.get()
    client = org.client_for(org.procurement)
    data = {
        "number": "INV-9",
        "invoice_date": timezone.localdate().isoformat(),
        "currency": "GBP",
        "total": "2300.00",
        f"quantity_{line.pk}": "2",
        f"unit_price_{line.pk}": "1150.00",
    }

    page = client.post(f"/orders/{po.pk}/invoices/", data, follow=True)

    assert "Invoice INV-9 is on hold: Line 1: not yet received (2 invoiced)" in page.text
    duplicate = client.post(f"/orders/{po.pk}/invoices/", data)
    assert duplicate.status_code == 400
    assert "Northwind Hardware Ltd already has invoice INV-9" in duplicate.text
    assert Invoice.objects.count() == 1


def test_it_lets_finance_work_the_queue_of_held_invoices(org):
    po = issued_po(org)
    line = po.lines.get()
    org.client_for(org.procurement).post(
        f"/orders/{po.pk}/invoices/",
        {
            "number": "INV-9",
            "invoice_date": timezone.localdate().isoformat(),
            "currency": "GBP",
            "total": "2300.00",
            f"quantity_{line.pk}": "2",
            f"unit_price_{line.pk}": "1150.00",
        },
    )
    invoice = Invoice.objects.get()
    finance = org.client_for(org.finance)

    queue = finance.get("/orders/invoices/on-hold/")
    assert queue.status_code == 200
    assert "INV-9" in queue.text
    assert "Line 1: not yet received (2 invoiced)" in queue.text
    assert org.client_for(org.requester).get("/orders/invoices/on-hold/").status_code == 404

    done = finance.post(
        f"/orders/{po.pk}/invoices/{invoice.pk}/release/",
        {"reason": "Delivered to the branch office", "next": "queue"},
        follow=True,
    )

    assert "Invoice INV-9 released by finance." in done.text
    assert "No invoice is on hold." in done.text


def test_it_sends_a_change_for_approval_and_lets_finance_approve_it_on_the_page(org):
    po = issued_po(org)
    line = po.lines.get()

    org.client_for(org.procurement).post(
        f"/orders/{po.pk}/changes/",
        {f"quantity_{line.pk}": "3", f"unit_price_{line.pk}": "1150.00", "reason": "One more"},
    )
    change = ChangeOrder.objects.get()
    assert change.state == "pending_approval"
    finance = org.client_for(org.finance)
    assert "Approve the change" in finance.get(f"/orders/{po.pk}/").text
    assert "Approve the change" not in org.client_for(org.procurement).get(f"/orders/{po.pk}/").text

    done = finance.post(
        f"/orders/{po.pk}/changes/{change.pk}/decide/", {"action": "approve"}, follow=True
    )

    assert "Change 1 approved and applied." in done.text
    assert PurchaseOrder.objects.get(pk=po.pk).total == Decimal("3450.00")


def test_it_shows_a_change_error_next_to_its_field(org):
    po = issued_po(org)
    line = po.lines.get()

    page = org.client_for(org.procurement).post(
        f"/orders/{po.pk}/changes/",
        {f"quantity_{line.pk}": "0", f"unit_price_{line.pk}": "1150.00", "reason": "Fewer"},
    )

    assert page.status_code == 400
    assert f'id="id_change_quantity_{line.pk}_error">Enter a quantity above 0.' in page.text
    assert not ChangeOrder.objects.exists()
