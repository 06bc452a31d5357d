"""`manage.py import_spend FILE --source NAME [--mapping ...] [--queue]`."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from analytics.models import SpendLine, SpendSource

pytestmark = pytest.mark.django_db

CSV = (
    "Date paid,Net amount,Supplier name,Transaction number\n"
    '01/04/2026,"1,000.00",Acme Ltd,T1\n'
    "02/04/2026,-50.00,Acme Ltd,T2\n"
    "03/04/2026,oops,Acme Ltd,T3\n"
)
MAPPING = "date=Date paid;amount=Net amount;supplier=Supplier name;reference=Transaction number"


def _run(*args: str) -> str:
    out = io.StringIO()
    call_command("import_spend", *args, stdout=out)
    return out.getvalue()


def test_it_imports_with_a_progress_bar_and_lists_the_bad_rows(tmp_path: Path) -> None:
    path = tmp_path / "april.csv"
    path.write_text(CSV)

    output = _run(str(path), "--source", "Ledger", "--mapping", MAPPING)

    assert "100%" in output
    assert "[####" in output
    assert "3 rows read, 2 imported, 0 already imported, 1 bad" in output
    assert "line 4: Net amount: 'oops' is not an amount." in output
    assert SpendLine.objects.count() == 2


def test_it_reuses_the_sources_saved_mapping_and_adds_nothing_twice(tmp_path: Path) -> None:
    path = tmp_path / "april.csv"
    path.write_text(CSV)
    _run(str(path), "--source", "Ledger", "--mapping", MAPPING)

    output = _run(str(path), "--source", "Ledger")

    assert "0 imported, 2 already imported" in output
    assert (
        SpendSource.objects.get(name="Ledger").mapping["columns"]["reference"]
        == "Transaction number"
    )
    assert SpendLine.objects.count() == 2


# Committed for real: the command queues through the task outbox, which publishes when the
# row commits, and then waits for the import to finish.
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_it_reads_a_mapping_from_a_json_file_and_runs_on_the_worker(tmp_path: Path) -> None:
    path = tmp_path / "april.csv"
    path.write_text(CSV)
    mapping = tmp_path / "mapping.json"
    mapping.write_text(
        json.dumps(
            {
                "columns": {
                    "date": "Date paid",
                    "amount": "Net amount",
                    "supplier": "Supplier name",
                },
                "day_first": True,
            }
        )
    )

    output = _run(str(path), "--source", "Ledger", "--mapping", str(mapping), "--queue")

    assert "2 imported" in output
    assert SpendLine.objects.count() == 2


def test_it_exits_with_the_reason_when_it_cannot_import(tmp_path: Path) -> None:
    path = tmp_path / "april.csv"
    path.write_text("When,How much,Who\n01/04/2026,10,Acme\n")

    with pytest.raises(
        CommandError, match="Cannot tell which column holds the date, amount, supplier"
    ):
        _run(str(path), "--source", "Ledger")
    with pytest.raises(CommandError, match="amount: The file has no column 'Net amount'"):
        _run(
            str(path), "--source", "Ledger", "--mapping", "date=When;amount=Net amount;supplier=Who"
        )
    with pytest.raises(CommandError, match="is not a file"):
        _run(str(tmp_path / "missing.csv"), "--source", "Ledger")
    assert not SpendLine.objects.exists()
