"""The approvals API: my inbox, a request's route, and deciding a step, in the one error shape."""

from __future__ import annotations

import pytest
from django.test import Client
from rest_framework.authtoken.models import Token

from approvals.models import ApprovalStep
from approvals.services import approval_step_decide
from approvals.tests.helpers import FINANCE_ABOVE_5K, LINE_MANAGER, policy, submitted
from procurement.models import Role
from requests.models import PurchaseRequest
from tests.factories import PurchaseRequestFactory, UserFactory

pytestmark = pytest.mark.django_db


def step_named(request, name) -> ApprovalStep:
    return ApprovalStep.objects.get(request=request, name=name)


def decide(client: Client, step_id: int, **body):
    return client.post(
        f"/api/approvals/steps/{step_id}/decide/", body, content_type="application/json"
    )


def state_of(request) -> str:
    return PurchaseRequest.objects.get(pk=request.pk).state


# --- Inbox -------------------------------------------------------------------


def test_it_lists_my_pending_steps_oldest_first_in_pages(org, settings):
    settings.APPROVAL_BULK_MAX_TOTAL = 3000
    policy(LINE_MANAGER)
    first = submitted(org)
    second = submitted(org, total_lines=2)
    third = submitted(org)
    client = org.client_for(org.manager)

    body = client.get("/api/approvals/inbox/", {"page_size": 2}).json()

    assert body["count"] == 3
    assert body["next"] is not None
    assert [row["request"]["reference"] for row in body["results"]] == [
        first.reference,
        second.reference,
    ]
    row = body["results"][0]
    assert row["step_id"] == step_named(first, "Line manager").pk
    assert row["step_name"] == "Line manager"
    assert row["stage"] == 1
    assert row["low_risk"] is True
    assert body["results"][1]["low_risk"] is False
    assert row["age"]
    assert row["pending_since"]
    assert row["request"]["total"] == "2500.00"
    assert row["request"]["requester"]["username"] == "alice"
    assert row["request"]["web_url"].endswith(f"/requests/{first.pk}/")
    rest = client.get(body["next"]).json()
    assert [row["request"]["reference"] for row in rest["results"]] == [third.reference]


def test_it_shows_an_empty_inbox_to_someone_with_nothing_to_decide(org):
    policy(LINE_MANAGER)
    submitted(org)

    body = org.client_for(org.finance).get("/api/approvals/inbox/").json()

    assert body["count"] == 0
    assert body["results"] == []


def test_it_refuses_anonymous_callers(client):
    response = client.get("/api/approvals/inbox/")

    assert response.status_code == 403
    assert response.json()["code"] == "not_authenticated"


def test_it_answers_to_a_token_too(org):
    policy(LINE_MANAGER)
    submitted(org)
    token = Token.objects.create(user=org.manager)

    response = Client().get("/api/approvals/inbox/", HTTP_AUTHORIZATION=f"Token {token.key}")

    assert response.status_code == 200
    assert response.json()["count"] == 1


# --- Route -------------------------------------------------------------------


def test_it_returns_the_whole_route_with_decisions(org):
    UserFactory.create(username="frank", first_name="Frank", roles=[Role.FINANCE])
    policy(LINE_MANAGER, FINANCE_ABOVE_5K)
    request = submitted(org, total_lines=3)
    approval_step_decide(
        step_id=step_named(request, "Line manager").pk,
        by=org.manager,
        action="approve",
        comment="OK",
    )

    response = org.client_for(org.requester).get(f"/api/approvals/requests/{request.pk}/route/")

    assert response.status_code == 200
    body = response.json()
    assert body["request_id"] == request.pk
    assert body["reference"] == request.reference
    assert body["round"] == 1
    line, finance = body["steps"]
    assert line["name"] == "Line manager"
    assert line["state"] == "approved"
    assert line["mode_label"] == "one approver"
    assert line["decided_by"]["username"] == "mark"
    assert line["approvers"] == [
        {
            "approver": {"id": org.manager.pk, "username": "mark", "name": "Mark Manager"},
            "on_behalf_of": None,
            "decision": "approved",
            "decision_label": "Approved",
            "decided_at": line["approvers"][0]["decided_at"],
            "comment": "OK",
        }
    ]
    assert line["approvers"][0]["decided_at"]
    assert finance["stage"] == 2
    assert finance["state"] == "pending"
    assert finance["mode"] == "any"
    assert finance["mode_label"] == "any 1 of 2"
    assert [a["approver"]["username"] for a in finance["approvers"]] == ["fiona", "frank"]


def test_it_returns_an_empty_route_before_submission(org):
    draft = PurchaseRequestFactory.create(
        requester=org.requester, department=org.department, cost_centre=org.cost_centre
    )

    body = org.client_for(org.requester).get(f"/api/approvals/requests/{draft.pk}/route/").json()

    assert body["round"] is None
    assert body["steps"] == []


def test_it_hides_the_route_of_a_request_the_caller_cannot_see(org):
    policy(LINE_MANAGER)
    request = submitted(org)

    for url in (
        f"/api/approvals/requests/{request.pk}/route/",
        "/api/approvals/requests/999999/route/",
    ):
        response = org.client_for(org.outsider).get(url)
        assert response.status_code == 404
        assert response.json() == {
            "code": "not_found",
            "detail": "No such purchase request.",
            "errors": {},
        }


def test_it_shows_the_route_to_an_approver_who_sees_no_other_requests(org):
    policy({"name": "Legal", "approver_kind": "role", "approver_role": Role.LEGAL})
    request = submitted(org)

    response = org.client_for(org.legal).get(f"/api/approvals/requests/{request.pk}/route/")

    assert response.status_code == 200
    assert response.json()["steps"][0]["name"] == "Legal"


# --- Decide ------------------------------------------------------------------


def test_it_approves_a_step_and_returns_it(org):
    policy(LINE_MANAGER)
    request = submitted(org)
    step = step_named(request, "Line manager")

    response = decide(org.client_for(org.manager), step.pk, decision="approve", comment="Go")

    assert response.status_code == 200
    body = response.json()
    assert body["id"] == step.pk
    assert body["state"] == "approved"
    assert body["decided_by"]["username"] == "mark"
    assert body["approvers"][0]["comment"] == "Go"
    assert state_of(request) == "approved"


def test_it_rejects_and_returns_with_a_reason(org):
    policy(LINE_MANAGER)
    rejected, returned = submitted(org), submitted(org)
    client = org.client_for(org.manager)

    response = decide(
        client, step_named(rejected, "Line manager").pk, decision="reject", comment="No budget"
    )
    assert response.status_code == 200
    assert response.json()["state"] == "rejected"
    response = decide(
        client, step_named(returned, "Line manager").pk, decision="return", comment="Add a quote"
    )
    assert response.json()["state"] == "changes_requested"
    assert (state_of(rejected), state_of(returned)) == ("rejected", "returned")


def test_it_says_who_already_decided_the_step_with_a_409(org):
    frank = UserFactory.create(
        username="frank", first_name="Frank", last_name="Fisk", roles=[Role.FINANCE]
    )
    policy({**FINANCE_ABOVE_5K, "min_total": None, "stage": 1})
    request = submitted(org)
    step = step_named(request, "Finance")
    approval_step_decide(step_id=step.pk, by=org.finance, action="approve")

    response = decide(org.client_for(frank), step.pk, decision="approve")

    assert response.status_code == 409
    assert response.json() == {
        "code": "conflict",
        "detail": '"Finance" was already decided by Fiona Finance (approved).',
        "errors": {},
    }


def test_it_refuses_someone_who_can_see_the_request_but_is_not_its_approver(org):
    policy(LINE_MANAGER)
    request = submitted(org)
    step = step_named(request, "Line manager")

    # The department head sees the request; finance sees every request.
    for user in (org.head, org.finance):
        response = decide(org.client_for(user), step.pk, decision="approve")
        assert response.status_code == 403
        assert response.json()["code"] == "permission_denied"
        assert response.json()["detail"] == 'You are not an approver of "Line manager".'
    response = decide(org.client_for(org.requester), step.pk, decision="approve")
    assert response.status_code == 403
    assert response.json()["detail"] == "Nobody can approve their own request."
    assert step_named(request, "Line manager").state == "pending"


def test_it_wants_a_reason_to_reject_or_return(org):
    policy(LINE_MANAGER)
    request = submitted(org)
    step = step_named(request, "Line manager")
    client = org.client_for(org.manager)

    for decision in ("reject", "return"):
        response = decide(client, step.pk, decision=decision, comment="  ")
        assert response.status_code == 400
        assert response.json() == {
            "code": "invalid",
            "detail": "Say why, so the requester knows what to do.",
            "errors": {"comment": ["A reason is required."]},
        }
    assert step_named(request, "Line manager").state == "pending"


def test_it_refuses_an_unknown_decision(org):
    policy(LINE_MANAGER)
    request = submitted(org)

    response = decide(
        org.client_for(org.manager), step_named(request, "Line manager").pk, decision="maybe"
    )

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert list(response.json()["errors"]) == ["decision"]


def test_it_answers_404_for_an_unknown_step_or_one_the_caller_cannot_see(org):
    policy(LINE_MANAGER)
    request = submitted(org)
    step = step_named(request, "Line manager")

    unknown = decide(org.client_for(org.manager), 999_999, decision="approve")
    hidden = decide(org.client_for(org.outsider), step.pk, decision="reject")  # no reason, too

    for response in (unknown, hidden):
        assert response.status_code == 404
        assert response.json() == {
            "code": "not_found",
            "detail": "No such approval step.",
            "errors": {},
        }
    assert step_named(request, "Line manager").state == "pending"


def test_it_refuses_a_step_whose_stage_has_not_opened_yet(org):
    policy(LINE_MANAGER, FINANCE_ABOVE_5K)
    request = submitted(org, total_lines=3)

    response = decide(
        org.client_for(org.finance), step_named(request, "Finance").pk, decision="approve"
    )

    assert response.status_code == 409
    assert "waiting" in response.json()["detail"]


def test_it_refuses_a_get_on_the_decide_url(org):
    policy(LINE_MANAGER)
    request = submitted(org)
    step = step_named(request, "Line manager")

    response = org.client_for(org.manager).get(f"/api/approvals/steps/{step.pk}/decide/")

    assert response.status_code == 405
    assert step_named(request, "Line manager").state == "pending"


@pytest.mark.parametrize("count", [5, 30])
def test_it_lists_the_inbox_with_the_same_number_of_queries_for_any_length(
    org, count, django_assert_max_num_queries
):
    policy(LINE_MANAGER)
    for _ in range(count):
        submitted(org)
    client = org.client_for(org.manager)

    # session, user, count, one page of rows with their requests, people and codes.
    with django_assert_max_num_queries(4):
        response = client.get("/api/approvals/inbox/")

    assert len(response.json()["results"]) == min(count, 25)
