"""Reads of purchase requests. Visibility rules live here and nowhere else."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Literal

from django.contrib.contenttypes.models import ContentType
from django.db.models import Exists, OuterRef, Q, QuerySet, prefetch_related_objects

from procurement.models import ROLES_SEEING_ALL_REQUESTS, AuditEntry, User
from procurement.prepared import PreparedQuery, prefetched
from requests.models import Attachment, Comment, LineItem, PurchaseRequest
from requests.visibility import visibility_beyond_own


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
    # Each other arm is `column IN (a small indexed subquery)` on the request's own columns,
    # not a join or a correlated EXISTS: PostgreSQL then plans the OR as a handful of index
    # reads instead of joining users and departments to every request (bench/web). Only the
    # arms that can match anything for this user are added (requests/visibility.py).
    visible = Q(requester=user)
    beyond = visibility_beyond_own(user, using=requests.db)
    if beyond is not None:
        visible |= beyond
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
    if filters.scope == "mine" and user.is_authenticated and user.is_active:
        # Anyone active sees their own requests (the first arm of purchase_request_visible_to),
        # so "mine" needs none of the other arms: building and compiling them for the COUNT
        # and the page was 1.7 ms of rita's list page's CPU (bench/web).
        visible = PurchaseRequest.objects.filter(requester=user)
    else:
        visible = purchase_request_visible_to(user)
        if filters.scope == "mine":
            visible = visible.filter(requester=user)
    requests = visible.select_related(
        "requester", "department", "cost_centre", "category"
    ).prefetch_related("vendor", "objective__fiscal_year")
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


# What a row of the list page (/requests/) shows: nothing else is read.
LIST_PAGE_COLUMNS = (
    "id",
    "title",
    "state",
    "total",
    "currency",
    "needed_by",
    "created_at",
    "requester__username",
    "requester__first_name",
    "requester__last_name",
)


def purchase_request_list_rows(
    requests: QuerySet[PurchaseRequest],
) -> QuerySet[PurchaseRequest, dict[str, Any]]:
    """`requests` (a page of purchase_request_list) as dicts of LIST_PAGE_COLUMNS, in its order.

    The list page shows ten columns of two tables: dicts instead of five model instances per
    row (request, requester, department, cost centre, category) and no prefetches cut ~2 ms
    of the page's CPU (bench/web cpu_profile). Narrow the page, not the whole list: the
    paginator's COUNT then joins nothing.
    """
    return requests.select_related(None).prefetch_related(None).values(*LIST_PAGE_COLUMNS)


def _visible_from_its_row(request: PurchaseRequest, user: User) -> bool:
    """Whether the arms of purchase_request_visible_to that the request's own row answers (with
    its requester and department joined) let `user` see it. False means "ask the database":
    mentions and the rules of higher apps need a query."""
    return (
        user.has_role(*ROLES_SEEING_ALL_REQUESTS)
        or request.requester_id == user.pk
        or request.requester.manager_id == user.pk
        or request.department.head_id == user.pk
    )


_REQUEST_WITH_DETAILS: PreparedQuery[PurchaseRequest] = PreparedQuery(
    lambda pk: (
        PurchaseRequest.objects.select_related("requester", "department", "cost_centre", "category")
        .annotate(
            has_attachments=Exists(Attachment.objects.filter(request=OuterRef("pk"))),
            has_comments=Exists(Comment.objects.filter(request=OuterRef("pk"))),
        )
        .filter(pk=pk)
    )
)


_LINE_ITEMS_OF_REQUEST: PreparedQuery[LineItem] = PreparedQuery(
    lambda request_id: LineItem.objects.filter(request_id=request_id)
)
_ATTACHMENTS_OF_REQUEST: PreparedQuery[Attachment] = PreparedQuery(
    lambda request_id: Attachment.objects.filter(request_id=request_id)
)


def purchase_request_line_items(*, request_id: int) -> list[LineItem]:
    """The request's line items in order, by a query compiled once (the request's page and an
    approval link's page show them)."""
    return _LINE_ITEMS_OF_REQUEST.list(request_id=request_id)


def purchase_request_get(*, user: User, request_id: int) -> PurchaseRequest | None:
    """The request with its details, or None when it does not exist or `user` may not see it.

    Visible exactly when purchase_request_visible_to(user) holds it. The row is read by its
    key first, and the visibility query runs only when the row cannot tell (a mention, an
    approver): building and compiling that query is ~2 ms of Python, and most requests are
    opened by their requester, manager or department head (bench/web cpu_profile).
    """
    if not user.is_authenticated or not user.is_active:
        return None
    # Joined: what every request has and the page shows (not the manager and head themselves:
    # two more users per request cost ~1.5 ms, and only their ids are asked). Asked alongside:
    # whether it has attachments and comments, which most requests have not. The two EXISTS
    # cost about what the queries that found nothing cost in Python, and spare PostgreSQL two
    # queries: ~0.8 ms less per page in all (bench/web).
    request = _REQUEST_WITH_DETAILS.first(pk=request_id)
    if request is None:
        return None
    if not _visible_from_its_row(request, user) and not (
        purchase_request_visible_to(user).filter(pk=request_id).exists()
    ):
        return None
    # What most requests leave empty is fetched only when set: a join of 8-11 tables cost
    # PostgreSQL more to plan than to run, and a prefetch of nothing still costs Python.
    optional = [
        lookup
        for key, lookups in (
            (request.vendor_id, ["vendor"]),
            (request.contract_id, ["contract"]),
            (request.objective_id, ["objective__fiscal_year", "objective__owner"]),
        )
        if key is not None
        for lookup in lookups
    ]
    # Line items and attachments by queries compiled once (procurement/prepared.py); none of
    # the attachments most requests have not are asked for.
    prefetched(request, "line_items", purchase_request_line_items(request_id=request.pk))
    attachments = (
        _ATTACHMENTS_OF_REQUEST.list(request_id=request.pk)
        if getattr(request, "has_attachments", True)
        else []
    )
    prefetched(request, "attachments", attachments)
    if optional:
        prefetch_related_objects([request], *optional)
    return request


@dataclass(frozen=True)
class TimelineEvent:
    kind: Literal["transition", "comment"]
    at: dt.datetime
    actor: User | None
    text: str
    action: str = ""
    from_state: str = ""
    to_state: str = ""


# What an event and its actor show (User.__str__, the API's PersonSerializer): nothing else
# is read. Values rather than model instances: the entries with their actors joined, and the
# comments with their authors, as instances with deferred fields were ~0.4 ms more of each
# page's CPU (bench/web).
_ACTOR_COLUMNS = ("id", "username", "first_name", "last_name")
_TIMELINE_ENTRY_COLUMNS = (
    "created_at",
    "action",
    "from_state",
    "to_state",
    "comment",
    *(f"actor__{column}" for column in _ACTOR_COLUMNS),
)
_TIMELINE_COMMENT_COLUMNS = (
    "created_at",
    "body",
    *(f"author__{column}" for column in _ACTOR_COLUMNS),
)

# Only the columns an event shows: not the hash chain, nor the actor's password and dates.
# Both on every request page: compiled once (procurement/prepared.py).
_AUDIT_ENTRIES_OF: PreparedQuery[tuple[Any, ...]] = PreparedQuery(
    lambda content_type_id, object_id: AuditEntry.objects.filter(
        content_type_id=content_type_id, object_id=object_id
    ).values_list(*_TIMELINE_ENTRY_COLUMNS)
)
_COMMENTS_OF_REQUEST: PreparedQuery[tuple[Any, ...]] = PreparedQuery(
    lambda request_id: Comment.objects.filter(request_id=request_id).values_list(
        *_TIMELINE_COMMENT_COLUMNS
    )
)


def _actor(pk: int | None, username: str, first_name: str, last_name: str) -> User | None:
    # An unsaved User holding only what an event shows (never saved); None for the system.
    if pk is None:
        return None
    return User(id=pk, username=username, first_name=first_name, last_name=last_name)


def purchase_request_timeline(*, request: PurchaseRequest) -> list[TimelineEvent]:
    """State changes and comments, oldest first, as one list.

    A request from purchase_request_get says whether it has comments (`has_comments`): then
    none are asked for when it has none. Any other request is asked.
    """
    # The content type from ContentType's cache, not a join: ~0.3 ms less to build and compile.
    entries = _AUDIT_ENTRIES_OF.list(
        content_type_id=ContentType.objects.get_for_model(PurchaseRequest).pk,
        object_id=request.pk,
    )
    events = [
        TimelineEvent(
            kind="transition",
            at=at,
            actor=_actor(*actor),
            text=comment,
            action=action,
            from_state=from_state,
            to_state=to_state,
        )
        for at, action, from_state, to_state, comment, *actor in entries
    ]
    if getattr(request, "has_comments", True):
        comments = _COMMENTS_OF_REQUEST.list(request_id=request.pk)
        events += [
            TimelineEvent(kind="comment", at=at, actor=_actor(*author), text=body)
            for at, body, *author in comments
        ]
    return sorted(events, key=lambda event: event.at)


def purchase_request_available_actions(*, request: PurchaseRequest, user: User) -> list[str]:
    """The actions `user` may take on `request` in its current state, for the page's buttons.

    Conditions (such as "has line items") are left to the service, which says
    what is missing instead of hiding the button.
    """
    from requests.rules import may_decide_asked_once
    from requests.services import ACTIONS

    available = []
    # Approve, reject and return each ask whether `user` may decide: one query, not three.
    with may_decide_asked_once():
        for name, action in ACTIONS.items():
            method = getattr(request, action.method)
            meta = method._django_fsm
            if meta.has_transition(request.state) and meta.has_transition_perm(
                request, request.state, user
            ):
                available.append(name)
    return available
