"""Read settings from the environment, loudly.

Every setting has a safe embedded default; a value that is present but cannot
be parsed stops start-up with a message naming the variable, instead of
silently falling back (a typo in DEBUG must never turn debugging on).
"""

from __future__ import annotations

import os
import secrets
import time
from decimal import Decimal, InvalidOperation
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str) -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(
        f"{name}={raw!r} is not a boolean: use one of 1/0, true/false, yes/no, on/off."
    )


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a whole number.") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name}={raw!r} must be at least {minimum}.")
    return value


def env_decimal(name: str, default: Decimal | None) -> Decimal | None:
    """A decimal amount; unset or empty gives `default` (None: "no limit")."""
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = Decimal(raw.strip())
    except InvalidOperation:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a number.") from None
    if not value.is_finite() or value < 0:
        raise ImproperlyConfigured(f"{name}={raw!r} must be a finite amount, at least 0.")
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def local_secret_key(path: Path) -> str:
    """Return the key stored at `path`, creating it once with O_EXCL.

    Web, worker and beat start together under honcho; O_EXCL makes sure they
    all end up with the one key the first of them wrote.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(50))
    for _ in range(50):
        key = path.read_text().strip()
        if key:
            return key
        time.sleep(0.05)  # another process created the file and is still writing it
    raise ImproperlyConfigured(f"{path} is empty: delete it or set SECRET_KEY.")


# Secret keys that are public: the placeholder of deploy/production.env.example and the values
# tutorials and generators hand out. A server signing sessions, approval links and vendor links
# with one of these can be impersonated by anyone who has read the same page.
_PUBLIC_SECRET_KEYS = {
    "change-me",
    "changeme",
    "secret",
    "secret-key",
    "secret_key",
    "secretkey",
    "your-secret-key",
    "your-secret-key-here",
    "insecure",
    "dev",
    "development",
    "test",
    "django",
}
_PLACEHOLDER_MARKS = ("change-me", "changeme", "change_me", "replace-me", "replace_me")


def secret_key_is_placeholder(key: str) -> bool:
    """True for a SECRET_KEY that was copied from somewhere public rather than generated.

    Covers the example file's "change-me" (also padded out to pass Django's length check), a
    few well-known values, and Django's own `startproject` key ("django-insecure-...").
    """
    value = key.strip().lower()
    return (
        value in _PUBLIC_SECRET_KEYS
        or value.startswith("django-insecure-")
        or any(mark in value for mark in _PLACEHOLDER_MARKS)
    )
