"""Exchange rates to the base currency: imported from a CSV file, looked up by day.

A rate file is `currency,date,rate` with a header, one row per currency and day from which
the rate applies (ISO 2026-01-31 or UK 31/01/2026 dates). The whole file is checked before
anything is written, so a bad row leaves the table as it was and every problem is reported
with its line number at once.
"""

from __future__ import annotations

import bisect
import csv
import datetime as dt
import io
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path
from typing import IO

import pycountry
from django.conf import settings
from django.db import transaction

from procurement.errors import InvalidInput
from procurement.models import ExchangeRate
from procurement.money import CENT, MissingExchangeRate

COLUMNS = ("currency", "date", "rate")
# The database column: 18 digits, 8 after the point.
_RATE_MAX = Decimal("1e10")
_MAX_ERRORS_SHOWN = 50


@dataclass(frozen=True)
class RateImportCounts:
    created: int
    updated: int
    unchanged: int

    @property
    def total(self) -> int:
        return self.created + self.updated + self.unchanged


def _date(value: str) -> dt.date:
    value = value.strip()
    if "/" in value:
        return dt.datetime.strptime(value, "%d/%m/%Y").date()
    return dt.date.fromisoformat(value)


def _text_lines(file: str | Path | IO[bytes] | IO[str]) -> Iterable[str]:
    if isinstance(file, str | Path):
        return Path(file).read_text(encoding="utf-8-sig").splitlines()
    content = file.read()
    if isinstance(content, bytes):
        try:
            content = content.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise InvalidInput(
                "The file is not UTF-8 text.", fields={"file": ["Save it as CSV (UTF-8)."]}
            ) from None
    return io.StringIO(content, newline="")


def _parse(file: str | Path | IO[bytes] | IO[str]) -> dict[tuple[str, dt.date], Decimal]:
    reader = csv.reader(_text_lines(file))
    header = next(reader, None)
    names = [h.strip().lower() for h in header or []]
    missing = [c for c in COLUMNS if c not in names]
    if missing:
        raise InvalidInput(
            "Line 1 must be the header currency,date,rate.",
            fields={"file": [f"line 1: no {', '.join(missing)} column (the header is required)"]},
        )
    where = {c: names.index(c) for c in COLUMNS}
    rates: dict[tuple[str, dt.date], Decimal] = {}
    seen_on: dict[tuple[str, dt.date], int] = {}
    errors: list[str] = []
    for line_number, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue
        cells = {c: (row[i].strip() if i < len(row) else "") for c, i in where.items()}
        problems = []
        currency = cells["currency"].upper()
        if pycountry.currencies.get(alpha_3=currency) is None or len(currency) != 3:
            problems.append(f"{cells['currency']!r} is not an ISO currency code")
        elif currency == settings.BASE_CURRENCY:
            problems.append(f"{currency} is the base currency (its rate is always 1)")
        try:
            day = _date(cells["date"])
            if not 1900 <= day.year <= 2999:
                raise ValueError
        except ValueError:
            problems.append(f"{cells['date']!r} is not a date (use 2026-01-31 or 31/01/2026)")
            day = None
        try:
            rate = Decimal(cells["rate"].replace(",", ""))
            if not rate.is_finite() or rate <= 0 or rate >= _RATE_MAX:
                raise InvalidOperation
            if rate != rate.quantize(Decimal("1e-8")):
                problems.append(f"{cells['rate']!r} has more than 8 decimal places")
        except InvalidOperation:
            problems.append(f"{cells['rate']!r} is not a positive rate")
            rate = None
        if not problems and day is not None and rate is not None:
            key = (currency, day)
            if key in rates and rates[key] != rate:
                problems.append(
                    f"{currency} on {day.isoformat()} already has rate {rates[key]} "
                    f"on line {seen_on[key]}"
                )
            else:
                rates[key] = rate
                seen_on.setdefault(key, line_number)
        errors += [f"line {line_number}: {problem}" for problem in problems]
    if errors:
        shown = errors[:_MAX_ERRORS_SHOWN]
        if len(errors) > len(shown):
            shown.append(f"... and {len(errors) - len(shown)} more")
        raise InvalidInput(
            f"Nothing was imported: {len(errors)} bad row{'s' if len(errors) != 1 else ''} "
            f"({errors[0]}).",
            fields={"file": shown},
        )
    if not rates:
        raise InvalidInput("The file has no rates.", fields={"file": ["line 2: no rows"]})
    return rates


@transaction.atomic
def exchange_rates_import(file: str | Path | IO[bytes] | IO[str]) -> RateImportCounts:
    """Upsert the rates of a `currency,date,rate` CSV (a path or an open file).

    Validates every row first: on any bad row raises InvalidInput whose `fields["file"]`
    lists the problems by line number, and writes nothing. Otherwise one transaction adds
    new (currency, day) rates and updates changed ones.
    """
    rates = _parse(file)
    currencies = {currency for currency, _day in rates}
    existing = {
        (row.currency, row.valid_from): row
        for row in ExchangeRate.objects.select_for_update().filter(currency__in=currencies)
    }
    new, changed, unchanged = [], [], 0
    for (currency, day), rate in sorted(rates.items()):
        row = existing.get((currency, day))
        if row is None:
            new.append(ExchangeRate(currency=currency, valid_from=day, rate=rate))
        elif row.rate != rate:
            row.rate = rate
            changed.append(row)
        else:
            unchanged += 1
    ExchangeRate.objects.bulk_create(new, batch_size=1000)
    ExchangeRate.objects.bulk_update(changed, ["rate"], batch_size=1000)
    return RateImportCounts(created=len(new), updated=len(changed), unchanged=unchanged)


class RateTable:
    """Every exchange rate, loaded once, for converting many amounts (an import's lines):
    the rate of a day is the latest one valid from that day or before."""

    def __init__(self) -> None:
        self.base = settings.BASE_CURRENCY
        self._days: dict[str, list[dt.date]] = {}
        self._rates: dict[str, list[Decimal]] = {}
        for currency, valid_from, rate in ExchangeRate.objects.order_by(
            "currency", "valid_from"
        ).values_list("currency", "valid_from", "rate"):
            self._days.setdefault(currency, []).append(valid_from)
            self._rates.setdefault(currency, []).append(rate)

    def rate(self, currency: str, on: dt.date) -> Decimal:
        """Base-currency value of one unit of `currency` on `on`; MissingExchangeRate if none."""
        if currency == self.base:
            return Decimal(1)
        days = self._days.get(currency)
        i = bisect.bisect_right(days, on) - 1 if days else -1
        if i < 0:
            raise MissingExchangeRate(
                f"There is no exchange rate from {currency} to {self.base} for {on:%d %b %Y}. "
                "Ask finance to add one.",
                fields={"currency": [f"No exchange rate for {currency}."]},
            )
        return self._rates[currency][i]

    def to_base(self, amount: Decimal, currency: str, on: dt.date) -> Decimal:
        """`amount` in the base currency, to the cent (as procurement.money rounds it)."""
        if currency == self.base:
            return amount
        return (amount * self.rate(currency, on)).quantize(CENT, rounding=ROUND_HALF_UP)
