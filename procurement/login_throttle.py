"""Login throttling with django-axes: what a locked-out client is told.

Axes counts failed logins per username *and* client address (settings: AXES_*). Five wrong
passwords for alice from one address lock alice out from that address only: she can still
sign in from her own desk, and other names tried from that address have counts of their own.
The lock ends by itself after AXES_COOLOFF_MINUTES; a successful login clears the count.
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Mapping
from datetime import timedelta

from axes.helpers import get_client_username, get_cool_off
from axes.models import AccessAttempt
from django.db.models import Max
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone

from procurement.security import client_ip


def client_ip_address(request: HttpRequest) -> str | None:
    """The client's address for axes (AXES_CLIENT_IP_CALLABLE), or None if it has none.

    The one the security log shows and the API throttles use (procurement.security.client_ip:
    with BEHIND_PROXY, the hop our proxy appended), so a forged X-Forwarded-For cannot dodge a
    lock. Axes keeps it in an inet column on PostgreSQL: a request without an address (a test
    client's force_login) or a malformed hop must not turn into a database error.
    """
    try:
        return str(ipaddress.ip_address(client_ip(request)))
    except ValueError:
        return None


def lockout_minutes_left(*, username: str | None, ip_address: str | None) -> int:
    """Whole minutes until the lock on (username, address) ends; at least 1 while it holds.

    The lock runs from the failure that reached the limit (failures during the lock do not
    extend it: AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT is off).
    """
    cool_off = get_cool_off() or timedelta(0)
    last = AccessAttempt.objects.filter(username=username, ip_address=ip_address).aggregate(
        last=Max("attempt_time")
    )["last"]
    if last is None:
        return max(1, math.ceil(cool_off.total_seconds() / 60))
    left = (last + cool_off - timezone.now()).total_seconds()
    return max(1, math.ceil(left / 60))


def lockout_response(
    request: HttpRequest,
    original_response: HttpResponse | None = None,
    credentials: Mapping[str, object] | None = None,
) -> HttpResponse:
    """What a locked-out client gets (AXES_LOCKOUT_CALLABLE): 429, saying when to come back.

    The API answers in its one error shape; pages get the locked-out page.
    """
    username = get_client_username(request, credentials)
    minutes = lockout_minutes_left(
        username=username, ip_address=getattr(request, "axes_ip_address", None)
    )
    when = "1 minute" if minutes == 1 else f"{minutes} minutes"
    detail = f"Too many failed logins for this account from your address: try again in {when}."
    if request.path.startswith("/api/"):
        response: HttpResponse = JsonResponse(
            {"code": "locked_out", "detail": detail, "errors": {}}, status=429
        )
    else:
        response = render(
            request,
            "registration/locked_out.html",
            {"minutes": minutes, "when": when, "detail": detail},
            status=429,
        )
    response["Retry-After"] = str(minutes * 60)
    return response
