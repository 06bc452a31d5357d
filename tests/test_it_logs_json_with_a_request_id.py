"""Logs are JSON lines (LOG_FORMAT=json) and every record of a request carries its id, the one
the response's X-Request-ID header gives back; a task queued by the request logs it too."""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.test import Client
from django.urls import path
from gunicorn.config import Config  # type: ignore[import-untyped]
from gunicorn.glogging import Logger as GunicornLogger  # type: ignore[import-untyped]

from procurement.log_filters import REDACTED
from procurement.logging import JsonFormatter
from tests.factories import PurchaseRequestFactory
from tests.processes import private_broker, real_worker

TOKEN = ".eJyrVipWsjLUUUpUsjIxMDAwNDQ0MNNRSs5PSS3OUbIqKSpNrQUAuMEJnw:1uQ2pX:Zk3v_9yQ-abc"
view_logger = logging.getLogger("procurement.tests.json_logs")


def _view_that_logs(request: HttpRequest) -> HttpResponse:
    view_logger.info("looking up order %s", 42, extra={"order_id": 42, "request": request})
    logging.getLogger("analytics.services").warning("second logger, same request")
    return HttpResponse("ok")


def _view_that_fails(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("the ledger is on fire")


# This module is also the URLconf of the tests marked with it.
urlpatterns = [path("logs/", _view_that_logs), path("fails/", _view_that_fails)]


@pytest.fixture
def json_console() -> Iterator[io.StringIO]:
    """The configured console handler (settings.LOGGING) with the JSON formatter, captured:
    what a production process writes with LOG_FORMAT=json."""
    [handler] = [h for h in logging.getLogger().handlers if h.get_name() == "console"]
    assert isinstance(handler, logging.StreamHandler)
    captured = io.StringIO()
    previous_stream = handler.setStream(captured)
    previous_formatter = handler.formatter
    handler.setFormatter(JsonFormatter())
    yield captured
    handler.setFormatter(previous_formatter)
    handler.setStream(previous_stream)


def _lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_it_gives_every_response_a_new_request_id(client: Client) -> None:
    first = client.get("/healthz")["X-Request-ID"]
    second = client.get("/healthz")["X-Request-ID"]

    assert re.fullmatch(r"[0-9a-f]{32}", first)
    assert first != second


def test_it_keeps_the_callers_request_id(client: Client) -> None:
    response = client.get("/healthz", headers={"X-Request-ID": "nginx-7f3a.B_2"})

    assert response["X-Request-ID"] == "nginx-7f3a.B_2"


@pytest.mark.parametrize(
    "sent",
    ["x" * 65, "two words", "forged\n{}", '"quoted"', "<script>", "ünïcode"],
)
def test_it_replaces_a_request_id_that_is_not_a_sane_token(client: Client, sent: str) -> None:
    response = client.get("/healthz", headers={"X-Request-ID": sent})

    assert re.fullmatch(r"[0-9a-f]{32}", response["X-Request-ID"])


@pytest.mark.urls(__name__)
def test_it_logs_every_record_of_a_request_as_json_with_its_id(
    client: Client, json_console: io.StringIO
) -> None:
    response = client.get("/logs/")

    lines = _lines(json_console.getvalue())
    assert {line["message"] for line in lines} == {
        "looking up order 42",
        "second logger, same request",
    }
    assert all(line["request_id"] == response["X-Request-ID"] for line in lines)
    [first] = [line for line in lines if line["logger"] == "procurement.tests.json_logs"]
    assert first["level"] == "INFO"
    assert first["order_id"] == 42  # a plain extra is a field of its own...
    assert "request" not in first  # ...an object is not


@pytest.mark.urls(__name__)
def test_it_logs_a_server_error_with_its_traceback_and_request_id(
    json_console: io.StringIO,
) -> None:
    response = Client(raise_request_exception=False).get(
        "/fails/", headers={"X-Request-ID": "user-report-1"}
    )

    assert response.status_code == 500
    assert response["X-Request-ID"] == "user-report-1"
    [error] = [line for line in _lines(json_console.getvalue()) if line["level"] == "ERROR"]
    assert error["logger"] == "django.request"
    assert error["message"] == "Internal Server Error: /fails/"
    assert error["request_id"] == "user-report-1"
    assert "RuntimeError: the ledger is on fire" in error["exception"]


def test_it_keeps_approval_link_tokens_out_of_json_lines(json_console: io.StringIO) -> None:
    link = f"/approvals/email/{TOKEN}/"
    try:
        raise ValueError(f"could not decide {link}")
    except ValueError:
        logging.getLogger("approvals").exception("Gone: %s", link, extra={"path": link})

    written = json_console.getvalue()
    [line] = _lines(written)
    assert line["message"] == f"Gone: /approvals/email/{REDACTED}/"
    assert line["path"] == f"/approvals/email/{REDACTED}/"
    assert TOKEN not in written
    assert line["request_id"] is None  # logged outside any request


@pytest.fixture
def gunicorn_loggers() -> Iterator[None]:
    """gunicorn's logger changes the global gunicorn.* loggers: put them back afterwards."""
    loggers = [logging.getLogger(name) for name in ("gunicorn.access", "gunicorn.error")]
    saved = [(list(log.handlers), log.level, log.propagate) for log in loggers]
    yield
    for log, (handlers, level, propagate) in zip(loggers, saved, strict=True):
        for added in [h for h in log.handlers if h not in handlers]:
            log.removeHandler(added)
        log.setLevel(level)
        log.propagate = propagate


@pytest.mark.usefixtures("gunicorn_loggers")
def test_it_puts_the_request_id_in_gunicorns_access_line(json_console: io.StringIO) -> None:
    # gunicorn writes the access line after the response left Django, as `gunicorn
    # --access-logfile -` sets it up; the id comes from the response header.
    config = Config()
    config.set("accesslog", "-")
    GunicornLogger(config).access(
        SimpleNamespace(status="200 OK", sent=512, headers=[("X-Request-ID", "lb-42")]),
        SimpleNamespace(headers=[]),
        {
            "REMOTE_ADDR": "203.0.113.9",
            "REQUEST_METHOD": "GET",
            "RAW_URI": "/requests/",
            "SERVER_PROTOCOL": "HTTP/1.1",
        },
        dt.timedelta(milliseconds=20),
    )

    [line] = _lines(json_console.getvalue())
    assert line["logger"] == "gunicorn.access"
    assert line["request_id"] == "lb-42"
    assert '"GET /requests/' in line["message"]


def _django_process(code: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """Python with the settings of a fresh process under `env`, as production starts them."""
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup()\n" + code],
        cwd=settings.BASE_DIR,
        env={
            "PATH": os.environ["PATH"],
            "HOME": os.environ.get("HOME", "/tmp"),
            "DJANGO_SETTINGS_MODULE": "procurement.settings",
            "VAR_DIR": str(tmp_path / "var"),
            **env,
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_it_writes_only_json_lines_when_log_format_is_json(tmp_path: Path) -> None:
    # /healthz refuses a POST without touching the database, and Django logs the refusal.
    result = _django_process(
        "from django.test import Client\n"
        "response = Client(HTTP_HOST='localhost').post('/healthz', "
        "headers={'X-Request-ID': 'from-the-proxy'})\n"
        "print(response.status_code, response['X-Request-ID'])\n",
        tmp_path,
        LOG_FORMAT="json",
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "405 from-the-proxy"
    lines = _lines(result.stderr)  # every line parses, or this fails
    [refusal] = [line for line in lines if line["logger"] == "django.request"]
    assert refusal["message"] == "Method Not Allowed (POST): /healthz"
    assert refusal["level"] == "WARNING"
    assert refusal["request_id"] == "from-the-proxy"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", refusal["time"])


def test_it_refuses_an_unknown_log_format(tmp_path: Path) -> None:
    result = _django_process("", tmp_path, LOG_FORMAT="xml")

    assert result.returncode != 0
    assert "LOG_FORMAT='xml' must be plain or json" in result.stderr


@pytest.mark.integration
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_it_logs_a_task_under_the_id_of_the_request_that_queued_it(org, tmp_path: Path) -> None:
    purchase_request = PurchaseRequestFactory.create(
        requester=org.requester, department=org.department, cost_centre=org.cost_centre
    )
    var_dir = tmp_path / "worker"
    with (
        private_broker(var_dir) as broker,
        real_worker(var_dir=var_dir, broker=broker, env={"LOG_FORMAT": "json"}) as worker,
    ):
        response = org.client_for(org.requester).post(
            f"/requests/{purchase_request.pk}/comments/",
            {"body": "@mark could you approve this?"},
            headers={"X-Request-ID": "comment-post-1"},
        )
        assert response.status_code == 302

        def task_logged() -> bool:
            return "notify_mentions" in worker.log_text() and "succeeded" in worker.log_text()

        worker.wait_until("the mention email task", task_logged)

    records = [json.loads(line) for line in worker.log_text().splitlines() if line.startswith("{")]
    [done] = [
        r for r in records if "notify_mentions" in r["message"] and "succeeded" in r["message"]
    ]
    assert done["request_id"] == "comment-post-1"
    # The worker's own lines, outside any task, carry none.
    assert any(r["request_id"] is None for r in records)
