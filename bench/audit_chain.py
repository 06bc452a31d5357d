"""What chaining the audit trail costs each state change (docs/security.md, "Audit log").

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_audit \\
        .venv/bin/python bench/audit_chain.py [--appends 2000] [--threads 1,4,16]

Creates the named database if it does not exist and migrates it (use a scratch one: it
writes audit entries there); without DATABASE_URL, a throwaway SQLite database under a
temporary VAR_DIR. Each transaction is shaped like a state change: lock one row of the
writer's own (`UPDATE department`), append one audit entry, commit. Three ways to append:

- `unchained`: the entry inserted, nothing more (what audit_record cost before the chain);
- `chained`: audit_record as it is (insert; once committed, audit_chain_seal chains what
  waits under the chain lock: on PostgreSQL one call of procurement_audit_chain()), which
  this process does at most every AUDIT_CHAIN_SEAL_INTERVAL_MS (200);
- `each`: the same, chaining after every commit (AUDIT_CHAIN_SEAL_INTERVAL_MS=0);
- `in-tx`: the design not taken, emulated: lock the chain head row inside the transaction,
  insert, move the head, commit (PostgreSQL only; the lock, held through the commit, is
  the cost).

Prints, per way and number of concurrent writers, the median and p99 milliseconds per
transaction (chaining after commit included) and the transactions per second, then
checks the chain. Numbers go into docs/security.md by hand.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--appends", type=int, default=2000, help="transactions per run")
    parser.add_argument("--threads", default="1,4,8", help="concurrent writers per run")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="bench-audit-"))
    os.environ.setdefault("VAR_DIR", str(scratch))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "procurement.settings")
    sys.path.insert(0, str(ROOT))

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    _create_database_if_missing()
    call_command("migrate", verbosity=0)

    from django.conf import settings
    from django.contrib.contenttypes.models import ContentType

    from procurement.audit_chain import audit_chain_seal, audit_chain_verify
    from procurement.models import AuditChainHead, AuditEntry, Department
    from procurement.services import audit_record

    department_type = ContentType.objects.get_for_model(Department)
    postgresql = connection.vendor == "postgresql"
    interval = settings.AUDIT_CHAIN_SEAL_INTERVAL_MS

    def append_unchained(department: Department) -> None:
        AuditEntry.objects.create(
            content_type=department_type, object_id=department.pk, action="bench"
        )

    def append_chained(department: Department) -> None:
        audit_record(target=department, actor=None, action="bench")

    def append_in_transaction(department: Department) -> None:
        head = AuditChainHead.objects.select_for_update().get(pk=1)
        AuditEntry.objects.create(
            content_type=department_type, object_id=department.pk, action="bench"
        )
        head.save(update_fields=["length"])

    ways: dict[str, Callable[[Department], None]] = {
        "unchained": append_unchained,
        "chained": append_chained,
        "each": append_chained,
    }
    if postgresql:
        ways["in-tx"] = append_in_transaction
    thread_counts = [int(n) for n in args.threads.split(",")]
    departments = [
        Department.objects.get_or_create(code=f"bench-{n}", defaults={"name": f"Bench {n}"})[0]
        for n in range(max(thread_counts))
    ]

    print(f"{connection.vendor}, {args.appends} transactions per run")
    print(f"{'way':<9} {'writers':>7} {'median ms':>10} {'p99 ms':>8} {'per second':>11}")
    for writers in thread_counts:
        for name, append in ways.items():
            audit_chain_seal()  # what earlier runs left unchained is not this run's cost
            settings.AUDIT_CHAIN_SEAL_INTERVAL_MS = 0 if name == "each" else interval
            timings, elapsed = _run(append, departments[:writers], args.appends // writers)
            print(
                f"{name:<9} {writers:>7} {statistics.median(timings) * 1000:>10.2f} "
                f"{timings[int(len(timings) * 0.99) - 1] * 1000:>8.2f} "
                f"{len(timings) / elapsed:>11.0f}"
            )
    report = audit_chain_verify()
    print(f"chain: {report.length} entries, {'intact' if report.ok else report.broken}")


def _run(
    append: Callable[[Any], None], departments: list[Any], per_writer: int
) -> tuple[list[float], float]:
    """One writer thread per department; each times `per_writer` state-change-shaped
    transactions. Returns the sorted timings and the wall-clock seconds of the run."""
    from django.db import connections, transaction

    from procurement.models import Department

    timings: list[float] = []
    lock = threading.Lock()
    barrier = threading.Barrier(len(departments))

    def write(department: Department) -> None:
        mine: list[float] = []
        try:
            barrier.wait()
            for _ in range(per_writer):
                started = time.perf_counter()
                with transaction.atomic():
                    Department.objects.filter(pk=department.pk).update(name=department.name)
                    append(department)
                mine.append(time.perf_counter() - started)
        finally:
            connections.close_all()  # this thread's own connection
        with lock:
            timings.extend(mine)

    threads = [threading.Thread(target=write, args=(d,)) for d in departments]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sorted(timings), time.perf_counter() - started


def _create_database_if_missing() -> None:
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    import psycopg2  # type: ignore[import-untyped]
    from psycopg2 import sql

    settings_dict = connection.settings_dict
    admin = psycopg2.connect(
        dbname="postgres",
        user=settings_dict["USER"],
        password=settings_dict["PASSWORD"],
        host=settings_dict["HOST"],
        port=settings_dict["PORT"],
    )
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [settings_dict["NAME"]])
        if cursor.fetchone() is None:
            cursor.execute(
                sql.SQL("CREATE DATABASE {}").format(sql.Identifier(settings_dict["NAME"]))
            )
    admin.close()


if __name__ == "__main__":
    main()
