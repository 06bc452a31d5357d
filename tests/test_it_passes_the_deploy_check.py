"""deploy/production.env.example is a configuration Django's deploy checklist accepts."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.core.checks.registry import registry
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from procurement.checks import (
    CSP_MIDDLEWARE,
    check_content_security_policy,
    check_secret_key_is_not_a_placeholder,
)

EXAMPLE = Path(settings.BASE_DIR) / "deploy" / "production.env.example"


def _production_env(tmp_path: Path) -> dict[str, str]:
    """The example file as an environment (KEY=VALUE lines, # comments), as compose reads it."""
    env = {}
    for line in EXAMPLE.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            env[key.strip()] = value.strip()
    # Paths of the container do not exist here; everything else is used as written.
    env.update(VAR_DIR=str(tmp_path / "var"), EMAIL_OUTBOX_DIR=str(tmp_path / "mail"))
    return env


def _deploy_check(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=settings.BASE_DIR,
        # Only what a container would have: nothing from this machine's own configuration.
        env={"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"), **env},
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def test_it_passes_the_deploy_check_with_the_production_settings(tmp_path: Path) -> None:
    env = _production_env(tmp_path)
    env["SECRET_KEY"] = secrets.token_urlsafe(64)

    result = _deploy_check(env)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_it_lists_every_variable_the_settings_read(tmp_path: Path) -> None:
    documented = set(_production_env(tmp_path))
    settings_source = (Path(settings.BASE_DIR) / "procurement" / "settings.py").read_text()

    read = set(re.findall(r'env_(?:str|bool|int|decimal|list)\(\s*"([A-Z0-9_]+)"', settings_source))

    assert read, "found no env_* calls in settings.py"
    assert read <= documented, f"missing from {EXAMPLE.name}: {sorted(read - documented)}"


def test_it_refuses_to_start_while_the_secret_key_is_the_placeholder(tmp_path: Path) -> None:
    # No secrets in the repo: the example's "change-me" signs nothing, ever.
    env = _production_env(tmp_path)
    assert env["SECRET_KEY"] == "change-me"

    result = _deploy_check(env)

    assert result.returncode == 1
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line.startswith("django.core.exceptions.ImproperlyConfigured: SECRET_KEY")
    assert "placeholder" in last_line


def test_it_fails_the_deploy_check_on_a_placeholder_key_even_with_debug_on(tmp_path: Path) -> None:
    # Padded past Django's own length check (security.W009), and DEBUG on, so the settings
    # start: the deploy check is what catches it.
    env = _production_env(tmp_path)
    env.update(SECRET_KEY="change-me-" * 6, DEBUG="1")

    result = _deploy_check(env)

    assert result.returncode == 1
    assert "procurement.W003" in result.stderr
    assert "SECRET_KEY is a placeholder" in result.stderr
    assert "security.W009" not in result.stderr


def test_it_ships_only_placeholders_for_secrets(tmp_path: Path) -> None:
    env = _production_env(tmp_path)
    secrets_in_example = {
        key: value for key, value in env.items() if key == "SECRET_KEY" or key.endswith("PASSWORD")
    }

    assert secrets_in_example
    assert set(secrets_in_example.values()) == {"change-me"}, secrets_in_example
    assert ":change-me@" in env["DATABASE_URL"]


def test_it_runs_our_checks_in_the_deploy_check_and_they_pass() -> None:
    assert check_content_security_policy() == []
    assert check_secret_key_is_not_a_placeholder() == []
    deploy_checks = registry.get_checks(include_deployment_checks=True)
    assert check_content_security_policy in deploy_checks
    assert check_secret_key_is_not_a_placeholder in deploy_checks


def test_it_warns_when_no_content_security_policy_is_sent(settings) -> None:
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if m != CSP_MIDDLEWARE]

    [warning] = check_content_security_policy()

    assert warning.id == "procurement.W001"
    assert "No Content-Security-Policy" in warning.msg


def test_it_warns_when_the_policy_is_empty(settings) -> None:
    settings.SECURE_CSP = {}

    assert [w.id for w in check_content_security_policy()] == ["procurement.W001"]


@pytest.mark.parametrize(
    "scripts",
    [
        ["'self'", "'unsafe-inline'"],
        ["'self'", "'unsafe-eval'"],
        ["'self'", "https:"],
        ["*"],
    ],
)
def test_it_warns_when_the_policy_lets_inline_or_foreign_scripts_run(settings, scripts) -> None:
    settings.SECURE_CSP = {**settings.SECURE_CSP, "script-src": scripts}

    [warning] = check_content_security_policy()

    assert warning.id == "procurement.W002"
    assert scripts[-1] in warning.msg


def test_it_reads_default_src_when_script_src_is_absent(settings) -> None:
    policy = {k: v for k, v in settings.SECURE_CSP.items() if k != "script-src"}
    settings.SECURE_CSP = {**policy, "default-src": ["'self'", "'unsafe-inline'"]}

    assert [w.id for w in check_content_security_policy()] == ["procurement.W002"]

    settings.SECURE_CSP = {k: v for k, v in policy.items() if k != "default-src"}

    assert [w.id for w in check_content_security_policy()] == ["procurement.W002"]


def test_it_fails_manage_py_check_deploy_when_scripts_may_run_inline(settings) -> None:
    settings.SECURE_CSP = {**settings.SECURE_CSP, "script-src": ["'self'", "'unsafe-inline'"]}

    with pytest.raises(SystemCheckError, match=r"procurement\.W002"):
        call_command("check", "--deploy", "--fail-level", "WARNING")
