"""Every spend page downloads as CSV and XLSX (?format=csv|xlsx): the files open and hold the
page's table, with the filters applied. XLSX is read with zipfile and the XML it holds."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import zipfile
from decimal import Decimal
from xml.etree import ElementTree

import pytest

from analytics.services import spend_import_from_path, spend_import_run, spend_source_get_or_create
from analytics.tests.datasets import DATASETS
from analytics.tests.test_it_shows_spend_dashboards import (
    LINES,
    Line,
    add_sample_spend,
    add_spend,
    category_id,
    sum_by,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def spend(org) -> list[Line]:
    return add_sample_spend(org)


D = Decimal
NS = {"x": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}


def csv_rows(response) -> list[list[str]]:
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"].startswith("attachment; filename=")
    return list(csv.reader(io.StringIO(response.content.decode())))


def xlsx_sheets(response) -> dict[str, list[list[str]]]:
    """{sheet name: rows of cell texts}, as a spreadsheet would show them (numbers unformatted)."""
    assert response.status_code == 200
    assert response["Content-Disposition"].endswith('.xlsx"')
    book = zipfile.ZipFile(io.BytesIO(response.content))
    shared: list[str] = []
    if "xl/sharedStrings.xml" in book.namelist():
        root = ElementTree.fromstring(book.read("xl/sharedStrings.xml"))
        shared = ["".join(t.text or "" for t in si.iter(f"{{{NS['x']}}}t")) for si in root]
    workbook = ElementTree.fromstring(book.read("xl/workbook.xml"))
    names = [sheet.get("name") for sheet in workbook.find("x:sheets", NS) or []]
    sheets = {}
    for index, name in enumerate(names, start=1):
        root = ElementTree.fromstring(book.read(f"xl/worksheets/sheet{index}.xml"))
        rows: list[list[str]] = []
        for row in root.iter(f"{{{NS['x']}}}row"):
            # Empty rows are not written: place each row by its number.
            while len(rows) < int(row.get("r", len(rows) + 1)) - 1:
                rows.append([])
            cells = []
            for cell in row.findall("x:c", NS):
                value = cell.find("x:v", NS)
                if cell.get("t") == "s" and value is not None:
                    cells.append(shared[int(value.text or 0)])
                elif cell.get("t") == "inlineStr":
                    cells.append("".join(t.text or "" for t in cell.iter(f"{{{NS['x']}}}t")))
                else:
                    cells.append((value.text or "") if value is not None else "")
            rows.append(cells)
        sheets[str(name)] = rows
    return sheets


def test_it_downloads_spend_by_category_as_csv(org, spend):
    response = org.client_for(org.procurement).get("/analytics/categories/?format=csv")

    rows = csv_rows(response)
    assert rows[0] == ["Category", "Spend (GBP)", "Lines", "Share of total (%)"]
    expected = sorted(sum_by(spend, lambda line: line.category).items(), key=lambda kv: -kv[1])
    assert [(row[0], D(row[1])) for row in rows[1:]] == expected
    assert (
        response["Content-Disposition"] == 'attachment; filename="spend-by-category-all-months.csv"'
    )


def test_it_downloads_spend_by_category_as_xlsx_with_the_total_above_the_table(org, spend):
    response = org.client_for(org.procurement).get("/analytics/categories/?format=xlsx")

    sheet = xlsx_sheets(response)["Spend by category"]
    total = sum(line.amount for line in spend)
    assert sheet[0][0] == "Total"
    assert D(sheet[0][1]) == total
    assert sheet[1] == ["Lines", str(len(spend))]
    assert sheet[3] == ["Category", "Spend (GBP)", "Lines", "Share of total (%)"]
    expected = sorted(sum_by(spend, lambda line: line.category).items(), key=lambda kv: -kv[1])
    assert [(row[0], D(row[1])) for row in sheet[4:]] == expected


def test_it_downloads_only_the_filtered_spend(org, spend):
    ict = category_id("ICT")

    response = org.client_for(org.procurement).get(
        f"/analytics/over-time/?category={ict}&from=2024-03&format=csv"
    )

    rows = csv_rows(response)
    assert rows[0] == ["Month", "Spend (GBP)", "Lines"]
    assert rows[1:] == [["2024-03", "1350.00", "1"], ["2024-04", "1500.00", "1"]]
    assert 'filename="spend-over-time-from-2024-03.csv"' in response["Content-Disposition"]


def test_it_downloads_split_spend_over_time_with_a_column_per_series(org, spend):
    rows = csv_rows(
        org.client_for(org.procurement).get("/analytics/over-time/?split=department&format=csv")
    )

    assert rows[0] == ["Month", "Spend (GBP)", "Lines", "Marketing", "IT"]
    by_month_department = sum_by(spend, lambda line: (line.month, line.department))
    january = next(row for row in rows if row[0] == "2024-01")
    assert D(january[3]) == by_month_department[("2024-01", "Marketing")]
    assert D(january[4]) == by_month_department[("2024-01", "IT")]


def test_it_downloads_top_vendors_with_unmatched_payees_marked(org, spend):
    rows = csv_rows(org.client_for(org.procurement).get("/analytics/vendors/?format=csv"))

    assert rows[0][:2] == ["Vendor", "Matched to a vendor record"]
    assert rows[2][:2] == ["Acme Supplies Ltd", "yes"]
    assert rows[1][:2] == ["Globex Consulting", "no (unmatched)"]


def test_it_downloads_the_contract_view_as_two_sheets(org, spend):
    sheets = xlsx_sheets(org.client_for(org.procurement).get("/analytics/contract/?format=xlsx"))

    assert set(sheets) == {"Contract spend per month", "Contract spend per category"}
    months = sheets["Contract spend per month"]
    on = sum(line.amount for line in spend if line.on_contract)
    assert months[0][0] == "On contract"
    assert D(months[0][1]) == on
    assert [row[0] for row in months[5:]] == ["2024-01", "2024-02", "2024-03", "2024-04"]
    categories = sheets["Contract spend per category"]
    assert categories[0] == [
        "Category",
        "On contract (GBP)",
        "Off contract (GBP)",
        "Off-contract share (%)",
    ]


@pytest.mark.parametrize(
    "path", ["", "over-time/", "categories/", "vendors/", "departments/", "contract/", "prices/"]
)
def test_it_downloads_every_view_in_both_formats(org, spend, path):
    client = org.client_for(org.finance)

    rows = csv_rows(client.get(f"/analytics/{path}?format=csv"))
    sheets = xlsx_sheets(client.get(f"/analytics/{path}?format=xlsx"))

    assert len(rows) > 1
    first = next(iter(sheets.values()))
    # The first sheet holds the CSV's rows, after the figures noted above its table.
    assert first[-(len(rows) - 1) :][0][0] == rows[1][0]


def test_it_keeps_a_payee_name_that_looks_like_a_formula_as_text(org):
    add_spend([Line(dt.date(2024, 1, 1), D("10.00"), "=HYPERLINK(evil)", "Cat", "IT")])

    rows = csv_rows(org.client_for(org.procurement).get("/analytics/vendors/?format=csv"))

    assert rows[1][0].startswith("'=")


def test_it_exports_a_real_cabinet_office_month_with_the_totals_of_the_file(org):
    path = DATASETS / "cabinet-office-spend-over-25k" / "2019-06.csv"
    if not path.exists():
        pytest.skip(f"the shared datasets are not on this machine ({DATASETS})")
    source = spend_source_get_or_create(name="Cabinet Office", currency="GBP")
    mapping = {
        "columns": {
            "date": "Date",
            "amount": "Amount",
            "supplier": "Supplier",
            "reference": "Transaction number",
            "category": "Expense Type",
            "department": "Expense Area",
            "description": "",
            "currency": "",
            "quantity": "",
        },
        "day_first": True,
    }
    spend_import = spend_import_from_path(source=source, path=path, mapping=mapping)
    spend_import_run(spend_import_id=spend_import.pk)
    # The independent computation: the file's own amounts per expense type.
    expected: dict[str, Decimal] = {}
    with path.open(newline="", encoding="cp1252") as file:
        for row in csv.DictReader(file):
            if not (row.get("Amount") or "").strip():
                continue
            name = " ".join(row["Expense Type"].split())
            expected[name] = expected.get(name, D(0)) + D(row["Amount"].replace(",", ""))

    rows = csv_rows(org.client_for(org.finance).get("/analytics/categories/?format=csv"))

    assert {row[0]: D(row[1]) for row in rows[1:]} == expected
    assert re.fullmatch(r"\d+", rows[1][2])
    assert LINES  # the shared lines are untouched by this test
