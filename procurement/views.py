"""Platform-wide pages: health check and the local mail outbox."""

from __future__ import annotations

import email
import email.policy
import logging
from email.message import EmailMessage
from pathlib import Path

from django.conf import settings
from django.contrib.admin.views.decorators import staff_member_required
from django.db import connection
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.views import defaults
from django.views.decorators.http import require_GET

from procurement.celery import app as celery_app
from procurement.models import WorkerHeartbeat
from procurement.security import csp_override

logger = logging.getLogger(__name__)


def server_error(request: HttpRequest) -> HttpResponse:
    """The 500 handler: API clients get the one JSON error shape, people get the 500 page."""
    if request.path.startswith("/api/"):
        return JsonResponse(
            {
                "code": "server_error",
                "detail": "Something went wrong on our side; it has been logged.",
                "errors": {},
            },
            status=500,
        )
    return defaults.server_error(request)


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """200 when the database and the broker answer, 503 otherwise. No authentication: for probes."""
    report: dict[str, object] = {}
    healthy = True
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        report["database"] = "ok"
    except Exception as error:  # noqa: BLE001 - any failure means unhealthy, and we say which
        healthy = False
        report["database"] = f"error: {type(error).__name__}"
        logger.warning("healthz: database check failed: %s", error)
    try:
        with celery_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        report["broker"] = "ok"
    except Exception as error:  # noqa: BLE001 - as above
        healthy = False
        report["broker"] = f"error: {type(error).__name__}"
        logger.warning("healthz: broker check failed: %s", error)
    if report["database"] == "ok":
        # Informational: a worker that stopped consuming does not make the web tier unhealthy.
        heartbeat = WorkerHeartbeat.objects.filter(name="worker").first()
        report["worker_last_seen_seconds"] = (
            round((timezone.now() - heartbeat.seen_at).total_seconds()) if heartbeat else None
        )
    report["status"] = "ok" if healthy else "error"
    return JsonResponse(report, status=200 if healthy else 503)


def _outbox_messages() -> list[tuple[str, EmailMessage]]:
    folder = Path(settings.EMAIL_OUTBOX_DIR)
    if not folder.is_dir():
        return []
    messages = []
    for path in sorted(folder.glob("*.eml"), reverse=True)[:200]:
        parsed = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        messages.append((path.stem, parsed))
    return messages


@staff_member_required
@require_GET
def outbox(request: HttpRequest) -> HttpResponse:
    """Mail the platform 'sent', for local use: only routed when DEBUG is on."""
    rows = [
        {"name": name, "to": msg["To"], "subject": msg["Subject"], "date": msg["Date"]}
        for name, msg in _outbox_messages()
    ]
    return render(request, "outbox/list.html", {"messages_sent": rows})


# An email's HTML is styled inline (mail clients ignore stylesheets) and is shown in a sandboxed
# srcdoc frame, which inherits this page's policy: let it keep its styles, never scripts.
@csp_override({**settings.SECURE_CSP, "style-src": ["'self'", "'unsafe-inline'"]})
@staff_member_required
@require_GET
def outbox_message(request: HttpRequest, name: str) -> HttpResponse:
    path = Path(settings.EMAIL_OUTBOX_DIR) / f"{name}.eml"
    if "/" in name or not path.is_file():
        raise Http404("No such message.")
    msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    text_part = msg.get_body(preferencelist=("plain",))
    html_part = msg.get_body(preferencelist=("html",))
    return render(
        request,
        "outbox/message.html",
        {
            "name": name,
            "headers": {key: msg[key] for key in ("From", "To", "Subject", "Date")},
            "text": text_part.get_content() if text_part else "",
            "html": html_part.get_content() if html_part else "",
        },
    )
