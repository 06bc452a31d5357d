"""Two web processes (gunicorn, production settings) on one database and one Redis serve one
browser in turn, as a round-robin load balancer without sticky sessions would send it:
signed in on one, it goes on working on the other, forms included; the API's throttle counts
requests across both; signing out on one signs out on both.

Both processes answer to one host name (the balancer's) and share one VAR_DIR, as they would
share their media storage. The browser below keeps its own cookies and picks the process for
each request itself, so every assertion knows which process served what.
"""

from __future__ import annotations

import http.client
import json
import re
import secrets
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import quote, urlencode

import pytest
from django.conf import settings
from pytest_django.fixtures import Settings

from approvals.models import ApprovalStep, StepState
from conftest import Org
from tests.factories import PurchaseRequestFactory
from tests.processes import free_port, needs_redis_server, redis_server, running, wait_for

pytestmark = [pytest.mark.django_db(transaction=True, serialized_rollback=True), needs_redis_server]

HOST = "procurement.test"  # the balancer's name: what the browser sees, whichever process answers
PASSWORD = "correct-horse-battery-staple"
_CSRF_FIELD = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def _database_url() -> str:
    """The test database, for the web processes' DATABASE_URL."""
    db = settings.DATABASES["default"]
    if db["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{db['NAME']}"
    credentials = quote(db["USER"], safe="")
    if db.get("PASSWORD"):
        credentials += ":" + quote(db["PASSWORD"], safe="")
    return f"postgres://{credentials}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@dataclass
class Response:
    status: int
    headers: http.client.HTTPMessage
    body: str

    def csrf_token(self) -> str:
        found = _CSRF_FIELD.search(self.body)
        assert found, f"no CSRF field in the page:\n{self.body[:2000]}"
        return found.group(1)


@dataclass
class Browser:
    """One browser's cookies; each request goes to the web process on `port`."""

    cookies: dict[str, str] = field(default_factory=dict)

    def request(
        self,
        port: int,
        method: str,
        path: str,
        form: dict[str, str] | None = None,
        json_body: dict[str, str] | None = None,
    ) -> Response:
        headers = {"Host": HOST}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if form is not None:
            body = urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            headers["Origin"] = f"http://{HOST}"
        if json_body is not None:
            body = json.dumps(json_body)
            headers["Content-Type"] = "application/json"
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        try:
            connection.request(method, path, body=body, headers=headers)
            raw = connection.getresponse()
            response = Response(raw.status, raw.headers, raw.read().decode(errors="replace"))
        finally:
            connection.close()
        # The cookies are marked Secure (production settings); the balancer ends TLS, so
        # this browser sends them over the plain loopback connection all the same.
        for header in response.headers.get_all("Set-Cookie") or []:
            for name, morsel in SimpleCookie(header).items():
                if morsel["max-age"] == "0" or not morsel.value:
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value
        return response

    def sign_in(self, *, page_from: int, post_to: int, username: str) -> None:
        login = self.request(page_from, "GET", "/accounts/login/")
        assert login.status == 200, login.body[:2000]
        signed_in = self.request(
            post_to,
            "POST",
            "/accounts/login/",
            {"username": username, "password": PASSWORD, "csrfmiddlewaretoken": login.csrf_token()},
        )
        assert signed_in.status == 302, signed_in.body[:2000]
        assert "sessionid" in self.cookies


@dataclass
class WebProcesses:
    a: int
    b: int
    logs: list[Path]


@pytest.fixture(scope="module")
def two_web_processes(
    django_db_setup: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WebProcesses]:
    """Two gunicorn processes with production settings on the test database, sharing one
    throwaway Redis (db 0: Celery's broker, db 1: the cache) and one VAR_DIR. Started once
    for the module: they keep no state of their own, which is the point."""
    tmp_path = tmp_path_factory.mktemp("load_balancer")
    var_dir = tmp_path / "var"
    redis_port = free_port()
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(settings.BASE_DIR),
        "DJANGO_SETTINGS_MODULE": "procurement.settings",
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),  # the same in both, as in production
        "ALLOWED_HOSTS": HOST,
        "DATABASE_URL": _database_url(),
        "DB_CONN_MAX_AGE": "0",
        "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
        "CACHE_URL": f"redis://127.0.0.1:{redis_port}/1",
        "VAR_DIR": str(var_dir),
        "EMAIL_OUTBOX_DIR": str(var_dir / "mail"),
    }
    # DEBUG off serves static files from the collected manifest, as the container does.
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "--verbosity", "0"],
        cwd=settings.BASE_DIR,
        env=env,
        check=True,
        timeout=300,
    )
    ports = (free_port(), free_port())
    logs = [tmp_path / "redis.log", tmp_path / "web-a.log", tmp_path / "web-b.log"]
    with ExitStack() as stack:
        stack.enter_context(redis_server(redis_port, log=logs[0]))
        processes = [
            stack.enter_context(
                running(
                    [
                        *(sys.executable, "-m", "gunicorn", "procurement.wsgi:application"),
                        # As the Dockerfile runs it, with the project's worker hooks.
                        *("--config", "python:procurement.gunicorn_conf"),
                        *("--bind", f"127.0.0.1:{port}", "--workers", "1"),
                        *("--access-logfile", "-"),
                    ],
                    env=env,
                    log=log,
                )
            )
            for port, log in zip(ports, logs[1:], strict=True)
        ]
        for port in ports:
            wait_for(
                lambda port=port: _healthy(port),  # type: ignore[misc]
                what=f"web process on port {port} to answer /healthz",
                processes=processes,
                logs=logs,
            )
        yield WebProcesses(*ports, logs=logs)


def _healthy(port: int) -> bool:
    try:
        return Browser().request(port, "GET", "/healthz").status == 200
    except OSError:
        return False


def _use_real_password_hashes(settings: Settings, *users: object) -> None:
    # conftest makes MD5 hashes for speed; the web processes accept only the real hashers.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]
    for user in users:
        user.set_password(PASSWORD)  # type: ignore[attr-defined]
        user.save(update_fields=["password"])  # type: ignore[attr-defined]


def test_it_keeps_a_session_and_its_forms_working_on_either_web_process(
    org: Org, two_web_processes: WebProcesses, settings: Settings
) -> None:
    a, b = two_web_processes.a, two_web_processes.b
    _use_real_password_hashes(settings, org.requester, org.manager)
    draft = PurchaseRequestFactory.create(
        requester=org.requester, department=org.department, cost_centre=org.cost_centre
    )
    detail = f"/requests/{draft.pk}/"

    alice = Browser()
    # The login form comes from A, the password goes to B: the CSRF cookie is not tied to a
    # process.
    alice.sign_in(page_from=a, post_to=b, username=org.requester.username)
    page = alice.request(a, "GET", detail)
    assert page.status == 200
    assert draft.title in page.body
    # The form was rendered by A, posted to B.
    submitted = alice.request(
        b, "POST", f"{detail}actions/submit/", {"csrfmiddlewaretoken": page.csrf_token()}
    )
    assert submitted.status == 302, submitted.body[:2000]
    draft.refresh_from_db()
    assert draft.state == "pending_approval"
    # B's "submitted" message is shown by whichever process serves the next page.
    assert f"{draft.reference} submitted." in alice.request(a, "GET", detail).body
    [step] = ApprovalStep.objects.filter(request=draft, state=StepState.PENDING)

    mark = Browser()
    mark.sign_in(page_from=b, post_to=a, username=org.manager.username)
    page = mark.request(b, "GET", detail)
    assert page.status == 200
    approved = mark.request(
        a,
        "POST",
        f"{detail}actions/approve/",
        {"csrfmiddlewaretoken": page.csrf_token(), "comment": "Fine by me"},
    )
    assert approved.status == 302, approved.body[:2000]
    step.refresh_from_db()
    assert (step.state, step.decided_by_id) == (StepState.APPROVED, org.manager.pk)
    assert f"{draft.reference} approved." in mark.request(b, "GET", detail).body

    # Signing out on one process ends the session on both.
    page = alice.request(b, "GET", detail)
    signed_out = alice.request(
        b, "POST", "/accounts/logout/", {"csrfmiddlewaretoken": page.csrf_token()}
    )
    assert signed_out.status == 302
    after = alice.request(a, "GET", detail)
    assert after.status == 302
    assert after.headers["Location"].startswith("/accounts/login/")


def test_it_counts_the_api_throttle_across_both_web_processes(
    org: Org, two_web_processes: WebProcesses
) -> None:
    a, b = two_web_processes.a, two_web_processes.b
    client = Browser()
    # Ten attempts a minute per address (settings: "token": "10/min"), five on each process;
    # a different name each time, so that no single name is locked out by login throttling.
    answers = [
        client.request(
            (a, b)[attempt % 2],
            "POST",
            "/api/auth/token/",
            json_body={"username": f"nobody-{attempt}", "password": "wrong"},
        )
        for attempt in range(10)
    ]
    assert [answer.status for answer in answers] == [400] * 10, [a.body for a in answers]

    # With each process counting alone, both would still allow five more.
    for port in (a, b):
        refused = client.request(
            port, "POST", "/api/auth/token/", json_body={"username": "x", "password": "y"}
        )
        assert refused.status == 429, refused.body
        assert json.loads(refused.body)["code"] == "throttled"


def test_each_web_process_freezes_its_loaded_application_for_the_garbage_collector(
    two_web_processes: WebProcesses,
) -> None:
    # procurement/gunicorn_conf.py's hook ran in each worker, after Django was loaded.
    for log in two_web_processes.logs[1:]:
        frozen = re.search(
            r"gc: (\d+) objects frozen once the application was loaded", log.read_text()
        )
        assert frozen, log.read_text()[-2000:]
        assert int(frozen[1]) > 50_000  # Django and the apps, not a near-empty process


def test_it_refuses_a_cache_url_that_is_not_redis(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=settings.BASE_DIR,
        env={
            "PATH": "/usr/bin:/bin",
            "DEBUG": "1",
            "VAR_DIR": str(tmp_path),
            "CACHE_URL": "memcached://cache:11211",
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode != 0
    assert "CACHE_URL='memcached://cache:11211' must be a Redis URL" in result.stderr
