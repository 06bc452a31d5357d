"""Logging in and out through the pages, and the navigation every page carries."""

from __future__ import annotations

import pytest
from django.test import Client

from requests.tests.page_helpers import page, text

pytestmark = pytest.mark.django_db


def test_it_shows_a_labelled_login_form(client):
    response = client.get("/accounts/login/?next=/requests/new/")

    assert response.status_code == 200
    content = page(response)
    assert '<label for="id_username">Username' in content
    assert '<label for="id_password">Password' in content
    assert 'name="next" value="/requests/new/"' in content
    assert "csrfmiddlewaretoken" in content


def test_it_logs_in_and_goes_to_my_requests(org, password):
    client = Client(enforce_csrf_checks=False)

    response = client.post("/accounts/login/", {"username": "alice", "password": password})

    assert response.status_code == 302
    assert response["Location"] == "/requests/"
    assert "Alice Asker" in text(client.get("/requests/"))


def test_it_says_when_the_password_is_wrong(org):
    response = Client().post("/accounts/login/", {"username": "alice", "password": "wrong"})

    assert response.status_code == 200
    assert "Please enter a correct username and password." in text(response)


def test_it_shows_the_navigation_with_my_name_and_a_logout_button(org):
    content = page(org.client_for(org.requester).get("/requests/"))

    assert '<a href="/requests/" aria-current="page">My requests</a>' in content
    assert '<a href="/requests/new/">New request</a>' in content
    assert "Alice Asker" in content
    logout = content.split('action="/accounts/logout/"', 1)
    assert len(logout) == 2
    assert logout[0].rstrip().endswith('method="post"')
    assert "csrfmiddlewaretoken" in logout[1].split("</form>", 1)[0]


def test_it_logs_out_on_post(org):
    client = org.client_for(org.requester)

    response = client.post("/accounts/logout/")

    assert response.status_code == 302
    assert client.get("/requests/").status_code == 302


def test_it_sends_the_csrf_token_with_htmx_requests(org):
    content = page(org.client_for(org.requester).get("/requests/new/"))

    assert '<body hx-headers=\'{"X-CSRFToken": "' in content
    assert "vendor/htmx/htmx.min.js" in content
    assert "vendor/pico/pico.min.css" in content
