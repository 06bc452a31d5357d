"""Every page carries a strict Content-Security-Policy, and no template needs it loosened.

The browser side (no "Refused to ..." on the main pages) is
tests/browser/test_it_obeys_the_content_security_policy.py.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django.urls import clear_url_caches

import procurement.urls

pytestmark = pytest.mark.django_db

EXPECTED = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)
TEMPLATES = Path(settings.BASE_DIR) / "templates"


def directives(header: str) -> dict[str, list[str]]:
    parsed = {}
    for part in header.split(";"):
        name, *sources = part.split()
        parsed[name] = sources
    return parsed


def test_it_sends_the_policy_on_the_login_page():
    response = Client().get("/accounts/login/")

    assert response.status_code == 200
    assert response["Content-Security-Policy"] == EXPECTED


@pytest.mark.parametrize(
    "path",
    ["/requests/", "/requests/new/", "/vendors/", "/approvals/", "/planning/needs/", "/nowhere/"],
)
def test_it_sends_the_policy_on_signed_in_pages_and_errors(org, path):
    response = org.client_for(org.requester).get(path)

    assert response["Content-Security-Policy"] == EXPECTED


def test_it_lets_no_inline_or_foreign_script_or_style_run(client):
    policy = directives(client.get("/accounts/login/")["Content-Security-Policy"])

    assert policy["script-src"] == ["'self'"]
    assert policy["style-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]


def test_it_keeps_the_sandbox_policy_of_a_downloaded_file(org):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from requests.services import purchase_request_add_attachment
    from requests.tests.helpers import draft_for
    from requests.tests.page_helpers import PDF_BYTES

    draft = draft_for(org)
    attachment = purchase_request_add_attachment(
        request_id=draft.pk,
        by=org.requester,
        upload=SimpleUploadedFile("quote.pdf", PDF_BYTES, content_type="application/pdf"),
    )

    response = org.client_for(org.requester).get(
        f"/requests/{draft.pk}/attachments/{attachment.pk}/"
    )

    assert response.status_code == 200
    assert response["Content-Security-Policy"] == "default-src 'none'; sandbox"


def test_it_serves_the_api_docs_with_their_script_from_our_own_origin(org):
    client = org.client_for(org.requester)

    page = client.get("/api/docs/")
    script = client.get("/api/docs/?script=")

    assert page.status_code == 200
    assert page["Content-Security-Policy"] == EXPECTED
    html = page.content.decode()
    # Every <script> loads a file (the sidecar's bundle, then ?script); none is inline.
    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", html) == []
    assert 'src="/api/docs/?script=' in html
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")
    assert "SwaggerUIBundle" in script.content.decode()


@pytest.fixture
def outbox_routed(settings) -> Iterator[None]:
    # procurement/urls.py routes the outbox only when DEBUG is on at import.
    settings.DEBUG = True
    importlib.reload(procurement.urls)
    clear_url_caches()
    yield
    settings.DEBUG = False
    importlib.reload(procurement.urls)
    clear_url_caches()


@pytest.mark.usefixtures("outbox_routed")
def test_it_keeps_the_outboxs_email_styles_but_no_scripts(org, settings):
    outbox = Path(settings.EMAIL_OUTBOX_DIR)
    outbox.mkdir(parents=True, exist_ok=True)
    (outbox / "m1.eml").write_text(
        "Subject: Hello\nContent-Type: text/html\n\n<p style='color: red'>Hi</p>\n"
    )

    response = org.client_for(org.admin).get("/outbox/m1/")

    # The mail's HTML is shown in a sandboxed srcdoc frame, which inherits this policy.
    assert response.status_code == 200
    assert b"sandbox srcdoc=" in response.content
    policy = directives(response["Content-Security-Policy"])
    assert policy["style-src"] == ["'self'", "'unsafe-inline'"]
    assert policy["script-src"] == ["'self'"]


# What the policy refuses, written into a template. Emails are exempt: mail clients need inline
# styles, and mail is never served by this site (the outbox shows it in a sandboxed frame).
FORBIDDEN_IN_TEMPLATES = {
    "inline style attribute": re.compile(r"\sstyle\s*=", re.IGNORECASE),
    "<style> element": re.compile(r"<style[\s>]", re.IGNORECASE),
    "inline event handler": re.compile(r"\son[a-z]+\s*=\s*[\"']", re.IGNORECASE),
    "javascript: URL": re.compile(r"javascript:", re.IGNORECASE),
    # A <script> without src runs inline; a JSON data block (json_script) does not run.
    "inline <script>": re.compile(
        r"<script(?![^>]*\bsrc=)(?![^>]*type=[\"']application/(?:ld\+)?json)[^>]*>", re.IGNORECASE
    ),
    "htmx's evaluated attributes": re.compile(r"\shx-on[:-]|\shx-vars=|js:", re.IGNORECASE),
}


def test_it_keeps_inline_scripts_and_styles_out_of_the_templates():
    found = []
    for template in sorted(TEMPLATES.rglob("*.html")):
        if "emails" in template.relative_to(TEMPLATES).parts:
            continue
        text = template.read_text()
        for what, pattern in FORBIDDEN_IN_TEMPLATES.items():
            for match in pattern.finditer(text):
                line = text.count("\n", 0, match.start()) + 1
                found.append(f"{template.relative_to(TEMPLATES)}:{line}: {what}")

    assert found == []


def test_it_tells_htmx_not_to_inject_its_indicator_style():
    base = (TEMPLATES / "base.html").read_text()

    assert '<meta name="htmx-config"' in base
    assert '"includeIndicatorStyles": false' in base
    css = (Path(settings.BASE_DIR) / "static" / "css" / "app.css").read_text()
    assert ".htmx-request .htmx-indicator" in css
