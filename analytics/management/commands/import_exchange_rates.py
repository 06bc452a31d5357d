"""Load exchange rates to the base currency from a CSV file.

    python manage.py import_exchange_rates rates.csv

The file is `currency,date,rate` with that header (dates 2026-01-31 or 31/01/2026; the rate
is the base-currency value of one unit, from that day on). Rates already there for the same
currency and day are replaced. Any bad row exits non-zero listing the bad lines by number,
and nothing is written.
"""

from __future__ import annotations

from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from analytics.fx import exchange_rates_import
from procurement.errors import ApplicationError


class Command(BaseCommand):
    help = "Import exchange rates (currency,date,rate CSV) to the base currency."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("path", type=Path, help="The CSV file: currency,date,rate.")

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["path"]
        if not path.is_file():
            raise CommandError(f"No such file: {path}")
        try:
            counts = exchange_rates_import(path)
        except ApplicationError as error:
            for problem in error.fields.get("file", []):
                self.stderr.write(problem)
            raise CommandError(error.message) from None
        self.stdout.write(
            f"Imported {counts.total:,} rates from {path.name}: {counts.created:,} new, "
            f"{counts.updated:,} changed, {counts.unchanged:,} unchanged."
        )
