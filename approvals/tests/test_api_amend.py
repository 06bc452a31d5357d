"""POST /api/approvals/requests/<id>/amend/: procurement changes an approved request."""

from __future__ import annotations

import pytest

from approvals.services import approval_step_decide
from approvals.tests.helpers import LINE_MANAGER, policy, submitted
from requests.models import PurchaseRequest

pytestmark = pytest.mark.django_db


def approved(org):
    policy(LINE_MANAGER)
    request = submitted(org)  # 2,500.00 GBP
    step = request.approval_steps.get()
    approval_step_decide(step_id=step.pk, by=org.manager, action="approve")
    return request


def lines(unit_price):
    return [{"description": "Laptop", "quantity": "2", "unit": "each", "unit_price": unit_price}]


def amend(client, request, body):
    return client.post(
        f"/api/approvals/requests/{request.pk}/amend/", body, content_type="application/json"
    )


def test_it_keeps_a_small_change_approved(org):
    request = approved(org)

    response = amend(
        org.client_for(org.procurement),
        request,
        {"line_items": lines("1300.00"), "comment": "New quote"},
    )

    assert response.status_code == 200, response.json()
    assert (response.json()["state"], response.json()["total"], response.json()["version"]) == (
        "approved",
        "2600.00",
        2,
    )


def test_it_sends_a_large_rise_back_for_approval(org):
    request = approved(org)

    response = amend(
        org.client_for(org.procurement),
        request,
        {"line_items": lines("1500.00"), "comment": "Price rise"},
    )

    assert response.status_code == 200
    assert response.json()["state"] == "pending_approval"
    assert request.approval_steps.filter(round=2, state="pending").count() == 1


@pytest.mark.parametrize(
    ("who", "body", "status"),
    [
        ("requester", {"line_items": lines("1300.00"), "comment": "x"}, 403),
        ("outsider", {"line_items": lines("1300.00"), "comment": "x"}, 404),
        ("procurement", {"line_items": lines("1300.00"), "comment": ""}, 400),
        ("procurement", {"line_items": [], "comment": "x"}, 400),
        ("procurement", {"line_items": lines("-1"), "comment": "x"}, 400),
    ],
)
def test_it_refuses_bad_amendments_and_changes_nothing(org, who, body, status):
    request = approved(org)

    response = amend(org.client_for(getattr(org, who)), request, body)

    assert response.status_code == status
    assert response.json()["detail"]
    fresh = PurchaseRequest.objects.get(pk=request.pk)
    assert (fresh.state, str(fresh.total), fresh.version) == ("approved", "2500.00", 1)


def test_it_refuses_to_amend_a_request_that_is_not_approved(org):
    policy(LINE_MANAGER)
    request = submitted(org)

    response = amend(
        org.client_for(org.procurement), request, {"line_items": lines("1300.00"), "comment": "x"}
    )

    assert response.status_code == 409
