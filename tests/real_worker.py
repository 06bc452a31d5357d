"""A real `celery -A procurement worker` on a broker of the test's own.

The broker is a throwaway `redis-server` on a free port when the run has Redis (REDIS_URL set,
as in CI, and the server binary installed), else kombu's filesystem transport in the test's
temporary folder. Either way no other worker (another test run on the same machine, a
developer's `make run`) can take this test's tasks, and no task of this test is left behind
in a shared queue.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis
from django.conf import settings as django_settings

from procurement.celery import app as celery_app
from tests.test_it_runs_tasks_on_a_real_worker import (
    WAIT_SECONDS,
    _celery_publishing_to,
    _database_url,
    _stop,
)

__all__ = ["WAIT_SECONDS", "Worker", "private_broker", "queue_length", "real_worker"]


@dataclass
class Broker:
    url: str
    transport_options: dict[str, object]
    env: dict[str, str]  # what the worker's settings need to reach the same broker


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def private_broker(var_dir: Path) -> Iterator[Broker]:
    """A broker only this test uses; this process publishes to it while the block runs."""
    if os.environ.get("REDIS_URL") and shutil.which("redis-server"):
        port = _free_port()
        server = subprocess.Popen(
            [
                *("redis-server", "--port", str(port), "--bind", "127.0.0.1"),
                *("--save", "", "--appendonly", "no"),  # nothing on disk
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
        )
        try:
            url = f"redis://127.0.0.1:{port}/0"
            deadline = time.monotonic() + 10
            while True:
                try:
                    redis.Redis.from_url(url).ping()
                    break
                except redis.ConnectionError:
                    if time.monotonic() > deadline or server.poll() is not None:
                        pytest.fail(f"redis-server did not start on port {port}")
                    time.sleep(0.05)
            broker = Broker(url, {"visibility_timeout": 3600}, {"REDIS_URL": url})
            with _celery_publishing_to(broker.url, broker.transport_options):
                yield broker
        finally:
            server.terminate()
            server.wait(timeout=10)
        return
    # The folders the worker's settings derive from its VAR_DIR.
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
        {},
    )
    with _celery_publishing_to(broker.url, broker.transport_options):
        yield broker


def queue_length(queue: str) -> int:
    """Messages waiting in `queue` on the broker this process publishes to."""
    with celery_app.connection_for_write() as conn:
        channel: Any = conn.default_channel  # a kombu virtual channel (Redis, filesystem)
        declared = channel.queue_declare(queue=queue, passive=True)
        count: int = declared.message_count
        return count


@dataclass
class Worker:
    process: subprocess.Popen[bytes]
    log: Path

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def check_alive(self) -> None:
        if self.process.poll() is not None:
            pytest.fail(f"The worker exited with {self.process.returncode}:\n{self.log_text()}")

    def wait_until(self, what: str, done: Callable[[], bool]) -> None:
        """Poll `done()` until it is true, failing with the worker's log after WAIT_SECONDS."""
        deadline = time.monotonic() + WAIT_SECONDS
        while time.monotonic() < deadline:
            if done():
                return
            self.check_alive()
            time.sleep(0.2)
        pytest.fail(f"{what}: not within {WAIT_SECONDS} s. Worker log:\n{self.log_text()}")


@contextmanager
def real_worker(
    *,
    var_dir: Path,
    broker: Broker,
    queues: Sequence[str] = (),
    env: dict[str, str] | None = None,
) -> Iterator[Worker]:
    """A worker process on the test database; `queues` empty means every declared queue."""
    worker_env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"EMAIL_HOST", "CELERY_TASK_ALWAYS_EAGER", "DEBUG", "REDIS_URL"}
    }
    worker_env.update(
        PYTHONPATH=str(django_settings.BASE_DIR),
        DJANGO_SETTINGS_MODULE="procurement.settings",
        DATABASE_URL=_database_url(),
        DB_CONN_MAX_AGE="0",
        VAR_DIR=str(var_dir),
        EMAIL_OUTBOX_DIR=str(var_dir / "mail"),
        SITE_URL=django_settings.SITE_URL,
    )
    worker_env.update(broker.env)
    worker_env.update(env or {})
    command = [sys.executable, "-m", "celery", "-A", "procurement", "worker"]
    if queues:
        command += ["-Q", ",".join(queues)]
    command += [
        "--loglevel=INFO",
        "--concurrency=1",
        "--without-gossip",
        "--without-mingle",
        f"--hostname=test-{uuid.uuid4().hex[:8]}@%h",
    ]
    log = var_dir / "worker.log"
    var_dir.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as log_file:
        process = subprocess.Popen(
            command,
            cwd=django_settings.BASE_DIR,
            env=worker_env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            # Its own process group, so the pool's child processes are stopped with it.
            start_new_session=True,
        )
        try:
            yield Worker(process, log)
        finally:
            _stop(process)
