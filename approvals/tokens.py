"""Signed, expiring tokens for deciding one approval step from an email.

A token names a step, the approver it was issued to and the request's version, and is
signed with SECRET_KEY under its own salt. It is checked again at every use against the
database (decision_link_check): it dies as soon as the step is decided, the request
changes or the approver is no longer asked. Holding a live token lets its holder decide
that one step, as that one approver, and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.core import signing
from django.db.models import Exists, OuterRef, QuerySet, Subquery
from django.urls import reverse

from approvals.conditions import RequestFacts
from approvals.models import ApprovalPolicy, ApprovalStep, Decision, StepApprover, StepState
from procurement.models import User
from procurement.money import MissingExchangeRate
from procurement.prepared import PreparedQuery
from requests.models import PurchaseRequest, RequestState

SALT = "approvals.email-decision.v1"
# What a link may preselect on the confirmation page (?decision=...); it never decides.
LINK_DECISIONS = ("approve", "reject")


@dataclass(frozen=True)
class DecisionToken:
    step_id: int
    approver_id: int
    request_version: int


def decision_token_make(*, step_id: int, approver_id: int, request_version: int) -> str:
    return signing.dumps(
        {"s": step_id, "a": approver_id, "v": request_version}, salt=SALT, compress=True
    )


def _max_age_seconds() -> int:
    return int(settings.APPROVAL_LINK_MAX_AGE_HOURS) * 3600


def _parsed(data: object) -> DecisionToken:
    if not isinstance(data, dict):
        raise ValueError("not a decision token")
    return DecisionToken(
        step_id=int(data["s"]), approver_id=int(data["a"]), request_version=int(data["v"])
    )


def decision_token_read(token: str) -> DecisionToken | None:
    """The token's contents, or None when it is tampered with, malformed or expired."""
    try:
        return _parsed(signing.loads(token, salt=SALT, max_age=_max_age_seconds()))
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        return None


def decision_url(
    *, step_id: int, approver_id: int, request_version: int, decision: str | None = None
) -> str:
    """The absolute link to the confirmation page (a GET there never decides anything).

    `decision` ("approve" or "reject") only preselects the button on that page.
    """
    token = decision_token_make(
        step_id=step_id, approver_id=approver_id, request_version=request_version
    )
    url = settings.SITE_URL + reverse("approvals-email:confirm", args=[token])
    if decision is not None:
        if decision not in LINK_DECISIONS:
            raise ValueError(f"A link preselects one of {LINK_DECISIONS}, not {decision!r}.")
        url += "?" + urlencode({"decision": decision})
    return url


def decision_links(*, step_id: int, approver_id: int, request_version: int) -> dict[str, str]:
    """{"approve_url": ..., "reject_url": ...} for an email template."""
    return {
        f"{decision}_url": decision_url(
            step_id=step_id,
            approver_id=approver_id,
            request_version=request_version,
            decision=decision,
        )
        for decision in ("approve", "reject")
    }


# --- Checking a link against the database -------------------------------------


@dataclass(frozen=True)
class LiveLink:
    """A link that may decide `step` now, as `approver`, for this version of `request`."""

    step: ApprovalStep
    assignment: StepApprover
    approver: User
    request: PurchaseRequest
    request_version: int
    # email_signin_limit(request=request), read with the assignment.
    signin_above: Decimal | None

    def needs_signin(self) -> bool:
        """decision_link_needs_signin(request=self.request), without reading the limit again."""
        return _above(self.request, self.signin_above)


@dataclass(frozen=True)
class DeadLink:
    """A link that decides nothing. `reason` is for the person holding it.

    `request` is set only when the signature was good (the link was really ours), so
    the page can offer to sign in and open the request; a forged link learns nothing.
    """

    reason: str
    status: int
    request: PurchaseRequest | None = None


def decision_link_check(*, token: str, deciding: bool = False) -> LiveLink | DeadLink:
    """What `token` may do right now. Reads only: it never changes anything.

    approval_step_decide re-checks the step, the assignment and the version under row
    locks when the link is used, so a decision raced in between still loses cleanly.
    `deciding`: the check before a decision (the form's POST), whose page shows the request
    as the decision re-reads it; the request's people, department and cost centre, which
    only the confirmation page shows, are then not read with it (read if a page needs them).
    """
    try:
        parsed = _parsed(signing.loads(token, salt=SALT, max_age=_max_age_seconds()))
    except signing.SignatureExpired:
        # Genuine but too old: say so, and still point to the request.
        hours = settings.APPROVAL_LINK_MAX_AGE_HOURS
        expired = _expired_contents(token)
        step = _step(expired.step_id) if expired else None
        return DeadLink(
            reason=f"Approval links work for {hours} hours, and this one has expired.",
            status=410,
            request=step.request if step else None,
        )
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        return DeadLink(
            reason="This link was changed or cut short: it is not one we sent.", status=400
        )

    assignment = _assignment(
        step_id=parsed.step_id,
        approver_id=parsed.approver_id,
        related=() if deciding else _REQUEST_FIELDS,
    )
    approver: User | None
    if assignment is not None:
        step, approver = assignment.step, assignment.approver
    else:
        # Not asked (or no longer): read the step and the person alone, to say which.
        found = _step(parsed.step_id)
        if found is None:
            return DeadLink(
                reason="The approval step it was sent for no longer exists.", status=410
            )
        step = found
        approver = User.objects.filter(pk=parsed.approver_id).first()
    request = step.request
    if approver is None or not approver.is_active:
        return DeadLink(
            reason="The account this link was sent to is no longer active.",
            status=410,
            request=request,
        )
    if step.state != StepState.PENDING and step.decided_by_id:
        return DeadLink(
            reason=f'"{step.name}" was already decided by {step.decided_by} '
            f"({step.get_state_display().lower()}).",
            status=410,
            request=request,
        )
    if request.state != RequestState.PENDING_APPROVAL:
        return DeadLink(
            reason=f"{request.reference} is {request.get_state_display().lower()}: "
            "it no longer waits for this approval.",
            status=410,
            request=request,
        )
    if step.state != StepState.PENDING:
        return DeadLink(
            reason=f'"{step.name}" is {step.get_state_display().lower()}: '
            "it cannot be decided now.",
            status=410,
            request=request,
        )
    if request.version != parsed.request_version:
        return DeadLink(
            reason=f"{request.reference} has changed since this email was sent.",
            status=410,
            request=request,
        )
    if assignment is None:
        return DeadLink(
            reason=f'{approver} is not, or no longer, asked to decide "{step.name}".',
            status=410,
            request=request,
        )
    if assignment.decision != Decision.PENDING:
        return DeadLink(
            reason=f'{approver} already answered "{step.name}" '
            f"({assignment.get_decision_display().lower()}).",
            status=410,
            request=request,
        )
    return LiveLink(
        step=step,
        assignment=assignment,
        approver=approver,
        request=request,
        request_version=parsed.request_version,
        signin_above=_limit_of(
            has_frozen=assignment.signin_frozen,  # type: ignore[attr-defined]
            frozen=assignment.signin_frozen_above,  # type: ignore[attr-defined]
            active=assignment.signin_active_above,  # type: ignore[attr-defined]
        ),
    )


def _expired_contents(token: str) -> DecisionToken | None:
    """The contents of a genuine token regardless of its age (for the "expired" page only)."""
    try:
        return _parsed(signing.loads(token, salt=SALT, max_age=None))
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        return None


# What the link's pages show of the request (its summary, the budget panel's cost centre)
# comes with the step, in the same query.
_REQUEST_FIELDS = ("request__requester", "request__department", "request__cost_centre")


def _assignment(*, step_id: int, approver_id: int, related: tuple[str, ...]) -> StepApprover | None:
    """The approver's assignment to the step, with the step, its request and (`related`)
    what of the request the page names, in one query: on a live link (the usual case) this
    is all the check reads. Who decided the step, or whom the approver stands in for, is
    read only where a page names them (a dead link, a delegated step): each joined row
    costs Python time on every request (this and the slimmer reads below took the
    confirmation page from 11 queries to 6). Without the three tables of _REQUEST_FIELDS,
    PostgreSQL plans this in half the time (0.5 ms rather than 1.0-2.5: seven tables).
    What email_signin_limit reads comes with it, as three subqueries (signin_frozen,
    signin_frozen_above, signin_active_above): a statement less on every link's page and
    POST. (Before queries were compiled once, the subqueries' compiling cost more Python than
    the statement they save.)
    """
    return _ASSIGNMENT_WITH[related].first(step_id=step_id, approver_id=approver_id)


# The policy a route no rule made answers to (email_signin_limit).
_ACTIVE_POLICY = ApprovalPolicy.objects.filter(is_active=True).order_by("pk")


def _rule_made_steps(request_id: Any) -> QuerySet[ApprovalStep]:
    """A request's steps that a policy's rule made, newest round first: the first one's
    policy is the one its route was frozen from (email_signin_limit)."""
    return ApprovalStep.objects.filter(request_id=request_id, rule__isnull=False).order_by("-round")


def _assignment_with(related: tuple[str, ...]) -> PreparedQuery[StepApprover]:
    prefixed = ["step__request", *(f"step__{name}" for name in related)]
    frozen = _rule_made_steps(OuterRef("step__request_id"))
    return PreparedQuery(
        lambda step_id, approver_id: (
            StepApprover.objects.select_related(*prefixed, "approver")
            .filter(step_id=step_id, approver_id=approver_id)
            .annotate(
                signin_frozen=Exists(frozen),
                signin_frozen_above=Subquery(frozen.values("rule__policy__email_signin_above")[:1]),
                signin_active_above=Subquery(_ACTIVE_POLICY.values("email_signin_above")[:1]),
            )
        )
    )


# Every link's page and POST reads one of these: compiled once (procurement/prepared.py).
_ASSIGNMENT_WITH: dict[tuple[str, ...], PreparedQuery[StepApprover]] = {
    related: _assignment_with(related) for related in ((), _REQUEST_FIELDS)
}


def _step(step_id: int) -> ApprovalStep | None:
    # order_by(): the model's default ordering joins the request table for nothing.
    return (
        ApprovalStep.objects.select_related(*_REQUEST_FIELDS, "decided_by")
        .filter(pk=step_id)
        .order_by()
        .first()
    )


def _frozen_signin_limit(request_id: int) -> QuerySet[ApprovalStep, tuple[Decimal | None]]:
    return _rule_made_steps(request_id).values_list("rule__policy__email_signin_above")[:1]


# Compiled once (procurement/prepared.py).
_FROZEN_SIGNIN_LIMIT = PreparedQuery(_frozen_signin_limit)
_ACTIVE_SIGNIN_LIMIT: PreparedQuery[tuple[Decimal | None]] = PreparedQuery(
    lambda: _ACTIVE_POLICY.values_list("email_signin_above")[:1]
)


def email_signin_limit(*, request: PurchaseRequest) -> Decimal | None:
    """Above this total (base currency) an emailed link asks to sign in; None: never.

    The policy's `email_signin_above` (the policy the request's route was frozen from, else
    the active one), or the APPROVAL_EMAIL_SIGNIN_ABOVE setting when the policy leaves it empty.
    """
    # One column, not the step, rule and policy rows (a link's check reads it with the
    # assignment: LiveLink.signin_above). A one-element tuple per row, so "no such step"
    # and "a policy without a limit" differ.
    frozen = _FROZEN_SIGNIN_LIMIT.list(request_id=request.pk)
    if frozen:
        return _limit_of(has_frozen=True, frozen=frozen[0][0], active=None)
    active = _ACTIVE_SIGNIN_LIMIT.list()
    return _limit_of(has_frozen=False, frozen=None, active=active[0][0] if active else None)


def _limit_of(
    *, has_frozen: bool, frozen: Decimal | None, active: Decimal | None
) -> Decimal | None:
    """email_signin_limit's rule: the frozen route's policy's limit when the request has a
    route a rule made, else the active policy's; the setting when that policy has none."""
    above = frozen if has_frozen else active
    if above is not None:
        return above
    limit: Decimal | None = settings.APPROVAL_EMAIL_SIGNIN_ABOVE
    return limit


def decision_link_needs_signin(*, request: PurchaseRequest) -> bool:
    """Whether a link may not decide `request` without a password (see email_signin_limit).

    The total is compared in the base currency; when it cannot be converted, the link
    asks to sign in rather than guess.
    """
    return _above(request, email_signin_limit(request=request))


def _above(request: PurchaseRequest, limit: Decimal | None) -> bool:
    if limit is None:
        return False
    try:
        total = RequestFacts.of(request).total_in_base
    except MissingExchangeRate:
        return True
    return total > limit


def signin_url(*, request: PurchaseRequest | None) -> str:
    """The login page, then the request (or the request list when we do not know which)."""
    target = reverse("requests:detail", args=[request.pk]) if request else reverse("requests:list")
    return reverse("login") + "?" + urlencode({"next": target})
