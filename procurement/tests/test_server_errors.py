"""An unexpected error is logged and answered in the shape the client understands."""

from __future__ import annotations

import json

from django.test import RequestFactory

from procurement.views import server_error


def test_it_answers_api_clients_with_a_json_500():
    response = server_error(RequestFactory().get("/api/requests/"))

    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    assert json.loads(response.content)["code"] == "server_error"


def test_it_shows_people_the_500_page():
    response = server_error(RequestFactory().get("/requests/"))

    assert response.status_code == 500
    assert b"<html" in response.content.lower()
