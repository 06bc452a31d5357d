"""/healthz tells a load balancer or compose whether the database and the broker answer."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from django.test import Client

from procurement.celery import app as celery_app


def _unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def unreachable_broker() -> Iterator[None]:
    previous = celery_app.conf.broker_url
    # healthz opens a fresh broker connection per call, so changing the URL is enough.
    celery_app.conf.update(broker_url=f"redis://127.0.0.1:{_unused_port()}/0")
    yield
    celery_app.conf.update(broker_url=previous)


@pytest.mark.django_db
def test_it_is_healthy_when_the_database_and_broker_answer(client: Client) -> None:
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"] == "ok"
    assert body["broker"] == "ok"


@pytest.mark.django_db
def test_it_needs_no_login(client: Client) -> None:
    response = client.get("/healthz")

    assert response.status_code == 200  # not a redirect to the login page


@pytest.mark.django_db
@pytest.mark.usefixtures("unreachable_broker")
def test_it_is_unhealthy_when_the_broker_is_unreachable(client: Client) -> None:
    response = client.get("/healthz")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "error"
    assert body["database"] == "ok"
    assert body["broker"].startswith("error: ")


@pytest.mark.django_db
def test_it_refuses_to_change_anything(client: Client) -> None:
    assert client.post("/healthz").status_code == 405
