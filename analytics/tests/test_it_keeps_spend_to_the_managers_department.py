"""A manager sees their own department's spend only, in pages, downloads and the API, and gets
nothing of another department's by guessing its id; requesters see no spend at all."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest

from analytics.tests.test_it_shows_spend_dashboards import (
    Line,
    add_sample_spend,
    category_id,
    chart,
    department_id,
    money,
    sum_by,
    text,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def spend(org) -> list[Line]:
    return add_sample_spend(org)


D = Decimal
PAGES = ["", "over-time/", "categories/", "vendors/", "departments/", "contract/", "prices/"]
API = ["over-time", "by-category", "by-vendor", "by-department", "contract"]


def it_lines(spend):
    return [line for line in spend if line.department == "IT"]


def test_it_shows_a_manager_their_departments_total_only(org, spend):
    page = text(org.client_for(org.manager).get("/analytics/"))

    total = sum(line.amount for line in it_lines(spend))
    assert f"Total spend GBP {money(total)}" in page
    assert f"Lines {len(it_lines(spend))}" in page


@pytest.mark.parametrize("user", ["manager", "head"])
def test_it_never_names_another_departments_categories_vendors_or_itself(org, spend, user):
    client = org.client_for(getattr(org, user))

    for path in PAGES:
        response = client.get(f"/analytics/{path}")
        assert response.status_code == 200, path
        page = text(response)
        # Marketing's department, its categories and its vendors, in the figures or the filters.
        for name in (
            "Marketing",
            "Stationery",
            "Printing",
            "Initech",
            "Umbrella Print",
            "Paper A4",
        ):
            assert name not in page, (path, name)


def test_it_shows_a_manager_their_departments_share_of_a_shared_vendor(org, spend):
    # Globex works for both departments: the manager sees IT's 15,000.50, not Marketing's 25,000.
    page = text(org.client_for(org.manager).get("/analytics/vendors/"))

    assert f"Globex Consulting (unmatched) {money(D('15000.50'))}" in page
    assert "25,000.00" not in page


def test_it_refuses_a_guessed_department_in_the_filter(org, spend):
    response = org.client_for(org.manager).get(
        f"/analytics/categories/?department={department_id('Marketing')}"
    )

    assert response.status_code == 400
    assert "Select a valid choice." in text(response)
    assert "spend-chart-data" not in response.content.decode()


def test_it_refuses_a_guessed_category_of_another_department(org, spend):
    response = org.client_for(org.manager).get(
        f"/analytics/over-time/?category={category_id('Stationery')}"
    )

    assert response.status_code == 400


def test_it_downloads_a_managers_department_only(org, spend):
    response = org.client_for(org.manager).get("/analytics/departments/?format=csv")

    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert [row[0] for row in rows[1:]] == ["IT"]
    assert D(rows[1][1]) == sum(line.amount for line in it_lines(spend))

    response = org.client_for(org.manager).get("/analytics/categories/?format=csv")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    expected = sum_by(it_lines(spend), lambda line: line.category)
    assert {row[0]: D(row[1]) for row in rows[1:]} == expected


def test_it_charts_a_managers_department_only(org, spend):
    payload = chart(org.client_for(org.manager).get("/analytics/contract/"))

    on = {d["label"]: [D(a) for a in d["data"]] for d in payload["datasets"]}["On contract"]
    # Globex's 25,000 in March is Marketing's: IT's March has no contract spend.
    assert on == [D("15000.50"), D("0.00"), D("0.00"), D("0.00")]


@pytest.mark.parametrize("endpoint", API)
def test_it_gives_a_manager_nothing_of_another_department_in_the_api(org, spend, endpoint):
    marketing = department_id("Marketing")

    response = org.client_for(org.manager).get(
        f"/api/analytics/spend/{endpoint}/?department={marketing}"
    )

    assert response.status_code == 200
    body = response.json()
    assert body.get("rows", body.get("months")) == []
    assert "Marketing" not in response.content.decode()


def test_it_gives_a_manager_their_departments_totals_in_the_api(org, spend):
    body = org.client_for(org.manager).get("/api/analytics/spend/by-department/").json()

    assert [(row["name"], D(row["amount"])) for row in body["rows"]] == [
        ("IT", sum(line.amount for line in it_lines(spend)))
    ]


@pytest.mark.parametrize("user", ["requester", "security", "legal", "outsider"])
def test_it_refuses_people_without_spend_access(org, spend, user):
    client = org.client_for(getattr(org, user))

    for path in PAGES:
        assert client.get(f"/analytics/{path}").status_code == 403, path
        assert client.get(f"/analytics/{path}?format=csv").status_code == 403, path
    for endpoint in API:
        response = client.get(f"/api/analytics/spend/{endpoint}/?from=bad")
        assert response.status_code == 403, endpoint
        assert response.json()["code"] == "permission_denied"


def test_it_asks_anonymous_visitors_to_log_in(client, spend):
    response = client.get("/analytics/categories/")

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    assert client.get("/api/analytics/spend/by-category/").status_code == 403
