"""Spend analytics at a million lines: the platform beside plain SQL and DuckDB.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/procurement \\
        .venv/bin/python bench/spend_at_scale.py [--lines 1000000] [--runs 5]
        [--database-url postgres://.../procurement_bench] [--output docs/benchmarks.md]

PostgreSQL only. Works in a database of its own (`procurement_bench` on the server
DATABASE_URL names, or --database-url; its name must contain "bench"), which it drops,
creates and migrates: the development database is never touched.

1. generates N spend lines as a Leeds-style CSV (dd/mm/yyyy dates, "2,142.73" amounts) by
   resampling supplier/category/department/amount rows of the real files in
   ../shared/datasets, dated over three years, streamed to a temporary file;
2. imports it through the platform's import path (`analytics.services.spend_import_run`:
   parsing, payee matching, staging, dedup, rollups, anomaly scan) in a child process, so
   its time and peak RSS are its own;
3. runs the plain SQL pipeline doing the same work in the same database: COPY into a
   staging table, then one INSERT ... SELECT parsing dates and amounts, resolving payee
   (through a pre-built name table), category and department, hashing and numbering the
   identities as the platform does, and skipping lines already there (ON CONFLICT DO
   NOTHING), into a copy of the lines table with the same indexes and constraints;
4. times the dashboard questions (monthly spend by category, top 20 vendors in a year,
   spend by department in a year, the anomaly scan) through the platform's selectors, as
   plain SQL over the lines in PostgreSQL, and in DuckDB over the same CSV in memory:
   median of --runs runs after one warm-up;
5. times the dashboard page through Django's test client (server time);
6. prints every figure and writes them to --output between the spend-bench markers,
   leaving the rest of that file as it was.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import multiprocessing
import os
import platform
import random
import resource
import shutil
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
DATASETS = ROOT.parent / "shared" / "datasets"
DEFAULT_OUTPUT = ROOT / "docs" / "benchmarks.md"
START_MARK = "<!-- spend-bench:start -->"
END_MARK = "<!-- spend-bench:end -->"

FIRST_DAY = dt.date(2022, 1, 1)
DAYS = (dt.date(2025, 1, 1) - FIRST_DAY).days  # three years
YEAR_FROM, YEAR_TO = dt.date(2023, 1, 1), dt.date(2024, 1, 1)  # "a year": the middle one
TOP_VENDORS = 20
# Vendor records the import matches payees to (exactly or with rapidfuzz).
VENDORS = 400

HEADER = [
    "Date paid",
    "Transaction number",
    "Net amount",
    "Supplier name",
    "Service label",
    "Expenditure category",
    "Detailed expenditure type",
]
MAPPING = {
    "columns": {
        "date": "Date paid",
        "amount": "Net amount",
        "supplier": "Supplier name",
        "reference": "Transaction number",
        "category": "Expenditure category",
        "department": "Service label",
        "description": "Detailed expenditure type",
        "currency": "",
        "quantity": "",
    },
    "day_first": True,
}
STAGING_COLUMNS = "date_paid, reference, amount, supplier, department, category, description"
# A category or department name as the platform keys it (analytics.services._NameResolver).
SQL_NAME_KEY = "lower(regexp_replace(btrim({}), '\\s+', ' ', 'g'))"


# --- Set-up ------------------------------------------------------------------------------


def bench_database_url(options: argparse.Namespace) -> str:
    if options.database_url:
        url = options.database_url
    else:
        base = os.environ.get("DATABASE_URL", "")
        if not base.startswith(("postgres://", "postgresql://")):
            raise SystemExit(
                "Set DATABASE_URL to a PostgreSQL server (or pass --database-url): "
                "the benchmark measures PostgreSQL."
            )
        parts = urlsplit(base)
        url = urlunsplit(parts._replace(path="/procurement_bench"))
    name = urlsplit(url).path.lstrip("/")
    if "bench" not in name:
        raise SystemExit(f"Refusing to drop and recreate {name!r}: its name must contain 'bench'.")
    return url


def recreate_database(url: str) -> None:
    import psycopg2  # type: ignore[import-untyped]

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = psycopg2.connect(urlunsplit(parts._replace(path="/postgres")))
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        cursor.execute(f'CREATE DATABASE "{name}"')
    admin.close()


def configure_environment(url: str, var_dir: Path) -> None:
    """Before Django starts: the bench database, scratch files, no replica, no worker."""
    os.environ["DATABASE_URL"] = url
    os.environ["VAR_DIR"] = str(var_dir)
    os.environ["DJANGO_SETTINGS_MODULE"] = "procurement.settings"
    os.environ["DEBUG"] = "0"
    os.environ["CELERY_TASK_ALWAYS_EAGER"] = "0"
    os.environ["ALLOWED_HOSTS"] = "testserver,localhost"
    os.environ.pop("DATABASE_REPLICA_URL", None)
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))


def machine() -> dict[str, str]:
    memory = "?"
    cpu = platform.processor() or "?"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GB"
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cores": str(os.cpu_count()), "memory": memory, "cpu": cpu, "load": load()}


def load() -> str:
    """The 1-minute load average: other work on the machine slows every figure."""
    return f"{os.getloadavg()[0]:.1f}"


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KB on Linux


# --- 1. The generated file ---------------------------------------------------------------


@dataclass(frozen=True)
class PoolRow:
    supplier: str
    department: str
    category: str
    description: str
    amount: str  # formatted as the file writes it: "2,142.73"


def real_rows() -> list[PoolRow]:
    """Every good row of every real file, parsed by the platform's own reader with the
    mapping it suggests for that file's headers."""
    from analytics.importing import ParsedRow, file_headers, mapping_suggest, parsed_rows

    pool: list[PoolRow] = []
    for path in sorted(DATASETS.glob("*/*.csv")):
        mapping = mapping_suggest(file_headers(path))
        _rows, parsed = parsed_rows(path, mapping)
        for row in parsed:
            if isinstance(row, ParsedRow):
                pool.append(
                    PoolRow(
                        row.supplier,
                        row.department,
                        row.category,
                        row.description,
                        f"{row.amount:,.2f}",
                    )
                )
    return pool


def generate_csv(path: Path, lines: int, pool: list[PoolRow], seed: int) -> None:
    """N lines, written as they are drawn: memory does not grow with N."""
    rng = random.Random(seed)
    days = [f"{FIRST_DAY + dt.timedelta(days=d):%d/%m/%Y}" for d in range(DAYS)]
    size = len(pool)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        for number in range(1, lines + 1):
            row = pool[rng.randrange(size)]
            writer.writerow(
                (
                    days[rng.randrange(DAYS)],
                    f"B{number:08d}",
                    row.amount,
                    row.supplier,
                    row.department,
                    row.category,
                    row.description,
                )
            )


def seed_vendors(pool: list[PoolRow], seed: int) -> int:
    """Vendor records for some of the suppliers, spelled as a vendor master would spell
    them ("Acme Ltd" for "ACME LIMITED"), so the import matches payees for real."""
    from analytics.payees import payee_key
    from procurement.models import Role, User, UserRole
    from vendors.matching import name_key
    from vendors.models import Vendor, VendorType

    buyer, _ = User.objects.get_or_create(username="bench-buyer", defaults={"is_active": True})
    UserRole.objects.get_or_create(user=buyer, role=Role.PROCUREMENT)
    suppliers = sorted(
        {row.supplier for row in pool if payee_key(row.supplier) not in ("", "redacted")}
    )
    chosen = random.Random(seed).sample(suppliers, min(VENDORS, len(suppliers)))
    vendor_type = VendorType.objects.get(code="other")
    vendors = []
    for supplier in chosen:
        legal_name = supplier.title()
        if not legal_name.lower().endswith(("ltd", "limited", "plc", "llp")):
            legal_name += " Ltd"
        vendors.append(
            Vendor(
                legal_name=legal_name[:200],
                name_key=name_key(legal_name),
                country="GB",
                vendor_type=vendor_type,
                owner=buyer,
                created_by=buyer,
            )
        )
    Vendor.objects.bulk_create(vendors)
    return len(vendors)


# --- 2. The platform's import, in a child process ----------------------------------------


def _import_child(spend_import_id: int, profile: bool, results: Any) -> None:
    import django

    django.setup()
    from django.db import connection

    from analytics.services import spend_import_run

    # --profile: time spent in each SQL statement (by its first words) and in commits
    # (where deferred foreign key checks run); the rest is Python and COPY.
    spent: dict[str, float] = defaultdict(float)

    def timed(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            spent[" ".join(sql.split())[:90]] += time.perf_counter() - started

    commit = getattr(connection, "_commit")  # noqa: B009 (replaced below, when profiling)

    def timed_commit() -> None:
        started = time.perf_counter()
        try:
            commit()
        finally:
            spent["COMMIT"] += time.perf_counter() - started

    started_rss = rss_mb()
    started = time.perf_counter()
    if profile:
        setattr(connection, "_commit", timed_commit)  # noqa: B010
        with connection.execute_wrapper(timed):
            spend_import = spend_import_run(spend_import_id=spend_import_id)
    else:
        spend_import = spend_import_run(spend_import_id=spend_import_id)
    seconds = time.perf_counter() - started
    # The findings scan the worker runs once the import has committed (a task of its own,
    # analytics.tasks.scan_spend_import_findings), timed here in the same process.
    from analytics.services import spend_import_findings_scan

    started = time.perf_counter()
    spend_import_findings_scan(spend_import_id=spend_import_id)
    scan_seconds = time.perf_counter() - started
    results.send(
        {
            "seconds": seconds,
            "scan_seconds": scan_seconds,
            "rss_start_mb": started_rss,
            "peak_rss_mb": peak_rss_mb(),
            "state": spend_import.state,
            "error": spend_import.error,
            "sql": sorted(spent.items(), key=lambda item: -item[1])[:15],
            "sql_seconds": sum(spent.values()),
        }
    )
    results.close()


def platform_import(csv_path: Path, *, profile: bool = False) -> dict[str, Any]:
    from analytics.models import SpendImport
    from analytics.services import spend_import_from_path, spend_source_get_or_create
    from procurement.models import User

    source = spend_source_get_or_create(name="Bench ledger", currency="GBP")
    user = User.objects.get(username="bench-buyer")
    spend_import = spend_import_from_path(source=source, path=csv_path, mapping=MAPPING, user=user)
    context = multiprocessing.get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(target=_import_child, args=(spend_import.pk, profile, sender))
    child.start()
    sender.close()
    result = receiver.recv()
    child.join()
    spend_import = SpendImport.objects.get(pk=spend_import.pk)
    if result["state"] != "done":
        raise SystemExit(f"The platform's import failed: {result['error']}")
    result.update(
        source_id=source.pk,
        rows_imported=spend_import.rows_imported,
        rows_bad=spend_import.rows_bad,
        total=spend_import.total_base_amount,
    )
    return result


# --- 3. The plain SQL pipeline -----------------------------------------------------------


def plain_sql_prepare(pool: list[PoolRow], source_id: int) -> int:
    """Untimed: an empty copy of the lines table (same columns, indexes, constraints and
    foreign keys) and the pre-built supplier name -> payee table."""
    from django.db import connection

    from analytics.models import PayeeSpelling
    from analytics.payees import PayeeResolver

    PayeeResolver().resolve({row.supplier for row in pool})
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_plain_lines")
        cursor.execute("CREATE TABLE bench_plain_lines (LIKE analytics_spendline INCLUDING ALL)")
        # The same foreign key constraints as the platform's table, if it has any.
        cursor.execute(
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = 'analytics_spendline'::regclass AND contype = 'f'"
        )
        foreign_keys = cursor.fetchall()
        for (definition,) in foreign_keys:
            cursor.execute(f"ALTER TABLE bench_plain_lines ADD {definition}")
        cursor.execute("DROP TABLE IF EXISTS bench_payee_names")
        cursor.execute(
            "CREATE TABLE bench_payee_names (spelling varchar(255) PRIMARY KEY, payee_id bigint)"
        )
        cursor.execute(
            "INSERT INTO bench_payee_names SELECT spelling, payee_id FROM "
            f"{PayeeSpelling._meta.db_table}"
        )
        cursor.execute("ANALYZE bench_payee_names")
    return len(foreign_keys)


def plain_sql_pipeline(csv_path: Path, source_id: int) -> dict[str, Any]:
    from django.db import connection, transaction

    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMPORARY TABLE bench_staging (line_number bigint GENERATED ALWAYS AS "
            "IDENTITY (START WITH 2), date_paid text, reference text, amount text, "
            "supplier text, department text, category text, description text) ON COMMIT DROP"
        )
        with csv_path.open("rb") as handle:
            cursor.copy_expert(
                f"COPY bench_staging ({STAGING_COLUMNS}) FROM STDIN WITH (FORMAT csv, HEADER true, "
                "FORCE_NOT_NULL (reference, department, category, description))",
                handle,
            )
        copied = time.perf_counter() - started
        # Categories and departments: each distinct name keyed once (new ones created, as
        # the import does), then joined by the name as written.
        for table, column in [
            ("analytics_spendcategory", "category"),
            ("analytics_spenddepartment", "department"),
        ]:
            cursor.execute(
                f"CREATE TEMPORARY TABLE bench_{column}_names ON COMMIT DROP AS "
                f"SELECT DISTINCT {column} AS name, {SQL_NAME_KEY.format(column)} AS key "
                "FROM bench_staging"
            )
            cursor.execute(
                f"INSERT INTO {table} (key, name) SELECT DISTINCT ON (key) key, name "
                f"FROM bench_{column}_names ORDER BY key, name ON CONFLICT (key) DO NOTHING"
            )
        cursor.execute(
            "INSERT INTO bench_plain_lines (source_id, spend_import_id, line_number, identity, "
            "reference, date, month, amount, currency, base_amount, payee_id, category_id, "
            "department_id, contract_id, description, quantity) "
            "SELECT %s, NULL, s.line_number, "
            "s.identity || '#' || ROW_NUMBER() OVER (PARTITION BY s.identity "
            "ORDER BY s.line_number), s.reference, s.date, date_trunc('month', s.date)::date, "
            "s.amount_value, 'GBP', s.amount_value, p.payee_id, c.id, d.id, NULL, "
            "s.description, NULL "
            # The identity as the platform hashes it (analytics.importing.line_identity).
            "FROM (SELECT t.*, 'r' || left(md5(reference || chr(31) || t.date::text "
            "|| chr(31) || lower(supplier)), 31) AS identity FROM ("
            "SELECT *, to_date(date_paid, 'DD/MM/YYYY') AS date, "
            "replace(amount, ',', '')::numeric(14, 2) AS amount_value FROM bench_staging) t) s "
            "JOIN bench_payee_names p ON p.spelling = s.supplier "
            "JOIN bench_category_names cn ON cn.name = s.category "
            "JOIN analytics_spendcategory c ON c.key = cn.key "
            "JOIN bench_department_names dn ON dn.name = s.department "
            "JOIN analytics_spenddepartment d ON d.key = dn.key "
            "ON CONFLICT (source_id, identity) DO NOTHING",
            [source_id],
        )
        inserted = cursor.rowcount
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "copy_seconds": copied, "inserted": inserted}


def plain_sql_copy_only(csv_path: Path) -> float:
    """The floor: COPY of the raw file into a text staging table, nothing else."""
    from django.db import connection, transaction

    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMPORARY TABLE bench_copy_only (date_paid text, reference text, "
            "amount text, supplier text, department text, category text, description text) "
            "ON COMMIT DROP"
        )
        with csv_path.open("rb") as handle:
            cursor.copy_expert(
                f"COPY bench_copy_only ({STAGING_COLUMNS}) FROM STDIN WITH (FORMAT csv, HEADER true)",
                handle,
            )
    return time.perf_counter() - started


def ledgers_agree(source_id: int) -> tuple[int, str, int, str]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*), sum(base_amount) FROM analytics_spendline WHERE source_id = %s",
            [source_id],
        )
        platform_count, platform_total = cursor.fetchone()
        cursor.execute("SELECT count(*), sum(base_amount) FROM bench_plain_lines")
        plain_count, plain_total = cursor.fetchone()
    return platform_count, str(platform_total), plain_count, str(plain_total)


def table_sizes() -> dict[str, int]:
    """Rows in the ledger and in what the dashboards read instead."""
    from analytics.models import (
        SpendAnomaly,
        SpendByMonthCategory,
        SpendByMonthDepartment,
        SpendByMonthPayee,
        SpendCube,
        SpendLine,
    )

    return {
        model.__name__: model._default_manager.count()
        for model in (
            SpendLine,
            SpendCube,
            SpendByMonthPayee,
            SpendByMonthDepartment,
            SpendByMonthCategory,
            SpendAnomaly,
        )
    }


# --- 4. The dashboard questions ----------------------------------------------------------


def median_seconds(work: Callable[[], object], runs: int) -> float:
    work()  # warm-up
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


QUESTIONS = [
    ("monthly", "Monthly spend by category, three years"),
    ("top_vendors", f"Top {TOP_VENDORS} vendors, one year"),
    ("departments", "Spend by department, one year"),
    ("anomalies", "Anomaly scan, one year"),
]


def platform_questions() -> dict[str, Callable[[], object]]:
    from analytics import selectors
    from analytics.scope import SpendFilters

    everything = SpendFilters()
    year = SpendFilters(month_from=YEAR_FROM, month_to=dt.date(2023, 12, 1))

    def anomalies() -> object:
        # The findings are kept by the import; the anomaly page reads them for the period:
        # how many of each kind, and the first page of 50 with their lines.
        from analytics.anomalies import anomaly_list
        from analytics.models import AnomalyKind

        pages = []
        for kind in AnomalyKind.values:
            findings = anomaly_list(filters=year, kind=kind)
            pages.append((findings.count(), list(findings.order_by("-last_date", "-id")[:50])))
        return pages

    return {
        "monthly": lambda: selectors.spend_over_time(filters=everything, split_by="category"),
        "top_vendors": lambda: selectors.spend_by_vendor(filters=year, limit=TOP_VENDORS),
        "departments": lambda: selectors.spend_by_department(filters=year),
        "anomalies": anomalies,
    }


def _split_sql(lines: str, payee: str, date_add: str) -> str:
    """Several payments to one payee within the window, each just under a threshold,
    adding up to more than it: the split-purchase rule, as one windowed query."""
    from django.conf import settings

    thresholds = ", ".join(f"({t})" for t in settings.SPEND_SPLIT_THRESHOLDS)
    band = 1 - settings.SPEND_SPLIT_BAND_PERCENT / 100
    window = settings.SPEND_SPLIT_WINDOW_DAYS - 1
    return (
        "WITH banded AS ("
        f" SELECT l.{payee} AS payee, l.date, l.amount, t.threshold FROM {lines} l"
        f" JOIN (VALUES {thresholds}) AS t(threshold)"
        f" ON l.amount >= t.threshold * {band} AND l.amount < t.threshold"
        f" WHERE l.date >= {date_add} AND l.date < DATE '{YEAR_TO}'"
        "), windows AS ("
        " SELECT payee, threshold, date, count(*) OVER w AS n, sum(amount) OVER w AS total"
        " FROM banded WINDOW w AS (PARTITION BY payee, threshold ORDER BY date"
        f" RANGE BETWEEN INTERVAL '{window} days' PRECEDING AND CURRENT ROW)"
        ") SELECT payee, threshold, date, n, total FROM windows"
        " WHERE n >= 2 AND total > threshold"
    )


def postgres_questions() -> dict[str, Callable[[], object]]:
    from django.conf import settings
    from django.db import connection

    window = settings.SPEND_SPLIT_WINDOW_DAYS - 1
    lines = "(SELECT payee_id, date, base_amount AS amount FROM analytics_spendline)"
    queries = {
        "monthly": [
            "SELECT month, category_id, sum(base_amount), count(*) FROM analytics_spendline "
            "GROUP BY month, category_id ORDER BY month, category_id"
        ],
        "top_vendors": [
            "SELECT payee_id, sum(base_amount) AS total FROM analytics_spendline "
            f"WHERE date >= DATE '{YEAR_FROM}' AND date < DATE '{YEAR_TO}' "
            f"GROUP BY payee_id ORDER BY total DESC LIMIT {TOP_VENDORS}"
        ],
        "departments": [
            "SELECT department_id, sum(base_amount) AS total FROM analytics_spendline "
            f"WHERE date >= DATE '{YEAR_FROM}' AND date < DATE '{YEAR_TO}' "
            "GROUP BY department_id ORDER BY total DESC"
        ],
        "anomalies": [
            # Likely duplicates: same payee, amount and date.
            "SELECT payee_id, date, base_amount, count(*) FROM analytics_spendline "
            f"WHERE date >= DATE '{YEAR_FROM}' AND date < DATE '{YEAR_TO}' "
            "GROUP BY payee_id, date, base_amount HAVING count(*) > 1",
            _split_sql(lines, "payee_id", f"DATE '{YEAR_FROM}' - {window}"),
        ],
    }

    def run(sqls: list[str]) -> Callable[[], object]:
        def work() -> object:
            with connection.cursor() as cursor:
                rows = []
                for sql in sqls:
                    cursor.execute(sql)
                    rows.append(cursor.fetchall())
                return rows

        return work

    return {name: run(sqls) for name, sqls in queries.items()}


def duckdb_load(csv_path: Path) -> tuple[Any, float]:
    import duckdb

    database = duckdb.connect(":memory:")
    started = time.perf_counter()
    database.execute(
        "CREATE TABLE lines AS SELECT strptime(\"Date paid\", '%d/%m/%Y')::DATE AS date, "
        '"Transaction number" AS reference, '
        "replace(\"Net amount\", ',', '')::DECIMAL(14, 2) AS amount, "
        '"Supplier name" AS supplier, coalesce("Service label", \'\') AS department, '
        "coalesce(\"Expenditure category\", '') AS category "
        "FROM read_csv(?, header = true, all_varchar = true)",
        [str(csv_path)],
    )
    database.execute("ALTER TABLE lines ADD COLUMN month DATE")
    database.execute("UPDATE lines SET month = date_trunc('month', date)")
    return database, time.perf_counter() - started


def duckdb_questions(database: Any) -> dict[str, Callable[[], object]]:
    from django.conf import settings

    window = settings.SPEND_SPLIT_WINDOW_DAYS - 1
    queries = {
        "monthly": [
            "SELECT month, category, sum(amount), count(*) FROM lines "
            "GROUP BY month, category ORDER BY month, category"
        ],
        "top_vendors": [
            "SELECT supplier, sum(amount) AS total FROM lines "
            f"WHERE date >= DATE '{YEAR_FROM}' AND date < DATE '{YEAR_TO}' "
            f"GROUP BY supplier ORDER BY total DESC LIMIT {TOP_VENDORS}"
        ],
        "departments": [
            "SELECT department, sum(amount) AS total FROM lines "
            f"WHERE date >= DATE '{YEAR_FROM}' AND date < DATE '{YEAR_TO}' "
            "GROUP BY department ORDER BY total DESC"
        ],
        "anomalies": [
            "SELECT supplier, date, amount, count(*) FROM lines "
            f"WHERE date >= DATE '{YEAR_FROM}' AND date < DATE '{YEAR_TO}' "
            "GROUP BY supplier, date, amount HAVING count(*) > 1",
            _split_sql("lines", "supplier", f"DATE '{YEAR_FROM}' - INTERVAL '{window} days'"),
        ],
    }

    def run(sqls: list[str]) -> Callable[[], object]:
        return lambda: [database.execute(sql).fetchall() for sql in sqls]

    return {name: run(sqls) for name, sqls in queries.items()}


# --- 5. The page -------------------------------------------------------------------------


def dashboard_page(runs: int) -> tuple[str, float, int] | None:
    from django.test import Client
    from django.test.utils import override_settings
    from django.urls import NoReverseMatch, reverse

    from procurement.models import User

    try:
        url = reverse("analytics:overview")
    except NoReverseMatch:
        return None
    client = Client()
    client.force_login(User.objects.get(username="bench-buyer"))
    status = 0

    def get() -> None:
        nonlocal status
        status = client.get(url, secure=True).status_code

    # The manifest storage needs collectstatic; the page is timed, not its static files.
    storages = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    with override_settings(STORAGES=storages):
        seconds = median_seconds(get, runs)
    return url, seconds, status


# --- 6. Report ---------------------------------------------------------------------------


@dataclass
class Results:
    lines: int
    runs: int
    started: dt.datetime
    machine: dict[str, str]
    versions: dict[str, str]
    figures: dict[str, Any] = field(default_factory=dict)
    queries: dict[str, dict[str, float]] = field(default_factory=dict)


def _s(seconds: float) -> str:
    if seconds < 1:
        return f"{seconds * 1000:.1f} ms"
    return f"{seconds:.2f} s"


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b else "n/a"


def _verdict(ok: bool) -> str:
    return "met" if ok else "**missed**"


def report_markdown(results: Results, command: str) -> str:
    f = results.figures
    m = results.machine
    out = [
        "## Spend analytics at scale (`bench/spend_at_scale.py`)",
        "",
        f"    {command}",
        "",
        f"N = {results.lines:,} generated lines (resampled from the three real files in "
        f"`../shared/datasets/`, {f['pool_rows']:,} good rows; dates over 2022-2024; "
        f"{f['vendors']} vendor records to match). Run on {results.started:%Y-%m-%d %H:%M} on "
        f"{m['cores']} cores ({m['cpu']}), {m['memory']} RAM, load average {m['load']} at the "
        f"start and {f['load_end']} at the end; "
        + ", ".join(f"{k} {v}" for k, v in results.versions.items())
        + ". Each query is the median of "
        f"{results.runs} runs after one warm-up, measured from Python (results fetched).",
        "",
        "### Import",
        "",
        "| step | time | |",
        "|---|---|---|",
        f"| generate the CSV ({f['csv_mb']:.0f} MB) | {_s(f['generate'])} | not part of the import |",
        f"| raw `COPY` of the file into a text table (the floor) | {_s(f['copy_only'])} | |",
        f"| plain SQL pipeline: COPY into staging ({_s(f['plain_copy'])}), then INSERT ... SELECT "
        "parsing dates and amounts, resolving payee (pre-built name table), category and "
        "department ids, hashing and numbering identities, ON CONFLICT dedup, into a copy of "
        f"the lines table (the same indexes and foreign key constraints as the platform's: "
        f"{f['foreign_keys']} of those) | {_s(f['plain'])} | "
        f"{f['plain_inserted']:,} lines |",
        f"| platform import (`spend_import_run`: parse, match payees, stage by COPY, move with "
        f"dedup, rollups) | {_s(f['import'])} | {f['imported']:,} lines, "
        f"{f['bad']} bad |",
        f"| **import / plain SQL** (target ≤ 1.5x) | **{_ratio(f['import'], f['plain'])}** | "
        f"{_verdict(f['import'] <= 1.5 * f['plain'])} |",
        f"| import / raw COPY | {_ratio(f['import'], f['copy_only'])} | |",
        f"| findings scan of the new lines (duplicates, split purchases), run by the worker "
        f"once the import has committed | {_s(f['scan'])} | not part of the import above |",
        f"| peak RSS of the import process | {f['peak_rss']:.0f} MB | {f['start_rss']:.0f} MB "
        "after Django start-up |",
        "",
        f"Both ledgers hold the same lines: {f['agree']}. Rows kept: "
        + ", ".join(f"{name} {count:,}" for name, count in f["sizes"].items())
        + ".",
        "",
    ]
    if f.get("sql"):
        out += [
            "Where the import's time goes (`--profile`): the slowest SQL statements, by their "
            "first words (COMMIT: where deferred foreign keys are checked, if any). The rest "
            "of the import time is Python (reading, parsing, matching, the staging COPY): "
            f"{_s(f['import'] - f['sql_seconds'])} of {_s(f['import'])}, against "
            f"{_s(f['sql_seconds'])} in SQL statements.",
            "",
            "| time | statement |",
            "|---|---|",
            *(f"| {_s(seconds)} | `{sql}` |" for sql, seconds in f["sql"][:10]),
            "",
        ]
    out += [
        "### Dashboard questions",
        "",
        "| question | platform (rollups, selectors) | plain SQL on lines (PostgreSQL) | DuckDB "
        "in memory | platform / DuckDB (target ≤ 1.5x) | |",
        "|---|---|---|---|---|---|",
    ]
    for name, label in QUESTIONS:
        q = results.queries.get(name, {})
        if "platform" not in q:
            continue
        out.append(
            f"| {label} | {_s(q['platform'])} | {_s(q['postgres'])} | {_s(q['duckdb'])} | "
            f"{_ratio(q['platform'], q['duckdb'])} | {_verdict(q['platform'] <= 1.5 * q['duckdb'])} |"
        )
    out += [
        "",
        f"DuckDB loaded the CSV in {_s(f['duckdb_load'])} (not counted in its query times).",
        "",
    ]
    page = f.get("page")
    if page:
        url, seconds, status = page
        out.append(
            f"Dashboard page `{url}` through Django's test client (server time, HTTP {status}): "
            f"**{_s(seconds)}** (target < 300 ms: {_verdict(seconds < 0.3 and status == 200)})."
        )
    else:
        out.append("Dashboard page: not measured (no `analytics:overview` URL yet).")
    out.append("")
    return "\n".join(out)


def write_section(path: Path, section: str) -> None:
    """Put `section` between the spend-bench markers, replacing an earlier run's."""
    block = f"{START_MARK}\n{section.rstrip()}\n{END_MARK}\n"
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    if START_MARK in text and END_MARK in text:
        before, _, rest = text.partition(START_MARK)
        _, _, after = rest.partition(END_MARK)
        text = before + block + after.lstrip("\n")
    else:
        text = text.rstrip("\n") + "\n\n" + block
    path.write_text(text, encoding="utf-8")


# --- Main --------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5, help="timed runs per query (median)")
    parser.add_argument(
        "--database-url", default="", help="default: procurement_bench on DATABASE_URL's server"
    )
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument(
        "--profile", action="store_true", help="print where the import spends its time in SQL"
    )
    options = parser.parse_args()
    if not DATASETS.is_dir():
        raise SystemExit(
            f"{DATASETS} is missing: the lines are resampled from the real files there."
        )

    url = bench_database_url(options)
    scratch = Path(tempfile.mkdtemp(prefix="bench-spend-"))
    configure_environment(url, scratch)
    recreate_database(url)

    import django

    django.setup()
    import duckdb
    from django.core.management import call_command
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        server_version = cursor.fetchone()[0]
    results = Results(
        lines=options.lines,
        runs=options.runs,
        started=dt.datetime.now(),
        machine=machine(),
        versions={
            "PostgreSQL": server_version.split()[0],
            "Python": platform.python_version(),
            "DuckDB": duckdb.__version__,
        },
    )
    f = results.figures
    m = results.machine
    print(
        f"{options.lines:,} lines into {urlsplit(url).path.lstrip('/')}; {m['cores']} cores, {m['memory']} RAM"
    )

    call_command("migrate", verbosity=0)
    pool = real_rows()
    f["pool_rows"] = len(pool)
    f["vendors"] = seed_vendors(pool, options.seed)
    csv_path = scratch / "spend.csv"
    started = time.perf_counter()
    generate_csv(csv_path, options.lines, pool, options.seed)
    f["generate"] = time.perf_counter() - started
    f["csv_mb"] = csv_path.stat().st_size / 1024 / 1024
    print(
        f"{'generate the CSV':<52} {_s(f['generate']):>10}   {f['csv_mb']:.0f} MB, {len(pool):,} real rows"
    )

    imported = platform_import(csv_path, profile=options.profile)
    f["import"] = imported["seconds"]
    f["scan"] = imported["scan_seconds"]
    f["imported"] = imported["rows_imported"]
    f["bad"] = imported["rows_bad"]
    f["peak_rss"] = imported["peak_rss_mb"]
    f["start_rss"] = imported["rss_start_mb"]
    print(
        f"{'platform import (spend_import_run)':<52} {_s(f['import']):>10}   "
        f"{f['imported']:,} lines, {f['bad']} bad, peak RSS {f['peak_rss']:.0f} MB "
        f"({f['start_rss']:.0f} MB at start)"
    )
    print(f"{'findings scan after the import (worker task)':<52} {_s(f['scan']):>10}")

    if options.profile:
        print(
            f"  SQL statements {_s(imported['sql_seconds'])}, the rest (Python, COPY) "
            f"{_s(imported['seconds'] - imported['sql_seconds'])}; the slowest statements:"
        )
        for sql, seconds in imported["sql"]:
            print(f"  {_s(seconds):>10}  {sql}")

    f["foreign_keys"] = plain_sql_prepare(pool, imported["source_id"])
    f["copy_only"] = plain_sql_copy_only(csv_path)
    print(f"{'raw COPY into a text table':<52} {_s(f['copy_only']):>10}")
    plain = plain_sql_pipeline(csv_path, imported["source_id"])
    f["plain"], f["plain_copy"], f["plain_inserted"] = (
        plain["seconds"],
        plain["copy_seconds"],
        plain["inserted"],
    )
    print(
        f"{'plain SQL pipeline (COPY + INSERT ... SELECT)':<52} {_s(f['plain']):>10}   "
        f"COPY {_s(f['plain_copy'])}, {f['plain_inserted']:,} lines"
    )
    print(f"{'import / plain SQL (target <= 1.5)':<52} {f['import'] / f['plain']:>9.2f}x")
    platform_count, platform_total, plain_count, plain_total = ledgers_agree(imported["source_id"])
    if (platform_count, platform_total) == (plain_count, plain_total):
        f["agree"] = f"{platform_count:,} lines totalling {platform_total} in each"
    else:
        f["agree"] = (
            f"NO: platform {platform_count:,} lines / {platform_total}, "
            f"plain SQL {plain_count:,} / {plain_total}"
        )
    print(f"{'ledgers agree':<52} {f['agree']}")
    f["sizes"] = table_sizes()
    print(f"{'rows kept':<52} " + ", ".join(f"{k} {v:,}" for k, v in f["sizes"].items()))

    # What autovacuum would have done by the time anyone looks at a dashboard.
    connection.ensure_connection()
    old_autocommit = connection.get_autocommit()
    connection.set_autocommit(True)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    connection.set_autocommit(old_autocommit)

    database, f["duckdb_load"] = duckdb_load(csv_path)
    print(f"{'DuckDB: load the CSV into memory':<52} {_s(f['duckdb_load']):>10}")
    sides = {
        "platform": platform_questions(),
        "postgres": postgres_questions(),
        "duckdb": duckdb_questions(database),
    }
    for name, label in QUESTIONS:
        timings = results.queries.setdefault(name, {})
        for side, questions in sides.items():
            timings[side] = median_seconds(questions[name], options.runs)
        print(
            f"{label:<52} platform {_s(timings['platform']):>9}  PostgreSQL {_s(timings['postgres']):>9}  "
            f"DuckDB {_s(timings['duckdb']):>9}  platform/DuckDB {timings['platform'] / timings['duckdb']:.2f}x"
        )
    database.close()

    f["page"] = dashboard_page(options.runs)
    if f["page"]:
        page_url, seconds, status = f["page"]
        print(f"{'dashboard page ' + page_url:<52} {_s(seconds):>10}   HTTP {status}")
    else:
        print("dashboard page: no analytics:overview URL yet")

    f["load_end"] = load()
    command = f".venv/bin/python bench/spend_at_scale.py --lines {options.lines}"
    if options.profile:
        command += " --profile"
        f["sql"] = imported["sql"]
        f["sql_seconds"] = imported["sql_seconds"]
    write_section(options.output, report_markdown(results, command))
    print(f"written to {options.output}")
    shutil.rmtree(scratch)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
