"""Monthly partitions of the spend lines on PostgreSQL (docs/scaling.md, "Monthly partitioning").

`manage.py partition_spend_lines` turns the plain lines table into a table partitioned by
`month`, under the same name, with one partition per month that has lines, the next few
months, and a default partition. Nothing else changes: the models, the import's insert
(`ON CONFLICT DO NOTHING` without a target), the rollups and the selectors work on both
layouts.

How new months get their partitions: a line whose month has no partition lands in the
default partition, so an import never fails and never runs DDL. `spend_partitions_maintain()`
(run daily by beat, and by the command whenever it is run again) then creates the coming
months' partitions ahead of time and moves any month found in the default partition (a
historic file, say) into a partition of its own. Creating a partition inside the import
instead would hold an ACCESS EXCLUSIVE lock on the lines table for the import's whole
transaction (minutes for a large file), blocking every read of lines meanwhile.

Every DDL transaction here first waits at most LOCK_TIMEOUT for that lock: a running import
holds the table, and a DDL statement waiting behind it would queue every later query of the
table behind itself. The maintenance then simply tries again on its next run.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import OperationalError, connection, transaction
from django.utils import timezone

from analytics.models import SpendLine

logger = logging.getLogger(__name__)

LINES = SpendLine._meta.db_table
DEFAULT_PARTITION = f"{LINES}_default"
FLAT = f"{LINES}_flat"
MONTHS_AHEAD = 3
LOCK_TIMEOUT = "10s"

_BOUND = re.compile(r"FOR VALUES FROM \('(\d{4}-\d{2}-\d{2})'\) TO \('(\d{4}-\d{2}-\d{2})'\)")
_KEY = re.compile(r"^(PRIMARY KEY|UNIQUE) \(([^()]*)\)$")


class PartitionError(Exception):
    """Why the lines cannot be partitioned (or maintained) now; the message says what to do."""


@dataclass
class PartitionPlan:
    """The SQL one run would execute, in one transaction, and what it would do."""

    converting: bool
    statements: list[str] = field(default_factory=list)
    months_created: list[dt.date] = field(default_factory=list)
    # Months found in the default partition: {month: lines moved to its own partition}.
    months_moved: dict[dt.date, int] = field(default_factory=dict)
    lines: int = 0

    @property
    def empty(self) -> bool:
        return not self.statements

    def sql(self) -> str:
        """The plan as a script for psql (what --dry-run prints)."""
        if self.empty:
            return "-- Nothing to do.\n"
        return "BEGIN;\n" + "".join(f"{s.rstrip(';')};\n" for s in self.statements) + "COMMIT;\n"


# --- Reading the catalog ------------------------------------------------------------------


def _require_postgresql() -> None:
    if connection.vendor != "postgresql":
        raise PartitionError(
            f"Monthly partitions need PostgreSQL; this database is {connection.vendor} "
            "(DATABASE_URL). One lines table is right at that size: the dashboards read "
            "rollups (docs/scaling.md)."
        )


def _one(sql: str, params: Sequence[Any] = ()) -> Any:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    return row[0] if row else None


def _all(sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return list(cursor.fetchall())


def spend_lines_are_partitioned() -> bool:
    """True when the lines table is partitioned (PostgreSQL only; False elsewhere)."""
    if connection.vendor != "postgresql":
        return False
    return _one("SELECT relkind FROM pg_class WHERE oid = %s::regclass", [LINES]) == "p"


def spend_line_partitions() -> list[tuple[str, dt.date, dt.date]]:
    """(name, first month, month after the last) of every range partition, by month."""
    ranges = []
    for name, bound in _all(
        "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i "
        "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = %s::regclass",
        [LINES],
    ):
        found = _BOUND.fullmatch(str(bound))
        if found:  # the default partition's bound is "DEFAULT"
            start, end = (dt.date.fromisoformat(value) for value in found.groups())
            ranges.append((str(name), start, end))
    return sorted(ranges, key=lambda r: r[1])


def _covered(month: dt.date, ranges: list[tuple[str, dt.date, dt.date]]) -> bool:
    return any(start <= month < end for _, start, end in ranges)


def _next_month(month: dt.date) -> dt.date:
    return dt.date(month.year + month.month // 12, month.month % 12 + 1, 1)


def months_between(first: dt.date, last: dt.date) -> list[dt.date]:
    """First days of the months from `first`'s to `last`'s, both included."""
    month, months = first.replace(day=1), []
    while month <= last:
        months.append(month)
        month = _next_month(month)
    return months


def _months_ahead(today: dt.date, ahead: int) -> list[dt.date]:
    start = today.replace(day=1)
    end = start
    for _ in range(ahead):
        end = _next_month(end)
    return months_between(start, end)


def _partition_name(month: dt.date) -> str:
    return f"{LINES}_{month:%Y_%m}"


def _create_partition(month: dt.date) -> str:
    return (
        f"CREATE TABLE {_partition_name(month)} PARTITION OF {LINES} "
        f"FOR VALUES FROM ('{month.isoformat()}') TO ('{_next_month(month).isoformat()}')"
    )


def _lock() -> list[str]:
    # Wait a bounded time for the table (see the module's docstring), then hold it to the end.
    return [
        f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'",
        f"LOCK TABLE {LINES} IN ACCESS EXCLUSIVE MODE",
    ]


# --- Planning ---------------------------------------------------------------------------


def partition_plan(
    *,
    months_ahead: int = MONTHS_AHEAD,
    extra_months: list[dt.date] | None = None,
    today: dt.date | None = None,
) -> PartitionPlan:
    """What partitioning (or, if done, maintaining) the lines would run now: read-only."""
    _require_postgresql()
    today = today or timezone.localdate()
    wanted = set(_months_ahead(today, months_ahead)) | set(extra_months or [])
    if spend_lines_are_partitioned():
        return _maintenance_plan(wanted)
    return _conversion_plan(wanted)


def _conversion_plan(wanted: set[dt.date]) -> PartitionPlan:
    plan = PartitionPlan(converting=True)
    plan.lines = int(_one(f"SELECT count(*) FROM {LINES}") or 0)  # noqa: S608 (our name)
    with_lines = {
        month
        for (month,) in _all(f"SELECT DISTINCT month FROM {LINES}")  # noqa: S608
    }
    months = sorted({m.replace(day=1) for m in with_lines if isinstance(m, dt.date)} | wanted)
    plan.months_created = months

    # The flat table's keys and indexes, recreated under the same names (so later Django
    # migrations that name them still apply) on the partitioned table. A key on a
    # partitioned table must contain the partition key: month is added to each.
    keys, constraint_indexes = [], set()
    for name, _kind, definition, index in _all(
        "SELECT conname, contype, pg_get_constraintdef(oid), conindid::regclass::text "
        "FROM pg_constraint WHERE conrelid = %s::regclass AND contype IN ('p', 'u')",
        [LINES],
    ):
        found = _KEY.fullmatch(str(definition))
        if not found:
            raise PartitionError(
                f"The lines table has a key this command does not know how to partition: "
                f"{name} {definition}. Partition by hand (docs/scaling.md)."
            )
        columns = [c.strip() for c in found.group(2).split(",")]
        if "month" not in columns:
            columns.append("month")
        keys.append(
            f"ALTER TABLE {LINES} ADD CONSTRAINT {name} {found.group(1)} ({', '.join(columns)})"
        )
        constraint_indexes.add(str(index))
    indexes = []
    for name, definition, unique in _all(
        "SELECT i.relname, pg_get_indexdef(i.oid), x.indisunique FROM pg_index x "
        "JOIN pg_class i ON i.oid = x.indexrelid WHERE x.indrelid = %s::regclass",
        [LINES],
    ):
        if str(name) in constraint_indexes:
            continue
        if unique:
            raise PartitionError(
                f"The lines table has a unique index without a constraint ({name}): "
                "partition by hand (docs/scaling.md)."
            )
        indexes.append(str(definition))
    # A foreign key to a partitioned table must name its whole key (id, month): the anomaly
    # links keep a plain spendline_id, which anomalies_forget_lines cleans before any line
    # is deleted (spend_import_delete calls it first).
    foreign_keys = _all(
        "SELECT conrelid::regclass::text, conname FROM pg_constraint "
        "WHERE confrelid = %s::regclass AND contype = 'f'",
        [LINES],
    )

    s = plan.statements
    s += _lock()
    s.append(f"ALTER TABLE {LINES} RENAME TO {FLAT}")
    s.append(
        f"CREATE TABLE {LINES} (LIKE {FLAT} INCLUDING DEFAULTS INCLUDING CONSTRAINTS "
        "INCLUDING IDENTITY) PARTITION BY RANGE (month)"
    )
    s += [_create_partition(month) for month in months]
    s.append(f"CREATE TABLE {DEFAULT_PARTITION} PARTITION OF {LINES} DEFAULT")
    s.append(f"INSERT INTO {LINES} SELECT * FROM {FLAT}")  # noqa: S608
    s.append(
        "DO $$ BEGIN "  # noqa: S608 (our table names)
        f"IF (SELECT count(*) FROM {LINES}) <> (SELECT count(*) FROM {FLAT}) THEN "
        "RAISE EXCEPTION 'line counts differ: nothing changed'; END IF; END $$"
    )
    s += [f"ALTER TABLE {table} DROP CONSTRAINT {name}" for table, name in foreign_keys]
    # Drops the flat table's indexes and its id sequence; the new table's sequence (made by
    # INCLUDING IDENTITY) takes the old name and goes on after the highest id.
    s.append(f"DROP TABLE {FLAT}")
    s.append(
        "DO $$ BEGIN EXECUTE format('ALTER SEQUENCE %s RENAME TO "
        f"{LINES}_id_seq', pg_get_serial_sequence('{LINES}', 'id')); END $$"
    )
    s.append(
        f"SELECT setval(pg_get_serial_sequence('{LINES}', 'id'), "  # noqa: S608
        f"(SELECT coalesce(max(id), 0) + 1 FROM {LINES}), false)"
    )
    s += keys
    s += indexes
    s.append(f"ANALYZE {LINES}")
    return plan


def _maintenance_plan(wanted: set[dt.date]) -> PartitionPlan:
    plan = PartitionPlan(converting=False)
    ranges = spend_line_partitions()
    in_default = {
        month: int(lines)
        for month, lines in _all(
            f"SELECT month, count(*) FROM {DEFAULT_PARTITION} GROUP BY month"  # noqa: S608
        )
        if isinstance(month, dt.date)
    }
    missing = sorted(m for m in wanted | set(in_default) if not _covered(m, ranges))
    if not missing:
        return plan
    plan.months_created = missing
    s = plan.statements
    s += _lock()
    for month in missing:
        if month not in in_default:
            s.append(_create_partition(month))
            continue
        # A partition cannot be created while the default one holds rows of its range:
        # take the month's lines out (same ids, so the anomaly links still hold), create
        # the partition, and put them back through the parent, which routes them to it.
        plan.months_moved[month] = in_default[month]
        moving = f"spend_lines_moving_{month:%Y_%m}"
        s.append(f"CREATE TEMPORARY TABLE {moving} (LIKE {LINES}) ON COMMIT DROP")
        s.append(
            f"WITH moved AS (DELETE FROM {DEFAULT_PARTITION} "  # noqa: S608
            f"WHERE month >= '{month.isoformat()}' AND month < '{_next_month(month).isoformat()}' "
            f"RETURNING *) INSERT INTO {moving} SELECT * FROM moved"
        )
        s.append(_create_partition(month))
        s.append(f"INSERT INTO {LINES} SELECT * FROM {moving}")  # noqa: S608
    if plan.months_moved:
        s.append(f"ANALYZE {LINES}")
    return plan


# --- Running ----------------------------------------------------------------------------


def partition_plan_apply(plan: PartitionPlan) -> None:
    """Run the plan in one transaction: all of it or nothing. Raises PartitionError when the
    lines table stays locked (an import running) for longer than LOCK_TIMEOUT."""
    if plan.empty:
        return
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            for statement in plan.statements:
                cursor.execute(statement)
    except OperationalError as exc:
        if getattr(exc.__cause__, "pgcode", None) == "55P03":  # lock_not_available
            raise PartitionError(
                f"The spend lines table stayed busy for {LOCK_TIMEOUT} (an import or a long "
                "query is using it); nothing changed. Run this again when it is idle."
            ) from exc
        raise


def spend_partitions_maintain(
    *, months_ahead: int = MONTHS_AHEAD, today: dt.date | None = None
) -> PartitionPlan | None:
    """Create the coming months' partitions and move months found in the default partition
    into their own. Does nothing (None) unless the lines are partitioned; logs and returns
    None when an import keeps the table busy (the next run does it). One transaction."""
    if not spend_lines_are_partitioned():
        return None
    plan = partition_plan(months_ahead=months_ahead, today=today)
    try:
        partition_plan_apply(plan)
    except PartitionError as exc:
        logger.warning("spend line partitions not maintained: %s", exc)
        return None
    if not plan.empty:
        logger.info(
            "spend line partitions created for %s; lines moved out of the default one: %s",
            ", ".join(f"{m:%Y-%m}" for m in plan.months_created),
            sum(plan.months_moved.values()),
        )
    return plan
