"""A POST to a path the API does not have answers a JSON 404, also for a browser session.

Found by schemathesis (fuzz/run.py): a mistyped id (`/api/requests/abc/submit/`) fell to the
catch-all view, whose CSRF check turned a session's POST into Django's HTML CSRF page, or
a 500 when that page could not be rendered.
"""

from __future__ import annotations

from django.test import Client


def test_it_answers_a_post_to_an_unknown_api_path_with_a_json_404(org):
    browser = Client(enforce_csrf_checks=True)  # as a real browser session is checked
    browser.force_login(org.requester)

    response = browser.post("/api/requests/abc/submit/", {}, content_type="application/json")

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json()["code"] == "not_found"


def test_it_still_checks_csrf_on_real_api_endpoints(org):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(org.requester)

    response = browser.post("/api/requests/", {}, content_type="application/json")

    assert response.status_code == 403
