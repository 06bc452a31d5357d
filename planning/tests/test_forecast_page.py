"""The forecast page at /planning/forecast/ and its downloads: who may see it, what a
manager sees, bad filters, the empty period, and the CSV and XLSX files."""

from __future__ import annotations

import csv
import io
import json
import re
from decimal import Decimal

import pytest
from django.urls import reverse

from analytics.tests.test_it_exports_spend import xlsx_sheets
from analytics.tests.test_it_shows_spend_dashboards import text
from planning.tests.helpers import budget, this_year
from planning.tests.test_forecast_sources import month, need, pay
from procurement.models import Category
from sourcing.tests.helpers import approved_request

pytestmark = pytest.mark.django_db

D = Decimal
PAGE = "/planning/forecast/"


def chart(response) -> dict:
    found = re.search(
        r'<script id="forecast-chart-data" type="application/json">(.*?)</script>',
        response.content.decode(),
        re.S,
    )
    assert found, "the page has no chart payload"
    return json.loads(found.group(1))


def csv_rows(response) -> list[list[str]]:
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"].startswith('attachment; filename="forecast-')
    return list(csv.reader(io.StringIO(response.content.decode())))


@pytest.fixture
def planned(org) -> None:
    """IT: a 12,000.00 budget, an approved 2,500.00 request in two months and 50.00 a month of
    hosting. Marketing: an open need of 700.00 in three months."""
    this_year()
    budget(org, "12000.00")
    approved_request(org, needed_by=month(2).replace(day=5))
    pay([(offset, "200.00", "Acme Hosting", "Cloud", "IT") for offset in (-1, -2, -3)])
    need(org, rough_budget="700.00", needed_by=month(3), department=org.other_department)


def test_the_urls_are_where_the_nav_expects_them() -> None:
    assert reverse("forecast:overview") == PAGE
    assert reverse("forecast:export", args=["csv"]) == PAGE + "export.csv"


def test_finance_sees_the_months_the_chart_and_the_budget_comparison(org, planned) -> None:
    response = org.client_for(org.finance).get(PAGE)

    assert response.status_code == 200
    page = text(response)
    assert f"{month(2):%Y-%m} 0.00 50.00 2,500.00 0.00 2,550.00 1,000.00" in page
    assert "Total 0.00 600.00 2,500.00 700.00 3,800.00 12,000.00" in page
    payload = chart(response)
    assert payload["labels"] == [f"{month(i):%Y-%m}" for i in range(12)]
    assert [d["label"] for d in payload["datasets"]] == [
        "Contract renewals",
        "Recurring spend",
        "Approved requests not yet ordered",
        "Open needs",
    ]
    assert payload["datasets"][2]["data"][2] == "2500.00"
    assert payload["line"]["data"] == ["1000.00"] * 12
    # Budget vs forecast: IT's year, consumed (the approved request), forecast, remaining.
    assert "IT IT-100 FY" in page
    assert "12,000.00 12,000.00 2,500.00 600.00 8,900.00 Within budget" in page
    assert 'src="/static/js/forecast.js"' in response.content.decode()


def test_the_summary_sentence_adds_up(org, planned) -> None:
    page = text(org.client_for(org.finance).get(PAGE))
    # 12 x 50.00 of hosting, the 2,500.00 request and the 700.00 need.
    assert f"GBP 3,800.00 expected from {month(0):%B %Y} to {month(11):%B %Y}" in page


def test_an_overrun_is_flagged_with_how_far_ahead_it_shows(org, planned) -> None:
    need(org, rough_budget="5000.00", needed_by=month(4))
    page = text(org.client_for(org.finance).get(PAGE))
    assert f"Over in {month(4):%b %Y} visible 4 months ahead" in page


def test_a_manager_sees_only_their_department(org, planned) -> None:
    response = org.client_for(org.manager).get(PAGE)

    assert response.status_code == 200
    page = text(response)
    assert "Total 0.00 600.00 2,500.00 0.00 3,100.00" in page  # no Marketing need
    menu = re.search(r'<select name="department".*?</select>', response.content.decode(), re.S)
    assert menu is not None
    assert re.findall(r">([^<]+)</option>", menu.group(0)) == ["All departments", "IT"]
    marketing = org.client_for(org.manager).get(PAGE, {"department": org.other_department.pk})
    assert marketing.status_code == 400
    assert "Select a valid choice" in text(marketing)


def test_people_without_planning_roles_get_403(org, planned) -> None:
    for user in (org.requester, org.security, org.legal, org.outsider):
        assert org.client_for(user).get(PAGE).status_code == 403
        assert org.client_for(user).get(PAGE + "export.csv").status_code == 403


def test_it_asks_anonymous_visitors_to_sign_in(client) -> None:
    response = client.get(PAGE)
    assert response.status_code == 302
    assert "login" in response["Location"]


@pytest.mark.parametrize("value", ["2026-13", "next month", "1800-01", "2026-02-30"])
def test_a_malformed_start_month_is_a_form_error(org, value) -> None:
    response = org.client_for(org.finance).get(PAGE, {"start": value})
    assert response.status_code == 400
    page = text(response)
    assert "Correct the filters above" in page
    assert re.search(r"First month \S* ?.*(Use YYYY-MM|Use a year from)", page)


def test_a_month_in_the_past_or_too_far_ahead_is_a_form_error(org) -> None:
    client = org.client_for(org.finance)
    past = client.get(PAGE, {"start": f"{month(-1):%Y-%m}"})
    assert past.status_code == 400
    assert f"Choose {month(0):%Y-%m} or a later month." in text(past)
    far = client.get(PAGE, {"start": f"{month(25):%Y-%m}"})
    assert far.status_code == 400
    assert f"Choose {month(24):%Y-%m} or an earlier month." in text(far)


def test_the_downloads_say_what_is_wrong_with_a_bad_month_in_json(org) -> None:
    response = org.client_for(org.finance).get(PAGE + "export.csv", {"start": "2026-13"})
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["code"] == "invalid"
    assert body["detail"] == "start: Use YYYY-MM, e.g. 2026-01."
    assert body["errors"] == {"start": ["Use YYYY-MM, e.g. 2026-01."]}
    assert org.client_for(org.finance).get(PAGE + "export.pdf").status_code == 404


def test_a_later_start_shows_its_twelve_months(org, planned) -> None:
    response = org.client_for(org.finance).get(PAGE, {"start": f"{month(3):%Y-%m}"})
    assert response.status_code == 200
    assert chart(response)["labels"][0] == f"{month(3):%Y-%m}"
    assert chart(response)["labels"][-1] == f"{month(14):%Y-%m}"


def test_an_empty_period_shows_zeros_and_says_so(org) -> None:
    response = org.client_for(org.finance).get(PAGE)

    assert response.status_code == 200
    page = text(response)
    assert "No expected spend from" in page
    assert "every month shows zero" in page
    assert page.count(" 0.00 0.00 0.00 0.00 0.00") == 13  # twelve months and the total
    assert "No budget to compare with" in page
    assert chart(response)["line"] is None


def test_the_csv_holds_every_row_with_its_source(org, planned) -> None:
    rows = csv_rows(org.client_for(org.finance).get(PAGE + "export.csv"))

    assert rows[0] == [
        "Month",
        "Source",
        "Category",
        "Department",
        "Vendor",
        "Reference",
        "Amount (GBP)",
    ]
    body = rows[1:]
    assert len(body) == 12 + 1 + 1
    assert sum(D(r[6]) for r in body) == D("3800.00")
    approved = [r for r in body if r[1] == "Approved requests not yet ordered"]
    assert approved[0][:4] == [
        f"{month(2):%Y-%m}",
        "Approved requests not yet ordered",
        "Hardware",
        "IT",
    ]
    assert approved[0][6] == "2500.00"
    need_row = next(r for r in body if r[1] == "Open needs")
    assert need_row[2:4] == ["Unassigned", "Marketing"]
    recurring = [r for r in body if r[1] == "Recurring spend"]
    assert {(r[2], r[3], r[4], r[6]) for r in recurring} == {
        ("Cloud", "IT", "Acme Hosting", "50.00")
    }


def test_the_csv_keeps_to_the_filters_and_the_managers_department(org, planned) -> None:
    cloud = Category.objects.get(code="cloud")
    rows = csv_rows(org.client_for(org.finance).get(PAGE + "export.csv", {"category": cloud.pk}))
    assert {r[1] for r in rows[1:]} == {"Recurring spend"}
    manager_rows = csv_rows(org.client_for(org.manager).get(PAGE + "export.csv"))
    assert {r[3] for r in manager_rows[1:]} == {"IT"}


def test_the_xlsx_is_a_workbook_with_the_rows_the_months_and_the_budgets(org, planned) -> None:
    response = org.client_for(org.finance).get(PAGE + "export.xlsx")

    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    sheets = xlsx_sheets(response)
    assert list(sheets) == ["Forecast rows", "Forecast per month", "Budget vs forecast"]
    rows = sheets["Forecast rows"]
    assert rows[0] == ["Total (GBP)", "3800"]
    assert rows[2][:4] == ["Month", "Source", "Category", "Department"]
    assert len(rows) == 3 + 14
    months = sheets["Forecast per month"]
    assert months[1][0] == f"{month(0):%Y-%m}"
    assert len(months) == 13
    budgets = sheets["Budget vs forecast"]
    assert budgets[1][:2] == ["IT", budgets[1][1]]
    assert budgets[1][3:9] == ["12000", "12000", "2500", "600", "3100", "8900"]
