"""Who may call the API: tokens, sessions, and everyone else."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.core.cache import cache
from django.http import HttpRequest
from django.test import Client
from rest_framework.authtoken.models import Token

from requests.models import PurchaseRequest
from requests.tests.helpers import draft_for
from tests.factories import DEMO_PASSWORD


@pytest.fixture(autouse=True)
def _fresh_throttle() -> Iterator[None]:
    # The token throttle counts in the cache; each test starts with no attempts made.
    cache.clear()
    yield
    cache.clear()


def test_it_gives_a_token_that_then_lists_the_callers_requests(org):
    own = draft_for(org)
    draft_for(org, requester=org.outsider)
    anonymous = Client()

    response = anonymous.post(
        "/api/auth/token/",
        {"username": "alice", "password": DEMO_PASSWORD},
        content_type="application/json",
    )

    assert response.status_code == 200
    token = response.json()["token"]
    assert Token.objects.get(key=token).user == org.requester
    listed = anonymous.get("/api/requests/", headers={"Authorization": f"Token {token}"})
    assert listed.status_code == 200
    assert [row["id"] for row in listed.json()["results"]] == [own.pk]


def test_it_accepts_form_encoded_credentials_and_returns_the_same_token_each_time(org):
    client = Client()
    first = client.post("/api/auth/token/", {"username": "alice", "password": DEMO_PASSWORD})
    second = client.post("/api/auth/token/", {"username": "alice", "password": DEMO_PASSWORD})

    assert first.status_code == second.status_code == 200
    assert first.json()["token"] == second.json()["token"]
    assert Token.objects.filter(user=org.requester).count() == 1


@pytest.mark.parametrize(
    ("username", "password"),
    [("alice", "wrong-password"), ("nobody", DEMO_PASSWORD)],
    ids=["wrong password", "unknown user"],
)
def test_it_refuses_bad_credentials_with_one_400_answer(org, username, password):
    response = Client().post(
        "/api/auth/token/",
        {"username": username, "password": password},
        content_type="application/json",
    )

    assert response.status_code == 400
    assert response.json() == {
        "code": "invalid",
        "detail": "Unable to log in with the username and password given.",
        "errors": {},
    }
    assert not Token.objects.exists()


def test_it_refuses_a_token_to_a_deactivated_account(org):
    org.requester.is_active = False
    org.requester.save()

    response = Client().post(
        "/api/auth/token/",
        {"username": "alice", "password": DEMO_PASSWORD},
        content_type="application/json",
    )

    assert response.status_code == 400
    assert not Token.objects.exists()


def test_it_names_the_missing_field_when_the_password_is_left_out(org):
    response = Client().post(
        "/api/auth/token/", {"username": "alice"}, content_type="application/json"
    )

    assert response.status_code == 400
    assert response.json()["detail"] == "password: This field is required."
    assert response.json()["errors"] == {"password": ["This field is required."]}


def test_it_throttles_token_attempts_after_ten_a_minute(org):
    client = Client()
    # Ten different names: the address is throttled whatever name it tries (one name alone
    # would be locked out sooner, by login throttling: tests/test_it_throttles_logins.py).
    for attempt in range(10):
        assert (
            client.post(
                "/api/auth/token/", {"username": f"guess-{attempt}", "password": "guess"}
            ).status_code
            == 400
        )

    response = client.post("/api/auth/token/", {"username": "alice", "password": DEMO_PASSWORD})

    assert response.status_code == 429
    assert response.json()["code"] == "throttled"
    assert not Token.objects.exists()


def test_it_does_not_let_a_forged_forwarded_for_header_dodge_the_throttle(org):
    client = Client()
    for attempt in range(10):
        client.post(
            "/api/auth/token/",
            {"username": "alice", "password": "guess"},
            headers={"X-Forwarded-For": f"10.0.0.{attempt}"},
        )

    response = client.post(
        "/api/auth/token/",
        {"username": "alice", "password": DEMO_PASSWORD},
        headers={"X-Forwarded-For": "10.0.0.99"},
    )

    assert response.status_code == 429


def test_it_accepts_a_signed_in_session(org):
    own = draft_for(org)
    client = Client()
    # Login throttling (django-axes) needs the request that the credentials came with.
    assert client.login(request=HttpRequest(), username="alice", password=DEMO_PASSWORD)

    response = client.get(f"/api/requests/{own.pk}/")

    assert response.status_code == 200
    assert response.json()["reference"] == own.reference


def test_it_requires_the_csrf_token_for_writes_with_a_session(org):
    own = draft_for(org)
    client = Client(enforce_csrf_checks=True)
    client.force_login(org.requester)

    response = client.post(f"/api/requests/{own.pk}/submit/", {}, content_type="application/json")

    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    assert "CSRF" in response.json()["detail"]
    own.refresh_from_db()
    assert own.state == "draft"


def test_it_needs_no_csrf_token_with_a_token(org):
    own = draft_for(org)
    token = Token.objects.create(user=org.requester)
    client = Client(enforce_csrf_checks=True)

    response = client.post(
        f"/api/requests/{own.pk}/submit/",
        {},
        content_type="application/json",
        headers={"Authorization": f"Token {token.key}"},
    )

    assert response.status_code == 200
    assert response.json()["state"] == "submitted"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/requests/"),
        ("post", "/api/requests/"),
        ("get", "/api/requests/{id}/"),
        ("patch", "/api/requests/{id}/"),
        ("post", "/api/requests/{id}/submit/"),
        ("get", "/api/requests/{id}/comments/"),
        ("post", "/api/requests/{id}/attachments/"),
    ],
)
def test_it_turns_anonymous_callers_away_with_a_json_error(org, method, path):
    draft = draft_for(org)
    count = PurchaseRequest.objects.count()

    response = getattr(Client(), method)(
        path.format(id=draft.pk), {}, content_type="application/json"
    )

    assert response.status_code in (401, 403)
    assert response.json()["code"] == "not_authenticated"
    assert PurchaseRequest.objects.count() == count
    draft.refresh_from_db()
    assert draft.state == "draft"


def test_it_refuses_an_unknown_token(org):
    response = Client().get("/api/requests/", headers={"Authorization": "Token not-a-real-token"})

    assert response.status_code in (401, 403)
    assert response.json() == {
        "code": "authentication_failed",
        "detail": "Invalid token.",
        "errors": {},
    }


def test_it_answers_an_unknown_api_path_in_the_error_shape(org):
    client = org.client_for(org.requester)

    unknown = client.get("/api/nothing-here/")
    no_slash = client.get("/api/requests")

    assert unknown.status_code == 404
    assert unknown.json() == {"code": "not_found", "detail": "No such API endpoint.", "errors": {}}
    assert no_slash.status_code == 404
    assert "/api/requests/" in no_slash.json()["detail"]
