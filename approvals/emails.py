"""One function per email; templates under templates/emails/<name>/."""

from __future__ import annotations

from django.conf import settings
from django.urls import reverse

from approvals import gates
from approvals.models import ApprovalStep, Decision, StepState
from approvals.selectors import approval_steps_approved
from approvals.tokens import decision_link_needs_signin, decision_links
from procurement.services import email_send_once


def send_step_pending_emails(*, step_id: int) -> int:
    """Ask each approver of a newly pending step to decide, once per approver and step.

    Each approver gets their own Approve and Reject links, bound to them, this step and
    the request's current version. Above APPROVAL_EMAIL_SIGNIN_ABOVE the email carries no
    such links, only the request's page, where deciding needs signing in.
    """
    step = ApprovalStep.objects.select_related("request", "request__requester").get(pk=step_id)
    if step.state != StepState.PENDING:
        return 0  # decided before the worker got here
    request = step.request
    done = approval_steps_approved(step=step)  # the step is open: of the latest round
    lines = list(request.line_items.all())
    request_url = settings.SITE_URL + reverse("requests:detail", args=[request.pk])
    needs_signin = decision_link_needs_signin(request=request)
    # The objective and the budget before and after this request, computed once per step.
    panels = gates.decision_panels(request)
    sent = 0
    for assignment in step.approvers.select_related("approver").filter(decision=Decision.PENDING):
        person = assignment.approver
        if not person.email:
            continue
        links = {}
        if not needs_signin:
            links = decision_links(
                step_id=step.pk, approver_id=person.pk, request_version=request.version
            )
        sent += email_send_once(
            key=f"step-pending:{step.pk}:{person.pk}",
            to=person.email,
            template="approval_request",
            context={
                "recipient": person,
                "assignment": assignment,
                "step": step,
                "request": request,
                "lines": lines,
                "approved_so_far": done,
                "decision_panels": panels,
                "url": request_url,
                "link_hours": settings.APPROVAL_LINK_MAX_AGE_HOURS,
                **links,
            },
        )
    return sent
