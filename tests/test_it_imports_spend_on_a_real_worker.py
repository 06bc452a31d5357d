"""A real `celery -A procurement worker` runs a spend import the way `import_spend --queue`
and the import page hand it over: outside any transaction, reading the committed import,
and (on PostgreSQL) staging through a second connection while it parses."""

from __future__ import annotations

import csv
import time
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings

from analytics.models import ImportState, SpendImport, SpendLine
from analytics.services import spend_import_from_path, spend_source_get_or_create
from analytics.tasks import spend_import_task
from tests.test_it_runs_tasks_on_a_real_worker import (
    WAIT_SECONDS,
    _broker,
    _celery_publishing_to,
    _running_worker,
)

LEEDS_JUNE = (
    Path(settings.BASE_DIR).parent
    / "shared"
    / "datasets"
    / "leeds-council-spend-over-500"
    / "2011-06.csv"
)


@pytest.mark.integration
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.skipif(
    not LEEDS_JUNE.is_file(), reason=f"the shared datasets are not at {LEEDS_JUNE.parent}"
)
def test_it_imports_a_real_file_on_a_real_worker(tmp_path: Path) -> None:
    rows = [
        r for r in csv.DictReader(LEEDS_JUNE.open(encoding="utf-8")) if r["Supplier name"].strip()
    ]
    total = sum((Decimal(r["Net amount"].replace(",", "")) for r in rows), Decimal("0"))
    spend_import = spend_import_from_path(
        source=spend_source_get_or_create(name="Leeds ledger"),
        path=LEEDS_JUNE,
        mapping={
            "columns": {
                "date": "Date paid",
                "amount": "Net amount",
                "supplier": "Supplier name",
                "reference": "Transaction number",
            },
            "day_first": True,
        },
    )
    var_dir = tmp_path / "worker-var"
    log = tmp_path / "worker.log"
    broker_url, transport_options = _broker(var_dir)

    with (
        _running_worker(var_dir=var_dir, outbox=tmp_path / "mail", log=log) as worker,
        _celery_publishing_to(broker_url, transport_options),
    ):
        spend_import_task.delay(spend_import.pk)
        deadline = time.monotonic() + WAIT_SECONDS
        while time.monotonic() < deadline:
            state = SpendImport.objects.values_list("state", flat=True).get(pk=spend_import.pk)
            if state in (ImportState.DONE, ImportState.FAILED):
                break
            if worker.poll() is not None:
                pytest.fail(f"The worker exited with {worker.returncode}:\n{log.read_text()}")
            time.sleep(0.3)
        else:
            pytest.fail(
                f"The import did not finish in {WAIT_SECONDS} s. Worker log:\n{log.read_text()}"
            )

    done = SpendImport.objects.get(pk=spend_import.pk)
    assert done.state == ImportState.DONE, done.error
    assert done.progress_percent == 100
    assert done.rows_imported == len(rows) == SpendLine.objects.count()
    assert done.total_base_amount == total
