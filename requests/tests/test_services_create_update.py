from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from procurement.errors import Conflict, InvalidInput, NotAllowed, NotFound
from procurement.models import AuditEntry
from requests.models import LineItem, PurchaseRequest
from requests.services import (
    MAX_LINE_ITEMS,
    LineItemInput,
    purchase_request_create,
    purchase_request_transition,
    purchase_request_update,
)
from requests.tests.helpers import request_in_state, request_input
from tests.factories import CostCentreFactory

pytestmark = pytest.mark.django_db


def test_it_creates_a_draft_with_its_lines_and_computes_the_total(org):
    request = purchase_request_create(requester=org.requester, data=request_input(org))

    request.refresh_from_db()
    assert request.state == "draft"
    assert request.requester == org.requester
    assert [line.description for line in request.line_items.all()] == ["Laptop", "Dock"]
    # 2 x 1249.99 + 3 x 150.01
    assert request.total == Decimal("2950.01")
    assert AuditEntry.objects.filter(object_id=request.pk, action="created").count() == 1


def test_it_names_requests_by_a_stable_reference(org):
    request = purchase_request_create(requester=org.requester, data=request_input(org))
    assert request.reference == f"PR-{request.pk:06d}"


@pytest.mark.parametrize(
    ("quantity", "unit_price", "field", "message"),
    [
        ("0", "10", "line_items[1].quantity", "Quantity must be greater than zero."),
        ("-1", "10", "line_items[1].quantity", "Quantity must be greater than zero."),
        ("1", "0", "line_items[1].unit_price", "Unit price must be greater than zero."),
        ("1", "-5", "line_items[1].unit_price", "Unit price must be greater than zero."),
    ],
)
def test_it_refuses_zero_or_negative_quantities_and_prices(
    org, quantity, unit_price, field, message
):
    lines = [
        LineItemInput(description="Fine", quantity=Decimal("1"), unit_price=Decimal("1")),
        LineItemInput(
            description="Bad", quantity=Decimal(quantity), unit_price=Decimal(unit_price)
        ),
    ]
    with pytest.raises(InvalidInput) as error:
        purchase_request_create(requester=org.requester, data=request_input(org, line_items=lines))

    assert error.value.fields[field] == [message]
    assert PurchaseRequest.objects.count() == 0
    assert LineItem.objects.count() == 0


def test_it_refuses_an_unknown_currency(org):
    with pytest.raises(InvalidInput) as error:
        purchase_request_create(requester=org.requester, data=request_input(org, currency="XYZ"))

    assert "Unknown currency 'XYZ'" in error.value.fields["currency"][0]
    assert PurchaseRequest.objects.count() == 0


def test_it_refuses_a_needed_by_date_in_the_past(org):
    yesterday = timezone.localdate() - dt.timedelta(days=1)
    with pytest.raises(InvalidInput) as error:
        purchase_request_create(
            requester=org.requester, data=request_input(org, needed_by=yesterday)
        )

    assert error.value.fields["needed_by"] == ["The needed-by date cannot be in the past."]
    assert PurchaseRequest.objects.count() == 0


def test_it_refuses_a_cost_centre_of_another_department(org):
    elsewhere = CostCentreFactory(department=org.other_department)
    with pytest.raises(InvalidInput) as error:
        purchase_request_create(
            requester=org.requester, data=request_input(org, cost_centre=elsewhere)
        )

    assert "does not belong to IT" in error.value.fields["cost_centre"][0]


def test_it_caps_the_number_of_line_items(org):
    lines = [LineItemInput(description="Cable", quantity=Decimal("1"), unit_price=Decimal("1"))] * (
        MAX_LINE_ITEMS + 1
    )
    with pytest.raises(InvalidInput):
        purchase_request_create(requester=org.requester, data=request_input(org, line_items=lines))
    assert PurchaseRequest.objects.count() == 0


def test_it_replaces_lines_and_recomputes_the_total_when_a_draft_is_edited(org):
    request = purchase_request_create(requester=org.requester, data=request_input(org))
    lines = [LineItemInput(description="Monitor", quantity=Decimal("4"), unit_price=Decimal("200"))]

    purchase_request_update(
        request_id=request.pk,
        by=org.requester,
        data=request_input(org, title="Monitors", line_items=lines),
    )

    request.refresh_from_db()
    assert request.title == "Monitors"
    assert [line.description for line in request.line_items.all()] == ["Monitor"]
    assert request.total == Decimal("800.00")


def test_it_keeps_the_draft_unchanged_when_an_edit_is_invalid(org):
    request = purchase_request_create(requester=org.requester, data=request_input(org))
    bad = [LineItemInput(description="Monitor", quantity=Decimal("-4"), unit_price=Decimal("200"))]

    with pytest.raises(InvalidInput):
        purchase_request_update(
            request_id=request.pk,
            by=org.requester,
            data=request_input(org, title="Changed", line_items=bad),
        )

    request.refresh_from_db()
    assert request.title == "Two laptops"
    assert request.line_items.count() == 2
    assert request.total == Decimal("2950.01")


def test_it_refuses_to_edit_a_submitted_request(org):
    request = request_in_state(org, "submitted")

    with pytest.raises(Conflict, match="only a draft can be edited"):
        purchase_request_update(
            request_id=request.pk, by=org.requester, data=request_input(org, title="Sneaky")
        )

    request.refresh_from_db()
    assert request.title != "Sneaky"


def test_it_lets_only_the_requester_edit_a_draft(org):
    request = purchase_request_create(requester=org.requester, data=request_input(org))

    with pytest.raises(NotAllowed):
        purchase_request_update(
            request_id=request.pk, by=org.manager, data=request_input(org, title="Mine now")
        )
    with pytest.raises(NotFound):
        purchase_request_update(
            request_id=request.pk, by=org.outsider, data=request_input(org, title="Mine now")
        )


def test_it_lets_a_returned_request_be_revised_and_resubmitted(org):
    request = request_in_state(org, "returned")

    purchase_request_transition(request_id=request.pk, by=org.requester, action="revise")
    purchase_request_update(
        request_id=request.pk, by=org.requester, data=request_input(org, title="Fixed")
    )
    purchase_request_transition(request_id=request.pk, by=org.requester, action="submit")

    request.refresh_from_db()
    assert (request.state, request.title) == ("submitted", "Fixed")


def test_it_records_whether_personal_data_is_processed(org):
    request = purchase_request_create(
        requester=org.requester, data=request_input(org, processes_personal_data=True)
    )
    assert PurchaseRequest.objects.get(pk=request.pk).processes_personal_data is True


def test_it_counts_versions_so_old_approval_links_can_be_recognised(org):
    request = purchase_request_create(requester=org.requester, data=request_input(org))
    assert request.version == 1

    purchase_request_update(
        request_id=request.pk, by=org.requester, data=request_input(org, title="v2")
    )
    purchase_request_update(
        request_id=request.pk, by=org.requester, data=request_input(org, title="v3")
    )

    request.refresh_from_db()
    assert request.version == 3
