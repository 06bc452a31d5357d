"""The objectives API under /api/planning/objectives/: everybody signed in reads them, with
the figures for those who may see them; finance and admins set them. Errors are JSON bodies
{"code", "detail", "errors"} naming the bad field."""

from __future__ import annotations

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from planning.tests.helpers import budget, objective, this_year
from procurement.models import AuditEntry, FiscalYear, Objective
from sourcing.tests.helpers import approved_request

pytestmark = pytest.mark.django_db


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def body(org, **overrides):
    data = {
        "name": "Cut printing costs",
        "description": "Half the pages.",
        "fiscal_year": this_year().name,
        "department": "it",
        "owner": org.head.pk,
    }
    data.update(overrides)
    return data


def test_it_lists_objectives_with_figures_for_finance_and_none_for_a_requester(org):
    goal = objective(org)
    approved_request(org, objective=goal, no_objective_reason="")

    finance = api(org.finance).get("/api/planning/objectives/").json()
    [row] = finance["results"]
    assert (row["name"], row["status"], row["is_open"], row["department"]) == (
        "Move finance workloads to the cloud",
        "active",
        True,
        None,
    )
    assert row["fiscal_year"]["name"] == this_year().name
    assert row["owner"]["username"] == "hana"
    assert row["figures"] == {
        "requests": 1,
        "committed_requests": "2500.00",
        "committed_orders": "0.00",
        "committed": "2500.00",
        "actual": "0.00",
        "total": "2500.00",
    }
    assert row["web_url"].endswith(f"/planning/objectives/{goal.pk}/")

    [mine] = api(org.requester).get("/api/planning/objectives/").json()["results"]
    assert mine["name"] == goal.name
    assert mine["figures"] is None


def test_it_filters_by_year_department_and_status(org):
    objective(org, name="Cloud")
    objective(org, name="Laptops", department=org.department)
    objective(org, name="Dropped one", status="dropped")
    client = api(org.requester)

    def names(query: str) -> list[str]:
        return [
            row["name"]
            for row in client.get(f"/api/planning/objectives/?{query}").json()["results"]
        ]

    assert names("department=it") == ["Laptops"]
    assert names("department=company&status=active") == ["Cloud"]
    assert names("status=dropped") == ["Dropped one"]
    assert names(f"fiscal_year={this_year().name}") == ["Cloud", "Dropped one", "Laptops"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("status=forgotten", "status"),
        ("department=nowhere", "department"),
        ("fiscal_year=FY1", "fiscal_year"),
    ],
)
def test_it_names_a_bad_filter(org, query, field):
    response = api(org.requester).get(f"/api/planning/objectives/?{query}")

    assert response.status_code == 400
    assert list(response.json()["errors"]) == [field]


def test_it_shows_an_objective_with_the_requests_the_caller_may_see(org):
    goal = objective(org, department=org.department)
    request = approved_request(org, objective=goal, no_objective_reason="")
    narrowed = budget(org, "9000", objective=goal)

    mine = api(org.requester).get(f"/api/planning/objectives/{goal.pk}/").json()
    assert [row["reference"] for row in mine["requests"]] == [request.reference]
    assert mine["budgets"] == []  # budgets are not a requester's

    finance = api(org.finance).get(f"/api/planning/objectives/{goal.pk}/").json()
    assert finance["budgets"] == [narrowed.pk]
    assert finance["requests"][0]["total"] == "2500.00"

    other = api(org.outsider).get(f"/api/planning/objectives/{goal.pk}/").json()
    assert other["requests"] == []


def test_an_unknown_objective_is_a_json_404(org):
    response = api(org.finance).get("/api/planning/objectives/999999/")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_finance_sets_an_objective(org):
    response = api(org.finance).post("/api/planning/objectives/", body(org), format="json")

    assert response.status_code == 201
    created = Objective.objects.get(name="Cut printing costs")
    assert response["Location"].endswith(f"/api/planning/objectives/{created.pk}/")
    assert response.json()["department"]["code"] == "it"
    assert AuditEntry.objects.filter(object_id=created.pk, action="objective_created").exists()


def test_it_takes_a_token(org):
    token = Token.objects.create(user=org.admin)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")

    response = client.post("/api/planning/objectives/", body(org, department=None), format="json")

    assert response.status_code == 201
    assert response.json()["department"] is None


def test_it_refuses_anonymous_callers(client):
    assert client.get("/api/planning/objectives/").status_code == 403


@pytest.mark.parametrize("who", ["requester", "head", "procurement"])
def test_only_finance_and_admins_set_objectives(org, who):
    response = api(getattr(org, who)).post("/api/planning/objectives/", {}, format="json")

    assert response.status_code == 403
    assert response.json()["detail"] == "Only finance sets objectives."


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"name": ""}, "name", "This field may not be blank."),
        ({"fiscal_year": "FY1999"}, "fiscal_year", 'Unknown fiscal year "FY1999".'),
        ({"department": "nowhere"}, "department", 'Unknown department "nowhere".'),
        ({"owner": 999999}, "owner", "Unknown or inactive user 999999."),
        (
            {"status": "achieved"},
            "status",
            "A new objective is planned or active; achieved and dropped come later.",
        ),
        ({"status": "won"}, "status", '"won" is not a valid choice.'),
    ],
)
def test_it_names_each_bad_field(org, overrides, field, message):
    response = api(org.finance).post(
        "/api/planning/objectives/", body(org, **overrides), format="json"
    )

    assert response.status_code == 400
    assert response.json()["errors"] == {field: [message]}
    assert not Objective.objects.exists()


def test_it_refuses_a_duplicate_name_and_a_closed_year(org):
    objective(org, name="Cut printing costs")
    FiscalYear.objects.create(
        name="FY2001", starts_on="2000-04-01", ends_on="2001-03-31", is_closed=True
    )
    client = api(org.finance)

    duplicate = client.post("/api/planning/objectives/", body(org), format="json")
    assert duplicate.status_code == 400
    assert list(duplicate.json()["errors"]) == ["name"]

    closed = client.post(
        "/api/planning/objectives/", body(org, fiscal_year="FY2001"), format="json"
    )
    assert closed.status_code == 400
    assert closed.json()["errors"] == {
        "fiscal_year": ["FY2001 is closed; choose an open fiscal year."]
    }
