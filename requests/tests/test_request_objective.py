"""A request names the business objective it serves, or says why it serves none: a
submission with neither, with both, with another department's objective, with a dropped one,
or needed in a closed fiscal year is refused with the fields named, through the service, the
page and the API alike. The API shows the objective and the reason."""

from __future__ import annotations

import datetime as dt
import html
import re
from typing import Any

import pytest
from django.utils import timezone

from planning.tests.helpers import objective, this_year
from procurement.errors import InvalidInput
from procurement.models import Objective, ObjectiveStatus
from requests.models import PurchaseRequest, RequestState
from requests.services import purchase_request_create, purchase_request_transition
from requests.tests.helpers import draft_for, request_input
from requests.tests.page_helpers import field_error, request_form_data

pytestmark = pytest.mark.django_db

NEITHER = "Say which business objective this serves, or why it serves none."


def submit(org, request: PurchaseRequest) -> PurchaseRequest:
    return purchase_request_transition(request_id=request.pk, by=org.requester, action="submit")


def api_payload(org: Any, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "title": "Two laptops",
        "justification": "New starters.",
        "department": org.department.code,
        "cost_centre": org.cost_centre.code,
        "category": "hardware",
        "needed_by": (timezone.localdate() + dt.timedelta(days=14)).isoformat(),
        "currency": "GBP",
        "line_items": [{"description": "Laptop", "quantity": "2", "unit_price": "1249.99"}],
    }
    body.update(overrides)
    return body


def api_submit(org, body: dict[str, Any]):
    client = org.client_for(org.requester)
    created = client.post("/api/requests/", body, content_type="application/json")
    if created.status_code != 201:
        return created
    return client.post(
        f"/api/requests/{created.json()['id']}/submit/", {}, content_type="application/json"
    )


def offered_objectives(org) -> set[str]:
    form = org.client_for(org.requester).get("/requests/new/").content.decode()
    select = re.search(r'<select name="objective".*?</select>', form, re.S)
    assert select
    return set(re.findall(r'<option value="(\d+)"', select.group(0)))


def rebrand(org) -> Objective:
    return objective(org, name="Rebrand", department=org.other_department)


# --- Through the service -----------------------------------------------------------------------


def test_the_service_refuses_a_submission_with_neither_naming_both_fields(org):
    draft = draft_for(org, no_objective_reason="")

    with pytest.raises(InvalidInput) as error:
        submit(org, draft)

    assert error.value.message == NEITHER
    assert error.value.fields == {
        "objective": [NEITHER],
        "no_objective_reason": ["Give a reason when it serves no objective."],
    }
    draft.refresh_from_db()
    assert draft.state == RequestState.DRAFT


def test_the_service_refuses_both_an_objective_and_a_reason(org):
    goal = objective(org)

    with pytest.raises(InvalidInput) as error:
        purchase_request_create(
            requester=org.requester,
            data=request_input(org, objective=goal, no_objective_reason="Because"),
        )

    assert list(error.value.fields) == ["no_objective_reason"]
    assert error.value.message.startswith("Leave this empty: the request serves an objective.")
    assert not PurchaseRequest.objects.exists()


def test_the_service_refuses_an_objective_from_another_scope(org):
    draft = draft_for(org, objective=rebrand(org), no_objective_reason="")

    with pytest.raises(InvalidInput) as error:
        submit(org, draft)

    assert error.value.fields == {
        "objective": [
            '"Rebrand" is an objective of Marketing, not of IT. Choose one of your '
            "department's or a company-wide objective."
        ]
    }


def test_the_service_refuses_an_objective_dropped_since_the_draft(org):
    goal = objective(org)
    draft = draft_for(org, objective=goal, no_objective_reason="")
    Objective.objects.filter(pk=goal.pk).update(status=ObjectiveStatus.DROPPED)

    with pytest.raises(InvalidInput) as error:
        submit(org, draft)

    assert error.value.fields == {
        "objective": [f'"{goal.name}" is dropped; choose an open objective.']
    }


def test_the_service_refuses_a_date_in_a_closed_fiscal_year(org):
    year = this_year(closed=True)
    draft = draft_for(org, needed_by=timezone.localdate() + dt.timedelta(days=14))

    with pytest.raises(InvalidInput) as error:
        submit(org, draft)

    assert error.value.fields == {
        "needed_by": [
            f"{year} is closed: nothing more can be requested for it. Choose a date in an open "
            "fiscal year."
        ]
    }


def test_the_service_submits_a_request_serving_a_company_wide_objective(org):
    goal = objective(org)
    draft = draft_for(org, objective=goal, no_objective_reason="")

    assert submit(org, draft).state == RequestState.SUBMITTED


# --- Through the page --------------------------------------------------------------------------


def test_the_page_names_both_fields_when_neither_is_given(org):
    data = request_form_data(org, intent="submit", no_objective_reason="")

    response = org.client_for(org.requester).post("/requests/new/", data)

    assert response.status_code == 400
    assert field_error(response, "id_objective") == NEITHER
    assert field_error(response, "id_no_objective_reason") == (
        "Give a reason when it serves no objective."
    )
    assert not PurchaseRequest.objects.exists()


def test_the_page_refuses_both_next_to_the_reason(org):
    goal = objective(org)
    data = request_form_data(org, intent="submit", objective=str(goal.pk))

    response = org.client_for(org.requester).post("/requests/new/", data)

    assert response.status_code == 400
    assert field_error(response, "id_no_objective_reason").startswith("Leave this empty")
    assert not PurchaseRequest.objects.exists()


@pytest.mark.parametrize("which", ["another department's", "dropped"])
def test_the_page_does_not_take_an_objective_the_request_may_not_name(org, which):
    goal = objective(org, status=ObjectiveStatus.DROPPED) if which == "dropped" else rebrand(org)
    assert str(goal.pk) not in offered_objectives(org)  # not offered...

    data = request_form_data(org, intent="submit", objective=str(goal.pk), no_objective_reason="")
    response = org.client_for(org.requester).post("/requests/new/", data)

    assert response.status_code == 400  # ...nor taken from a forged post
    assert "Select a valid choice" in field_error(response, "id_objective")
    assert not PurchaseRequest.objects.exists()


def test_the_page_explains_a_draft_whose_objective_was_dropped(org):
    goal = objective(org)
    draft = draft_for(org, objective=goal, no_objective_reason="")
    Objective.objects.filter(pk=goal.pk).update(status=ObjectiveStatus.DROPPED)

    response = org.client_for(org.requester).post(
        f"/requests/{draft.pk}/actions/submit/", {"comment": ""}, follow=True
    )

    shown = html.unescape(response.content.decode())
    assert f'"{goal.name}" is dropped; choose an open objective.' in shown
    draft.refresh_from_db()
    assert draft.state == RequestState.DRAFT


def test_the_page_refuses_a_date_in_a_closed_fiscal_year_next_to_the_date(org):
    year = this_year(closed=True)
    data = request_form_data(org, intent="submit")

    response = org.client_for(org.requester).post("/requests/new/", data)

    assert response.status_code == 400
    assert field_error(response, "id_needed_by").startswith(f"{year} is closed")
    assert not PurchaseRequest.objects.exists()


def test_the_page_offers_the_open_objectives_of_the_department_and_company(org):
    ours = objective(org, name="Replace old laptops", department=org.department)
    company = objective(org)
    theirs = rebrand(org)
    achieved = objective(org, name="Done already", status=ObjectiveStatus.ACHIEVED)

    offered = offered_objectives(org)

    assert offered == {str(ours.pk), str(company.pk)}
    assert str(theirs.pk) not in offered
    assert str(achieved.pk) not in offered


# --- Through the API ---------------------------------------------------------------------------


def test_the_api_names_both_fields_when_neither_is_given(org):
    response = api_submit(org, api_payload(org))

    assert response.status_code == 400
    assert response.json() == {
        "code": "invalid",
        "detail": NEITHER,
        "errors": {
            "objective": [NEITHER],
            "no_objective_reason": ["Give a reason when it serves no objective."],
        },
    }


def test_the_api_refuses_both(org):
    goal = objective(org)

    response = api_submit(org, api_payload(org, objective=goal.pk, no_objective_reason="Because"))

    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["no_objective_reason"]


def test_the_api_refuses_an_objective_from_another_scope(org):
    response = api_submit(org, api_payload(org, objective=rebrand(org).pk))

    assert response.status_code == 400
    assert response.json()["errors"]["objective"][0].startswith(
        '"Rebrand" is an objective of Marketing, not of IT.'
    )


def test_the_api_refuses_a_dropped_objective(org):
    goal = objective(org, status=ObjectiveStatus.DROPPED)

    response = api_submit(org, api_payload(org, objective=goal.pk))

    assert response.status_code == 400
    assert response.json()["errors"] == {
        "objective": [f'"{goal.name}" is dropped; choose an open objective.']
    }


def test_the_api_refuses_a_date_in_a_closed_fiscal_year(org):
    this_year(closed=True)

    response = api_submit(org, api_payload(org, no_objective_reason="Keeps us running"))

    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["needed_by"]
    assert PurchaseRequest.objects.get().state == RequestState.DRAFT


def test_the_api_shows_the_objective_and_the_reason(org):
    goal = objective(org)
    client = org.client_for(org.requester)

    serving = api_submit(org, api_payload(org, objective=goal.pk))
    assert serving.status_code == 200, serving.content
    body = serving.json()
    assert body["objective"] == {"id": goal.pk, "name": goal.name, "fiscal_year": this_year().name}
    assert body["no_objective_reason"] == ""

    none = client.post(
        "/api/requests/",
        api_payload(org, no_objective_reason="Replaces a broken printer"),
        content_type="application/json",
    ).json()
    assert none["objective"] is None
    assert none["no_objective_reason"] == "Replaces a broken printer"
    listed = {row["id"]: row for row in client.get("/api/requests/").json()["results"]}
    assert listed[body["id"]]["objective"]["name"] == goal.name
