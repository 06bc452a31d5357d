"""GET /api/requests/ builds its rows from plain values (bench/web): they must be exactly what
PurchaseRequestRowSerializer, the documented shape, answers for the same requests."""

from __future__ import annotations

import json

import pytest
from django.utils import timezone
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from planning.tests.helpers import objective
from procurement.models import Role
from requests.api import PurchaseRequestRowSerializer
from requests.models import PurchaseRequest
from requests.tests.helpers import draft_for
from tests.factories import UserFactory, vendor_create

pytestmark = pytest.mark.django_db


def serialized(requests: list[PurchaseRequest]) -> list[dict]:
    """The rows as the serializer writes them, through the same JSON renderer."""
    request = Request(APIRequestFactory().get("/api/requests/"))
    data = PurchaseRequestRowSerializer(requests, many=True, context={"request": request}).data
    return json.loads(JSONRenderer().render(data))


@pytest.fixture
def assorted(org) -> list[PurchaseRequest]:
    """A plain draft, one naming a vendor and an objective that was submitted, and one by a
    requester without a full name; newest first, as the list orders them."""
    plain = draft_for(org, title="Docking stations")
    vendor = vendor_create(by=org.procurement, legal_name="Prospect Parts Ltd")
    goal = objective(org)
    chosen = draft_for(
        org,
        title="Monitors",
        vendor=vendor,
        objective=goal,
        no_objective_reason="",
        submitted_at=timezone.now(),
    )
    nameless = UserFactory(
        username="nn",
        first_name="",
        last_name="",
        department=org.department,
        manager=org.requester,
        roles=[Role.REQUESTER],
    )
    theirs = draft_for(org, requester=nameless, title="Keyboard")
    return [theirs, chosen, plain]


def test_it_lists_each_row_exactly_as_the_row_serializer_writes_it(org, assorted):
    response = org.client_for(org.requester).get("/api/requests/")

    assert response.status_code == 200
    rows = response.json()["results"]
    assert rows == serialized(assorted)
    assert rows[0]["requester"]["name"] == "nn"
    assert rows[1]["vendor"]["legal_name"] == "Prospect Parts Ltd"
    assert rows[1]["objective"]["fiscal_year"]
    assert rows[1]["submitted_at"] is not None
    assert rows[2]["vendor"] is None
    assert rows[2]["objective"] is None


def test_it_reads_vendors_and_objectives_in_one_query_each_whatever_the_rows(
    org, assorted, django_assert_max_num_queries
):
    client = org.client_for(org.requester)

    # Session, user, roles, which visibility arms apply, count, rows, vendors, objectives.
    with django_assert_max_num_queries(8):
        response = client.get("/api/requests/")

    assert len(response.json()["results"]) == 3
