"""An approval link's token never reaches a log: request lines and warnings show [redacted]."""

from __future__ import annotations

import datetime as dt
import io
import logging
from collections.abc import Iterator
from types import SimpleNamespace

import pytest
from django.core.servers.basehttp import WSGIRequestHandler
from django.test import Client
from django.urls import reverse
from gunicorn.config import Config  # type: ignore[import-untyped]
from gunicorn.glogging import Logger as GunicornLogger  # type: ignore[import-untyped]

from approvals.tests.email_helpers import link_path, token_of, waiting_for_mark
from procurement.log_filters import REDACTED, RedactApprovalLinks, redact_approval_links

pytestmark = pytest.mark.django_db

TOKEN = ".eJyrVipWsjLUUUpUsjIxMDAwNDQ0MNNRSs5PSS3OUbIqKSpNrQUAuMEJnw:1uQ2pX:Zk3v_9yQ-abc"


@pytest.fixture
def console() -> Iterator[io.StringIO]:
    """What the configured console handler (settings.LOGGING) writes, captured."""
    [handler] = [h for h in logging.getLogger().handlers if h.get_name() == "console"]
    assert isinstance(handler, logging.StreamHandler)
    captured = io.StringIO()
    previous = handler.setStream(captured)
    yield captured
    handler.setStream(previous)


def test_it_knows_where_the_links_are_mounted():
    assert reverse("approvals-email:confirm", args=["x"]).startswith("/approvals/email/")
    assert redact_approval_links(f"GET /approvals/email/{TOKEN}/?decision=approve HTTP/1.1") == (
        f"GET /approvals/email/{REDACTED}/?decision=approve HTTP/1.1"
    )
    assert redact_approval_links(f"next=%2Fapprovals%2Femail%2F{TOKEN.replace(':', '%3A')}%2F") == (
        f"next=%2Fapprovals%2Femail%2F{REDACTED}%2F"
    )


def test_it_redacts_djangos_warning_about_a_dead_link(org, caplog, console):
    step = waiting_for_mark(org)
    path = link_path(step, org.manager)
    Client().post(path, {"decision": "approve"})

    with caplog.at_level(logging.WARNING, logger="django.request"):
        assert Client().get(path).status_code == 410  # logged as "Gone: <path>"

    [record] = [r for r in caplog.records if r.name == "django.request"]
    assert record.getMessage() == f"Gone: /approvals/email/{REDACTED}/"
    assert token_of(path) not in caplog.text
    assert f"Gone: /approvals/email/{REDACTED}/" in console.getvalue()
    assert token_of(path) not in console.getvalue()


def test_it_redacts_the_request_line_of_the_development_server(console):
    handler = WSGIRequestHandler.__new__(WSGIRequestHandler)
    handler.request = None

    handler.log_message(
        '"%s" %s %s', f"GET /approvals/email/{TOKEN}/?decision=reject HTTP/1.1", "200", "5120"
    )

    assert (
        f'"GET /approvals/email/{REDACTED}/?decision=reject HTTP/1.1" 200 5120'
        in console.getvalue()
    )
    assert TOKEN not in console.getvalue()


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
def test_it_redacts_gunicorns_access_log(capsys, console):
    # gunicorn's own logger, as `gunicorn --access-logfile -` sets it up, formatting its own
    # atoms: the request line, the path and the Referer all carry the token.
    config = Config()
    config.set("accesslog", "-")
    config.set("access_log_format", '%(h)s "%(r)s" %(s)s "%(f)s" %(U)s')
    GunicornLogger(config).access(
        SimpleNamespace(status="200 OK", sent=512, headers=[]),
        SimpleNamespace(headers=[]),
        {
            "REMOTE_ADDR": "203.0.113.9",
            "REQUEST_METHOD": "POST",
            "RAW_URI": f"/approvals/email/{TOKEN}/",
            "PATH_INFO": f"/approvals/email/{TOKEN}/",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "HTTP_REFERER": f"https://procurement.example.com/approvals/email/{TOKEN}/?decision=approve",
        },
        dt.timedelta(milliseconds=20),
    )

    written = capsys.readouterr().out
    assert f'203.0.113.9 "POST /approvals/email/{REDACTED}/ HTTP/1.1" 200' in written
    assert (
        f"https://procurement.example.com/approvals/email/{REDACTED}/?decision=approve" in written
    )
    assert f"/approvals/email/{REDACTED}/\n" in written
    assert TOKEN not in written + console.getvalue()


def test_it_leaves_other_records_alone():
    record = logging.LogRecord(
        "django.request", logging.WARNING, __file__, 1, "Not Found: %s", ("/requests/7/",), None
    )

    assert RedactApprovalLinks().filter(record) is True
    assert record.args == ("/requests/7/",)
    assert record.getMessage() == "Not Found: /requests/7/"
