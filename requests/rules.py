"""Who may do what to a purchase request (registered with django-rules at start-up).

The request's transitions (requests/models.py) ask these through `fsm_permission`, the
services through `require`, the pages and API through the transitions' `available_actions`:
one answer everywhere. The state a transition needs (a draft to submit, ...) is not part of a
permission: a request in the wrong state is a 409, not a 403.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING

import rules

from procurement.models import Role
from procurement.permissions import add, has_role, is_user_field, visible_in
from requests import workflow

if TYPE_CHECKING:
    from django.db.models import QuerySet

    from procurement.models import User
    from requests.models import PurchaseRequest


def _visible_to(user: User) -> QuerySet[PurchaseRequest]:
    # Late: the selectors import the models, which ask these rules.
    from requests.selectors import purchase_request_visible_to

    return purchase_request_visible_to(user)


is_requester = is_user_field("requester")
# Its requester, line manager, department head, someone @mentioned on it, its approvers
# (registered by approvals), and procurement, finance and admins.
may_see_request = visible_in(_visible_to, "may_see_request")


# (request id, user id) -> may decide, while may_decide_asked_once() is open; else None.
_may_decide_answers: ContextVar[dict[tuple[int, int], bool] | None] = ContextVar(
    "_may_decide_answers", default=None
)


@contextmanager
def may_decide_asked_once() -> Iterator[None]:
    """Within it, the workflow is asked once per request and user whether they may decide.

    The buttons of a request's page ask for approve, reject and return, and each asked the
    workflow again: a query each (approvals: the viewer's open assignment). Only for reads
    that change nothing meanwhile; a service deciding the request must ask afresh.
    """
    token = _may_decide_answers.set({})
    try:
        yield
    finally:
        _may_decide_answers.reset(token)


@rules.predicate
def is_deciding_approver(user: User, request: PurchaseRequest | None) -> bool:
    """Asked to decide it now, by the installed workflow (approvals: an open step of its
    route; without approvals, the line manager or department head). Never its requester."""
    if request is None or request.requester_id == user.pk:
        return False
    answers = _may_decide_answers.get()
    if answers is None:
        return workflow.current().may_decide(request, user)
    key = (request.pk, user.pk)
    if key not in answers:
        answers[key] = workflow.current().may_decide(request, user)
    return answers[key]


add(
    "requests.view_purchaserequest",
    may_see_request,
    means="its requester, their line manager, the department head, anyone @mentioned on it, "
    "its approvers, procurement, finance, admins",
)
add(
    "requests.comment_purchaserequest",
    may_see_request,
    means="whoever may see it",
)
add("requests.change_purchaserequest", is_requester, means="its requester (a draft)")
add("requests.submit_purchaserequest", is_requester, means="its requester (submit, reopen)")
add(
    "requests.decide_purchaserequest",
    is_deciding_approver,
    means="an approver of its current step (approve, reject); never its requester",
)
add(
    "requests.return_purchaserequest",
    is_deciding_approver | (~is_requester & has_role(Role.PROCUREMENT)),
    means="an approver of its current step, or procurement; never its requester",
)
add(
    "requests.cancel_purchaserequest",
    is_requester | has_role(Role.PROCUREMENT, Role.ADMIN),
    means="its requester, procurement, admins",
)
add(
    "requests.order_purchaserequest",
    has_role(Role.PROCUREMENT),
    means="procurement (mark ordered, close)",
)
add(
    "requests.receive_purchaserequest",
    is_requester | has_role(Role.PROCUREMENT),
    means="its requester, procurement",
)
add(
    "requests.amend_purchaserequest",
    has_role(Role.PROCUREMENT),
    means="procurement (the line items of an approved request)",
)
