"""A throwaway Redis, and the platform's own processes (worker, relay, beat) run against it
and the test database: the plumbing of the fault tests (Redis down, a worker killed, two beats).

Each test starts `redis-server` on a free port of its own, so it can stop and start "Redis"
without touching the machine's Redis, which other tests and other runs share.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import pytest
import redis
from django.conf import settings as django_settings

from tests.test_it_runs_tasks_on_a_real_worker import _database_url

BASE_DIR = Path(django_settings.BASE_DIR)
WAIT_SECONDS = 90  # generous: cold processes on a busy 2-core CI machine
REDIS_SERVER = shutil.which("redis-server")

needs_redis_server = pytest.mark.skipif(
    REDIS_SERVER is None, reason="needs redis-server on PATH (CI installs it: .ci/run)"
)

T = TypeVar("T")


def free_port() -> int:
    """A loopback port nobody listens on (now): a broker URL that is down."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def redis_server(port: int, *, log: Path) -> Iterator[redis.Redis]:
    """Redis on `port` until the block ends, without persistence; yields a client."""
    assert REDIS_SERVER is not None
    with log.open("ab") as log_file:
        server = subprocess.Popen(
            [REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--save", ""],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    client = redis.Redis(port=port)
    try:
        wait_for(lambda: _answers(client), what="redis-server to answer", logs=[log])
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


def environment(*, broker_url: str, var_dir: Path, mail: Path, **extra: str) -> dict[str, str]:
    """What a worker, relay or beat of this test runs with: the test database, this test's
    broker, mail written as .eml files to `mail`."""
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
        REDIS_URL=broker_url,
        VAR_DIR=str(var_dir),
        EMAIL_OUTBOX_DIR=str(mail),
        SITE_URL=django_settings.SITE_URL,
        **extra,
    )
    return env


def worker_command(*extra: str) -> list[str]:
    return [
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
        f"--hostname=test-{os.getpid()}-{time.monotonic_ns()}@%h",
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


def broker_is_drained(client: redis.Redis) -> bool:
    """No message waits in any queue and none is held unacknowledged by a worker: every task
    published so far has run to its end."""
    for key in client.scan_iter():
        if client.type(key) == b"list" and client.llen(key):
            return False
    return not client.hlen("unacked")


def emails_in(mail: Path) -> list[Path]:
    return sorted(mail.glob("*.eml")) if mail.exists() else []
