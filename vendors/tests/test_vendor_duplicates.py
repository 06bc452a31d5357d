"""\"Did you mean ...?\": a vendor that looks like one we have is not added twice by accident."""

from __future__ import annotations

from typing import Any

import pytest

from procurement.models import AuditEntry
from tests.factories import vendor_create, vendor_type
from vendors.models import Vendor
from vendors.selectors import vendor_possible_duplicates
from vendors.services import PossibleDuplicate, VendorInput, vendor_update
from vendors.services import vendor_create as service_create


def attempt(org: Any, legal_name: str, **fields: Any) -> Vendor:
    data = VendorInput(
        legal_name=legal_name,
        country=fields.pop("country", "GB"),
        vendor_type_id=vendor_type().pk,
        owner_id=org.procurement.pk,
        **fields,
    )
    return service_create(by=org.procurement, data=data)


@pytest.fixture
def acme(org):
    return vendor_create(by=org.procurement, legal_name="Acme Ltd.")


@pytest.mark.parametrize(
    "name",
    [
        "ACME Limited",
        "Acme GmbH",
        "acme",
        "A.C.M.E. Ltd",
        "Acme, Inc.",
    ],
)
def test_it_asks_did_you_mean_for_the_same_name_written_differently(org, acme, name):
    with pytest.raises(PossibleDuplicate) as caught:
        attempt(org, name)

    assert [c.vendor for c in caught.value.candidates] == [acme]
    assert "Acme Ltd." in caught.value.message
    assert caught.value.status == 409
    assert Vendor.objects.count() == 1


def test_it_matches_names_whatever_the_word_order(org):
    widgets = vendor_create(by=org.procurement, legal_name="Acme Widgets Ltd")

    with pytest.raises(PossibleDuplicate) as caught:
        attempt(org, "Widgets Acme plc")

    assert [c.vendor for c in caught.value.candidates] == [widgets]


def test_it_catches_a_typo_in_a_longer_name(org):
    northwind = vendor_create(by=org.procurement, legal_name="Northwind Hardware Ltd")

    with pytest.raises(PossibleDuplicate) as caught:
        attempt(org, "Northwnd Hardware Limited")

    assert [c.vendor for c in caught.value.candidates] == [northwind]
    assert "name 97% alike" in caught.value.candidates[0].reason


def test_it_finds_a_vendor_by_its_trading_name(org):
    vendor = vendor_create(
        by=org.procurement, legal_name="Kestrel Holdings Ltd", trading_names=["Kestrel IT"]
    )

    with pytest.raises(PossibleDuplicate) as caught:
        attempt(org, "Kestrel IT Limited")

    assert [c.vendor for c in caught.value.candidates] == [vendor]
    assert caught.value.candidates[0].reason == "trading name Kestrel IT 100% alike"


def test_it_finds_a_vendor_by_its_alias(org):
    vendor = vendor_create(by=org.procurement, legal_name="Kestrel Holdings Ltd", aliases=["KHL"])

    with pytest.raises(PossibleDuplicate) as caught:
        attempt(org, "K.H.L. Ltd")

    assert caught.value.candidates[0].vendor == vendor
    assert caught.value.candidates[0].reason == "alias KHL 100% alike"


def test_it_compares_the_new_vendors_trading_names_too(org, acme):
    with pytest.raises(PossibleDuplicate) as caught:
        attempt(org, "Roadrunner Holdings", trading_names=["Acme"])

    assert [c.vendor for c in caught.value.candidates] == [acme]


def test_it_finds_the_same_registration_number_with_different_spacing(org):
    vendor = vendor_create(
        by=org.procurement, legal_name="Blue Heron Ltd", registration_number="SC 123 45"
    )

    with pytest.raises(PossibleDuplicate) as caught:
        attempt(org, "Totally Different Name", registration_number="sc12345")

    assert [(c.vendor, c.reason) for c in caught.value.candidates] == [
        (vendor, "same registration number")
    ]


def test_it_does_not_take_the_same_registration_number_in_another_country_for_a_duplicate(org):
    vendor_create(by=org.procurement, legal_name="Blue Heron Ltd", registration_number="12345")

    created = attempt(org, "Gelber Reiher", country="DE", registration_number="12345")

    assert created.pk


def test_it_finds_the_same_tax_number_however_it_was_typed(org):
    vendor = vendor_create(by=org.procurement, legal_name="Blue Heron Ltd", tax_number="980780684")

    with pytest.raises(PossibleDuplicate) as caught:
        attempt(org, "Grey Heron Trading", tax_number="GB 980 7806 84")

    assert [(c.vendor, c.reason) for c in caught.value.candidates] == [(vendor, "same tax number")]


def test_it_gives_every_reason_for_one_vendor(org):
    vendor_create(by=org.procurement, legal_name="Blue Heron Ltd", registration_number="12345")

    with pytest.raises(PossibleDuplicate) as caught:
        attempt(org, "Blue Heron Limited", registration_number="12 345")

    assert caught.value.candidates[0].reason == "same registration number, name 100% alike"


@pytest.mark.parametrize(
    ("existing", "new"),
    [
        ("Acme Ltd", "Roadrunner Supplies Ltd"),
        ("AB Ltd", "ABC Ltd"),
        ("Acme Ltd", "Acne Ltd"),
        ("Acme Ltd", "Acmes Ltd"),
        ("IBM", "IBX"),
        ("Acme Ltd", "Acme Widgets Ltd"),
    ],
)
def test_it_does_not_flag_an_unrelated_or_short_different_name(org, existing, new):
    vendor_create(by=org.procurement, legal_name=existing)

    created = attempt(org, new)

    assert created.legal_name == new


def test_it_creates_a_confirmed_look_alike_and_records_what_it_resembled(org, acme):
    created = vendor_create(by=org.procurement, legal_name="ACME Limited", not_a_duplicate=True)

    entry = AuditEntry.objects.get(object_id=created.pk, action="created")
    assert "Acme Ltd." in entry.comment
    assert f"#{acme.pk}" in entry.comment
    assert "name 100% alike" in entry.comment


def test_it_does_not_take_a_vendor_being_edited_for_its_own_duplicate(org, acme):
    data = VendorInput(
        legal_name="Acme Limited",
        country="GB",
        vendor_type_id=vendor_type().pk,
        owner_id=org.procurement.pk,
        trading_names=["Acme"],
    )

    updated = vendor_update(vendor_id=acme.pk, by=org.procurement, data=data)

    assert updated.legal_name == "Acme Limited"
    assert vendor_possible_duplicates(legal_name="Acme", exclude_id=acme.pk) == []


def test_it_refuses_an_edit_that_makes_a_vendor_look_like_another(org, acme):
    other = vendor_create(by=org.procurement, legal_name="Roadrunner Ltd")
    data = VendorInput(
        legal_name="ACME Limited",
        country="GB",
        vendor_type_id=vendor_type().pk,
        owner_id=org.procurement.pk,
    )

    with pytest.raises(PossibleDuplicate):
        vendor_update(vendor_id=other.pk, by=org.procurement, data=data)
    vendor_update(vendor_id=other.pk, by=org.procurement, data=data, not_a_duplicate=True)

    entry = AuditEntry.objects.get(object_id=other.pk, action="edited")
    assert "Acme Ltd." in entry.comment
