"""A real `celery -A procurement worker` process takes a queued task and sends its email.

Unit tests run tasks eagerly, in-process; this one proves the wiring they skip:
the task is published on commit to a real broker of the test's own (a throwaway
redis-server when REDIS_URL is set, as in CI, else kombu's filesystem transport;
tests/processes.py), a separate worker process picks it up, reads the committed
rows from the same test database and writes the .eml.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from requests.services import comment_create
from tests.factories import PurchaseRequestFactory
from tests.processes import first_email, private_broker, real_worker


@pytest.mark.integration
@pytest.mark.django_db(
    transaction=True, serialized_rollback=True
)  # committed rows, so that the worker sees them
def test_it_emails_a_mentioned_user_from_a_real_worker(org, tmp_path: Path) -> None:
    request = PurchaseRequestFactory.create(
        requester=org.requester,
        department=org.department,
        cost_centre=org.cost_centre,
    )
    var_dir = tmp_path / "worker-var"

    with private_broker(var_dir) as broker, real_worker(var_dir=var_dir, broker=broker) as worker:
        # No surrounding transaction here: the task is published when the comment commits.
        comment_create(
            request_id=request.pk, by=org.requester, body="@mark could you approve this?"
        )
        message = first_email(var_dir / "mail", worker)

    assert message["To"] == "mark@example.com"
    assert (
        message["Subject"] == f"Alice Asker mentioned you on {request.reference}: {request.title}"
    )
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    assert "could you approve this?" in body.get_content()
