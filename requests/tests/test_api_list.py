"""GET /api/requests/: what each caller sees, the filters, pagination and its query budget."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from procurement.models import Category, Role
from requests.models import PurchaseRequest
from requests.services import purchase_request_transition
from requests.tests.helpers import draft_for, request_in_state
from tests.factories import CostCentreFactory, UserFactory


def ids(response) -> set[int]:
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


@pytest.fixture
def spread(org):
    """Alice's own, a colleague's under the same manager, a stranger's in another department."""
    colleague = UserFactory(
        username="carl", department=org.department, manager=org.manager, roles=[Role.REQUESTER]
    )
    return {
        "own": draft_for(org),
        "colleague": draft_for(org, requester=colleague),
        "outsider": draft_for(
            org,
            requester=org.outsider,
            department=org.other_department,
            cost_centre=CostCentreFactory(department=org.other_department),
        ),
    }


def test_it_lists_a_row_with_every_documented_field(org):
    own = draft_for(org, title="Docking stations")

    response = org.client_for(org.requester).get("/api/requests/")

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 1
    assert body["next"] is None
    assert body["previous"] is None
    row = body["results"][0]
    assert row == {
        "id": own.pk,
        "reference": f"PR-{own.pk:06d}",
        "title": "Docking stations",
        "state": "draft",
        "state_label": "Draft",
        "requester": {"id": org.requester.pk, "username": "alice", "name": "Alice Asker"},
        "department": {"code": "it", "name": "IT"},
        "cost_centre": {"code": "IT-100", "name": "IT operations"},
        "category": {"code": "hardware", "name": "Hardware"},
        "needed_by": own.needed_by.isoformat(),
        "currency": "GBP",
        "processes_personal_data": False,
        "vendor": None,
        "objective": None,
        "no_objective_reason": "Keeps the team working",
        "version": 1,
        "total": "2500.00",
        "created_at": row["created_at"],
        "submitted_at": None,
        "url": f"http://testserver/api/requests/{own.pk}/",
        "web_url": f"http://testserver/requests/{own.pk}/",
    }
    assert dt.datetime.fromisoformat(row["created_at"]) == own.created_at


def test_it_shows_a_requester_only_their_own_requests(org, spread):
    assert ids(org.client_for(org.requester).get("/api/requests/")) == {spread["own"].pk}
    assert ids(org.client_for(org.outsider).get("/api/requests/")) == {spread["outsider"].pk}


def test_it_shows_a_manager_their_reports_requests(org, spread):
    assert ids(org.client_for(org.manager).get("/api/requests/")) == {
        spread["own"].pk,
        spread["colleague"].pk,
    }


def test_it_shows_the_department_head_the_whole_department(org, spread):
    assert ids(org.client_for(org.head).get("/api/requests/")) == {
        spread["own"].pk,
        spread["colleague"].pk,
    }


@pytest.mark.parametrize("role", ["finance", "procurement", "admin"])
def test_it_shows_finance_procurement_and_admins_every_request(org, spread, role):
    assert ids(org.client_for(getattr(org, role)).get("/api/requests/")) == {
        request.pk for request in spread.values()
    }


def test_it_shows_a_security_reviewer_nothing_they_were_not_brought_into(org, spread):
    assert ids(org.client_for(org.security).get("/api/requests/")) == set()


def test_it_narrows_to_the_callers_own_requests_with_scope_mine(org, spread):
    mine = draft_for(org, requester=org.manager)

    client = org.client_for(org.manager)

    assert ids(client.get("/api/requests/", {"scope": "mine"})) == {mine.pk}
    assert ids(client.get("/api/requests/", {"scope": "all"})) == {
        mine.pk,
        spread["own"].pk,
        spread["colleague"].pk,
    }


def test_it_filters_by_state(org):
    draft = draft_for(org)
    submitted = request_in_state(org, "submitted")
    client = org.client_for(org.requester)

    assert ids(client.get("/api/requests/", {"state": "submitted"})) == {submitted.pk}
    assert ids(client.get("/api/requests/", {"state": "draft"})) == {draft.pk}
    assert ids(client.get("/api/requests/", {"state": "closed"})) == set()


def test_it_filters_by_category_and_department_code(org, spread):
    software = draft_for(org, category=Category.objects.get(code="software"))
    client = org.client_for(org.finance)

    assert ids(client.get("/api/requests/", {"category": "software"})) == {software.pk}
    assert ids(client.get("/api/requests/", {"department": "marketing"})) == {spread["outsider"].pk}
    assert ids(client.get("/api/requests/", {"department": "it", "category": "hardware"})) == {
        spread["own"].pk,
        spread["colleague"].pk,
    }


def test_it_searches_title_words_and_references(org):
    monitors = draft_for(org, title="Monitors for the design team")
    laptops = draft_for(org, title="Laptops")
    client = org.client_for(org.requester)

    assert ids(client.get("/api/requests/", {"q": "design"})) == {monitors.pk}
    assert ids(client.get("/api/requests/", {"q": laptops.reference})) == {laptops.pk}
    assert ids(client.get("/api/requests/", {"q": laptops.reference.lower()})) == {laptops.pk}


def test_it_searches_for_a_superscript_digit_as_text(org):
    squared = draft_for(org, title="Monitor 27² bundle")
    client = org.client_for(org.requester)

    assert ids(client.get("/api/requests/", {"q": "PR-²"})) == set()
    assert ids(client.get("/api/requests/", {"q": "²"})) == {squared.pk}


def test_it_does_not_find_an_invisible_request_by_its_reference(org, spread):
    response = org.client_for(org.requester).get(
        "/api/requests/", {"q": spread["outsider"].reference}
    )

    assert ids(response) == set()


def test_it_filters_by_creation_dates_inclusively(org):
    today = timezone.localdate()
    old = draft_for(org)
    recent = draft_for(org)
    # created_at is set on insert; move one back in time to have two dates to tell apart.
    PurchaseRequest.objects.filter(pk=old.pk).update(
        created_at=timezone.now() - dt.timedelta(days=10)
    )
    client = org.client_for(org.requester)
    ten_days_ago = (today - dt.timedelta(days=10)).isoformat()

    assert ids(client.get("/api/requests/", {"created_from": today.isoformat()})) == {recent.pk}
    assert ids(client.get("/api/requests/", {"created_to": ten_days_ago})) == {old.pk}
    assert ids(
        client.get(
            "/api/requests/", {"created_from": ten_days_ago, "created_to": today.isoformat()}
        )
    ) == {old.pk, recent.pk}


def test_it_treats_an_empty_filter_as_no_filter(org):
    own = draft_for(org)

    response = org.client_for(org.requester).get(
        "/api/requests/?state=&category=&department=&q=&created_from=&scope="
    )

    assert ids(response) == {own.pk}


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({"state": "lost"}, "state", 'Unknown state "lost". Use one of: draft, submitted,'),
        ({"created_from": "31/12/2025"}, "created_from", "Date has wrong format."),
        ({"created_to": "2025-02-30"}, "created_to", "Date has wrong format."),
        ({"category": "furniture"}, "category", 'Unknown category "furniture".'),
        ({"department": "nowhere"}, "department", 'Unknown department "nowhere".'),
        ({"scope": "everyone"}, "scope", '"everyone" is not a valid choice.'),
        (
            {"created_from": "2025-03-02", "created_to": "2025-03-01"},
            "created_to",
            "created_to is before created_from.",
        ),
    ],
)
def test_it_refuses_a_bad_filter_value_with_a_clear_400(org, params, field, message):
    draft_for(org)

    response = org.client_for(org.requester).get("/api/requests/", params)

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert list(body["errors"]) == [field]
    assert body["errors"][field][0].startswith(message)
    assert body["detail"] == f"{field}: {body['errors'][field][0]}"


def test_it_pages_through_the_results_newest_first(org):
    drafts = [draft_for(org) for _ in range(5)]
    newest_first = [draft.pk for draft in reversed(drafts)]
    client = org.client_for(org.requester)

    first = client.get("/api/requests/", {"page_size": 2}).json()
    last = client.get("/api/requests/", {"page_size": 2, "page": 3}).json()

    assert first["count"] == 5
    assert [row["id"] for row in first["results"]] == newest_first[:2]
    assert first["previous"] is None
    assert "page=2" in first["next"]
    assert [row["id"] for row in last["results"]] == newest_first[4:]
    assert last["next"] is None


def test_it_caps_the_page_size_at_one_hundred(org):
    for _ in range(3):
        draft_for(org)

    body = org.client_for(org.requester).get("/api/requests/", {"page_size": 1000}).json()

    assert len(body["results"]) == 3


def test_it_answers_a_page_past_the_end_with_a_json_404(org):
    draft_for(org)

    response = org.client_for(org.requester).get("/api/requests/", {"page": 9})

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


@pytest.mark.parametrize("how_many", [5, 50])
def test_it_lists_in_a_fixed_number_of_queries_however_many_rows(
    org, django_assert_max_num_queries, how_many
):
    for _ in range(how_many):
        draft_for(org)
    submitted = request_in_state(org, "submitted")
    purchase_request_transition(request_id=submitted.pk, by=org.manager, action="approve")
    client = org.client_for(org.requester)

    # Session, user, roles, which visibility arms apply to the user, count, rows: the same six
    # queries for 6 rows as for 51.
    with django_assert_max_num_queries(6):
        response = client.get("/api/requests/", {"page_size": 100})

    assert len(response.json()["results"]) == how_many + 1
