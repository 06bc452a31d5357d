"""One function per email; templates under templates/emails/<name>/."""

from __future__ import annotations

from django.conf import settings
from django.urls import reverse

from approvals.models import ApprovalStep, Decision, StepState
from approvals.selectors import approval_route
from procurement.services import email_send_once


def send_step_pending_emails(*, step_id: int) -> int:
    """Ask each approver of a newly pending step to decide, once per approver and step."""
    step = ApprovalStep.objects.select_related("request", "request__requester").get(pk=step_id)
    if step.state != StepState.PENDING:
        return 0  # decided before the worker got here
    request = step.request
    done = [s for s in approval_route(request=request) if s.state == StepState.APPROVED]
    sent = 0
    for assignment in step.approvers.select_related("approver").filter(decision=Decision.PENDING):
        person = assignment.approver
        if not person.email:
            continue
        sent += email_send_once(
            key=f"step-pending:{step.pk}:{person.pk}",
            to=person.email,
            template="approval_request",
            context={
                "recipient": person,
                "step": step,
                "request": request,
                "lines": list(request.line_items.all()),
                "approved_so_far": done,
                "url": settings.SITE_URL + reverse("requests:detail", args=[request.pk]),
            },
        )
    return sent
