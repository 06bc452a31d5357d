"""Benchmarks per RFQ line: past prices paid from the spend ledger (median, 25th percentile,
last), the contract price, and how far each quote is from them. Spend is added the way the
platform adds it (analytics.services.spend_lines_add); the figures expected are computed
here from the lines added."""

from __future__ import annotations

import datetime as dt
import statistics
from decimal import ROUND_HALF_UP, Decimal

from django.urls import reverse
from django.utils import timezone

from analytics.models import SpendCategory
from analytics.services import LineInput, spend_lines_add, spend_source_get_or_create
from procurement.models import Category, ExchangeRate
from sourcing import benchmarks as benchmarks_module
from sourcing.benchmarks import rfq_benchmarks
from sourcing.models import Billing, ContractPrice, Rfq
from sourcing.tests.helpers import closed_rfq_with_two_quotes, make_rfq, vendor
from vendors.models import Contract, ContractState

CENT = Decimal("0.01")
TODAY = timezone.localdate()


def days_ago(days: int) -> dt.date:
    return TODAY - dt.timedelta(days=days)


def add_spend(*lines: tuple[dt.date, str, str, str | None, str]) -> None:
    """(date, amount, description, quantity, category name) lines paid in GBP."""
    spend_lines_add(
        source=spend_source_get_or_create(name="Finance system", currency="GBP"),
        lines=[
            LineInput(
                date=date,
                amount=Decimal(amount),
                supplier="Northwind Hardware",
                currency="GBP",
                category=category,
                department="IT",
                description=description,
                quantity=Decimal(quantity) if quantity else None,
                reference=f"ref-{index}",
            )
            for index, (date, amount, description, quantity, category) in enumerate(lines)
        ],
    )


LAPTOP_SPEND = [
    (days_ago(300), "2000.00", "Laptop 14 inch", "2", "Hardware"),  # 1,000 each
    (days_ago(200), "1100.00", "14 inch laptop", None, "Hardware"),  # no quantity: 1,100
    (days_ago(100), "3600.00", "Laptop 14 inch, 16GB", "3", "Hardware"),  # 1,200 each
    (days_ago(20), "1300.00", "Laptop 14 inch", "1", "Hardware"),  # 1,300, the last paid
    (days_ago(10), "300.00", "Office chair", "1", "Hardware"),  # not alike
    (days_ago(365 * 4), "100.00", "Laptop 14 inch", "1", "Hardware"),  # too old
]
LAPTOP_PRICES = [Decimal("1000"), Decimal("1100"), Decimal("1200"), Decimal("1300")]


def p25(values: list[Decimal]) -> Decimal:
    # Linear interpolation between the closest ranks (PostgreSQL's percentile_cont).
    ordered = sorted(values)
    position = Decimal("0.25") * (len(ordered) - 1)
    low = int(position)
    return ordered[low] + (ordered[low + 1] - ordered[low]) * (position - low)


def percent(price: Decimal, benchmark: Decimal) -> Decimal:
    return (100 * (price - benchmark) / benchmark).quantize(Decimal("0.1"), ROUND_HALF_UP)


def test_it_maps_the_spend_category_to_the_rfq_lines_category(org):
    add_spend(LAPTOP_SPEND[0])

    assert SpendCategory.objects.get(name="Hardware").category == Category.objects.get(
        code="hardware"
    )


def test_it_gives_median_p25_and_last_price_of_alike_past_lines(org):
    add_spend(*LAPTOP_SPEND)
    rfq, northwind, contoso = closed_rfq_with_two_quotes(org)

    [benchmark] = rfq_benchmarks(rfq=rfq)

    assert benchmark.basis == "similar"
    assert benchmark.count == len(LAPTOP_PRICES)
    assert "like “Laptop, 14 inch”" in benchmark.basis_text
    assert benchmark.median == statistics.median(LAPTOP_PRICES).quantize(CENT)
    assert benchmark.p25 == p25(LAPTOP_PRICES).quantize(CENT)
    assert benchmark.last == Decimal("1300.00")
    assert benchmark.last_date == days_ago(20)
    differences = {d.invitation_id: d for d in benchmark.quotes}
    north = differences[northwind.invitation_id]
    assert north.unit_price == Decimal("1150.00")
    assert north.vs_median == percent(Decimal("1150"), benchmark.median)
    assert north.vs_p25 == percent(Decimal("1150"), benchmark.p25)
    assert north.vs_last == percent(Decimal("1150"), Decimal("1300"))
    assert differences[contoso.invitation_id].vs_median == percent(
        Decimal("1200"), benchmark.median
    )


def test_it_falls_back_to_the_whole_category_and_says_so(org):
    add_spend(*LAPTOP_SPEND)
    rfq = make_rfq(org, lines=[("Docking station USB-C", "4", Billing.ONE_OFF, "hardware")])

    [benchmark] = rfq_benchmarks(rfq=rfq)

    assert benchmark.basis == "category"
    assert benchmark.basis_text.startswith("no past line alike: all 5 lines of Hardware")
    assert benchmark.median == statistics.median([*LAPTOP_PRICES, Decimal("300")]).quantize(CENT)
    assert benchmark.last == Decimal("300.00")


def test_it_says_when_there_is_no_spend_at_all(org):
    rfq, _, _ = closed_rfq_with_two_quotes(org)

    [benchmark] = rfq_benchmarks(rfq=rfq)

    assert benchmark.basis == "none"
    assert benchmark.median is None
    assert benchmark.quotes[0].vs_median is None


def test_it_reads_at_most_the_bounded_number_of_newest_lines(org, monkeypatch):
    add_spend(*LAPTOP_SPEND)
    monkeypatch.setattr(benchmarks_module, "SPEND_LINES_MAX", 2)
    rfq, _, _ = closed_rfq_with_two_quotes(org)

    [benchmark] = rfq_benchmarks(rfq=rfq)

    # The two newest lines: the chair (not alike) and the 1,300 laptop.
    assert benchmark.count == 1
    assert benchmark.median == Decimal("1300.00")


def contract(org, vendor_record, *, title: str, price: str, state=ContractState.ACTIVE):
    record = Contract.objects.create(
        vendor=vendor_record,
        title=title,
        owner=org.procurement,
        value=Decimal("10000"),
        currency="GBP",
        start_date=TODAY - dt.timedelta(days=30),
        end_date=TODAY + dt.timedelta(days=300),
        notice_deadline=TODAY + dt.timedelta(days=270),
        state=state,
        created_by=org.procurement,
    )
    ContractPrice.objects.create(
        contract=record,
        description="Laptop 14in",
        category=Category.objects.get(code="hardware"),
        unit_price=Decimal(price),
    )
    return record


def test_it_shows_the_contract_price_preferring_an_invited_vendors(org):
    rfq, northwind, _ = closed_rfq_with_two_quotes(org)
    contract(org, vendor(org, "Other Supplies Ltd"), title="Other frame", price="1000.00")
    contract(org, northwind.invitation.vendor, title="Northwind frame", price="1120.00")
    contract(
        org,
        northwind.invitation.vendor,
        title="Ended frame",
        price="900.00",
        state=ContractState.TERMINATED,
    )

    [benchmark] = rfq_benchmarks(rfq=rfq)

    assert benchmark.contract is not None
    assert benchmark.contract.contract_title == "Northwind frame"
    assert benchmark.contract.invited
    assert benchmark.contract.unit_price == Decimal("1120.00")
    north = next(d for d in benchmark.quotes if d.invitation_id == northwind.invitation_id)
    assert north.vs_contract == percent(Decimal("1150"), Decimal("1120"))


def test_it_marks_benchmarks_unavailable_without_an_exchange_rate(org):
    add_spend(*LAPTOP_SPEND)
    rfq, _, _ = closed_rfq_with_two_quotes(org)
    Rfq.objects.filter(pk=rfq.pk).update(currency="EUR")
    rfq.refresh_from_db()

    [benchmark] = rfq_benchmarks(rfq=rfq)

    assert benchmark.median is None
    assert "There is no exchange rate from EUR" in benchmark.unavailable
    assert benchmark.quotes[0].vs_median is None


def test_it_converts_past_prices_to_the_rfqs_currency(org):
    add_spend(*LAPTOP_SPEND)
    ExchangeRate.objects.create(currency="EUR", rate=Decimal("0.8"), valid_from=days_ago(400))
    rfq, _, _ = closed_rfq_with_two_quotes(org)
    Rfq.objects.filter(pk=rfq.pk).update(currency="EUR")
    rfq.refresh_from_db()

    [benchmark] = rfq_benchmarks(rfq=rfq)

    # 1 EUR = 0.8 GBP, so 1 GBP = 1.25 EUR.
    assert benchmark.median == (statistics.median(LAPTOP_PRICES) * Decimal("1.25")).quantize(CENT)
    assert benchmark.currency == "EUR"


def test_it_shows_the_benchmarks_on_the_comparison_page(org):
    add_spend(*LAPTOP_SPEND)
    rfq, _, _ = closed_rfq_with_two_quotes(org)

    text = (
        org.client_for(org.procurement)
        .get(reverse("evaluation:compare", args=[rfq.pk]))
        .content.decode()
    )

    assert "Benchmarks" in text
    assert "1,150.00" in text  # the median
    assert "1,075.00" in text  # the 25th percentile
    assert "7.0%" in text  # Northwind's 1,150 against the 1,075 percentile
