"""Failed logins and refused actions reach the "security" logger: who, from where, what, why."""

from __future__ import annotations

import logging

import pytest
from django.contrib.auth.models import AnonymousUser
from django.http import HttpResponseForbidden
from django.test import Client, RequestFactory

from approvals.tests.helpers import LINE_MANAGER, policy, submitted
from procurement.security import SecurityEventMiddleware

pytestmark = pytest.mark.django_db


def security_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.name == "security"]


def test_it_logs_a_failed_login_with_the_username_and_address_but_not_the_password(org, caplog):
    with caplog.at_level(logging.INFO, logger="security"):
        response = Client(REMOTE_ADDR="198.51.100.7").post(
            "/accounts/login/", {"username": "alice", "password": "guessed-Password-1"}
        )

    assert response.status_code == 200  # the form again, with its error
    [record] = security_records(caplog)
    assert record.levelno == logging.WARNING
    assert record.event == "login_failed"
    assert (record.username, record.ip) == ("alice", "198.51.100.7")
    assert "alice" in record.getMessage()
    assert "198.51.100.7" in record.getMessage()
    assert "guessed-Password-1" not in repr(record.__dict__)


def test_it_logs_a_failed_login_to_the_api_token_endpoint(org, caplog):
    with caplog.at_level(logging.INFO, logger="security"):
        response = Client(REMOTE_ADDR="198.51.100.8").post(
            "/api/auth/token/",
            {"username": "nobody-here", "password": "guessed-Password-2"},
            content_type="application/json",
        )

    assert response.status_code == 400
    [record] = security_records(caplog)
    assert (record.event, record.username, record.ip) == (
        "login_failed",
        "nobody-here",
        "198.51.100.8",
    )
    assert "guessed-Password-2" not in repr(record.__dict__)


def test_it_logs_nothing_for_a_good_login(org, password, caplog):
    with caplog.at_level(logging.INFO, logger="security"):
        response = Client().post("/accounts/login/", {"username": "alice", "password": password})

    assert response.status_code == 302
    assert security_records(caplog) == []


def test_it_quotes_a_username_that_tries_to_forge_a_log_line(org, caplog):
    with caplog.at_level(logging.INFO, logger="security"):
        Client().post(
            "/accounts/login/",
            {"username": "alice\nINFO security login ok: ada", "password": "x"},
        )

    [record] = security_records(caplog)
    assert "\n" not in record.getMessage()


def test_it_logs_the_address_the_proxy_saw_when_behind_one(org, settings, caplog):
    settings.BEHIND_PROXY = True
    client = Client(REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.50")

    with caplog.at_level(logging.INFO, logger="security"):
        client.post("/accounts/login/", {"username": "alice", "password": "wrong"})

    # The first hop is whatever the client wrote; the last is what our proxy appended.
    [record] = security_records(caplog)
    assert record.ip == "203.0.113.50"


def test_it_logs_a_page_that_refuses_a_user_with_the_reason(org, caplog):
    client = org.client_for(org.requester)

    with caplog.at_level(logging.INFO, logger="security"):
        response = client.get("/vendors/new/")

    assert response.status_code == 403
    [record] = security_records(caplog)
    assert record.event == "access_denied"
    assert (record.username, record.method, record.path) == ("alice", "GET", "/vendors/new/")
    assert record.reason == "Only procurement can add vendors."
    assert "alice" in record.getMessage()
    assert "/vendors/new/" in record.getMessage()


def test_it_logs_an_api_action_someone_may_not_take(org, caplog):
    policy(LINE_MANAGER)
    request = submitted(org)  # waits for Mark; Alice may not approve her own request
    client = org.client_for(org.requester)

    with caplog.at_level(logging.INFO, logger="security"):
        response = client.post(
            f"/api/requests/{request.pk}/approve/", {}, content_type="application/json"
        )

    assert response.status_code == 403
    [record] = security_records(caplog)
    assert (record.username, record.method) == ("alice", "POST")
    assert record.path == f"/api/requests/{request.pk}/approve/"
    assert record.reason == response.json()["detail"]


def test_it_logs_an_anonymous_api_call(caplog):
    with caplog.at_level(logging.INFO, logger="security"):
        response = Client(REMOTE_ADDR="192.0.2.44").get("/api/requests/")

    assert response.status_code == 403
    [record] = security_records(caplog)
    assert (record.username, record.ip, record.path) == ("", "192.0.2.44", "/api/requests/")
    assert "anonymous" in record.getMessage()
    assert record.reason == response.json()["detail"]


def test_it_logs_a_post_that_failed_the_csrf_check(org, caplog):
    client = Client(enforce_csrf_checks=True)
    client.force_login(org.requester)

    with caplog.at_level(logging.INFO, logger="security"):
        response = client.post("/requests/new/", {"title": "No token"})

    assert response.status_code == 403
    assert b"Please try again" in response.content  # our own CSRF page still answers
    [record] = security_records(caplog)
    assert record.username == "alice"
    assert record.reason.startswith("CSRF check failed")


def test_it_keeps_an_emailed_links_token_out_of_the_log(caplog):
    # Whoever holds an approval link's token may decide with it: never write it down.
    refuse = SecurityEventMiddleware(lambda request: HttpResponseForbidden())
    request = RequestFactory().post("/approvals/email/MQ:1uAbC:sEcReT-token/")
    request.user = AnonymousUser()

    with caplog.at_level(logging.INFO, logger="security"):
        refuse(request)

    [record] = security_records(caplog)
    assert "sEcReT-token" not in record.getMessage()
    assert record.path == "/approvals/email/[redacted]/"
