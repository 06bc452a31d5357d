"""A real `celery -A procurement worker` process takes a queued task and sends its email.

Unit tests run tasks eagerly, in-process; this one proves the wiring they skip:
the task is published on commit to the real broker (Redis when REDIS_URL is set,
as in CI, else kombu's filesystem transport), a separate worker process picks it
up, reads the committed rows from the same test database and writes the .eml.
"""

from __future__ import annotations

import email
import email.policy
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings as django_settings

from procurement.celery import app as celery_app
from requests.services import comment_create
from tests.factories import PurchaseRequestFactory

BASE_DIR = Path(django_settings.BASE_DIR)
WAIT_SECONDS = 90  # generous: a cold worker on a busy 2-core CI machine


def _database_url() -> str:
    """The URL of the test database this process uses, for the worker's settings."""
    db = django_settings.DATABASES["default"]
    if db["ENGINE"] == "django.db.backends.sqlite3":
        # conftest.py makes the SQLite test database a file, so another process can open it.
        return f"sqlite:///{db['NAME']}"
    if db["ENGINE"] == "django.db.backends.postgresql":
        credentials = quote(db["USER"], safe="")
        if db.get("PASSWORD"):
            credentials += ":" + quote(db["PASSWORD"], safe="")
        return f"postgres://{credentials}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    raise AssertionError(f"No worker database URL for {db['ENGINE']}")


def _broker(var_dir: Path) -> tuple[str, dict[str, object]]:
    """Redis when the environment has it; else a filesystem queue of this test's own."""
    if os.environ.get("REDIS_URL"):
        return os.environ["REDIS_URL"], {"visibility_timeout": 3600}
    folders = {name: var_dir / "celery" / name for name in ("queue", "processed", "control")}
    for folder in folders.values():
        folder.mkdir(parents=True)
    # The same folders the worker's settings derive from VAR_DIR.
    return "filesystem://", {
        "data_folder_in": str(folders["queue"]),
        "data_folder_out": str(folders["queue"]),
        "processed_folder": str(folders["processed"]),
        "control_folder": str(folders["control"]),
        "store_processed": False,
    }


@contextmanager
def _celery_publishing_to(broker_url: str, transport_options: dict[str, object]) -> Iterator[None]:
    conf = celery_app.conf
    previous = {
        "broker_url": conf.broker_url,
        "broker_transport_options": conf.broker_transport_options,
        "task_always_eager": conf.task_always_eager,
    }
    conf.update(
        broker_url=broker_url, broker_transport_options=transport_options, task_always_eager=False
    )
    # Publishers are pooled per broker connection; forget the pools made for the old broker
    # (Celery's own reset, which it runs in a forked child).
    celery_app._after_fork()  # type: ignore[attr-defined]
    try:
        yield
    finally:
        conf.update(previous)
        celery_app._after_fork()  # type: ignore[attr-defined]


@contextmanager
def _running_worker(*, var_dir: Path, outbox: Path, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"EMAIL_HOST", "CELERY_TASK_ALWAYS_EAGER", "DEBUG"}
    }
    env.update(
        PYTHONPATH=str(BASE_DIR),
        DJANGO_SETTINGS_MODULE="procurement.settings",
        DATABASE_URL=_database_url(),
        DB_CONN_MAX_AGE="0",
        VAR_DIR=str(var_dir),
        EMAIL_OUTBOX_DIR=str(outbox),
        SITE_URL=django_settings.SITE_URL,
    )
    with log.open("wb") as log_file:
        worker = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "procurement",
                "worker",
                "--loglevel=INFO",
                "--concurrency=1",
                "--without-gossip",
                "--without-mingle",
                f"--hostname=test-{uuid.uuid4().hex[:8]}@%h",
            ],
            cwd=BASE_DIR,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            # Its own process group, so the pool's child processes are stopped with it.
            start_new_session=True,
        )
        try:
            yield worker
        finally:
            _stop(worker)


def _stop(worker: subprocess.Popen[bytes]) -> None:
    if worker.poll() is not None:
        return
    os.killpg(worker.pid, signal.SIGTERM)
    try:
        worker.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)


def _wait_for_message(outbox: Path, worker: subprocess.Popen[bytes], log: Path) -> EmailMessage:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        found = sorted(outbox.glob("*.eml"))
        if found:
            parsed = email.message_from_bytes(found[0].read_bytes(), policy=email.policy.default)
            assert isinstance(parsed, EmailMessage)
            return parsed
        if worker.poll() is not None:
            pytest.fail(f"The worker exited with {worker.returncode}:\n{log.read_text()}")
        time.sleep(0.2)
    pytest.fail(f"No email from the worker within {WAIT_SECONDS} s. Worker log:\n{log.read_text()}")


@pytest.mark.integration
@pytest.mark.django_db(
    transaction=True, serialized_rollback=True
)  # committed rows, so that the worker sees them
def test_it_emails_a_mentioned_user_from_a_real_worker(org, tmp_path: Path) -> None:
    request = PurchaseRequestFactory.create(
        requester=org.requester,
        department=org.department,
        cost_centre=org.cost_centre,
    )
    var_dir = tmp_path / "worker-var"
    outbox = tmp_path / "worker-mail"
    log = tmp_path / "worker.log"
    broker_url, transport_options = _broker(var_dir)

    with (
        _running_worker(var_dir=var_dir, outbox=outbox, log=log) as worker,
        _celery_publishing_to(broker_url, transport_options),
    ):
        # No surrounding transaction here: the task is published when the comment commits.
        comment_create(
            request_id=request.pk, by=org.requester, body="@mark could you approve this?"
        )
        message = _wait_for_message(outbox, worker, log)

    assert message["To"] == "mark@example.com"
    assert (
        message["Subject"] == f"Alice Asker mentioned you on {request.reference}: {request.title}"
    )
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    assert "could you approve this?" in body.get_content()
