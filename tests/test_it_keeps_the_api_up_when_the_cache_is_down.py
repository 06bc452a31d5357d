"""The shared cache (Redis at CACHE_URL) holds only the token throttle's counts: with its
Redis down, signing in through the API still works, and the outage is logged.

procurement/cache.py; docs/scaling.md, "Horizontal scaling".
"""

from __future__ import annotations

import logging
import os

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

# Nothing listens on port 1: every cache call fails at once with a connection error.
DEAD = {
    "default": {
        "BACKEND": "procurement.cache.ResilientRedisCache",
        "LOCATION": "redis://127.0.0.1:1/0",
        "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
    }
}


@pytest.fixture
def dead_cache():
    # override_settings rebuilds the cache handlers (Django's setting_changed receiver).
    with override_settings(CACHES=DEAD):
        yield


def test_a_token_is_issued_while_the_cache_is_down(org, dead_cache, caplog):
    org.requester.set_password("s3cret-pass-phrase")
    org.requester.save()

    with caplog.at_level(logging.WARNING, logger="procurement.cache"):
        response = APIClient().post(
            "/api/auth/token/",
            {"username": org.requester.username, "password": "s3cret-pass-phrase"},
            format="json",
        )

    assert response.status_code == 200, response.content
    assert response.json()["token"]
    assert any("cache unavailable" in record.getMessage() for record in caplog.records)


def test_a_wrong_password_is_still_refused_while_the_cache_is_down(org, dead_cache):
    response = APIClient().post(
        "/api/auth/token/",
        {"username": org.requester.username, "password": "not-it"},
        format="json",
        REMOTE_ADDR="10.0.0.9",
    )

    assert response.status_code == 400


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs the Redis server of REDIS_URL")
def test_with_redis_up_the_cache_is_shared():
    # Two cache objects at one URL, as two web processes would have: one sees the other's key.
    url = os.environ["REDIS_URL"].rsplit("/", 1)[0] + "/15"
    from procurement.cache import ResilientRedisCache

    first = ResilientRedisCache(url, {"KEY_PREFIX": "cache-test"})
    second = ResilientRedisCache(url, {"KEY_PREFIX": "cache-test"})
    first.set("throttle", [1, 2, 3], 30)
    try:
        assert second.get("throttle") == [1, 2, 3]
    finally:
        second.delete("throttle")
