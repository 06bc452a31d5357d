"""The orders API under /api/orders/: the same rules as the pages, with errors as JSON
bodies {"code", "detail", "errors"} naming the bad field."""

from __future__ import annotations

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from sourcing.models import ChangeOrder, Invoice, PurchaseOrder, Receipt
from sourcing.tests.helpers import awarded_po, issued_po

pytestmark = pytest.mark.django_db


def _api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def _today() -> str:
    return timezone.localdate().isoformat()


def test_it_lists_and_shows_orders_to_those_who_may_see_them(org):
    po = awarded_po(org)

    listed = _api(org.procurement).get("/api/orders/?state=draft")
    assert listed.status_code == 200
    assert [row["number"] for row in listed.json()["results"]] == [po.number]

    detail = _api(org.requester).get(f"/api/orders/{po.pk}/")
    assert detail.status_code == 200
    body = detail.json()
    assert (body["number"], body["state"], body["total"]) == (po.number, "draft", "2300.00")
    [line] = body["lines"]
    assert (line["description"], line["ordered"], line["received"]) == (
        "Laptop, 14 inch",
        "2.000",
        "0.000",
    )
    assert body["available_actions"] == []

    hidden = _api(org.outsider).get(f"/api/orders/{po.pk}/")
    assert hidden.status_code == 404
    assert hidden.json()["code"] == "not_found"
    assert _api(org.outsider).get("/api/orders/").json()["results"] == []


def test_it_names_an_unknown_state_filter(org):
    response = _api(org.procurement).get("/api/orders/?state=lost")

    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["state"]


def test_it_issues_then_refuses_to_issue_again(org):
    po = awarded_po(org)
    client = _api(org.procurement)

    issued = client.post(f"/api/orders/{po.pk}/issue/")
    assert issued.status_code == 200
    assert issued.json()["state"] == "issued"

    again = client.post(f"/api/orders/{po.pk}/issue/")
    assert again.status_code == 409
    assert again.json() == {
        "code": "conflict",
        "detail": f"{po.number} is issued: it cannot be issued now.",
        "errors": {},
    }
    assert (
        _api(org.requester)
        .post(f"/api/orders/{po.pk}/cancel/", {"reason": "x"}, format="json")
        .status_code
        == 403
    )


def test_it_needs_a_reason_to_cancel(org):
    po = awarded_po(org)

    response = _api(org.procurement).post(f"/api/orders/{po.pk}/cancel/", {}, format="json")

    assert response.status_code == 400
    assert response.json()["errors"] == {"reason": ["This field is required."]}
    assert PurchaseOrder.objects.get(pk=po.pk).state == "draft"


def test_it_refuses_receiving_more_than_ordered_naming_the_line(org):
    po = issued_po(org)
    line = po.lines.get()

    response = _api(org.requester).post(
        f"/api/orders/{po.pk}/receipts/",
        {"received_on": _today(), "lines": [{"line": line.pk, "quantity": "3"}]},
        format="json",
    )

    assert response.status_code == 400
    assert response.json()["errors"] == {
        f"quantity_{line.pk}": ["Only 2 of 2 is still to be received."]
    }
    assert not Receipt.objects.exists()


def test_it_receives_invoices_and_closes_an_order(org):
    po = issued_po(org)
    line = po.lines.get()
    client = _api(org.procurement)

    early = client.post(f"/api/orders/{po.pk}/close/")
    assert early.status_code == 409
    received = client.post(
        f"/api/orders/{po.pk}/receipts/",
        {"received_on": _today(), "note": "All in", "lines": [{"line": line.pk, "quantity": "2"}]},
        format="json",
    )
    assert received.status_code == 201
    assert received.json()["lines"] == [{"line": line.pk, "quantity": "2.000"}]
    invoice = {
        "number": "INV-1",
        "invoice_date": _today(),
        "currency": "GBP",
        "total": "2300.00",
        "lines": [{"line": line.pk, "quantity": "2", "unit_price": "1150.00"}],
    }
    recorded = client.post(f"/api/orders/{po.pk}/invoices/", invoice, format="json")
    assert recorded.status_code == 201
    assert (recorded.json()["state"], recorded.json()["hold_reasons"]) == ("matched", [])

    duplicate = client.post(f"/api/orders/{po.pk}/invoices/", invoice, format="json")
    assert duplicate.status_code == 400
    assert list(duplicate.json()["errors"]) == ["number"]
    assert Invoice.objects.count() == 1

    closed = client.post(f"/api/orders/{po.pk}/close/")
    assert closed.status_code == 200
    assert closed.json()["state"] == "closed"


def test_it_holds_an_invoice_and_lets_finance_release_it(org):
    po = issued_po(org)
    line = po.lines.get()
    recorded = _api(org.procurement).post(
        f"/api/orders/{po.pk}/invoices/",
        {
            "number": "INV-2",
            "invoice_date": _today(),
            "currency": "GBP",
            "total": "2300.00",
            "lines": [{"line": line.pk, "quantity": "2", "unit_price": "1150.00"}],
        },
        format="json",
    )
    body = recorded.json()
    assert body["state"] == "on_hold"
    assert body["hold_reasons"] == [
        {
            "line_id": line.pk,
            "code": "not_received",
            "message": "Line 1: not yet received (2 invoiced)",
        }
    ]

    refused = _api(org.procurement).post(
        f"/api/orders/invoices/{body['id']}/release/", {"reason": "ok"}, format="json"
    )
    assert refused.status_code == 403
    released = _api(org.finance).post(
        f"/api/orders/invoices/{body['id']}/release/",
        {"reason": "Received at the branch"},
        format="json",
    )
    assert released.status_code == 200
    assert released.json()["state"] == "released"
    assert released.json()["spend_recorded_at"] is not None


def test_it_refuses_a_negative_invoice_price_naming_the_field(org):
    po = issued_po(org)
    line = po.lines.get()

    response = _api(org.procurement).post(
        f"/api/orders/{po.pk}/invoices/",
        {
            "number": "INV-3",
            "invoice_date": _today(),
            "currency": "GBP",
            "total": "100.00",
            "lines": [{"line": line.pk, "quantity": "2", "unit_price": "-50.00"}],
        },
        format="json",
    )

    assert response.status_code == 400
    assert response.json()["errors"] == {f"unit_price_{line.pk}": ["Enter a unit price above 0."]}
    assert not Invoice.objects.exists()


def test_it_changes_an_order_through_approval(org):
    po = issued_po(org)
    line = po.lines.get()

    asked = _api(org.procurement).post(
        f"/api/orders/{po.pk}/change-orders/",
        {
            "reason": "One more laptop",
            "lines": [
                {
                    "line_id": line.pk,
                    "description": line.description,
                    "category": line.category_id,
                    "quantity": "3",
                    "unit_price": "1150.00",
                }
            ],
        },
        format="json",
    )
    assert asked.status_code == 201
    change = asked.json()
    assert (change["state"], change["approver_role"], change["new_total"]) == (
        "pending_approval",
        "finance",
        "3450.00",
    )

    no_comment = _api(org.finance).post(
        f"/api/orders/change-orders/{change['id']}/decide/", {"action": "refuse"}, format="json"
    )
    assert no_comment.status_code == 400
    assert no_comment.json()["errors"] == {"comment": ["This field is required."]}
    approved = _api(org.finance).post(
        f"/api/orders/change-orders/{change['id']}/decide/", {"action": "approve"}, format="json"
    )
    assert approved.status_code == 200
    assert approved.json()["state"] == "applied"
    twice = _api(org.finance).post(
        f"/api/orders/change-orders/{change['id']}/decide/", {"action": "approve"}, format="json"
    )
    assert twice.status_code == 409
    assert PurchaseOrder.objects.get(pk=po.pk).version == 2
    assert ChangeOrder.objects.get().decided_by == org.finance


def test_it_names_a_bad_change_line(org):
    po = issued_po(org)
    line = po.lines.get()

    response = _api(org.procurement).post(
        f"/api/orders/{po.pk}/change-orders/",
        {
            "reason": "Fix",
            "lines": [
                {
                    "line_id": line.pk,
                    "description": line.description,
                    "category": line.category_id,
                    "quantity": "0",
                    "unit_price": "1150.00",
                }
            ],
        },
        format="json",
    )

    assert response.status_code == 400
    assert response.json()["errors"] == {"lines[0].quantity": ["Enter a quantity above 0."]}
