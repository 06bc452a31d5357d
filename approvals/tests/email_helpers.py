"""What the email-link tests share: a step waiting for mark, its link, and a fingerprint of the
database that a refused link must leave exactly as it was."""

from __future__ import annotations

import re
from typing import Any

from django.conf import settings
from django.test import Client

from approvals.models import ApprovalStep, StepApprover
from approvals.services import approval_step_decide
from approvals.tests.helpers import FINANCE_ABOVE_5K, LINE_MANAGER, policy, submitted
from approvals.tokens import decision_url
from procurement.models import AuditEntry, SentEmail
from requests.models import PurchaseRequest


def waiting_for_mark(org: Any, **fields: Any) -> ApprovalStep:
    """The one step of Alice's request, submitted under a line-manager policy: pending for mark."""
    policy(LINE_MANAGER)
    step = ApprovalStep.objects.select_related("request").get(request=submitted(org, **fields))
    assert step.state == "pending"
    return step


def waiting_for_finance(org: Any) -> ApprovalStep:
    """The Finance step of Alice's 7,500 GBP request, open once Mark approved its first step
    (a two-step route: the page then shows what was approved so far)."""
    policy(LINE_MANAGER, FINANCE_ABOVE_5K)
    request = submitted(org, total_lines=3)
    first = ApprovalStep.objects.get(request=request, name="Line manager")
    approval_step_decide(step_id=first.pk, by=org.manager, action="approve")
    step = ApprovalStep.objects.select_related("request").get(request=request, name="Finance")
    assert step.state == "pending"
    return step


def link_path(
    step: ApprovalStep, approver: Any, *, version: int | None = None, decision: str | None = None
) -> str:
    """The path (and query) of the link emailed to `approver` for `step`."""
    url = decision_url(
        step_id=step.pk,
        approver_id=approver.pk,
        request_version=step.request.version if version is None else version,
        decision=decision,
    )
    assert url.startswith(settings.SITE_URL)
    return url.removeprefix(settings.SITE_URL)


def token_of(path: str) -> str:
    match = re.fullmatch(r"/approvals/email/([^/]+)/(\?.*)?", path)
    assert match, path
    return match[1]


def fingerprint() -> tuple[Any, ...]:
    """Everything a decision would touch: request states and versions, steps, answers, audit, mail."""
    return (
        list(PurchaseRequest.objects.order_by("pk").values_list("pk", "state", "version")),
        list(
            ApprovalStep.objects.order_by("pk").values_list(
                "pk", "state", "decided_by", "decided_at"
            )
        ),
        list(
            StepApprover.objects.order_by("pk").values_list("pk", "approver", "decision", "comment")
        ),
        AuditEntry.objects.count(),
        SentEmail.objects.count(),
    )


def csrf_token_from(client: Client, path: str) -> str:
    """GET the page as a browser does and read the form's CSRF token from it."""
    page = client.get(path)
    assert page.status_code == 200, page.content.decode()
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode())
    assert match
    return match[1]
