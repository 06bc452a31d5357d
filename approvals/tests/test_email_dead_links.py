"""A dead link (tampered, expired, used, outdated...) shows "no longer valid" and changes nothing."""

from __future__ import annotations

import time
from typing import Any
from unittest import mock

import pytest
from django.core import signing
from django.test import Client

from approvals.models import ApprovalStep, StepApprover
from approvals.tests.email_helpers import fingerprint, link_path, token_of, waiting_for_mark
from approvals.tokens import SALT
from requests.models import PurchaseRequest
from requests.services import purchase_request_transition

pytestmark = pytest.mark.django_db

HOUR = 3600


def assert_dead(path: str, *, status: int, reason: str, reference: str | None) -> None:
    """GET shows the "no longer valid" page; a POST of the form changes nothing either."""
    before = fingerprint()

    for response in (
        Client().get(path),
        Client().head(path),
        Client().post(path, {"decision": "approve"}),
        Client().post(path, {"decision": "reject", "comment": "No."}),
    ):
        assert response.status_code == status
        if response.request["REQUEST_METHOD"] == "HEAD":
            continue
        html = response.content.decode()
        assert "This link is no longer valid" in html
        assert reason in html
        assert "Nothing was decided with it." in html
        if reference:
            assert f"Sign in and open {reference}" in html
            assert "/accounts/login/?next=%2Frequests%2F" in html
        else:
            assert (
                '<a href="/accounts/login/?next=%2Frequests%2F" role="button">Sign in</a>' in html
            )

    assert fingerprint() == before


def with_payload(token: str, **changes: Any) -> str:
    """The token's signature with another payload, as someone editing the link would make it."""
    timestamp, signature = token.rsplit(":", 2)[1:]
    data = signing.loads(token, salt=SALT)
    forged = signing.dumps({**data, **changes}, salt=SALT, compress=True)
    return forged.rsplit(":", 2)[0] + f":{timestamp}:{signature}"


def test_it_refuses_a_tampered_token(org):
    step = waiting_for_mark(org)
    token = token_of(link_path(step, org.manager))
    flipped = token[:-1] + ("A" if token[-1] != "A" else "B")

    assert_dead(
        f"/approvals/email/{flipped}/", status=400, reason="not one we sent", reference=None
    )


@pytest.mark.parametrize(
    "token",
    [
        "nonsense",
        "a:b:c",
        ".eJyrVspMUbIy1FFKVLIyMTAwsDQ0MNNRSlOyMjI2MDU3NDE0MDQxs7BQSskvzs3PUbIqKSpNrQUA:1:2",
    ],
)
def test_it_refuses_a_malformed_token(org, token):
    waiting_for_mark(org)

    assert_dead(f"/approvals/email/{token}/", status=400, reason="not one we sent", reference=None)


def test_it_refuses_a_token_pointed_at_another_step(org):
    # Editing the step id inside the token breaks its signature.
    step = waiting_for_mark(org)
    other_step = waiting_for_mark(org)
    token = token_of(link_path(step, org.manager))

    assert_dead(
        f"/approvals/email/{with_payload(token, s=other_step.pk)}/",
        status=400,
        reason="not one we sent",
        reference=None,
    )
    assert ApprovalStep.objects.get(pk=other_step.pk).state == "pending"


def test_it_refuses_an_expired_token_and_still_points_to_the_request(org):
    step = waiting_for_mark(org)
    request = step.request
    with mock.patch("django.core.signing.time.time", return_value=time.time() - 73 * HOUR):
        path = link_path(step, org.manager)

    assert_dead(path, status=410, reason="work for 72 hours", reference=request.reference)


def test_it_honours_a_shorter_configured_lifetime(org, settings):
    step = waiting_for_mark(org)
    request = step.request
    with mock.patch("django.core.signing.time.time", return_value=time.time() - 2 * HOUR):
        path = link_path(step, org.manager)
    assert Client().get(path).status_code == 200  # two hours is well within 72

    settings.APPROVAL_LINK_MAX_AGE_HOURS = 1

    assert_dead(path, status=410, reason="work for 1 hours", reference=request.reference)


def test_it_refuses_a_token_reused_after_the_decision(org):
    step = waiting_for_mark(org)
    request = step.request
    path = link_path(step, org.manager)
    assert Client().post(path, {"decision": "approve"}).status_code == 200

    assert_dead(
        path,
        status=410,
        reason="was already decided by Mark Manager (approved)",
        reference=request.reference,
    )


def test_it_refuses_a_token_after_the_request_changed(org):
    # The version names what the approver was shown; an edited request needs a fresh look.
    step = waiting_for_mark(org)
    request = step.request
    path = link_path(step, org.manager)
    PurchaseRequest.objects.filter(pk=request.pk).update(version=request.version + 1)

    assert_dead(
        path,
        status=410,
        reason="has changed since this email was sent",
        reference=request.reference,
    )


def test_it_refuses_a_token_once_the_request_left_approval(org):
    step = waiting_for_mark(org)
    request = step.request
    path = link_path(step, org.manager)
    purchase_request_transition(request_id=request.pk, by=org.requester, action="cancel")

    assert_dead(path, status=410, reason="is cancelled", reference=request.reference)


def test_it_refuses_a_token_of_an_approver_no_longer_asked(org):
    # As after a reassignment: the step now waits for hana, not for mark.
    step = waiting_for_mark(org)
    request = step.request
    path = link_path(step, org.manager)
    StepApprover.objects.filter(step=step).update(approver=org.head)

    assert_dead(path, status=410, reason="no longer, asked to decide", reference=request.reference)


def test_it_refuses_a_token_of_a_deactivated_account(org):
    step = waiting_for_mark(org)
    request = step.request
    path = link_path(step, org.manager)
    org.manager.is_active = False
    org.manager.save()

    assert_dead(path, status=410, reason="no longer active", reference=request.reference)


def test_it_refuses_a_token_whose_step_is_gone(org):
    step = waiting_for_mark(org)
    path = link_path(step, org.manager)
    ApprovalStep.objects.filter(pk=step.pk).delete()

    assert_dead(path, status=410, reason="no longer exists", reference=None)
