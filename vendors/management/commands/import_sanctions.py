"""Import a published sanctions list and screen every vendor against it again.

    python manage.py import_sanctions --source uk ConList.csv
    python manage.py import_sanctions --source eu eu_consolidated.xml
    python manage.py import_sanctions --source ofac --aliases alt.csv sdn.csv
    python manage.py import_sanctions --source ofac sdn.xml

A bad file (missing, malformed, empty, or another list's) exits non-zero with the reason
and leaves the previous import of that list in place.
"""

from __future__ import annotations

from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from procurement.errors import ApplicationError
from vendors.models import SanctionsName, SanctionsSource
from vendors.sanctions import sanctions_list_import


class Command(BaseCommand):
    help = "Import a sanctions list (UK OFSI CSV, EU XML, OFAC SDN CSV or XML); vendors are screened again."

    def add_arguments(self, parser: ArgumentParser) -> None:
        sources = ", ".join(f"{s.value} ({s.label})" for s in SanctionsSource)
        parser.add_argument("path", type=Path, help="The list file as downloaded.")
        parser.add_argument("--source", required=True, help=f"Which list it is: {sources}.")
        parser.add_argument(
            "--aliases",
            type=Path,
            default=None,
            help="OFAC's alt.csv, read with sdn.csv (sdn.xml carries its aliases itself).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        source = str(options["source"]).strip().lower()
        if source not in SanctionsSource.values:
            raise CommandError(
                f"Unknown --source {options['source']!r}: use "
                + ", ".join(f"{s.value} for the {s.label}" for s in SanctionsSource)
                + "."
            )
        try:
            imported = sanctions_list_import(
                source=source, path=options["path"], aliases_path=options["aliases"]
            )
        except ApplicationError as error:
            raise CommandError(error.message) from None
        names = SanctionsName.objects.filter(entry__sanctions_list=imported).count()
        self.stdout.write(
            f"Imported {imported.entry_count:,} entries ({names:,} names) "
            f"from the {imported.get_source_display()}."
        )
