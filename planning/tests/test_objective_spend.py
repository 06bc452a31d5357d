"""Spend and commitments per objective: what the requests serving it have committed
(approved requests on no order, the rest of open orders) and spent (matched invoices),
counted by the same rules as a budget, in one pass however many objectives are listed."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from approvals.tests.helpers import submitted
from planning.budgets import budget_consumption
from planning.objectives import objective_spend, objectives_spend
from planning.tests.helpers import budget, objective
from procurement.models import Objective
from requests.models import PurchaseRequest
from sourcing.invoices import invoice_record
from sourcing.orders import po_cancel
from sourcing.receipts import receipt_record
from sourcing.tests.helpers import approved_request, issued_po

pytestmark = pytest.mark.django_db


def serve(request_id: int, goal: Objective) -> None:
    """Test data: the request (already through its route) now names `goal`."""
    PurchaseRequest.objects.filter(pk=request_id).update(objective=goal, no_objective_reason="")


def invoice_one_laptop(org, po) -> None:
    line = po.lines.get()
    receipt_record(
        po_id=po.pk,
        by=org.requester,
        received_on=timezone.localdate(),
        lines={line.pk: Decimal("1")},
    )
    invoice_record(
        po_id=po.pk,
        by=org.procurement,
        number="INV-1",
        invoice_date=timezone.localdate(),
        currency="GBP",
        total=Decimal("1150.00"),
        lines={line.pk: (Decimal("1"), Decimal("1150.00"))},
    )


def test_it_counts_an_approved_request_as_committed(org):
    goal = objective(org, department=org.department)
    approved_request(org, objective=goal, no_objective_reason="")

    spend = objective_spend(objective=goal)

    assert (spend.requests, spend.committed, spend.actual) == (1, Decimal("2500.00"), Decimal("0"))


def test_it_counts_a_submitted_request_but_commits_nothing_before_approval(org):
    goal = objective(org)
    submitted(org, objective=goal, no_objective_reason="")

    spend = objective_spend(objective=goal)

    assert (spend.requests, spend.committed, spend.total) == (1, Decimal("0"), Decimal("0"))


def test_it_moves_the_commitment_to_the_order_and_the_invoice_to_actual(org):
    goal = objective(org)
    po = issued_po(org)  # 2 laptops at 1,150.00 for a 2,500.00 request
    serve(po.request_id, goal)

    ordered = objective_spend(objective=goal)
    assert (ordered.committed_requests, ordered.committed_orders) == (
        Decimal("0"),
        Decimal("2300.00"),
    )

    invoice_one_laptop(org, po)
    invoiced = objective_spend(objective=goal)
    assert (invoiced.committed, invoiced.actual, invoiced.total) == (
        Decimal("1150.00"),
        Decimal("1150.00"),
        Decimal("2300.00"),
    )


def test_a_cancelled_order_gives_the_commitment_back_to_the_request(org):
    goal = objective(org)
    po = issued_po(org)
    serve(po.request_id, goal)

    po_cancel(po_id=po.pk, by=org.procurement, reason="Vendor cannot deliver")

    spend = objective_spend(objective=goal)
    assert (spend.committed_requests, spend.committed_orders) == (
        Decimal("2500.00"),
        Decimal("0"),
    )


def test_it_agrees_with_a_budget_narrowed_to_the_objective(org):
    goal = objective(org, department=org.department)
    narrowed = budget(org, "50000", objective=goal)
    approved_request(org, objective=goal, no_objective_reason="")
    po = issued_po(org)
    serve(po.request_id, goal)
    invoice_one_laptop(org, po)

    spend = objective_spend(objective=goal)
    consumption = budget_consumption(budget=narrowed)

    assert spend.committed_requests == consumption.committed_requests == Decimal("2500.00")
    assert spend.committed_orders == consumption.committed_orders == Decimal("1150.00")
    assert spend.actual == consumption.actual == Decimal("1150.00")


def test_it_keeps_each_objective_to_its_own_requests(org):
    cloud = objective(org)
    laptops = objective(org, name="Replace old laptops", department=org.department)
    approved_request(org, objective=cloud, no_objective_reason="")
    approved_request(org, objective=laptops, no_objective_reason="")
    approved_request(org, objective=laptops, no_objective_reason="")
    approved_request(org)  # serves none

    spend = objectives_spend(objectives=[cloud, laptops])

    assert spend[cloud.pk].committed == Decimal("2500.00")
    assert spend[laptops.pk].committed == Decimal("5000.00")
    assert spend[laptops.pk].requests == 2


def test_it_reads_the_whole_list_in_the_same_number_of_queries(org):
    goals = [objective(org, name=f"Objective {n}") for n in range(6)]
    for goal in goals[:2]:
        approved_request(org, objective=goal, no_objective_reason="")

    with CaptureQueriesContext(connection) as two:
        objectives_spend(objectives=goals[:2])
    for goal in goals[2:]:
        approved_request(org, objective=goal, no_objective_reason="")
    with CaptureQueriesContext(connection) as six:
        objectives_spend(objectives=goals)

    assert len(six) == len(two)
