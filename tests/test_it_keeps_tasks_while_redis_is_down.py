"""With Redis down, requests are still submitted and approved; their emails wait in the task
outbox (procurement/outbox.py), written in the same transaction, and go out exactly once when
Redis is back and the relay (`manage.py relay_outbox`) publishes them to a real worker.
"""

from __future__ import annotations

import email
import email.policy
from contextlib import ExitStack
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import transaction
from django.utils import timezone

from approvals.tasks import send_due_reminders, send_reminder_digest
from approvals.tests.helpers import LINE_MANAGER, policy, submitted
from approvals.tests.test_reminders import opened_days_ago
from procurement.logging import TASK_HEADER
from procurement.models import SentEmail, TaskOutbox
from procurement.outbox import outbox_publish, outbox_relay
from requests.models import PurchaseRequest, RequestState
from requests.services import comment_create
from tests.factories import PurchaseRequestFactory
from tests.processes import (
    broker_is_drained,
    celery_publishing_to,
    emails_in,
    environment,
    free_port,
    needs_redis_server,
    redis_server,
    relay_command,
    running,
    wait_for,
    worker_command,
)

NOTIFY_APPROVER = "approvals.tasks.notify_step_pending"
NOTIFY_REQUESTER = "requests.tasks.notify_requester_of_transition"


def _draft(org):
    return PurchaseRequestFactory.create(
        requester=org.requester, department=org.department, cost_centre=org.cost_centre
    )


def _recipients_and_subjects(mail: Path) -> list[tuple[str, str]]:
    found = []
    for path in emails_in(mail):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        found.append((str(message["To"]), str(message["Subject"])))
    return sorted(found)


def _tasks_succeeded(log: Path) -> int:
    return log.read_text(errors="replace").count(" succeeded in ") if log.exists() else 0


@needs_redis_server
@pytest.mark.integration
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_it_submits_and_approves_while_redis_is_down_and_emails_once_it_is_back(
    org, tmp_path: Path
) -> None:
    policy(LINE_MANAGER)
    draft = _draft(org)
    port = free_port()
    broker_url = f"redis://127.0.0.1:{port}/0"
    mail = tmp_path / "mail"
    worker_log, relay_log, redis_log = (
        tmp_path / f"{name}.log" for name in ("worker", "relay", "redis")
    )
    logs = [worker_log, relay_log, redis_log]
    env = environment(broker_url=broker_url, var_dir=tmp_path / "var", mail=mail)

    def outbox_drained() -> bool:
        return not TaskOutbox.objects.filter(published_at=None).exists()

    with celery_publishing_to(broker_url, {"visibility_timeout": 3600}), ExitStack() as stack:
        # Redis is down: nothing listens on its port yet. alice submits.
        submitted = org.client_for(org.requester).post(f"/requests/{draft.pk}/actions/submit/")
        assert submitted.status_code == 302
        waiting = TaskOutbox.objects.get(published_at=None)
        assert (waiting.task, waiting.attempts) == (NOTIFY_APPROVER, 1)
        assert "refused" in waiting.last_error
        # The worker will log the task under the id of the request that queued it.
        assert waiting.options == {"headers": {TASK_HEADER: submitted["X-Request-ID"]}}

        # Redis comes up, with a worker and the relay: mark hears of the approval waiting.
        with redis_server(port, log=redis_log):
            worker = stack.enter_context(running(worker_command(), env=env, log=worker_log))
            relay = stack.enter_context(running(relay_command(), env=env, log=relay_log))
            processes = [worker, relay]
            wait_for(lambda: emails_in(mail), what="mark's email", processes=processes, logs=logs)
            wait_for(outbox_drained, what="an empty outbox", processes=processes, logs=logs)

        # Redis stops again, under the running worker and relay: mark approves.
        approved = org.client_for(org.manager).post(f"/requests/{draft.pk}/actions/approve/")
        assert approved.status_code == 302
        assert PurchaseRequest.objects.get(pk=draft.pk).state == RequestState.APPROVED
        assert TaskOutbox.objects.get(published_at=None).task == NOTIFY_REQUESTER

        # Redis is back: the worker reconnects, the relay publishes, alice hears.
        with redis_server(port, log=redis_log) as broker:
            wait_for(
                lambda: len(emails_in(mail)) == 2,
                what="alice's email",
                processes=processes,
                logs=logs,
            )
            wait_for(outbox_drained, what="an empty outbox", processes=processes, logs=logs)
            wait_for(lambda: _tasks_succeeded(worker_log) == 2, what="2 tasks run", logs=logs)

            # A relay that died after Redis took its rows but before it marked them published
            # publishes them again: the tasks run twice, the emails still go once (their keys).
            TaskOutbox.objects.update(published_at=None)
            wait_for(lambda: _tasks_succeeded(worker_log) >= 4, what="4 tasks run", logs=logs)
            wait_for(lambda: broker_is_drained(broker), what="an idle broker", logs=logs)
            assert outbox_drained()
            assert _tasks_succeeded(worker_log) == 4

    request = PurchaseRequest.objects.get(pk=draft.pk)
    assert _recipients_and_subjects(mail) == [
        ("alice@example.com", f"{request.reference} approved: {request.title}"),
        (
            "mark@example.com",
            f"Approval needed: {request.reference} {request.title} ({request.total:,.2f} GBP)",
        ),
    ]
    assert SentEmail.objects.count() == 2


@pytest.mark.django_db
def test_it_keeps_the_task_when_the_broker_refuses_it(
    org, django_capture_on_commit_callbacks, mailoutbox
) -> None:
    request = _draft(org)
    down = f"redis://127.0.0.1:{free_port()}/0"

    with (
        celery_publishing_to(down, {"visibility_timeout": 3600}),
        django_capture_on_commit_callbacks(execute=True),
    ):
        comment = comment_create(request_id=request.pk, by=org.requester, body="@mark please")

    row = TaskOutbox.objects.get()
    assert (row.task, row.args, row.published_at) == (
        "requests.tasks.notify_mentions",
        [comment.pk],
        None,
    )
    assert row.attempts == 1
    assert "refused" in row.last_error
    assert mailoutbox == []


@pytest.mark.django_db
def test_it_queues_nothing_for_a_change_that_rolls_back(
    org, django_capture_on_commit_callbacks, mailoutbox
) -> None:
    request = _draft(org)

    def comment_then_fail() -> None:
        with transaction.atomic():
            comment_create(request_id=request.pk, by=org.requester, body="@mark please")
            assert TaskOutbox.objects.count() == 1
            raise RuntimeError("the rest of the change failed")

    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError, match="the rest of the change failed"),
    ):
        comment_then_fail()

    assert callbacks == []
    assert not TaskOutbox.objects.exists()
    assert mailoutbox == []


@pytest.mark.django_db
def test_it_runs_the_task_on_commit_in_eager_mode(
    org, django_capture_on_commit_callbacks, mailoutbox
) -> None:
    request = _draft(org)

    with django_capture_on_commit_callbacks(execute=True):
        comment_create(request_id=request.pk, by=org.requester, body="@mark please")

    assert [message.to for message in mailoutbox] == [["mark@example.com"]]
    assert TaskOutbox.objects.get().published_at is not None


@pytest.mark.django_db
def test_the_relay_leaves_fresh_rows_to_the_process_that_wrote_them(org) -> None:
    request = _draft(org)
    comment_create(request_id=request.pk, by=org.requester, body="@mark please")
    down = f"redis://127.0.0.1:{free_port()}/0"

    with celery_publishing_to(down, {"visibility_timeout": 3600}):
        fresh = outbox_relay()
        tried = outbox_publish()

    assert (fresh.count, fresh.broker_error) == (0, "")
    assert tried.count == 0
    assert "refused" in tried.broker_error
    assert TaskOutbox.objects.get().attempts == 1


@pytest.mark.django_db
def test_the_relay_command_says_when_the_broker_refused(org) -> None:
    request = _draft(org)
    comment_create(request_id=request.pk, by=org.requester, body="@mark please")
    down = f"redis://127.0.0.1:{free_port()}/0"

    with (
        celery_publishing_to(down, {"visibility_timeout": 3600}),
        pytest.raises(CommandError, match="the broker refused: OperationalError"),
    ):
        call_command("relay_outbox", "--once", "--min-age", "0")

    assert TaskOutbox.objects.get(published_at=None).attempts == 1


@pytest.mark.django_db
def test_a_scan_fanning_out_while_redis_is_down_keeps_each_task_for_the_relay(
    org, settings, django_capture_on_commit_callbacks, mailoutbox
) -> None:
    settings.APPROVAL_REMINDER_HOUR = 0  # any time of day is past midnight
    policy(LINE_MANAGER)
    opened_days_ago(submitted(org), 2)
    down = f"redis://127.0.0.1:{free_port()}/0"

    # The beat scan runs on a worker; Redis goes away before it queues the digests.
    with (
        celery_publishing_to(down, {"visibility_timeout": 3600}),
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert send_due_reminders() == 1

    digest = TaskOutbox.objects.get(task=send_reminder_digest.name)
    assert digest.args == [org.manager.pk, timezone.localdate().isoformat()]
    assert (digest.published_at, digest.attempts) == (None, 1)
    assert "refused" in digest.last_error
    assert mailoutbox == []
