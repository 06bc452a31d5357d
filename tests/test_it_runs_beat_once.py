"""Two Celery beat processes started by mistake queue each periodic run once, not twice.

Beat's scheduler (procurement.celery.OnceScheduler) queues a due run through the task outbox
under the key "beat:<entry>:<period>", unique in the database: the first beat to write it
queues the run, the other is told it exists. A run due while Redis is down waits in the
outbox, and only the newest waiting run of an entry is kept.

There is no lock held by a beat process, so none goes stale: a beat that crashes (SIGKILL,
host lost) leaves at most the row of the period it was queuing, which the relay publishes,
and any other beat queues the next period at once, with no lock to wait out.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import sys
from pathlib import Path
from typing import Any

import pytest
from celery.beat import ScheduleEntry
from celery.schedules import crontab

from procurement.celery import OnceScheduler, beat_period
from procurement.celery import app as celery_app
from procurement.models import TaskOutbox
from procurement.outbox import enqueue_periodic, outbox_relay
from sourcing.rfq_tasks import close_due_rfqs
from tests.processes import (
    celery_publishing_to,
    environment,
    free_port,
    needs_redis_server,
    redis_server,
    running,
    wait_for,
)

# A real `celery beat`, with one entry due every second instead of the production schedule.
BEAT_EVERY_SECOND = """
import sys
from procurement.celery import app
app.conf.beat_schedule = {
    "heartbeat": {"task": "procurement.tasks.worker_heartbeat", "schedule": 1.0},
}
app.start(["beat", "--loglevel=INFO", "--schedule", sys.argv[1]])
"""
UTC = dt.UTC


def _entry(name: str = "rfq-deadlines", **fields: Any) -> ScheduleEntry:
    fields.setdefault("task", close_due_rfqs.name)
    fields.setdefault("schedule", 60.0)
    return ScheduleEntry(name=name, app=celery_app, **fields)


def _sent(log: Path) -> int:
    return log.read_text().count("Scheduler: Sending due task heartbeat")


def _refused(log: Path) -> int:
    return log.read_text().count("heartbeat for this period was queued by another beat")


def _beat(tmp_path: Path, number: int) -> list[str]:
    return [sys.executable, "-c", BEAT_EVERY_SECOND, str(tmp_path / f"beat-{number}-schedule")]


def _heartbeat_runs() -> int:
    return TaskOutbox.objects.filter(key__startswith="beat:heartbeat:").count()


@needs_redis_server
@pytest.mark.integration
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_real_beats_publish_each_period_once(tmp_path: Path) -> None:
    port = free_port()
    env = environment(
        broker_url=f"redis://127.0.0.1:{port}/0", var_dir=tmp_path / "var", mail=tmp_path / "mail"
    )
    logs = [tmp_path / "beat-1.log", tmp_path / "beat-2.log"]

    with redis_server(port, log=tmp_path / "redis.log") as broker:
        with (
            running(_beat(tmp_path, 1), env=env, log=logs[0]) as first,
            running(_beat(tmp_path, 2), env=env, log=logs[1]) as second,
        ):
            wait_for(
                lambda: min(_sent(logs[0]), _sent(logs[1])) >= 4,
                what="four runs due in each beat",
                processes=[first, second],
                logs=logs,
            )
        # Both beats have stopped; what they published waits in Redis (no worker here).
        messages = broker.llen("default")

    runs = TaskOutbox.objects.filter(key__startswith="beat:heartbeat:")
    assert runs.count() >= 4
    assert not runs.filter(published_at=None).exists()
    # One message per period, though both beats found every period due.
    assert messages == runs.count()
    # Every time a beat found the entry due, it either queued that period's one run or was
    # told the other beat had: nothing else was sent. (A beat stopped between its "Sending"
    # line and the database write accounts for the slack of one per beat.)
    attempts = _sent(logs[0]) + _sent(logs[1])
    refused = _refused(logs[0]) + _refused(logs[1])
    assert refused >= 1
    assert 0 <= attempts - (messages + refused) <= 2
    assert "Message Error" not in logs[0].read_text() + logs[1].read_text()


@needs_redis_server
@pytest.mark.integration
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_beat_started_after_one_was_killed_queues_the_next_period_at_once(
    tmp_path: Path,
) -> None:
    port = free_port()
    broker_url = f"redis://127.0.0.1:{port}/0"
    env = environment(broker_url=broker_url, var_dir=tmp_path / "var", mail=tmp_path / "mail")
    logs = [tmp_path / "beat-1.log", tmp_path / "beat-2.log"]

    with redis_server(port, log=tmp_path / "redis.log") as broker:
        with running(_beat(tmp_path, 1), env=env, log=logs[0]) as first:
            wait_for(
                lambda: _heartbeat_runs() >= 2,
                what="two runs queued by the first beat",
                processes=[first],
                logs=logs,
            )
            # Beat and all it started, at once, as when its host dies: no clean-up code runs.
            os.killpg(first.pid, signal.SIGKILL)
            first.wait(timeout=10)
        # What the dead beat may have left: the row of the period it was queuing, written but
        # not yet published. The relay publishes it (run here as `relay_outbox` would).
        with celery_publishing_to(broker_url):
            assert not outbox_relay(min_age=dt.timedelta(0)).broker_error
        before = _heartbeat_runs()

        with running(_beat(tmp_path, 2), env=env, log=logs[1]) as second:
            # The very periods after the kill: no lock of the dead beat to wait for.
            wait_for(
                lambda: _heartbeat_runs() >= before + 3,
                what="three runs queued by the second beat",
                processes=[second],
                logs=logs,
            )
        messages = broker.llen("default")

    runs = TaskOutbox.objects.filter(key__startswith="beat:heartbeat:")
    assert not runs.filter(published_at=None).exists()
    assert runs.count() >= before + 3
    # One message per run, and at most one more: a beat killed after handing a run to Redis
    # but before its mark committed leaves the row for the relay, which sends it again (the
    # task's idempotency key makes that second delivery a no-op).
    assert runs.count() <= messages <= runs.count() + 1
    assert _refused(logs[1]) == 0  # nothing the dead beat left stood in its way


@pytest.mark.django_db
def test_two_schedulers_run_a_due_entry_once_per_period(
    tmp_path: Path, monkeypatch, django_capture_on_commit_callbacks
) -> None:
    runs: list[tuple[Any, ...]] = []
    monkeypatch.setattr(close_due_rfqs, "delay", lambda *args: runs.append(args))
    beats = [
        OnceScheduler(app=celery_app, schedule_filename=str(tmp_path / name))
        for name in ("first", "second")
    ]

    with django_capture_on_commit_callbacks(execute=True):
        for beat in beats:
            beat.apply_async(_entry(), advance=False)

    assert runs == [()]
    [run] = TaskOutbox.objects.all()
    assert run.key is not None
    assert run.key.startswith("beat:rfq-deadlines:")
    assert run.published_at is not None


@pytest.mark.django_db
def test_a_run_waiting_for_redis_gives_way_to_the_next_period() -> None:
    nine = dt.datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    down = f"redis://127.0.0.1:{free_port()}/0"

    with celery_publishing_to(down, {}):
        for period in (nine, nine + dt.timedelta(minutes=1), nine + dt.timedelta(minutes=2)):
            assert enqueue_periodic(entry="rfq-deadlines", task=close_due_rfqs.name, period=period)
        again = enqueue_periodic(entry="rfq-deadlines", task=close_due_rfqs.name, period=nine)

    assert list(TaskOutbox.objects.values_list("key", "published_at")) == [
        ("beat:rfq-deadlines:20260302T090200Z", None)
    ]
    # A beat whose clock is behind does not queue the older period behind it either.
    assert again is False


def test_every_beat_names_the_same_period_for_an_interval() -> None:
    entry = _entry(schedule=600.0)
    first = beat_period(entry, dt.datetime(2026, 3, 2, 9, 0, 1, tzinfo=UTC))
    later = beat_period(entry, dt.datetime(2026, 3, 2, 9, 9, 59, tzinfo=UTC))
    next_one = beat_period(entry, dt.datetime(2026, 3, 2, 9, 10, 0, tzinfo=UTC))

    assert first == later == dt.datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    assert next_one == dt.datetime(2026, 3, 2, 9, 10, tzinfo=UTC)


def test_a_crontab_run_is_named_after_the_time_it_fell_due() -> None:
    # A beat that ran the entry yesterday at 07:00 and one started today at 06:30 both run
    # it as "07:00 today" (crontab times are in CELERY_TIMEZONE).
    today = dt.datetime.now(celery_app.timezone).date()
    due = dt.datetime.combine(today, dt.time(7), tzinfo=celery_app.timezone)
    every_morning = crontab(minute="0", hour="7")
    ran_yesterday = _entry(schedule=every_morning, last_run_at=due - dt.timedelta(days=1))
    started_today = _entry(schedule=every_morning, last_run_at=due - dt.timedelta(minutes=30))
    now = due + dt.timedelta(minutes=1)

    assert beat_period(ran_yesterday, now) == beat_period(started_today, now) == due.astimezone(UTC)
