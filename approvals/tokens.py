"""Signed, expiring tokens for deciding one approval step from an email.

A token names a step, the approver it was issued to and the request's version, and is
signed with SECRET_KEY under its own salt. It is checked again at every use against the
database: it dies as soon as the step is decided or the request changes.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.urls import reverse

SALT = "approvals.email-decision.v1"


@dataclass(frozen=True)
class DecisionToken:
    step_id: int
    approver_id: int
    request_version: int


def decision_token_make(*, step_id: int, approver_id: int, request_version: int) -> str:
    return signing.dumps({"s": step_id, "a": approver_id, "v": request_version}, salt=SALT, compress=True)


def decision_token_read(token: str) -> DecisionToken | None:
    """The token's contents, or None when it is tampered with, malformed or expired."""
    try:
        data = signing.loads(token, salt=SALT, max_age=settings.APPROVAL_LINK_MAX_AGE_HOURS * 3600)
        return DecisionToken(step_id=int(data["s"]), approver_id=int(data["a"]), request_version=int(data["v"]))
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        return None


def decision_url(*, step_id: int, approver_id: int, request_version: int) -> str:
    """The absolute link to the confirmation page (a GET there never decides anything)."""
    token = decision_token_make(step_id=step_id, approver_id=approver_id, request_version=request_version)
    return settings.SITE_URL + reverse("approvals-email:confirm", args=[token])
