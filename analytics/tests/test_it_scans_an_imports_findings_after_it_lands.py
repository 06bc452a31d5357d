"""A file's findings are looked for by the worker once its lines are in the ledger: queued
when the import commits, once, and picked up by beat if that task was lost."""

from __future__ import annotations

from pathlib import Path

import pytest

from analytics.models import AnomalyKind, SpendAnomaly, SpendImport
from analytics.services import spend_import_from_path, spend_import_run, spend_source_get_or_create
from analytics.tasks import scan_missed_spend_findings, scan_spend_import_findings

pytestmark = pytest.mark.django_db

CSV = (
    "Date,Amount,Supplier,Ref\n"
    "02/03/2026,2480.00,Dell Products,A1\n"
    "02/03/2026,2480.00,DELL PRODUCTS,A2\n"  # the same payment entered twice
    "09/03/2026,120.00,Dell Products,A3\n"
)
MAPPING = {
    "columns": {"date": "Date", "amount": "Amount", "supplier": "Supplier", "reference": "Ref"},
    "day_first": True,
}


def _queued_import(tmp_path: Path) -> SpendImport:
    path = tmp_path / "march.csv"
    path.write_text(CSV)
    source = spend_source_get_or_create(name="Ledger")
    return spend_import_from_path(source=source, path=path, mapping=MAPPING)


def test_it_finds_the_duplicate_once_the_import_has_committed(
    tmp_path: Path, django_capture_on_commit_callbacks
) -> None:
    spend_import = _queued_import(tmp_path)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        done = spend_import_run(spend_import_id=spend_import.pk)

    assert len(callbacks) == 1
    assert done.rows_imported == 3
    finding = SpendAnomaly.objects.get()
    assert finding.kind == AnomalyKind.DUPLICATE_PAYMENT
    assert finding.lines.count() == 2
    assert SpendImport.objects.get(pk=spend_import.pk).findings_scanned_at is not None
    # Run again (a redelivered task, or beat): nothing new, nothing twice.
    assert scan_spend_import_findings(spend_import.pk) == 0
    assert SpendAnomaly.objects.count() == 1


def test_it_picks_up_an_import_whose_scan_was_lost(
    tmp_path: Path, django_capture_on_commit_callbacks
) -> None:
    spend_import = _queued_import(tmp_path)
    # Without running the on-commit callbacks: the queued scan never ran.
    spend_import_run(spend_import_id=spend_import.pk)
    assert not SpendAnomaly.objects.exists()

    # The beat scan queues the lost scan through the outbox: it runs once that commits.
    with django_capture_on_commit_callbacks(execute=True):
        assert scan_missed_spend_findings() == 1

    assert SpendAnomaly.objects.count() == 1
    assert scan_missed_spend_findings() == 0
