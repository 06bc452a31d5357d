"""Import a spend file from the command line, with a progress bar.

    python manage.py import_spend leeds-2011-09.csv --source "Leeds ledger" \\
        --mapping "date=Date paid;amount=Net amount;supplier=Supplier name;reference=Transaction number"
    python manage.py import_spend cabinet-2019-06.csv --source "Cabinet Office"   # saved mapping
    python manage.py import_spend big.csv --source Ledger --mapping mapping.json --queue

--mapping takes field=Column pairs separated by ";" (fields: date, amount, supplier,
reference, category, department, description, currency, quantity, day_first=true|false) or
a JSON file {"columns": {...}, "day_first": true}. Without it, the source's saved mapping
is used, or one guessed from the headers. The file is read in place, never copied.
A file that cannot be imported exits non-zero; bad rows are listed with their line numbers.
"""

from __future__ import annotations

import json
import time
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from analytics.importing import REQUIRED, file_headers, mapping_parse_option, mapping_suggest
from analytics.models import ImportState, SpendImport
from analytics.services import spend_import_from_path, spend_import_run, spend_source_get_or_create
from procurement.errors import ApplicationError
from procurement.outbox import enqueue

BAR_WIDTH = 30


class Command(BaseCommand):
    help = "Import a CSV spend file into a source, skipping lines already imported."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("path", type=Path, help="The CSV file as exported.")
        parser.add_argument(
            "--source", required=True, help="The source's name, e.g. 'Leeds ledger'."
        )
        parser.add_argument(
            "--currency", default=None, help="Currency of a new source (default: base)."
        )
        parser.add_argument("--mapping", default="", help="field=Column;... or a JSON file.")
        parser.add_argument(
            "--queue",
            action="store_true",
            help="Hand the import to the Celery worker and follow its progress.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["path"]
        if not path.is_file():
            raise CommandError(f"{path} is not a file.")
        try:
            source = spend_source_get_or_create(
                name=options["source"], currency=options["currency"]
            )
            headers = file_headers(path)
            mapping = self._mapping(options["mapping"], headers, source.mapping)
            spend_import = spend_import_from_path(source=source, path=path, mapping=mapping)
        except ApplicationError as exc:
            raise CommandError(_describe(exc)) from None
        if options["queue"]:
            from analytics.tasks import spend_import_task

            # Through the outbox like every other task: with Redis down the import waits
            # for `relay_outbox` instead of failing after the file was registered.
            enqueue(spend_import_task, spend_import.pk)
            spend_import = self._follow(spend_import.pk)
        else:
            spend_import = spend_import_run(spend_import_id=spend_import.pk, progress=self._draw)
        self.stdout.write("")
        self._summarise(spend_import)
        if spend_import.state != ImportState.DONE:
            raise CommandError(f"The import failed: {spend_import.error}")

    def _mapping(self, option: str, headers: list[str], saved: dict) -> dict:
        if option:
            candidate = Path(option)
            if option.endswith(".json") or (candidate.is_file() and "=" not in option):
                try:
                    return json.loads(candidate.read_text())
                except (OSError, ValueError) as exc:
                    raise CommandError(f"Cannot read the mapping file {option}: {exc}") from None
            return mapping_parse_option(option)
        mapping = mapping_suggest(headers, saved)
        missing = [f for f in REQUIRED if not mapping["columns"].get(f)]
        if missing:
            raise CommandError(
                f"Cannot tell which column holds the {', '.join(missing)}. The file's columns are: "
                + ", ".join(repr(h) for h in headers)
                + '. Give --mapping "date=...;amount=...;supplier=...".'
            )
        return mapping

    def _draw(self, spend_import: SpendImport) -> None:
        percent = spend_import.progress_percent
        filled = BAR_WIDTH * percent // 100
        self.stdout.write(
            f"\r[{'#' * filled}{' ' * (BAR_WIDTH - filled)}] {percent:3d}%  "
            f"{spend_import.rows_read:,} rows read",
            ending="",
        )
        self.stdout.flush()

    def _follow(self, import_id: int) -> SpendImport:
        while True:
            spend_import = SpendImport.objects.get(pk=import_id)
            self._draw(spend_import)
            if spend_import.state in (ImportState.DONE, ImportState.FAILED):
                return spend_import
            time.sleep(0.5)

    def _summarise(self, spend_import: SpendImport) -> None:
        self.stdout.write(
            f"{spend_import.filename}: {spend_import.rows_read:,} rows read, "
            f"{spend_import.rows_imported:,} imported, "
            f"{spend_import.rows_already_imported:,} already imported, "
            f"{spend_import.rows_bad:,} bad, {spend_import.rows_blank:,} blank or repeated headers; "
            f"total {spend_import.total_base_amount:,.2f}."
        )
        problems = list(spend_import.problems.all()[:20])
        for problem in problems:
            self.stdout.write(f"  line {problem.line_number}: {problem.column}: {problem.message}")
        if spend_import.rows_bad > len(problems):
            self.stdout.write(f"  ... and {spend_import.rows_bad - len(problems):,} more bad rows.")


def _describe(exc: ApplicationError) -> str:
    fields = getattr(exc, "fields", None) or {}
    details = "; ".join(f"{name}: {' '.join(msgs)}" for name, msgs in fields.items())
    return f"{exc} {details}".strip()
