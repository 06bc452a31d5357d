"""The seam between purchase requests and the approvals app above them.

requests may not import approvals (apps import only the apps below them), yet submitting
a request must start its approval route, and "approve" on a request must decide the
caller's approval step. So requests keeps this small registry, and approvals installs
its workflow from AppConfig.ready(). Without it (the requests app's own tests), a request
is decided directly by the requester's line manager or department head.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from procurement.models import User
    from requests.models import PurchaseRequest


class Workflow(Protocol):
    def may_decide(self, request: PurchaseRequest, user: User) -> bool:
        """May `user` approve, reject or return `request` now?"""

    def on_transition(self, *, request: PurchaseRequest, by: User | None, action: str) -> None:
        """Called inside the transaction of every state change, after it is saved and audited."""

    def decide(self, *, request: PurchaseRequest, by: User, action: str, comment: str) -> None:
        """Record `by`'s decision (approve, reject or return) on the locked `request`."""


class DirectDecision:
    """No approval routes: the line manager or the department head decides the request itself."""

    def may_decide(self, request: PurchaseRequest, user: User) -> bool:
        if request.requester_id == user.pk:
            return False
        return user.pk in (request.requester.manager_id, request.department.head_id)

    def on_transition(self, *, request: PurchaseRequest, by: User | None, action: str) -> None:
        return None

    def decide(self, *, request: PurchaseRequest, by: User, action: str, comment: str) -> None:
        from requests.services import purchase_request_apply

        purchase_request_apply(request=request, by=by, action=action, comment=comment)


_installed: Workflow = DirectDecision()


def install(workflow: Workflow) -> None:
    global _installed
    _installed = workflow


def current() -> Workflow:
    return _installed
