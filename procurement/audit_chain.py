"""The audit trail's hash chain: what an entry's hash covers, how entries are chained in
one order, and how the chain is checked (`manage.py verify_audit_chain`; docs/security.md).

Each entry's `hash` is SHA-256 over a canonical serialisation of its fields and of
`prev_hash`, the hash of the entry before it. Changing an entry changes its hash; removing
one leaves its successor pointing at a hash that is no longer there. Anyone who can write
to the database can still recompute the whole chain after rewriting it: keep the head hash
that verify_audit_chain prints somewhere else and pass it back as an `--anchor`.

Entries are chained a moment after the transaction that wrote them commits, not inside it
(audit_record queues audit_chain_seal_after_commit on commit): chaining takes the one chain
lock, and holding that until a state change commits would make every state change wait for
every other one, and deadlock against the row locks they take after writing their entry.
A busy process chains at most every AUDIT_CHAIN_SEAL_INTERVAL_MS, each time all that waits;
the relay (manage.py relay_outbox) chains what is left behind every second.

Two implementations chain, one verifies: on PostgreSQL the migration's
`procurement_audit_chain()` function (one round trip, run as the table's owner), on
SQLite the Python below; audit_chain_verify recomputes every hash in Python, and the tests
run it after both.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import math
import time
from collections.abc import Collection
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import connection, models, transaction

from procurement.models import AuditChainHead, AuditEntry

logger = logging.getLogger(__name__)

# What the first entry points back to.
GENESIS_HASH = "0" * 64
HEAD_ID = 1
# Entries read at a time when chaining on SQLite.
SEAL_BATCH = 1000
ENTRY_FIELDS = (
    "id",
    "content_type_id",
    "object_id",
    "actor_id",
    "action",
    "from_state",
    "to_state",
    "comment",
    "created_at",
)


def audit_entry_digest(
    *,
    content_type: str,
    object_id: int,
    actor_id: int | None,
    action: str,
    from_state: str,
    to_state: str,
    comment: str,
    created_at: dt.datetime,
    prev_hash: str,
) -> str:
    """Hex SHA-256 of an entry. `content_type` is "app_label.model".

    The serialisation is JSON with sorted keys and no spaces, strings escaped as both
    Python's json (ensure_ascii=False) and PostgreSQL's to_json escape them (quote,
    backslash, control characters; everything else as is), in UTF-8, and the time in UTC
    to the microsecond (what both PostgreSQL and SQLite store), so the same entry read
    back from the database hashes the same. procurement_audit_chain() (migration 0005)
    builds the same text in SQL: change both or neither, and never for a stored chain.
    """
    canonical = json.dumps(
        {
            "action": action,
            "actor": actor_id,
            "comment": comment,
            "content_type": content_type,
            "created_at": created_at.astimezone(dt.UTC).isoformat(timespec="microseconds"),
            "from_state": from_state,
            "object_id": object_id,
            "prev_hash": prev_hash,
            "to_state": to_state,
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def content_type_label(content_type_id: int) -> str:
    """The "app_label.model" an entry's hash names (from Django's content type cache)."""
    try:
        content_type = ContentType.objects.get_for_id(content_type_id)
    except ContentType.DoesNotExist:
        return f"unknown content type {content_type_id}"
    return f"{content_type.app_label}.{content_type.model}"


def _digest_row(row: tuple, prev_hash: str) -> str:
    _id, ct_id, object_id, actor_id, action, from_state, to_state, comment, created_at = row
    return audit_entry_digest(
        content_type=content_type_label(ct_id),
        object_id=object_id,
        actor_id=actor_id,
        action=action,
        from_state=from_state,
        to_state=to_state,
        comment=comment,
        created_at=created_at,
        prev_hash=prev_hash,
    )


def audit_chain_seal() -> int:
    """Chain every entry not chained yet, lowest id first, and return how many it chained.

    audit_record queues it (audit_chain_seal_after_commit) on the commit of every
    transaction that wrote an entry, and the relay calls it every second. It
    holds the chain lock while it works (a PostgreSQL advisory lock; SQLite's write lock),
    so the chain has one order and cannot fork; callers queue on it for the moment it
    takes, and the first chains what the others wrote too: they find nothing left. With
    nothing to chain it writes nothing. Entries left behind by a process that died between
    commit and chaining are chained by the next call, from any process (verify_audit_chain
    makes one).

    Called outside a transaction (as on commit), it commits without waiting for the disk:
    an entry is durable with the change it records, and a chaining lost in a crash is
    redone from the entries (docs/security.md).
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT procurement_audit_chain(%s)", [not connection.in_atomic_block])
            [[sealed]] = cursor.fetchall()
        return int(sealed)
    return _seal_in_python()


# When this process last chained after a commit (time.monotonic()).
_last_chained_after_commit = -math.inf


def audit_chain_seal_after_commit() -> int:
    """What audit_record queues on commit: audit_chain_seal, unless this process chained
    less than AUDIT_CHAIN_SEAL_INTERVAL_MS ago (200 ms; 0 chains after every commit).

    Each chaining costs a round trip, the chain lock and an update of the chain's head,
    whether it chains one entry or fifty, and every process's commits queue on that one
    lock: a web process that approves forty requests a second chained forty times a second
    (0.7-1.1 ms of PostgreSQL's CPU each, bench/web). Now it chains about five times a
    second, each time everything waiting, its own entries and other processes'. An entry
    committed within the interval waits for the next chaining of any process, or at most a
    second for the relay's (relay_outbox chains on every pass). A quiet process chains
    right after its commit, as before.
    """
    global _last_chained_after_commit
    now = time.monotonic()
    if now - _last_chained_after_commit < settings.AUDIT_CHAIN_SEAL_INTERVAL_MS / 1000:
        return 0
    _last_chained_after_commit = now
    return audit_chain_seal()


def _seal_in_python() -> int:
    """What procurement_audit_chain() does, for SQLite (whose transactions here take the
    database's write lock as they begin: the chain lock)."""
    # Read first: the relay asks every second, and on SQLite the transaction below takes the
    # database's write lock even when there is nothing to chain.
    if not AuditEntry.objects.filter(chain_index__isnull=True).exists():
        return 0
    sealed = 0
    with transaction.atomic():
        head: AuditChainHead | None = None
        while pending := list(
            AuditEntry.objects.filter(chain_index__isnull=True)
            .order_by("id")
            .values_list(*ENTRY_FIELDS)[:SEAL_BATCH]
        ):
            head = head or _head()
            for row in pending:
                entry_hash = _digest_row(row, head.hash)
                # The model's queryset refuses updates; chaining is the one there is.
                models.QuerySet.update(
                    AuditEntry.objects.filter(pk=row[0], chain_index__isnull=True),
                    chain_index=head.length + 1,
                    prev_hash=head.hash,
                    hash=entry_hash,
                )
                head.hash, head.last_entry_id, head.length = entry_hash, row[0], head.length + 1
            sealed += len(pending)
        if head is not None:
            head.save(update_fields=["hash", "last_entry_id", "length"])
    return sealed


def _head() -> AuditChainHead:
    """The chain head (call holding the chain lock)."""
    head = AuditChainHead.objects.filter(pk=HEAD_ID).first()
    if head is not None:
        return head
    # Missing: the row comes with the migration, and goes only when a test database is
    # flushed (or someone deletes it). Rebuild it from the chain as it stands.
    last = (
        AuditEntry.objects.filter(chain_index__isnull=False)
        .order_by("-chain_index")
        .values_list("id", "chain_index", "hash")
        .first()
    )
    last_id, length, last_hash = last or (None, 0, GENESIS_HASH)
    if last_id is not None:
        logger.warning("The audit chain head was missing; rebuilt it at entry %s.", last_id)
    return AuditChainHead.objects.create(
        pk=HEAD_ID, last_entry_id=last_id, length=length or 0, hash=last_hash or GENESIS_HASH
    )


@dataclass(frozen=True)
class ChainBreak:
    """The first place where the chain does not hold. `entry_id` is None for the head."""

    entry_id: int | None
    problem: str


@dataclass(frozen=True)
class ChainReport:
    length: int
    head_hash: str
    broken: ChainBreak | None = None
    missing_anchors: list[str] = field(default_factory=list)
    # Entries written but not chained yet: normally only those committed a moment ago.
    unchained: int = 0

    @property
    def ok(self) -> bool:
        return self.broken is None and not self.missing_anchors


def audit_chain_verify(
    *, anchors: Collection[str] = (), chunk_size: int = 2000, seal: bool = True
) -> ChainReport:
    """Walk the chain in order, recompute every hash, and report the first broken link.

    Chains waiting entries first (unless `seal` is False, e.g. on a read-only replica).
    Streams the entries (`chunk_size` at a time) in one read-only snapshot (REPEATABLE
    READ on PostgreSQL), so entries chained meanwhile neither show up half-way nor make
    the head look wrong. `anchors` are head hashes recorded earlier: each must still be
    the hash of some entry, or history before it was rewritten and re-hashed.
    """
    if seal:
        audit_chain_seal()
    # Inside a caller's transaction (a test) the snapshot is the caller's to choose.
    outermost = not connection.in_atomic_block
    with transaction.atomic():
        if outermost and connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        return _walk(anchors=set(anchors), chunk_size=chunk_size)


def _walk(*, anchors: set[str], chunk_size: int) -> ChainReport:
    head = AuditChainHead.objects.filter(pk=HEAD_ID).first()
    rows = (
        AuditEntry.objects.filter(chain_index__isnull=False)
        .order_by("chain_index")
        .values_list(*ENTRY_FIELDS, "chain_index", "prev_hash", "hash")
        .iterator(chunk_size=chunk_size)
    )
    length = 0
    previous_id: int | None = None
    previous_hash = GENESIS_HASH
    for row in rows:
        entry_id, (index, prev_hash, stored) = row[0], row[-3:]
        if prev_hash != previous_hash:
            if previous_id is None:
                problem = (
                    f"it is the first entry of the chain, but its prev_hash is {prev_hash} "
                    "instead of the genesis hash 000…0: the entries before it were removed"
                )
            else:
                problem = (
                    f"its prev_hash is {prev_hash}, but the entry before it in the chain, "
                    f"{previous_id}, has hash {previous_hash}: an entry between them was "
                    f"removed, or entry {previous_id} was changed and re-hashed"
                )
            return _broken(length, previous_hash, entry_id, problem)
        if index != length + 1:
            problem = (
                f"it is number {index} in the chain, but the entry before it is number "
                f"{length}: entries between them were removed and the chain re-linked"
            )
            return _broken(length, previous_hash, entry_id, problem)
        recomputed = _digest_row(row[: len(ENTRY_FIELDS)], prev_hash)
        if recomputed != stored:
            problem = (
                f"its fields hash to {recomputed}, but it stores {stored}: the entry was "
                "changed after it was written"
            )
            return _broken(length, previous_hash, entry_id, problem)
        anchors.discard(stored)
        length += 1
        previous_id, previous_hash = entry_id, stored

    if head is None:
        if length:
            problem = "the chain head row is missing: it was deleted"
            return _broken(length, previous_hash, None, problem)
    elif (head.length, head.last_entry_id, head.hash) != (length, previous_id, previous_hash):
        problem = (
            f"the chain head says {head.length} entries ending at entry {head.last_entry_id} "
            f"(hash {head.hash}), but the chain has {length} ending at entry {previous_id} "
            f"(hash {previous_hash}): entries were removed from its end"
        )
        return _broken(length, previous_hash, None, problem)
    return ChainReport(
        length=length,
        head_hash=previous_hash,
        missing_anchors=sorted(anchors),
        unchained=AuditEntry.objects.filter(chain_index__isnull=True).count(),
    )


def _broken(length: int, head_hash: str, entry_id: int | None, problem: str) -> ChainReport:
    return ChainReport(
        length=length, head_hash=head_hash, broken=ChainBreak(entry_id=entry_id, problem=problem)
    )
