"""Two approvers of the same "any one of the group" step press Approve at the same moment,
each on their own database connection: exactly one decision is recorded, and the other
person is told who already decided.

On PostgreSQL the request row lock makes the second wait, then see the decision (409
Conflict). SQLite has no row locks: its loser either sees the decision the same way or is
refused the write ("database is locked"); either way nothing is recorded twice.
"""

from __future__ import annotations

import threading

import pytest
from django.db import OperationalError, connection, connections

from approvals.models import ApprovalStep, Decision, StepApprover
from approvals.services import approval_step_decide
from approvals.tests.helpers import policy, submitted
from procurement.errors import Conflict
from procurement.models import AuditEntry, Role
from requests.models import PurchaseRequest
from tests.factories import UserFactory


@pytest.mark.django_db(
    transaction=True, serialized_rollback=True
)  # committed rows, seen by each thread's connection
def test_it_decides_once_under_concurrent_clicks(org) -> None:
    frank = UserFactory.create(
        username="frank", first_name="Frank", last_name="Figures", roles=[Role.FINANCE]
    )
    policy(
        {"name": "Finance", "approver_kind": "role", "approver_role": Role.FINANCE, "mode": "any"}
    )
    request = submitted(org)
    step = ApprovalStep.objects.get(request=request)
    approvers = [org.finance, frank]
    barrier = threading.Barrier(len(approvers), timeout=30)
    outcomes: dict[str, object] = {}

    def click(person) -> None:
        try:
            barrier.wait()
            approval_step_decide(step_id=step.pk, by=person, action="approve")
            outcomes[person.username] = "decided"
        except (Conflict, OperationalError) as error:
            outcomes[person.username] = error
        finally:
            connections.close_all()  # this thread's own connection

    threads = [threading.Thread(target=click, args=(person,)) for person in approvers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)

    winners = [name for name, outcome in outcomes.items() if outcome == "decided"]
    assert len(winners) == 1, outcomes
    [loser] = [outcome for outcome in outcomes.values() if outcome != "decided"]
    winner = org.finance if winners == ["fiona"] else frank
    if isinstance(loser, Conflict):
        assert loser.message == f'"Finance" was already decided by {winner} (approved).'
    else:
        # Only SQLite may refuse the loser's write instead: it has no row locks to wait on.
        assert connection.vendor == "sqlite", loser
        assert "database is locked" in str(loser)

    step.refresh_from_db()
    assert (step.state, step.decided_by_id) == ("approved", winner.pk)
    assert PurchaseRequest.objects.get(pk=request.pk).state == "approved"
    assert list(
        StepApprover.objects.filter(step=step, decision=Decision.APPROVED).values_list(
            "approver_id", flat=True
        )
    ) == [winner.pk]
    assert AuditEntry.objects.filter(object_id=request.pk, action="approved_step").count() == 1
    assert AuditEntry.objects.filter(object_id=request.pk, action="approve").count() == 1
