"""A setting that is present but cannot be parsed stops start-up and names the variable.

Each case runs `manage.py check` in a fresh process, since settings are read once at import.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

# Variables the cases set; removed from the inherited environment so each case starts clean.
CONFIGURATION = (
    "DEBUG",
    "DATABASE_URL",
    "ATTACHMENT_MAX_BYTES",
    "CURRENCIES",
    "BASE_CURRENCY",
    "EMAIL_PORT",
)


def _check(tmp_path: Path, **overrides: str) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if key not in CONFIGURATION}
    env.update(VAR_DIR=str(tmp_path / "var"), SECRET_KEY="settings-test-" + "k" * 50)
    env.update(overrides)
    return subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_it_starts_with_no_configuration_at_all(tmp_path: Path) -> None:
    result = _check(tmp_path)

    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("DEBUG", "maybe"),
        ("DATABASE_URL", "nonsense://x"),
        ("ATTACHMENT_MAX_BYTES", "abc"),
        ("ATTACHMENT_MAX_BYTES", "0"),
        ("CURRENCIES", "XXX"),
        ("CURRENCIES", "GBP,EURO"),
        ("BASE_CURRENCY", "pounds"),
        ("EMAIL_PORT", "smtp"),
        ("VENDOR_REASSESSMENT_MONTHS", "12,6,3"),
        ("VENDOR_REASSESSMENT_MONTHS", "24,12,six,3"),
        ("SANCTIONS_MATCH_THRESHOLD", "101"),
        ("SANCTIONS_MATCH_THRESHOLD", "10"),
        ("CONTRACT_REMINDER_DAYS", "90,a month"),
        ("SECURE_REFERRER_POLICY", "same-origin,sometimes"),
    ],
)
def test_it_refuses_a_malformed_value_and_names_the_variable(
    tmp_path: Path, variable: str, value: str
) -> None:
    overrides = {variable: value}
    if variable == "EMAIL_PORT":
        overrides["EMAIL_HOST"] = (
            "smtp.example.com"  # the port is read only when mail really leaves
        )

    result = _check(tmp_path, **overrides)

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    last_line = result.stderr.strip().splitlines()[-1]
    assert variable in last_line


@pytest.mark.parametrize(
    "placeholder",
    [
        "change-me",
        # Long enough for Django's own check, still the example's placeholder.
        "change-me-change-me-change-me-change-me-change-me-change-me",
        "django-insecure-" + "x1y2z3" * 8,
        "secret",
    ],
)
def test_it_refuses_to_start_with_a_placeholder_secret_key_while_debug_is_off(
    tmp_path: Path, placeholder: str
) -> None:
    result = _check(tmp_path, SECRET_KEY=placeholder)

    assert result.returncode == 1
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line.startswith("django.core.exceptions.ImproperlyConfigured: SECRET_KEY")
    assert "placeholder" in last_line
    assert repr(placeholder) not in result.stderr  # the message never repeats a key


def test_it_starts_with_a_placeholder_secret_key_on_a_developers_machine(tmp_path: Path) -> None:
    result = _check(tmp_path, SECRET_KEY="change-me", DEBUG="1")

    assert result.returncode == 0, result.stderr
