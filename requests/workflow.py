"""The seam between purchase requests and the approvals app above them.

requests may not import approvals (apps import only the apps below them), yet submitting
a request must start its approval route, and "approve" on a request must decide the
caller's approval step. So requests keeps this small registry, and approvals installs
its workflow from AppConfig.ready(). Without it (the requests app's own tests), a request
is decided directly by the requester's line manager or department head.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from django.db.models import Model

    from procurement.errors import ApplicationError
    from procurement.models import User
    from requests.models import PurchaseRequest


class Workflow(Protocol):
    def may_decide(self, request: PurchaseRequest, user: User) -> bool:
        """May `user` approve, reject or return `request` now?"""

    def on_transition(self, *, request: PurchaseRequest, by: User | None, action: str) -> None:
        """Called inside the transaction of every state change, after it is saved and audited."""

    def decide(self, *, request: PurchaseRequest, by: User, action: str, comment: str) -> None:
        """Record `by`'s decision (approve, reject or return) on the locked `request`."""

    def refusal(self, request: PurchaseRequest, user: User) -> ApplicationError | None:
        """Why `user` may not decide `request` now, when more is known than "not an approver"."""


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

    def refusal(self, request: PurchaseRequest, user: User) -> ApplicationError | None:
        return None


_installed: Workflow = DirectDecision()


def install(workflow: Workflow) -> None:
    global _installed
    _installed = workflow


def current() -> Workflow:
    return _installed


# --- Detail panels ----------------------------------------------------------
# A higher app adds a section to the request page (approvals: the route) without requests
# importing it. A panel returns (template name, context) to render, or None to show nothing.

DetailPanel = Callable[["PurchaseRequest", "User"], "tuple[str, dict[str, Any]] | None"]
_detail_panels: list[DetailPanel] = []


def register_detail_panel(panel: DetailPanel) -> None:
    # ready() can run more than once (tests, management commands): register a panel once.
    if panel not in _detail_panels:
        _detail_panels.append(panel)


def detail_panels() -> list[DetailPanel]:
    return list(_detail_panels)


# --- Extra visibility -------------------------------------------------------
# Someone asked to approve a request must be able to open it (a legal reviewer sees no other
# requests). requests.selectors.purchase_request_visible_to adds each registered arm to its own
# (requests.visibility).


@dataclass(frozen=True)
class VisibilityArm:
    """The requests a user sees because rows of `model` name them in `user_field`.

    `values` leads from `model` to what requests are matched on, and `lookup` is the request's
    side of that match. Approvers: StepApprover rows whose `approver` is the user, matched by
    `step__request_id` against the request's pk. Declared as data, not as a function building
    a query, so one plain statement can ask which arms can match anything for a user.
    """

    model: type[Model]
    user_field: str
    values: str
    lookup: str = "pk__in"


_visibility_arms: list[VisibilityArm] = []


def register_visibility(arm: VisibilityArm) -> None:
    if arm not in _visibility_arms:
        _visibility_arms.append(arm)


def visibility_arms() -> tuple[VisibilityArm, ...]:
    return tuple(_visibility_arms)
