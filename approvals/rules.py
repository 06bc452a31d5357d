"""Who may see and decide an approval step (registered with django-rules at start-up).

Whether the step is still open, already decided by this person, or handed on by a delegation
is the service's to say (approvals.services._decide_locked): those are 409s and explained
403s, not who the step belongs to.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import rules

from procurement.models import Role
from procurement.permissions import add, allowed, has_role, is_user_field

if TYPE_CHECKING:
    from approvals.models import ApprovalStep
    from procurement.models import User


@rules.predicate
def may_see_steps_request(user: User, step: ApprovalStep | None) -> bool:
    return step is not None and allowed(user, "requests.view_purchaserequest", step.request)


@rules.predicate
def is_steps_requester(user: User, step: ApprovalStep | None) -> bool:
    return step is not None and step.request.requester_id == user.pk


@rules.predicate
def is_asked_to_decide_step(user: User, step: ApprovalStep | None) -> bool:
    """Named among the step's approvers, in any round. Whether it is still theirs to decide
    (not handed to a delegate, not decided yet) the service says, with the reason."""
    if step is None:
        return False
    named = getattr(step, "approvers_named", {}).get(user.pk)
    if named is not None:
        return bool(named)
    return step.approvers.filter(approver=user).exists()


add(
    "approvals.view_approvalstep",
    may_see_steps_request,
    means="whoever may see its request",
)
add(
    "approvals.decide_approvalstep",
    is_asked_to_decide_step & ~is_steps_requester,
    means="an approver named on it; never the request's requester",
)
add(
    "approvals.end_delegation",
    is_user_field("delegator") | has_role(Role.ADMIN),
    means="the person who delegated, or an admin",
)
