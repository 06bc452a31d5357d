"""Partition the spend lines by month (PostgreSQL), or keep the partitions ahead of the data.

    python manage.py partition_spend_lines --dry-run     # print the SQL, change nothing
    python manage.py partition_spend_lines               # convert (maintenance window)
    python manage.py partition_spend_lines --from 2011-01 --to 2011-12   # months for a backfill

The first run turns the lines table into one partitioned by month: a partition for every
month that has lines, for this month and the next --months-ahead, and a default one. Later
runs (and the daily beat task) create the coming months and move any month that landed in
the default partition into its own; with nothing to do they say so and exit 0. Everything
is one transaction. docs/scaling.md says when this is worth doing.
"""

from __future__ import annotations

import datetime as dt
from argparse import ArgumentParser, ArgumentTypeError
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from analytics.partitions import (
    MONTHS_AHEAD,
    PartitionError,
    months_between,
    partition_plan,
    partition_plan_apply,
    spend_line_partitions,
)


def _month(value: str) -> dt.date:
    try:
        return dt.datetime.strptime(value, "%Y-%m").date()
    except ValueError:
        raise ArgumentTypeError(f"{value!r} is not a month; write it as 2011-04.") from None


def _months_ahead(value: str) -> int:
    if not value.isdigit() or not 0 <= int(value) <= 36:
        raise ArgumentTypeError(f"{value!r} must be a whole number of months from 0 to 36.")
    return int(value)


def _span(months: list[dt.date]) -> str:
    if not months:
        return "none"
    if len(months) <= 6:
        return ", ".join(f"{month:%Y-%m}" for month in months)
    return f"{len(months)} months from {months[0]:%Y-%m} to {months[-1]:%Y-%m}"


class Command(BaseCommand):
    help = "Partition the spend lines by month on PostgreSQL, or create the coming months."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="Print the SQL it would run; change nothing."
        )
        parser.add_argument(
            "--months-ahead",
            type=_months_ahead,
            default=MONTHS_AHEAD,
            help=f"Months after this one to create now (default {MONTHS_AHEAD}).",
        )
        parser.add_argument(
            "--from",
            dest="first",
            type=_month,
            help="Also create the months from this one (YYYY-MM), e.g. before importing "
            "old files; with --to.",
        )
        parser.add_argument("--to", dest="last", type=_month, help="Last such month (YYYY-MM).")

    def handle(self, *args: Any, **options: Any) -> None:
        first, last = options["first"], options["last"]
        if (first is None) != (last is None):
            raise CommandError("--from and --to go together: give both months, or neither.")
        if first and last and first > last:
            raise CommandError(f"--from {first:%Y-%m} is after --to {last:%Y-%m}.")
        extra = months_between(first, last) if first and last else []
        try:
            plan = partition_plan(months_ahead=options["months_ahead"], extra_months=extra)
            if options["dry_run"]:
                self.stdout.write(plan.sql(), ending="")
                return
            partition_plan_apply(plan)
        except PartitionError as error:
            raise CommandError(str(error)) from None

        if plan.converting:
            self.stdout.write(
                f"Partitioned the spend lines by month: {plan.lines:,} lines in "
                f"{len(plan.months_created)} monthly partitions "
                f"({plan.months_created[0]:%Y-%m} to {plan.months_created[-1]:%Y-%m}) and a "
                "default one."
            )
            return
        partitions = len(spend_line_partitions())
        if plan.empty:
            self.stdout.write(
                f"The spend lines are already partitioned by month ({partitions} monthly "
                "partitions); every month asked for has one and the default partition holds "
                "no lines. Nothing to do."
            )
            return
        moved = sum(plan.months_moved.values())
        self.stdout.write(
            f"The spend lines were already partitioned; created monthly partitions: "
            f"{_span(plan.months_created)}"
            + (f", moving {moved:,} lines out of the default partition." if moved else ".")
        )
