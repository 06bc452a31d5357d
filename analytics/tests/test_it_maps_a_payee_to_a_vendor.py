"""A reviewer maps a supplier name from imported spend to a vendor, on the payees page."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.urls import reverse

from analytics.models import Payee, PayeeMatch, SpendCube, SpendLine
from analytics.payees import payee_map_to_vendor, payee_unmap
from analytics.services import LineInput, spend_lines_add, spend_source_get_or_create
from conftest import Org
from procurement.errors import InvalidInput, NotAllowed
from procurement.models import AuditEntry
from tests.factories import vendor_create
from vendors.models import Contract, ContractState, Vendor

pytestmark = pytest.mark.django_db


def _line(day: str, amount: str, supplier: str, reference: str) -> LineInput:
    return LineInput(
        date=dt.date.fromisoformat(day),
        amount=Decimal(amount),
        supplier=supplier,
        reference=reference,
    )


def _contract(org: Org, vendor: Vendor, start: str, end: str, state: str) -> Contract:
    return Contract.objects.create(
        vendor=vendor,
        title=f"Gloves {start[:4]}",
        owner=org.procurement,
        value=Decimal("10000"),
        currency="GBP",
        start_date=dt.date.fromisoformat(start),
        end_date=dt.date.fromisoformat(end),
        notice_deadline=dt.date.fromisoformat(end) - dt.timedelta(days=30),
        state=state,
        created_by=org.procurement,
    )


def _cube_by_contract() -> dict[bool, Decimal]:
    """The rollup's on/off-contract split, and the same from a fresh GROUP BY of the lines."""
    rollup: dict[bool, Decimal] = {}
    for row in SpendCube.objects.all():
        rollup[row.on_contract] = rollup.get(row.on_contract, Decimal(0)) + row.amount
    fresh: dict[bool, Decimal] = {}
    for line in SpendLine.objects.all():
        on = line.contract_id is not None
        fresh[on] = fresh.get(on, Decimal(0)) + line.base_amount
    assert rollup == {k: v for k, v in fresh.items() if v or k in rollup}
    return rollup


@pytest.fixture
def gloves(org: Org) -> tuple[Payee, Vendor]:
    """Card spend with a glove shop, and a vendor whose legal name the card never shows."""
    vendor = vendor_create(by=org.procurement, legal_name="Hand Protection Supplies Ltd")
    _contract(org, vendor, "2019-01-01", "2019-12-31", ContractState.EXPIRED)
    _contract(org, vendor, "2020-01-01", "2020-12-31", ContractState.ACTIVE)
    _contract(org, vendor, "2021-01-01", "2021-12-31", ContractState.DRAFT)
    source = spend_source_get_or_create(name="Home Office cards", currency="GBP")
    spend_lines_add(
        source=source,
        lines=[
            _line("2018-06-01", "100.00", "GLOVE CLUB LTD", "a"),
            _line("2019-06-01", "200.00", "GLOVECLUB", "b"),
            _line("2020-06-01", "400.00", "GLOVE CLUB LTD", "c"),
            _line("2021-06-01", "800.00", "GLOVECLUB", "d"),
            _line("2020-06-01", "50.00", "Amazon", "e"),
        ],
    )
    payee = Payee.objects.get(key="gloveclub")
    assert payee.vendor is None
    assert payee.match == PayeeMatch.UNMATCHED
    return payee, vendor


def test_it_maps_a_payee_with_its_past_lines_to_the_contracts_of_their_dates(
    org: Org, gloves: tuple[Payee, Vendor]
) -> None:
    payee, vendor = gloves
    assert _cube_by_contract() == {False: Decimal("1550.00")}

    payee_map_to_vendor(payee=payee, vendor=vendor, user=org.finance)

    payee.refresh_from_db()
    assert (payee.vendor, payee.match, payee.reviewed_by) == (
        vendor,
        PayeeMatch.MANUAL,
        org.finance,
    )
    contracts = dict(
        SpendLine.objects.filter(payee=payee).values_list("reference", "contract__title")
    )
    # Before any contract, the expired 2019 one, the active 2020 one, not the draft.
    assert contracts == {"a": None, "b": "Gloves 2019", "c": "Gloves 2020", "d": None}
    assert _cube_by_contract() == {False: Decimal("950.00"), True: Decimal("600.00")}
    # Its spellings are the vendor's aliases now, so the vendor page and a fresh import know them.
    assert sorted(vendor.other_names.values_list("name", flat=True)) == [
        "GLOVE CLUB LTD",
        "GLOVECLUB",
    ]
    entry = AuditEntry.objects.get(object_id=payee.pk, action="payee_mapped")
    assert entry.actor == org.finance
    assert "Hand Protection Supplies Ltd" in entry.comment


def test_it_applies_the_mapping_to_lines_imported_later(
    org: Org, gloves: tuple[Payee, Vendor]
) -> None:
    payee, vendor = gloves
    payee_map_to_vendor(payee=payee, vendor=vendor, user=org.procurement)
    source = spend_source_get_or_create(name="Home Office cards")
    spend_lines_add(source=source, lines=[_line("2020-09-09", "25.00", "PAYPAL *GLOVECLUB", "f")])
    line = SpendLine.objects.get(reference="f")
    assert line.payee == payee
    assert line.contract is not None
    assert line.contract.vendor == vendor


def test_it_takes_the_payee_off_the_vendor_when_it_is_not_that_vendor(
    org: Org, gloves: tuple[Payee, Vendor]
) -> None:
    payee, vendor = gloves
    payee_map_to_vendor(payee=payee, vendor=vendor, user=org.procurement)

    payee_unmap(payee=payee, user=org.procurement)

    payee.refresh_from_db()
    assert payee.vendor is None
    assert payee.match == PayeeMatch.UNMATCHED
    assert not SpendLine.objects.filter(payee=payee, contract__isnull=False).exists()
    assert _cube_by_contract() == {False: Decimal("1550.00")}
    assert not vendor.other_names.exists()
    assert AuditEntry.objects.filter(object_id=payee.pk, action="payee_unmapped").count() == 1


def test_only_procurement_finance_and_admins_map_payees(
    org: Org, gloves: tuple[Payee, Vendor]
) -> None:
    payee, vendor = gloves
    with pytest.raises(NotAllowed):
        payee_map_to_vendor(payee=payee, vendor=vendor, user=org.manager)
    assert Payee.objects.get(pk=payee.pk).vendor is None
    client = org.client_for(org.manager)
    assert client.get(reverse("payees:list")).status_code == 403
    response = client.post(reverse("payees:map", args=[payee.pk]), {"vendor": vendor.pk})
    assert response.status_code == 403
    assert Payee.objects.get(pk=payee.pk).vendor is None


def test_it_refuses_to_map_the_withheld_names(org: Org, gloves: tuple[Payee, Vendor]) -> None:
    _payee, vendor = gloves
    source = spend_source_get_or_create(name="Leeds")
    spend_lines_add(
        source=source, lines=[_line("2020-01-01", "9.00", "REDACTED PERSONAL DATA", "r")]
    )
    redacted = Payee.objects.get(key="redacted")
    with pytest.raises(InvalidInput):
        payee_map_to_vendor(payee=redacted, vendor=vendor, user=org.finance)


def test_the_page_lists_payees_to_review_and_maps_one(
    org: Org, gloves: tuple[Payee, Vendor]
) -> None:
    payee, vendor = gloves
    mott = vendor_create(by=org.procurement, legal_name="Mott MacDonald Limited")
    source = spend_source_get_or_create(name="Cabinet Office", currency="GBP")
    batch = spend_lines_add(
        source=source, lines=[_line("2020-03-01", "30000.00", "Mott Macdondald Limited", "m")]
    )
    fuzzy = Payee.objects.get(key="mottmacdondald")
    assert (fuzzy.vendor, fuzzy.match) == (mott, PayeeMatch.FUZZY)
    client = org.client_for(org.procurement)

    page = client.get(reverse("payees:list")).content.decode()
    # No vendor first (largest spend first), then the fuzzy match to confirm.
    assert page.index("GLOVE CLUB LTD") < page.index("Amazon") < page.index("Mott Macdondald")
    assert "<code>GLOVECLUB</code>" in page
    assert "1,500.00" in page
    assert "Suggested: " in page
    assert "Not this vendor" in page

    only_batch = client.get(reverse("payees:list"), {"import": batch.pk}).content.decode()
    assert "Mott Macdondald" in only_batch
    assert "GLOVE CLUB LTD" not in only_batch

    options = client.get(reverse("payees:vendor-options"), {"q": "hand prot"}).content.decode()
    assert f'value="{vendor.pk}"' in options
    assert "Hand Protection Supplies Ltd" in options

    here = reverse("payees:list") + "?q=glove"
    response = client.post(
        reverse("payees:map", args=[payee.pk]), {"vendor": vendor.pk, "next": here}, follow=True
    )
    assert response.redirect_chain[-1][0] == here
    assert "GLOVE CLUB LTD is now Hand Protection Supplies Ltd" in response.content.decode()
    assert Payee.objects.get(pk=payee.pk).vendor == vendor

    unmapped = client.post(reverse("payees:unmap", args=[fuzzy.pk]), follow=True)
    assert "no longer taken for Mott MacDonald Limited" in unmapped.content.decode()
    fuzzy.refresh_from_db()
    assert fuzzy.vendor is None
    assert fuzzy.reviewed_by == org.procurement
    mapped = client.get(reverse("payees:list"), {"view": "mapped"}).content.decode()
    assert "GLOVE CLUB LTD" in mapped
    assert "Mott Macdondald" not in mapped


def test_a_mapping_keeps_the_rollups_equal_to_the_lines_on_the_database_in_use(
    org: Org, gloves: tuple[Payee, Vendor]
) -> None:
    payee, vendor = gloves
    payee_map_to_vendor(payee=payee, vendor=vendor, user=org.admin)
    with connection.cursor() as cursor:
        cursor.execute("SELECT SUM(amount), SUM(lines) FROM analytics_spendcube WHERE on_contract")
        assert cursor.fetchone() == (Decimal("600.00"), 2)
