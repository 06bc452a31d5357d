"""Tax and VAT numbers are checked for the vendor's country, where python-stdnum knows how."""

from __future__ import annotations

import pytest

from procurement.errors import InvalidInput
from tests.factories import vendor_create, vendor_type
from vendors.models import Vendor
from vendors.services import VendorInput
from vendors.services import vendor_create as service_create


@pytest.mark.parametrize(
    ("country", "typed", "stored"),
    [
        ("GB", "GB 980 7806 84", "980780684"),
        ("GB", "980780684", "980780684"),
        ("DE", "DE 136 695 976", "136695976"),
        ("FR", "FR 40 303 265 045", "40303265045"),
        ("IE", "IE 6433435F", "6433435F"),
        ("NL", "NL004495445B01", "004495445B01"),
        ("US", "04-2103594", "042103594"),
    ],
)
def test_it_accepts_a_valid_tax_number_and_keeps_its_compact_form(org, country, typed, stored):
    vendor = vendor_create(by=org.procurement, country=country, tax_number=typed)

    vendor.refresh_from_db()
    assert vendor.tax_number == stored


@pytest.mark.parametrize(
    ("country", "typed"),
    [
        ("GB", "GB 980 7806 85"),  # check digits wrong
        ("DE", "DE136695978"),
        ("FR", "FR41303265045"),
        ("IE", "IE6433435E"),
        ("NL", "NL004495446B01"),
        ("US", "00-2103594"),  # no campus issues EINs with prefix 00
        ("US", "12-345678"),  # one digit short
        ("GB", "DE136695976"),  # a German number for a British vendor
    ],
)
def test_it_refuses_an_invalid_tax_number_naming_the_field_and_country(org, country, typed):
    data = VendorInput(
        legal_name="Northwind Hardware Ltd",
        country=country,
        vendor_type_id=vendor_type().pk,
        owner_id=org.procurement.pk,
        tax_number=typed,
    )

    with pytest.raises(InvalidInput) as caught:
        service_create(by=org.procurement, data=data)

    assert list(caught.value.fields) == ["tax_number"]
    assert typed in caught.value.fields["tax_number"][0]
    assert not Vendor.objects.exists()


def test_it_keeps_a_number_it_cannot_check_as_typed(org):
    # python-stdnum has no tax-number module for South Africa.
    vendor = vendor_create(by=org.procurement, country="ZA", tax_number=" 4123-456/789 ")

    assert vendor.tax_number == "4123-456/789"


def test_it_does_not_check_the_tax_number_against_an_unknown_country(org):
    data = VendorInput(
        legal_name="Northwind Hardware Ltd",
        country="XX",
        vendor_type_id=vendor_type().pk,
        owner_id=org.procurement.pk,
        tax_number="whatever",
    )

    with pytest.raises(InvalidInput) as caught:
        service_create(by=org.procurement, data=data)

    assert list(caught.value.fields) == ["country"]
