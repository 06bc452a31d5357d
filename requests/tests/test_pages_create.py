"""/requests/new/: the form, its line items, "Save draft" and "Save and submit"."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from procurement.models import AuditEntry
from requests.models import PurchaseRequest
from requests.services import MAX_LINE_ITEMS
from requests.tests.page_helpers import (
    TWO_LINES,
    TWO_LINES_TOTAL,
    flash_messages,
    page,
    request_form_data,
    text,
)
from tests.factories import CostCentreFactory

pytestmark = pytest.mark.django_db


def test_it_shows_an_empty_form_with_one_line_to_fill_in(org, settings):
    settings.CURRENCIES = ["GBP", "EUR", "USD"]

    response = org.client_for(org.requester).get("/requests/new/")

    assert response.status_code == 200
    content = page(response)
    for field_id, label in [
        ("id_title", "Title"),
        ("id_justification", "Business justification"),
        ("id_department", "Department"),
        ("id_cost_centre", "Cost centre"),
        ("id_category", "Category"),
        ("id_needed_by", "Needed by"),
        ("id_currency", "Currency"),
        ("id_line_items-0-description", "Description"),
        ("id_line_items-0-quantity", "Quantity"),
        ("id_line_items-0-unit", "Unit"),
        ("id_line_items-0-unit_price", "Unit price"),
        ("id_line_items-0-vendor_sku", "Vendor SKU"),
        ("id_line_items-0-vendor_url", "Vendor link"),
        ("id_attachments", "Add attachments"),
    ]:
        assert f'<label for="{field_id}">{label}' in content
    assert 'type="date" name="needed_by"' in content
    assert 'name="line_items-TOTAL_FORMS" value="1"' in content
    assert 'name="line_items-1-description"' not in content
    assert '<option value="EUR">EUR</option>' in content
    assert '<option value="GBP" selected>GBP</option>' in content
    assert "multiple" in content.split('id="id_attachments"')[0].rsplit("<input", 1)[1]
    assert 'accept=".pdf,' in content
    assert re.search(
        r'<button type="submit" name="intent" value="draft"[^>]*>Save draft</button>', content
    )
    assert re.search(
        r'<button type="submit" name="intent" value="submit"[^>]*>Save and submit</button>', content
    )


def test_it_states_the_attachment_limits_before_upload(org, settings):
    settings.ATTACHMENT_MAX_BYTES = 5 * 1024 * 1024
    settings.ATTACHMENTS_PER_REQUEST = 8

    response = org.client_for(org.requester).get("/requests/new/")

    assert "up to 5 MB each, 8 per request" in response.content.decode()


def test_it_preselects_the_requesters_department_and_only_cost_centre(org):
    content = page(org.client_for(org.requester).get("/requests/new/"))

    assert f'<option value="{org.department.pk}" selected>IT</option>' in content
    assert (
        f'<option value="{org.cost_centre.pk}" selected>IT-100 IT operations (IT)</option>'
        in content
    )


def test_it_does_not_offer_closed_cost_centres(org):
    CostCentreFactory(
        code="IT-999", name="Closed project", department=org.department, is_active=False
    )

    content = page(org.client_for(org.requester).get("/requests/new/"))

    assert "IT-999" not in content


def test_it_creates_a_draft_with_two_line_items_and_computes_the_total(org):
    client = org.client_for(org.requester)

    response = client.post("/requests/new/", request_form_data(org))

    created = PurchaseRequest.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/requests/{created.pk}/"
    assert created.state == "draft"
    assert created.requester == org.requester
    assert created.total == Decimal(TWO_LINES_TOTAL)
    assert [
        (line.description, line.quantity, line.unit_price) for line in created.line_items.all()
    ] == [
        ("Laptop", Decimal("2"), Decimal("1249.99")),
        ("Dock", Decimal("3"), Decimal("150.01")),
    ]
    assert created.line_items.get(description="Dock").vendor_url == "https://example.com/dock"
    assert flash_messages(response) == [f"{created.reference} saved as a draft."]


def test_it_ignores_a_forged_total(org):
    data = request_form_data(org, total="0.01", **{"line_items-0-amount": "1"})

    org.client_for(org.requester).post("/requests/new/", data)

    assert PurchaseRequest.objects.get().total == Decimal(TWO_LINES_TOTAL)


def test_it_saves_and_submits_in_one_go(org):
    response = org.client_for(org.requester).post(
        "/requests/new/", request_form_data(org, intent="submit")
    )

    created = PurchaseRequest.objects.get()
    assert response.status_code == 302
    assert created.state == "submitted"
    assert created.submitted_at is not None
    assert list(
        AuditEntry.objects.filter(object_id=created.pk).values_list("action", flat=True)
    ) == ["created", "submit"]
    assert flash_messages(response) == [f"{created.reference} submitted."]


def test_it_skips_a_blank_row_and_a_removed_row(org):
    lines = [
        TWO_LINES[0],
        {
            "description": "Changed my mind",
            "quantity": "1",
            "unit": "each",
            "unit_price": "5",
            "DELETE": "on",
        },
        # Added with "Add line", never filled in:
        {"description": "", "quantity": "", "unit": "each", "unit_price": ""},
        TWO_LINES[1],
    ]

    response = org.client_for(org.requester).post(
        "/requests/new/", request_form_data(org, lines=lines)
    )

    assert response.status_code == 302
    created = PurchaseRequest.objects.get()
    assert [line.description for line in created.line_items.all()] == ["Laptop", "Dock"]
    assert created.total == Decimal(TWO_LINES_TOTAL)


def test_it_saves_a_draft_without_line_items(org):
    response = org.client_for(org.requester).post(
        "/requests/new/", request_form_data(org, lines=[])
    )

    assert response.status_code == 302
    created = PurchaseRequest.objects.get()
    assert created.line_items.count() == 0
    assert created.total == Decimal("0.00")


def test_it_keeps_what_was_typed_when_it_shows_errors(org):
    data = request_form_data(org, title="")
    data["line_items-1-description"] = "Dock, the good one"

    response = org.client_for(org.requester).post("/requests/new/", data)

    assert response.status_code == 400
    content = text(response)
    assert "Please correct the errors below." in content
    assert 'value="Dock, the good one"' in page(response)
    assert 'value="1249.99"' in page(response)


def test_it_asks_anonymous_visitors_to_log_in(client):
    response = client.get("/requests/new/")

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_it_saves_a_request_with_the_most_line_items_allowed(org):
    # Every field of every row, as a browser posts them: over a thousand fields in all.
    lines = [
        {
            "description": f"Cable {n}",
            "quantity": "1",
            "unit": "each",
            "unit_price": "2.50",
            "vendor_sku": "",
            "vendor_url": "",
        }
        for n in range(MAX_LINE_ITEMS)
    ]

    response = org.client_for(org.requester).post(
        "/requests/new/", request_form_data(org, lines=lines)
    )

    assert response.status_code == 302
    created = PurchaseRequest.objects.get()
    assert created.line_items.count() == MAX_LINE_ITEMS
    assert created.total == Decimal("2.50") * MAX_LINE_ITEMS


def test_it_refuses_more_line_items_than_allowed(org):
    lines = [
        {"description": f"Cable {n}", "quantity": "1", "unit": "each", "unit_price": "2.50"}
        for n in range(MAX_LINE_ITEMS + 1)
    ]

    response = org.client_for(org.requester).post(
        "/requests/new/", request_form_data(org, lines=lines)
    )

    assert response.status_code == 400
    assert f"A request can have at most {MAX_LINE_ITEMS} line items." in text(response)
    assert PurchaseRequest.objects.count() == 0
