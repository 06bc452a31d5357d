"""Submitting a request makes a real Celery worker email its approver; a rolled-back
submission queues nothing.

The worker test uses the broker and worker plumbing of tests/processes.py: a throwaway Redis
when REDIS_URL is set (as in CI), else kombu's filesystem transport in a folder of its own.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from django.db import transaction

from approvals.models import ApprovalStep
from approvals.tests.helpers import LINE_MANAGER, policy
from procurement.audit_chain import audit_chain_seal_after_commit
from requests.models import PurchaseRequest
from requests.services import purchase_request_transition
from tests.factories import PurchaseRequestFactory
from tests.processes import first_email, private_broker, real_worker


@pytest.mark.integration
@pytest.mark.django_db(
    transaction=True, serialized_rollback=True
)  # committed rows, so that the worker sees them
def test_it_emails_the_approver_from_a_real_worker(org, tmp_path: Path) -> None:
    policy(LINE_MANAGER)
    draft = PurchaseRequestFactory.create(
        requester=org.requester,
        department=org.department,
        cost_centre=org.cost_centre,
    )
    var_dir = tmp_path / "worker-var"

    with private_broker(var_dir) as broker, real_worker(var_dir=var_dir, broker=broker) as worker:
        # No surrounding transaction: the task is published when the submission commits.
        request = purchase_request_transition(
            request_id=draft.pk, by=org.requester, action="submit"
        )
        message = first_email(var_dir / "mail", worker)

    assert message["To"] == "mark@example.com"
    assert message["Subject"] == (
        f"Approval needed: {request.reference} {request.title} ({request.total:,.2f} GBP)"
    )
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert text is not None
    assert html is not None
    assert "/approvals/email/" in text.get_content()
    assert "Approve" in html.get_content()


@pytest.mark.django_db
def test_it_queues_nothing_when_the_submission_rolls_back(
    org, django_capture_on_commit_callbacks, mailoutbox
) -> None:
    policy(LINE_MANAGER)
    draft = PurchaseRequestFactory.create(
        requester=org.requester, department=org.department, cost_centre=org.cost_centre
    )

    def submit_then_fail() -> None:
        with transaction.atomic():
            purchase_request_transition(request_id=draft.pk, by=org.requester, action="submit")
            assert ApprovalStep.objects.filter(request=draft).exists()
            raise RuntimeError("something later in the same transaction failed")

    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError, match="later in the same transaction"),
    ):
        submit_then_fail()

    assert callbacks == []
    assert mailoutbox == []
    assert PurchaseRequest.objects.get(pk=draft.pk).state == "draft"
    assert not ApprovalStep.objects.filter(request=draft).exists()

    # The same submission, committed, does queue the approver's email.
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        purchase_request_transition(request_id=draft.pk, by=org.requester, action="submit")
    # One task queued, besides the audit chain's own chaining after the commit.
    assert len([queued for queued in callbacks if queued is not audit_chain_seal_after_commit]) == 1
    assert [m.to for m in mailoutbox] == [["mark@example.com"]]
