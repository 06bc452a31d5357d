"""An oversized body is refused before the CSRF check or a view would read and spool it."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def test_it_refuses_an_oversized_upload_to_a_page_before_reading_it(client, settings):
    settings.REQUEST_MAX_BYTES = 2 * 1024 * 1024

    # Not signed in, no CSRF token: the size alone decides, before anything reads the body.
    response = client.post(
        "/accounts/login/",
        data=b"x" * 10,
        content_type="text/plain",
        CONTENT_LENGTH=str(3 * 1024 * 1024),
    )

    assert response.status_code == 413
    assert "larger than the server accepts (2 MB)" in response.content.decode()


def test_it_answers_the_api_with_the_json_error_shape(client, settings):
    settings.REQUEST_MAX_BYTES = 2 * 1024 * 1024

    response = client.post(
        "/api/vendors/",
        data=b"{}",
        content_type="application/json",
        CONTENT_LENGTH=str(50 * 1024 * 1024),
    )

    assert response.status_code == 413
    assert response.json() == {
        "code": "too_large",
        "detail": "The request is larger than the server accepts (2 MB).",
        "errors": {},
    }


def test_it_lets_a_body_within_the_limit_through(client, settings):
    settings.REQUEST_MAX_BYTES = 2 * 1024 * 1024

    response = client.post("/accounts/login/", {"username": "nobody", "password": "x"})

    assert response.status_code == 200  # the login form again, with its error


def test_it_refuses_a_content_length_that_is_not_a_number(client):
    response = client.post(
        "/api/vendors/", data=b"{}", content_type="application/json", CONTENT_LENGTH="lots"
    )

    assert response.status_code == 400
    assert response.json()["detail"] == "The request's Content-Length is not a number."
