"""A vendor submits twice at the same instant (two tabs, a double click), each on its own
database connection: the two become revisions 1 and 2, and exactly one is current.

On PostgreSQL the RFQ's and the invitation's row locks make the second wait for the first
to commit, then supersede it. SQLite has no row locks: its loser may instead be refused the
write ("database is locked"); then nothing of it was written.
"""

from __future__ import annotations

import threading

import pytest
from django.db import OperationalError, connection, connections

from sourcing.models import Quote
from sourcing.quotes import quote_submit
from sourcing.tests.helpers import invite, make_rfq, vendor
from sourcing.tests.test_rfq_helpers import quote_input


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_it_numbers_two_simultaneous_quotes_as_two_revisions_with_one_current(org) -> None:
    rfq = make_rfq(org)
    invitation = invite(org, rfq, vendor(org, "Northwind Hardware Ltd"))
    barrier = threading.Barrier(2, timeout=30)
    outcomes: dict[str, object] = {}

    def submit(price: str) -> None:
        try:
            barrier.wait()
            outcomes[price] = quote_submit(
                invitation_id=invitation.pk, data=quote_input(rfq, [price])
            )
        except OperationalError as error:
            outcomes[price] = error
        finally:
            connections.close_all()  # this thread's own connection

    threads = [threading.Thread(target=submit, args=(price,)) for price in ("1200", "1150")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)

    created = [outcome for outcome in outcomes.values() if isinstance(outcome, Quote)]
    refused = [outcome for outcome in outcomes.values() if not isinstance(outcome, Quote)]
    if connection.vendor == "postgresql":
        assert refused == []
    for error in refused:
        assert connection.vendor == "sqlite", error
        assert "database is locked" in str(error)
    assert created, outcomes
    revisions = sorted(
        Quote.objects.filter(invitation=invitation).values_list("revision", flat=True)
    )
    assert revisions == list(range(1, len(created) + 1))
    assert Quote.objects.filter(invitation=invitation, superseded_at__isnull=True).count() == 1
