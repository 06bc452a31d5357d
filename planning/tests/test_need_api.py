"""The needs board's API: shapes, JSON error bodies naming the field, and who may do what."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from planning.models import Consolidation, Need, NeedStatus, NeedSupport
from planning.needs import RequestTarget, need_reference, needs_consolidate_into_request
from planning.tests.helpers import objective
from planning.tests.test_need_helpers import in_days, post_need, support
from procurement.models import Category
from requests.models import PurchaseRequest
from sourcing.models import RfqState
from sourcing.tests.helpers import make_rfq

pytestmark = pytest.mark.django_db


def call(client, method: str, name: str, *args: Any, body: Any = None, query: Any = None):
    url = reverse(name, args=args)
    if method == "get":
        return client.get(url, query or {})
    return getattr(client, method)(url, body or {}, content_type="application/json")


def need_body(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "title": "Video calls drop",
        "problem": "Remote colleagues cannot hear the room.",
        "people_affected": 12,
        "needed_by": in_days(20).isoformat(),
        "rough_budget": "2500.00",
    }
    body.update(changes)
    return body


def test_it_posts_a_need_for_your_department_and_answers_with_its_shape(org):
    response = call(org.client_for(org.requester), "post", "planning-needs", body=need_body())

    assert response.status_code == 201
    need = Need.objects.get()
    body = response.json()
    assert response["Location"].endswith(reverse("planning-need", args=[need.pk]))
    assert (body["reference"], body["department"], body["status"]) == (
        need_reference(need),
        "it",
        "open",
    )
    assert (body["total_people"], body["total_budget"]) == (12, "2500.00")
    assert body["supports"] == []
    assert body["comments"] == []
    assert body["available_actions"] == ["withdraw", "comment"]


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"rough_budget": "-10.00"}, "rough_budget", "A rough budget cannot be negative"),
        ({"needed_by": in_days(-1).isoformat()}, "needed_by", "cannot be in the past"),
        ({"people_affected": 0}, "people_affected", "At least one person"),
        ({"department": "nowhere"}, "department", 'Unknown department "nowhere".'),
    ],
)
def test_it_refuses_bad_input_with_a_json_body_naming_the_field(org, changes, field, message):
    response = call(
        org.client_for(org.requester), "post", "planning-needs", body=need_body(**changes)
    )

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert message in body["errors"][field][0]
    assert not Need.objects.exists()


def test_it_refuses_an_objective_of_another_department_naming_the_field(org):
    goal = objective(org, name="Spring campaign", department=org.other_department)

    response = call(
        org.client_for(org.requester), "post", "planning-needs", body=need_body(objective=goal.pk)
    )

    assert response.status_code == 400
    assert response.json()["errors"] == {
        "objective": [
            '"Spring campaign" is an objective of Marketing, not of IT. Choose one of IT\'s or '
            "a company-wide objective."
        ]
    }


def test_a_requester_cannot_post_for_another_department(org):
    response = call(
        org.client_for(org.requester),
        "post",
        "planning-needs",
        body=need_body(department="marketing"),
    )

    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"


def test_it_lists_the_board_with_filters_and_refuses_an_unknown_status(org):
    first = post_need(org, title="IT one", category="hardware")
    post_need(org, by=org.outsider, title="Marketing one")
    support(org, first)
    client = org.client_for(org.legal)

    everything = call(client, "get", "planning-needs").json()
    marketing = call(client, "get", "planning-needs", query={"department": "marketing"}).json()
    hardware = call(client, "get", "planning-needs", query={"category": "hardware"}).json()
    bad = call(client, "get", "planning-needs", query={"status": "lost"})

    assert everything["count"] == 2
    assert [row["title"] for row in marketing["results"]] == ["IT one", "Marketing one"]
    assert [row["departments"] for row in hardware["results"]] == [["it", "marketing"]]
    assert bad.status_code == 400
    assert "status" in bad.json()["errors"]


def test_we_need_this_too_once_per_department(org):
    need = post_need(org)
    client = org.client_for(org.outsider)
    body = {"people_affected": 5, "rough_budget": "500.00", "note": "Us too"}

    first = call(client, "post", "planning-need-supports", need.pk, body=body)
    second = call(client, "post", "planning-need-supports", need.pk, body=body)
    own = call(org.client_for(org.manager), "post", "planning-need-supports", need.pk, body=body)

    assert first.status_code == 201
    assert first.json()["total_people"] == 15
    assert first.json()["supports"][0]["department"] == "marketing"
    assert second.status_code == 409
    assert second.json()["errors"]["department"][0].startswith(
        "Marketing already said it needs this too"
    )
    assert own.status_code == 409
    assert NeedSupport.objects.count() == 1


def test_comments_and_alternatives_are_bounded(org):
    need = post_need(org)
    client = org.client_for(org.finance)

    made = call(
        client,
        "post",
        "planning-need-comments",
        need.pk,
        body={"kind": "alternative", "body": "Reuse the old kit."},
    )
    too_long = call(client, "post", "planning-need-comments", need.pk, body={"body": "x" * 5001})
    bad_kind = call(
        client, "post", "planning-need-comments", need.pk, body={"kind": "rant", "body": "No"}
    )

    assert made.status_code == 201
    assert (made.json()["kind"], made.json()["author"]) == ("alternative", "fiona")
    assert too_long.status_code == 400
    assert "body" in too_long.json()["errors"]
    assert bad_kind.status_code == 400
    assert "kind" in bad_kind.json()["errors"]


def test_an_unknown_need_is_a_404_with_the_json_body(org):
    response = call(org.client_for(org.requester), "get", "planning-need", 999)

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_only_its_poster_or_procurement_withdraws_it(org):
    need = post_need(org)

    other = call(org.client_for(org.outsider), "post", "planning-need-withdraw", need.pk)
    poster = call(org.client_for(org.requester), "post", "planning-need-withdraw", need.pk)
    again = call(org.client_for(org.requester), "post", "planning-need-withdraw", need.pk)

    assert other.status_code == 403
    assert poster.status_code == 200
    assert poster.json()["status"] == NeedStatus.WITHDRAWN
    assert again.status_code == 409


def consolidate_body(org, *needs: Need, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "needs": [need.pk for need in needs],
        "kind": "request",
        "title": "Meeting room kits",
        "department": "it",
        "cost_centre": org.cost_centre.code,
        "category": "hardware",
    }
    body.update(changes)
    return body


def test_procurement_consolidates_into_a_request_and_reads_it_back(org):
    first = post_need(org, title="Rooms", budget="1000.00")
    support(org, first, people=5, budget="500.00")
    second = post_need(org, by=org.outsider, title="Events", budget="2000.00", people=4)
    client = org.client_for(org.procurement)

    response = call(
        client,
        "post",
        "planning-need-consolidations",
        body=consolidate_body(org, first, second),
    )

    assert response.status_code == 201
    body = response.json()
    consolidation = Consolidation.objects.get()
    assert response["Location"].endswith(
        reverse("planning-need-consolidation", args=[consolidation.pk])
    )
    assert body["kind"] == "request"
    assert body["target"]["reference"] == consolidation.purchase_request.reference
    assert body["target"]["url"].endswith(
        reverse("api:request-detail", args=[consolidation.purchase_request_id])
    )
    assert body["totals"] == {
        "needs": 2,
        "departments": ["it", "marketing"],
        "people": 19,
        "budget": "3500.00",
    }
    assert [row["status"] for row in body["needs"]] == ["consolidated", "consolidated"]
    seen_by_otto = call(
        org.client_for(org.outsider), "get", "planning-need-consolidation", consolidation.pk
    ).json()
    assert seen_by_otto["target"]["url"] is None


def test_consolidating_needs_already_consolidated_is_a_409_and_writes_nothing(org):
    first = post_need(org, title="Rooms")
    second = post_need(org, title="Screens")
    needs_consolidate_into_request(
        need_ids=[first.pk],
        by=org.procurement,
        target=RequestTarget(
            title="Earlier",
            department=org.department,
            cost_centre=org.cost_centre,
            category=Category.objects.get(code="hardware"),
        ),
    )

    response = call(
        org.client_for(org.procurement),
        "post",
        "planning-need-consolidations",
        body=consolidate_body(org, first, second),
    )

    assert response.status_code == 409
    assert response.json()["code"] == "conflict"
    assert "is consolidated" in response.json()["errors"]["needs"][0]
    assert PurchaseRequest.objects.count() == 1
    assert Consolidation.objects.count() == 1
    second.refresh_from_db()
    assert second.status == NeedStatus.OPEN


def test_consolidating_into_a_closed_rfq_is_a_409(org):
    need = post_need(org)
    rfq = make_rfq(org, state=RfqState.CLOSED)

    response = call(
        org.client_for(org.procurement),
        "post",
        "planning-need-consolidations",
        body={"needs": [need.pk], "kind": "rfq", "rfq": rfq.pk},
    )

    assert response.status_code == 409
    assert response.json()["errors"]["rfq"] == [
        f"{rfq.reference} is closed for evaluation; needs can join only a draft or open RFQ."
    ]
    assert not Consolidation.objects.exists()


def test_consolidation_input_names_what_is_missing(org):
    need = post_need(org)
    client = org.client_for(org.procurement)

    no_rfq = call(
        client, "post", "planning-need-consolidations", body={"needs": [need.pk], "kind": "rfq"}
    )
    no_needs = call(client, "post", "planning-need-consolidations", body=consolidate_body(org))
    wrong_centre = call(
        client,
        "post",
        "planning-need-consolidations",
        body=consolidate_body(org, need, department="marketing"),
    )

    assert no_rfq.status_code == 400
    assert no_rfq.json()["errors"] == {"rfq": ["Needed to consolidate into an RFQ."]}
    assert no_needs.status_code == 400
    assert no_needs.json()["errors"]["needs"] == ["Choose at least one need to consolidate."]
    assert wrong_centre.status_code == 400
    assert "cost_centre" in wrong_centre.json()["errors"]
    assert not Consolidation.objects.exists()


def test_nobody_but_procurement_consolidates_through_the_api(org):
    need = post_need(org)

    for user in (org.requester, org.finance, org.head):
        response = call(
            org.client_for(user),
            "post",
            "planning-need-consolidations",
            body=consolidate_body(org, need),
        )
        assert response.status_code == 403
    assert not Consolidation.objects.exists()


def test_the_api_needs_a_signed_in_user(org, client):
    response = client.get(reverse("planning-needs"))

    assert response.status_code == 403
