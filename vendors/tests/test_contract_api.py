"""The contracts API: shapes, filters, transitions and the JSON errors."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.urls import reverse
from django.utils import timezone

from conftest import Org
from tests.factories import vendor_approved, vendor_create
from vendors.contracts import contract_transition
from vendors.models import Contract, ContractState, Vendor
from vendors.services import vendor_transition


def body(vendor: Vendor, org: Org, **changes: Any) -> dict[str, Any]:
    today = timezone.localdate()
    data: dict[str, Any] = {
        "vendor": vendor.pk,
        "title": "Ticketing SaaS",
        "owner": org.procurement.pk,
        "value": "36000.00",
        "currency": "GBP",
        "start_date": (today - dt.timedelta(days=30)).isoformat(),
        "end_date": (today + dt.timedelta(days=60)).isoformat(),
        "notice_period_days": 30,
        "auto_renew": True,
    }
    data.update(changes)
    return data


def create(org: Org, vendor: Vendor, **changes: Any) -> dict[str, Any]:
    response = org.client_for(org.procurement).post(
        reverse("contracts-api:list"), body(vendor, org, **changes), content_type="application/json"
    )
    assert response.status_code == 201, response.json()
    result: dict[str, Any] = response.json()
    return result


def test_it_creates_a_draft_and_answers_with_its_shape(org: Org) -> None:
    vendor = vendor_approved(by=org.procurement)
    created = create(org, vendor)
    assert created["state"] == "draft"
    assert created["vendor"] == {
        "id": vendor.pk,
        "legal_name": vendor.legal_name,
        "state": "approved",
    }
    assert created["notice_deadline"] == (timezone.localdate() + dt.timedelta(days=30)).isoformat()
    assert created["available_actions"] == ["activate", "terminate"]
    assert created["url"].endswith(reverse("contracts-api:detail", args=[created["id"]]))


def test_it_answers_bad_input_with_a_400_naming_the_field(org: Org) -> None:
    vendor = vendor_approved(by=org.procurement)
    client = org.client_for(org.procurement)
    response = client.post(
        reverse("contracts-api:list"),
        body(vendor, org, notice_period_days=400),
        content_type="application/json",
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert list(response.json()["errors"]) == ["notice_period_days"]
    response = client.post(
        reverse("contracts-api:list"),
        body(vendor, org, value="-5", currency="XYZ"),
        content_type="application/json",
    )
    assert response.status_code == 400
    assert "value" in response.json()["errors"]


def test_it_refuses_a_contract_with_a_blocked_vendor(org: Org) -> None:
    vendor = vendor_create(by=org.procurement)
    vendor_transition(vendor_id=vendor.pk, by=org.procurement, action="block", reason="Fraud")
    response = org.client_for(org.procurement).post(
        reverse("contracts-api:list"), body(vendor, org), content_type="application/json"
    )
    assert response.status_code == 400
    assert "blocked" in response.json()["errors"]["vendor"][0]


def test_it_hides_contracts_from_requesters_and_forbids_finance_changes(org: Org) -> None:
    created = create(org, vendor_approved(by=org.procurement))
    url = reverse("contracts-api:detail", args=[created["id"]])
    requester = org.client_for(org.requester)
    assert requester.get(url).status_code == 404
    assert requester.get(reverse("contracts-api:list")).json()["results"] == []
    finance = org.client_for(org.finance)
    assert finance.get(url).json()["available_actions"] == []
    response = finance.patch(url, {"title": "Mine now"}, content_type="application/json")
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"


def test_it_patches_only_the_fields_given(org: Org) -> None:
    created = create(org, vendor_approved(by=org.procurement))
    response = org.client_for(org.procurement).patch(
        reverse("contracts-api:detail", args=[created["id"]]),
        {"notice_period_days": 45},
        content_type="application/json",
    )
    assert response.status_code == 200
    assert response.json()["title"] == "Ticketing SaaS"
    assert (
        response.json()["notice_deadline"]
        == (timezone.localdate() + dt.timedelta(days=15)).isoformat()
    )


def test_it_activates_renews_and_refuses_what_the_state_does_not_allow(org: Org) -> None:
    created = create(org, vendor_approved(by=org.procurement))
    client = org.client_for(org.procurement)
    activate = reverse("contracts-api:transition", args=[created["id"], "activate"])
    assert client.post(activate, {}, content_type="application/json").status_code == 400
    response = client.post(activate, {"reason": "Signed"}, content_type="application/json")
    assert response.status_code == 200
    assert response.json()["state"] == "active"
    again = client.post(activate, {"reason": "Again"}, content_type="application/json")
    assert again.status_code == 409
    assert again.json()["code"] == "conflict"
    renewed = client.post(
        reverse("contracts-api:renew", args=[created["id"]]),
        {"reason": "Good value", "months": 12, "value": "30000"},
        content_type="application/json",
    )
    assert renewed.status_code == 201
    assert renewed.json()["renewed_from"] == created["id"]
    assert renewed.json()["value"] == "30000.00"
    assert Contract.objects.get(pk=created["id"]).state == ContractState.RENEWED


def test_it_filters_by_vendor_state_and_due_within(org: Org) -> None:
    vendor = vendor_approved(by=org.procurement)
    other = vendor_approved(by=org.procurement, legal_name="Other Supplies")
    soon = create(org, vendor)
    create(
        org,
        other,
        end_date=(timezone.localdate() + dt.timedelta(days=400)).isoformat(),
    )
    client = org.client_for(org.finance)
    url = reverse("contracts-api:list")

    def ids(query: str) -> list[int]:
        return [row["id"] for row in client.get(url + query).json()["results"]]

    assert ids(f"?vendor={vendor.pk}") == [soon["id"]]
    assert ids("?state=active") == []
    assert ids("?due_within=60") == []  # live contracts only: both are drafts
    contract_transition(contract_id=soon["id"], by=org.procurement, action="activate", reason="Go")
    assert ids("?due_within=60") == [soon["id"]]
    assert ids("?state=active") == [soon["id"]]
    response = client.get(url + "?state=nonsense")
    assert response.status_code == 400
    assert "state" in response.json()["errors"]


def test_it_answers_unknown_contracts_with_a_json_404(org: Org) -> None:
    response = org.client_for(org.procurement).get(reverse("contracts-api:detail", args=[999999]))
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
