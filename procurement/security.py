"""Security headers and security events (docs/security.md).

- `ContentSecurityPolicyMiddleware` sends `settings.SECURE_CSP` as the Content-Security-Policy
  of every response; a view may replace it with `@csp_override(...)`. The setting has the
  shape of Django 6.0's own `SECURE_CSP`, so that upgrade swaps this middleware for
  `django.middleware.csp.ContentSecurityPolicyMiddleware` and changes nothing else.
- Failed logins and every 403 go to the "security" logger, as one line each with the user,
  the client's address and (for a 403) the path and the reason; never a password.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from functools import wraps
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseBase

from procurement.log_filters import redact_approval_links

logger = logging.getLogger("security")

CSP_HEADER = "Content-Security-Policy"
CspPolicy = Mapping[str, Sequence[str]]


def csp_header_value(policy: CspPolicy) -> str:
    """`{"default-src": ["'self'"], ...}` as the header's `default-src 'self'; ...`."""
    return "; ".join(
        " ".join([directive, *sources]) if sources else directive
        for directive, sources in policy.items()
    )


def csp_override(policy: CspPolicy) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Send `policy` instead of SECURE_CSP for this view (same name as Django 6.0's decorator)."""

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            response = view(*args, **kwargs)
            response._csp_override = policy
            return response

        return wrapped

    return decorator


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        # A response may carry a stricter policy of its own (private files: a sandbox).
        if CSP_HEADER in response:
            return response
        # DEBUG's error pages (the yellow 500, the technical 404) are built with inline
        # styles and scripts; they exist only on a developer's machine.
        if settings.DEBUG and response.status_code in (404, 500):
            return response
        policy = getattr(response, "_csp_override", None) or settings.SECURE_CSP
        if policy:
            response[CSP_HEADER] = csp_header_value(policy)
        return response


# --- Security events ---------------------------------------------------------------------


def client_ip(request: HttpRequest | None) -> str:
    """The caller's address: the one our reverse proxy saw when BEHIND_PROXY is on.

    Only the last X-Forwarded-For entry is believed (our proxy appends it); earlier ones are
    whatever the client chose to send.
    """
    if request is None:
        return "unknown"
    if settings.BEHIND_PROXY:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        if hops:
            return hops[-1]
    return str(request.META.get("REMOTE_ADDR") or "unknown")


def log_failed_login(
    sender: object,
    credentials: Mapping[str, Any],
    request: HttpRequest | None = None,
    **kwargs: Any,
) -> None:
    """Receiver of `user_login_failed` (connected in ProcurementConfig.ready).

    Django has already masked anything secret-looking in `credentials`; only the username is
    read, and it is logged with %r so a name with line breaks cannot forge a log line.
    """
    username = str(credentials.get("username", ""))[:150]
    ip = client_ip(request)
    logger.warning(
        "login failed: username=%r ip=%s",
        username,
        ip,
        extra={"event": "login_failed", "username": username, "ip": ip},
    )


class SecurityEventMiddleware:
    """Log every 403 (pages, API, CSRF) to the "security" logger with who, where and why."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        if response.status_code == 403:
            self._log_denial(request, response)
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> None:
        # The 403 page is rendered from this exception further in; keep its message.
        if isinstance(exception, PermissionDenied):
            request._security_denial_reason = str(exception) or "permission denied"  # type: ignore[attr-defined]

    def _log_denial(self, request: HttpRequest, response: HttpResponseBase) -> None:
        reason = getattr(request, "_security_denial_reason", None)
        data = getattr(response, "data", None)  # a DRF response, in the API's error shape
        if reason is None and isinstance(data, Mapping):
            reason = str(data.get("detail") or data.get("code") or "")
        reason = reason or "forbidden"
        user = getattr(request, "user", None)
        username = user.get_username() if user is not None and user.is_authenticated else ""
        path = redact_approval_links(request.path)
        ip = client_ip(request)
        logger.warning(
            "access denied: user=%s method=%s path=%s reason=%r ip=%s",
            username or "anonymous",
            request.method,
            path,
            reason,
            ip,
            extra={
                "event": "access_denied",
                "username": username,
                "path": path,
                "method": request.method,
                "reason": reason,
                "ip": ip,
            },
        )


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """settings.CSRF_FAILURE_VIEW: Django's own page, with the reason kept for the log."""
    from django.views.csrf import csrf_failure as django_csrf_failure

    request._security_denial_reason = f"CSRF check failed: {reason}"  # type: ignore[attr-defined]
    return django_csrf_failure(request, reason)
