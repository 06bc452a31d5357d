"""Adding and editing a vendor's record: every bad field is named, nothing is half-written."""

from __future__ import annotations

from typing import Any

import pytest

from procurement.errors import InvalidInput, NotAllowed
from procurement.models import AuditEntry, Category
from tests.factories import vendor_type
from vendors.models import Vendor, VendorContact, VendorName
from vendors.services import ContactInput, VendorInput, vendor_create, vendor_update


def vendor_input(org: Any, **fields: Any) -> VendorInput:
    values: dict[str, Any] = {
        "legal_name": "Northwind Hardware Ltd",
        "country": "GB",
        "vendor_type_id": vendor_type("hardware").pk,
        "owner_id": org.procurement.pk,
    }
    values.update(fields)
    return VendorInput(**values)


def refusal(org: Any, **fields: Any) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        vendor_create(by=org.procurement, data=vendor_input(org, **fields))
    return caught.value


def test_it_creates_a_prospect_with_its_names_contacts_and_categories(org):
    hardware = Category.objects.get(code="hardware")
    cloud = Category.objects.get(code="cloud")

    vendor = vendor_create(
        by=org.procurement,
        data=vendor_input(
            org,
            legal_name="  Northwind   Hardware Ltd ",
            country="gb",
            tax_number="GB 980 7806 84",
            registration_number="01234567",
            website="https://northwind.example",
            category_ids=[hardware.pk, cloud.pk],
            trading_names=["Northwind Direct"],
            aliases=["NWH"],
            contacts=[
                ContactInput(name="Nora North", email="nora@northwind.example", is_primary=True),
                ContactInput(name="Ned", email="ned@northwind.example", phone=" 01632 960000 "),
            ],
        ),
    )

    vendor.refresh_from_db()
    assert vendor.state == "prospect"
    assert vendor.legal_name == "Northwind Hardware Ltd"
    assert vendor.name_key == "northwind hardware"
    assert vendor.country == "GB"
    assert vendor.tax_number == "980780684"
    assert set(vendor.categories.all()) == {hardware, cloud}
    assert {(n.name, n.kind) for n in vendor.other_names.all()} == {
        ("Northwind Direct", "trading"),
        ("NWH", "alias"),
    }
    assert [(c.name, c.is_primary) for c in vendor.contacts.all()] == [
        ("Nora North", True),
        ("Ned", False),
    ]
    assert vendor.contacts.get(name="Ned").phone == "01632 960000"
    entry = AuditEntry.objects.get(object_id=vendor.pk, action="created")
    assert entry.actor == org.procurement


def test_it_keeps_a_trading_name_that_is_only_the_legal_name_once(org):
    vendor = vendor_create(
        by=org.procurement,
        data=vendor_input(org, trading_names=["NORTHWIND HARDWARE LIMITED", "Northwind"]),
    )

    assert list(vendor.other_names.values_list("name", flat=True)) == ["Northwind"]


@pytest.mark.parametrize(
    ("fields", "field_name"),
    [
        ({"legal_name": "   "}, "legal_name"),
        ({"legal_name": "x" * 201}, "legal_name"),
        ({"country": ""}, "country"),
        ({"country": "UK"}, "country"),
        ({"country": "GBR"}, "country"),
        ({"website": "ftp://northwind.example"}, "website"),
        ({"website": "northwind"}, "website"),
        ({"website": "javascript:alert(1)"}, "website"),
        ({"registration_number": "1" * 41}, "registration_number"),
        ({"address": "a" * 2001}, "address"),
        ({"trading_names": ["n" * 201]}, "trading_names"),
        ({"aliases": ["n" * 201]}, "aliases"),
        ({"contacts": [ContactInput(name="Nora", email="not-an-email")]}, "contacts"),
        ({"contacts": [ContactInput(name=" ", email="nora@example.com")]}, "contacts"),
        (
            {"contacts": [ContactInput(name="Nora", email="nora@example.com", phone="1" * 41)]},
            "contacts",
        ),
        ({"category_ids": [999_999]}, "categories"),
        ({"vendor_type_id": 999_999}, "vendor_type"),
    ],
)
def test_it_refuses_a_bad_field_naming_it_and_writes_nothing(org, fields, field_name):
    error = refusal(org, **fields)

    assert field_name in error.fields
    assert error.message
    assert not Vendor.objects.exists()
    assert not VendorName.objects.exists()
    assert not VendorContact.objects.exists()


def test_it_refuses_an_owner_outside_procurement(org):
    error = refusal(org, owner_id=org.finance.pk)

    assert error.fields["owner"] == ["The owner must be an active member of procurement."]


def test_it_refuses_an_inactive_owner(org):
    org.procurement.is_active = False
    org.procurement.save()
    with pytest.raises(InvalidInput) as caught:
        vendor_create(by=org.admin, data=vendor_input(org))

    assert "owner" in caught.value.fields


def test_it_names_every_bad_field_at_once(org):
    error = refusal(org, legal_name="", country="XX", website="nope", owner_id=org.legal.pk)

    assert set(error.fields) == {"legal_name", "country", "website", "owner"}


def test_it_refuses_people_outside_procurement(org):
    for user in (org.requester, org.finance, org.security, org.legal):
        with pytest.raises(NotAllowed):
            vendor_create(by=user, data=vendor_input(org))
    assert not Vendor.objects.exists()


def test_it_lets_an_admin_add_a_vendor(org):
    vendor = vendor_create(by=org.admin, data=vendor_input(org))

    assert vendor.created_by == org.admin


def test_it_updates_names_contacts_and_categories_and_says_what_changed(org):
    vendor = vendor_create(
        by=org.procurement,
        data=vendor_input(
            org,
            trading_names=["Northwind Direct"],
            contacts=[ContactInput(name="Nora", email="nora@northwind.example")],
        ),
    )
    software = Category.objects.get(code="software")

    vendor_update(
        vendor_id=vendor.pk,
        by=org.procurement,
        data=vendor_input(
            org,
            website="https://northwind.example",
            category_ids=[software.pk],
            aliases=["NW"],
            contacts=[ContactInput(name="Ned", email="ned@northwind.example")],
        ),
    )

    vendor.refresh_from_db()
    assert vendor.website == "https://northwind.example"
    assert list(vendor.categories.all()) == [software]
    assert list(vendor.other_names.values_list("name", flat=True)) == ["NW"]
    assert list(vendor.contacts.values_list("name", flat=True)) == ["Ned"]
    entry = AuditEntry.objects.get(object_id=vendor.pk, action="edited")
    assert "website" in entry.comment


def test_it_leaves_the_record_untouched_when_an_update_is_invalid(org):
    vendor = vendor_create(by=org.procurement, data=vendor_input(org, trading_names=["NW Direct"]))

    with pytest.raises(InvalidInput):
        vendor_update(
            vendor_id=vendor.pk,
            by=org.procurement,
            data=vendor_input(org, legal_name="Renamed Ltd", trading_names=[], country="ZZ"),
        )

    vendor.refresh_from_db()
    assert vendor.legal_name == "Northwind Hardware Ltd"
    assert list(vendor.other_names.values_list("name", flat=True)) == ["NW Direct"]


def test_it_adds_the_data_processing_check_when_a_vendor_under_review_starts_processing_personal_data(
    org,
):
    from vendors.services import vendor_transition

    vendor = vendor_create(
        by=org.procurement, data=vendor_input(org, vendor_type_id=vendor_type("saas").pk)
    )
    vendor_transition(vendor_id=vendor.pk, by=org.procurement, action="start_review", reason="New")
    assert not vendor.checks.filter(kind="data_processing").exists()

    vendor_update(
        vendor_id=vendor.pk,
        by=org.procurement,
        data=vendor_input(org, vendor_type_id=vendor_type("saas").pk, processes_personal_data=True),
    )

    assert vendor.checks.get(kind="data_processing").status == "open"
