"""A request may name the vendor to buy from; blocked and offboarded vendors are not offered."""

from __future__ import annotations

import pytest

from procurement.errors import InvalidInput
from requests.models import PurchaseRequest
from requests.services import purchase_request_create
from requests.tests.helpers import request_input
from requests.tests.page_helpers import request_form_data
from tests.factories import vendor_approved, vendor_create
from vendors.services import vendor_transition

pytestmark = pytest.mark.django_db


def test_it_offers_vendors_that_can_be_ordered_from_and_says_which_are_not_approved(org):
    vendor_approved(by=org.procurement, legal_name="Approved Supplies Ltd")
    vendor_create(by=org.procurement, legal_name="Prospect Parts Ltd")
    blocked = vendor_create(by=org.procurement, legal_name="Blocked Bits Ltd")
    vendor_transition(vendor_id=blocked.pk, by=org.procurement, action="block", reason="Fraud")

    page = org.client_for(org.requester).get("/requests/new/").content.decode()

    assert ">Approved Supplies Ltd<" in page
    assert "Prospect Parts Ltd (not yet approved: adds a vendor review)" in page
    assert "Blocked Bits Ltd" not in page
    assert "Not sure yet (procurement will choose)" in page


def test_it_saves_the_chosen_vendor_from_the_form(org):
    vendor = vendor_approved(by=org.procurement, legal_name="Approved Supplies Ltd")

    response = org.client_for(org.requester).post(
        "/requests/new/", request_form_data(org, vendor=str(vendor.pk))
    )

    assert response.status_code == 302
    assert PurchaseRequest.objects.get().vendor == vendor


def test_it_refuses_a_blocked_vendor_named_through_the_service(org):
    vendor = vendor_create(by=org.procurement, legal_name="Blocked Bits Ltd")
    vendor_transition(vendor_id=vendor.pk, by=org.procurement, action="block", reason="Fraud")

    with pytest.raises(InvalidInput) as error:
        purchase_request_create(requester=org.requester, data=request_input(org, vendor=vendor))

    assert error.value.fields["vendor"] == [
        "Blocked Bits Ltd is blocked: nothing can be requested or ordered from it. "
        "Choose another vendor."
    ]
    assert not PurchaseRequest.objects.exists()


def test_it_takes_the_vendor_by_id_in_the_api_and_shows_it(org):
    vendor = vendor_create(by=org.procurement, legal_name="Prospect Parts Ltd")
    client = org.client_for(org.requester)
    payload = {
        "title": "Cables",
        "justification": "Desk moves.",
        "department": "it",
        "cost_centre": "IT-100",
        "category": "hardware",
        "needed_by": "2099-01-01",
        "currency": "GBP",
        "vendor": vendor.pk,
    }

    created = client.post("/api/requests/", payload, content_type="application/json")
    unknown = client.post(
        "/api/requests/", {**payload, "vendor": 999999}, content_type="application/json"
    )

    assert created.status_code == 201, created.json()
    assert created.json()["vendor"] == {
        "id": vendor.pk,
        "legal_name": "Prospect Parts Ltd",
        "state": "prospect",
    }
    assert unknown.status_code == 400
    assert unknown.json()["errors"]["vendor"] == ["Unknown vendor 999999."]
