"""The importer on the real public spend files in ../shared/datasets, as published.

Each expected figure is computed here independently, with the csv module and plain Decimal
arithmetic, from the same file: never taken from the importer.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest
from django.db.models import Count, Sum

from analytics import services
from analytics.models import ImportState, Payee, SpendImport, SpendLine
from analytics.services import spend_import_from_path, spend_import_run, spend_source_get_or_create
from analytics.tests.datasets import CABINET, CARD, CARD_FILE, DATASETS

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(not DATASETS.is_dir(), reason=f"the shared datasets are not at {DATASETS}"),
]

LEEDS = {
    "columns": {
        "date": "Date paid",
        "amount": "Net amount",
        "supplier": "Supplier name",
        "reference": "Transaction number",
        "category": "Expenditure category",
        "department": "Service label",
        "description": "Detailed expenditure type",
    },
    "day_first": True,
}


def _dict_rows(path: Path) -> list[dict[str, str]]:
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("cp1252")
    return list(csv.DictReader(text.splitlines()))


def _expected(path: Path, mapping: dict) -> tuple[int, Decimal]:
    """(rows that carry data in the mapped columns, their total) computed with the stdlib."""
    columns = [c for c in mapping["columns"].values() if c]
    rows = [r for r in _dict_rows(path) if any((r.get(c) or "").strip() for c in columns)]
    amount = mapping["columns"]["amount"]
    total = sum((Decimal(r[amount].replace(",", "")) for r in rows), Decimal("0"))
    return len(rows), total


def _ledger_total() -> Decimal:
    # SQLite sums decimals as floats; two places are what anyone reads.
    return SpendLine.objects.aggregate(t=Sum("base_amount"))["t"].quantize(Decimal("0.01"))


def _import(path: Path, source: str, mapping: dict) -> SpendImport:
    spend_import = spend_import_from_path(
        source=spend_source_get_or_create(name=source), path=path, mapping=mapping
    )
    return spend_import_run(spend_import_id=spend_import.pk)


@pytest.mark.parametrize("month", ["2011-04", "2011-06", "2011-09"])
def test_it_imports_each_leeds_file_with_its_quoted_amounts_and_uk_dates(month: str) -> None:
    path = DATASETS / "leeds-council-spend-over-500" / f"{month}.csv"
    rows, total = _expected(path, LEEDS)

    spend_import = _import(path, "Leeds ledger", LEEDS)

    assert spend_import.state == ImportState.DONE
    assert spend_import.rows_bad == 0
    assert spend_import.rows_imported == rows == SpendLine.objects.count()
    assert spend_import.total_base_amount == total
    assert _ledger_total() == total
    # Credit notes count as negative spend.
    negatives = [r for r in _dict_rows(path) if r["Net amount"].strip().startswith("-")]
    assert SpendLine.objects.filter(amount__lt=0).count() == len(negatives) > 0
    # Lines per month as the file dates them ("06-Apr-2011" in one file, "17/06/2011" in
    # the others; each file also holds the month before's late payments).
    fmt = "%d-%b-%Y" if month == "2011-04" else "%d/%m/%Y"
    per_month = Counter(
        dt.datetime.strptime(r["Date paid"].strip(), fmt).date().replace(day=1)
        for r in _dict_rows(path)
        if r["Date paid"].strip()
    )
    imported = Counter(dict(SpendLine.objects.values_list("month").annotate(n=Count("id"))))
    assert imported == per_month
    assert len(per_month) == 2

    again = _import(path, "Leeds ledger", LEEDS)

    assert (again.rows_imported, again.rows_already_imported) == (0, rows)
    assert SpendLine.objects.count() == rows
    assert _ledger_total() == total


def test_it_counts_the_rows_that_are_nothing_but_commas_as_blank() -> None:
    path = DATASETS / "leeds-council-spend-over-500" / "2011-09.csv"
    blank = sum(1 for r in csv.reader(path.open(encoding="utf-8")) if not any(c.strip() for c in r))

    spend_import = _import(path, "Leeds ledger", LEEDS)

    assert blank > 50_000
    assert spend_import.rows_blank == blank


def test_it_keeps_redacted_suppliers_as_spend_under_one_unmatched_payee() -> None:
    path = DATASETS / "leeds-council-spend-over-500" / "2011-04.csv"
    redacted = [r for r in _dict_rows(path) if r["Supplier name"].upper().startswith("REDACTED")]

    _import(path, "Leeds ledger", LEEDS)

    payee = Payee.objects.get(key="redacted")
    assert payee.vendor is None
    assert payee.lines.count() == len(redacted) > 0


def test_it_imports_the_home_office_card_file_and_again_adds_nothing() -> None:
    path = CARD_FILE
    rows, total = _expected(path, CARD)

    first = _import(path, "Home Office cards", CARD)
    again = _import(path, "Home Office cards", CARD)

    assert first.rows_imported == rows
    assert first.total_base_amount == total
    assert again.rows_imported == 0
    assert again.rows_already_imported == rows
    assert SpendLine.objects.count() == rows
    assert _ledger_total() == total


def test_it_imports_every_cabinet_office_month_without_counting_republished_rows_twice() -> None:
    """Later months republish some earlier payments (same number, date and supplier), and the
    Government Property Agency's small numbers repeat across months for other payments."""
    files = sorted((DATASETS / "cabinet-office-spend-over-25k").glob("*.csv"))
    seen: set[tuple[str, str, str, int]] = set()
    expected_lines, expected_total = 0, Decimal("0")
    for path in files:
        occurrences: Counter[tuple[str, str, str]] = Counter()
        for r in _dict_rows(path):
            if not (r.get("Supplier") or "").strip():
                continue  # the numbered empty rows of 2022-04
            key = (
                r["Transaction number"].strip(),
                r["Date"].strip(),
                " ".join(r["Supplier"].split()).casefold(),
            )
            occurrences[key] += 1
            if (*key, occurrences[key]) not in seen:
                seen.add((*key, occurrences[key]))
                expected_lines += 1
                expected_total += Decimal(r["Amount"].replace(",", ""))

    imports = [_import(path, "Cabinet Office", CABINET) for path in files]

    assert all(i.state == ImportState.DONE and i.rows_bad == 0 for i in imports)
    assert SpendLine.objects.count() == expected_lines
    assert _ledger_total() == expected_total
    assert sum(i.rows_already_imported for i in imports) > 0
    # "Friday, April 29, 2022" is read as a date like "2019-06-11".
    assert SpendLine.objects.filter(date=dt.date(2022, 4, 29)).exists()


def test_it_reads_windows_1252_files() -> None:
    path = DATASETS / "cabinet-office-spend-over-25k" / "2019-06.csv"
    rows, total = _expected(path, CABINET)

    spend_import = _import(path, "Cabinet Office", CABINET)

    assert spend_import.rows_imported == rows
    assert spend_import.total_base_amount == total


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_it_imports_the_same_outside_a_transaction_as_the_worker_does() -> None:
    """The worker and the command run imports outside any transaction, where PostgreSQL
    stages the rows through a second connection while the file is still being read."""
    path = DATASETS / "leeds-council-spend-over-500" / "2011-06.csv"
    rows, total = _expected(path, LEEDS)

    first = _import(path, "Leeds ledger", LEEDS)
    again = _import(path, "Leeds ledger", LEEDS)

    assert (first.rows_imported, first.total_base_amount) == (rows, total)
    assert (again.rows_imported, again.rows_already_imported) == (0, rows)
    assert _ledger_total() == total


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_it_imports_a_file_in_parts_as_it_would_in_one(monkeypatch: pytest.MonkeyPatch) -> None:
    """On PostgreSQL a long file moves into the ledger part by part while the rest is read:
    the lines, their identities, totals and rollups are those of a one-part import."""
    from analytics.tests.test_it_keeps_rollups_equal_to_the_lines import (
        assert_rollups_match_the_lines,
    )

    path = DATASETS / "leeds-council-spend-over-500" / "2011-06.csv"
    rows, total = _expected(path, LEEDS)
    whole = _import(path, "Leeds in one part", LEEDS)
    monkeypatch.setattr(services, "BATCH_ROWS", 50)
    monkeypatch.setattr(services, "PART_ROWS", 100)
    parts = _import(path, "Leeds in parts", LEEDS)

    assert (parts.rows_imported, parts.total_base_amount) == (rows, total)
    assert (whole.rows_imported, whole.total_base_amount) == (rows, total)

    def identities(spend_import: SpendImport) -> list[tuple[str, int | None, Decimal]]:
        return sorted(
            SpendLine.objects.filter(spend_import=spend_import).values_list(
                "identity", "line_number", "base_amount"
            )
        )

    assert identities(parts) == identities(whole)
    assert_rollups_match_the_lines()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_it_adds_nothing_when_a_later_part_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    """Parts already moved are in the same transaction as the last: a failure at the end
    leaves the ledger and the rollups as they were."""
    from analytics import rollups
    from analytics.models import SpendCube

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(services, "BATCH_ROWS", 50)
    monkeypatch.setattr(services, "PART_ROWS", 100)
    monkeypatch.setattr(rollups, "rollups_add_finest", broken)
    monkeypatch.setattr(rollups, "rollups_add_lines", broken)
    path = DATASETS / "leeds-council-spend-over-500" / "2011-06.csv"

    failed = _import(path, "Leeds ledger", LEEDS)

    assert failed.state == ImportState.FAILED
    assert "nothing was added" in failed.error
    assert SpendLine.objects.count() == 0
    assert SpendCube.objects.count() == 0


CABINET_FILES = sorted(p.name for p in (DATASETS / "cabinet-office-spend-over-25k").glob("*.csv"))


@pytest.mark.parametrize("name", CABINET_FILES)
def test_it_imports_each_cabinet_office_month_and_again_adds_nothing(name: str) -> None:
    path = DATASETS / "cabinet-office-spend-over-25k" / name
    rows, total = _expected(path, CABINET)

    first = _import(path, "Cabinet Office", CABINET)
    again = _import(path, "Cabinet Office", CABINET)

    assert (first.rows_imported, first.rows_bad, first.total_base_amount) == (rows, 0, total)
    assert (again.rows_imported, again.rows_already_imported) == (0, rows)
    assert SpendLine.objects.count() == rows
    assert _ledger_total() == total


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.parametrize("part_rows", [2, 250_000], ids=["parts of 2 rows", "one part"])
def test_it_numbers_repeated_lines_across_batches_the_same_on_every_import(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, part_rows: int
) -> None:
    """The same payment line three times in a file, in different batches (and, on
    PostgreSQL, in different parts moved into the ledger while the rest is read): three
    lines, and importing the file again, or a later file with a fourth, adds nothing, then one."""
    monkeypatch.setattr(services, "BATCH_ROWS", 2)
    monkeypatch.setattr(services, "PART_ROWS", part_rows)
    header = "Date,Amount,Supplier,Ref\n"
    same = "01/03/2026,100.00,Acme Ltd,INV-7\n"
    other = [f"02/03/2026,5.00,Beta Ltd,B-{n}\n" for n in range(5)]
    first = tmp_path / "first.csv"
    first.write_text(header + same + other[0] + other[1] + same + other[2] + same)
    later = tmp_path / "later.csv"
    later.write_text(header + same + other[3] + same + other[4] + same + same)
    mapping = {
        "columns": {"date": "Date", "amount": "Amount", "supplier": "Supplier", "reference": "Ref"},
        "day_first": True,
    }

    imported = _import(first, "Ledger", mapping)
    again = _import(first, "Ledger", mapping)
    more = _import(later, "Ledger", mapping)

    assert (imported.rows_imported, again.rows_imported, more.rows_imported) == (6, 0, 3)
    assert SpendLine.objects.filter(reference="INV-7").count() == 4
    assert SpendLine.objects.count() == 9
