"""A database connection PostgreSQL dropped (a restart, a failover, pg_terminate_backend) costs
no failed request and no failed task: the next one gets a working connection.

Web: connections are kept for DB_CONN_MAX_AGE seconds, and CONN_HEALTH_CHECKS makes Django try
a reused one (SELECT 1) before a request's first query and replace it when it is dead. The
requests here go through Django's WSGI handler itself, as gunicorn calls it: the test client
skips the request_started signal that starts those checks, so it would prove nothing.

Worker: Celery's Django fixup closes the worker's connections before and after every task, so
each task opens a fresh one; a task queued after the drop runs normally.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from wsgiref.util import setup_testing_defaults

import pytest
from django.conf import settings as django_settings
from django.core.handlers.wsgi import WSGIHandler
from django.db import connection, connections
from rest_framework.authtoken.models import Token

from procurement.models import WorkerHeartbeat
from procurement.tasks import worker_heartbeat
from tests.processes import private_broker, real_worker

pytestmark = pytest.mark.skipif(
    django_settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql",
    reason="terminating a server connection needs PostgreSQL (set DATABASE_URL)",
)


def _terminate_other_backends() -> int:
    """What a restart does to every client: end each server process of the test database but
    the one doing the ending (a second connection, not the one under test)."""
    killer = connections.create_connection("default")
    try:
        with killer.cursor() as cursor:
            cursor.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            row = cursor.fetchone()
            assert row is not None
            terminated: int = row[0]
    finally:
        killer.close()
    return terminated


def _get(path: str, *, token: str) -> tuple[str, bytes]:
    """One GET through Django's production WSGI handler, signals and all."""
    environ: dict[str, Any] = {
        "PATH_INFO": path,
        "REQUEST_METHOD": "GET",
        "HTTP_AUTHORIZATION": f"Token {token}",
        "HTTP_HOST": "localhost",
        "wsgi.input": io.BytesIO(b""),
    }
    setup_testing_defaults(environ)
    status: list[str] = []

    def start_response(status_line: str, headers: list[tuple[str, str]], exc_info: Any = None):
        status.append(status_line)

    response = WSGIHandler()(environ, start_response)
    try:
        body = b"".join(response)
    finally:
        response.close()  # request_finished, as a WSGI server sends it
    return status[0], body


@pytest.fixture
def persistent_connections() -> Iterator[None]:
    """The production setting, whatever DB_CONN_MAX_AGE this run has: connections are kept."""
    settings_dict = connection.settings_dict
    previous = settings_dict["CONN_MAX_AGE"]
    settings_dict["CONN_MAX_AGE"] = 60
    connection.close()  # the next connection is opened under the setting above
    yield
    settings_dict["CONN_MAX_AGE"] = previous


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.usefixtures("persistent_connections")
def test_it_serves_the_next_request_after_postgresql_dropped_the_connection(org) -> None:
    assert connection.settings_dict["CONN_HEALTH_CHECKS"] is True
    token = Token.objects.create(user=org.requester).key
    status, _ = _get("/api/requests/", token=token)
    assert status == "200 OK"
    assert connection.connection is not None, "the connection should be kept between requests"

    assert _terminate_other_backends() >= 1
    assert not connection.is_usable()  # the kept connection is really dead

    status, body = _get("/api/requests/", token=token)

    assert status == "200 OK", body[:500]
    assert connection.is_usable()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.usefixtures("persistent_connections")
def test_it_reports_a_healthy_database_after_every_connection_was_dropped(org) -> None:
    token = Token.objects.create(user=org.requester).key
    assert _get("/api/requests/", token=token)[0] == "200 OK"
    _terminate_other_backends()

    status, body = _get("/healthz", token="")

    assert b'"database": "ok"' in body, (status, body)


# --- The worker ------------------------------------------------------------------------------


@pytest.mark.integration
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_it_runs_the_next_task_after_postgresql_dropped_the_workers_connections(
    tmp_path: Path,
) -> None:
    def beat_arrived() -> bool:
        return WorkerHeartbeat.objects.filter(name="worker").exists()

    var_dir = tmp_path / "worker"
    with (
        private_broker(var_dir) as broker,
        # As in production: a worker may keep a connection; the fixup is what saves the task.
        real_worker(var_dir=var_dir, broker=broker, env={"DB_CONN_MAX_AGE": "60"}) as worker,
    ):
        worker_heartbeat.delay()
        worker.wait_until("the first task", beat_arrived)
        WorkerHeartbeat.objects.all().delete()

        _terminate_other_backends()
        connection.close()  # this test's own connection was ended too
        worker_heartbeat.delay()
        worker.wait_until("the task after the drop", beat_arrived)

    assert "OperationalError" not in worker.log_text()
