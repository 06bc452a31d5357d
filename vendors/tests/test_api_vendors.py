"""Vendors through the API: list, create (with "did you mean ...?"), detail by role, edit,
lifecycle moves and bank details."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from procurement.models import User
from tests.factories import vendor_approved, vendor_create
from vendors.models import BankDetailChange, CheckStatus, Vendor, VendorState

FILE_KEYS = {
    "registration_number",
    "tax_number",
    "address",
    "processes_personal_data",
    "state_reason",
    "names",
    "contacts",
    "checks",
    "declarations",
    "documents",
    "sanctions_matches",
    "blockers",
    "risk_assessed_at",
    "next_assessment_due",
    "created_at",
    "updated_at",
}
BANK_KEYS = {"bank_details", "bank_changes"}
IBAN = "GB82WEST12345698765432"


def api(user: User) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def new_vendor(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "legal_name": "Kestrel Cloud Ltd",
        "country": "GB",
        "vendor_type": "saas",
        "tax_number": "GB 980 7806 84",
        "website": "https://kestrel.example",
        "categories": ["software", "cloud"],
        "trading_names": ["Kestrel"],
        "aliases": ["KCL"],
        "processes_personal_data": True,
        "contacts": [{"name": "Jo Sales", "email": "jo@kestrel.example", "is_primary": True}],
    }
    body.update(overrides)
    return body


# --- List ------------------------------------------------------------------


def test_it_lists_vendor_summaries_to_any_signed_in_user(org):
    vendor = vendor_create(by=org.procurement, legal_name="Northwind Hardware Ltd")
    vendor.categories.set([])
    vendor_create(by=org.procurement, legal_name="Contoso Services", type_code="services")

    response = api(org.requester).get("/api/vendors/")

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    assert [row["legal_name"] for row in body["results"]] == [
        "Contoso Services",
        "Northwind Hardware Ltd",
    ]
    row = body["results"][1]
    assert row == {
        "id": vendor.pk,
        "legal_name": "Northwind Hardware Ltd",
        "trading_names": [],
        "country": "GB",
        "website": "",
        "vendor_type": {
            "code": "hardware",
            "name": "Hardware reseller",
            "requires_security_assessment": False,
        },
        "state": "prospect",
        "state_label": "Prospect",
        "risk_tier": None,
        "categories": [],
        "owner": {"id": org.procurement.pk, "username": "pat", "name": "Pat Buyer"},
        "url": f"http://testserver/api/vendors/{vendor.pk}/",
        "web_url": f"http://testserver/vendors/{vendor.pk}/",
    }


def test_it_filters_the_list_by_name_state_tier_and_category(org):
    kestrel = vendor_create(
        by=org.procurement, legal_name="Kestrel Cloud Ltd", trading_names=["Falcon Hosting"]
    )
    kestrel.categories.set([])
    other = vendor_approved(by=org.procurement, legal_name="Northwind Hardware Ltd")
    Vendor.objects.filter(pk=other.pk).update(risk_tier="high")
    other.categories.add(*other.categories.model.objects.filter(code="hardware"))
    client = api(org.requester)

    def names(**params: str) -> list[str]:
        response = client.get("/api/vendors/", params)
        assert response.status_code == 200, response.content
        return [row["legal_name"] for row in response.json()["results"]]

    assert names(q="falcon") == ["Kestrel Cloud Ltd"]
    assert names(state="approved") == ["Northwind Hardware Ltd"]
    assert names(risk_tier="high") == ["Northwind Hardware Ltd"]
    assert names(category="hardware") == ["Northwind Hardware Ltd"]
    assert names(state="") == ["Kestrel Cloud Ltd", "Northwind Hardware Ltd"]


def test_it_lists_many_vendors_in_a_fixed_number_of_queries(org, django_assert_max_num_queries):
    for name in ("Alpha Ltd", "Bravo GmbH", "Charlie SA", "Delta BV", "Echo AB"):
        vendor_create(by=org.procurement, legal_name=name, trading_names=[f"{name} Trading"])
    client = api(org.requester)

    with django_assert_max_num_queries(6):
        response = client.get("/api/vendors/")

    assert response.json()["count"] == 5


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"state": "lost"}, "state"),
        ({"risk_tier": "huge"}, "risk_tier"),
        ({"category": "x"}, "category"),
    ],
)
def test_it_rejects_an_unknown_filter_value_naming_the_parameter(org, params, field):
    response = api(org.requester).get("/api/vendors/", params)

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert set(response.json()["errors"]) == {field}


def test_it_refuses_anonymous_callers(org):
    vendor = vendor_create(by=org.procurement)

    assert APIClient().get("/api/vendors/").status_code in (401, 403)
    assert APIClient().get(f"/api/vendors/{vendor.pk}/").status_code in (401, 403)


# --- Create ----------------------------------------------------------------


def test_it_creates_a_prospect_with_its_names_contacts_and_categories(org):
    response = api(org.procurement).post("/api/vendors/", new_vendor(), format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    vendor = Vendor.objects.get()
    assert response["Location"] == f"http://testserver/api/vendors/{vendor.pk}/"
    assert body["id"] == vendor.pk
    assert body["state"] == "prospect"
    assert body["tax_number"] == "980780684"  # the compact form, country prefix dropped
    assert body["owner"]["username"] == "pat"  # the caller, when no owner is given
    assert body["trading_names"] == ["Kestrel"]
    assert body["names"] == [
        {"name": "KCL", "kind": "alias"},
        {"name": "Kestrel", "kind": "trading"},
    ]
    assert [c["code"] for c in body["categories"]] == ["cloud", "software"]
    assert body["contacts"] == [
        {
            "name": "Jo Sales",
            "email": "jo@kestrel.example",
            "phone": "",
            "job_title": "",
            "is_primary": True,
        }
    ]
    assert body["processes_personal_data"] is True


def test_it_rejects_an_invalid_tax_number_naming_the_field(org):
    response = api(org.procurement).post(
        "/api/vendors/", new_vendor(tax_number="GB980780685"), format="json"
    )

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert list(body["errors"]) == ["tax_number"]
    assert "not a valid United Kingdom tax number" in body["errors"]["tax_number"][0]
    assert not Vendor.objects.exists()


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"legal_name": ""}, "legal_name"),
        ({"country": "XX"}, "country"),
        ({"vendor_type": "spaceships"}, "vendor_type"),
        ({"categories": ["software", "nope"]}, "categories"),
        ({"website": "ftp://kestrel.example"}, "website"),
        ({"owner": 999999}, "owner"),
        ({"contacts": [{"name": "Jo", "email": "not-an-email"}]}, "contacts[0].email"),
    ],
)
def test_it_names_each_bad_field_when_creating(org, changes, field):
    response = api(org.procurement).post("/api/vendors/", new_vendor(**changes), format="json")

    assert response.status_code == 400, response.content
    assert field in response.json()["errors"]
    assert not Vendor.objects.exists()


def test_it_refuses_a_possible_duplicate_listing_it_then_adds_it_when_confirmed(org):
    existing = vendor_create(by=org.procurement, legal_name="Kestrel Cloud Limited")
    client = api(org.procurement)

    refused = client.post("/api/vendors/", new_vendor(), format="json")

    assert refused.status_code == 409
    body = refused.json()
    assert body["code"] == "possible_duplicate"
    assert "Kestrel Cloud Limited" in body["detail"]
    assert body["errors"]["duplicates"][0].startswith(f"{existing.pk}: Kestrel Cloud Limited")
    assert body["duplicates"] == [
        {
            "id": existing.pk,
            "legal_name": "Kestrel Cloud Limited",
            "reason": "name 100% alike",
            "url": f"http://testserver/api/vendors/{existing.pk}/",
        }
    ]
    assert Vendor.objects.count() == 1

    confirmed = client.post("/api/vendors/", new_vendor(not_a_duplicate=True), format="json")

    assert confirmed.status_code == 201, confirmed.content
    assert Vendor.objects.count() == 2


@pytest.mark.parametrize("role", ["requester", "security", "finance", "legal"])
def test_it_lets_only_procurement_add_vendors(org, role):
    response = api(getattr(org, role)).post("/api/vendors/", new_vendor(), format="json")

    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    assert not Vendor.objects.exists()


# --- Detail: who sees what -------------------------------------------------


@pytest.fixture
def vendor(org) -> Vendor:
    vendor = vendor_create(
        by=org.procurement,
        legal_name="Kestrel Cloud Ltd",
        registration_number="01234567",
        tax_number="GB980780684",
        address="1 Falcon Way, London",
    )
    api(org.finance).put(
        f"/api/vendors/{vendor.pk}/bank-details/",
        {"account_name": "Kestrel Cloud Ltd", "iban": IBAN, "reason": "Onboarding form"},
        format="json",
    )
    return vendor


@pytest.mark.parametrize("role", ["procurement", "finance"])
def test_it_shows_the_file_and_bank_details_to_procurement_and_finance(org, vendor, role):
    response = api(getattr(org, role)).get(f"/api/vendors/{vendor.pk}/")

    assert response.status_code == 200
    body = response.json()
    assert set(body) >= FILE_KEYS | BANK_KEYS
    assert body["registration_number"] == "01234567"
    assert body["bank_details"] == {
        "account_name": "Kestrel Cloud Ltd",
        "iban": IBAN,
        "bic": "",
        "account_number": "",
        "routing_code": "",
    }
    [change] = body["bank_changes"]
    assert change["changed_by"]["username"] == "fiona"
    assert change["reason"] == "Onboarding form"
    assert IBAN not in change["current"]  # masked
    assert change["current"].endswith("5432")


@pytest.mark.parametrize("role", ["security", "legal", "admin"])
def test_it_hides_bank_details_from_other_file_viewers(org, vendor, role):
    response = api(getattr(org, role)).get(f"/api/vendors/{vendor.pk}/")

    assert response.status_code == 200
    body = response.json()
    assert set(body) >= FILE_KEYS
    assert not BANK_KEYS & set(body)  # absent, not null
    assert IBAN not in response.content.decode()


@pytest.mark.parametrize("role", ["requester", "manager", "outsider"])
def test_it_shows_only_the_summary_to_people_outside_the_vendor_file(org, vendor, role):
    response = api(getattr(org, role)).get(f"/api/vendors/{vendor.pk}/")

    assert response.status_code == 200
    body = response.json()
    assert body["legal_name"] == "Kestrel Cloud Ltd"
    assert not (FILE_KEYS | BANK_KEYS) & set(body)
    assert "01234567" not in response.content.decode()
    assert IBAN not in response.content.decode()


def test_it_lists_checks_and_blockers_in_the_detail(org, vendor):
    api(org.procurement).post(
        f"/api/vendors/{vendor.pk}/transitions/",
        {"action": "start_review", "reason": "New supplier"},
        format="json",
    )

    body = api(org.legal).get(f"/api/vendors/{vendor.pk}/").json()

    assert body["state"] == "under_review"
    assert {check["kind"] for check in body["checks"]} == {
        "registration",
        "sanctions",
        "financial_health",
        "insurance",
        "conflict_of_interest",
    }
    assert all(check["status"] == "open" for check in body["checks"])
    assert "The registration verified check is still open." in body["blockers"]


def test_it_answers_404_for_an_unknown_vendor(org):
    response = api(org.procurement).get("/api/vendors/999999/")

    assert response.status_code == 404
    assert response.json() == {"code": "not_found", "detail": "No such vendor.", "errors": {}}


# --- Edit ------------------------------------------------------------------


def test_it_changes_only_the_fields_a_patch_sends(org):
    vendor = vendor_create(
        by=org.procurement,
        legal_name="Kestrel Cloud Ltd",
        trading_names=["Kestrel"],
        tax_number="GB980780684",
    )

    response = api(org.procurement).patch(
        f"/api/vendors/{vendor.pk}/", {"website": "https://kestrel.example"}, format="json"
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["website"] == "https://kestrel.example"
    assert body["legal_name"] == "Kestrel Cloud Ltd"
    assert body["trading_names"] == ["Kestrel"]
    assert body["tax_number"] == "980780684"


def test_it_replaces_the_whole_record_on_put(org):
    vendor = vendor_create(by=org.procurement, legal_name="Kestrel Cloud Ltd", address="Old")

    response = api(org.procurement).put(
        f"/api/vendors/{vendor.pk}/",
        {
            "legal_name": "Kestrel Cloud Group Ltd",
            "country": "DE",
            "vendor_type": "services",
            "owner": org.procurement.pk,
        },
        format="json",
    )

    assert response.status_code == 200, response.content
    vendor.refresh_from_db()
    assert (vendor.legal_name, vendor.country, vendor.address) == (
        "Kestrel Cloud Group Ltd",
        "DE",
        "",
    )
    assert vendor.vendor_type.code == "services"


def test_it_names_a_bad_tax_number_on_edit(org):
    vendor = vendor_create(by=org.procurement)

    response = api(org.procurement).patch(
        f"/api/vendors/{vendor.pk}/", {"tax_number": "GB980780685"}, format="json"
    )

    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["tax_number"]


def test_it_refuses_edits_from_other_roles_before_reading_the_body(org):
    vendor = vendor_create(by=org.procurement)

    response = api(org.security).patch(f"/api/vendors/{vendor.pk}/", {"country": 5}, format="json")

    assert response.status_code == 403
    assert api(org.procurement).patch("/api/vendors/999999/", {}, format="json").status_code == 404


# --- Lifecycle -------------------------------------------------------------


def test_it_refuses_approval_with_open_checks_listing_the_blockers(org):
    vendor = vendor_create(by=org.procurement)
    client = api(org.procurement)
    started = client.post(
        f"/api/vendors/{vendor.pk}/transitions/",
        {"action": "start_review", "reason": "New supplier"},
        format="json",
    )
    assert started.status_code == 200, started.content

    refused = client.post(
        f"/api/vendors/{vendor.pk}/transitions/",
        {"action": "approve", "reason": "Looks fine"},
        format="json",
    )

    assert refused.status_code == 409
    body = refused.json()
    assert body["code"] == "conflict"
    assert "The sanctions screening check is still open." in body["errors"]["blockers"]
    vendor.refresh_from_db()
    assert vendor.state == VendorState.UNDER_REVIEW


def test_it_approves_once_every_check_has_passed(org):
    vendor = vendor_create(by=org.procurement)
    client = api(org.procurement)
    client.post(
        f"/api/vendors/{vendor.pk}/transitions/",
        {"action": "start_review", "reason": "New supplier"},
        format="json",
    )
    client.post(f"/api/vendors/{vendor.pk}/declarations/", {"has_conflict": False}, format="json")
    for check in vendor.checks.all():
        recorded = client.post(
            f"/api/vendors/{vendor.pk}/checks/{check.pk}/",
            {"status": "passed", "outcome": "Checked."},
            format="json",
        )
        assert recorded.status_code == 200, recorded.content

    response = client.post(
        f"/api/vendors/{vendor.pk}/transitions/",
        {"action": "approve", "reason": "All checks passed"},
        format="json",
    )

    assert response.status_code == 200, response.content
    assert response.json()["state"] == "approved"
    assert response.json()["state_reason"] == "All checks passed"
    assert response.json()["blockers"] == []
    assert set(vendor.checks.values_list("status", flat=True)) == {CheckStatus.PASSED}


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"action": "approve"}, 400, "reason"),
        ({"action": "fly", "reason": "x"}, 400, "action"),
        ({"action": "suspend", "reason": "x"}, 409, None),  # a prospect is not approved yet
    ],
)
def test_it_refuses_a_bad_transition_clearly(org, body, status, field):
    vendor = vendor_create(by=org.procurement)

    response = api(org.procurement).post(
        f"/api/vendors/{vendor.pk}/transitions/", body, format="json"
    )

    assert response.status_code == status, response.content
    if field:
        assert field in response.json()["errors"]
    vendor.refresh_from_db()
    assert vendor.state == VendorState.PROSPECT


def test_it_lets_only_procurement_move_a_vendor(org):
    vendor = vendor_create(by=org.procurement)

    response = api(org.finance).post(
        f"/api/vendors/{vendor.pk}/transitions/",
        {"action": "block", "reason": "Fraud"},
        format="json",
    )

    assert response.status_code == 403
    vendor.refresh_from_db()
    assert vendor.state == VendorState.PROSPECT


# --- Bank details ----------------------------------------------------------


def test_it_changes_bank_details_and_puts_an_approved_vendor_back_under_review(org):
    vendor = vendor_approved(by=org.procurement)

    response = api(org.finance).put(
        f"/api/vendors/{vendor.pk}/bank-details/",
        {
            "account_name": "Northwind Hardware Ltd",
            "iban": "gb82 west 1234 5698 7654 32",
            "bic": "westgb2l",
            "reason": "Letter from the vendor, confirmed by phone",
        },
        format="json",
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["state"] == "under_review"
    assert body["bank_details"]["iban"] == IBAN
    assert body["bank_details"]["bic"] == "WESTGB2L"
    assert len(body["bank_changes"]) == 1
    assert BankDetailChange.objects.get().changed_by == org.finance


@pytest.mark.parametrize("role", ["security", "requester", "legal"])
def test_it_refuses_bank_changes_by_other_roles(org, role):
    vendor = vendor_approved(by=org.procurement)

    response = api(getattr(org, role)).put(
        f"/api/vendors/{vendor.pk}/bank-details/",
        {"account_name": "Mallory", "iban": IBAN, "reason": "Trust me"},
        format="json",
    )

    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    vendor.refresh_from_db()
    assert (vendor.bank_iban, vendor.state) == ("", VendorState.APPROVED)
    assert not BankDetailChange.objects.exists()


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"iban": "GB82WEST12345698765433"}, "iban"),
        ({"bic": "NOTABIC!"}, "bic"),
        ({"reason": ""}, "reason"),
        ({"iban": ""}, "iban"),  # neither an IBAN nor an account number
    ],
)
def test_it_rejects_bad_bank_details_naming_the_field(org, changes, field):
    vendor = vendor_create(by=org.procurement)
    body = {"account_name": "Northwind", "iban": IBAN, "reason": "Onboarding", **changes}

    response = api(org.procurement).put(
        f"/api/vendors/{vendor.pk}/bank-details/", body, format="json"
    )

    assert response.status_code == 400, response.content
    assert field in response.json()["errors"]
    assert not BankDetailChange.objects.exists()
