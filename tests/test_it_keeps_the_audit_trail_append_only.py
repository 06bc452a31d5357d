"""Audit entries are written once and never rewritten: not through the ORM, and on
PostgreSQL not even through raw SQL (the trigger of procurement/migrations/0002)."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connection, transaction

from procurement.models import AuditEntry
from requests.services import purchase_request_submit
from tests.factories import PurchaseRequestFactory


@pytest.fixture
def entry(org) -> AuditEntry:
    request = PurchaseRequestFactory.create(
        requester=org.requester, department=org.department, cost_centre=org.cost_centre
    )
    purchase_request_submit(request_id=request.pk, by=org.requester)
    return AuditEntry.objects.get(object_id=request.pk, action="submit")


def test_it_refuses_to_save_a_changed_entry(entry: AuditEntry) -> None:
    entry.comment = "rewritten history"

    with pytest.raises(TypeError, match="append-only"):
        entry.save()

    entry.refresh_from_db()
    assert entry.comment == ""


def test_it_refuses_to_delete_an_entry(entry: AuditEntry) -> None:
    with pytest.raises(TypeError, match="append-only"):
        entry.delete()

    assert AuditEntry.objects.filter(pk=entry.pk).exists()


def test_it_refuses_bulk_updates_and_deletes(entry: AuditEntry) -> None:
    with pytest.raises(TypeError, match="append-only"):
        AuditEntry.objects.filter(pk=entry.pk).update(comment="rewritten history")
    with pytest.raises(TypeError, match="append-only"):
        AuditEntry.objects.filter(pk=entry.pk).delete()

    entry.refresh_from_db()
    assert entry.comment == ""


def test_it_leaves_raw_sql_to_the_database_guard(entry: AuditEntry) -> None:
    table = AuditEntry._meta.db_table
    update = f"UPDATE {table} SET comment = 'rewritten history' WHERE id = %s"
    delete = f"DELETE FROM {table} WHERE id = %s"

    if connection.vendor == "postgresql":
        # The trigger refuses both, whoever asks.
        for statement in (update, delete):
            with (
                pytest.raises(DatabaseError, match="append-only"),
                transaction.atomic(),
                connection.cursor() as cursor,
            ):
                cursor.execute(statement, [entry.pk])
        entry.refresh_from_db()
        assert entry.comment == ""
    else:
        # SQLite, for local use, has no such trigger: only the ORM guards apply there.
        assert connection.vendor == "sqlite"
        with connection.cursor() as cursor:
            cursor.execute(update, [entry.pk])
        entry.refresh_from_db()
        assert entry.comment == "rewritten history"
