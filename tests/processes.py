"""The platform's own processes (worker, relay, beat) run for real against the test database,
on a broker of the test's own: the plumbing of every test that needs more than eager tasks
(a real worker, Redis down, a worker killed, two beats, lost connections, queues, JSON logs).

A test gets its broker one of two ways:
- `private_broker(var_dir)`: a throwaway `redis-server` on a free port when the run has Redis
  (REDIS_URL set, as in CI, and the server binary installed), else kombu's filesystem
  transport in the test's folder; this process publishes to it while the block runs.
- `redis_server(port, log=...)`: Redis on a port the test chose, so that the test can stop it
  and start it again on the same port ("Redis down", "Redis is back").
Either way no other worker (another test run on this machine, a developer's `make run`) can
take this test's tasks, and no task of this test is left behind in a shared queue.
"""

from __future__ import annotations

import email
import email.policy
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

import pytest
import redis
from django.conf import settings as django_settings

from procurement.celery import app as celery_app

BASE_DIR = Path(django_settings.BASE_DIR)
WAIT_SECONDS = 90  # generous: cold processes on a busy 2-core CI machine
REDIS_SERVER = shutil.which("redis-server")
# Never handed to a child process: each test says which broker and mail its processes use.
DROPPED_FROM_ENVIRONMENT = {"EMAIL_HOST", "CELERY_TASK_ALWAYS_EAGER", "DEBUG", "REDIS_URL"}

needs_redis_server = pytest.mark.skipif(
    REDIS_SERVER is None, reason="needs redis-server on PATH (CI installs it: .ci/run)"
)

T = TypeVar("T")


# --- The test database and the broker ------------------------------------------------------


def database_url() -> str:
    """The URL of the test database this process uses, for a child process's settings."""
    db = django_settings.DATABASES["default"]
    if db["ENGINE"] == "django.db.backends.sqlite3":
        # conftest.py makes the SQLite test database a file, so another process can open it.
        return f"sqlite:///{db['NAME']}"
    if db["ENGINE"] == "django.db.backends.postgresql":
        credentials = quote(db["USER"], safe="")
        if db.get("PASSWORD"):
            credentials += ":" + quote(db["PASSWORD"], safe="")
        return f"postgres://{credentials}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    raise AssertionError(f"No child process database URL for {db['ENGINE']}")


def free_port() -> int:
    """A loopback port nobody listens on (now): a broker URL that is down."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def celery_publishing_to(
    broker_url: str, transport_options: dict[str, object] | None = None
) -> Iterator[None]:
    """This process publishes to `broker_url` (not eagerly) until the block ends."""
    conf = celery_app.conf
    previous = {
        "broker_url": conf.broker_url,
        "broker_transport_options": conf.broker_transport_options,
        "task_always_eager": conf.task_always_eager,
    }
    conf.update(
        broker_url=broker_url,
        broker_transport_options=transport_options or {},
        task_always_eager=False,
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
def redis_server(port: int, *, log: Path) -> Iterator[redis.Redis]:
    """Redis on `port` until the block ends, with nothing on disk; yields a client."""
    if REDIS_SERVER is None:
        pytest.fail("redis-server is not on PATH (mark the test with needs_redis_server)")
    with log.open("ab") as log_file:
        server = subprocess.Popen(
            [
                *(REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1"),
                *("--save", "", "--appendonly", "no"),
            ],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    client = redis.Redis(port=port)
    try:
        wait_for(
            lambda: _answers(client),
            what="redis-server to answer",
            processes=[server],
            logs=[log],
            seconds=20,
        )
        yield client
    finally:
        client.close()
        server.terminate()
        server.wait(timeout=20)


def _answers(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.ConnectionError:
        return False


@dataclass(frozen=True)
class Broker:
    url: str
    transport_options: dict[str, object]
    client: redis.Redis | None  # None for the filesystem transport


@contextmanager
def private_broker(var_dir: Path) -> Iterator[Broker]:
    """A broker only this test uses; this process publishes to it while the block runs.

    Child processes reach it through `environment(broker_url=broker.url, var_dir=var_dir)`:
    the filesystem transport's folders are the ones settings derive from that VAR_DIR.
    """
    var_dir.mkdir(parents=True, exist_ok=True)
    if os.environ.get("REDIS_URL") and REDIS_SERVER:
        port = free_port()
        with redis_server(port, log=var_dir / "redis.log") as client:
            broker = Broker(f"redis://127.0.0.1:{port}/0", {"visibility_timeout": 3600}, client)
            with celery_publishing_to(broker.url, broker.transport_options):
                yield broker
        return
    folders = {name: var_dir / "celery" / name for name in ("queue", "processed", "control")}
    for folder in folders.values():
        folder.mkdir(parents=True, exist_ok=True)
    broker = Broker(
        "filesystem://",
        {
            "data_folder_in": str(folders["queue"]),
            "data_folder_out": str(folders["queue"]),
            "processed_folder": str(folders["processed"]),
            "control_folder": str(folders["control"]),
            "store_processed": False,
        },
        None,
    )
    with celery_publishing_to(broker.url, broker.transport_options):
        yield broker


def queue_length(queue: str) -> int:
    """Messages waiting in `queue` on the broker this process publishes to."""
    with celery_app.connection_for_write() as conn:
        channel: Any = conn.default_channel  # a kombu virtual channel (Redis, filesystem)
        declared = channel.queue_declare(queue=queue, passive=True)
        count: int = declared.message_count
        return count


def broker_is_drained(client: redis.Redis) -> bool:
    """No message waits in any queue and none is held unacknowledged by a worker: every task
    published so far has run to its end."""
    for key in client.scan_iter():
        if client.type(key) == b"list" and client.llen(key):
            return False
    return not client.hlen("unacked")


# --- Child processes -----------------------------------------------------------------------


def environment(
    *, broker_url: str, var_dir: Path, mail: Path | None = None, **extra: str
) -> dict[str, str]:
    """What a worker, relay or beat of this test runs with: the test database, this test's
    broker, mail written as .eml files to `mail` (default: VAR_DIR/mail)."""
    env = {key: value for key, value in os.environ.items() if key not in DROPPED_FROM_ENVIRONMENT}
    env.update(
        PYTHONPATH=str(BASE_DIR),
        DJANGO_SETTINGS_MODULE="procurement.settings",
        DATABASE_URL=database_url(),
        DB_CONN_MAX_AGE="0",
        VAR_DIR=str(var_dir),
        EMAIL_OUTBOX_DIR=str(mail or var_dir / "mail"),
        SITE_URL=django_settings.SITE_URL,
    )
    if not broker_url.startswith("filesystem://"):
        env["REDIS_URL"] = broker_url
    env.update(extra)
    return env


def worker_command(*extra: str, queues: Sequence[str] = ()) -> list[str]:
    """`celery worker`, one pool process; `queues` empty means every declared queue."""
    command = [sys.executable, "-m", "celery", "-A", "procurement", "worker"]
    if queues:
        command += ["-Q", ",".join(queues)]
    return [
        *command,
        "--loglevel=INFO",
        "--concurrency=1",
        "--without-gossip",
        "--without-mingle",
        f"--hostname=test-{uuid.uuid4().hex[:8]}@%h",
        *extra,
    ]


def relay_command() -> list[str]:
    return [sys.executable, "manage.py", "relay_outbox", "--interval", "0.2", "--min-age", "0"]


@contextmanager
def running(
    command: Sequence[str], *, env: dict[str, str], log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """`command` as a process (group) of its own until the block ends; then SIGTERM, which
    lets a worker finish its task (warm shutdown), and SIGKILL if it will not stop."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as log_file:
        process = subprocess.Popen(
            list(command),
            cwd=BASE_DIR,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            # Its own process group, so that a worker's pool children stop with it.
            start_new_session=True,
        )
    try:
        yield process
    finally:
        stop(process)


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


@dataclass
class Worker:
    process: subprocess.Popen[bytes]
    log: Path

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def wait_until(self, what: str, done: Callable[[], T]) -> T:
        """Poll `done()` until it is truthy, failing with the worker's log when the worker
        exits or after WAIT_SECONDS."""
        return wait_for(done, what=what, processes=[self.process], logs=[self.log])


@contextmanager
def real_worker(
    *,
    var_dir: Path,
    broker: Broker,
    queues: Sequence[str] = (),
    env: dict[str, str] | None = None,
) -> Iterator[Worker]:
    """A worker process on the test database and `broker`; its mail goes to VAR_DIR/mail."""
    worker_env = environment(broker_url=broker.url, var_dir=var_dir)
    worker_env.update(env or {})
    log = var_dir / "worker.log"
    with running(worker_command(queues=queues), env=worker_env, log=log) as process:
        yield Worker(process, log)


# --- Waiting and reading what the processes did --------------------------------------------


def wait_for(
    condition: Callable[[], T],
    *,
    what: str,
    processes: Sequence[subprocess.Popen[bytes]] = (),
    logs: Sequence[Path] = (),
    seconds: float = WAIT_SECONDS,
) -> T:
    """Poll `condition` until it returns something truthy; fail with the logs when a process
    exits or the time is up."""
    deadline = time.monotonic() + seconds
    while True:
        result = condition()
        if result:
            return result
        for process in processes:
            if process.poll() is not None:
                pytest.fail(f"{process.args!r} exited with {process.returncode}:\n{_read(logs)}")
        if time.monotonic() > deadline:
            pytest.fail(f"No {what} within {seconds} s.\n{_read(logs)}")
        time.sleep(0.2)


def _read(logs: Sequence[Path]) -> str:
    return "\n".join(
        f"--- {log.name}\n{log.read_text(errors='replace')}" for log in logs if log.exists()
    )


def emails_in(mail: Path) -> list[Path]:
    return sorted(mail.glob("*.eml")) if mail.exists() else []


def first_email(mail: Path, worker: Worker) -> EmailMessage:
    """The first email the worker writes to `mail`, parsed; fails with its log if none comes."""
    [path, *_] = worker.wait_until("an email from the worker", lambda: emails_in(mail))
    parsed = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed
