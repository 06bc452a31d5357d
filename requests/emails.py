"""One function per email; templates under templates/emails/<name>/{subject.txt,body.txt,body.html}."""

from __future__ import annotations

from django.conf import settings
from django.urls import reverse

from procurement.models import AuditEntry
from procurement.services import email_send_once
from requests.models import Comment, PurchaseRequest


def _request_url(request: PurchaseRequest) -> str:
    return settings.SITE_URL + reverse("requests:detail", args=[request.pk])


def send_mention_emails(*, comment_id: int) -> int:
    """Email everyone @mentioned in the comment, once each. Returns how many were sent."""
    comment = Comment.objects.select_related("request", "author").get(pk=comment_id)
    sent = 0
    for user in comment.mentions.exclude(email=""):
        sent += email_send_once(
            key=f"mention:{comment.pk}:{user.pk}",
            to=user.email,
            template="mention",
            context={
                "recipient": user,
                "comment": comment,
                "request": comment.request,
                "url": _request_url(comment.request),
            },
        )
    return sent


def send_transition_email(*, audit_entry_id: int) -> bool:
    """Tell the requester their request was approved, rejected, returned, ordered or cancelled."""
    entry = AuditEntry.objects.select_related("actor").get(pk=audit_entry_id)
    request = PurchaseRequest.objects.select_related("requester").get(pk=entry.object_id)
    if not request.requester.email:
        return False
    return email_send_once(
        key=f"transition:{entry.pk}",
        to=request.requester.email,
        template="request_transition",
        context={
            "entry": entry,
            "request": request,
            "to_state_label": request.get_state_display(),
            "url": _request_url(request),
        },
    )
