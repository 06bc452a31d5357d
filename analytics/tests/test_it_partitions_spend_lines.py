"""`manage.py partition_spend_lines` turns a ledger of real spend files into monthly
partitions without changing a figure, and the platform goes on importing, deduplicating,
deleting and finding anomalies on it; the coming months get their partitions.

Each PostgreSQL test works in a database of its own, copied from the test database (CREATE
DATABASE ... TEMPLATE) and dropped afterwards: the conversion changes the schema, which a
flush would not undo, and every later test must find the plain table the migrations made.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from io import StringIO
from pathlib import Path
from typing import Any

import psycopg2  # type: ignore[import-untyped]
import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import connection, connections
from django.db.models import Count, Sum
from django.urls import reverse

from analytics import partitions
from analytics.models import (
    SpendAnomaly,
    SpendByMonthCategory,
    SpendByMonthDepartment,
    SpendByMonthPayee,
    SpendByYearPayee,
    SpendCube,
    SpendImport,
    SpendLine,
)
from analytics.partitions import DEFAULT_PARTITION, spend_lines_are_partitioned
from analytics.scope import SpendFilters
from analytics.services import (
    spend_import_delete,
    spend_import_from_path,
    spend_import_run,
    spend_source_get_or_create,
)
from analytics.tests.datasets import CABINET, CABINET_DIR, CARD, CARD_FILE, DATASETS
from analytics.tests.test_it_keeps_rollups_equal_to_the_lines import (
    assert_rollups_match_the_lines,
)
from conftest import Org

LINES = SpendLine._meta.db_table
ROLLUPS = (
    SpendByMonthCategory,
    SpendByMonthPayee,
    SpendByMonthDepartment,
    SpendByYearPayee,
    SpendCube,
)

needs_postgresql = pytest.mark.skipif(
    settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql",
    reason="monthly partitions are a PostgreSQL feature (SQLite gets a clear refusal, below)",
)
needs_datasets = pytest.mark.skipif(
    not DATASETS.is_dir(), reason=f"the shared real spend files are not at {DATASETS}"
)
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pytest.fixture
def own_database(transactional_db: None) -> Iterator[str]:
    """The test database's copy, used by every connection of this process until the test
    ends; then dropped, and the test database is used again."""
    default = connections["default"]
    original = default.settings_dict["NAME"]
    copy = f"{original}_partitions"
    default.close()
    with default._nodb_cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{copy}" WITH (FORCE)')
        cursor.execute(f'CREATE DATABASE "{copy}" TEMPLATE "{original}"')
    default.settings_dict["NAME"] = copy
    try:
        yield copy
    finally:
        default.close()
        default.settings_dict["NAME"] = original
        with default._nodb_cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{copy}" WITH (FORCE)')


@pytest.fixture
def org(own_database: str, org: Org) -> Org:
    """conftest's organisation, made in this test's own database."""
    return org


def _import(path: Path, source: str, mapping: dict) -> SpendImport:
    spend_source = spend_source_get_or_create(name=source, currency="GBP")
    return spend_import_run(
        spend_import_id=spend_import_from_path(source=spend_source, path=path, mapping=mapping).pk
    )


def _lines_by_table() -> dict[tuple[str, dt.date], int]:
    """(the table that holds them, month): number of lines."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT tableoid::regclass::text, month, count(*) FROM {LINES} GROUP BY 1, 2"
        )
        return {(table, month): count for table, month, count in cursor.fetchall()}


def _ledger() -> dict[str, Any]:
    """Every figure a user reads off the ledger, the rollups and the findings."""
    return {
        "lines": SpendLine.objects.count(),
        "total": SpendLine.objects.aggregate(t=Sum("base_amount"))["t"],
        "by_month": dict(SpendLine.objects.values_list("month").annotate(n=Count("id")).order_by()),
        "rollups": {
            model.__name__: sorted(
                model._default_manager.values_list("month", "amount", "lines").order_by()
            )
            for model in ROLLUPS
        },
        "findings": sorted(
            (a.kind, a.amount, tuple(sorted(a.lines.values_list("id", flat=True))))
            for a in SpendAnomaly.objects.all()
        ),
        "imports": sorted(
            SpendImport.objects.values_list(
                "filename", "rows_imported", "rows_already_imported", "total_base_amount"
            )
        ),
    }


def _orphan_links() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT count(*) FROM {SpendAnomaly.lines.through._meta.db_table} "
            f"WHERE spendline_id NOT IN (SELECT id FROM {LINES})"
        )
        return int(cursor.fetchone()[0])


def _partition(month: dt.date) -> str:
    return f"{LINES}_{month:%Y_%m}"


def _convert() -> str:
    out = StringIO()
    call_command("partition_spend_lines", stdout=out)
    return out.getvalue()


@needs_postgresql
@needs_datasets
def test_it_partitions_a_real_ledger_by_month_without_changing_a_figure(org: Org) -> None:
    card = _import(CARD_FILE, "Home Office card", CARD)
    _import(CABINET_DIR / "2020-03.csv", "Cabinet Office", CABINET)
    assert card.rows_imported > 800
    assert SpendAnomaly.objects.exists(), "the card file's duplicates and splits are found"
    before = _ledger()

    output = _convert()

    assert spend_lines_are_partitioned()
    assert "Partitioned the spend lines by month" in output
    assert f"{before['lines']:,} lines" in output
    assert _ledger() == before
    assert_rollups_match_the_lines()
    assert _orphan_links() == 0
    # Every line sits in the partition of its own month; none in the default partition.
    placed = _lines_by_table()
    assert {month for _, month in placed} == set(before["by_month"])
    assert all(table == _partition(month) for table, month in placed)
    # The anomaly links still lead to their lines.
    finding = SpendAnomaly.objects.order_by("id").first()
    assert finding is not None
    assert finding.lines.count() >= 2
    assert all(line.payee_id == finding.payee_id for line in finding.lines.all())

    client = org.client_for(org.procurement)
    for page in (
        reverse("analytics:overview"),
        reverse("analytics:over-time"),
        reverse("analytics:vendors"),
        reverse("analytics:prices"),
        reverse("anomalies:list"),
        reverse("spend_imports:detail", args=[card.pk]),
    ):
        response = client.get(page)
        assert response.status_code == 200, page

    # A query on one month reads that month's partition only.
    march = dt.date(2020, 3, 1)
    plan = SpendLine.objects.filter(SpendFilters(month_from=march, month_to=march).q()).explain()
    touched = {word for word in plan.split() if word.startswith(f"{LINES}_")}
    assert touched == {_partition(march)}, plan

    again = _convert()
    assert "already partitioned" in again
    assert "Nothing to do" in again
    assert _ledger() == before


@needs_postgresql
@needs_datasets
def test_it_imports_deduplicates_and_deletes_on_partitioned_lines(org: Org) -> None:
    card = _import(CARD_FILE, "Home Office card", CARD)
    _convert()
    after_conversion = _ledger()

    # The same file again adds nothing: the identity constraint still holds per month.
    again = _import(CARD_FILE, "Home Office card", CARD)
    assert (again.rows_imported, again.rows_already_imported) == (0, card.rows_imported)
    assert SpendLine.objects.count() == after_conversion["lines"]

    # A file of a month that has a partition lands in it.
    march = _import(CABINET_DIR / "2020-03.csv", "Cabinet Office", CABINET)
    assert march.rows_imported > 0
    assert _lines_by_table()[(_partition(dt.date(2020, 3, 1)), dt.date(2020, 3, 1))] == (
        after_conversion["by_month"][dt.date(2020, 3, 1)] + march.rows_imported
    )

    # An older file lands in the default partition; the maintenance gives it its own month.
    june_2019 = dt.date(2019, 6, 1)
    old = _import(CABINET_DIR / "2019-06.csv", "Cabinet Office", CABINET)
    assert _lines_by_table()[(DEFAULT_PARTITION, june_2019)] == old.rows_imported
    assert_rollups_match_the_lines()
    before_split = _ledger()

    plan = partitions.spend_partitions_maintain()

    assert plan is not None
    assert plan.months_moved == {june_2019: old.rows_imported}
    assert _lines_by_table()[(_partition(june_2019), june_2019)] == old.rows_imported
    assert DEFAULT_PARTITION not in {table for table, _ in _lines_by_table()}
    assert _ledger() == before_split
    assert _import(CABINET_DIR / "2019-06.csv", "Cabinet Office", CABINET).rows_imported == 0

    # Deleting an import takes its lines out of every partition, the rollups and findings.
    findings_before = SpendAnomaly.objects.count()
    spend_import_delete(spend_import=card, user=org.procurement)
    assert not SpendLine.objects.filter(spend_import_id=card.pk).exists()
    assert SpendLine.objects.count() == before_split["lines"] - card.rows_imported
    assert_rollups_match_the_lines()
    assert _orphan_links() == 0
    assert SpendAnomaly.objects.count() < findings_before
    # ...and the file can be imported again, finding its anomalies again.
    back = _import(CARD_FILE, "Home Office card", CARD)
    assert back.rows_imported == card.rows_imported
    assert SpendAnomaly.objects.count() == findings_before
    assert_rollups_match_the_lines()


@needs_postgresql
def test_it_creates_the_coming_months_and_asked_for_months_once(org: Org) -> None:
    _convert()
    today = dt.date.today().replace(day=1)
    names = {name for name, _, _ in partitions.spend_line_partitions()}
    assert _partition(today) in names
    assert _partition(partitions._months_ahead(today, 3)[-1]) in names

    out = StringIO()
    call_command(
        "partition_spend_lines",
        "--from",
        "2011-04",
        "--to",
        "2011-06",
        "--months-ahead",
        "5",
        stdout=out,
    )

    names = {name for name, _, _ in partitions.spend_line_partitions()}
    assert {_partition(dt.date(2011, m, 1)) for m in (4, 5, 6)} <= names
    assert _partition(partitions._months_ahead(today, 5)[-1]) in names
    assert "2011-04" in out.getvalue()
    # The beat task's run finds nothing left to do.
    plan = partitions.spend_partitions_maintain(months_ahead=5)
    assert plan is not None
    assert plan.empty


@needs_postgresql
def test_it_leaves_the_lines_alone_while_an_import_holds_the_table(
    org: Org, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    _convert()
    monkeypatch.setattr(partitions, "LOCK_TIMEOUT", "300ms")
    db = connection.settings_dict
    importer = psycopg2.connect(
        dbname=db["NAME"],
        user=db["USER"],
        password=db["PASSWORD"],
        host=db["HOST"],
        port=db["PORT"],
    )
    try:
        with importer.cursor() as cursor:
            # What a running import holds on the lines until it commits.
            cursor.execute(f"LOCK TABLE {LINES} IN ROW EXCLUSIVE MODE")
        with caplog.at_level(logging.WARNING, logger="analytics.partitions"):
            assert partitions.spend_partitions_maintain(months_ahead=6) is None
        assert "stayed busy" in caplog.text
        with pytest.raises(CommandError, match="stayed busy for 300ms"):
            call_command("partition_spend_lines", "--months-ahead", "6", stdout=StringIO())
    finally:
        importer.rollback()
        importer.close()
    today = dt.date.today().replace(day=1)
    last = partitions._months_ahead(today, 6)[-1]
    assert _partition(last) not in {name for name, _, _ in partitions.spend_line_partitions()}


@needs_postgresql
def test_it_prints_the_sql_and_changes_nothing_on_a_dry_run() -> None:
    out = StringIO()
    call_command("partition_spend_lines", "--dry-run", stdout=out)

    sql = out.getvalue()
    assert sql.startswith("BEGIN;\n")
    assert sql.endswith("COMMIT;\n")
    assert f"CREATE TABLE {LINES} (LIKE" in sql
    assert "PARTITION BY RANGE (month)" in sql
    assert "UNIQUE (source_id, identity, month)" in sql
    assert not spend_lines_are_partitioned()


def test_it_refuses_bad_months_with_a_clear_message() -> None:
    with pytest.raises(CommandError, match="go together"):
        call_command("partition_spend_lines", "--from", "2011-04")
    with pytest.raises(CommandError, match="after --to"):
        call_command("partition_spend_lines", "--from", "2011-06", "--to", "2011-04")
    result = _run_command(["--from", "2011-13", "--to", "2011-14"])
    assert result.returncode != 0
    assert "'2011-13' is not a month; write it as 2011-04" in result.stderr


def test_it_refuses_on_sqlite_with_a_clear_message(tmp_path: Path) -> None:
    result = _run_command([], DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}")

    assert result.returncode == 1
    assert "Monthly partitions need PostgreSQL; this database is sqlite" in result.stderr


def _run_command(args: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", "partition_spend_lines", *args],
        cwd=settings.BASE_DIR,
        env={**os.environ, "DEBUG": "1", **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
