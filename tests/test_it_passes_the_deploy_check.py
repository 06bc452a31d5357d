"""deploy/production.env.example is a configuration Django's deploy checklist accepts."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

from django.conf import settings

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


def test_it_fails_the_deploy_check_while_the_secret_key_is_the_placeholder(tmp_path: Path) -> None:
    env = _production_env(tmp_path)
    assert env["SECRET_KEY"] == "change-me"

    result = _deploy_check(env)

    assert result.returncode != 0
    assert "security.W009" in result.stdout + result.stderr
