"""Check the audit trail's hash chain: `manage.py verify_audit_chain [--anchor HASH ...]`.

Chains any entries still waiting first (normally none: entries are chained as their
transaction commits; `--no-seal` skips that, e.g. on a read-only replica). Exits 0 and
prints the number of entries and the head hash when every link holds; otherwise names the
first broken link and exits 1. Keep the printed head hash outside the database (a ticket,
a log shipped elsewhere) and pass it back as `--anchor` later: that catches a chain
rewritten and re-hashed from some point on (docs/security.md, "Audit log").
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from procurement.audit_chain import audit_chain_verify


class Command(BaseCommand):
    help = "Recompute every audit entry's hash in chain order and report the first broken link."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--anchor",
            action="append",
            default=[],
            metavar="HASH",
            help="A head hash printed by an earlier run; it must still be in the chain.",
        )
        parser.add_argument(
            "--no-seal",
            action="store_true",
            help="Do not chain waiting entries first (read-only; e.g. on a replica).",
        )
        parser.add_argument(
            "--chunk-size",
            type=int,
            default=2000,
            help="Entries read from the database at a time (default 2000).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        report = audit_chain_verify(
            anchors=options["anchor"], chunk_size=options["chunk_size"], seal=not options["no_seal"]
        )
        if report.broken is not None:
            where = (
                "the chain head"
                if report.broken.entry_id is None
                else f"entry {report.broken.entry_id}"
            )
            raise CommandError(
                f"Audit chain broken at {where}: {report.broken.problem}. "
                f"The {report.length} entries before it are intact."
            )
        if report.missing_anchors:
            raise CommandError(
                "Audit chain rewritten: no entry has the anchored hash "
                + ", ".join(report.missing_anchors)
                + f" (the chain of {report.length} entries is consistent in itself, "
                "so it was re-hashed after a change)."
            )
        waiting = f" ({report.unchained} newer not chained yet)" if report.unchained else ""
        self.stdout.write(
            f"Audit chain OK: {report.length} entries, head {report.head_hash}{waiting}"
        )
