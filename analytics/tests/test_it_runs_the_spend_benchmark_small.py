"""bench/spend_at_scale.py runs end to end on a few thousand lines: it prints its figures
and writes its own section of the benchmarks file, leaving the other sections as they were."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg2  # type: ignore[import-untyped]
import pytest
from django.conf import settings

from analytics.tests.datasets import DATASETS

BENCH = Path(settings.BASE_DIR) / "bench" / "spend_at_scale.py"
DATABASE = settings.DATABASES["default"]
pytestmark = [
    pytest.mark.skipif(
        DATABASE["ENGINE"] != "django.db.backends.postgresql",
        reason="the spend benchmark measures PostgreSQL (COPY, window functions); run with "
        "DATABASE_URL=postgres://...",
    ),
    pytest.mark.skipif(not DATASETS.is_dir(), reason=f"the shared datasets are not at {DATASETS}"),
]
OTHER_SECTION = "## Sanctions screening (`bench/sanctions_screening.py`)\n\nA table kept as is.\n"


def _server_url(name: str) -> str:
    user = DATABASE.get("USER") or "postgres"
    password = f":{DATABASE['PASSWORD']}" if DATABASE.get("PASSWORD") else ""
    host = DATABASE.get("HOST") or "127.0.0.1"
    port = DATABASE.get("PORT") or "5432"
    return f"postgres://{user}{password}@{host}:{port}/{name}"


@pytest.fixture
def bench_database() -> Iterator[str]:
    url = _server_url(f"procurement_bench_smoke_{os.getpid()}")
    yield url
    admin = psycopg2.connect(_server_url("postgres"))
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')
    admin.close()


def test_it_runs_the_spend_benchmark_on_a_few_thousand_lines(bench_database, tmp_path) -> None:
    output = tmp_path / "benchmarks.md"
    output.write_text(
        "# Benchmarks\n\n"
        + OTHER_SECTION
        + "\n<!-- spend-bench:start -->\nan earlier run\n<!-- spend-bench:end -->\n"
    )
    real_docs = Path(settings.BASE_DIR) / "docs" / "benchmarks.md"
    real_before = real_docs.read_bytes()

    run = subprocess.run(
        [
            sys.executable,
            str(BENCH),
            "--lines",
            "3000",
            "--runs",
            "1",
            "--database-url",
            bench_database,
            "--output",
            str(output),
        ],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=settings.BASE_DIR,
    )

    assert run.returncode == 0, run.stderr[-3000:]
    printed = run.stdout
    for figure in [
        "platform import (spend_import_run)",
        "plain SQL pipeline",
        "import / plain SQL",
        "Monthly spend by category",
        "Top 20 vendors, one year",
        "Spend by department, one year",
        "Anomaly scan, one year",
        "dashboard page /analytics/",
    ]:
        assert figure in printed
    assert "3,000 lines, 0 bad" in printed
    assert "ledgers agree                                        3,000 lines" in printed

    written = output.read_text()
    assert written.count("<!-- spend-bench:start -->") == 1
    assert "an earlier run" not in written
    assert OTHER_SECTION in written
    assert "N = 3,000 generated lines" in written
    assert "| Top 20 vendors, one year |" in written
    assert real_docs.read_bytes() == real_before
