"""The forecast against the budgets: the budget line (which budgets count, and when), the
budget vs forecast table, and the first month in which the budget is overrun."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from planning.forecast import ForecastFilters, ForecastSource, forecast_build
from planning.tests.helpers import budget, objective, this_year
from planning.tests.test_forecast_sources import build, month, need, pay, today
from procurement.models import Category, FiscalYear
from sourcing.tests.helpers import approved_request
from tests.factories import CostCentreFactory
from vendors.contracts import add_months

pytestmark = pytest.mark.django_db

D = Decimal


def test_the_budget_line_is_the_phasing_of_the_cost_centre_budgets_in_each_month(org) -> None:
    this_year()  # from this month, for twelve months
    phasing = [D("500.00")] * 6 + [D("1500.00")] * 6
    budget(org, "12000.00", phasing=phasing)
    marketing = CostCentreFactory.create(code="MK-1", department=org.other_department)
    budget(org, "2400.00", cost_centre=marketing)
    hardware = Category.objects.get(code="hardware")
    budget(org, "999.00", category=hardware)  # a part of IT-100's whole: not added again
    budget(org, "777.00", objective=objective(org))  # an objective's: never

    forecast = build()

    assert [m.budget for m in forecast.months] == [D("700.00")] * 6 + [D("1700.00")] * 6
    assert forecast.budget_total == D("14400.00")
    assert [m.budget for m in build(department_id=org.department.pk).months][:1] == [D("500.00")]
    # Narrowed to a category: only the budgets narrowed to exactly it.
    assert build(category_id=hardware.pk).budget_total == D("999.00")
    assert build(category_id=0).has_budget is False


def test_the_budget_line_follows_the_fiscal_years_months_across_two_years(org) -> None:
    current = this_year()
    following = FiscalYear.objects.create(
        name="Next",
        starts_on=add_months(current.starts_on, 12),
        ends_on=add_months(current.starts_on, 24) - dt.timedelta(days=1),
    )
    budget(org, "1200.00")
    budget(org, "2400.00", fiscal_year=following)

    forecast = forecast_build(filters=ForecastFilters(start=month(6)), today=today())

    assert [m.budget for m in forecast.months] == [D("100.00")] * 6 + [D("200.00")] * 6
    assert [(str(c.fiscal_year), c.budget, c.budget_in_window) for c in forecast.comparisons] == [
        (str(current), D("1200.00"), D("600.00")),
        ("Next", D("2400.00"), D("1200.00")),
    ]


def test_it_flags_the_first_month_in_which_consumption_and_forecast_pass_the_budget(
    org,
) -> None:
    this_year()
    budget(org, "12000.00")  # 1,000.00 a month
    # 500.00 a month of recurring spend, and a 3,000.00 need in four months:
    # cumulative need 500, 1,000, 1,500, 2,000, then 5,500 against 5,000 of budget.
    pay([(offset, "2000.00", "Acme Hosting", "Cloud", "IT") for offset in (-1, -2, -3)])
    need(org, rough_budget="3000.00", needed_by=month(4))

    (comparison,) = build().comparisons

    assert comparison.department == "IT"
    assert comparison.budget == D("12000.00")
    assert comparison.budget_in_window == D("12000.00")
    assert comparison.consumed == D("0.00")
    assert comparison.forecast == D("9000.00")  # 12 x 500 + 3,000
    assert comparison.remaining == D("3000.00")
    assert comparison.overrun_month == month(4)
    assert comparison.months_ahead == 4


def test_a_budget_the_forecast_fits_in_is_not_flagged(org) -> None:
    this_year()
    budget(org, "12000.00")
    need(org, rough_budget="900.00", needed_by=month(0))
    (comparison,) = build().comparisons
    assert comparison.overrun_month is None
    assert comparison.months_ahead is None
    assert comparison.remaining == D("11100.00")


def test_an_approved_request_counts_once_in_the_month_it_is_needed(org) -> None:
    this_year()
    budget(org, "12000.00")  # 1,000.00 a month
    approved_request(org, needed_by=month(1).replace(day=3))  # 2,500.00, committed

    forecast = build()
    (comparison,) = forecast.comparisons

    # Consumed already holds it as a commitment: the forecast column leaves it out...
    assert comparison.consumed == D("2500.00")
    assert comparison.forecast == D("0.00")
    assert comparison.remaining == D("9500.00")
    # ...and the overrun check counts it in its month, not from the first: 2,500 > 2,000.
    assert comparison.overrun_month == month(1)
    assert comparison.months_ahead == 1
    # The chart and the month table show it where it is needed.
    assert forecast.months[1].by_source[1:3] == [D("0"), D("2500.00")]
    assert sum(r.amount for r in forecast.rows if r.source == ForecastSource.APPROVED) == D(
        "2500.00"
    )


def test_spend_already_paid_in_the_year_counts_from_the_first_month(org) -> None:
    # A fiscal year that started two months ago, with 2,500.00 paid in it already.
    start = month(-2)
    year = FiscalYear.objects.create(
        name="FY-running", starts_on=start, ends_on=add_months(start, 12) - dt.timedelta(days=1)
    )
    budget(org, "12000.00", fiscal_year=year)  # 1,000.00 a month, 3,000.00 by this month
    # Spend files name the cost centre: that is how a budget counts imported spend.
    pay(
        [
            (-2, "1000.00", "One-off Ltd", "Hardware", "IT-100"),
            (-1, "1500.00", "Other Ltd", "Cloud", "IT-100"),
        ]
    )

    (comparison,) = build().comparisons

    assert comparison.consumed == D("2500.00")
    assert comparison.overrun_month is None
    need(org, rough_budget="600.00", needed_by=month(0))  # 3,100 by this month: over now
    (comparison,) = build().comparisons
    assert comparison.overrun_month == month(0)
    assert comparison.months_ahead == 0


def test_a_manager_compares_only_their_departments_budgets(org) -> None:
    this_year()
    budget(org, "12000.00")
    marketing = CostCentreFactory.create(code="MK-1", department=org.other_department)
    budget(org, "2400.00", cost_centre=marketing)

    forecast = build(scope_department_ids=frozenset({org.department.pk}))

    assert [c.department for c in forecast.comparisons] == ["IT"]
    assert forecast.budget_total == D("12000.00")
