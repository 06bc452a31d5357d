"""Side effects of analytics, run by the Celery worker. Thin: load by id, call a service."""

from __future__ import annotations

import datetime as dt

from celery import shared_task
from django.db import transaction
from django.utils import timezone

from procurement.outbox import enqueue

# --- Scheduled spend reports -------------------------------------------------------------


@shared_task
def send_due_spend_reports() -> int:
    """Beat (hourly): queue a report for each subscription whose last full week or month
    has ended unsent. Queuing one twice is harmless: the send happens once per period.
    Queued through the outbox, so a Redis blip mid-loop leaves the rest for the relay."""
    from analytics.reports import report_deliveries_due

    due = report_deliveries_due(today=timezone.localdate())
    with transaction.atomic():
        for subscription_id, period_start in due:
            enqueue(send_spend_report, subscription_id, period_start.isoformat())
    return len(due)


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def send_spend_report(subscription_id: int, period_start: str) -> bool:
    from analytics.emails import send_spend_report as send

    return send(subscription_id=subscription_id, period_start=dt.date.fromisoformat(period_start))


# --- Spend imports -------------------------------------------------------------------------


@shared_task(acks_late=True)
def spend_import_task(spend_import_id: int) -> str:
    """Run a confirmed import. A redelivered task finds it no longer queued and stops."""
    from analytics.services import spend_import_run

    return str(spend_import_run(spend_import_id=spend_import_id).state)


@shared_task(acks_late=True)
def scan_spend_import_findings(spend_import_id: int) -> int:
    """Queued when a file import commits; a second run finds it scanned and stops."""
    from analytics.services import spend_import_findings_scan

    return spend_import_findings_scan(spend_import_id=spend_import_id)


@shared_task
def scan_missed_spend_findings() -> int:
    """Beat: imports whose findings task was lost (a worker gone before it ran)."""
    from analytics.models import ImportState, SpendImport

    missed = SpendImport.objects.filter(state=ImportState.DONE, findings_scanned_at=None)
    ids = list(missed.values_list("pk", flat=True)[:20])
    with transaction.atomic():
        for spend_import_id in ids:
            enqueue(scan_spend_import_findings, spend_import_id)
    return len(ids)


# --- Spend-line partitions ------------------------------------------------------------------


@shared_task
def keep_spend_line_partitions() -> None:
    """Daily: create the coming months' spend-line partitions and move months found in the
    default partition into their own. Does nothing unless the lines are partitioned
    (manage.py partition_spend_lines); an import holding the table defers it to the next run."""
    from analytics.partitions import spend_partitions_maintain

    spend_partitions_maintain()
