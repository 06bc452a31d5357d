"""The spend pages under /analytics/: figures checked against sums computed here, in Python,
over the very lines the test adds through analytics.services.spend_lines_add."""

from __future__ import annotations

import datetime as dt
import html
import json
import re
import statistics
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from analytics import rollups
from analytics.models import Payee, SpendCategory, SpendDepartment, SpendLine
from analytics.scope import SpendFilters
from analytics.selectors import spend_price_variance
from analytics.services import LineInput, spend_lines_add, spend_source_get_or_create
from procurement.errors import InvalidInput
from procurement.models import ExchangeRate, User
from tests.factories import vendor_create
from vendors.contracts import ContractInput, contract_create
from vendors.models import Contract, Vendor

pytestmark = pytest.mark.django_db


# --- Helpers shared by the other dashboard test files -------------------------------------


@dataclass(frozen=True)
class Line:
    date: dt.date
    amount: Decimal
    supplier: str
    category: str
    department: str
    description: str = ""
    quantity: Decimal | None = None
    on_contract: bool = False

    @property
    def month(self) -> str:
        return f"{self.date:%Y-%m}"

    @property
    def price(self) -> Decimal:
        return self.amount / self.quantity if self.quantity else self.amount


def add_spend(lines: list[Line]) -> None:
    """Adds `lines` the way the platform does (GBP, the base currency), then puts the ones
    marked on_contract under a contract, keeping the rollups in step as the services do."""
    source = spend_source_get_or_create(name="Ledger", currency="GBP")
    spend_lines_add(
        source=source,
        lines=[
            LineInput(
                date=line.date,
                amount=line.amount,
                supplier=line.supplier,
                reference=f"T{index}",
                category=line.category,
                department=line.department,
                description=line.description,
                quantity=line.quantity,
            )
            for index, line in enumerate(lines)
        ],
    )
    references = [f"T{index}" for index, line in enumerate(lines) if line.on_contract]
    if references:
        contract = contract_for_tests()
        where = "reference IN ({})".format(", ".join(["%s"] * len(references)))
        rollups.rollups_remove_lines(where=where, params=references)
        SpendLine.objects.filter(reference__in=references).update(contract=contract)
        rollups.rollups_add_lines(where=where, params=references)


def contract_for_tests() -> Contract:
    procurement = User.objects.get(username="pat")  # the org fixture's buyer
    vendor = Vendor.objects.filter(legal_name="Contract Holder Ltd").first() or vendor_create(
        by=procurement, legal_name="Contract Holder Ltd"
    )
    return contract_create(
        by=procurement,
        data=ContractInput(
            vendor_id=vendor.pk,
            title="Framework",
            owner_id=procurement.pk,
            value=Decimal("100000"),
            currency="GBP",
            start_date=dt.date(2024, 1, 1),
            end_date=dt.date(2026, 1, 1),
        ),
    )


def text(response) -> str:
    """The page as a person reads it: tags dropped, entities decoded, whitespace collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", response.content.decode())).split())


def chart(response) -> dict:
    found = re.search(
        r'<script id="spend-chart-data" type="application/json">(.*?)</script>',
        response.content.decode(),
        re.S,
    )
    assert found, "the page has no chart payload"
    return json.loads(found.group(1))


def money(value: Decimal) -> str:
    """How the pages print an amount: thousands separated, two decimals."""
    return f"{value:,.2f}"


def sum_by(lines: list[Line], key) -> dict[str, Decimal]:
    sums: dict[str, Decimal] = defaultdict(Decimal)
    for line in lines:
        sums[key(line)] += line.amount
    return dict(sums)


def department_id(name: str) -> int:
    return SpendDepartment.objects.get(name=name).pk


def category_id(name: str) -> int:
    return SpendCategory.objects.get(name=name).pk


D = Decimal
LINES = [
    Line(dt.date(2024, 1, 5), D("1200.00"), "Acme Supplies Ltd", "ICT", "IT", "Laptop", D("1")),
    Line(
        dt.date(2024, 1, 20), D("2400.00"), "ACME SUPPLIES LIMITED", "ICT", "IT", "Laptop", D("2")
    ),
    Line(
        dt.date(2024, 1, 9),
        D("15000.50"),
        "Globex Consulting",
        "Consultancy",
        "IT",
        on_contract=True,
    ),
    Line(dt.date(2024, 1, 11), D("800.00"), "Initech", "Stationery", "Marketing", "Paper A4"),
    Line(dt.date(2024, 3, 2), D("1350.00"), "Acme Supplies Ltd", "ICT", "IT", "Laptop", D("1")),
    Line(dt.date(2024, 3, 15), D("-200.00"), "Initech", "Stationery", "Marketing", "Paper A4"),
    Line(
        dt.date(2024, 3, 28),
        D("25000.00"),
        "Globex Consulting",
        "Consultancy",
        "Marketing",
        on_contract=True,
    ),
    Line(dt.date(2024, 3, 30), D("999.99"), "Umbrella Print", "Printing", "Marketing", "Leaflets"),
    Line(dt.date(2024, 4, 1), D("1500.00"), "Acme Supplies Ltd", "ICT", "IT", "Laptop", D("1")),
]


def add_sample_spend(org) -> list[Line]:
    """LINES in the ledger, with both spellings of Acme mapped to its vendor record."""
    add_spend(LINES)
    # Both spellings are one payee; map it to the vendor record, as a reviewer would.
    acme = vendor_create(by=org.procurement, legal_name="Acme Supplies Ltd")
    Payee.objects.filter(name__icontains="acme").update(vendor=acme)
    return LINES


@pytest.fixture
def spend(org) -> list[Line]:
    return add_sample_spend(org)


# --- Overview ----------------------------------------------------------------------------


def test_it_shows_the_key_figures_on_the_overview(org, spend):
    response = org.client_for(org.finance).get("/analytics/")

    assert response.status_code == 200
    page = text(response)
    total = sum(line.amount for line in spend)
    off = sum(line.amount for line in spend if not line.on_contract)
    assert f"Total spend GBP {money(total)}" in page
    assert f"Lines {len(spend)}" in page
    # Acme (two spellings, one vendor), Globex, Initech, Umbrella: fewer than 10, so 100%.
    assert "Vendors 4" in page
    assert "Top 10 vendors' share 100.0%" in page
    assert f"Off contract {Decimal(100) * off / total:.1f}%" in page
    assert "Months 3 Jan 2024 \N{EN DASH} Apr 2024" in page


def test_it_links_the_overview_to_every_view_keeping_the_filters(org, spend):
    response = org.client_for(org.finance).get("/analytics/?from=2024-03")

    content = response.content.decode()
    for path in ("over-time", "categories", "vendors", "departments", "contract", "prices"):
        assert f'href="/analytics/{path}/?from=2024-03"' in content


# --- Over time ---------------------------------------------------------------------------


def test_it_shows_spend_per_month_with_empty_months_as_zero(org, spend):
    response = org.client_for(org.procurement).get("/analytics/over-time/")

    per_month = sum_by(spend, lambda line: line.month)
    payload = chart(response)
    assert payload["labels"] == ["2024-01", "2024-02", "2024-03", "2024-04"]
    assert [D(a) for a in payload["datasets"][0]["data"]] == [
        per_month["2024-01"],
        D("0.00"),
        per_month["2024-03"],
        per_month["2024-04"],
    ]
    page = text(response)
    assert f"2024-01 {money(per_month['2024-01'])} 4" in page
    assert "2024-02 0.00 0" in page


def test_it_splits_spend_over_time_by_category_top_five_and_other(org):
    # Seven categories: the five largest get a series each, the other two are "Other".
    lines = [
        Line(dt.date(2024, 5, 1), D(1000 * (n + 1)), f"Supplier {n}", f"Cat {n}", "IT")
        for n in range(7)
    ]
    add_spend(lines)

    response = org.client_for(org.procurement).get("/analytics/over-time/?split=category")

    series = {s["label"]: D(s["data"][0]) for s in chart(response)["datasets"]}
    assert series == {
        "Cat 6": D("7000.00"),
        "Cat 5": D("6000.00"),
        "Cat 4": D("5000.00"),
        "Cat 3": D("4000.00"),
        "Cat 2": D("3000.00"),
        "Other": D("3000.00"),  # Cat 1 + Cat 0
    }


def test_it_splits_spend_over_time_by_vendor_counting_spellings_once(org, spend):
    response = org.client_for(org.procurement).get("/analytics/over-time/?split=vendor")

    series = {s["label"]: [D(a) for a in s["data"]] for s in chart(response)["datasets"]}
    acme = sum_by(
        [line for line in spend if "cme" in line.supplier.lower()], lambda line: line.month
    )
    assert series["Acme Supplies Ltd"] == [
        acme["2024-01"],
        D("0.00"),
        acme["2024-03"],
        acme["2024-04"],
    ]
    assert "Other" not in series  # four vendors, five series


# --- Breakdowns --------------------------------------------------------------------------


def test_it_shows_spend_by_category_largest_first_with_shares(org, spend):
    response = org.client_for(org.procurement).get("/analytics/categories/")

    assert response.status_code == 200
    expected = sorted(sum_by(spend, lambda line: line.category).items(), key=lambda kv: -kv[1])
    payload = chart(response)
    assert payload["labels"] == [name for name, _amount in expected]
    assert [D(a) for a in payload["datasets"][0]["data"]] == [amount for _name, amount in expected]
    total = sum(line.amount for line in spend)
    page = text(response)
    for name, amount in expected:
        assert f"{name} {money(amount)}" in page
    consultancy = sum_by(spend, lambda line: line.category)["Consultancy"]
    assert f"Consultancy {money(consultancy)} 2 {D(100) * consultancy / total:.1f}%" in page


def test_it_shows_spend_by_department(org, spend):
    response = org.client_for(org.procurement).get("/analytics/departments/")

    page = text(response)
    for name, amount in sum_by(spend, lambda line: line.department).items():
        assert f"{name} {money(amount)}" in page


def test_it_lists_top_vendors_with_unmatched_payees_marked(org, spend):
    response = org.client_for(org.procurement).get("/analytics/vendors/")

    page = text(response)
    by_vendor = sum_by(
        spend, lambda line: "Acme" if "cme" in line.supplier.lower() else line.supplier
    )
    assert f"Acme Supplies Ltd {money(by_vendor['Acme'])} 4" in page
    assert f"Globex Consulting (unmatched) {money(by_vendor['Globex Consulting'])} 2" in page
    assert "Vendors paid 4" in page
    assert chart(response)["labels"] == [
        "Globex Consulting",
        "Acme Supplies Ltd",
        "Umbrella Print",
        "Initech",
    ]


def test_it_shows_the_share_of_the_top_ten_vendors(org):
    # Twelve vendors of 1,000 .. 12,000: the top ten hold 75,000 of 78,000.
    add_spend(
        [
            Line(dt.date(2024, 6, 1), D(1000 * n), f"Vendor number {n}", "Cat", "IT")
            for n in range(1, 13)
        ]
    )

    page = text(org.client_for(org.procurement).get("/analytics/vendors/"))

    assert f"Top 10 vendors' share {D(100) * D(75000) / D(78000):.1f}%" in page
    assert "Vendors paid 12" in page


def test_it_shows_on_and_off_contract_spend_per_month_and_category(org, spend):
    response = org.client_for(org.procurement).get("/analytics/contract/")

    page = text(response)
    on = sum(line.amount for line in spend if line.on_contract)
    off = sum(line.amount for line in spend if not line.on_contract)
    assert f"On contract GBP {money(on)}" in page
    assert f'Off contract ("maverick") GBP {money(off)}' in page
    march = [line for line in spend if line.month == "2024-03"]
    march_on = sum(line.amount for line in march if line.on_contract)
    march_off = sum(line.amount for line in march if not line.on_contract)
    assert (
        f"2024-03 {money(march_on)} {money(march_off)} "
        f"{D(100) * march_off / (march_on + march_off):.1f}%"
    ) in page
    assert f"Consultancy {money(D('40000.50'))} 0.00 0.0%" in page
    datasets = {d["label"]: [D(a) for a in d["data"]] for d in chart(response)["datasets"]}
    assert datasets["On contract"] == [D("15000.50"), D("0.00"), D("25000.00"), D("0.00")]


def test_it_compares_unit_prices_of_an_item_over_the_months(org, spend):
    ict = category_id("ICT")

    response = org.client_for(org.procurement).get(f"/analytics/prices/?category={ict}")

    laptops = [line for line in spend if line.description == "Laptop"]
    by_month: dict[str, list[Decimal]] = defaultdict(list)
    for line in laptops:
        by_month[line.month].append(line.price)
    january = statistics.median(by_month["2024-01"])  # 1,200 and 2,400 / 2 = 1,200
    page = text(response)
    assert f"Laptop 2024-01 2 {money(min(by_month['2024-01']))} {money(january)}" in page
    march = statistics.median(by_month["2024-03"])
    assert (
        f"Laptop 2024-03 1 {money(march)} {money(march)} {money(march)} +{D(100) * (march - january) / january:.1f}%"
        in page
    )
    april = statistics.median(by_month["2024-04"])
    assert f"+{D(100) * (april - january) / january:.1f}%" in page
    assert chart(response)["datasets"][0]["label"] == "Laptop"


def test_it_compares_categories_when_no_category_or_vendor_is_chosen(org, spend):
    response = org.client_for(org.procurement).get("/analytics/prices/")

    page = text(response)
    stationery = sorted(line.amount for line in spend if line.category == "Stationery")
    # Stationery: 800 in January, a -200 credit note in March.
    assert "Stationery 2024-01 1 800.00 800.00 800.00" in page
    assert "Stationery 2024-03 1 -200.00 -200.00 -200.00 -125.0%" in page
    assert stationery == [D("-200.00"), D("800.00")]


def test_it_asks_for_a_category_or_vendor_before_comparing_items(org, spend):
    with pytest.raises(InvalidInput) as raised:
        spend_price_variance(filters=SpendFilters(), by="description")

    assert "category" in raised.value.fields


def test_it_compares_prices_over_the_last_twelve_months_when_no_period_is_given(org):
    add_spend(
        [
            Line(dt.date(2022, 1, 3), D("10"), "Old Supplier", "Cat", "IT", "Widget"),
            Line(dt.date(2024, 6, 3), D("12"), "New Supplier", "Cat", "IT", "Widget"),
            Line(dt.date(2024, 7, 3), D("15"), "New Supplier", "Cat", "IT", "Widget"),
        ]
    )

    variance = spend_price_variance(
        filters=SpendFilters(category_ids=frozenset({category_id("Cat")}))
    )

    assert variance.month_from == dt.date(2023, 8, 1)
    assert [p.median for p in variance.items[0].points] == [D("12.00"), D("15.00")]
    assert variance.items[0].points[1].change == D("25.0")


# --- Filters -----------------------------------------------------------------------------


def test_it_filters_by_period_department_category_and_vendor(org, spend):
    client = org.client_for(org.procurement)
    acme_vendor = Payee.objects.get(name__icontains="acme").vendor_id

    def total(query: str) -> Decimal:
        payload = chart(client.get(f"/analytics/over-time/?{query}"))
        return sum((D(a) for a in payload["datasets"][0]["data"]), D(0))

    assert total("from=2024-03&to=2024-03") == sum(
        line.amount for line in spend if line.month == "2024-03"
    )
    assert total(f"department={department_id('Marketing')}") == sum(
        line.amount for line in spend if line.department == "Marketing"
    )
    assert total(f"category={category_id('ICT')}&from=2024-02") == sum(
        line.amount for line in spend if line.category == "ICT" and line.month >= "2024-02"
    )
    assert total(f"vendor={acme_vendor}") == sum(
        line.amount for line in spend if "cme" in line.supplier.lower()
    )
    assert total(f"department={department_id('IT')}&category={category_id('Consultancy')}") == D(
        "15000.50"
    )


def test_it_shows_a_bad_filter_next_to_its_field(org, spend):
    response = org.client_for(org.procurement).get("/analytics/categories/?from=2024-13&to=2024-01")

    assert response.status_code == 400
    content = response.content.decode()
    assert re.search(r'id="id_from_error">Use YYYY-MM, e.g. 2026-01.</small>', content)
    assert "Correct the filters above to see the figures." in text(response)
    assert "spend-chart-data" not in content


def test_it_refuses_a_period_that_ends_before_it_starts(org, spend):
    response = org.client_for(org.procurement).get("/analytics/?from=2024-04&to=2024-01")

    assert response.status_code == 400
    assert (
        'id="id_to_error">Must not be before &#x27;from&#x27;.</small>' in response.content.decode()
    )


def test_it_says_when_no_spend_matches_the_filters(org, spend):
    page = text(org.client_for(org.procurement).get("/analytics/categories/?from=2030-01"))

    assert "No spend matches these filters." in page


def test_it_says_there_is_no_spend_yet(org):
    response = org.client_for(org.procurement).get("/analytics/")

    assert response.status_code == 200
    assert "There is no spend yet." in text(response)
    assert "spend-chart-data" not in response.content.decode()


# --- Page habits -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["", "over-time/", "categories/", "vendors/", "departments/", "contract/", "prices/"]
)
def test_it_draws_each_chart_from_a_json_payload_without_inline_code(org, spend, path):
    response = org.client_for(org.procurement).get(f"/analytics/{path}")

    assert response.status_code == 200
    content = response.content.decode()
    assert '<script src="/static/vendor/chartjs/chart.umd.min.js" defer></script>' in content
    assert '<script src="/static/analytics/charts.js" defer></script>' in content
    assert '<canvas data-chart="spend-chart-data"' in content
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", content, re.S)
    for attributes, body in scripts:
        # Only the data payload has a body; code comes from static files (CSP-ready).
        assert not body.strip() or 'type="application/json"' in attributes
    assert 'href="?format=csv"' in content
    assert 'href="?format=xlsx"' in content


def test_it_formats_amounts_with_thousands_separators(org):
    add_spend([Line(dt.date(2024, 1, 1), D("1234567.89"), "Big Co", "Cat", "IT")])

    page = text(org.client_for(org.procurement).get("/analytics/"))

    assert "Total spend GBP 1,234,567.89" in page


def _more_spend_in_it() -> None:
    add_spend(
        [
            Line(
                dt.date(2024, 1 + n % 12, 1),
                D(10 + n),
                f"More supplier {n}",
                f"More cat {n % 7}",
                "IT",
            )
            for n in range(60)
        ]
    )


def _filled(path: str) -> str:
    acme = Payee.objects.get(name__icontains="acme").vendor_id
    return path.format(it=department_id("IT"), ict=category_id("ICT"), acme=acme)


def _line_queries(queries: CaptureQueriesContext) -> list[str]:
    lines_table = SpendLine._meta.db_table
    return [q["sql"] for q in queries.captured_queries if f'"{lines_table}"' in q["sql"]]


def _bounded(sql: str) -> bool:
    """Reads only the lines of the departments, categories or payees asked for."""
    return bool(re.search(r'"(department|category|payee)_id" IN \(', sql))


# Unfiltered and one-dimension questions, and the cube's department x category x contract.
ROLLUP_PATHS = [
    "",
    "over-time/",
    "over-time/?split=category",
    "over-time/?split=department",
    "over-time/?split=vendor",
    "categories/",
    "vendors/",
    "departments/",
    "contract/",
    "categories/?category={ict}",
    "over-time/?department={it}",
    "departments/?department={it}",
    "vendors/?vendor={acme}",
    "over-time/?vendor={acme}&from=2024-02",
    "categories/?department={it}",
    "contract/?department={it}&category={ict}",
]


@pytest.mark.parametrize("path", ROLLUP_PATHS)
def test_it_answers_from_the_rollups_in_a_fixed_number_of_queries(org, spend, path):
    client = org.client_for(org.procurement)
    path = _filled(path)
    client.get(f"/analytics/{path}")  # the session and the user, cached from now on

    with CaptureQueriesContext(connection) as few:
        client.get(f"/analytics/{path}")
    _more_spend_in_it()
    with CaptureQueriesContext(connection) as many:
        response = client.get(f"/analytics/{path}")

    assert response.status_code == 200
    assert len(many) == len(few)
    assert not _line_queries(many)


# A vendor crossed with a department or a category (or with contracts) is in no rollup:
# those answers read the lines, always within the departments or payees asked for.
LINE_PATHS = [
    "?department={it}",
    "vendors/?department={it}",
    "vendors/?category={ict}",
    "over-time/?split=vendor&department={it}",
    "categories/?vendor={acme}",
    "contract/?vendor={acme}",
]


@pytest.mark.parametrize("path", LINE_PATHS)
def test_it_reads_only_the_chosen_lines_where_a_vendor_meets_another_filter(org, spend, path):
    client = org.client_for(org.procurement)
    path = _filled(path)
    client.get(f"/analytics/{path}")

    with CaptureQueriesContext(connection) as few:
        client.get(f"/analytics/{path}")
    _more_spend_in_it()
    with CaptureQueriesContext(connection) as many:
        response = client.get(f"/analytics/{path}")

    assert response.status_code == 200
    assert len(many) == len(few)
    assert _line_queries(many)
    assert all(_bounded(sql) for sql in _line_queries(many)), _line_queries(many)


@pytest.mark.parametrize(
    ("path", "figures_from_lines"),
    [
        ("", True),  # the number of vendors and their concentration
        ("over-time/?split=vendor", True),
        ("vendors/", True),
        ("over-time/", False),
        ("categories/", False),
        ("departments/", False),
        ("contract/", False),
    ],
)
def test_it_reads_a_managers_own_department_lines_only_where_vendors_are_needed(
    org, spend, path, figures_from_lines
):
    client = org.client_for(org.manager)
    client.get(f"/analytics/{path}")

    with CaptureQueriesContext(connection) as few:
        client.get(f"/analytics/{path}")
    _more_spend_in_it()
    with CaptureQueriesContext(connection) as many:
        response = client.get(f"/analytics/{path}")

    assert response.status_code == 200
    assert len(many) == len(few)
    it = department_id("IT")
    lines = _line_queries(many)
    # The filter form's vendor list names only vendors paid by the manager's department.
    assert all(re.search(rf'"department_id" IN \({it}\)', sql) for sql in lines), lines
    # (The filter form's query lists vendors; the figures' queries sum amounts.)
    figures = [sql for sql in lines if "SUM(" in sql.upper()]
    assert bool(figures) == figures_from_lines, figures


def test_it_sums_lines_in_the_base_currency_where_it_reads_them(org):
    ExchangeRate.objects.create(currency="EUR", valid_from=dt.date(2024, 1, 1), rate=D("0.5"))
    source = spend_source_get_or_create(name="Euro ledger", currency="EUR")
    spend_lines_add(
        source=source,
        lines=[
            LineInput(
                date=dt.date(2024, 1, 5),
                amount=D("1000.00"),
                supplier="Euro Vendor",
                reference="E1",
                category="ICT",
                department="IT",
            )
        ],
    )
    client = org.client_for(org.procurement)
    it = department_id("IT")

    page = text(client.get(f"/analytics/vendors/?department={it}"))
    assert "Euro Vendor (unmatched) 500.00" in page
    page = text(client.get(f"/analytics/?department={it}"))
    assert "Total spend GBP 500.00" in page
