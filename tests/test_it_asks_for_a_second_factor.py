"""Two-factor authentication: enrolment, the code at login, the mandatory roles, the API token.

Codes are computed as an authenticator app would, from the device's secret (django_otp.oath).
A code is accepted once: a later one in the same test is taken one 30-second step ahead (the
device accepts one step of clock drift).
"""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
from django.conf import settings as django_settings
from django.core.cache import cache
from django.test import Client
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice
from pytest_django.fixtures import Settings
from rest_framework.authtoken.models import Token

from procurement.models import AuditEntry, Role, User
from tests.factories import DEMO_PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_api_throttle() -> Iterator[None]:
    cache.clear()
    yield
    cache.clear()


def code_for(device: TOTPDevice, *, steps_ahead: int = 0) -> str:
    """The code the user's app shows now (or `steps_ahead` 30-second steps from now)."""
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time() + steps_ahead * device.step
    return f"{totp.token():0{device.digits}d}"


def wrong_code(device: TOTPDevice) -> str:
    right = {code_for(device, steps_ahead=s) for s in (-1, 0, 1)}
    return next(c for c in ("000000", "111111", "222222", "333333") if c not in right)


def authenticator_for(user: User) -> TOTPDevice:
    return TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=True)


def _password_step(client: Client, username: str, next_url: str = "") -> str:
    data = {"username": username, "password": DEMO_PASSWORD}
    if next_url:
        data["next"] = next_url
    response = client.post("/accounts/login/", data)
    assert response.status_code == 302
    return response["Location"]


def test_it_enrols_an_authenticator_from_the_security_page(org):
    client = org.client_for(org.requester)
    page = client.get("/accounts/security/").content.decode()
    assert "Two-factor authentication is off." in page

    assert client.post("/accounts/security/enrol/").status_code == 302
    page = client.get("/accounts/security/").content.decode()

    device = TOTPDevice.objects.get(user=org.requester)
    assert not device.confirmed
    # The QR code is drawn on the server as an SVG; the key is shown for typing in by hand.
    assert 'src="data:image/svg+xml;base64,' in page
    qr = page.split('src="data:image/svg+xml;base64,', 1)[1].split('"', 1)[0]
    assert base64.b64decode(qr).lstrip().startswith((b"<?xml", b"<svg"))
    typed_key = base64.b32encode(device.bin_key).decode().rstrip("=")
    assert typed_key[:4] + " " + typed_key[4:8] in page

    confirmed = client.post("/accounts/security/confirm/", {"otp": code_for(device)})

    assert confirmed.status_code == 302
    device.refresh_from_db()
    assert device.confirmed
    assert "Two-factor authentication is on." in client.get("/accounts/security/").content.decode()
    assert AuditEntry.objects.filter(
        object_id=org.requester.pk, action="two_factor_enabled", actor=org.requester
    ).exists()


def test_it_refuses_to_enrol_with_a_wrong_code(org):
    client = org.client_for(org.requester)
    client.post("/accounts/security/enrol/")
    device = TOTPDevice.objects.get(user=org.requester)

    response = client.post("/accounts/security/confirm/", {"otp": wrong_code(device)})

    assert response.status_code == 400
    assert "That code is wrong or has expired" in response.content.decode()
    device.refresh_from_db()
    assert not device.confirmed


def test_it_asks_for_the_code_after_the_password(org):
    device = authenticator_for(org.requester)
    client = Client()

    location = _password_step(client, "alice", next_url="/approvals/")

    assert location == "/accounts/login/code/?next=%2Fapprovals%2F"
    # The password alone signed nobody in.
    assert client.get("/requests/").status_code == 302
    form = client.get(location)
    assert "Enter your code" in form.content.decode()

    response = client.post(location, {"otp": code_for(device), "next": "/approvals/"})

    assert response.status_code == 302
    assert response["Location"] == "/approvals/"
    assert client.get("/requests/").status_code == 200


def test_it_refuses_a_wrong_code_and_a_code_used_before(org):
    device = authenticator_for(org.requester)
    first = Client()
    _password_step(first, "alice")

    wrong = first.post("/accounts/login/code/", {"otp": wrong_code(device)})

    assert wrong.status_code == 400
    assert "That code is wrong or has expired" in wrong.content.decode()
    assert first.get("/requests/").status_code == 302

    # A code that has signed someone in cannot sign in anyone else (seen over a shoulder).
    device.throttle_reset()
    code = code_for(device)
    owner = Client()
    _password_step(owner, "alice")
    assert owner.post("/accounts/login/code/", {"otp": code}).status_code == 302
    thief = Client()
    _password_step(thief, "alice")
    replay = thief.post("/accounts/login/code/", {"otp": code})
    assert replay.status_code == 400
    assert thief.get("/requests/").status_code == 302


def test_it_locks_out_code_guessing_like_password_guessing(org, settings: Settings):
    # No back-off between codes here, so that each guess is really checked and counted.
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    device = authenticator_for(org.requester)
    client = Client(REMOTE_ADDR="203.0.113.66")
    _password_step(client, "alice")

    answers = [client.post("/accounts/login/code/", {"otp": wrong_code(device)}) for _ in range(5)]

    assert [a.status_code for a in answers[:4]] == [400, 400, 400, 400]
    assert answers[4].status_code == 429
    assert "Try again in 15 minutes." in answers[4].content.decode()
    # The pending login is gone: the password is needed again, and it is locked out too.
    assert client.get("/accounts/login/code/").status_code == 302
    assert (
        client.post(
            "/accounts/login/", {"username": "alice", "password": DEMO_PASSWORD}
        ).status_code
        == 429
    )


def test_it_forgets_a_password_step_left_unfinished(org, monkeypatch):
    authenticator_for(org.requester)
    client = Client()
    _password_step(client, "alice")
    later = time.time() + 6 * 60
    monkeypatch.setattr("procurement.two_factor.time.time", lambda: later)

    response = client.get("/accounts/login/code/")

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_it_signs_in_a_user_without_an_authenticator_with_the_password_alone(
    org, settings: Settings
):
    settings.OTP_REQUIRED_ROLES = [Role.PROCUREMENT, Role.FINANCE, Role.ADMIN]
    client = Client()

    assert _password_step(client, "alice") == "/requests/"
    assert client.get("/requests/").status_code == 200
    assert client.get("/api/requests/").status_code == 200


def test_it_sends_a_mandatory_role_without_an_authenticator_to_enrolment(org, settings: Settings):
    settings.OTP_REQUIRED_ROLES = [Role.PROCUREMENT, Role.FINANCE, Role.ADMIN]
    client = Client()
    _password_step(client, "pat")

    page = client.get("/requests/")
    assert page.status_code == 302
    assert page["Location"] == "/accounts/security/"
    assert client.get("/sourcing/").status_code == 302
    api = client.get("/api/requests/")
    assert api.status_code == 403
    assert api.json()["code"] == "two_factor_required"
    security = client.get("/accounts/security/")
    assert security.status_code == 200
    assert "Your role requires two-factor authentication" in security.content.decode()

    client.post("/accounts/security/enrol/")
    device = TOTPDevice.objects.get(user=org.procurement)
    client.post("/accounts/security/confirm/", {"otp": code_for(device)})

    assert client.get("/requests/").status_code == 200
    # Logging out was possible all along.
    assert client.post("/accounts/logout/").status_code == 302


def test_it_asks_a_mandatory_role_with_an_authenticator_for_the_code(org, settings: Settings):
    settings.OTP_REQUIRED_ROLES = [Role.FINANCE]
    device = authenticator_for(org.finance)
    client = Client()
    location = _password_step(client, "fiona")
    assert location.startswith("/accounts/login/code/")

    client.post(location, {"otp": code_for(device)})

    assert client.get("/requests/").status_code == 200


def test_it_signs_out_a_session_that_skipped_the_code(org):
    # E.g. a session opened by a login form that does not ask for codes.
    authenticator_for(org.requester)
    client = org.client_for(org.requester)

    response = client.get("/requests/")

    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/requests/"
    assert client.get("/accounts/security/").status_code == 302


def test_it_sends_the_admin_login_through_the_code_step(org):
    response = Client().get("/admin/login/?next=/admin/")

    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/admin/"


def test_it_turns_two_factor_off_only_with_a_current_code(org):
    device = authenticator_for(org.requester)
    client = Client()
    _password_step(client, "alice")
    client.post("/accounts/login/code/", {"otp": code_for(device)})

    refused = client.post("/accounts/security/remove/", {"otp": wrong_code(device)})
    assert refused.status_code == 400
    assert TOTPDevice.objects.filter(user=org.requester).exists()

    device.refresh_from_db()
    device.throttle_reset()
    removed = client.post("/accounts/security/remove/", {"otp": code_for(device, steps_ahead=1)})

    assert removed.status_code == 302
    assert not TOTPDevice.objects.filter(user=org.requester).exists()
    assert AuditEntry.objects.filter(
        object_id=org.requester.pk, action="two_factor_removed"
    ).exists()
    # The password alone signs her in again.
    client.post("/accounts/logout/")
    assert _password_step(Client(), "alice") == "/requests/"


# --- The API token ---------------------------------------------------------------------


def _token(client: Client, username: str, **extra: str):
    return client.post(
        "/api/auth/token/", {"username": username, "password": DEMO_PASSWORD, **extra}
    )


def test_it_gives_a_token_to_a_user_with_an_authenticator_only_with_a_code(org):
    device = authenticator_for(org.requester)
    client = Client()

    missing = _token(client, "alice")
    assert missing.status_code == 400
    assert missing.json()["code"] == "otp_required"
    assert "otp" in missing.json()["errors"]

    wrong = _token(client, "alice", otp=wrong_code(device))
    assert wrong.status_code == 400
    assert "That code is wrong or has expired" in wrong.json()["detail"]
    assert not Token.objects.exists()

    device.refresh_from_db()
    device.throttle_reset()
    right = _token(client, "alice", otp=code_for(device))
    assert right.status_code == 200
    token = right.json()["token"]
    assert (
        client.get("/api/requests/", headers={"Authorization": f"Token {token}"}).status_code == 200
    )


def test_it_gives_no_token_to_a_mandatory_role_without_an_authenticator(org, settings: Settings):
    old_token = Token.objects.create(user=org.procurement)
    settings.OTP_REQUIRED_ROLES = [Role.PROCUREMENT]

    refused = _token(Client(), "pat")
    assert refused.status_code == 403
    assert refused.json()["code"] == "two_factor_required"

    # A token from before the rule stops working until two-factor is set up.
    call = Client().get("/api/requests/", headers={"Authorization": f"Token {old_token.key}"})
    assert call.status_code == 403
    assert "two-factor" in call.json()["detail"]


def test_it_revokes_the_api_token_when_two_factor_is_turned_on(org):
    old_token = Token.objects.create(user=org.requester)
    client = org.client_for(org.requester)
    client.post("/accounts/security/enrol/")
    device = TOTPDevice.objects.get(user=org.requester)

    client.post("/accounts/security/confirm/", {"otp": code_for(device)})

    assert not Token.objects.filter(key=old_token.key).exists()
    call = Client().get("/api/requests/", headers={"Authorization": f"Token {old_token.key}"})
    assert call.status_code == 403


def test_it_knows_every_role_the_setting_may_name():
    assert set(django_settings.ROLE_NAMES) == set(Role.values)


def test_it_refuses_to_start_with_an_unknown_role_in_the_setting(tmp_path):
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("DEBUG", "DATABASE_URL")},
        "VAR_DIR": str(tmp_path / "var"),
        "SECRET_KEY": "settings-test-" + "k" * 50,
        "OTP_REQUIRED_ROLES": "procurement,purchasing",
    }

    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=django_settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode != 0
    assert "OTP_REQUIRED_ROLES: 'purchasing' is not a role" in result.stderr
