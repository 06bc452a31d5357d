"""Bad rows are reported by line number and never cost a good row; a failed import adds nothing."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from analytics import importing, rollups, services
from analytics.importing import parse_amount, parse_date
from analytics.models import ImportState, SpendByMonthPayee, SpendCube, SpendImport, SpendLine
from analytics.services import (
    LineInput,
    spend_import_from_path,
    spend_import_run,
    spend_lines_add,
    spend_source_get_or_create,
)
from procurement.errors import InvalidInput
from procurement.models import ExchangeRate

pytestmark = pytest.mark.django_db

MAPPING = {
    "columns": {
        "date": "Date",
        "amount": "Amount",
        "supplier": "Supplier",
        "currency": "Currency",
        "reference": "Ref",
    },
    "day_first": True,
}


def _file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "spend.csv"
    path.write_text(text, encoding="utf-8")
    return path


def _run(path: Path, mapping: dict = MAPPING) -> SpendImport:
    source = spend_source_get_or_create(name="Ledger")
    return spend_import_run(
        spend_import_id=spend_import_from_path(source=source, path=path, mapping=mapping).pk
    )


def test_it_reports_each_bad_row_with_its_line_number_and_imports_the_rest(tmp_path: Path) -> None:
    path = _file(
        tmp_path,
        "Date,Amount,Supplier,Currency,Ref\n"
        '01/02/2026,"1,200.50",Acme Ltd,,A1\n'  # line 2: good
        "31/02/2026,10.00,Acme Ltd,,A2\n"  # line 3: no such day
        "02/02/2026,ten,Acme Ltd,,A3\n"  # line 4: not an amount
        "03/02/2026,5.00,,,A4\n"  # line 5: no supplier
        "04/02/2026,5.00,#N/A,,A5\n"  # line 6: "#N/A" is no supplier either
        "05/02/2026,7.00,Acme Ltd,EURO,A6\n"  # line 7: not a currency code
        "06/02/2026,-20.00,Acme Ltd,,A7\n"  # line 8: a credit note, good
        ",,,,\n"  # line 9: blank
        "Date,Amount,Supplier,Currency,Ref\n"  # line 10: the header again
        "07/02/2026,(30.00),Beta plc,,A8\n",  # line 11: a credit in brackets, good
    )

    spend_import = _run(path)

    assert spend_import.state == ImportState.DONE
    assert [(p.line_number, p.column) for p in spend_import.problems.all()] == [
        (3, "Date"),
        (4, "Amount"),
        (5, "Supplier"),
        (6, "Supplier"),
        (7, "Currency"),
    ]
    assert spend_import.rows_bad == 5
    assert spend_import.rows_blank == 2
    assert spend_import.rows_imported == 3
    assert sorted(SpendLine.objects.values_list("amount", flat=True)) == [
        Decimal("-30.00"),
        Decimal("-20.00"),
        Decimal("1200.50"),
    ]


def test_it_reports_a_row_in_a_currency_without_an_exchange_rate(tmp_path: Path) -> None:
    ExchangeRate.objects.create(
        currency="EUR", rate=Decimal("0.85"), valid_from=dt.date(2026, 1, 1)
    )
    path = _file(
        tmp_path,
        "Date,Amount,Supplier,Currency,Ref\n"
        "01/02/2026,100.00,Acme GmbH,EUR,E1\n"
        "01/02/2026,100.00,Acme Inc,USD,U1\n"
        "01/12/2025,100.00,Acme GmbH,EUR,E2\n",  # before the first EUR rate
    )

    spend_import = _run(path)

    assert [(p.line_number, p.column) for p in spend_import.problems.all()] == [
        (3, "Currency"),
        (4, "Currency"),
    ]
    line = SpendLine.objects.get()
    assert (line.amount, line.currency, line.base_amount) == (
        Decimal("100.00"),
        "EUR",
        Decimal("85.00"),
    )


def test_it_adds_nothing_when_the_ledger_write_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _file(
        tmp_path,
        "Date,Amount,Supplier,Currency,Ref\n01/02/2026,10.00,Acme,,A1\n02/02/2026,11.00,Acme,,A2\n",
    )

    def broken(**kwargs: object) -> None:
        raise RuntimeError("disk full")

    # The rollups are written after the lines, in the same transaction (one statement with
    # them on PostgreSQL, a second one on SQLite).
    monkeypatch.setattr(rollups, "rollups_insert_lines", broken)
    monkeypatch.setattr(rollups, "rollups_add_lines", broken)
    spend_import = _run(path)

    assert spend_import.state == ImportState.FAILED
    assert "nothing was added" in spend_import.error
    assert not SpendLine.objects.exists()
    assert not SpendCube.objects.exists()
    assert not SpendByMonthPayee.objects.exists()


def test_it_refuses_a_mapping_that_names_a_missing_column(tmp_path: Path) -> None:
    path = _file(tmp_path, "Date,Amount,Supplier\n01/02/2026,10.00,Acme\n")
    source = spend_source_get_or_create(name="Ledger")

    with pytest.raises(InvalidInput) as refused:
        spend_import_from_path(
            source=source,
            path=path,
            mapping={"columns": {"date": "Date", "amount": "Net amount", "supplier": "Supplier"}},
        )

    assert refused.value.fields == {"amount": ["The file has no column 'Net amount'."]}


def test_it_skips_lines_the_platform_already_added() -> None:
    source = spend_source_get_or_create(name="Platform invoices")
    line = LineInput(
        date=dt.date(2026, 3, 2), amount=Decimal("99.99"), supplier="Acme Ltd", reference="INV-1"
    )

    first = spend_lines_add(source=source, lines=[line])
    second = spend_lines_add(source=source, lines=[line])

    assert (first.rows_imported, second.rows_imported, second.rows_already_imported) == (1, 0, 1)
    assert SpendLine.objects.count() == 1


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2019-06-11", dt.date(2019, 6, 11)),
        ("17/06/2011", dt.date(2011, 6, 17)),
        ("06-Apr-2011", dt.date(2011, 4, 6)),
        ("6 April 2011", dt.date(2011, 4, 6)),
        ("Friday, April 29, 2022", dt.date(2022, 4, 29)),
        ("31/02/2026", None),
        ("yesterday", None),
    ],
)
def test_it_reads_the_date_formats_of_real_exports(text: str, expected: dt.date | None) -> None:
    assert parse_date(text, day_first=True) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2,142.73", Decimal("2142.73")),
        ("-1,000", Decimal("-1000.00")),
        ("(30.00)", Decimal("-30.00")),
        ("45.10 CR", Decimal("-45.10")),
        ("£25,000.00", Decimal("25000.00")),
        ("42329.8", Decimal("42329.80")),
        ("1e400", None),
        ("NaN", None),
        ("12abc", None),
    ],
)
def test_it_reads_the_amount_formats_of_real_exports(text: str, expected: Decimal | None) -> None:
    assert parse_amount(text) == expected


def test_it_counts_every_bad_row_but_keeps_reasons_for_a_bounded_number(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(services, "PROBLEMS_STORED_MAX", 2)
    path = _file(
        tmp_path,
        "Date,Amount,Supplier,Currency,Ref\n"
        "x,1,A,,1\nx,1,A,,2\nx,1,A,,3\n01/02/2026,5.00,Acme,,4\n",
    )

    spend_import = _run(path)

    assert spend_import.rows_bad == 3
    assert spend_import.problems.count() == 2
    assert spend_import.rows_imported == 1


def test_it_refuses_a_file_without_line_breaks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(importing, "LINE_MAX_BYTES", 100)
    path = _file(tmp_path, "Date,Amount,Supplier\n" + "01/02/2026,5.00," + "A" * 200 + "\n")

    with pytest.raises(InvalidInput, match="longer than 1 MB"):
        spend_import_from_path(
            source=spend_source_get_or_create(name="Ledger"),
            path=path,
            mapping={"columns": {"date": "Date", "amount": "Amount", "supplier": "Supplier"}},
        )
    assert not SpendLine.objects.exists()
