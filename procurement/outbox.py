"""The transactional outbox: a task is queued in the transaction of the change that wants it.

`enqueue(task, *args)` writes a TaskOutbox row in the caller's transaction, instead of
`transaction.on_commit(lambda: task.delay(*args))`. When the transaction commits, the row is
published to the broker at once and marked published. When the broker is down (Redis stopped,
restarting, unreachable), the request that queued it still succeeds: the row waits, and
`manage.py relay_outbox`, a process of its own, publishes it once the broker answers. A
transaction that rolls back leaves no row, so nothing is queued for a change that never was.

Publishing is "at least once": a process that dies after the broker took a row but before the
row was marked published leaves it pending, and it is published again. So every task is
idempotent (docs/operations.md, "Tasks and Redis outages", says why each one is), and every
email goes through procurement.services.email_send_once and its key.

With task_always_eager (unit tests; CELERY_TASK_ALWAYS_EAGER=1 on a laptop) the task runs
in-process when the transaction commits, as `on_commit(task.delay)` did.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from functools import partial
from typing import Any

from celery import Task
from django.db import DatabaseError, IntegrityError, connections, router, transaction
from django.db.models import Count, F, Min
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerOperationalError

from procurement.celery import app
from procurement.logging import TASK_HEADER, request_id_var
from procurement.models import TaskOutbox
from procurement.prepared import PreparedInsert

logger = logging.getLogger(__name__)

# What a broker that is down or unreachable raises: kombu wraps connection errors in its
# OperationalError; a timeout on a half-open connection is an OSError.
BROKER_ERRORS = (BrokerOperationalError, OSError)
# One reconnect, for a pooled connection that died with a Redis restart; no more, as the
# committing web request waits for it (and the relay tries again soon anyway).
PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2}
# A row still pending this long after it was written was not published by the process that
# wrote it (the broker was down, or the process died): the relay's business. Younger rows are
# left to that process, so that the two do not race (on SQLite nothing else stops them).
RELAY_MIN_AGE = dt.timedelta(seconds=5)
# Published rows are kept a while to answer "was that email queued?", then deleted.
KEEP_PUBLISHED = dt.timedelta(days=7)
BATCH = 100
# Written by most changes: compiled once (procurement/prepared.py).
_OUTBOX_INSERT = PreparedInsert(TaskOutbox)


@dataclass(frozen=True)
class Published:
    """What one publishing pass did: how many rows went out, and the broker's error if it
    stopped on one (the rest of the rows are left for the next pass)."""

    count: int
    broker_error: str = ""


def enqueue(task: Task[Any, Any], *args: Any, **kwargs: Any) -> TaskOutbox:
    """Queue `task(*args, **kwargs)` with the caller's transaction: published when it commits
    (at once outside a transaction), never if it rolls back.

    Arguments must be JSON (ids, strings, numbers, lists): the row is written now, and saving
    anything else raises here, in the caller, rather than later in a worker.
    """
    # The relay may publish it long after this request: carry the request's id along, so the
    # worker still logs the task under it (procurement/logging.py).
    request_id = request_id_var.get()
    options = {"headers": {TASK_HEADER: request_id}} if request_id else {}
    row = _OUTBOX_INSERT.create(task=task.name, args=list(args), kwargs=kwargs, options=options)
    transaction.on_commit(partial(_publish_after_commit, row))
    return row


def enqueue_periodic(
    *,
    entry: str,
    task: str,
    period: dt.datetime,
    args: list[Any] | None = None,
    kwargs: dict[str, Any] | None = None,
    options: dict[str, Any] | None = None,
) -> bool:
    """Queue beat's run of schedule `entry` for the `period` starting then, unless it is
    queued already (by another beat process): returns whether this call queued it.

    The row's key, "beat:<entry>:<period>", is unique in the database, which is what lets only
    one of two beats through. Runs of one entry waiting for the broker are not piled up: a
    periodic task scans for whatever is due, so the newest waiting run does all that older
    ones would; older ones are dropped, and a run older than one waiting is not queued.
    """
    prefix = f"beat:{entry}:"
    key = prefix + period.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    waiting = TaskOutbox.objects.filter(key__startswith=prefix, published_at__isnull=True)
    try:
        with transaction.atomic():
            if waiting.filter(key__gt=key).exists():
                return False
            waiting.filter(key__lt=key).delete()
            row = TaskOutbox.objects.create(
                task=task, args=args or [], kwargs=kwargs or {}, options=options or {}, key=key
            )
            transaction.on_commit(partial(_publish_after_commit, row))
    except IntegrityError:
        return False
    return True


def outbox_publish(
    *, ids: list[int] | None = None, min_age: dt.timedelta = dt.timedelta(0), limit: int = BATCH
) -> Published:
    """Publish pending rows (these `ids`, or the oldest at least `min_age` old, up to `limit`)
    to the broker and mark them published.

    Each row is locked while it is handed to the broker (select_for_update, skipping rows
    locked already), so two relays never publish one row twice on PostgreSQL. (The process
    that wrote a row publishes it without this lock: see _publish_written.) The first broker
    error ends the pass: the broker is down and every other row would fail the same way; the
    row records the attempt and the error, and stays pending.
    """
    pending = TaskOutbox.objects.filter(published_at__isnull=True)
    if ids is not None:
        pending = pending.filter(pk__in=ids)
    else:
        pending = pending.filter(created_at__lte=timezone.now() - min_age)
    count = 0
    with transaction.atomic():
        rows = list(
            pending.select_for_update(skip_locked=True).order_by("created_at", "pk")[:limit]
        )
        for row in rows:
            try:
                _send(row)
            except BROKER_ERRORS as exc:
                error = _broker_error(exc)
                TaskOutbox.objects.filter(pk=row.pk).update(
                    attempts=F("attempts") + 1, last_error=error
                )
                return Published(count, error)
            TaskOutbox.objects.filter(pk=row.pk).update(
                published_at=timezone.now(), attempts=F("attempts") + 1
            )
            count += 1
    return Published(count)


def _send(row: TaskOutbox) -> None:
    app.send_task(
        row.task,
        args=row.args,
        kwargs=row.kwargs,
        retry=True,
        retry_policy=PUBLISH_RETRY_POLICY,
        **row.options,
    )


def _broker_error(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"[:500]


def outbox_relay(*, min_age: dt.timedelta = RELAY_MIN_AGE) -> Published:
    """Publish every row left pending at least `min_age`, in batches, until none is left or
    the broker fails. What `manage.py relay_outbox` runs every second."""
    total = 0
    while True:
        batch = outbox_publish(min_age=min_age)
        total += batch.count
        if batch.broker_error or batch.count < BATCH:
            return Published(total, batch.broker_error)


def outbox_purge(*, older_than: dt.timedelta = KEEP_PUBLISHED) -> int:
    """Delete the rows published more than `older_than` ago; returns how many."""
    cutoff = timezone.now() - older_than
    deleted, _ = TaskOutbox.objects.filter(published_at__lt=cutoff).delete()
    return deleted


def outbox_pending_summary() -> dict[str, Any]:
    """How many tasks wait for the broker, and since when (None when none wait)."""
    summary = TaskOutbox.objects.filter(published_at__isnull=True).aggregate(
        pending=Count("pk"), oldest=Min("created_at")
    )
    return {"pending": summary["pending"], "oldest": summary["oldest"]}


def _publish_written(row: TaskOutbox) -> Published:
    """Publish a row this process wrote and has just committed, then mark it published.

    Handed to the broker first and marked after, in one statement and no transaction: a
    process that dies in between leaves the row pending, and the relay publishes it again (at
    least once, as everywhere). No row lock: the relay leaves rows younger than RELAY_MIN_AGE
    to the process that wrote them, so the two meet only on a publish slower than that, and
    then the task runs twice, which every task allows. Locking it (BEGIN, an UPDATE through a
    locking subquery, COMMIT) cost 0.6-0.9 ms of Python and two statements more on every
    request that queues a task (bench/web, the decision POST).
    """
    try:
        _send(row)
    except BROKER_ERRORS as exc:
        error = _broker_error(exc)
        TaskOutbox.objects.filter(pk=row.pk, published_at__isnull=True).update(
            attempts=F("attempts") + 1, last_error=error
        )
        return Published(0, error)
    _mark_published(row.pk)
    return Published(1)


def _mark_published(row_id: int) -> None:
    """What outbox_publish's .update() writes, as one fixed statement: 0.6 ms of Python less
    than the ORM building an UPDATE with an F() expression, on every request that queues."""
    connection = connections[router.db_for_write(TaskOutbox)]
    table = connection.ops.quote_name(TaskOutbox._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET published_at = %s, attempts = attempts + 1"  # noqa: S608
            " WHERE id = %s AND published_at IS NULL",
            [connection.ops.adapt_datetimefield_value(timezone.now()), row_id],
        )


def _publish_after_commit(row: TaskOutbox) -> None:
    if app.conf.task_always_eager:
        _run_eagerly(row.pk)
        return
    try:
        result = _publish_written(row)
    except DatabaseError:
        # The change the task belongs to is committed; the relay publishes the row later.
        logger.exception("task outbox row %s: not published after commit", row.pk)
        return
    if result.broker_error:
        logger.warning(
            "task outbox row %s kept for the relay: the broker did not take it (%s)",
            row.pk,
            result.broker_error,
        )


def _run_eagerly(row_id: int) -> None:
    claimed = TaskOutbox.objects.filter(pk=row_id, published_at__isnull=True).update(
        published_at=timezone.now(), attempts=F("attempts") + 1
    )
    if not claimed:
        return
    row = TaskOutbox.objects.get(pk=row_id)
    # .delay rather than .apply: a test may hold a task back by replacing its delay.
    app.tasks[row.task].delay(*row.args, **row.kwargs)
