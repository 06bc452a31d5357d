"""A stop budget with room for one of two requests: both requests' last steps are approved at
the same moment, each on its own database connection. Exactly one is approved; the other is
refused (409) and stays pending, and the budget holds what fits.

What makes it pass is the budget row lock planning.budgets.BudgetGate takes before it
reads the consumption: the second approval waits on it until the first commits, then
counts the first. Without it both would read an empty budget before either committed,
and both would be approved (5,000.00 against 4,000.00).

PostgreSQL only: SQLite has no row locks (select_for_update does nothing there), so its
two writers are serialised by the whole-database lock instead, and the loser is usually
refused with "database is locked" before it ever reaches the budget check.
"""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from django.db import connection, connections

from approvals.models import ApprovalStep, StepState
from approvals.services import approval_step_decide
from approvals.tests.helpers import LINE_MANAGER, policy, submitted
from planning.budgets import budget_consumption
from planning.models import OnExceed
from planning.tests.helpers import budget
from procurement.errors import Conflict
from procurement.models import AuditEntry, Role
from requests.models import PurchaseRequest, RequestState
from tests.factories import UserFactory

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs PostgreSQL's row locks; SQLite locks the whole database instead "
    "(run with DATABASE_URL=postgres://...)",
)


@pytest.mark.django_db(
    transaction=True, serialized_rollback=True
)  # committed rows, seen by each thread's connection
def test_it_approves_only_what_a_stop_budget_holds_under_concurrent_approvals(org) -> None:
    # Two line managers, so the two last steps are two people's, as in real life.
    nina = UserFactory.create(
        username="nina", first_name="Nina", department=org.department, roles=[Role.MANAGER]
    )
    bob = UserFactory.create(username="bob", department=org.department, manager=nina)
    policy(LINE_MANAGER)
    limit = budget(org, "4000", on_exceed=OnExceed.STOP)  # one 2,500.00 fits, two do not
    requests = {org.manager: submitted(org), nina: submitted(org, requester=bob)}
    steps = {
        person: ApprovalStep.objects.get(request=request) for person, request in requests.items()
    }
    barrier = threading.Barrier(len(steps), timeout=30)
    outcomes: dict[str, object] = {}

    def approve(person) -> None:
        try:
            barrier.wait()
            approval_step_decide(step_id=steps[person].pk, by=person, action="approve")
            outcomes[person.username] = "approved"
        except Conflict as error:
            outcomes[person.username] = error
        finally:
            connections.close_all()  # this thread's own connection

    threads = [threading.Thread(target=approve, args=(person,)) for person in steps]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)

    winners = [name for name, outcome in outcomes.items() if outcome == "approved"]
    assert len(winners) == 1, outcomes
    [(loser_name, refusal)] = [
        (name, outcome) for name, outcome in outcomes.items() if outcome != "approved"
    ]
    assert isinstance(refusal, Conflict), refusal
    assert refusal.message == (
        f"This request would take the budget {limit} over its limit: budget 4,000.00 GBP, "
        "consumed 2,500.00 GBP, this request 2,500.00 GBP, over by 1,000.00 GBP. The budget "
        "stops anything beyond it; ask finance to revise it, or lower the request."
    )
    by_name = {person.username: person for person in steps}
    winner_request = requests[by_name[winners[0]]]
    loser_request = requests[by_name[loser_name]]
    assert PurchaseRequest.objects.get(pk=winner_request.pk).state == RequestState.APPROVED
    assert PurchaseRequest.objects.get(pk=loser_request.pk).state == (RequestState.PENDING_APPROVAL)
    loser_step = ApprovalStep.objects.get(pk=steps[by_name[loser_name]].pk)
    assert (loser_step.state, loser_step.decided_by_id) == (StepState.PENDING, None)
    assert not AuditEntry.objects.filter(
        content_type__model="purchaserequest", object_id=loser_request.pk, action="approved_step"
    ).exists()

    consumption = budget_consumption(budget=limit)
    assert (consumption.committed_requests, consumption.available) == (
        Decimal("2500.00"),
        Decimal("1500.00"),
    )
