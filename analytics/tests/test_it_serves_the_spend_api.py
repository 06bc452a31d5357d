"""GET /api/analytics/spend/...: the dashboards' figures as JSON, with the same filters."""

from __future__ import annotations

from decimal import Decimal

import pytest

from analytics.models import Payee
from analytics.tests.test_it_shows_spend_dashboards import (
    Line,
    add_sample_spend,
    category_id,
    department_id,
    sum_by,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def spend(org) -> list[Line]:
    return add_sample_spend(org)


D = Decimal


def test_it_serves_spend_per_month(org, spend):
    response = org.client_for(org.finance).get("/api/analytics/spend/over-time/")

    assert response.status_code == 200
    body = response.json()
    per_month = sum_by(spend, lambda line: line.month)
    assert body["currency"] == "GBP"
    assert D(body["total"]) == sum(line.amount for line in spend)
    assert body["lines"] == len(spend)
    assert [(row["month"], D(row["amount"])) for row in body["rows"]] == [
        ("2024-01", per_month["2024-01"]),
        ("2024-02", D("0.00")),
        ("2024-03", per_month["2024-03"]),
        ("2024-04", per_month["2024-04"]),
    ]


def test_it_serves_spend_by_category_with_ids_to_filter_on(org, spend):
    body = org.client_for(org.finance).get("/api/analytics/spend/by-category/").json()

    expected = sorted(sum_by(spend, lambda line: line.category).items(), key=lambda kv: -kv[1])
    assert [(row["name"], D(row["amount"])) for row in body["rows"]] == expected
    ict = next(row for row in body["rows"] if row["name"] == "ICT")
    assert ict["id"] == category_id("ICT")
    assert ict["lines"] == 4
    total = sum(line.amount for line in spend)
    assert D(ict["share"]) == (D(100) * D(ict["amount"]) / total).quantize(D("0.1"))


def test_it_serves_spend_by_department(org, spend):
    body = org.client_for(org.procurement).get("/api/analytics/spend/by-department/").json()

    assert {row["name"]: D(row["amount"]) for row in body["rows"]} == sum_by(
        spend, lambda line: line.department
    )


def test_it_serves_top_vendors_and_concentration(org, spend):
    body = org.client_for(org.procurement).get("/api/analytics/spend/by-vendor/?limit=2").json()

    acme = Payee.objects.get(name__icontains="acme")
    assert body["vendors"] == 4
    assert D(body["top10_share"]) == D("100.0")
    assert [(r["name"], r["matched"], r["vendor_id"], r["payee_id"]) for r in body["rows"]] == [
        ("Globex Consulting", False, None, Payee.objects.get(name="Globex Consulting").pk),
        ("Acme Supplies Ltd", True, acme.vendor_id, None),
    ]
    assert D(body["rows"][1]["amount"]) == sum(
        line.amount for line in spend if "cme" in line.supplier.lower()
    )


def test_it_serves_on_and_off_contract_spend(org, spend):
    body = org.client_for(org.procurement).get("/api/analytics/spend/contract/").json()

    assert D(body["on_contract"]) == sum(line.amount for line in spend if line.on_contract)
    assert D(body["off_contract"]) == sum(line.amount for line in spend if not line.on_contract)
    assert [row["month"] for row in body["months"]] == ["2024-01", "2024-02", "2024-03", "2024-04"]
    consultancy = next(row for row in body["categories"] if row["name"] == "Consultancy")
    assert (D(consultancy["on_contract"]), D(consultancy["off_contract"])) == (
        D("40000.50"),
        D("0.00"),
    )
    assert D(consultancy["off_contract_share"]) == D("0.0")


def test_it_takes_the_same_filters_as_the_pages(org, spend):
    client = org.client_for(org.procurement)
    marketing = department_id("Marketing")

    body = client.get(
        f"/api/analytics/spend/by-category/?from=2024-03&to=2024-03&department={marketing}"
    ).json()

    expected = sum_by(
        [line for line in spend if line.month == "2024-03" and line.department == "Marketing"],
        lambda line: line.category,
    )
    assert {row["name"]: D(row["amount"]) for row in body["rows"]} == expected
    vendor = Payee.objects.get(name__icontains="acme").vendor_id
    body = client.get(f"/api/analytics/spend/over-time/?vendor={vendor}").json()
    assert D(body["total"]) == sum(line.amount for line in spend if "cme" in line.supplier.lower())


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("from=2024-13", "from"),
        ("to=yesterday", "to"),
        ("from=2024-05&to=2024-01", "to"),
        ("department=IT", "department"),
        ("category=1,x", "category"),
        ("vendor=-1", "vendor"),
    ],
)
def test_it_names_a_bad_filter(org, spend, query, field):
    response = org.client_for(org.procurement).get(f"/api/analytics/spend/by-category/?{query}")

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert list(body["errors"]) == [field]


@pytest.mark.parametrize("limit", ["0", "501", "ten"])
def test_it_refuses_a_bad_vendor_limit(org, spend, limit):
    response = org.client_for(org.procurement).get(f"/api/analytics/spend/by-vendor/?limit={limit}")

    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["limit"]


def test_it_answers_with_empty_rows_before_any_spend(org):
    body = org.client_for(org.procurement).get("/api/analytics/spend/over-time/").json()

    assert body == {"currency": "GBP", "total": "0.00", "lines": 0, "rows": []}
