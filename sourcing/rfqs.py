"""RFQs, the procurement side: open one from a purchase request, set its lines, criteria,
deadline and prices, invite vendors, open, close, reopen or cancel it, answer questions.

Services (writes) and selectors (reads) live together here, as the one home of the RFQ
rules. Every service checks who may act (sourcing/access.py: people who may not see
sourcing get a 404, readers who may not run RFQs a 403), locks the RFQ row, changes state
only through the model's django-fsm transitions, writes its audit entry on the RFQ in the
same transaction and queues emails in it (procurement.outbox: published on commit).

The vendor's side (the signed quote link, quotes, questions, declines) is sourcing/quotes.py.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q, QuerySet
from django.urls import reverse
from django.utils import dateformat, timezone
from django_fsm import ConcurrentTransition, TransitionNotAllowed

from procurement.errors import Conflict, InvalidInput, NotAllowed, NotFound
from procurement.models import AuditEntry, Category, User
from procurement.money import to_base_currency
from procurement.outbox import enqueue
from procurement.services import audit_record, email_send_once
from requests.models import PurchaseRequest, RequestState
from sourcing.access import may_see_sourcing, may_source
from sourcing.models import (
    AwardState,
    Billing,
    CounterOffer,
    CounterOfferState,
    Criterion,
    CriterionKind,
    Invitation,
    Question,
    Rfq,
    RfqLine,
    RfqState,
)
from vendors.models import Vendor, VendorState

logger = logging.getLogger(__name__)

HUNDRED = Decimal(100)
ZERO = Decimal(0)
# The five criteria every new RFQ starts with; procurement may change them while it is a draft.
DEFAULT_CRITERIA: tuple[tuple[str, str, Decimal], ...] = (
    (CriterionKind.TCO, "Total cost of ownership", Decimal(50)),
    (CriterionKind.DELIVERY, "Delivery time", Decimal(20)),
    (CriterionKind.RISK, "Vendor risk tier", Decimal(15)),
    (CriterionKind.PERFORMANCE, "Past performance", Decimal(10)),
    (CriterionKind.CUSTOM, "Quality of the proposal", Decimal(5)),
)
# Criteria the platform computes: one of each at most (a second would count it twice).
COMPUTED_KINDS = (
    CriterionKind.TCO,
    CriterionKind.DELIVERY,
    CriterionKind.RISK,
    CriterionKind.PERFORMANCE,
)
DEFAULT_DEADLINE_DAYS = 7
DEFAULT_DEADLINE_HOUR = 17
MAX_LINES = 200
MAX_CRITERIA = 20
TEXT_MAX = 5000
INSTRUCTIONS_MAX = 10_000
# Column sizes (sourcing/models.py): a value that does not fit would be a 500, not a message.
PRICE_LIMIT = Decimal(10) ** 12  # RfqLine.estimated_unit_price, max_digits=14, 2 places
TOTAL_LIMIT = Decimal(10) ** 14  # Rfq.target_price / walk_away_price, max_digits=16
QUANTITY_LIMIT = Decimal(10) ** 9  # RfqLine.quantity, max_digits=12, 3 places

# A request may be sourced in these states when the approval policy's quotes rule applies.
BEFORE_APPROVAL = (RequestState.SUBMITTED, RequestState.PENDING_APPROVAL)
# Vendors who may be invited; the ones not yet approved are flagged on every page.
INVITABLE_VENDOR_STATES = (VendorState.APPROVED, VendorState.PROSPECT, VendorState.UNDER_REVIEW)
NOT_INVITABLE_VENDOR_STATES = (VendorState.SUSPENDED, VendorState.BLOCKED, VendorState.OFFBOARDED)
# The RFQ states in which vendors were told about the RFQ (and so are told what changes).
VENDORS_KNOW = (RfqState.OPEN, RfqState.CLOSED, RfqState.AWARD_PENDING)

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def when(value: dt.datetime) -> str:
    """A moment as people read it here: "3 Dec 2026 17:00" (local time)."""
    return dateformat.format(timezone.localtime(value), "j M Y H:i")


def money(amount: Decimal, currency: str) -> str:
    return f"{amount:,.2f} {currency}"


def percent(value: Decimal) -> str:
    """95.00 -> "95", 92.50 -> "92.5"."""
    return f"{value.normalize():f}"


# --- Inputs --------------------------------------------------------------------------------


@dataclass(frozen=True)
class RfqLineInput:
    description: str
    quantity: Decimal
    category_id: int
    unit: str = "each"
    billing: str = Billing.ONE_OFF
    estimated_unit_price: Decimal | None = None
    request_line_id: int | None = None


@dataclass(frozen=True)
class CriterionInput:
    kind: str
    name: str
    weight: Decimal


# --- Selectors -----------------------------------------------------------------------------


def rfqs_visible(by: User) -> QuerySet[Rfq]:
    """RFQs `by` may see (procurement, finance and admins see all), newest first, with the
    number of vendors invited and of current quotes received."""
    if not may_see_sourcing(by):
        return Rfq.objects.none()
    return (
        Rfq.objects.select_related("request", "created_by")
        .annotate(
            invited_count=Count("invitations", distinct=True),
            quotes_received=Count(
                "invitations__quotes",
                filter=Q(
                    invitations__quotes__superseded_at__isnull=True,
                    invitations__declined_at__isnull=True,
                ),
                distinct=True,
            ),
        )
        # A GROUP BY query ignores Meta.ordering: say it again, for stable pages.
        .order_by("-created_at", "-id")
    )


def rfq_get(by: User, rfq_id: int) -> Rfq:
    """The RFQ, or NotFound for one that does not exist or that `by` may not see."""
    rfq = rfqs_visible(by).filter(pk=rfq_id).first()
    if rfq is None:
        raise NotFound("No such RFQ.")
    return rfq


def rfq_quotes_received(rfq: Rfq) -> int:
    """Vendors (not declined) with a current quote."""
    # Both quote conditions in one filter(): one join, and an invitation without quotes
    # (whose outer-joined superseded_at is null too) is not counted.
    return (
        Invitation.objects.filter(
            rfq=rfq,
            declined_at__isnull=True,
            quotes__isnull=False,
            quotes__superseded_at__isnull=True,
        )
        .distinct()
        .count()
    )


def rfq_is_sealed(rfq: Rfq) -> bool:
    """Quotes are sealed (no amount shown to anyone) until the RFQ is closed.

    An RFQ cancelled while open stays sealed: cancelling must not become a way to read the
    prices early (and then source the same request again with them in mind). The
    comparison page and the evaluation API apply the same rule.
    """
    if rfq.state == RfqState.CANCELLED:
        return rfq.closed_at is None
    return rfq.state in (RfqState.DRAFT, RfqState.OPEN)


def rfq_was_closed(rfq: Rfq) -> bool:
    """Whether the RFQ was ever closed (its quotes unsealed), even if it was reopened since."""
    from django.contrib.contenttypes.models import ContentType

    return (
        rfq.closed_at is not None
        or AuditEntry.objects.filter(
            content_type=ContentType.objects.get_for_model(Rfq),
            object_id=rfq.pk,
            action__in=("closed", "closed_early", "reopened"),
        ).exists()
    )


def rfq_prices_editable(rfq: Rfq) -> bool:
    """The target and walk-away prices may be set only before anyone could see a quote: a
    draft, or an open RFQ before its deadline that was never closed (a reopen does not make
    the prices editable again: the quotes were seen)."""
    if rfq.state == RfqState.DRAFT:
        return True
    return rfq.state == RfqState.OPEN and rfq.deadline > timezone.now() and not rfq_was_closed(rfq)


def rfq_weights_total(rfq: Rfq) -> Decimal:
    return sum((criterion.weight for criterion in rfq.criteria.all()), ZERO)


@dataclass(frozen=True)
class QuoteReceipt:
    """Who submitted and when: all the RFQ page shows of a quote before the RFQ closes."""

    invitation: Invitation
    revision: int | None
    submitted_at: dt.datetime | None


def rfq_quote_receipts(rfq: Rfq) -> list[QuoteReceipt]:
    receipts = []
    for invitation in rfq.invitations.select_related("vendor").prefetch_related("quotes"):
        current = next((q for q in invitation.quotes.all() if q.superseded_at is None), None)
        receipts.append(
            QuoteReceipt(
                invitation=invitation,
                revision=current.revision if current else None,
                submitted_at=current.submitted_at if current else None,
            )
        )
    return receipts


def rfq_sourcing_rule(request: PurchaseRequest) -> tuple[bool, int, str]:
    """(may an RFQ be opened for `request` now, quotes to freeze on it, why not).

    An approved request may always be sourced. One still awaiting approval only when the
    active policy needs quotes (quotes_required > 0) and the request's total, in the base
    currency, is at least quotes_required_above (or that is empty). The number of quotes is
    frozen on the RFQ whenever that rule applies.
    """
    from approvals.services import active_policy

    policy = active_policy()
    rule_applies = False
    needed = 0
    if policy is not None and policy.quotes_required > 0:
        threshold = policy.quotes_required_above
        if threshold is None:
            rule_applies = True
        else:
            total = to_base_currency(request.total, request.currency, on=timezone.localdate())
            rule_applies = total >= threshold
        needed = policy.quotes_required if rule_applies else 0
    if request.state == RequestState.APPROVED:
        return True, needed, ""
    state = request.get_state_display().lower()
    if request.state in BEFORE_APPROVAL:
        if rule_applies:
            return True, needed, ""
        if policy is None or policy.quotes_required == 0:
            rule = "the approval policy requires no quotes"
        else:
            rule = (
                f"the approval policy requires {policy.quotes_required} quotes only from "
                f"{money(policy.quotes_required_above or ZERO, settings.BASE_CURRENCY)}"
            )
        return (
            False,
            0,
            f"{request.reference} is {state}: an RFQ can be opened before approval only "
            f"when the policy requires quotes for its amount, and {rule}. "
            "Wait for the approval.",
        )
    return (
        False,
        0,
        f"{request.reference} is {state}: only an approved request (or one awaiting "
        "approval that needs quotes) can be sourced.",
    )


# How each audit action reads in the RFQ's history.
HISTORY_VERBS = {
    "created": "opened an RFQ draft",
    "edited": "edited the RFQ",
    "lines_saved": "changed the lines",
    "criteria_saved": "changed the evaluation criteria",
    "prices_set": "set the target and walk-away prices",
    "vendor_invited": "invited a vendor",
    "invitation_removed": "removed an invitation",
    "invitation_resent": "sent a new link",
    "opened": "opened the RFQ for quotes",
    "closed": "closed the RFQ",
    "closed_early": "closed the RFQ early",
    "reopened": "reopened the RFQ",
    "cancelled": "cancelled the RFQ",
    "deadline_changed": "changed the deadline",
    "question_asked": "received a question",
    "question_answered": "answered a question",
    "clarification_published": "published a clarification",
    "quote_submitted": "received a quote",
    "invitation_declined": "received a decline",
    "counter_offer_answered": "received a reply to a counter-offer",
    "counter_offer_declined": "received a declined counter-offer",
}


def rfq_history(rfq: Rfq) -> list[dict[str, Any]]:
    """The RFQ's audit entries as rows of templates/vendors/_history.html."""
    from django.contrib.contenttypes.models import ContentType

    labels = dict(RfqState.choices)
    entries = AuditEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(Rfq), object_id=rfq.pk
    ).select_related("actor")
    return [
        {
            "entry": entry,
            "verb": HISTORY_VERBS.get(entry.action, entry.action.replace("_", " ")),
            "from_label": labels.get(entry.from_state, entry.from_state),
            "to_label": labels.get(entry.to_state, entry.to_state),
            "comment": entry.comment,
        }
        for entry in entries
    ]


def rfq_available_actions(rfq: Rfq, user: User) -> list[str]:
    """The state changes `user` may make now: open, close, reopen, cancel."""
    if not may_source(user):
        return []
    actions = {
        RfqState.DRAFT: ["open", "cancel"],
        RfqState.OPEN: ["close", "cancel"],
        RfqState.CLOSED: ["reopen", "cancel"],
        RfqState.AWARD_PENDING: ["cancel"],
    }
    return actions.get(RfqState(rfq.state), [])


def invitable_vendors(rfq: Rfq) -> QuerySet[Vendor]:
    """Vendors who may be invited and are not yet: approved first, then prospects."""
    return (
        Vendor.objects.filter(state__in=INVITABLE_VENDOR_STATES)
        .exclude(rfq_invitations__rfq=rfq)
        .order_by("legal_name")
    )


# --- Small helpers ---------------------------------------------------------------------------


def _text(value: str) -> str:
    # PostgreSQL text cannot hold NUL: dropped here, for every caller (pages and API).
    return str(value).replace("\x00", "").strip()


def _require_sourcer(by: User, rfq_id: int) -> None:
    # An RFQ the user may not see answers exactly like one that does not exist.
    if not may_see_sourcing(by) or not Rfq.objects.filter(pk=rfq_id).exists():
        raise NotFound("No such RFQ.")
    if not may_source(by):
        raise NotAllowed("Only procurement can run RFQs.")


def _lock_rfq(rfq_id: int) -> Rfq:
    # Locked: two buyers (or a buyer and the deadline task) must not change it at once, and a
    # vendor's quote, which locks it too, must not slip in beside a close.
    rfq = (
        Rfq.objects.select_for_update(of=("self",))
        .select_related("request", "created_by")
        .filter(pk=rfq_id)
        .first()
    )
    if rfq is None:
        raise NotFound("No such RFQ.")
    return rfq


def _rfq_for_change(rfq_id: int, by: User) -> Rfq:
    _require_sourcer(by, rfq_id)
    return _lock_rfq(rfq_id)


def _transition(rfq: Rfq, method: str) -> None:
    try:
        getattr(rfq, method)()
        rfq.save()
    except (TransitionNotAllowed, ConcurrentTransition):
        raise Conflict("This RFQ was changed by someone else; reload and try again.") from None


def _state_conflict(rfq: Rfq, allowed: str) -> Conflict:
    return Conflict(f"{rfq.reference} is {rfq.get_state_display().lower()}; {allowed}")


def _reason(reason: str, *, field: str = "reason") -> str:
    reason = _text(reason)
    if not reason:
        raise InvalidInput(
            "Give a reason: it is kept in the RFQ's history.",
            fields={field: ["Give a reason."]},
        )
    if len(reason) > TEXT_MAX:
        raise InvalidInput(
            f"The reason may have at most {TEXT_MAX} characters.",
            fields={field: [f"At most {TEXT_MAX} characters."]},
        )
    return reason


def _future_deadline(deadline: dt.datetime | None, *, field: str = "deadline") -> dt.datetime:
    if deadline is None:
        raise InvalidInput("Give a deadline.", fields={field: ["Give a deadline."]})
    if timezone.is_naive(deadline):
        deadline = timezone.make_aware(deadline)
    if deadline <= timezone.now():
        message = f"The deadline ({when(deadline)}) must be in the future."
        raise InvalidInput(message, fields={field: ["Choose a moment in the future."]})
    return deadline


def default_deadline(now: dt.datetime | None = None) -> dt.datetime:
    """A week from today at 17:00, local time."""
    day = timezone.localdate(now or timezone.now()) + dt.timedelta(days=DEFAULT_DEADLINE_DAYS)
    return timezone.make_aware(dt.datetime.combine(day, dt.time(DEFAULT_DEADLINE_HOUR)))


def _decimal(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def _places(value: Decimal) -> int:
    exponent = value.as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def _invitees(rfq: Rfq) -> list[int]:
    """Invitations to tell about the RFQ: every vendor invited that has not declined."""
    return list(
        rfq.invitations.filter(declined_at__isnull=True).order_by("id").values_list("pk", flat=True)
    )


def _queue(task_name: str, *args: Any) -> None:
    """Queue an rfq_tasks task once the transaction commits (tasks are looked up lazily:
    sourcing.rfq_tasks imports this module)."""
    from sourcing import rfq_tasks

    task = getattr(rfq_tasks, task_name)
    enqueue(task, *args)


# --- Create ----------------------------------------------------------------------------------


def rfq_create_from_request(*, request_id: int, by: User) -> Rfq:
    """Open a draft RFQ from a purchase request. Procurement only.

    The request must be approved, or awaiting approval when the policy's quotes rule
    applies (rfq_sourcing_rule). Locks the request (two buyers clicking at once get one
    RFQ), refuses a second live RFQ, copies the request's lines, adds the five default
    criteria and a deadline a week away at 17:00, and audits on the RFQ.
    """
    if not may_source(by):
        raise NotAllowed("Only procurement can open RFQs.")
    with transaction.atomic():
        request = (
            PurchaseRequest.objects.select_for_update(of=("self",))
            .select_related("category")
            .filter(pk=request_id)
            .first()
        )
        if request is None:
            raise NotFound("No such purchase request.")
        live = Rfq.objects.filter(request=request).exclude(state=RfqState.CANCELLED).first()
        if live is not None:
            raise Conflict(
                f"{request.reference} already has {live.reference} "
                f"({live.get_state_display().lower()}); cancel it first to start again."
            )
        allowed, quotes_required, why_not = rfq_sourcing_rule(request)
        if not allowed:
            raise Conflict(why_not)
        rfq = Rfq.objects.create(
            request=request,
            title=request.title[:200],
            currency=request.currency,
            deadline=default_deadline(),
            quotes_required=quotes_required,
            created_by=by,
        )
        for position, item in enumerate(request.line_items.order_by("position", "id")):
            RfqLine.objects.create(
                rfq=rfq,
                position=position,
                request_line=item,
                description=item.description,
                category=request.category,
                quantity=item.quantity,
                unit=item.unit,
                estimated_unit_price=item.unit_price,
            )
        for position, (kind, name, weight) in enumerate(DEFAULT_CRITERIA):
            Criterion.objects.create(
                rfq=rfq, position=position, kind=kind, name=name, weight=weight
            )
        comment = f"From {request.reference}"
        if quotes_required:
            comment += f"; the policy needs {quotes_required} quotes"
        audit_record(
            target=rfq, actor=by, action="created", to_state=rfq.state, comment=comment + "."
        )
    logger.info("rfq %s created from request %s by %s", rfq.pk, request.pk, by.username)
    return rfq


# --- Edit a draft (and the deadline of an open one) ------------------------------------------


def rfq_update(
    *,
    rfq_id: int,
    by: User,
    title: str,
    instructions: str,
    deadline: dt.datetime,
    term_months: int,
    currency: str,
) -> Rfq:
    """Change the RFQ's title, instructions, deadline, term and currency.

    Draft: everything. Open: title, instructions and the deadline (in the future); the term
    and the currency are fixed once vendors quote against them. A deadline moved while open
    is emailed to the invited vendors on commit.
    """
    _require_sourcer(by, rfq_id)
    errors: dict[str, list[str]] = {}
    title = _text(title)
    instructions = _text(instructions)
    currency = _text(currency).upper()
    if not title:
        errors["title"] = ["Give the RFQ a title."]
    elif len(title) > 200:
        errors["title"] = ["At most 200 characters."]
    if len(instructions) > INSTRUCTIONS_MAX:
        errors["instructions"] = [f"At most {INSTRUCTIONS_MAX} characters."]
    if (
        isinstance(term_months, bool)
        or not isinstance(term_months, int)
        or not 1 <= term_months <= 120
    ):
        errors["term_months"] = ["A whole number of months from 1 to 120."]
    if currency not in settings.CURRENCIES:
        errors["currency"] = [f"Use one of: {', '.join(settings.CURRENCIES)}."]
    try:
        deadline = _future_deadline(deadline)
    except InvalidInput as error:
        errors.update(error.fields)
    if errors:
        raise InvalidInput(next(iter(errors.values()))[0], fields=errors)
    with transaction.atomic():
        rfq = _lock_rfq(rfq_id)
        if rfq.state not in (RfqState.DRAFT, RfqState.OPEN):
            raise _state_conflict(rfq, "only a draft or an open RFQ can be edited.")
        if rfq.state == RfqState.OPEN:
            fixed = {}
            if term_months != rfq.term_months:
                fixed["term_months"] = ["Fixed once the RFQ is open."]
            if currency != rfq.currency:
                fixed["currency"] = ["Fixed once the RFQ is open."]
            if fixed:
                raise Conflict(
                    "The term and the currency are fixed once the RFQ is open: vendors "
                    "quote against them. Cancel and start again to change them.",
                    fields=fixed,
                )
        if deadline.replace(second=0, microsecond=0) == rfq.deadline.replace(
            second=0, microsecond=0
        ):
            # The page sends minutes: the same minute is the same deadline, not a move.
            deadline = rfq.deadline
        deadline_moved = deadline != rfq.deadline
        old_deadline = rfq.deadline
        rfq.title = title
        rfq.instructions = instructions
        rfq.deadline = deadline
        rfq.term_months = term_months
        rfq.currency = currency
        rfq.save(update_fields=["title", "instructions", "deadline", "term_months", "currency"])
        audit_record(target=rfq, actor=by, action="edited", comment=f"Deadline {when(deadline)}.")
        if deadline_moved and rfq.state == RfqState.OPEN:
            audit_record(
                target=rfq,
                actor=by,
                action="deadline_changed",
                comment=f"From {when(old_deadline)} to {when(deadline)}; vendors told.",
            )
            for invitation_id in _invitees(rfq):
                _queue("notify_rfq_deadline_changed", invitation_id, False)
    return rfq


def rfq_lines_save(*, rfq_id: int, by: User, lines: Sequence[RfqLineInput]) -> Rfq:
    """Replace a draft RFQ's lines (at least one). Every line is checked before anything is
    written; errors are keyed `lines[<index>].<field>`."""
    _require_sourcer(by, rfq_id)
    errors: dict[str, list[str]] = {}
    if not lines:
        errors["lines"] = ["An RFQ needs at least one line."]
    elif len(lines) > MAX_LINES:
        errors["lines"] = [f"At most {MAX_LINES} lines."]
    categories = set(Category.objects.values_list("pk", flat=True))
    cleaned: list[RfqLineInput] = []
    for index, line in enumerate(lines):
        key = f"lines[{index}]"
        description = _text(line.description)
        unit = _text(line.unit) or "each"
        quantity = _decimal(line.quantity)
        estimate = _decimal(line.estimated_unit_price)
        if not description:
            errors[f"{key}.description"] = ["Describe what is to be quoted."]
        elif len(description) > 300:
            errors[f"{key}.description"] = ["At most 300 characters."]
        if quantity is None or quantity <= 0:
            errors[f"{key}.quantity"] = ["A quantity must be more than 0."]
        elif _places(quantity) > 3 or quantity >= QUANTITY_LIMIT:
            errors[f"{key}.quantity"] = ["At most 3 decimal places and below 1,000,000,000."]
        if len(unit) > 20:
            errors[f"{key}.unit"] = ["At most 20 characters."]
        if line.billing not in Billing.values:
            errors[f"{key}.billing"] = [f"Use one of: {', '.join(Billing.values)}."]
        if line.category_id not in categories:
            errors[f"{key}.category"] = ["Choose a category."]
        if line.estimated_unit_price not in (None, "") and (
            estimate is None or estimate < 0 or _places(estimate) > 2 or estimate >= PRICE_LIMIT
        ):
            errors[f"{key}.estimated_unit_price"] = [
                "An estimate is an amount of 0 or more with at most 2 decimal places."
            ]
        if not any(name.startswith(key + ".") for name in errors):
            cleaned.append(
                RfqLineInput(
                    description=description,
                    quantity=quantity or ZERO,
                    category_id=line.category_id,
                    unit=unit,
                    billing=line.billing,
                    estimated_unit_price=estimate,
                    request_line_id=line.request_line_id,
                )
            )
    if errors:
        count = len([name for name in errors if name != "lines"]) or 1
        message = errors.get("lines", [""])[0] or (
            f"{count} value{'s need' if count > 1 else ' needs'} correcting; nothing was saved."
        )
        raise InvalidInput(message, fields=errors)
    with transaction.atomic():
        rfq = _lock_rfq(rfq_id)
        if rfq.state != RfqState.DRAFT:
            raise _state_conflict(rfq, "lines can be changed only while it is a draft.")
        request_lines = set(rfq.request.line_items.values_list("pk", flat=True))
        rfq.lines.all().delete()
        for position, line in enumerate(cleaned):
            RfqLine.objects.create(
                rfq=rfq,
                position=position,
                request_line_id=(
                    line.request_line_id if line.request_line_id in request_lines else None
                ),
                description=line.description,
                category_id=line.category_id,
                quantity=line.quantity,
                unit=line.unit,
                billing=line.billing,
                estimated_unit_price=line.estimated_unit_price,
            )
        audit_record(
            target=rfq,
            actor=by,
            action="lines_saved",
            comment=f"{len(cleaned)} line{'s' if len(cleaned) != 1 else ''}.",
        )
    return rfq


def criteria_errors(criteria: Sequence[CriterionInput]) -> dict[str, list[str]]:
    """What is wrong with a set of criteria, keyed `criteria` and `criteria[<i>].<field>`."""
    errors: dict[str, list[str]] = {}
    if not criteria:
        return {"criteria": ["Give at least one criterion."]}
    if len(criteria) > MAX_CRITERIA:
        return {"criteria": [f"At most {MAX_CRITERIA} criteria."]}
    total = ZERO
    seen: set[str] = set()
    for index, criterion in enumerate(criteria):
        key = f"criteria[{index}]"
        name = _text(criterion.name)
        weight = _decimal(criterion.weight)
        if criterion.kind not in CriterionKind.values:
            errors[f"{key}.kind"] = [f"Use one of: {', '.join(CriterionKind.values)}."]
        elif criterion.kind in COMPUTED_KINDS:
            if criterion.kind in seen:
                label = CriterionKind(criterion.kind).label.lower()
                errors[f"{key}.kind"] = [f"Only one criterion may score the {label}."]
            seen.add(criterion.kind)
        if not name:
            errors[f"{key}.name"] = ["Give the criterion a name."]
        elif len(name) > 120:
            errors[f"{key}.name"] = ["At most 120 characters."]
        if weight is None or not ZERO <= weight <= HUNDRED or _places(weight) > 2:
            errors[f"{key}.weight"] = ["A weight is a percentage from 0 to 100."]
        else:
            total += weight
    if not errors and total != HUNDRED:
        errors["criteria"] = [f"The weights add up to {percent(total)}%; they must add up to 100%."]
    return errors


def rfq_criteria_save(*, rfq_id: int, by: User, criteria: Sequence[CriterionInput]) -> Rfq:
    """Replace a draft RFQ's evaluation criteria. The weights (each 0-100) must add up to
    exactly 100; at most one criterion of each computed kind; every one needs a name."""
    _require_sourcer(by, rfq_id)
    errors = criteria_errors(criteria)
    if errors:
        message = errors.get("criteria", [""])[0] or (
            "Some criteria need correcting; nothing was saved."
        )
        raise InvalidInput(message, fields=errors)
    with transaction.atomic():
        rfq = _lock_rfq(rfq_id)
        if rfq.state != RfqState.DRAFT:
            raise _state_conflict(rfq, "criteria can be changed only while it is a draft.")
        rfq.criteria.all().delete()
        for position, criterion in enumerate(criteria):
            Criterion.objects.create(
                rfq=rfq,
                position=position,
                kind=criterion.kind,
                name=_text(criterion.name),
                weight=Decimal(str(criterion.weight)),
            )
        audit_record(
            target=rfq,
            actor=by,
            action="criteria_saved",
            comment="; ".join(
                f"{_text(c.name)} {percent(Decimal(str(c.weight)))}%" for c in criteria
            ),
        )
    return rfq


def rfq_prices_set(
    *, rfq_id: int, by: User, target_price: Decimal, walk_away_price: Decimal
) -> Rfq:
    """Set the target and walk-away prices (TCO over the term, in the RFQ's currency).

    Set before quotes are seen: allowed while a draft and while open before the deadline;
    refused once the RFQ is closed, and after a reopen (rfq_prices_editable). Both > 0,
    target <= walk-away. Audited.
    """
    _require_sourcer(by, rfq_id)
    errors: dict[str, list[str]] = {}
    target = _decimal(target_price)
    walk_away = _decimal(walk_away_price)
    for name, value in (("target_price", target), ("walk_away_price", walk_away)):
        if value is None or value <= 0:
            errors[name] = ["An amount more than 0."]
        elif _places(value) > 2 or value >= TOTAL_LIMIT:
            errors[name] = ["At most 2 decimal places and below 100,000,000,000,000."]
    if not errors and target is not None and walk_away is not None and target > walk_away:
        errors["walk_away_price"] = ["The walk-away price cannot be below the target."]
    if errors:
        raise InvalidInput(next(iter(errors.values()))[0], fields=errors)
    assert target is not None
    assert walk_away is not None
    with transaction.atomic():
        rfq = _lock_rfq(rfq_id)
        if not rfq_prices_editable(rfq):
            deadline_passed = rfq.state == RfqState.OPEN and rfq.deadline <= timezone.now()
            if deadline_passed:
                why = "past its deadline"
            elif rfq.state == RfqState.OPEN:
                why = "reopened after its quotes were seen"
            else:
                why = rfq.get_state_display().lower()
            raise Conflict(
                "The target and walk-away prices are set before quotes are seen: they can "
                f"no longer be changed ({rfq.reference} is {why})."
            )
        rfq.target_price = target
        rfq.walk_away_price = walk_away
        rfq.prices_set_at = timezone.now()
        rfq.save(update_fields=["target_price", "walk_away_price", "prices_set_at"])
        audit_record(
            target=rfq,
            actor=by,
            action="prices_set",
            comment=f"Target {money(target, rfq.currency)}, walk-away "
            f"{money(walk_away, rfq.currency)}.",
        )
    return rfq


# --- Invitations -----------------------------------------------------------------------------


def _clean_contact(contact_name: str, contact_email: str) -> tuple[str, str]:
    errors: dict[str, list[str]] = {}
    contact_name = " ".join(_text(contact_name).split())
    contact_email = _text(contact_email)
    if not contact_name:
        errors["contact_name"] = ["Give the name of the person who will quote."]
    elif len(contact_name) > 120:
        errors["contact_name"] = ["At most 120 characters."]
    if not _EMAIL.fullmatch(contact_email) or len(contact_email) > 254:
        errors["contact_email"] = ["Enter a valid email address."]
    if errors:
        raise InvalidInput(next(iter(errors.values()))[0], fields=errors)
    return contact_name, contact_email


def rfq_invite(
    *,
    rfq_id: int,
    by: User,
    vendor_id: int,
    contact_name: str = "",
    contact_email: str = "",
) -> Invitation:
    """Invite a vendor to quote (draft or open RFQ). Procurement only.

    Approved vendors, and prospects or vendors under review (flagged "not yet approved");
    suspended, blocked and offboarded ones are refused (409). The contact defaults to the
    vendor's primary contact. Locks the RFQ and the vendor (a vendor blocked meanwhile is
    not invited). While the RFQ is open the invitation email goes out on commit.
    """
    _require_sourcer(by, rfq_id)
    with transaction.atomic():
        rfq = _lock_rfq(rfq_id)
        if rfq.state not in (RfqState.DRAFT, RfqState.OPEN):
            raise _state_conflict(rfq, "vendors can be invited only while a draft or open.")
        if rfq.state == RfqState.OPEN and rfq.deadline <= timezone.now():
            raise Conflict(f"The deadline of {rfq.reference} has passed; nobody can be invited.")
        vendor = Vendor.objects.select_for_update().filter(pk=vendor_id).first()
        if vendor is None:
            raise InvalidInput("Choose a vendor.", fields={"vendor": ["Choose a vendor."]})
        if vendor.state in NOT_INVITABLE_VENDOR_STATES:
            raise Conflict(
                f"{vendor.legal_name} is {vendor.get_state_display().lower()}: it cannot be "
                "invited to quote.",
                fields={"vendor": [f"{vendor.get_state_display()} vendors cannot be invited."]},
            )
        if Invitation.objects.filter(rfq=rfq, vendor=vendor).exists():
            raise Conflict(
                f"{vendor.legal_name} is already invited to {rfq.reference}.",
                fields={"vendor": ["Already invited."]},
            )
        if not _text(contact_name) and not _text(contact_email):
            contact = vendor.contacts.first()  # the primary contact first (model ordering)
            if contact is None:
                message = (
                    f"{vendor.legal_name} has no contact on file: give the name and email of "
                    "the person who will quote."
                )
                raise InvalidInput(message, fields={"contact_email": [message]})
            contact_name, contact_email = contact.name, contact.email
        contact_name, contact_email = _clean_contact(contact_name, contact_email)
        is_prospect = vendor.state != VendorState.APPROVED
        invitation = Invitation.objects.create(
            rfq=rfq,
            vendor=vendor,
            contact_name=contact_name,
            contact_email=contact_email,
            is_prospect=is_prospect,
            invited_by=by,
        )
        flag = " (not yet approved)" if is_prospect else ""
        audit_record(
            target=rfq,
            actor=by,
            action="vendor_invited",
            comment=f"{vendor.legal_name}{flag}; contact {contact_name} <{contact_email}>.",
        )
        if rfq.state == RfqState.OPEN:
            _queue("notify_rfq_invitation", invitation.pk)
    return invitation


def invitation_remove(*, invitation_id: int, by: User) -> Rfq:
    """Take a vendor off a draft RFQ (nothing was sent to it yet)."""
    invitation = Invitation.objects.filter(pk=invitation_id).first()
    if invitation is None or not may_see_sourcing(by):
        raise NotFound("No such invitation.")
    _require_sourcer(by, invitation.rfq_id)
    with transaction.atomic():
        rfq = _lock_rfq(invitation.rfq_id)
        if rfq.state != RfqState.DRAFT:
            raise _state_conflict(
                rfq, "an invitation can be removed only while a draft (it was sent)."
            )
        invitation = Invitation.objects.select_related("vendor").get(pk=invitation_id)
        name = invitation.vendor.legal_name
        invitation.delete()
        audit_record(target=rfq, actor=by, action="invitation_removed", comment=f"{name}.")
    return rfq


def invitation_resend(*, invitation_id: int, by: User) -> Invitation:
    """Send the vendor a fresh link: the nonce rotates, so every earlier link stops working.

    For an open RFQ, or a closed one (a vendor answering a counter-offer); not for a vendor
    who declined. Emails on commit.
    """
    invitation = Invitation.objects.filter(pk=invitation_id).first()
    if invitation is None or not may_see_sourcing(by):
        raise NotFound("No such invitation.")
    _require_sourcer(by, invitation.rfq_id)
    from uuid import uuid4

    with transaction.atomic():
        rfq = _lock_rfq(invitation.rfq_id)
        invitation = (
            Invitation.objects.select_for_update().select_related("vendor").get(pk=invitation_id)
        )
        negotiating = (
            rfq.state == RfqState.CLOSED
            and invitation.counter_offers.filter(state=CounterOfferState.OPEN).exists()
        )
        if rfq.state != RfqState.OPEN and not negotiating:
            raise _state_conflict(
                rfq,
                "a new link is sent only while it is open, or to answer an open counter-offer.",
            )
        if invitation.declined_at is not None:
            raise Conflict(
                f"{invitation.vendor.legal_name} declined to quote on "
                f"{when(invitation.declined_at)}; no new link is sent."
            )
        if invitation.vendor.state in NOT_INVITABLE_VENDOR_STATES:
            raise Conflict(
                f"{invitation.vendor.legal_name} is "
                f"{invitation.vendor.get_state_display().lower()}; no new link is sent."
            )
        invitation.link_nonce = uuid4()
        invitation.save(update_fields=["link_nonce"])
        audit_record(
            target=rfq,
            actor=by,
            action="invitation_resent",
            comment=f"{invitation.vendor.legal_name}: a new link went to "
            f"{invitation.contact_email}; earlier links no longer work.",
        )
        _queue("notify_rfq_invitation", invitation.pk)
    return invitation


# --- Open, close, reopen, cancel ----------------------------------------------------------


def rfq_open_blockers(rfq: Rfq) -> dict[str, list[str]]:
    """What keeps a draft from opening, keyed by what to fix; empty when it can open."""
    blockers: dict[str, list[str]] = {}
    if not rfq.lines.exists():
        blockers["lines"] = ["Add at least one line."]
    criteria = list(rfq.criteria.all())
    total = sum((c.weight for c in criteria), ZERO)
    if not criteria:
        blockers["criteria"] = ["Add the evaluation criteria (weights adding up to 100%)."]
    elif total != HUNDRED:
        blockers["criteria"] = [
            f"Make the criteria weights add up to 100% (they add up to {percent(total)}%)."
        ]
    if rfq.deadline <= timezone.now():
        blockers["deadline"] = ["Set a deadline in the future."]
    invitations = list(rfq.invitations.select_related("vendor"))
    if not invitations:
        blockers["invitations"] = ["Invite at least one vendor."]
    unfit = [
        i.vendor.legal_name for i in invitations if i.vendor.state in NOT_INVITABLE_VENDOR_STATES
    ]
    if unfit:
        blockers.setdefault("invitations", []).append(
            f"Remove {', '.join(unfit)}: {'it is' if len(unfit) == 1 else 'they are'} no "
            "longer allowed to quote (suspended, blocked or offboarded)."
        )
    missing = [
        label
        for label, value in (("target", rfq.target_price), ("walk-away", rfq.walk_away_price))
        if value is None
    ]
    if missing:
        blockers["prices"] = [
            f"Set the {' and '.join(missing)} price{'s' if len(missing) > 1 else ''} "
            "before quotes are seen."
        ]
    return blockers


def rfq_open(*, rfq_id: int, by: User) -> Rfq:
    """Open a draft for quotes. Needs at least one line, weights adding up to 100, a deadline
    in the future, at least one invitation and the target and walk-away prices: a 409 lists
    everything missing at once. The invitation emails go out on commit."""
    _require_sourcer(by, rfq_id)
    with transaction.atomic():
        rfq = _lock_rfq(rfq_id)
        if rfq.state != RfqState.DRAFT:
            raise _state_conflict(rfq, "only a draft can be opened.")
        blockers = rfq_open_blockers(rfq)
        if blockers:
            steps = [message for messages in blockers.values() for message in messages]
            raise Conflict(f"{rfq.reference} cannot open yet: " + " ".join(steps), fields=blockers)
        from_state = rfq.state
        _transition(rfq, "open")
        invitees = _invitees(rfq)
        audit_record(
            target=rfq,
            actor=by,
            action="opened",
            from_state=from_state,
            to_state=rfq.state,
            comment=f"{len(invitees)} vendor{'s' if len(invitees) != 1 else ''} invited; "
            f"deadline {when(rfq.deadline)}.",
        )
        for invitation_id in invitees:
            _queue("notify_rfq_invitation", invitation_id)
    logger.info("rfq %s opened by %s", rfq.pk, by.username)
    return rfq


def _close(rfq: Rfq, *, by: User | None, action: str) -> None:
    """Close a locked open RFQ, audit it and tell its creator (once per close)."""
    from_state = rfq.state
    rfq.close_notified_at = timezone.now()
    _transition(rfq, "close")
    received = rfq_quotes_received(rfq)
    comment = f"{received} quote{'s' if received != 1 else ''} received."
    if rfq.quotes_required and received < rfq.quotes_required:
        comment += f" The policy needs {rfq.quotes_required}."
    audit_record(
        target=rfq,
        actor=by,
        action=action,
        from_state=from_state,
        to_state=rfq.state,
        comment=comment,
    )
    if by is None or by.pk != rfq.created_by_id:
        _queue("notify_rfq_closed", rfq.pk)


def rfq_close(*, rfq_id: int, by: User) -> Rfq:
    """Close an open RFQ before its deadline: no more quotes; the quotes are unsealed."""
    _require_sourcer(by, rfq_id)
    with transaction.atomic():
        rfq = _lock_rfq(rfq_id)
        if rfq.state != RfqState.OPEN:
            raise _state_conflict(rfq, "only an open RFQ can be closed.")
        _close(rfq, by=by, action="closed_early")
    return rfq


def rfqs_close_due(*, now: dt.datetime | None = None) -> int:
    """Close every open RFQ whose deadline has passed (the beat task, every minute), and
    email each one's creator that its quotes are ready. Each RFQ in its own transaction under
    its row lock, re-checked there: a reopen or an early close meanwhile is left alone.
    Returns how many were closed."""
    now = now or timezone.now()
    closed = 0
    due = Rfq.objects.filter(state=RfqState.OPEN, deadline__lte=now).values_list("pk", flat=True)
    for rfq_id in list(due):
        with transaction.atomic():
            rfq = _lock_rfq(rfq_id)
            if rfq.state != RfqState.OPEN or rfq.deadline > now:
                continue
            _close(rfq, by=None, action="closed")
            closed += 1
    if closed:
        logger.info("closed %s rfq(s) past their deadline", closed)
    return closed


def rfq_reopen(*, rfq_id: int, by: User, deadline: dt.datetime, reason: str) -> Rfq:
    """Reopen a closed RFQ with a new deadline in the future and a reason; the invited
    vendors (who have not declined) are emailed the new deadline on commit."""
    _require_sourcer(by, rfq_id)
    errors: dict[str, list[str]] = {}
    try:
        deadline = _future_deadline(deadline)
    except InvalidInput as error:
        errors.update(error.fields)
    try:
        reason = _reason(reason)
    except InvalidInput as error:
        errors.update(error.fields)
    if errors:
        raise InvalidInput(
            "Give a new deadline in the future and a reason to reopen.", fields=errors
        )
    with transaction.atomic():
        rfq = _lock_rfq(rfq_id)
        if rfq.state != RfqState.CLOSED:
            raise _state_conflict(rfq, "only a closed RFQ can be reopened.")
        from_state = rfq.state
        rfq.deadline = deadline
        _transition(rfq, "reopen")
        audit_record(
            target=rfq,
            actor=by,
            action="reopened",
            from_state=from_state,
            to_state=rfq.state,
            comment=f"New deadline {when(deadline)}: {reason}",
        )
        for invitation_id in _invitees(rfq):
            _queue("notify_rfq_deadline_changed", invitation_id, True)
    return rfq


def rfq_cancel(*, rfq_id: int, by: User, reason: str) -> Rfq:
    """Cancel an RFQ not yet awarded (a reason is required). Its quote links stop working,
    open counter-offers are withdrawn and an award awaiting approval is refused; vendors
    who were invited (and have not declined) are told on commit."""
    _require_sourcer(by, rfq_id)
    reason = _reason(reason)
    with transaction.atomic():
        rfq = _lock_rfq(rfq_id)
        if rfq.state in (RfqState.AWARDED, RfqState.CANCELLED):
            raise _state_conflict(rfq, "it can no longer be cancelled.")
        from_state = rfq.state
        for award in rfq.awards.select_for_update().filter(state=AwardState.PENDING_APPROVAL):
            award.refuse()
            award.decided_by = by
            award.decision_comment = f"The RFQ was cancelled: {reason}"[:5000]
            award.save()
        for offer in CounterOffer.objects.select_for_update().filter(
            invitation__rfq=rfq, state=CounterOfferState.OPEN
        ):
            offer.withdraw()
            offer.save()
        _transition(rfq, "cancel")
        audit_record(
            target=rfq,
            actor=by,
            action="cancelled",
            from_state=from_state,
            to_state=rfq.state,
            comment=reason,
        )
        if from_state in VENDORS_KNOW:
            for invitation_id in _invitees(rfq):
                _queue("notify_rfq_cancelled", invitation_id)
    return rfq


# --- Questions and answers -------------------------------------------------------------------


def _answer_text(answer: str, *, field: str = "answer") -> str:
    answer = _text(answer)
    if not answer:
        raise InvalidInput("Write the answer.", fields={field: ["Write the answer."]})
    if len(answer) > INSTRUCTIONS_MAX:
        raise InvalidInput(
            f"At most {INSTRUCTIONS_MAX} characters.",
            fields={field: [f"At most {INSTRUCTIONS_MAX} characters."]},
        )
    return answer


def question_answer(*, question_id: int, by: User, answer: str) -> Question:
    """Answer a vendor's question. Every invited vendor (not declined) is then emailed the
    question and the answer, never who asked; the portal shows it to all of them."""
    question = Question.objects.filter(pk=question_id).first()
    if question is None or not may_see_sourcing(by):
        raise NotFound("No such question.")
    _require_sourcer(by, question.rfq_id)
    answer = _answer_text(answer)
    with transaction.atomic():
        rfq = _lock_rfq(question.rfq_id)
        if rfq.state not in (RfqState.OPEN, RfqState.CLOSED):
            raise _state_conflict(rfq, "questions are answered while it is open or closed.")
        question = Question.objects.select_for_update().get(pk=question_id)
        if question.answered_at is not None:
            raise Conflict(
                "This question was already answered; publish a clarification to add to it."
            )
        question.answer = answer
        question.answered_by = by
        question.answered_at = timezone.now()
        question.save(update_fields=["answer", "answered_by", "answered_at"])
        audit_record(target=rfq, actor=by, action="question_answered", comment=question.text[:200])
        _queue("notify_rfq_answer_published", question.pk)
    return question


def clarification_publish(*, rfq_id: int, by: User, text: str, answer: str) -> Question:
    """Publish a question and answer nobody asked (a clarification). While a draft it waits
    on the portal for the vendors; once open, every invited vendor is emailed it."""
    _require_sourcer(by, rfq_id)
    errors: dict[str, list[str]] = {}
    text = _text(text)
    if not text:
        errors["text"] = ["Write the question or topic."]
    elif len(text) > TEXT_MAX:
        errors["text"] = [f"At most {TEXT_MAX} characters."]
    try:
        answer = _answer_text(answer)
    except InvalidInput as error:
        errors.update(error.fields)
    if errors:
        raise InvalidInput(next(iter(errors.values()))[0], fields=errors)
    with transaction.atomic():
        rfq = _lock_rfq(rfq_id)
        if rfq.state not in (RfqState.DRAFT, RfqState.OPEN, RfqState.CLOSED):
            raise _state_conflict(
                rfq, "clarifications are published while a draft, open or closed."
            )
        question = Question.objects.create(
            rfq=rfq, text=text, answer=answer, answered_by=by, answered_at=timezone.now()
        )
        audit_record(target=rfq, actor=by, action="clarification_published", comment=text[:200])
        if rfq.state != RfqState.DRAFT:
            _queue("notify_rfq_answer_published", question.pk)
    return question


# --- Emails ----------------------------------------------------------------------------------


def rfq_url(rfq_id: int) -> str:
    return settings.SITE_URL + reverse("rfqs:detail", args=[rfq_id])


def _vendor_context(invitation: Invitation) -> dict[str, Any]:
    from sourcing.quotes import invitation_link_url

    rfq = invitation.rfq
    return {
        "rfq": rfq,
        "invitation": invitation,
        "vendor": invitation.vendor,
        "buyer": rfq.created_by,
        "url": invitation_link_url(invitation),
        "link_days": settings.SOURCING_QUOTE_LINK_DAYS,
    }


def _invitation_for_email(invitation_id: int) -> Invitation:
    return Invitation.objects.select_related("rfq__created_by", "vendor").get(pk=invitation_id)


def rfq_email_invitation(*, invitation_id: int) -> bool:
    """Email the vendor's contact the RFQ and its current link (once per link)."""
    invitation = _invitation_for_email(invitation_id)
    rfq = invitation.rfq
    # After the close, a new link goes only to a vendor answering an open counter-offer.
    counter_offer = (
        invitation.counter_offers.filter(state=CounterOfferState.OPEN).first()
        if rfq.state == RfqState.CLOSED
        else None
    )
    if rfq.state != RfqState.OPEN and counter_offer is None:
        return False
    if invitation.declined_at is not None:
        return False
    return email_send_once(
        key=f"rfq-invitation:{invitation.pk}:{invitation.link_nonce.hex}",
        to=invitation.contact_email,
        template="rfq_invitation",
        context={
            **_vendor_context(invitation),
            "lines": list(rfq.lines.all()),
            "counter_offer": counter_offer,
        },
    )


def rfq_email_deadline_changed(*, invitation_id: int, reopened: bool) -> bool:
    """Tell an invited vendor the RFQ's new deadline (after a reopen or a change)."""
    invitation = _invitation_for_email(invitation_id)
    rfq = invitation.rfq
    if rfq.state != RfqState.OPEN or invitation.declined_at is not None:
        return False
    return email_send_once(
        key=f"rfq-deadline:{invitation.pk}:{rfq.deadline.isoformat()}",
        to=invitation.contact_email,
        template="rfq_deadline_changed",
        context={**_vendor_context(invitation), "reopened": reopened},
    )


def rfq_email_cancelled(*, invitation_id: int) -> bool:
    """Tell an invited vendor the RFQ was cancelled, and why."""
    invitation = _invitation_for_email(invitation_id)
    rfq = invitation.rfq
    if rfq.state != RfqState.CANCELLED:
        return False
    from django.contrib.contenttypes.models import ContentType

    entry = (
        AuditEntry.objects.filter(
            content_type=ContentType.objects.get_for_model(Rfq),
            object_id=rfq.pk,
            action="cancelled",
        )
        .order_by("-created_at", "-id")
        .first()
    )
    return email_send_once(
        key=f"rfq-cancelled:{rfq.pk}:{invitation.pk}",
        to=invitation.contact_email,
        template="rfq_cancelled",
        context={
            "rfq": rfq,
            "invitation": invitation,
            "vendor": invitation.vendor,
            "buyer": rfq.created_by,
            "reason": entry.comment if entry else "",
        },
    )


def rfq_email_closed(*, rfq_id: int) -> bool:
    """Tell the RFQ's creator that it closed and how many quotes came in (once per close)."""
    rfq = Rfq.objects.select_related("created_by").get(pk=rfq_id)
    creator = rfq.created_by
    if rfq.state != RfqState.CLOSED or rfq.closed_at is None:
        return False
    if not creator.email or not creator.is_active:
        return False
    received = rfq_quotes_received(rfq)
    return email_send_once(
        key=f"rfq-closed:{rfq.pk}:{rfq.closed_at.isoformat()}",
        to=creator.email,
        template="rfq_closed",
        context={
            "rfq": rfq,
            "creator": creator,
            "received": received,
            "invited": rfq.invitations.count(),
            "short": bool(rfq.quotes_required) and received < rfq.quotes_required,
            "url": rfq_url(rfq.pk),
            "compare_url": settings.SITE_URL + reverse("evaluation:compare", args=[rfq.pk]),
        },
    )


def rfq_email_answer_published(*, question_id: int) -> int:
    """Email a published question and answer to every invited vendor who has not declined,
    without saying who asked. Returns how many emails were sent now (each one once)."""
    question = Question.objects.select_related("rfq__created_by").get(pk=question_id)
    rfq = question.rfq
    if question.answered_at is None or rfq.state not in (RfqState.OPEN, RfqState.CLOSED):
        return 0
    sent = 0
    for invitation in rfq.invitations.filter(declined_at__isnull=True).select_related(
        "vendor", "rfq__created_by"
    ):
        if invitation.vendor.state in NOT_INVITABLE_VENDOR_STATES:
            continue
        sent += email_send_once(
            key=f"rfq-answer:{question.pk}:{invitation.pk}",
            to=invitation.contact_email,
            template="rfq_answer_published",
            context={**_vendor_context(invitation), "question": question},
        )
    return sent
