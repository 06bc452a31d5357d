"""Reads of purchase requests. Visibility rules live here and nowhere else."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

from django.db.models import Q, QuerySet

from procurement.models import ROLES_SEEING_ALL_REQUESTS, AuditEntry, Department, User
from requests import workflow
from requests.models import Comment, PurchaseRequest


def purchase_request_visible_to(user: User) -> QuerySet[PurchaseRequest]:
    """Every request `user` may see.

    A requester sees their own; a line manager their reports'; a department head
    their department's; anyone @mentioned on a request sees that request;
    procurement, finance and admins see everything. Everything else is a 404.
    """
    requests = PurchaseRequest.objects.all()
    if not user.is_authenticated or not user.is_active:
        return requests.none()
    if user.has_role(*ROLES_SEEING_ALL_REQUESTS):
        return requests
    # Each arm is `column IN (a small indexed subquery)` on the request's own columns, not a
    # join or a correlated EXISTS: PostgreSQL then plans the OR as a handful of index reads
    # instead of joining users and departments to every request (measured by bench/web).
    mentioned = Comment.mentions.through.objects.filter(user=user).values("comment__request_id")
    visible = Q(
        Q(requester=user)
        | Q(requester__in=User.objects.filter(manager=user).values("pk"))
        | Q(department__in=Department.objects.filter(head=user).values("pk"))
        | Q(pk__in=mentioned)
    )
    # Higher apps add who else may see a request (approvals: its approvers); see workflow.py.
    for rule in workflow.visibility_rules():
        visible |= rule(user)
    return requests.filter(visible)


@dataclass(frozen=True)
class RequestFilters:
    scope: Literal["mine", "all"] = "all"
    state: str = ""
    category: str = ""  # category code
    department: str = ""  # department code
    q: str = ""  # words in the title, or a reference such as PR-000042
    created_from: dt.date | None = None
    created_to: dt.date | None = None


def purchase_request_list(*, user: User, filters: RequestFilters) -> QuerySet[PurchaseRequest]:
    # Joined: what every request has. Prefetched: what most leave empty (a join of 8-11
    # tables cost PostgreSQL more to plan than to run; bench/web).
    requests = (
        purchase_request_visible_to(user)
        .select_related("requester", "department", "cost_centre", "category")
        .prefetch_related("vendor", "objective__fiscal_year")
    )
    if filters.scope == "mine":
        requests = requests.filter(requester=user)
    if filters.state:
        requests = requests.filter(state=filters.state)
    if filters.category:
        requests = requests.filter(category__code=filters.category)
    if filters.department:
        requests = requests.filter(department__code=filters.department)
    if filters.created_from:
        requests = requests.filter(created_at__date__gte=filters.created_from)
    if filters.created_to:
        requests = requests.filter(created_at__date__lte=filters.created_to)
    if filters.q:
        text = filters.q.strip()
        reference = text.upper().removeprefix("PR-")
        match = Q(title__icontains=text)
        # isdecimal, not isdigit: "²" is a digit that int() refuses.
        if reference.isdecimal():
            match |= Q(pk=int(reference))
        requests = requests.filter(match)
    return requests.order_by("-created_at", "-id")


def purchase_request_get(*, user: User, request_id: int) -> PurchaseRequest | None:
    """The request with its details, or None when it does not exist or `user` may not see it."""
    return (
        purchase_request_visible_to(user)
        .select_related(
            "requester",
            "requester__manager",
            "department",
            "department__head",
            "cost_centre",
            "category",
        )
        # What most requests leave empty: fetched only when set (see purchase_request_list).
        .prefetch_related(
            "line_items",
            "attachments",
            "vendor",
            "contract",
            "objective__fiscal_year",
            "objective__owner",
        )
        .filter(pk=request_id)
        .first()
    )


@dataclass(frozen=True)
class TimelineEvent:
    kind: Literal["transition", "comment"]
    at: dt.datetime
    actor: User | None
    text: str
    action: str = ""
    from_state: str = ""
    to_state: str = ""


def purchase_request_timeline(*, request: PurchaseRequest) -> list[TimelineEvent]:
    """State changes and comments, oldest first, as one list."""
    entries = AuditEntry.objects.filter(
        content_type__app_label="requests",
        content_type__model="purchaserequest",
        object_id=request.pk,
    ).select_related("actor")
    events = [
        TimelineEvent(
            kind="transition",
            at=entry.created_at,
            actor=entry.actor,
            text=entry.comment,
            action=entry.action,
            from_state=entry.from_state,
            to_state=entry.to_state,
        )
        for entry in entries
    ]
    events += [
        TimelineEvent(
            kind="comment", at=comment.created_at, actor=comment.author, text=comment.body
        )
        for comment in request.comments.select_related("author")
    ]
    return sorted(events, key=lambda event: event.at)


def purchase_request_available_actions(*, request: PurchaseRequest, user: User) -> list[str]:
    """The actions `user` may take on `request` in its current state, for the page's buttons.

    Conditions (such as "has line items") are left to the service, which says
    what is missing instead of hiding the button.
    """
    from requests.services import ACTIONS

    available = []
    for name, action in ACTIONS.items():
        method = getattr(request, action.method)
        meta = method._django_fsm
        if meta.has_transition(request.state) and meta.has_transition_perm(
            request, request.state, user
        ):
            available.append(name)
    return available
