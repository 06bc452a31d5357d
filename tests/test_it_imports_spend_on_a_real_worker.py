"""A real `celery -A procurement worker` runs a spend import the way `import_spend --queue`
and the import page hand it over: outside any transaction, reading the committed import,
and (on PostgreSQL) staging through a second connection while it parses."""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings

from analytics.models import ImportState, SpendImport, SpendLine
from analytics.services import spend_import_from_path, spend_source_get_or_create
from analytics.tasks import spend_import_task
from procurement.outbox import enqueue
from tests.processes import private_broker, real_worker

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

    def finished() -> bool:
        state = SpendImport.objects.values_list("state", flat=True).get(pk=spend_import.pk)
        return state in (ImportState.DONE, ImportState.FAILED)

    with private_broker(var_dir) as broker, real_worker(var_dir=var_dir, broker=broker) as worker:
        enqueue(spend_import_task, spend_import.pk)  # as `import_spend --queue` does
        worker.wait_until("the end of the import", finished)

    done = SpendImport.objects.get(pk=spend_import.pk)
    assert done.state == ImportState.DONE, done.error
    assert done.progress_percent == 100
    assert done.rows_imported == len(rows) == SpendLine.objects.count()
    assert done.total_base_amount == total
