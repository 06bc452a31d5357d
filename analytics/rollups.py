"""Rollups kept in step with spend lines.

Every write to `SpendLine` goes through a service that calls one of these in the same
transaction, so a rollup row always equals a fresh GROUP BY over the lines (the tests check
exactly that). Rows are added to or taken from by an upsert of the changed lines' sums,
never recomputed from scratch, so an import costs in proportion to its own size.

The SQL is written once for PostgreSQL and SQLite (both understand INSERT ... SELECT ...
ON CONFLICT DO UPDATE; SQLite needs the WHERE clause to parse it).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from django.db import connection, transaction

from analytics.models import (
    SpendByMonthCategory,
    SpendByMonthDepartment,
    SpendByMonthPayee,
    SpendByYearPayee,
    SpendCube,
    SpendLine,
    SpendRollup,
)

# (rollup model, its dimension columns as selected from the lines, their names in the
# rollup, and whether its `month` is the calendar year's first day rather than the month's)
ROLLUPS: list[tuple[type[SpendRollup], list[str], list[str], bool]] = [
    (SpendByMonthCategory, ["category_id"], ["category_id"], False),
    (SpendByMonthPayee, ["payee_id"], ["payee_id"], False),
    (SpendByYearPayee, ["payee_id"], ["payee_id"], True),
    (SpendByMonthDepartment, ["department_id"], ["department_id"], False),
    (
        SpendCube,
        ["department_id", "category_id", "(contract_id IS NOT NULL)"],
        ["department_id", "category_id", "on_contract"],
        False,
    ),
]


def _period(yearly: bool) -> str:
    """SQL for the rollup's `month` from a line's `month`."""
    if not yearly:
        return "month"
    if connection.vendor == "postgresql":
        return "CAST(date_trunc('year', month) AS date)"
    return "date(month, 'start of year')"


LINES = SpendLine._meta.db_table


def _upsert(where: str, params: Sequence[Any], *, sign: int) -> None:
    with connection.cursor() as cursor:
        for model, selected, columns, yearly in ROLLUPS:
            table = model._meta.db_table
            keys = ", ".join(["month", *columns])
            period = _period(yearly)
            cursor.execute(
                f"INSERT INTO {table} ({keys}, amount, lines) "  # noqa: S608 (names are ours)
                f"SELECT {period}, {', '.join(selected)}, {sign} * SUM(base_amount), {sign} * COUNT(*) "
                f"FROM {LINES} WHERE {where} "
                f"GROUP BY {period}, {', '.join(selected)} "
                f"ON CONFLICT ({keys}) DO UPDATE SET "
                f"amount = {table}.amount + excluded.amount, lines = {table}.lines + excluded.lines",
                params,
            )
            if sign < 0:
                cursor.execute(f"DELETE FROM {table} WHERE lines = 0")  # noqa: S608


def rollups_add_lines(*, where: str, params: Sequence[Any] = ()) -> None:
    """Add the lines matching `where` (SQL over the lines table) to every rollup.

    Call it inside the transaction that wrote those lines, after writing them.
    """
    _upsert(where, params, sign=1)


def rollups_remove_lines(*, where: str, params: Sequence[Any] = ()) -> None:
    """Take the lines matching `where` out of every rollup. Call it before deleting or
    changing those lines, in the same transaction."""
    _upsert(where, params, sign=-1)


_FINEST_KEYS = ["month", "department_id", "category_id", "payee_id", "on_contract"]
_RETURNED = (
    "RETURNING month, department_id, category_id, payee_id, "
    "(contract_id IS NOT NULL) AS on_contract, base_amount"
)


def _upserts_from_finest() -> str:
    """CTE parts upserting every rollup from a CTE named `finest` (the sums at the finest
    grain: month x department x category x payee x on contract)."""

    def upsert(model: type[SpendRollup], columns: list[str], yearly: bool) -> str:
        table = model._meta.db_table
        key_list = ", ".join(["month", *columns])
        selected = ", ".join([_period(yearly), *columns])
        return (
            f"INSERT INTO {table} ({key_list}, amount, lines) "  # noqa: S608 (names are ours)
            f"SELECT {selected}, SUM(amount), SUM(lines) FROM finest GROUP BY {selected} "
            f"ON CONFLICT ({key_list}) DO UPDATE SET "
            f"amount = {table}.amount + excluded.amount, lines = {table}.lines + excluded.lines"
        )

    return ", ".join(
        f"r{i} AS ({upsert(model, columns, yearly)})"
        for i, (model, _selected, columns, yearly) in enumerate(ROLLUPS)
    )


def rollups_insert_lines(*, insert_sql: str, params: Sequence[Any]) -> tuple[int, Decimal]:
    """Run `insert_sql` (an INSERT INTO the lines ... ON CONFLICT DO NOTHING, without a
    RETURNING clause) and add exactly the lines it inserted to every rollup. Returns how many
    lines it inserted and their total in the base currency.

    On PostgreSQL it is one statement: the inserted rows are summed once at the finest grain
    and every rollup is upserted from that, without reading the lines table again. Elsewhere
    the caller's `fallback_where` is used (see `_Loader`), so this is PostgreSQL only.
    """
    keys = ", ".join(_FINEST_KEYS)
    # Every name in this statement is ours; values travel as parameters.
    sql = (
        f"WITH inserted AS ({insert_sql} {_RETURNED}), "  # noqa: S608
        f"finest AS MATERIALIZED (SELECT {keys}, SUM(base_amount) AS amount, "
        f"COUNT(*) AS lines FROM inserted GROUP BY {keys}), "
        + _upserts_from_finest()
        + " SELECT COALESCE(SUM(lines), 0), COALESCE(SUM(amount), 0) FROM finest"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        count, total = cursor.fetchone()
    return int(count), Decimal(total)


# An import written in several parts (see analytics.services._LedgerWriter) sums each part's
# inserted lines into a temporary table, and upserts the rollups once at the end: upserting
# them after every part would rewrite the same rollup rows once per part.
def rollups_finest_table_create(table: str) -> None:
    """A temporary table (PostgreSQL, this connection, dropped at commit) for the sums."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMPORARY TABLE {table} (month date, department_id bigint, "
            "category_id bigint, payee_id bigint, on_contract boolean, "
            "amount numeric(20, 2), lines bigint) ON COMMIT DROP"
        )


def rollups_insert_lines_summed(
    *, insert_sql: str, params: Sequence[Any], finest_table: str
) -> tuple[int, Decimal]:
    """As rollups_insert_lines, but the inserted lines' sums go to `finest_table`; call
    rollups_add_finest(finest_table) once after the last part, in the same transaction."""
    keys = ", ".join(_FINEST_KEYS)
    sql = (
        f"WITH inserted AS ({insert_sql} {_RETURNED}), "  # noqa: S608
        f"summed AS (INSERT INTO {finest_table} ({keys}, amount, lines) "
        f"SELECT {keys}, SUM(base_amount), COUNT(*) FROM inserted GROUP BY {keys} "
        "RETURNING amount, lines) "
        "SELECT COALESCE(SUM(lines), 0), COALESCE(SUM(amount), 0) FROM summed"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        count, total = cursor.fetchone()
    return int(count), Decimal(total)


def rollups_add_finest(finest_table: str) -> None:
    keys = ", ".join(_FINEST_KEYS)
    sql = (
        f"WITH finest AS MATERIALIZED (SELECT {keys}, SUM(amount) AS amount, "  # noqa: S608
        f"SUM(lines) AS lines FROM {finest_table} GROUP BY {keys}), "
        + _upserts_from_finest()
        + " SELECT 1"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql)


@transaction.atomic
def rollups_rebuild() -> None:
    """Recompute every rollup from the lines: for repairs and for tests, never on a hot path."""
    with connection.cursor() as cursor:
        for model, _selected, _columns, _yearly in ROLLUPS:
            cursor.execute(f"DELETE FROM {model._meta.db_table}")  # noqa: S608
    _upsert("1 = 1", (), sign=1)
