"""Deploy checks of our own, run by `manage.py check --deploy` next to Django's (CI runs it).

Registered by importing this module from ProcurementConfig.ready().
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Tags, register
from django.core.checks import Warning as CheckWarning

from procurement.env import secret_key_is_placeholder

CSP_MIDDLEWARE = "procurement.security.ContentSecurityPolicyMiddleware"
# Sources that let an injected <script>, an onclick= or eval() run: the point of the policy.
UNSAFE_SCRIPT_SOURCES = ("'unsafe-inline'", "'unsafe-eval'", "*", "data:", "http:", "https:")


@register(Tags.security, deploy=True)
def check_content_security_policy(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    policy = getattr(settings, "SECURE_CSP", None) or {}
    if CSP_MIDDLEWARE not in settings.MIDDLEWARE or not policy:
        return [
            CheckWarning(
                "No Content-Security-Policy is sent: an injected script would run.",
                hint=f"Keep {CSP_MIDDLEWARE} in MIDDLEWARE and SECURE_CSP set (docs/security.md).",
                id="procurement.W001",
            )
        ]
    # Without script-src, browsers fall back to default-src; without either, anything runs.
    scripts = policy.get("script-src", policy.get("default-src"))
    if scripts is None:
        return [
            CheckWarning(
                "The Content-Security-Policy does not restrict scripts.",
                hint="Set script-src (or default-src) to \"'self'\" in SECURE_CSP.",
                id="procurement.W002",
            )
        ]
    unsafe = [source for source in scripts if source.lower() in UNSAFE_SCRIPT_SOURCES]
    if unsafe:
        return [
            CheckWarning(
                f"The Content-Security-Policy lets scripts run from {', '.join(unsafe)}.",
                hint="Move inline scripts and event handlers into static files and keep "
                "script-src to \"'self'\".",
                id="procurement.W002",
            )
        ]
    return []


@register(Tags.security, deploy=True)
def check_secret_key_is_not_a_placeholder(
    app_configs: Any = None, **kwargs: Any
) -> list[CheckMessage]:
    # Settings refuse a placeholder outright when DEBUG is off; a deploy check is about to
    # go to production whatever DEBUG says, so it reports one in every case.
    if secret_key_is_placeholder(settings.SECRET_KEY):
        return [
            CheckWarning(
                "SECRET_KEY is a placeholder or a publicly known value.",
                hint='Generate one: python3 -c "import secrets; print(secrets.token_urlsafe(64))"',
                id="procurement.W003",
            )
        ]
    return []
