"""Daily digests of pending approvals and the emails of escalations, sent by Celery tasks.

Beat runs the scans every few minutes; what is due is read from the database each time,
never scheduled with long countdowns. Every email has an idempotency key (a SentEmail row
under a unique constraint), so a re-run, a retry or a second worker never sends it twice.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import transaction
from django.db.models import F, QuerySet
from django.urls import reverse
from django.utils import timezone

from approvals.models import ApprovalStep, Decision, StepApprover, StepState
from approvals.tokens import decision_link_needs_signin, decision_links
from procurement.models import User
from procurement.services import email_send_once
from requests.models import PurchaseRequest


def _request_url(request: PurchaseRequest) -> str:
    return settings.SITE_URL + reverse("requests:detail", args=[request.pk])


def _remindable(day: dt.date) -> QuerySet[StepApprover]:
    """Pending assignments worth a reminder on `day`: open since before that day (the
    "approval needed" email covers the day a step opens) and under the reminder cap."""
    start_of_day = timezone.make_aware(dt.datetime.combine(day, dt.time.min))
    return StepApprover.objects.filter(
        decision=Decision.PENDING,
        step__state=StepState.PENDING,
        step__activated_at__lt=start_of_day,
        reminders_sent__lt=settings.APPROVAL_REMINDER_MAX,
        approver__is_active=True,
    ).exclude(approver__email="")


def approvers_due_a_digest(*, now: dt.datetime) -> tuple[dt.date, list[int]]:
    """The local day and the approvers who get a digest that day, from APPROVAL_REMINDER_HOUR on.

    Whether one went out already is the digest's idempotency key's business, not this scan's.
    """
    local = timezone.localtime(now)
    day = local.date()
    if local.hour < settings.APPROVAL_REMINDER_HOUR or settings.APPROVAL_REMINDER_MAX < 1:
        return day, []
    approvers = _remindable(day).values_list("approver_id", flat=True).distinct()
    return day, sorted(set(approvers))


def send_reminder_digest(*, approver_id: int, day: dt.date) -> bool:
    """Send `approver_id` one digest for `day` listing each step they still have to decide,
    each with its own Approve and Reject links. Returns whether it sent.

    Key: approval-digest:<approver>:<day>. The listed assignments are locked and their
    reminder counts go up in the same transaction as the key row, so a retry neither
    sends nor counts twice.
    """
    with transaction.atomic():
        assignments = list(
            _remindable(day)
            .filter(approver_id=approver_id)
            .select_for_update(of=("self",))
            .select_related(
                "approver",
                "on_behalf_of",
                "step",
                "step__request",
                "step__request__requester",
                "step__request__department",
            )
            .order_by("step__activated_at", "id")
        )
        if not assignments:
            return False
        person = assignments[0].approver
        now = timezone.now()
        items = []
        for assignment in assignments:
            step = assignment.step
            request = step.request
            links: dict[str, str] = {}
            if not decision_link_needs_signin(request=request):
                links = decision_links(
                    step_id=step.pk, approver_id=person.pk, request_version=request.version
                )
            waiting = now - (step.activated_at or now)
            items.append(
                {
                    "assignment": assignment,
                    "step": step,
                    "request": request,
                    "days_waiting": waiting.days,
                    "url": _request_url(request),
                    **links,
                }
            )
        sent = email_send_once(
            key=f"approval-digest:{person.pk}:{day.isoformat()}",
            to=person.email,
            template="approval_digest",
            context={
                "recipient": person,
                "items": items,
                "day": day,
                "inbox_url": settings.SITE_URL + reverse("approvals:inbox"),
                "link_hours": settings.APPROVAL_LINK_MAX_AGE_HOURS,
            },
        )
        if sent:
            StepApprover.objects.filter(pk__in=[a.pk for a in assignments]).update(
                reminders_sent=F("reminders_sent") + 1
            )
    return sent


def send_escalation_emails(*, step_id: int, recipient_ids: list[int], reassigned: bool) -> int:
    """Tell each recipient that a step escalated to them: an FYI for an approver's manager,
    or (reassigned) the step itself with its Approve and Reject links. Once per step and person.
    """
    step = ApprovalStep.objects.select_related(
        "request", "request__requester", "request__department"
    ).get(pk=step_id)
    if step.state != StepState.PENDING:
        return 0  # decided before the worker got here
    request = step.request
    needs_signin = decision_link_needs_signin(request=request)
    late = {
        assignment.approver_id: assignment
        for assignment in step.approvers.select_related("approver", "on_behalf_of")
    }
    sent = 0
    for person in User.objects.filter(pk__in=recipient_ids, is_active=True).exclude(email=""):
        links: dict[str, str] = {}
        assignment = late.get(person.pk)
        if (
            reassigned
            and not needs_signin
            and assignment
            and assignment.decision == Decision.PENDING
        ):
            links = decision_links(
                step_id=step.pk, approver_id=person.pk, request_version=request.version
            )
        sent += email_send_once(
            key=f"step-escalated:{step.pk}:{person.pk}",
            to=person.email,
            template="approval_escalated",
            context={
                "recipient": person,
                "step": step,
                "request": request,
                "reassigned": reassigned,
                # Who is late: not whoever already gave their decision (one of "all of" a group).
                "late_approvers": [
                    a.acting_as
                    for a in late.values()
                    if a.approver.manager_id == person.pk
                    and a.decision in (Decision.PENDING, Decision.NOT_NEEDED)
                ],
                "url": _request_url(request),
                "link_hours": settings.APPROVAL_LINK_MAX_AGE_HOURS,
                **links,
            },
        )
    return sent
