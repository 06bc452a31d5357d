"""Two purchase orders are created at the same instant, from two awards, each on its own
database connection: they get different, consecutive numbers, and the year's counter
says exactly how many were made.

On PostgreSQL the sequence row's lock makes the second wait for the first to commit, then
take the next number: both succeed. SQLite has no row locks: its loser may instead be
refused the write ("database is locked"); then nothing of it was written, and the counter
still matches the orders that exist.
"""

from __future__ import annotations

import threading

import pytest
from django.db import OperationalError, connection, connections
from django.utils import timezone

from sourcing.models import PoNumberSequence, PurchaseOrder
from sourcing.orders import po_create_from_award
from sourcing.tests.helpers import closed_rfq_with_two_quotes, make_award


@pytest.mark.django_db(
    transaction=True, serialized_rollback=True
)  # committed rows, seen by each thread's connection
def test_it_gives_two_orders_created_at_once_consecutive_numbers(org) -> None:
    awards = []
    for _ in range(2):
        rfq, northwind, _contoso = closed_rfq_with_two_quotes(org)
        awards.append(make_award(org, rfq, northwind))
    barrier = threading.Barrier(len(awards), timeout=30)
    outcomes: dict[int, object] = {}

    def create(award_id: int) -> None:
        try:
            barrier.wait()
            outcomes[award_id] = po_create_from_award(award_id=award_id, by=org.procurement)
        except OperationalError as error:
            outcomes[award_id] = error
        finally:
            connections.close_all()  # this thread's own connection

    threads = [threading.Thread(target=create, args=(award.pk,)) for award in awards]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)

    created = [outcome for outcome in outcomes.values() if isinstance(outcome, PurchaseOrder)]
    refused = [outcome for outcome in outcomes.values() if not isinstance(outcome, PurchaseOrder)]
    if connection.vendor == "postgresql":
        assert refused == []
    for error in refused:
        # Only SQLite may refuse the loser's write instead: it has no row locks to wait on.
        assert connection.vendor == "sqlite", error
        assert "database is locked" in str(error)
    assert created, outcomes

    year = timezone.localdate().year
    numbers = sorted(PurchaseOrder.objects.values_list("number", flat=True))
    assert numbers == [f"PO-{year}-{n:06d}" for n in range(1, len(created) + 1)]
    assert sorted(po.number for po in created) == numbers
    assert PoNumberSequence.objects.get(year=year).last_number == len(numbers)
