"""Login throttling: wrong passwords lock one username out from one address, for a while.

django-axes counts failed logins per (username, client address); AXES_FAILURE_LIMIT (5) of
them lock that pair out for AXES_COOLOFF_MINUTES (15). Pages answer with a 429 page, the token
API with a 429 in its error shape; both say when to try again.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.core.cache import cache
from django.db.models import F
from django.test import Client
from pytest_django.fixtures import Settings
from rest_framework.authtoken.models import Token

from tests.factories import DEMO_PASSWORD

pytestmark = pytest.mark.django_db

ATTACKER = "203.0.113.66"
ALICES_DESK = "198.51.100.10"


@pytest.fixture(autouse=True)
def _fresh_api_throttle() -> Iterator[None]:
    # The token endpoint's per-address rate limit counts in the cache.
    cache.clear()
    yield
    cache.clear()


def _log_in(client: Client, username: str, password: str):
    return client.post("/accounts/login/", {"username": username, "password": password})


def _fail_five_times(client: Client, username: str = "alice"):
    responses = [_log_in(client, username, f"guess-{n}") for n in range(5)]
    return responses


def test_it_locks_a_username_out_from_one_address_after_five_wrong_passwords(org):
    attacker = Client(REMOTE_ADDR=ATTACKER)

    responses = _fail_five_times(attacker)

    assert [r.status_code for r in responses[:4]] == [200, 200, 200, 200]
    assert "Please enter a correct username and password." in responses[3].content.decode()
    locked = responses[4]
    assert locked.status_code == 429
    assert "Too many failed logins" in locked.content.decode()
    assert "Try again in 15 minutes." in locked.content.decode()
    assert locked["Retry-After"] == str(15 * 60)
    # Even the right password is refused from there while the lock holds.
    again = _log_in(attacker, "alice", DEMO_PASSWORD)
    assert again.status_code == 429
    assert attacker.get("/requests/").status_code == 302


def test_it_still_lets_another_user_in_from_the_same_address(org):
    attacker = Client(REMOTE_ADDR=ATTACKER)
    _fail_five_times(attacker, "alice")

    response = _log_in(attacker, "mark", DEMO_PASSWORD)

    assert response.status_code == 302
    assert response["Location"] == "/requests/"


def test_it_still_lets_the_same_user_in_from_another_address(org):
    _fail_five_times(Client(REMOTE_ADDR=ATTACKER), "alice")
    alice = Client(REMOTE_ADDR=ALICES_DESK)

    response = _log_in(alice, "alice", DEMO_PASSWORD)

    assert response.status_code == 302
    assert alice.get("/requests/").status_code == 200


def test_it_lets_the_user_in_again_once_the_cool_off_is_over(org):
    client = Client(REMOTE_ADDR=ATTACKER)
    _fail_five_times(client)

    # Fourteen minutes later the lock still holds, and it says how long is left.
    AccessAttempt.objects.update(attempt_time=F("attempt_time") - timedelta(minutes=14))
    still_locked = _log_in(client, "alice", DEMO_PASSWORD)
    assert still_locked.status_code == 429
    assert "Try again in 1 minute." in still_locked.content.decode()

    # Trying during the lock did not extend it: fifteen minutes after the fifth failure it ends.
    AccessAttempt.objects.update(attempt_time=F("attempt_time") - timedelta(minutes=1, seconds=1))
    response = _log_in(client, "alice", DEMO_PASSWORD)

    assert response.status_code == 302
    assert client.get("/requests/").status_code == 200


def test_it_follows_the_configured_limit_and_cool_off(org, settings: Settings):
    settings.AXES_FAILURE_LIMIT = 2
    settings.AXES_COOLOFF_TIME = timedelta(minutes=3)
    client = Client(REMOTE_ADDR=ATTACKER)

    first = _log_in(client, "alice", "guess-1")
    second = _log_in(client, "alice", "guess-2")

    assert first.status_code == 200
    assert second.status_code == 429
    assert "Try again in 3 minutes." in second.content.decode()


def test_it_forgets_earlier_failures_after_a_successful_login(org):
    client = Client(REMOTE_ADDR=ALICES_DESK)
    for n in range(4):
        _log_in(client, "alice", f"typo-{n}")
    assert _log_in(client, "alice", DEMO_PASSWORD).status_code == 302
    client.post("/accounts/logout/")

    # Four more typos: the count started again, so she is not locked out.
    responses = [_log_in(client, "alice", f"typo-{n}") for n in range(4)]

    assert [r.status_code for r in responses] == [200, 200, 200, 200]
    assert _log_in(client, "alice", DEMO_PASSWORD).status_code == 302


def test_it_throttles_the_token_api_too_and_answers_in_json(org):
    client = Client(REMOTE_ADDR=ATTACKER)
    answers = [
        client.post("/api/auth/token/", {"username": "alice", "password": f"guess-{n}"})
        for n in range(5)
    ]

    assert [a.status_code for a in answers[:4]] == [400, 400, 400, 400]
    assert answers[4].status_code == 429
    assert answers[4].json() == {
        "code": "locked_out",
        "detail": "Too many failed logins for this account from your address: "
        "try again in 15 minutes.",
        "errors": {},
    }
    right_password = client.post(
        "/api/auth/token/", {"username": "alice", "password": DEMO_PASSWORD}
    )
    assert right_password.status_code == 429
    assert right_password.json()["code"] == "locked_out"
    assert not Token.objects.exists()
    # One count for both doors: the login page is locked for alice from there too.
    assert _log_in(client, "alice", DEMO_PASSWORD).status_code == 429


def test_it_counts_token_failures_and_page_failures_together(org):
    client = Client(REMOTE_ADDR=ATTACKER)
    for n in range(3):
        client.post("/api/auth/token/", {"username": "alice", "password": f"guess-{n}"})

    assert _log_in(client, "alice", "guess-3").status_code == 200
    assert _log_in(client, "alice", "guess-4").status_code == 429


def test_it_does_not_let_a_forged_forwarded_for_header_dodge_the_lock(org, settings: Settings):
    # Behind our proxy (BEHIND_PROXY=1) the client is the hop the proxy appended last.
    settings.BEHIND_PROXY = True
    proxy = Client(REMOTE_ADDR="10.0.0.2")
    for n in range(5):
        forged = f"192.0.2.{n}, {ATTACKER}"
        last = proxy.post(
            "/accounts/login/",
            {"username": "alice", "password": f"guess-{n}"},
            headers={"X-Forwarded-For": forged},
        )

    assert last.status_code == 429
    # Alice, arriving through the same proxy from her own address, is not locked out.
    mine = proxy.post(
        "/accounts/login/",
        {"username": "alice", "password": DEMO_PASSWORD},
        headers={"X-Forwarded-For": ALICES_DESK},
    )
    assert mine.status_code == 302


def test_it_takes_a_malformed_forwarded_address_in_its_stride(org, settings: Settings):
    # Axes stores the address in an inet column on PostgreSQL: a bad hop must not become a 500.
    settings.BEHIND_PROXY = True
    client = Client(REMOTE_ADDR="10.0.0.2")
    headers = {"X-Forwarded-For": "not-an-address"}

    wrong = client.post(
        "/accounts/login/", {"username": "alice", "password": "guess"}, headers=headers
    )
    right = client.post(
        "/accounts/login/", {"username": "alice", "password": DEMO_PASSWORD}, headers=headers
    )

    assert wrong.status_code == 200
    assert right.status_code == 302
