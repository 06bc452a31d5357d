"""A worker SIGKILLed in the middle of a task does not lose it, and the email it had already
sent is not sent again.

Tasks are acknowledged only when they end (CELERY_TASK_ACKS_LATE). When the pool process
running one dies, the worker puts the task back at once (CELERY_TASK_REJECT_ON_WORKER_LOST);
when the whole worker dies, Redis still holds the task as unacknowledged and gives it to
another worker once CELERY_VISIBILITY_TIMEOUT has passed. Either way the task runs again,
and email_send_once finds its key and sends nothing the second time.

The task (tests/worker_tasks.py) sends the real approval email, then hangs until let go: the
kill comes after the email and before the acknowledgement, the worst moment.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from approvals.models import ApprovalStep
from approvals.tests.helpers import LINE_MANAGER, policy, submitted
from procurement.celery import app as celery_app
from procurement.models import SentEmail
from tests.processes import (
    broker_is_drained,
    celery_publishing_to,
    emails_in,
    environment,
    free_port,
    needs_redis_server,
    redis_server,
    running,
    wait_for,
    worker_command,
)
from tests.worker_tasks import NAME as HANGING_TASK

pytestmark = [
    needs_redis_server,
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def _pending_step(org) -> ApprovalStep:
    policy(LINE_MANAGER)
    # The submission's own email task stays in the outbox (nothing listens on this port):
    # the hanging task below is the one that emails mark.
    with celery_publishing_to(f"redis://127.0.0.1:{free_port()}/0", {}):
        request = submitted(org)
    return ApprovalStep.objects.get(request=request)


def _queue_hanging_task(broker_url: str, step: ApprovalStep, marks: Path) -> None:
    with celery_publishing_to(broker_url, {}):
        celery_app.send_task(HANGING_TASK, args=[step.pk, str(marks)])


def _pids(marks: Path, mark: str) -> list[int]:
    return [int(path.name.removeprefix(f"{mark}-")) for path in marks.glob(f"{mark}-*")]


def _mark_emailed_once(mail: Path, step: ApprovalStep) -> None:
    assert [path.read_text().count("To: mark@example.com") for path in emails_in(mail)] == [1]
    assert SentEmail.objects.filter(key__startswith=f"step-pending:{step.pk}:").count() == 1


def test_it_reruns_the_task_when_its_pool_process_is_killed(org, tmp_path: Path) -> None:
    step = _pending_step(org)
    port = free_port()
    broker_url = f"redis://127.0.0.1:{port}/0"
    marks, mail, log = tmp_path / "marks", tmp_path / "mail", tmp_path / "worker.log"
    marks.mkdir()
    env = environment(broker_url=broker_url, var_dir=tmp_path / "var", mail=mail)

    with (
        redis_server(port, log=tmp_path / "redis.log") as broker,
        running(worker_command("-I", "tests.worker_tasks"), env=env, log=log) as worker,
    ):
        _queue_hanging_task(broker_url, step, marks)
        [killed] = wait_for(
            lambda: _pids(marks, "emailed"), what="the email", processes=[worker], logs=[log]
        )
        os.kill(killed, signal.SIGKILL)  # the process running the task, as the OOM killer would
        (marks / "finish").touch()
        wait_for(lambda: _pids(marks, "finished"), what="a rerun", processes=[worker], logs=[log])
        wait_for(lambda: broker_is_drained(broker), what="an idle broker", logs=[log])

    started = _pids(marks, "started")
    assert len(started) == 2
    assert killed in started
    assert _pids(marks, "finished") != [killed]
    assert "WorkerLostError" in log.read_text()
    _mark_emailed_once(mail, step)


def test_it_gives_the_task_to_another_worker_when_the_whole_worker_is_killed(
    org, tmp_path: Path
) -> None:
    step = _pending_step(org)
    port = free_port()
    broker_url = f"redis://127.0.0.1:{port}/0"
    marks, mail = tmp_path / "marks", tmp_path / "mail"
    first_log, second_log = tmp_path / "first-worker.log", tmp_path / "second-worker.log"
    marks.mkdir()
    # Short, so that the test does not wait the production hour for the task to come back.
    env = environment(
        broker_url=broker_url,
        var_dir=tmp_path / "var",
        mail=mail,
        CELERY_VISIBILITY_TIMEOUT="5",
    )

    with redis_server(port, log=tmp_path / "redis.log") as broker:
        with running(worker_command("-I", "tests.worker_tasks"), env=env, log=first_log) as first:
            _queue_hanging_task(broker_url, step, marks)
            [killed] = wait_for(
                lambda: _pids(marks, "emailed"),
                what="the email",
                processes=[first],
                logs=[first_log],
            )
            # The worker and its pool, all at once, as when its container or host dies.
            os.killpg(first.pid, signal.SIGKILL)
            first.wait(timeout=10)
        # Redis still holds the task for the dead worker, unacknowledged.
        assert broker.hlen("unacked") == 1
        (marks / "finish").touch()

        with running(worker_command("-I", "tests.worker_tasks"), env=env, log=second_log) as second:
            logs = [first_log, second_log]
            wait_for(
                lambda: _pids(marks, "finished"), what="a rerun", processes=[second], logs=logs
            )
            wait_for(lambda: broker_is_drained(broker), what="an idle broker", logs=logs)

    started = _pids(marks, "started")
    assert len(started) == 2
    assert killed in started
    assert _pids(marks, "finished") != [killed]
    _mark_emailed_once(mail, step)
