"""The audit trail is a hash chain: each entry holds the hash of the one before it, and
`manage.py verify_audit_chain` recomputes them all and names the first broken link.

Tampering needs the append-only trigger lifted (PostgreSQL), which only the table's owner
can do; the tests do it the way such a person would, with raw SQL.
"""

from __future__ import annotations

import itertools
import math
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import import_module
from io import StringIO

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, IntegrityError, connection, connections, models, transaction
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from procurement import audit_chain
from procurement.audit_chain import (
    GENESIS_HASH,
    audit_chain_seal,
    audit_chain_seal_after_commit,
    audit_entry_digest,
)
from procurement.models import AuditChainHead, AuditEntry, Department
from procurement.services import audit_record
from requests.services import purchase_request_submit
from tests.factories import PurchaseRequestFactory

TABLE = AuditEntry._meta.db_table
postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="database triggers and privileges: PostgreSQL only",
)


def verify(*anchors: str) -> str:
    out = StringIO()
    call_command("verify_audit_chain", *[f"--anchor={anchor}" for anchor in anchors], stdout=out)
    return out.getvalue()


def verify_fails(*anchors: str) -> str:
    with pytest.raises(CommandError) as error:
        verify(*anchors)
    assert error.value.returncode == 1  # what `manage.py verify_audit_chain` exits with
    return str(error.value)


@contextmanager
def append_only_trigger_lifted() -> Iterator[None]:
    """What the table's owner could do: switch the append-only trigger off for a while."""
    if connection.vendor != "postgresql":
        yield  # SQLite has no trigger: raw SQL rewrites the table as it is
        return
    with connection.cursor() as cursor:
        # ALTER TABLE refuses while the inserts' foreign key checks are still pending.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(f"ALTER TABLE {TABLE} DISABLE TRIGGER procurement_auditentry_append_only")
        yield
        cursor.execute(f"ALTER TABLE {TABLE} ENABLE TRIGGER procurement_auditentry_append_only")


def raw(sql: str, params: list[str | int]) -> None:
    with append_only_trigger_lifted(), connection.cursor() as cursor:
        cursor.execute(sql, params)


def chained() -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(chain_index__isnull=False).order_by("chain_index"))


@pytest.fixture
def entries(org) -> list[AuditEntry]:
    """A real history, chained: alice submits a request (its audit entries), three edits.

    The test's transaction never commits, so the chaining that follows a commit is done
    here by hand."""
    request = PurchaseRequestFactory.create(
        requester=org.requester, department=org.department, cost_centre=org.cost_centre
    )
    purchase_request_submit(request_id=request.pk, by=org.requester)
    for n in range(3):
        audit_record(target=org.department, actor=org.admin, action="edited", comment=f"edit {n}")
    audit_chain_seal()
    return chained()


def test_it_chains_each_entry_to_the_one_before(entries: list[AuditEntry]) -> None:
    assert entries[0].prev_hash == GENESIS_HASH
    assert [entry.chain_index for entry in entries] == list(range(1, len(entries) + 1))
    for before, entry in itertools.pairwise(entries):
        assert entry.prev_hash == before.hash
    head = AuditChainHead.objects.get()
    assert (head.hash, head.last_entry_id, head.length) == (
        entries[-1].hash,
        entries[-1].pk,
        len(entries),
    )


def test_it_hashes_what_the_entry_says(entries: list[AuditEntry]) -> None:
    entry = entries[-1]

    assert entry.hash == audit_entry_digest(
        content_type="procurement.department",
        object_id=entry.object_id,
        actor_id=entry.actor_id,
        action="edited",
        from_state="",
        to_state="",
        comment="edit 2",
        created_at=entry.created_at,
        prev_hash=str(entries[-2].hash),
    )


def test_it_hashes_any_text_the_same_way_in_the_database_and_in_python(org) -> None:
    """On PostgreSQL the database chains entries (procurement_audit_chain); Python checks."""
    text = 'Señor «naïve» "quoted" back\\slash\nnew line\ttab \x01 € \u2028 \U0001f600'
    entry = audit_record(
        target=org.department, actor=None, action="edited", from_state="é", comment=text
    )

    assert audit_chain_seal() == 1

    entry.refresh_from_db()
    assert entry.comment == text
    assert entry.hash == audit_entry_digest(
        content_type="procurement.department",
        object_id=org.department.pk,
        actor_id=None,
        action="edited",
        from_state="é",
        to_state="",
        comment=text,
        created_at=entry.created_at,
        prev_hash=str(entry.prev_hash),
    )


@pytest.fixture
def chaining_after_every_commit(settings) -> None:
    settings.AUDIT_CHAIN_SEAL_INTERVAL_MS = 0


def test_it_chains_an_entry_as_its_transaction_commits(
    org, django_capture_on_commit_callbacks, chaining_after_every_commit
) -> None:
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        transaction.atomic(),
    ):
        first = audit_record(target=org.department, actor=org.admin, action="edited")
        entry = audit_record(target=org.department, actor=org.admin, action="edited")
        assert entry.hash is None  # not inside the change's own transaction

    # One chaining for all the transaction wrote.
    assert callbacks == [audit_chain_seal_after_commit]
    first.refresh_from_db()
    entry.refresh_from_db()
    assert entry.prev_hash == first.hash
    assert entry.hash == AuditChainHead.objects.get().hash
    assert entry.chain_index == AuditChainHead.objects.get().length


def test_it_passes_a_valid_chain_and_prints_its_length_and_head(
    entries: list[AuditEntry],
) -> None:
    assert verify() == f"Audit chain OK: {len(entries)} entries, head {entries[-1].hash}\n"


def test_it_chains_entries_left_waiting_before_verifying(org) -> None:
    """An entry whose process died between its commit and its chaining waits: the next
    chaining, or the check itself, takes it in."""
    entry = audit_record(target=org.department, actor=org.admin, action="edited")

    out = StringIO()
    call_command("verify_audit_chain", "--no-seal", stdout=out)
    assert out.getvalue() == (
        f"Audit chain OK: 0 entries, head {GENESIS_HASH} (1 newer not chained yet)\n"
    )

    assert verify() == f"Audit chain OK: 1 entries, head {AuditEntry.objects.get().hash}\n"
    assert AuditEntry.objects.get().pk == entry.pk


def test_it_reports_an_entry_changed_after_it_was_written(entries: list[AuditEntry]) -> None:
    changed = entries[1]
    raw(f"UPDATE {TABLE} SET comment = %s WHERE id = %s", ["nothing to see", changed.pk])

    message = verify_fails()

    assert f"broken at entry {changed.pk}:" in message
    assert f"but it stores {changed.hash}: the entry was changed after it was written" in message


def test_it_reports_a_changed_hash_too(entries: list[AuditEntry]) -> None:
    changed = entries[2]
    raw(f"UPDATE {TABLE} SET hash = %s WHERE id = %s", ["f" * 64, changed.pk])

    assert f"broken at entry {changed.pk}:" in verify_fails()


def test_it_reports_a_removed_entry_as_a_broken_link(entries: list[AuditEntry]) -> None:
    before, removed, after = entries[1], entries[2], entries[3]
    raw(f"DELETE FROM {TABLE} WHERE id = %s", [removed.pk])

    message = verify_fails()

    assert f"broken at entry {after.pk}: its prev_hash is {removed.hash}" in message
    assert f"the entry before it in the chain, {before.pk}, has hash {before.hash}" in message
    assert "an entry between them was removed" in message


def test_it_reports_entries_removed_from_the_end(entries: list[AuditEntry]) -> None:
    raw(f"DELETE FROM {TABLE} WHERE id = %s", [entries[-1].pk])

    message = verify_fails()

    assert "broken at the chain head" in message
    assert f"ending at entry {entries[-1].pk}" in message
    assert "entries were removed from its end" in message


def test_it_catches_a_rewritten_and_rehashed_chain_with_an_anchor(
    entries: list[AuditEntry],
) -> None:
    """Whoever can write the table can also recompute every hash after the one they
    changed: only a head hash kept outside the database shows it."""
    anchor = str(entries[-1].hash)
    rewritten = entries[1]
    with append_only_trigger_lifted(), connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {TABLE} SET comment = 'nothing to see' WHERE id = %s", [rewritten.pk]
        )
        previous = str(entries[0].hash)
        for entry in chained()[1:]:
            new_hash = audit_entry_digest(
                content_type=f"{entry.content_type.app_label}.{entry.content_type.model}",
                object_id=entry.object_id,
                actor_id=entry.actor_id,
                action=entry.action,
                from_state=entry.from_state,
                to_state=entry.to_state,
                comment=entry.comment,
                created_at=entry.created_at,
                prev_hash=previous,
            )
            cursor.execute(
                f"UPDATE {TABLE} SET prev_hash = %s, hash = %s WHERE id = %s",
                [previous, new_hash, entry.pk],
            )
            previous = new_hash
    AuditChainHead.objects.filter(pk=1).update(hash=previous)

    assert "Audit chain OK" in verify()  # consistent in itself...
    message = verify_fails(anchor)  # ...but the hash recorded earlier is gone
    assert f"no entry has the anchored hash {anchor}" in message


def test_it_refuses_a_fork(entries: list[AuditEntry]) -> None:
    """Two entries chained to the same predecessor: the database keeps only one."""
    late = AuditEntry.objects.create(
        content_type=entries[-1].content_type, object_id=entries[-1].object_id, action="forked"
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        models.QuerySet.update(
            AuditEntry.objects.filter(pk=late.pk),
            chain_index=len(entries) + 1,
            prev_hash=entries[-1].prev_hash,
            hash="e" * 64,
        )


@postgresql_only
def test_it_lets_chaining_be_the_only_change_to_an_entry(entries: list[AuditEntry]) -> None:
    """The trigger: an entry's empty chain fields may be filled in once; nothing else moves,
    whoever asks (the table's owner included)."""
    waiting = AuditEntry.objects.create(
        content_type=entries[-1].content_type, object_id=entries[-1].object_id, action="waiting"
    )
    refused = [
        # Rewriting a waiting entry, even while chaining it.
        (f"UPDATE {TABLE} SET comment = 'rewritten' WHERE id = %s", [waiting.pk]),
        (
            f"UPDATE {TABLE} SET comment = 'rewritten', chain_index = 999, prev_hash = 'p', hash = 'h' WHERE id = %s",
            [waiting.pk],
        ),
        # Chaining a chained entry again.
        (f"UPDATE {TABLE} SET chain_index = 999, hash = 'h' WHERE id = %s", [entries[0].pk]),
        (f"DELETE FROM {TABLE} WHERE id = %s", [waiting.pk]),
    ]
    with connection.cursor() as cursor:
        for statement, params in refused:
            with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
                cursor.execute(statement, params)

    assert audit_chain_seal() == 1
    waiting.refresh_from_db()
    assert (waiting.comment, waiting.prev_hash) == ("", entries[-1].hash)


@postgresql_only
def test_it_refuses_to_truncate_the_audit_table(entries: list[AuditEntry]) -> None:
    """`manage.py flush` on a real database would wipe the trail: the trigger refuses it.
    Only the test database says `procurement.audit_allow_truncate = on` (conftest.py)."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL procurement.audit_allow_truncate = off")
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no pending foreign key checks
        with (
            pytest.raises(DatabaseError, match="append-only: TRUNCATE refused"),
            transaction.atomic(),
        ):
            cursor.execute(f"TRUNCATE {TABLE}")

    assert AuditEntry.objects.count() == len(entries)


@postgresql_only
def test_it_leaves_a_role_that_does_not_own_the_table_only_insert_and_select(org) -> None:
    """The deployment of docs/security.md: the application's role gets what every table
    gets, and the migration takes UPDATE, DELETE and TRUNCATE on the audit table back.
    It still chains entries, through the owner's function."""
    guard = import_module("procurement.migrations.0005_audit_hash_chain")
    with connection.cursor() as cursor:
        cursor.execute("CREATE ROLE procurement_app_probe NOLOGIN")  # rolled back with the test
        cursor.execute(
            "GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON ALL TABLES IN SCHEMA public "
            "TO procurement_app_probe"
        )
        cursor.execute("GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO procurement_app_probe")
        cursor.execute(guard.PRIVILEGES_SQL)
        cursor.execute("SET LOCAL ROLE procurement_app_probe")

        entry = audit_record(target=org.department, actor=org.admin, action="edited")
        assert audit_chain_seal() == 1
        for statement in (
            f"UPDATE {TABLE} SET comment = 'rewritten' WHERE id = %s",
            f"UPDATE {TABLE} SET hash = 'h' WHERE id = %s",
            f"DELETE FROM {TABLE} WHERE id = %s",
            f"TRUNCATE {TABLE}",
        ):
            with pytest.raises(DatabaseError, match="permission denied"), transaction.atomic():
                cursor.execute(statement, [entry.pk] if "%s" in statement else None)
        # Its other tables stay writable: only the trail is closed.
        org.department.name = "IT services"
        org.department.save()
        assert "Audit chain OK: 1 entries" in verify()
        cursor.execute("RESET ROLE")

    entry.refresh_from_db()
    assert entry.comment == ""


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_it_still_lets_the_test_database_be_flushed(org, chaining_after_every_commit) -> None:
    audit_record(target=org.department, actor=org.admin, action="edited")

    call_command("flush", interactive=False, verbosity=0)  # what each transactional test ends with

    assert not AuditEntry.objects.exists()
    ContentType.objects.clear_cache()  # the flush recreated them under new ids
    department = Department.objects.create(code="ops", name="Ops")
    entry = audit_record(target=department, actor=None, action="created")
    entry.refresh_from_db()
    assert entry.prev_hash == GENESIS_HASH  # a new chain, and a valid one
    assert verify() == f"Audit chain OK: 1 entries, head {entry.hash}\n"


def test_a_busy_process_chains_once_an_interval_and_the_relay_chains_the_rest(
    org, settings, django_capture_on_commit_callbacks, monkeypatch
) -> None:
    settings.AUDIT_CHAIN_SEAL_INTERVAL_MS = 60_000
    monkeypatch.setattr(audit_chain, "_last_chained_after_commit", -math.inf)

    def commit(comment: str) -> AuditEntry:
        with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
            entry = audit_record(
                target=org.department, actor=org.admin, action="edited", comment=comment
            )
        entry.refresh_from_db()
        return entry

    # The first commit in a while is chained at once; the next, within the interval, waits.
    assert commit("first").chain_index == 1
    waiting = commit("second")
    assert waiting.hash is None

    # The relay's pass (every second) chains it.
    call_command("relay_outbox", "--once", stdout=StringIO())
    waiting.refresh_from_db()
    assert waiting.chain_index == 2

    # Once the interval is over, a commit is chained at once again, with what waits.
    commit("third")
    assert commit("fourth").hash is None
    monkeypatch.setattr(audit_chain, "_last_chained_after_commit", time.monotonic() - 61)
    assert commit("fifth").chain_index == 5
    assert [e.comment for e in chained()] == ["first", "second", "third", "fourth", "fifth"]
    assert verify().startswith("Audit chain OK: 5 entries")


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_it_keeps_one_chain_under_concurrent_appends(org, chaining_after_every_commit) -> None:
    """Eight connections write entries at once, some of their transactions rolling back:
    as each commits its entries are chained, into one chain with every committed entry
    and none of the others."""
    writers, appends = 8, 12
    barrier = threading.Barrier(writers, timeout=30)
    errors: list[BaseException] = []

    class RolledBack(Exception):
        pass

    def write(writer: int) -> None:
        try:
            barrier.wait()
            for n in range(appends):
                try:
                    with transaction.atomic():
                        audit_record(
                            target=org.department,
                            actor=org.admin,
                            action="concurrent",
                            comment=f"{writer}/{n}",
                        )
                        if n % 4 == 3:
                            raise RolledBack
                except RolledBack:
                    pass
        except (DatabaseError, threading.BrokenBarrierError) as error:
            errors.append(error)
        finally:
            connections.close_all()  # this thread's own connection

    threads = [threading.Thread(target=write, args=(writer,)) for writer in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)
    assert errors == []

    # Every committed entry was chained by the writers themselves, none left waiting.
    assert not AuditEntry.objects.filter(chain_index__isnull=True).exists()
    committed = {f"{w}/{n}" for w in range(writers) for n in range(appends) if n % 4 != 3}
    assert sorted(e.comment for e in chained() if e.action == "concurrent") == sorted(committed)
    out = StringIO()
    call_command("verify_audit_chain", "--no-seal", stdout=out)
    assert out.getvalue().startswith(f"Audit chain OK: {AuditEntry.objects.count()} entries")


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_it_chains_the_entries_that_existed_before_the_migration(org) -> None:
    """Migration 0005 hashes the entries already there, in id order, as chaining would."""
    executor = MigrationExecutor(connection)
    executor.migrate([("procurement", "0004_objectives")])
    old_apps = executor.loader.project_state([("procurement", "0004_objectives")]).apps
    OldAuditEntry = old_apps.get_model("procurement", "AuditEntry")
    OldContentType = old_apps.get_model("contenttypes", "ContentType")
    department_type = OldContentType.objects.get(app_label="procurement", model="department")
    for n in range(5):
        OldAuditEntry.objects.create(
            content_type=department_type,
            object_id=org.department.pk,
            actor_id=org.admin.pk,
            action="edited",
            comment=f"before the chain {n}",
            created_at=timezone.now(),
        )

    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())

    chain = chained()
    assert [entry.comment for entry in chain] == [f"before the chain {n}" for n in range(5)]
    assert [entry.pk for entry in chain] == sorted(entry.pk for entry in chain)
    assert chain[0].prev_hash == GENESIS_HASH
    assert verify() == f"Audit chain OK: 5 entries, head {chain[-1].hash}\n"
    # ...and new entries continue the same chain.
    entry = audit_record(target=org.department, actor=org.admin, action="edited")
    entry.refresh_from_db()
    assert entry.prev_hash == chain[-1].hash
    assert "Audit chain OK: 6 entries" in verify()


def test_the_relay_says_once_that_chaining_fails_and_once_that_it_is_back(
    org, monkeypatch, caplog
) -> None:
    """The database restarting under the relay: its passes fail every second until it is
    back, and the log says so once, not once a pass."""
    from procurement.management.commands import relay_outbox

    restarting: list[int | Exception] = [DatabaseError("restarting")] * 3
    outcomes = [*restarting, 1, 0]

    def seal() -> int:
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    monkeypatch.setattr(relay_outbox, "audit_chain_seal", seal)
    relay = relay_outbox.Command()
    with caplog.at_level("INFO", logger="procurement.outbox"):
        for _ in range(5):
            relay._chain_audit_entries()

    messages = [record.getMessage() for record in caplog.records]
    assert messages == [
        "relay_outbox: could not chain the audit entries that wait",
        "relay_outbox: chaining audit entries again",
    ]
    assert outcomes == []
