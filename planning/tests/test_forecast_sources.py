"""The forecast's four sources, each on its own, with exact figures: contract renewals,
recurring spend, approved requests not yet ordered, and open needs; and an empty period."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal

import pytest
from django.utils import timezone

from analytics.models import Payee
from analytics.payees import payee_map_to_vendor
from analytics.services import LineInput, spend_lines_add, spend_source_get_or_create
from planning.forecast import (
    ForecastFilters,
    ForecastSource,
    forecast_build,
    renewal_value,
    term_months,
)
from planning.models import Need, NeedStatus, NeedSupport
from procurement.models import Category, ExchangeRate
from requests.models import PurchaseRequest
from sourcing.tests.helpers import approved_request, awarded_po, vendor
from tests.factories import PurchaseRequestFactory
from vendors.contracts import ContractInput, add_months, contract_create, contract_transition
from vendors.models import Contract

pytestmark = pytest.mark.django_db

D = Decimal


def today() -> dt.date:
    return timezone.localdate()


def month(offset: int) -> dt.date:
    """The first day of the month `offset` months from this one."""
    return add_months(today().replace(day=1), offset)


def build(**filters):
    return forecast_build(filters=ForecastFilters(start=month(0), **filters), today=today())


def by_month(forecast, source: ForecastSource) -> dict[dt.date, Decimal]:
    sums: dict[dt.date, Decimal] = defaultdict(Decimal)
    for row in forecast.rows:
        if row.source == source:
            sums[row.month] += row.amount
    return dict(sums)


def live_contract(org, name: str, **fields) -> Contract:
    """An active contract with a new vendor `name`: by default 12,000.00 GBP for the twelve
    months that end on the last day of next month, renewing for 6 months."""
    fields.setdefault("value", D("12000.00"))
    fields.setdefault("currency", "GBP")
    fields.setdefault("start_date", month(-10))
    fields.setdefault("end_date", month(2) - dt.timedelta(days=1))
    fields.setdefault("renewal_term_months", 6)
    contract = contract_create(
        by=org.procurement,
        data=ContractInput(
            vendor_id=vendor(org, name).pk,
            title=f"{name} subscription",
            owner_id=org.procurement.pk,
            **fields,
        ),
    )
    return contract_transition(
        contract_id=contract.pk, by=org.procurement, action="activate", reason="Signed"
    )


def pay(lines: list[tuple[int, str, str, str, str]]) -> None:
    """Spend lines in GBP as (month offset, amount, supplier, category, department), on the
    10th of the month."""
    spend_lines_add(
        source=spend_source_get_or_create(name="Ledger", currency="GBP"),
        lines=[
            LineInput(
                date=month(offset).replace(day=10),
                amount=D(amount),
                supplier=supplier,
                reference=f"L{index}",
                category=category,
                department=department,
            )
            for index, (offset, amount, supplier, category, department) in enumerate(lines)
        ],
    )


# --- Renewals ---------------------------------------------------------------------------


def test_a_renewal_is_valued_for_its_renewal_term_in_the_month_the_contract_ends(org) -> None:
    contract = live_contract(org, "Skyline Cloud Ltd")
    assert term_months(contract.start_date, contract.end_date) == 12
    assert renewal_value(contract) == D("6000.00")  # 12,000 a year for a 6-month renewal

    forecast = build()

    # Ends next month, then its 6-month renewal ends seven months from now: both in the window.
    assert by_month(forecast, ForecastSource.RENEWAL) == {
        month(1): D("6000.00"),
        month(7): D("6000.00"),
    }
    row = next(r for r in forecast.rows if r.source == ForecastSource.RENEWAL)
    assert (row.vendor, row.department, row.category) == (
        "Skyline Cloud Ltd",
        "Unassigned",
        "Unassigned",
    )
    assert row.reference.startswith(f"Contract #{contract.pk} Skyline Cloud Ltd subscription")


def test_it_scales_a_renewal_from_a_term_of_another_length(org) -> None:
    # 9,000 for six months, renewing for twelve: 18,000.
    live_contract(
        org,
        "Halfyear Ltd",
        value=D("9000.00"),
        start_date=month(-4),
        end_date=month(2) - dt.timedelta(days=1),
        renewal_term_months=12,
    )
    assert by_month(build(), ForecastSource.RENEWAL) == {month(1): D("18000.00")}


def test_it_splits_a_renewal_by_the_contracts_requests(org) -> None:
    contract = live_contract(org, "Shared Tools Ltd", renewal_term_months=12)
    software = Category.objects.get(code="software")
    PurchaseRequestFactory.create(requester=org.requester, contract=contract)  # 2,500 IT hardware
    PurchaseRequestFactory.create(
        requester=org.outsider, contract=contract, category=software, line_items=3
    )  # 7,500 Marketing software
    PurchaseRequestFactory.create(requester=org.requester, contract=contract, state="cancelled")

    rows = [r for r in build().rows if r.source == ForecastSource.RENEWAL]

    assert sorted((r.department, r.category, r.amount) for r in rows) == [
        ("IT", "Hardware", D("3000.00")),
        ("Marketing", "Software / SaaS", D("9000.00")),
    ]


def test_only_live_contracts_renew(org) -> None:
    live_contract(org, "Active Ltd", renewal_term_months=12)
    terminated = live_contract(org, "Gone Ltd", renewal_term_months=12)
    contract_transition(
        contract_id=terminated.pk, by=org.procurement, action="terminate", reason="Left"
    )
    contract_create(
        by=org.procurement,
        data=ContractInput(
            vendor_id=vendor(org, "Draft Ltd").pk,
            title="Not signed",
            owner_id=org.procurement.pk,
            value=D("5000"),
            currency="GBP",
            start_date=month(-10),
            end_date=month(2) - dt.timedelta(days=1),
        ),
    )
    live_contract(org, "Later Ltd", end_date=month(14), renewal_term_months=12)  # past the window

    rows = [r for r in build().rows if r.source == ForecastSource.RENEWAL]

    assert [(r.vendor, r.amount) for r in rows] == [("Active Ltd", D("12000.00"))]


def test_a_renewal_in_a_currency_without_a_rate_is_left_out_and_said(org) -> None:
    live_contract(org, "Dollar Inc", currency="USD", renewal_term_months=12)
    forecast = build()
    assert by_month(forecast, ForecastSource.RENEWAL) == {}
    assert "no exchange rate" in forecast.warnings[0]

    ExchangeRate.objects.create(currency="USD", rate=D("0.8"), valid_from=month(-12))
    assert by_month(build(), ForecastSource.RENEWAL) == {month(1): D("9600.00")}


# --- Recurring spend --------------------------------------------------------------------


def test_a_vendor_paid_in_three_of_the_last_six_months_projects_its_twelve_month_average(
    org,
) -> None:
    pay(
        [
            (-1, "100.00", "Acme Hosting", "Cloud", "IT"),
            (-3, "100.00", "Acme Hosting", "Cloud", "IT"),
            (-5, "100.00", "Acme Hosting", "Cloud", "IT"),
            (-10, "300.00", "Acme Hosting", "Cloud", "IT"),
            (-13, "9999.00", "Acme Hosting", "Cloud", "IT"),  # older than twelve months
            (0, "5000.00", "Acme Hosting", "Cloud", "IT"),  # this month: not a full month yet
        ]
    )

    forecast = build()

    # 600 over the last twelve full months: 50.00 a month, on every month forecast.
    assert by_month(forecast, ForecastSource.RECURRING) == {month(i): D("50.00") for i in range(12)}
    row = forecast.rows[0]
    assert (row.vendor, row.category, row.department) == ("Acme Hosting", "Cloud", "IT")


def test_spend_in_fewer_than_three_recent_months_is_not_recurring(org) -> None:
    pay(
        [
            (-1, "100.00", "Twice Ltd", "Cloud", "IT"),
            (-2, "100.00", "Twice Ltd", "Cloud", "IT"),
            (-9, "100.00", "Twice Ltd", "Cloud", "IT"),  # three months, but not three recent ones
            (-1, "100.00", "Split Ltd", "Cloud", "IT"),
            (-2, "100.00", "Split Ltd", "Cloud", "IT"),
            (-3, "100.00", "Split Ltd", "Hardware", "IT"),  # three months, two categories
            (-2, "100.00", "Refunded Ltd", "Cloud", "IT"),
            (-3, "100.00", "Refunded Ltd", "Cloud", "IT"),
            (-4, "100.00", "Refunded Ltd", "Cloud", "IT"),
            (-4, "-100.00", "Refunded Ltd", "Cloud", "IT"),  # month -4 nets to nothing
        ]
    )
    assert by_month(build(), ForecastSource.RECURRING) == {}


def test_it_splits_a_run_rate_by_department_and_joins_the_payees_of_one_vendor(org) -> None:
    pay(
        [
            (-1, "240.00", "Northwind", "Telecom", "IT"),
            (-2, "240.00", "Northwind", "Telecom", "IT"),
            (-3, "120.00", "NORTHWIND TELECOM", "Telecom", "Marketing"),
        ]
    )
    northwind = vendor(org, "Northwind Telecom Ltd")
    for payee in Payee.objects.filter(name__in=["Northwind", "NORTHWIND TELECOM"]):
        payee_map_to_vendor(payee=payee, vendor=northwind, user=org.finance)

    rows = [r for r in build().rows if r.source == ForecastSource.RECURRING]

    assert {(r.vendor, r.department, r.amount) for r in rows} == {
        ("Northwind Telecom Ltd", "IT", D("40.00")),
        ("Northwind Telecom Ltd", "Marketing", D("10.00")),
    }
    assert len(rows) == 24


def test_on_contract_spend_is_left_to_the_contracts_renewal(org) -> None:
    pay([(offset, "500.00", "Framework Co", "Services", "IT") for offset in (-1, -2, -3, -4)])
    assert len(build().rows) == 12  # off contract, it recurs
    contract = live_contract(
        org, "Framework Co", start_date=month(-8), end_date=month(16), renewal_term_months=12
    )
    payee_map_to_vendor(
        payee=Payee.objects.get(name="Framework Co"), vendor=contract.vendor, user=org.finance
    )  # its lines now fall under the contract
    assert by_month(build(), ForecastSource.RECURRING) == {}


# --- Approved requests ------------------------------------------------------------------


def test_an_approved_request_not_yet_ordered_counts_in_the_month_it_is_needed(org) -> None:
    needed = month(3).replace(day=15)
    request = approved_request(org, needed_by=needed)
    awarded_po(org)  # another approved request, already on a (draft) purchase order
    PurchaseRequestFactory.create(requester=org.requester, needed_by=needed)  # a draft

    forecast = build()

    assert by_month(forecast, ForecastSource.APPROVED) == {month(3): D("2500.00")}
    row = next(r for r in forecast.rows if r.source == ForecastSource.APPROVED)
    assert row.reference == f"{request.reference} {request.title}"
    assert (row.department, row.category) == ("IT", "Hardware")


def test_an_approved_request_needed_in_the_past_counts_this_month(org) -> None:
    request = approved_request(org)
    PurchaseRequest.objects.filter(pk=request.pk).update(needed_by=month(-2))
    assert by_month(build(), ForecastSource.APPROVED) == {month(0): D("2500.00")}


def test_an_approved_request_in_another_currency_is_converted_at_its_submission_rate(
    org,
) -> None:
    ExchangeRate.objects.create(currency="EUR", rate=D("0.85"), valid_from=month(-1))
    approved_request(org, currency="EUR", needed_by=month(2))
    assert by_month(build(), ForecastSource.APPROVED) == {month(2): D("2125.00")}


# --- Open needs -------------------------------------------------------------------------


def need(org, *, rough_budget: str, needed_by: dt.date, **fields) -> Need:
    return Need.objects.create(
        title=fields.pop("title", "A shared design tool"),
        problem="Three teams draw diagrams by hand.",
        department=fields.pop("department", org.department),
        people_affected=12,
        needed_by=needed_by,
        rough_budget=D(rough_budget),
        created_by=org.head,
        **fields,
    )


def test_an_open_need_counts_its_rough_budget_and_its_supports_in_their_departments(
    org,
) -> None:
    open_need = need(
        org,
        rough_budget="4000.00",
        needed_by=month(5).replace(day=20),
        category=Category.objects.get(code="software"),
    )
    NeedSupport.objects.create(
        need=open_need,
        department=org.other_department,
        supporter=org.outsider,
        people_affected=4,
        rough_budget=D("1500.00"),
    )
    need(org, rough_budget="999.00", needed_by=month(2), status=NeedStatus.WITHDRAWN)
    need(org, rough_budget="888.00", needed_by=month(-1), title="Overdue")  # needed already

    forecast = build()

    rows = [r for r in forecast.rows if r.source == ForecastSource.NEED]
    assert [(r.month, r.department, r.category, r.amount) for r in rows] == [
        (month(0), "IT", "Unassigned", D("888.00")),
        (month(5), "IT", "Software / SaaS", D("4000.00")),
        (month(5), "Marketing", "Software / SaaS", D("1500.00")),
    ]


# --- Filters and the empty period --------------------------------------------------------


def test_the_filters_keep_a_department_and_a_category(org) -> None:
    approved_request(org, needed_by=month(1))
    need(org, rough_budget="700.00", needed_by=month(2), department=org.other_department)
    hardware = Category.objects.get(code="hardware")

    it_only = build(department_id=org.department.pk)
    marketing_only = build(scope_department_ids=frozenset({org.other_department.pk}))
    unassigned_category = build(category_id=0)

    assert it_only.total == D("2500.00")
    assert marketing_only.total == D("700.00")
    assert build(category_id=hardware.pk).total == D("2500.00")
    assert unassigned_category.total == D("700.00")


def test_a_period_with_nothing_forecast_has_twelve_months_of_zero(org) -> None:
    forecast = build()
    assert forecast.is_empty
    assert [m.month for m in forecast.months] == [month(i) for i in range(12)]
    assert all(m.total == 0 and m.budget == 0 for m in forecast.months)
    assert forecast.total == 0
    assert forecast.comparisons == []
