"""The forecast's JSON API at /api/planning/forecast/: the page's figures for the page's
filters, the page's scope (a manager their department, requests they may not open by
reference only), 403 for anyone else and 400 naming a bad filter."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from approvals.tests.helpers import LINE_MANAGER, policy
from planning.forecast import SOURCES, UNASSIGNED_ID, ForecastFilters, forecast_build
from planning.tests.test_forecast_page import planned  # noqa: F401  (a fixture)
from planning.tests.test_forecast_sources import live_contract, month, need, today
from planning.tests.test_security import _bobs_request
from procurement.models import Category

pytestmark = pytest.mark.django_db

D = Decimal
URL = "/api/planning/forecast/"


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def amounts(entry: dict[str, Any]) -> list[str | None]:
    return [entry[s.value] for s in SOURCES] + [entry["total"], entry["budget"]]


def test_the_url_is_under_the_planning_api() -> None:
    assert reverse("planning-forecast") == URL


@pytest.mark.usefixtures("planned")
def test_finance_gets_the_months_the_totals_and_the_budget_comparison(org) -> None:
    response = api(org.finance).get(URL)

    assert response.status_code == 200
    body = response.json()
    assert (body["currency"], body["start"], body["end"], body["this_month"]) == (
        "GBP",
        f"{month(0):%Y-%m}",
        f"{month(11):%Y-%m}",
        f"{month(0):%Y-%m}",
    )
    assert [m["month"] for m in body["months"]] == [f"{month(i):%Y-%m}" for i in range(12)]
    # The page's row for that month: 0.00 50.00 2,500.00 0.00 2,550.00 1,000.00
    assert amounts(body["months"][2]) == ["0.00", "50.00", "2500.00", "0.00", "2550.00", "1000.00"]
    assert amounts(body["totals"]) == ["0.00", "600.00", "2500.00", "700.00", "3800.00", "12000.00"]
    [it] = body["budgets"]
    assert it["department"] == "IT"
    assert it["department_id"] == org.department.pk
    assert it["budgets"] == ["IT-100"]
    assert [it[k] for k in ("budget", "budget_in_window", "consumed", "forecast")] == [
        "12000.00",
        "12000.00",
        "2500.00",
        "600.00",
    ]
    assert (it["projected"], it["remaining"]) == ("3100.00", "8900.00")
    assert (it["overrun_month"], it["months_ahead"]) == (None, None)
    assert body["warnings"] == []


@pytest.mark.usefixtures("planned")
def test_it_lists_everything_forecast_largest_first(org) -> None:
    items = api(org.finance).get(URL).json()["items"]

    assert [(i["source"], i["department"], i["amount"], i["months"]) for i in items] == [
        ("approved", "IT", "2500.00", 1),
        ("need", "Marketing", "700.00", 1),
        ("recurring", "IT", "600.00", 12),
    ]
    assert items[2]["vendor"] == "Acme Hosting"
    assert items[2]["category"] == "Cloud"
    assert sum(D(i["amount"]) for i in items) == D("3800.00")


@pytest.mark.parametrize(
    ("start", "department", "category"),
    [
        (0, None, None),
        (3, None, None),
        (0, None, "cloud"),
        (0, "marketing", None),
        (0, "unassigned", None),
        (0, None, "unassigned"),
    ],
)
@pytest.mark.usefixtures("planned")
def test_its_figures_are_the_forecasts_for_the_same_filters(
    org, start, department, category
) -> None:
    live_contract(org, "Skyline Cloud Ltd")  # a renewal in the mix
    ids = {
        None: None,
        "marketing": org.other_department.pk,
        "cloud": Category.objects.get(code="cloud").pk,
        "unassigned": UNASSIGNED_ID,
    }
    filters = ForecastFilters(
        start=month(start), department_id=ids[department], category_id=ids[category]
    )
    query: dict[str, Any] = {"start": f"{filters.start:%Y-%m}"}
    if filters.department_id is not None:
        query["department"] = filters.department_id
    if filters.category_id is not None:
        query["category"] = filters.category_id

    body = api(org.finance).get(URL, query).json()
    forecast = forecast_build(filters=filters, today=today())

    assert body["start"] == f"{forecast.start:%Y-%m}"
    assert [[D(m[s.value]) for s in SOURCES] for m in body["months"]] == [
        m.by_source for m in forecast.months
    ]
    assert [D(m["total"]) for m in body["months"]] == [m.total for m in forecast.months]
    assert D(body["totals"]["total"]) == forecast.total
    assert [(i["reference"], D(i["amount"])) for i in body["items"]] == [
        (i.reference, i.amount) for i in forecast.items()
    ]
    assert [(b["department"], D(b["remaining"])) for b in body["budgets"]] == [
        (c.department, c.remaining) for c in forecast.comparisons
    ]
    if forecast.has_budget:
        assert D(body["totals"]["budget"]) == forecast.budget_total
    else:
        assert body["totals"]["budget"] is None
        assert {m["budget"] for m in body["months"]} == {None}


@pytest.mark.usefixtures("planned")
def test_an_overrun_gives_its_month_and_how_far_ahead_it_shows(org) -> None:
    need(org, rough_budget="5000.00", needed_by=month(4))
    [it] = api(org.finance).get(URL).json()["budgets"]
    assert (it["overrun_month"], it["months_ahead"]) == (f"{month(4):%Y-%m}", 4)


@pytest.mark.usefixtures("planned")
def test_a_manager_gets_only_their_department(org) -> None:
    response = api(org.manager).get(URL)

    assert response.status_code == 200
    body = response.json()
    assert amounts(body["totals"]) == ["0.00", "600.00", "2500.00", "0.00", "3100.00", "12000.00"]
    assert {i["department"] for i in body["items"]} == {"IT"}
    assert [b["department"] for b in body["budgets"]] == ["IT"]
    for department in (org.other_department.pk, 0):  # another one, or the unassigned rows
        refused = api(org.manager).get(URL, {"department": department})
        assert refused.status_code == 400
        assert list(refused.json()["errors"]) == ["department"]


def test_a_manager_gets_a_request_they_may_not_open_by_its_reference_only(org) -> None:
    policy(LINE_MANAGER)
    bobs = _bobs_request(org)

    def approved(user) -> list[str]:
        items = api(user).get(URL).json()["items"]
        return [i["reference"] for i in items if i["source"] == "approved"]

    assert approved(org.manager) == [bobs.reference]  # the amount counts; no title
    assert approved(org.finance) == [f"{bobs.reference} {bobs.title}"]
    assert approved(org.head) == [f"{bobs.reference} {bobs.title}"]  # Bob reports to her


def test_people_without_planning_roles_get_403_in_json(org) -> None:
    for user in (org.requester, org.security, org.legal, org.outsider):
        for query in ({}, {"start": "2026-13"}):  # 403 before 400: the filters tell nothing
            response = api(user).get(URL, query)
            assert response.status_code == 403
            assert response.json() == {
                "code": "permission_denied",
                "detail": "The forecast is for finance, procurement, admins and managers.",
                "errors": {},
            }


def test_it_refuses_anonymous_callers(client) -> None:
    response = client.get(URL)
    assert response.status_code == 403
    assert response.json()["code"] == "not_authenticated"


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ({"start": "2026-13"}, "start", "Use YYYY-MM, e.g. 2026-01."),
        ({"start": "next month"}, "start", "Use YYYY-MM, e.g. 2026-01."),
        ({"department": "999999"}, "department", "Select a valid choice."),
        ({"department": "IT"}, "department", "Select a valid choice."),
        ({"category": "-1"}, "category", "Select a valid choice."),
    ],
)
def test_a_bad_filter_is_a_400_naming_it(org, query, field, message) -> None:
    response = api(org.finance).get(URL, query)

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert list(body["errors"]) == [field]
    assert body["errors"][field][0].startswith(message)
    assert body["detail"] == f"{field}: {body['errors'][field][0]}"


def test_a_month_in_the_past_or_too_far_ahead_is_a_400(org) -> None:
    past = api(org.finance).get(URL, {"start": f"{month(-1):%Y-%m}"})
    assert past.status_code == 400
    assert past.json()["errors"] == {"start": [f"Choose {month(0):%Y-%m} or a later month."]}
    far = api(org.finance).get(URL, {"start": f"{month(25):%Y-%m}"})
    assert far.status_code == 400
    assert far.json()["errors"] == {"start": [f"Choose {month(24):%Y-%m} or an earlier month."]}


def test_an_empty_period_is_twelve_months_of_zeros_without_a_budget(org) -> None:
    body = api(org.finance).get(URL).json()

    assert len(body["months"]) == 12
    assert {tuple(amounts(m)) for m in body["months"]} == {("0.00",) * 5 + (None,)}
    assert body["totals"]["budget"] is None
    assert (body["items"], body["budgets"], body["warnings"]) == ([], [], [])


def test_it_says_what_it_left_out(org) -> None:
    live_contract(org, "Dollar Inc", currency="USD", renewal_term_months=12)
    warnings = api(org.finance).get(URL).json()["warnings"]
    assert len(warnings) == 1
    assert "no exchange rate" in warnings[0]
