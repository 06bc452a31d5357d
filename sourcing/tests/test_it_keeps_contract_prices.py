"""Procurement keeps the prices a contract agreed, on a page linked from the contract, so the
comparison of an RFQ can show them beside each quote; finance may read them, nobody else sees
the page, and a bad price is an error next to its field with nothing written."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from procurement.models import AuditEntry, Category
from sourcing.benchmarks import rfq_benchmarks
from sourcing.models import ContractPrice
from sourcing.tests.helpers import closed_rfq_with_two_quotes, vendor
from vendors.contracts import ContractInput, contract_create, contract_transition

pytestmark = pytest.mark.django_db


def _contract(org, supplier):
    today = timezone.localdate()
    contract = contract_create(
        by=org.procurement,
        data=ContractInput(
            vendor_id=supplier.pk,
            title="Laptop supply framework",
            owner_id=org.procurement.pk,
            value=Decimal("50000"),
            currency="GBP",
            start_date=today - dt.timedelta(days=30),
            end_date=today + dt.timedelta(days=335),
        ),
    )
    contract_transition(
        contract_id=contract.pk, by=org.procurement, action="activate", reason="Signed"
    )
    return contract


def test_it_adds_a_price_from_the_page_and_shows_it_beside_the_quotes(org):
    rfq, northwind_quote, _contoso = closed_rfq_with_two_quotes(org)
    contract = _contract(org, northwind_quote.invitation.vendor)
    client = org.client_for(org.procurement)

    page = client.post(
        f"/sourcing/contracts/{contract.pk}/prices/",
        {
            "description": "Laptop, 14 inch",
            "category": Category.objects.get(code="hardware").pk,
            "unit": "each",
            "unit_price": "1100.00",
        },
        follow=True,
    )

    assert page.status_code == 200
    assert "Price added." in page.text
    assert "1,100.00 GBP" in page.text
    assert AuditEntry.objects.filter(action="price_added", object_id=contract.pk).exists()
    contract_page = client.get(f"/contracts/{contract.pk}/")
    assert "Laptop, 14 inch: 1,100.00 GBP per each" in contract_page.text
    (line,) = rfq_benchmarks(rfq=rfq)
    assert line.contract is not None
    assert line.contract.unit_price == Decimal("1100.00")


def test_it_shows_a_bad_price_next_to_its_field_and_adds_nothing(org):
    contract = _contract(org, vendor(org, "Northwind Hardware Ltd"))

    page = org.client_for(org.procurement).post(
        f"/sourcing/contracts/{contract.pk}/prices/",
        {
            "description": "Laptop",
            "category": Category.objects.get(code="hardware").pk,
            "unit": "each",
            "unit_price": "0",
        },
    )

    assert page.status_code == 400
    assert 'aria-invalid="true"' in page.text
    assert not ContractPrice.objects.exists()


def test_it_lets_finance_read_but_not_change_and_hides_the_page_from_others(org):
    contract = _contract(org, vendor(org, "Northwind Hardware Ltd"))
    ContractPrice.objects.create(
        contract=contract,
        description="Dock",
        category=Category.objects.get(code="hardware"),
        unit_price=Decimal("150.00"),
    )
    url = f"/sourcing/contracts/{contract.pk}/prices/"
    price = ContractPrice.objects.get()

    finance = org.client_for(org.finance)
    assert finance.get(url).status_code == 200
    assert "Add a price" not in finance.get(url).text
    finance.post(f"{url}{price.pk}/remove/")
    assert ContractPrice.objects.filter(pk=price.pk).exists()
    assert org.client_for(org.requester).get(url).status_code == 404
    assert org.client_for(org.requester).post(f"{url}{price.pk}/remove/").status_code == 404

    org.client_for(org.procurement).post(f"{url}{price.pk}/remove/")

    assert not ContractPrice.objects.exists()
    assert AuditEntry.objects.filter(action="price_removed", object_id=contract.pk).exists()


def test_it_removes_a_price_only_through_its_own_contract(org):
    supplier = vendor(org, "Northwind Hardware Ltd")
    first, second = _contract(org, supplier), _contract(org, supplier)
    price = ContractPrice.objects.create(
        contract=first,
        description="Dock",
        category=Category.objects.get(code="hardware"),
        unit_price=Decimal("150.00"),
    )

    answer = org.client_for(org.procurement).post(
        f"/sourcing/contracts/{second.pk}/prices/{price.pk}/remove/"
    )

    assert answer.status_code == 404
    assert ContractPrice.objects.filter(pk=price.pk).exists()
