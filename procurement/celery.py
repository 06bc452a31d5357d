"""The Celery app. Broker: Redis when REDIS_URL is set, else kombu's filesystem transport."""

from __future__ import annotations

import datetime as dt
import logging
import math
import os
from pathlib import Path
from typing import Any, cast

from celery import Celery
from celery.beat import PersistentScheduler, ScheduleEntry
from celery.schedules import crontab, schedule

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "procurement.settings")

app = Celery("procurement")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

logger = logging.getLogger(__name__)


def ensure_broker_folders() -> None:
    """The filesystem transport needs its folders to exist before anyone publishes."""
    from django.conf import settings

    if settings.CELERY_BROKER_URL.startswith("filesystem://"):
        options = settings.CELERY_BROKER_TRANSPORT_OPTIONS
        for key in ("data_folder_in", "data_folder_out", "processed_folder", "control_folder"):
            Path(str(options[key])).mkdir(parents=True, exist_ok=True)


def beat_period(entry: ScheduleEntry, now: dt.datetime) -> dt.datetime:
    """The start of the period a due beat entry runs for: the same in every beat process,
    whenever each started, so that two of them name one run alike.

    Every `schedule` seconds (an interval) counts in windows of that length from the Unix
    epoch; a crontab entry runs for the time it fell due, to the minute.
    """
    if isinstance(entry.schedule, crontab):
        # The first time the crontab matched after the entry last ran: the time now due.
        last_run_at = entry.last_run_at or entry.default_now()
        due = entry.schedule.now() + entry.schedule.remaining_estimate(last_run_at)
        # Crontab times are whole minutes; "now + remaining" is off by the microseconds
        # between the two clock reads.
        due += dt.timedelta(seconds=30)
        return due.astimezone(dt.UTC).replace(second=0, microsecond=0)
    if isinstance(entry.schedule, schedule) and entry.schedule.seconds > 0:
        seconds = float(entry.schedule.seconds)
        start = math.floor(now.timestamp() / seconds) * seconds
        return dt.datetime.fromtimestamp(start, dt.UTC)
    return now.astimezone(dt.UTC).replace(second=0, microsecond=0)


class OnceScheduler(PersistentScheduler):
    """Beat's scheduler (CELERY_BEAT_SCHEDULER): each due run is queued through the task
    outbox under the key "beat:<entry>:<period>", unique in the database.

    Two beat processes started by mistake (two hosts, or a new one before the old one
    stopped) both try to queue "rfq-deadlines for 10:05"; the key lets one through and the
    other logs that it was queued already. A run due while Redis is down waits in the outbox
    instead of being lost (procurement/outbox.py). Without the database beat queues nothing;
    the next period's run does what was due (every periodic task scans for what is due).
    """

    def apply_async(
        self, entry: ScheduleEntry, producer: Any = None, advance: bool = True, **kwargs: Any
    ) -> None:
        from django.db import close_old_connections, connection

        from procurement.outbox import enqueue_periodic

        # (celery-types says reserve returns a heap event; it returns the advanced entry.)
        entry = cast(ScheduleEntry, self.reserve(entry)) if advance else entry
        if entry.name is None or entry.task is None:
            raise ValueError(f"A beat entry needs a name and a task: {entry!r}")
        # Beat runs for weeks: drop a connection PostgreSQL closed since the last run.
        if not connection.in_atomic_block:
            close_old_connections()
        try:
            queued = enqueue_periodic(
                entry=entry.name,
                task=entry.task,
                period=beat_period(entry, dt.datetime.now(dt.UTC)),
                args=list(entry.args or ()),
                kwargs=dict(entry.kwargs or {}),
                options=dict(entry.options or {}),
            )
            if not queued:
                logger.info("beat: %s for this period was queued by another beat", entry.name)
        finally:
            # What Scheduler.apply_async does after sending: save the schedule file now and then.
            self._tasks_since_sync += 1  # type: ignore[attr-defined]
            if self.should_sync():
                self._do_sync()  # type: ignore[attr-defined]
