"""The budgets API under /api/planning/budgets/: the budgets a caller may see with their live
consumption, a budget with its versions, and finance's setting and revising. Errors are JSON
bodies {"code", "detail", "errors"} naming the bad field."""

from __future__ import annotations

from decimal import Decimal

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from planning.models import Budget
from planning.tests.helpers import budget, objective, this_year
from procurement.models import FiscalYear
from sourcing.tests.helpers import approved_request
from tests.factories import CostCentreFactory

pytestmark = pytest.mark.django_db


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def body(org, **overrides):
    data = {
        "fiscal_year": this_year().name,
        "cost_centre": "IT-100",
        "owner": org.head.pk,
        "amount": "12000.00",
        "on_exceed": "approval",
        "extra_approver": "owner",
        "reason": "Planned with IT",
    }
    data.update(overrides)
    return data


def test_it_lists_budgets_with_their_live_consumption(org):
    set_ = budget(org, "10000")
    approved_request(org)

    response = api(org.finance).get("/api/planning/budgets/")

    assert response.status_code == 200
    [row] = response.json()["results"]
    assert (row["id"], row["scope"], row["amount"], row["version"]) == (
        set_.pk,
        "IT-100",
        "10000.00",
        1,
    )
    assert row["fiscal_year"]["name"] == this_year().name
    assert row["owner"]["username"] == "hana"
    assert row["consumption"] == {
        "committed_requests": "2500.00",
        "committed_orders": "0.00",
        "actual_invoices": "0.00",
        "actual_spend": "0.00",
        "committed": "2500.00",
        "actual": "0.00",
        "consumed": "2500.00",
        "available": "7500.00",
        "over": False,
    }
    assert len(row["months"]) == 12
    assert sum(Decimal(month["amount"]) for month in row["months"]) == Decimal("10000.00")
    assert row["phased"] is False
    assert row["below_consumed"] is False


def test_it_lists_only_the_budgets_the_caller_may_see(org):
    budget(org, "10000")
    marketing = CostCentreFactory.create(code="MKT-1", department=org.other_department)
    budget(org, "500", cost_centre=marketing, owner=org.finance)

    def scopes(user) -> list[str]:
        return [row["scope"] for row in api(user).get("/api/planning/budgets/").json()["results"]]

    assert scopes(org.procurement) == ["IT-100", "MKT-1"]
    assert scopes(org.head) == ["IT-100"]
    assert scopes(org.requester) == []
    assert scopes(org.outsider) == []


def test_it_filters_by_fiscal_year_and_names_an_unknown_one(org):
    budget(org, "10000")
    client = api(org.finance)

    assert client.get(f"/api/planning/budgets/?fiscal_year={this_year().name}").json()["count"] == 1
    unknown = client.get("/api/planning/budgets/?fiscal_year=FY1")
    assert unknown.status_code == 400
    assert unknown.json()["errors"] == {"fiscal_year": ['Unknown fiscal year "FY1".']}


def test_it_shows_a_budget_with_its_versions(org):
    set_ = budget(org, "10000")
    api(org.finance).post(
        f"/api/planning/budgets/{set_.pk}/revisions/",
        {"amount": "11000.00", "reason": "Contractors"},
        format="json",
    )

    detail = api(org.head).get(f"/api/planning/budgets/{set_.pk}/").json()

    assert [(r["version"], r["amount"], r["reason"]) for r in detail["revisions"]] == [
        (2, "11000.00", "Contractors"),
        (1, "10000.00", "Set"),
    ]
    assert detail["revisions"][0]["created_by"] == "fiona"


@pytest.mark.parametrize("who", ["requester", "outsider"])
def test_a_budget_the_caller_may_not_see_is_a_json_404(org, who):
    set_ = budget(org, "10000")
    client = api(getattr(org, who))

    for response in (
        client.get(f"/api/planning/budgets/{set_.pk}/"),
        client.post(f"/api/planning/budgets/{set_.pk}/revisions/", {}, format="json"),
    ):
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"


def test_finance_sets_a_budget_with_phasing(org):
    response = api(org.finance).post(
        "/api/planning/budgets/", body(org, phasing=["1000.00"] * 12), format="json"
    )

    assert response.status_code == 201
    created = Budget.objects.get()
    assert response["Location"].endswith(f"/api/planning/budgets/{created.pk}/")
    data = response.json()
    assert (data["on_exceed"], data["extra_approver"], data["phased"]) == (
        "approval",
        "owner",
        True,
    )
    assert data["revisions"][0]["reason"] == "Planned with IT"


def test_it_takes_a_token(org):
    token = Token.objects.create(user=org.finance)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")

    assert client.post("/api/planning/budgets/", body(org), format="json").status_code == 201


@pytest.mark.parametrize("who", ["requester", "head", "procurement"])
def test_only_finance_and_admins_set_or_revise_budgets(org, who):
    set_ = budget(org, "10000")
    client = api(getattr(org, who))

    created = client.post("/api/planning/budgets/", body(org), format="json")
    assert created.status_code == 403
    assert created.json()["detail"] == "Only finance sets budgets."
    if who != "requester":  # the others see the budget
        revised = client.post(
            f"/api/planning/budgets/{set_.pk}/revisions/",
            {"amount": "1", "reason": "x"},
            format="json",
        )
        assert revised.status_code == 403
    assert Budget.objects.get().version == 1


@pytest.mark.parametrize(
    ("overrides", "errors"),
    [
        ({"amount": "-1.00"}, {"amount": ["A budget cannot be negative."]}),
        (
            {"phasing": ["900.00"] * 12},
            {"phasing": ["The months add up to 10,800.00, not the budget's 12,000.00."]},
        ),
        (
            {"phasing": ["1000.00"] * 3},
            {"phasing": ["Give twelve monthly amounts, one per month of the year."]},
        ),
        ({"cost_centre": "XX-1"}, {"cost_centre": ['Unknown or closed cost centre "XX-1".']}),
        ({"category": "toys"}, {"category": ['Unknown category "toys".']}),
        ({"on_exceed": "ignore"}, {"on_exceed": ['"ignore" is not a valid choice.']}),
        ({"owner": 999999}, {"owner": ["Unknown or inactive user 999999."]}),
    ],
)
def test_it_names_each_bad_field(org, overrides, errors):
    response = api(org.finance).post(
        "/api/planning/budgets/", body(org, **overrides), format="json"
    )

    assert response.status_code == 400
    assert response.json()["errors"] == errors
    assert not Budget.objects.exists()


def test_it_refuses_a_closed_year_an_objective_of_another_department_and_an_overlap(org):
    closed = FiscalYear.objects.create(
        name="FY2001", starts_on="2000-04-01", ends_on="2001-03-31", is_closed=True
    )
    theirs = objective(org, name="Rebrand", department=org.other_department)
    client = api(org.finance)

    in_closed = client.post(
        "/api/planning/budgets/", body(org, fiscal_year=closed.name), format="json"
    )
    assert in_closed.json()["errors"] == {
        "fiscal_year": ["FY2001 is closed; its budgets are final."]
    }

    other_scope = client.post(
        "/api/planning/budgets/", body(org, objective=theirs.pk), format="json"
    )
    assert other_scope.status_code == 400
    assert list(other_scope.json()["errors"]) == ["objective"]
    assert "is an objective of Marketing" in other_scope.json()["detail"]

    budget(org, "10000")
    overlap = client.post("/api/planning/budgets/", body(org), format="json")
    assert overlap.status_code == 400
    assert overlap.json()["errors"]["cost_centre"][0].startswith(
        f"There is already a budget for IT-100 in {this_year().name}"
    )


def test_finance_revises_a_budget_below_what_was_consumed_and_it_is_flagged(org):
    set_ = budget(org, "10000")
    approved_request(org)

    response = api(org.finance).post(
        f"/api/planning/budgets/{set_.pk}/revisions/",
        {"amount": "1000.00", "reason": "Freeze", "on_exceed": "stop", "owner": org.finance.pk},
        format="json",
    )

    assert response.status_code == 201
    data = response.json()
    assert (data["version"], data["amount"], data["on_exceed"], data["owner"]["username"]) == (
        2,
        "1000.00",
        "stop",
        "fiona",
    )
    assert data["below_consumed"] is True
    assert data["consumption"]["over"] is True
    assert data["revisions"][0]["below_consumed"] is True
    assert data["revisions"][0]["consumed_then"] == "2500.00"


def test_a_revision_needs_a_reason_and_a_closed_year_is_a_409(org):
    set_ = budget(org, "10000")
    client = api(org.finance)

    no_reason = client.post(
        f"/api/planning/budgets/{set_.pk}/revisions/", {"amount": "1.00"}, format="json"
    )
    assert no_reason.status_code == 400
    assert list(no_reason.json()["errors"]) == ["reason"]

    FiscalYear.objects.filter(pk=set_.fiscal_year_id).update(is_closed=True)
    closed = client.post(
        f"/api/planning/budgets/{set_.pk}/revisions/",
        {"amount": "1.00", "reason": "Late"},
        format="json",
    )
    assert closed.status_code == 409
    assert closed.json()["code"] == "conflict"
