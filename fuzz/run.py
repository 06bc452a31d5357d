"""Fuzz the REST API with schemathesis against a real server: `make fuzz`.

Run with the project's interpreter from the project root: `.venv/bin/python fuzz/run.py`.

1. Makes `fuzz/.venv` from `fuzz/requirements.txt` (schemathesis and its pinned
   dependencies). It has to be its own virtualenv: schemathesis needs the PyPI `requests`
   library, which our top-level `requests/` app would shadow in the project's.
2. Migrates a throwaway database (on the PostgreSQL server of `DATABASE_URL`, when it names
   one, the database `<its name>_fuzz`; otherwise SQLite under `var/fuzz/`), seeds the demo
   data into it and collects the static files.
3. Starts gunicorn on a free loopback port with production settings (`DEBUG=0`) and gets a
   token for each demo user of FUZZ_USERS through `POST /api/auth/token/`.
4. Runs `st run` on `/api/schema/` once per user, from `fuzz/` with `PYTHONSAFEPATH=1` so
   the project root is never on its `sys.path`, with the checks `not_a_server_error` and
   `response_schema_conformance` on every operation.
5. Stops the server and exits non-zero if any run failed, after printing the server's
   tracebacks; the last line reads "fuzz: N passed, N failed" (one per user).

Details and what it found: docs/testing.md.

Environment (all optional):
  FUZZ_MAX_EXAMPLES   test cases per operation in the fuzzing phase (default 25, as in CI)
  FUZZ_USERS          demo users to fuzz as, one run each (default "pat fiona mark":
                      procurement sees the most, finance owns budgets, a manager decides)
  FUZZ_SEED           schemathesis seed, to replay a run
  FUZZ_DATABASE_URL   the throwaway database to use instead of the derived one
  FUZZ_PHASES         schemathesis phases (default examples,coverage,fuzzing,stateful)
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

FUZZ_DIR = Path(__file__).resolve().parent
ROOT = FUZZ_DIR.parent
VAR = ROOT / "var" / "fuzz"
FUZZ_VENV = FUZZ_DIR / ".venv"
REQUIREMENTS = FUZZ_DIR / "requirements.txt"
PROJECT_BIN = Path(sys.executable).parent

# The project's own helpers (this script runs on the project's interpreter, from its root).
sys.path.insert(0, str(ROOT))
from procurement.throwaway import free_port, postgres_recreate, process_group_stop  # noqa: E402

# seed_demo's published password (README.md); only ever used on this throwaway database.
DEMO_PASSWORD = "correct-horse-battery-staple"
# Checks named by issue #8: no 5xx, and every response matches the schema it documents.
CHECKS = "not_a_server_error,response_schema_conformance"


def log(message: str) -> None:
    print(f"fuzz: {message}", flush=True)


def fuzz_venv_ensure() -> Path:
    """Create or refresh fuzz/.venv; redone only when requirements.txt changed."""
    stamp = FUZZ_VENV / ".installed-requirements"
    digest = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()
    st = FUZZ_VENV / "bin" / "st"
    if st.exists() and stamp.exists() and stamp.read_text() == digest:
        return st
    log(f"installing {REQUIREMENTS.relative_to(ROOT)} into {FUZZ_VENV.relative_to(ROOT)}")
    if not (FUZZ_VENV / "bin" / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", str(FUZZ_VENV)], check=True)
    subprocess.run(
        [
            str(FUZZ_VENV / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "-r",
            str(REQUIREMENTS),
        ],
        check=True,
        cwd=FUZZ_DIR,
    )
    stamp.write_text(digest)
    return st


def database_url_prepare() -> str:
    """A new, empty throwaway database; the one DATABASE_URL names is never touched."""
    url = os.environ.get("FUZZ_DATABASE_URL", "")
    base = os.environ.get("DATABASE_URL", "")
    if not url and base.startswith(("postgres://", "postgresql://")):
        # Named after the base database (CI's `procurement` gives `procurement_fuzz`), so
        # runs beside each other on one server (CI_DB_NAME) never drop each other's.
        parts = urlsplit(base)
        url = urlunsplit(parts._replace(path=f"{parts.path.rstrip('/')}_fuzz"))
    if not url:
        db = VAR / "db.sqlite3"
        for leftover in VAR.glob("db.sqlite3*"):
            leftover.unlink()
        return f"sqlite:///{db}"
    if url.startswith(("postgres://", "postgresql://")):
        log(f"created PostgreSQL database {postgres_recreate(url)}")
    return url


def server_environment(database_url: str) -> dict[str, str]:
    env = dict(os.environ)
    # Nothing of the developer's local state, broker or mail is shared with the fuzz run, and
    # the demo users sign in with their password alone.
    for name in (
        "REDIS_URL",
        "SECRET_KEY",
        "EMAIL_HOST",
        "DATABASE_REPLICA_URL",
        "OTP_REQUIRED_ROLES",
    ):
        env.pop(name, None)
    env.update(
        DATABASE_URL=database_url,
        VAR_DIR=str(VAR),
        DEBUG="0",
        # Tasks run inside the request, so a failing task surfaces as the 500 it would cause.
        CELERY_TASK_ALWAYS_EAGER="1",
        ALLOWED_HOSTS="127.0.0.1,localhost",
        SECURE_SSL_REDIRECT="0",
        PYTHONUNBUFFERED="1",
    )
    return env


def manage(env: dict[str, str], *args: str) -> None:
    subprocess.run([sys.executable, "manage.py", *args], check=True, cwd=ROOT, env=env)


def wait_until_up(base: str, server: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"fuzz: the server exited with {server.returncode}; see its log")
        try:
            with urllib.request.urlopen(f"{base}/healthz", timeout=5):
                return
        except urllib.error.HTTPError:
            return  # it answers; /healthz may report a degraded part, which is not ours to fuzz
        except OSError:
            time.sleep(0.5)
    raise SystemExit(f"fuzz: the server did not answer on {base} within {timeout:.0f} s")


def token_obtain(base: str, username: str) -> str:
    body = json.dumps({"username": username, "password": DEMO_PASSWORD}).encode()
    request = urllib.request.Request(
        f"{base}/api/auth/token/",
        data=body,
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return str(json.load(response)["token"])


def schemathesis_command(st: Path, base: str, token: str, username: str) -> list[str]:
    max_examples = os.environ.get("FUZZ_MAX_EXAMPLES", "25")
    command = [
        str(st),
        "--no-color",
        "run",
        f"{base}/api/schema/?format=json",
        "--url",
        base,
        "--header",
        f"Authorization: Token {token}",
        "--checks",
        CHECKS,
        "--max-examples",
        max_examples,
        "--phases",
        os.environ.get("FUZZ_PHASES", "examples,coverage,fuzzing,stateful"),
        "--request-timeout",
        "60",
        # Every failure is reported, not just the first; the JUnit file is for CI.
        "--continue-on-failure",
        "--report",
        "junit",
        "--report-dir",
        str(VAR / "report" / username),
        # Examples found in earlier runs are not replayed: a run is judged on its own.
        "--generation-database",
        "none",
    ]
    if os.environ.get("FUZZ_SEED"):
        command += ["--seed", os.environ["FUZZ_SEED"]]
    return command


def server_start(env: dict[str, str], port: int, log_file: Path) -> subprocess.Popen[bytes]:
    handle = log_file.open("wb")
    return subprocess.Popen(
        [
            str(PROJECT_BIN / "gunicorn"),
            "procurement.wsgi:application",
            "--config",
            "python:procurement.gunicorn_conf",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
            "--timeout",
            "120",
            "--access-logfile",
            "-",
            "--error-logfile",
            "-",
        ],
        cwd=ROOT,
        env=env,
        stdout=handle,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def server_errors(log_file: Path) -> str:
    """The tracebacks in the server's log: what a 5xx failure needs for its fix."""
    text = log_file.read_text(errors="replace")
    blocks = [line for line in text.splitlines() if " 500 " in line or "Traceback" in line]
    return "\n".join(blocks[-40:])


def main() -> int:
    os.chdir(ROOT)
    st = fuzz_venv_ensure()
    if VAR.exists():
        shutil.rmtree(VAR)
    VAR.mkdir(parents=True)
    database_url = database_url_prepare()
    env = server_environment(database_url)

    log("migrating and seeding the demo data")
    manage({**env, "DEBUG": "1"}, "migrate", "--noinput", "--verbosity", "0")
    manage({**env, "DEBUG": "1"}, "seed_demo")
    # DEBUG=0 serves static files from the collected manifest, as the container does.
    manage(env, "collectstatic", "--noinput", "--verbosity", "0")

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server_log = VAR / "server.log"
    server = server_start(env, port, server_log)
    try:
        wait_until_up(base, server)
        st_env = {
            **os.environ,
            # The project root must not be on schemathesis' sys.path (our requests/ app).
            "PYTHONSAFEPATH": "1",
            "PYTHONPATH": "",
            # Hypothesis' files and schemathesis' cache go with the run's, not into fuzz/.
            "HYPOTHESIS_STORAGE_DIRECTORY": str(VAR / "hypothesis"),
            "FUZZ_CACHE_DIR": str(VAR / "cache"),
        }
        # All tokens first: fuzzing POST /api/auth/token/ soon runs into its rate limit.
        users = os.environ.get("FUZZ_USERS", "pat fiona mark").split()
        tokens = {username: token_obtain(base, username) for username in users}
        failed = []
        for username, token in tokens.items():
            log(f"fuzzing {base}/api/schema/ as {username}")
            result = subprocess.run(
                schemathesis_command(st, base, token, username),
                cwd=FUZZ_DIR,
                env=st_env,
                check=False,
            )
            if result.returncode != 0:
                failed.append(username)
    finally:
        process_group_stop(server)
    if failed:
        log(f"schemathesis failed as {', '.join(failed)}; server log: {server_log}")
        errors = server_errors(server_log)
        if errors:
            print(errors, flush=True)
    else:
        log("no server errors and no schema violations")
    # One closing line in the usual "N passed, N failed" shape: one run per user.
    log(f"{len(tokens) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
