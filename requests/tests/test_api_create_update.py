"""POST /api/requests/ and PUT/PATCH /api/requests/{id}/: drafts in, totals computed here."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from procurement.models import AuditEntry
from requests.models import LineItem, PurchaseRequest
from requests.tests.helpers import draft_for, request_in_state
from tests.factories import CostCentreFactory


def payload(org: Any, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "title": "Two laptops and docks",
        "justification": "New starters in January.",
        "department": org.department.code,
        "cost_centre": org.cost_centre.code,
        "category": "hardware",
        "needed_by": (timezone.localdate() + dt.timedelta(days=14)).isoformat(),
        "currency": "EUR",
        "line_items": [
            {"description": "Laptop", "quantity": "2", "unit_price": "1249.99"},
            {
                "description": "Dock",
                "quantity": 3,
                "unit": "box",
                "unit_price": "150.01",
                "vendor_sku": "DK-1",
                "vendor_url": "https://example.com/dock",
            },
        ],
    }
    body.update(overrides)
    return body


def test_it_creates_a_draft_and_answers_201_with_the_detail(org):
    client = org.client_for(org.requester)

    response = client.post("/api/requests/", payload(org), content_type="application/json")

    assert response.status_code == 201, response.content
    body = response.json()
    created = PurchaseRequest.objects.get()
    assert body["id"] == created.pk
    assert response["Location"] == f"http://testserver/api/requests/{created.pk}/"
    assert body["state"] == "draft"
    assert body["requester"]["username"] == "alice"
    assert body["currency"] == "EUR"
    assert body["total"] == "2950.01"
    assert [line["amount"] for line in body["line_items"]] == ["2499.98", "450.03"]
    assert body["line_items"][1]["unit"] == "box"
    assert body["line_items"][0]["unit"] == "each"
    assert [entry["action"] for entry in body["available_actions"]] == ["submit", "cancel"]
    assert str(created.total) == "2950.01"  # stored, not only rendered
    assert AuditEntry.objects.filter(object_id=created.pk, action="created").count() == 1


def test_it_ignores_a_total_and_a_state_sent_by_the_client(org):
    client = org.client_for(org.requester)

    response = client.post(
        "/api/requests/",
        payload(org, total="1.00", state="approved", submitted_at="2020-01-01T00:00:00Z"),
        content_type="application/json",
    )

    assert response.status_code == 201
    created = PurchaseRequest.objects.get()
    assert (created.state, str(created.total), created.submitted_at) == ("draft", "2950.01", None)


def test_it_creates_a_draft_without_line_items(org):
    body = payload(org)
    del body["line_items"]

    response = org.client_for(org.requester).post(
        "/api/requests/", body, content_type="application/json"
    )

    assert response.status_code == 201
    assert response.json()["line_items"] == []
    assert response.json()["total"] == "0.00"


def test_it_refuses_a_cost_centre_of_another_department(org):
    elsewhere = CostCentreFactory(code="MK-1", department=org.other_department)

    response = org.client_for(org.requester).post(
        "/api/requests/", payload(org, cost_centre=elsewhere.code), content_type="application/json"
    )

    assert response.status_code == 400
    assert response.json()["errors"] == {"cost_centre": ["Cost centre MK-1 does not belong to IT."]}
    assert not PurchaseRequest.objects.exists()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("department", "nowhere", 'Unknown department "nowhere".'),
        ("cost_centre", "CC-NONE", 'Unknown cost centre "CC-NONE".'),
        ("category", "furniture", 'Unknown category "furniture".'),
    ],
)
def test_it_refuses_an_unknown_code(org, field, value, message):
    response = org.client_for(org.requester).post(
        "/api/requests/", payload(org, **{field: value}), content_type="application/json"
    )

    assert response.status_code == 400
    assert response.json()["errors"] == {field: [message]}
    assert not PurchaseRequest.objects.exists()


def test_it_changes_only_the_fields_a_patch_names(org):
    draft = draft_for(org, line_items=2)
    lines_before = list(draft.line_items.values_list("description", "quantity", "unit_price"))

    response = org.client_for(org.requester).patch(
        f"/api/requests/{draft.pk}/", {"title": "Renamed"}, content_type="application/json"
    )

    assert response.status_code == 200, response.content
    draft.refresh_from_db()
    assert draft.title == "Renamed"
    assert draft.currency == "GBP"
    assert draft.justification == "Three new engineers start next month."
    assert (
        list(draft.line_items.values_list("description", "quantity", "unit_price")) == lines_before
    )
    assert str(draft.total) == "5000.00"
    assert response.json()["title"] == "Renamed"


def test_it_replaces_every_line_when_a_patch_sends_line_items(org):
    draft = draft_for(org, line_items=3)

    response = org.client_for(org.requester).patch(
        f"/api/requests/{draft.pk}/",
        {"line_items": [{"description": "Monitor", "quantity": "4", "unit_price": "199.50"}]},
        content_type="application/json",
    )

    assert response.status_code == 200
    assert [line["description"] for line in response.json()["line_items"]] == ["Monitor"]
    assert response.json()["total"] == "798.00"
    assert LineItem.objects.filter(request=draft).count() == 1
    draft.refresh_from_db()
    assert str(draft.total) == "798.00"


def test_it_wants_whole_lines_in_a_patch(org):
    draft = draft_for(org, line_items=2)

    response = org.client_for(org.requester).patch(
        f"/api/requests/{draft.pk}/",
        {"line_items": [{"quantity": "1"}]},
        content_type="application/json",
    )

    assert response.status_code == 400
    assert response.json()["errors"] == {
        "line_items[0].description": ["This field is required."],
        "line_items[0].unit_price": ["This field is required."],
    }
    assert LineItem.objects.filter(request=draft).count() == 2


def test_it_empties_the_lines_with_an_empty_list(org):
    draft = draft_for(org, line_items=2)

    response = org.client_for(org.requester).patch(
        f"/api/requests/{draft.pk}/", {"line_items": []}, content_type="application/json"
    )

    assert response.status_code == 200
    assert response.json()["total"] == "0.00"
    assert not LineItem.objects.filter(request=draft).exists()


def test_it_replaces_the_whole_draft_with_a_put(org):
    draft = draft_for(org, line_items=1)

    response = org.client_for(org.requester).put(
        f"/api/requests/{draft.pk}/",
        payload(org, title="Replaced"),
        content_type="application/json",
    )

    assert response.status_code == 200, response.content
    draft.refresh_from_db()
    assert (draft.title, draft.currency, str(draft.total)) == ("Replaced", "EUR", "2950.01")
    assert list(draft.line_items.values_list("description", flat=True)) == ["Laptop", "Dock"]


def test_it_wants_every_field_and_the_line_items_in_a_put(org):
    draft = draft_for(org, line_items=1)

    response = org.client_for(org.requester).put(
        f"/api/requests/{draft.pk}/", {"title": "Only a title"}, content_type="application/json"
    )

    assert response.status_code == 400
    assert set(response.json()["errors"]) == {
        "justification",
        "department",
        "cost_centre",
        "category",
        "needed_by",
        "currency",
        "line_items",
    }
    draft.refresh_from_db()
    assert draft.title != "Only a title"


def test_it_checks_a_patched_department_against_the_kept_cost_centre(org):
    draft = draft_for(org)

    response = org.client_for(org.requester).patch(
        f"/api/requests/{draft.pk}/", {"department": "marketing"}, content_type="application/json"
    )

    assert response.status_code == 400
    assert "cost_centre" in response.json()["errors"]
    draft.refresh_from_db()
    assert draft.department == org.department


@pytest.mark.parametrize("method", ["patch", "put"])
def test_it_refuses_to_edit_a_request_that_is_no_longer_a_draft(org, method):
    submitted = request_in_state(org, "submitted")

    response = getattr(org.client_for(org.requester), method)(
        f"/api/requests/{submitted.pk}/",
        payload(org, title="Sneaky"),
        content_type="application/json",
    )

    assert response.status_code == 409
    assert response.json()["code"] == "conflict"
    assert (
        response.json()["detail"]
        == f"{submitted.reference} is submitted; only a draft can be edited."
    )
    submitted.refresh_from_db()
    assert submitted.title != "Sneaky"


@pytest.mark.parametrize("user", ["manager", "head", "procurement", "admin"])
def test_it_lets_only_the_requester_edit_even_those_who_can_see_it(org, user):
    draft = draft_for(org)

    response = org.client_for(getattr(org, user)).patch(
        f"/api/requests/{draft.pk}/", {"title": "Not mine"}, content_type="application/json"
    )

    assert response.status_code == 403
    assert response.json() == {
        "code": "permission_denied",
        "detail": "Only the requester can edit this request.",
        "errors": {},
    }
    draft.refresh_from_db()
    assert draft.title != "Not mine"


@pytest.mark.parametrize("method", ["patch", "put"])
def test_it_answers_404_to_an_edit_from_someone_who_cannot_see_it(org, method):
    draft = draft_for(org)

    response = getattr(org.client_for(org.outsider), method)(
        f"/api/requests/{draft.pk}/",
        payload(org, title="Hijacked"),
        content_type="application/json",
    )

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    draft.refresh_from_db()
    assert draft.title != "Hijacked"
