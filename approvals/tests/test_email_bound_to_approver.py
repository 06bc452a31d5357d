"""A link decides one step, only as the approver it was sent to: it cannot be used as anyone else."""

from __future__ import annotations

import pytest
from django.core import signing
from django.test import Client

from approvals.models import StepApprover
from approvals.tests.email_helpers import fingerprint, link_path, token_of, waiting_for_mark
from approvals.tokens import SALT
from procurement.models import AuditEntry
from requests.models import PurchaseRequest

pytestmark = pytest.mark.django_db


def test_it_decides_as_the_approver_it_names_whoever_holds_it(org):
    # No password: holding mark's link is what lets its holder decide, and only as mark.
    step = waiting_for_mark(org)
    request = step.request

    Client().post(link_path(step, org.manager), {"decision": "approve"})

    decision = AuditEntry.objects.get(object_id=request.pk, action="approved_step")
    assert decision.actor == org.manager
    assert StepApprover.objects.get(step=step).approver == org.manager


def test_it_refuses_someone_signed_in_as_another_person(org):
    step = waiting_for_mark(org)
    path = link_path(step, org.manager)
    hana = org.client_for(org.head)
    before = fingerprint()

    shown = hana.get(path)
    posted = hana.post(path, {"decision": "approve"})

    assert shown.status_code == posted.status_code == 403
    assert (
        "It was sent to Mark Manager, and you are signed in as Hana Head" in posted.content.decode()
    )
    assert fingerprint() == before


def test_it_lets_the_approver_use_the_link_while_signed_in(org):
    step = waiting_for_mark(org)
    request = step.request

    page = org.client_for(org.manager).post(link_path(step, org.manager), {"decision": "approve"})

    assert page.status_code == 200
    assert PurchaseRequest.objects.get(pk=request.pk).state == "approved"


def test_it_refuses_a_link_rewritten_for_another_approver(org):
    step = waiting_for_mark(org)
    request = step.request
    token = token_of(link_path(step, org.manager))
    timestamp, signature = token.rsplit(":", 2)[1:]
    payload = signing.dumps(
        {"s": step.pk, "a": org.head.pk, "v": request.version}, salt=SALT, compress=True
    ).rsplit(":", 2)[0]
    before = fingerprint()

    page = Client().post(
        f"/approvals/email/{payload}:{timestamp}:{signature}/", {"decision": "approve"}
    )

    assert page.status_code == 400
    assert fingerprint() == before


@pytest.mark.parametrize("who", ["head", "requester", "outsider"])
def test_it_refuses_a_genuine_link_for_someone_not_asked(org, who):
    # Even a link we signed for them decides nothing: they are not approvers of the step,
    # and the requester never approves their own request.
    step = waiting_for_mark(org)
    path = link_path(step, getattr(org, who))
    before = fingerprint()

    shown = Client().get(path)
    posted = Client().post(path, {"decision": "approve"})

    assert shown.status_code == posted.status_code == 410
    assert "no longer, asked to decide" in posted.content.decode()
    assert fingerprint() == before
