"""The "approval needed" email: the summary, and the approver's own Approve and Reject links in
both its text and its HTML part."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.core import mail
from django.test import Client

from approvals.models import ApprovalStep
from approvals.services import approval_step_decide
from approvals.tests.helpers import FINANCE_ABOVE_5K, LINE_MANAGER, policy, submitted
from approvals.tokens import DecisionToken, decision_token_read
from procurement.models import Role
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

LINK = re.compile(r"http://testserver/approvals/email/([^/\s\"]+)/\?decision=(approve|reject)")


def parts(message: mail.EmailMultiAlternatives) -> tuple[str, str]:
    [(html, mimetype)] = message.alternatives
    assert mimetype == "text/html"
    return str(message.body), str(html)


@pytest.fixture(autouse=True)
def _site(settings):
    settings.SITE_URL = "http://testserver"


def test_it_carries_both_links_in_both_parts(org, django_capture_on_commit_callbacks, mailoutbox):
    policy(LINE_MANAGER)
    with django_capture_on_commit_callbacks(execute=True):
        request = submitted(org, title="Standing desks", justification="Back pain.")

    [message] = mailoutbox
    assert message.to == ["mark@example.com"]
    text, html = parts(message)
    step = ApprovalStep.objects.get(request=request)
    for body in (text, html):
        links = LINK.findall(body)
        assert [decision for _, decision in links] == ["approve", "reject"]
        for token, _ in links:
            assert decision_token_read(token) == DecisionToken(
                step_id=step.pk, approver_id=org.manager.pk, request_version=request.version
            )
        assert "Alice Asker" in body
        assert "Standing desks" in body
        assert "Back pain." in body
        assert "Laptop model 1" in body
        assert "2,500.00 GBP" in body
        assert "Nobody has approved it yet." in body
        assert "work for 72 hours" in body
        assert f"http://testserver/requests/{request.pk}/" in body
    assert re.search(
        r'<a href="http://testserver/approvals/email/[^"]+\?decision=approve"[^>]*>Approve</a>',
        html,
    )
    assert re.search(
        r'<a href="http://testserver/approvals/email/[^"]+\?decision=reject"[^>]*>Reject</a>', html
    )


def test_it_gives_each_approver_links_of_their_own(
    org, django_capture_on_commit_callbacks, mailoutbox
):
    frank = UserFactory.create(username="frank", roles=[Role.FINANCE])
    policy({"name": "Finance", "approver_kind": "role", "approver_role": "finance", "mode": "any"})
    with django_capture_on_commit_callbacks(execute=True):
        submitted(org)

    tokens = {
        message.to[0]: {decision_token_read(t).approver_id for t, _ in LINK.findall(message.body)}
        for message in mailoutbox
    }
    assert tokens == {"fiona@example.com": {org.finance.pk}, "frank@example.com": {frank.pk}}


def test_it_says_what_was_approved_so_far(org, django_capture_on_commit_callbacks, mailoutbox):
    policy(LINE_MANAGER, FINANCE_ABOVE_5K)
    request = submitted(org, total_lines=3)
    first = ApprovalStep.objects.get(request=request, name="Line manager")
    with django_capture_on_commit_callbacks(execute=True):
        approval_step_decide(step_id=first.pk, by=org.manager, action="approve")

    [message] = [m for m in mailoutbox if m.to == ["fiona@example.com"]]
    text, html = parts(message)
    assert "Line manager by Mark Manager" in text
    assert "Line manager by Mark Manager" in html


def test_it_sends_no_links_above_the_sign_in_amount(
    org, settings, django_capture_on_commit_callbacks, mailoutbox
):
    settings.APPROVAL_EMAIL_SIGNIN_ABOVE = Decimal("1000")
    policy(LINE_MANAGER)
    with django_capture_on_commit_callbacks(execute=True):
        request = submitted(org)

    [message] = mailoutbox
    text, html = parts(message)
    for body in (text, html):
        assert "/approvals/email/" not in body
        assert f"http://testserver/requests/{request.pk}/" in body
        assert "decided signed in" in body


def test_its_links_open_the_confirmation_page(org, django_capture_on_commit_callbacks, mailoutbox):
    policy(LINE_MANAGER)
    with django_capture_on_commit_callbacks(execute=True):
        request = submitted(org)

    [(token, _), _] = LINK.findall(mailoutbox[0].body)
    page = Client().get(f"/approvals/email/{token}/?decision=approve")

    assert page.status_code == 200
    assert f"Approve or reject {request.reference}?" in page.content.decode()
