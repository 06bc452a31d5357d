"""/outbox/ shows staff the mail the platform wrote to disk, and exists only with DEBUG on."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.urls import clear_url_caches

import procurement.urls
from requests.emails import send_mention_emails
from requests.services import comment_create
from tests.factories import PurchaseRequestFactory


def _reload_urls() -> None:
    # procurement/urls.py adds the outbox routes only when DEBUG is on at import.
    importlib.reload(procurement.urls)
    clear_url_caches()


@pytest.fixture
def debug_on(settings) -> Iterator[None]:
    previous = django_settings.DEBUG
    settings.DEBUG = True
    _reload_urls()
    yield
    settings.DEBUG = previous
    _reload_urls()


@pytest.fixture
def sent_mention(org, settings) -> Path:
    """A mention email written by the embedded backend; returns its .eml file."""
    settings.EMAIL_BACKEND = "procurement.mail.EmlOutboxBackend"
    request = PurchaseRequestFactory.create(
        requester=org.requester, department=org.department, cost_centre=org.cost_centre
    )
    comment = comment_create(
        request_id=request.pk, by=org.requester, body="@mark see the second quote"
    )
    assert send_mention_emails(comment_id=comment.pk) == 1
    [eml] = Path(settings.EMAIL_OUTBOX_DIR).glob("*.eml")
    return eml


@pytest.mark.usefixtures("debug_on")
def test_it_lists_a_sent_message_and_shows_its_body(org, sent_mention: Path) -> None:
    client = org.client_for(org.admin)

    listing = client.get("/outbox/")

    assert listing.status_code == 200
    page = listing.content.decode()
    assert "mark@example.com" in page
    assert "Alice Asker mentioned you on PR-" in page
    assert f"/outbox/{sent_mention.stem}/" in page

    message = client.get(f"/outbox/{sent_mention.stem}/")

    assert message.status_code == 200
    assert "see the second quote" in message.content.decode()


@pytest.mark.usefixtures("debug_on")
def test_it_is_for_staff_only(org, sent_mention: Path) -> None:
    client = org.client_for(org.requester)

    for url in ("/outbox/", f"/outbox/{sent_mention.stem}/"):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/admin/login/")


@pytest.mark.usefixtures("debug_on")
def test_it_serves_nothing_outside_the_outbox_folder(org, sent_mention: Path) -> None:
    outside = sent_mention.parent.parent / "outside.eml"
    outside.write_bytes(sent_mention.read_bytes())
    client = org.client_for(org.admin)

    assert client.get("/outbox/..%2Foutside/").status_code == 404
    assert client.get("/outbox/no-such-message/").status_code == 404


def test_it_does_not_exist_when_debug_is_off(org, sent_mention: Path) -> None:
    assert django_settings.DEBUG is False
    client = org.client_for(org.admin)

    assert client.get("/outbox/").status_code == 404
    assert client.get(f"/outbox/{sent_mention.stem}/").status_code == 404
