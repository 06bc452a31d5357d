"""Structured logs: one JSON object per line, each carrying the id of the request it belongs to.

The request id comes from RequestIdMiddleware (procurement/middleware.py), which takes the
caller's X-Request-ID when it is a sane token (a proxy such as nginx sets `$request_id`) or
makes one, and sends it back in the response. It lives in a context variable for the length
of the request, so every record logged meanwhile, from any logger, gets it through
RequestIdFilter; a Celery task queued during the request carries it in a message header and
logs it too. LOG_FORMAT=json selects JsonFormatter in settings.LOGGING.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import logging.config
import re
import uuid
from contextvars import ContextVar, Token
from typing import Any

from procurement.log_filters import redact_approval_links

REQUEST_ID_HEADER = "X-Request-ID"
# Celery message header that carries the id from the publishing request to the task.
TASK_HEADER = "procurement_request_id"

# A caller's id is kept only if it cannot smuggle anything into a log line or a header.
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)


def configure(config: dict[str, Any]) -> None:
    """settings.LOGGING_CONFIG: Django's dictConfig, plus Python's warnings as log records
    (logger py.warnings), so that with LOG_FORMAT=json nothing but JSON reaches stderr."""
    logging.config.dictConfig(config)
    logging.captureWarnings(True)


def request_id_from_header(value: str | None) -> str | None:
    """The caller's X-Request-ID when it is at most 64 characters of [A-Za-z0-9._-], else None."""
    if value and _SANE_REQUEST_ID.fullmatch(value):
        return value
    return None


def request_id_new() -> str:
    return uuid.uuid4().hex


class RequestIdFilter(logging.Filter):
    """Give every record a `request_id` attribute: the current request's, or None outside one.

    gunicorn writes its access line after the response has left the middleware, so there the
    id is read back from the response header gunicorn passes among its atoms. Never drops a
    record.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        request_id = request_id_var.get()
        if request_id is None and isinstance(record.args, dict):
            # gunicorn.access: args are its atoms, response headers as "{name}o".
            request_id = request_id_from_header(record.args.get("{x-request-id}o"))
        record.request_id = request_id
        return True


# Attributes every LogRecord has; anything else on a record came from `extra=`.
_RECORD_ATTRIBUTES = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message",
    "asctime",
    "request_id",
}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, request_id,
    exception (the traceback, when there is one) and any plain `extra=` values.

    Extras that are not plain values (Django's django.request logger passes the request
    object) are left out: their text is not a stable field and could hold a secret. The
    finished line goes through the approval-link redaction once more, so a token inside a
    traceback or an extra never reaches the log either.
    """

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, tz=dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
        }
        for key, value in vars(record).items():
            plain = value is None or isinstance(value, str | int | float | bool)
            if plain and key not in _RECORD_ATTRIBUTES and key not in entry:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return redact_approval_links(json.dumps(entry, ensure_ascii=False, default=str))


# --- Celery: a task logs the request id of the request that queued it ----------------------

_task_tokens: dict[str, Token[str | None]] = {}


def task_headers_add_request_id(headers: dict[str, Any] | None = None, **_: Any) -> None:
    """before_task_publish: put the current request's id into the message headers."""
    request_id = request_id_var.get()
    if request_id is not None and headers is not None:
        headers[TASK_HEADER] = request_id


def task_request_id_enter(task_id: str = "", task: Any = None, **_: Any) -> None:
    """task_prerun: the worker logs the task under the id of the request that queued it.

    A task run eagerly (tests, CELERY_TASK_ALWAYS_EAGER) runs inside that request already and
    has no header: the context is left as it is.
    """
    request_id = request_id_from_header(getattr(getattr(task, "request", None), TASK_HEADER, None))
    if request_id is not None:
        _task_tokens[task_id] = request_id_var.set(request_id)


def task_request_id_leave(task_id: str = "", **_: Any) -> None:
    """task_postrun: the worker process goes back to logging without a request id."""
    token = _task_tokens.pop(task_id, None)
    if token is not None:
        request_id_var.reset(token)


def connect_celery_signals() -> None:
    """Called once from ProcurementConfig.ready(), in the web process and in the worker."""
    from celery import signals

    signals.before_task_publish.connect(
        task_headers_add_request_id, weak=False, dispatch_uid="procurement-request-id-publish"
    )
    signals.task_prerun.connect(
        task_request_id_enter, weak=False, dispatch_uid="procurement-request-id-prerun"
    )
    signals.task_postrun.connect(
        task_request_id_leave, weak=False, dispatch_uid="procurement-request-id-postrun"
    )
