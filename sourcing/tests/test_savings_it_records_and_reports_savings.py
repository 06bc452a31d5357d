"""Savings: recorded once per approved award against the baseline the setting names (the
winner's first quote, or the benchmark of past prices), and reported on the analytics
savings page with the spend filters, the manager's scope and CSV / XLSX downloads."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from analytics.exports import XLSX_TYPE
from analytics.models import Payee, SpendCategory, SpendDepartment
from analytics.services import LineInput, spend_lines_add, spend_source_get_or_create
from procurement.models import Category, ExchangeRate
from sourcing.awards import award_make, saving_record
from sourcing.models import Rfq, RfqState, Saving, SavingsBaseline
from sourcing.tests.helpers import (
    closed_rfq_with_two_quotes,
    invite,
    make_award,
    make_quote,
    make_rfq,
    vendor,
)

TODAY = timezone.localdate()


def add_spend(*lines: tuple[str, str, str, str, str]) -> None:
    """(amount, description, quantity, category, department) lines paid 30 days ago."""
    spend_lines_add(
        source=spend_source_get_or_create(name="Finance system", currency="GBP"),
        lines=[
            LineInput(
                date=TODAY - dt.timedelta(days=30),
                amount=Decimal(amount),
                supplier="Northwind Hardware Ltd",
                currency="GBP",
                category=category,
                department=department,
                description=description,
                quantity=Decimal(quantity),
                reference=f"ref-{index}",
            )
            for index, (amount, description, quantity, category, department) in enumerate(lines)
        ],
    )


# --- Recording ------------------------------------------------------------------------------


def test_it_saves_the_difference_from_the_winners_first_quote(org):
    rfq, northwind, _ = closed_rfq_with_two_quotes(org)
    revised = make_quote(northwind.invitation, ["1050.00"])  # after negotiation

    award = award_make(
        rfq_id=rfq.pk, by=org.procurement, quote_id=revised.pk, justification="Cheapest."
    )

    saving = Saving.objects.get(award=award)
    assert saving.baseline_kind == SavingsBaseline.FIRST_QUOTE
    assert saving.baseline_amount == northwind.tco_in_rfq_currency  # revision 1: 2,300.00
    assert saving.final_amount == revised.tco_in_rfq_currency  # 2,100.00
    assert saving.saved_base == northwind.tco_in_rfq_currency - revised.tco_in_rfq_currency
    assert saving.department == rfq.request.department
    assert saving.category == rfq.request.category
    assert saving.vendor == northwind.invitation.vendor
    # The day it was awarded (not TODAY, taken when the module was imported: a run that
    # crosses midnight would fail).
    assert saving.recorded_on == timezone.localdate(award.awarded_at)


def test_it_saves_against_the_benchmark_median_when_the_setting_says_so(org, settings):
    settings.SOURCING_SAVINGS_BASELINE = "benchmark"
    add_spend(
        ("1000.00", "Laptop 14 inch", "1", "Hardware", "IT"),
        ("2400.00", "Laptop 14 inch", "2", "Hardware", "IT"),
        ("1400.00", "Laptop 14 inch", "1", "Hardware", "IT"),
    )
    rfq = make_rfq(org)
    quote = make_quote(
        invite(org, rfq, vendor(org, "Northwind Hardware Ltd")),
        ["1150.00"],
        implementation="100.00",
        support_per_year="120.00",
    )
    Rfq.objects.filter(pk=rfq.pk).update(state=RfqState.CLOSED, closed_at=timezone.now())
    award = make_award(org, rfq, quote)

    saving = saving_record(award=award)

    median = Decimal("1200.00")  # of 1,000, 1,200 and 1,400 a laptop
    baseline = median * 2 + Decimal("100.00") + Decimal("120.00")  # 2 laptops, once; 12 months
    assert saving.baseline_kind == SavingsBaseline.BENCHMARK
    assert saving.baseline_amount == baseline
    assert saving.final_amount == quote.tco_in_rfq_currency
    assert saving.saved_base == baseline - quote.tco_in_rfq_currency


def test_it_falls_back_to_the_first_quote_without_a_benchmark(org, settings):
    settings.SOURCING_SAVINGS_BASELINE = "benchmark"
    rfq, northwind, _ = closed_rfq_with_two_quotes(org)
    award = make_award(org, rfq, northwind)

    saving = saving_record(award=award)

    assert saving.baseline_kind == SavingsBaseline.FIRST_QUOTE
    assert saving.baseline_amount == northwind.tco_in_rfq_currency


def test_it_records_the_saving_once(org):
    rfq, northwind, _ = closed_rfq_with_two_quotes(org)
    award = make_award(org, rfq, northwind)

    first = saving_record(award=award)
    again = saving_record(award=award)

    assert first.pk == again.pk
    assert Saving.objects.count() == 1


def test_it_converts_savings_to_the_base_currency_at_the_award_date(org):
    ExchangeRate.objects.create(
        currency="EUR", rate=Decimal("0.8"), valid_from=TODAY - dt.timedelta(days=5)
    )
    rfq = make_rfq(org)
    Rfq.objects.filter(pk=rfq.pk).update(currency="EUR")
    rfq.refresh_from_db()
    invitation = invite(org, rfq, vendor(org, "Euro Laptops GmbH"))
    first = make_quote(invitation, ["1200.00"])
    final = make_quote(invitation, ["1100.00"])
    award = make_award(org, rfq, final)

    saving = saving_record(award=award)

    assert saving.currency == "EUR"
    assert saving.baseline_base == (first.tco_in_rfq_currency * Decimal("0.8")).quantize(
        Decimal("0.01")
    )
    assert saving.saved_base == (
        (first.tco_in_rfq_currency - final.tco_in_rfq_currency) * Decimal("0.8")
    ).quantize(Decimal("0.01"))


# --- The page -------------------------------------------------------------------------------


def two_savings(org):
    """Laptops for IT (January, 400.00 saved) and software for Marketing (March, 250.00)."""
    add_spend(
        ("10.00", "Cable", "1", "Hardware", "IT"),
        ("10.00", "Licence", "1", "Software / SaaS", "Marketing"),
    )
    it_rfq, it_quote, _ = closed_rfq_with_two_quotes(org)
    it_award = make_award(org, it_rfq, it_quote)
    marketing_rfq, marketing_quote, _ = closed_rfq_with_two_quotes(org)
    marketing_award = make_award(org, marketing_rfq, marketing_quote)
    year = TODAY.year - 1
    it = Saving.objects.create(
        award=it_award,
        baseline_kind=SavingsBaseline.FIRST_QUOTE,
        currency="GBP",
        baseline_amount=Decimal("2700.00"),
        final_amount=Decimal("2300.00"),
        baseline_base=Decimal("2700.00"),
        final_base=Decimal("2300.00"),
        saved_base=Decimal("400.00"),
        category=Category.objects.get(code="hardware"),
        department=org.department,
        vendor=it_quote.invitation.vendor,
        recorded_on=dt.date(year, 1, 15),
    )
    marketing = Saving.objects.create(
        award=marketing_award,
        baseline_kind=SavingsBaseline.BENCHMARK,
        currency="GBP",
        baseline_amount=Decimal("1250.00"),
        final_amount=Decimal("1000.00"),
        baseline_base=Decimal("1250.00"),
        final_base=Decimal("1000.00"),
        saved_base=Decimal("250.00"),
        category=Category.objects.get(code="software"),
        department=org.other_department,
        vendor=marketing_quote.invitation.vendor,
        recorded_on=dt.date(year, 3, 10),
    )
    return it, marketing, year


URL = "/analytics/savings/"


def test_it_is_mounted_where_the_analytics_navigation_points():
    assert reverse("savings:overview") == URL


def test_it_shows_every_saving_with_totals_and_a_chart_to_procurement(org):
    it, marketing, year = two_savings(org)

    response = org.client_for(org.procurement).get(URL)

    assert response.status_code == 200
    text = response.content.decode()
    assert it.award.rfq.reference in text
    assert marketing.award.rfq.reference in text
    saved = it.saved_base + marketing.saved_base
    percent = (100 * saved / (it.baseline_base + marketing.baseline_base)).quantize(Decimal("0.1"))
    assert f"{saved:,}" in text
    assert f"{percent}%" in text
    assert "First quote of the winning vendor" in text
    assert "Median price paid before (benchmark)" in text
    assert 'id="spend-chart-data"' in text
    assert f'"{year}-02"' in text  # the month without savings is on the chart's axis


def test_it_filters_savings_by_period_and_category(org):
    it, marketing, year = two_savings(org)
    client = org.client_for(org.procurement)
    software = SpendCategory.objects.get(name="Software / SaaS")

    march_on = client.get(URL, {"from": f"{year}-03"}).content.decode()
    by_category = client.get(URL, {"category": software.pk}).content.decode()

    for text in (march_on, by_category):
        assert marketing.award.rfq.reference in text
        assert it.award.rfq.reference not in text


def test_it_filters_savings_by_vendor_through_its_payees(org):
    it, marketing, _ = two_savings(org)
    Payee.objects.update(vendor=it.vendor)

    text = org.client_for(org.procurement).get(URL, {"vendor": it.vendor.pk}).content.decode()

    assert it.award.rfq.reference in text
    assert marketing.award.rfq.reference not in text


def test_it_shows_a_manager_only_their_departments_savings(org):
    it, marketing, _ = two_savings(org)
    assert SpendDepartment.objects.get(name="IT").department == org.department

    response = org.client_for(org.manager).get(URL)

    text = response.content.decode()
    assert it.award.rfq.reference in text
    assert marketing.award.rfq.reference not in text


def test_it_refuses_people_without_spend_access(org):
    two_savings(org)

    assert org.client_for(org.requester).get(URL).status_code == 403


def test_it_says_a_bad_filter_next_to_its_field(org):
    response = org.client_for(org.procurement).get(URL, {"from": "March"})

    assert response.status_code == 400
    assert "Use YYYY-MM, e.g. 2026-01." in response.content.decode()


def test_it_explains_an_empty_page(org):
    text = org.client_for(org.procurement).get(URL).content.decode()

    assert "There are no savings for you to see yet." in text


def test_it_downloads_the_savings_as_csv_and_xlsx(org):
    it, marketing, year = two_savings(org)
    client = org.client_for(org.finance)

    response = client.get(URL, {"format": "csv"})
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    xlsx = client.get(URL, {"format": "xlsx", "from": f"{year}-03"})

    assert response["Content-Type"].startswith("text/csv")
    assert 'filename="savings-all-months.csv"' in response["Content-Disposition"]
    assert rows[0][:3] == ["RFQ", "Title", "Vendor"]
    assert {row[0] for row in rows[1:]} == {it.award.rfq.reference, marketing.award.rfq.reference}
    saved = {row[0]: row[9] for row in rows[1:]}
    assert saved[it.award.rfq.reference] == "400.00"
    assert xlsx["Content-Type"] == XLSX_TYPE
    assert xlsx.content[:2] == b"PK"
    assert f"savings-from-{year}-03.xlsx" in xlsx["Content-Disposition"]


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_it_exports_only_the_managers_scope(org, fmt):
    it, marketing, _ = two_savings(org)

    response = org.client_for(org.manager).get(URL, {"format": fmt})

    assert response.status_code == 200
    if fmt == "csv":
        text = response.content.decode()
        assert it.award.rfq.reference in text
        assert marketing.award.rfq.reference not in text
