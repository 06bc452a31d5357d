"""Contracts with vendors: who may see and manage them, their lifecycle, renewals, and the
renewal pipeline (decisions due soon).

Services validate everything before writing, lock the contract row, write the audit entry
in the same transaction, and keep `notice_deadline` (end date minus notice period) in step
with the dates. `contracts_update_states` is the beat scan that moves contracts into their
notice window and past their end (expiring, renewing or expiring them).
"""

from __future__ import annotations

import calendar
import datetime as dt
import logging
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import models, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django_fsm import ConcurrentTransition, TransitionNotAllowed

from procurement.errors import Conflict, InvalidInput, NotAllowed, NotFound
from procurement.files import document_check, files_removed_on_error
from procurement.models import ROLES_SEEING_ALL_REQUESTS, AuditEntry, User
from procurement.permissions import allowed
from procurement.services import audit_record
from vendors.models import (
    LIVE_CONTRACT_STATES,
    UNORDERABLE_STATES,
    Contract,
    ContractDocument,
    ContractState,
    Vendor,
)
from vendors.selectors import VENDOR_FILE_ROLES, vendor_may_manage, vendor_may_see_file

logger = logging.getLogger(__name__)

# A renewal term (by hand or automatic) of more than ten years is a typing mistake.
MAX_RENEWAL_MONTHS = 120
MAX_VALUE = Decimal("99999999999999.99")  # max_digits=16, decimal_places=2
# Automatic renewals of one contract in one beat run. A worker down for longer than a term
# renews again until a term is current; this caps the work (and the row lock) of one run
# (a long outage or a very short term). The next run carries on where this one stopped.
MAX_AUTO_RENEWALS_PER_RUN = 24
# Purchase requests in these states may still be put under a contract.
LINKABLE_REQUEST_STATES = ("draft", "submitted", "pending_approval", "returned", "approved")


# --- Who may do what -------------------------------------------------------------------


def contract_may_view(user: User, contract: Contract | None = None) -> bool:
    """Procurement, finance, legal, security and admins see every contract; an owner sees
    theirs (vendors/rules.py)."""
    return allowed(user, "vendors.view_contract", contract)


def contract_may_manage(user: User, contract: Contract | None = None) -> bool:
    """Procurement and admins manage every contract; its owner manages theirs."""
    return allowed(user, "vendors.change_contract", contract)


# --- Reads -----------------------------------------------------------------------------


def contracts_visible_to(user: User) -> QuerySet[Contract]:
    contracts = Contract.objects.select_related("vendor", "owner")
    if not user.is_authenticated or not user.is_active:
        return contracts.none()
    if vendor_may_see_file(user):
        return contracts
    return contracts.filter(owner=user)


def contract_get(*, user: User, contract_id: int) -> Contract | None:
    """The contract, or None when it does not exist or `user` may not see it (the same to them)."""
    return contracts_visible_to(user).filter(pk=contract_id).first()


def contract_list(
    *,
    user: User,
    vendor_id: int | None = None,
    state: str = "",
    due_within: int | None = None,
    q: str = "",
    today: dt.date | None = None,
) -> QuerySet[Contract]:
    """Contracts `user` may see, by decision date. `due_within`: live ones whose notice
    deadline is at most that many days away (overdue ones included)."""
    contracts = contracts_visible_to(user)
    if vendor_id is not None:
        contracts = contracts.filter(vendor_id=vendor_id)
    if state:
        contracts = contracts.filter(state=state)
    if due_within is not None:
        today = today or timezone.localdate()
        contracts = contracts.filter(
            state__in=LIVE_CONTRACT_STATES,
            notice_deadline__lte=today + dt.timedelta(days=due_within),
        )
    q = q.strip()
    if q:
        contracts = contracts.filter(Q(title__icontains=q) | Q(vendor__legal_name__icontains=q))
    return contracts.order_by("notice_deadline", "id")


def contracts_for_vendor(vendor: Vendor) -> QuerySet[Contract]:
    """A vendor's contracts, latest end date first (for the vendor's page)."""
    return vendor.contracts.select_related("owner").order_by("-end_date", "-id")


@dataclass(frozen=True)
class PipelineItem:
    contract: Contract
    days_left: int  # to the notice deadline; negative when it has passed
    overdue: bool  # the deadline passed, the contract has not ended: the choice is gone


def contract_pipeline(
    *, user: User, days: int = 90, today: dt.date | None = None
) -> list[PipelineItem]:
    """Live contracts whose renew-or-leave decision is due within `days` days, soonest first.

    Contracts whose notice deadline has passed but which have not ended come first,
    flagged overdue: they will renew (or lapse) without anyone having decided.
    """
    today = today or timezone.localdate()
    contracts = contracts_visible_to(user).filter(
        state__in=LIVE_CONTRACT_STATES,
        end_date__gte=today,
        notice_deadline__lte=today + dt.timedelta(days=days),
    )
    items = []
    for contract in contracts.order_by("notice_deadline", "end_date", "id"):
        days_left = (contract.notice_deadline - today).days
        items.append(PipelineItem(contract=contract, days_left=days_left, overdue=days_left < 0))
    return items


def contract_history(contract: Contract) -> QuerySet[AuditEntry]:
    """The contract's audit trail, oldest first."""
    return AuditEntry.objects.filter(
        content_type__app_label="vendors",
        content_type__model="contract",
        object_id=contract.pk,
    ).select_related("actor")


@dataclass(frozen=True)
class ContractAction:
    method: str
    label: str
    past: str


CONTRACT_ACTIONS: dict[str, ContractAction] = {
    "activate": ContractAction("activate", "Activate", "activated"),
    "terminate": ContractAction("terminate", "Terminate", "terminated"),
}


def contract_available_actions(*, contract: Contract, user: User) -> list[str]:
    """What `user` may do with `contract` now: activate, renew, terminate."""
    if not contract_may_manage(user, contract):
        return []
    actions = []
    if contract.state == ContractState.DRAFT:
        actions.append("activate")
    if contract.state in LIVE_CONTRACT_STATES:
        actions.append("renew")
    if contract.state in (ContractState.DRAFT, *LIVE_CONTRACT_STATES):
        actions.append("terminate")
    return actions


# --- Dates -----------------------------------------------------------------------------


def add_months(day: dt.date, months: int) -> dt.date:
    """`day` moved on by whole months, kept within the month (31 Jan + 1 month = 28/29 Feb)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return day.replace(
        year=year, month=month, day=min(day.day, calendar.monthrange(year, month)[1])
    )


def term_end(start: dt.date, months: int) -> dt.date:
    """The last day of a term of `months` starting on `start` (1 Jan + 12 months: 31 Dec)."""
    return add_months(start, months) - dt.timedelta(days=1)


def notice_deadline_for(*, end_date: dt.date, notice_period_days: int) -> dt.date:
    return end_date - dt.timedelta(days=notice_period_days)


# --- Writes ----------------------------------------------------------------------------


@dataclass
class ContractInput:
    vendor_id: int
    title: str
    owner_id: int
    value: Decimal
    currency: str
    start_date: dt.date
    end_date: dt.date
    auto_renew: bool = False
    notice_period_days: int = 30
    renewal_term_months: int = 12
    renewal_terms: str = ""


def _raise_if(errors: dict[str, list[str]]) -> None:
    if errors:
        raise InvalidInput(next(iter(errors.values()))[0], fields=errors)


def _value_error(value: Any) -> str:
    """Why `value` is not a contract value, or ""."""
    try:
        amount = Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        return "Enter an amount, e.g. 12000.00."
    if not amount.is_finite():
        return "Enter an amount, e.g. 12000.00."
    if amount < 0:
        return "The value cannot be negative."
    if amount > MAX_VALUE:
        return "The value is too large."
    if amount != amount.quantize(Decimal("0.01")):
        return "Give the value to at most two decimal places."
    return ""


EARLIEST_DATE = dt.date(1900, 1, 1)
LATEST_DATE = dt.date(2999, 12, 31)


def _term_errors(
    *, start_date: dt.date, end_date: dt.date, notice_period_days: int
) -> dict[str, list[str]]:
    # A contract runs in this millennium: outside it is a typo (and renewing from 9999-12-31
    # would step past the last date Python knows).
    for name, day in (("start_date", start_date), ("end_date", end_date)):
        if not EARLIEST_DATE <= day <= LATEST_DATE:
            return {name: [f"Give a date between {EARLIEST_DATE:%Y} and {LATEST_DATE:%Y}."]}
    if end_date <= start_date:
        return {"end_date": ["The end date must be after the start date."]}
    term = (end_date - start_date).days
    if notice_period_days >= term:
        return {
            "notice_period_days": [
                f"The notice period ({notice_period_days} days) must be shorter than "
                f"the term ({term} days)."
            ]
        }
    return {}


def _clean_contract_input(data: ContractInput, *, current: Contract | None) -> ContractInput:
    """Validate every field, or raise one InvalidInput naming each bad field."""
    errors: dict[str, list[str]] = {}
    data.title = " ".join(data.title.split())
    if not data.title:
        errors["title"] = ["This field is required."]
    elif len(data.title) > 200:
        errors["title"] = ["At most 200 characters."]
    vendor = Vendor.objects.filter(pk=data.vendor_id).first()
    if vendor is None:
        errors["vendor"] = ["Choose a vendor."]
    elif vendor.state in UNORDERABLE_STATES and (current is None or current.vendor_id != vendor.pk):
        # A contract already signed with a vendor blocked since stays editable; a new one does not.
        errors["vendor"] = [
            f"{vendor.legal_name} is {vendor.get_state_display().lower()}: "
            "no new contract can be made with it."
        ]
    owner = User.objects.filter(pk=data.owner_id, is_active=True).first()
    if owner is None or not owner.has_role(*VENDOR_FILE_ROLES):
        errors["owner"] = [
            "The owner must be an active member of procurement, finance, legal or security."
        ]
    if message := _value_error(data.value):
        errors["value"] = [message]
    else:
        data.value = Decimal(data.value).quantize(Decimal("0.01"))
    data.currency = (data.currency or "").strip().upper()
    if data.currency not in settings.CURRENCIES:
        errors["currency"] = [f"Choose one of: {', '.join(settings.CURRENCIES)}."]
    if data.notice_period_days < 0:
        errors["notice_period_days"] = ["The notice period cannot be negative."]
    else:
        errors.update(
            _term_errors(
                start_date=data.start_date,
                end_date=data.end_date,
                notice_period_days=data.notice_period_days,
            )
        )
    if not 1 <= data.renewal_term_months <= MAX_RENEWAL_MONTHS:
        errors["renewal_term_months"] = [
            f"A renewal term is between 1 and {MAX_RENEWAL_MONTHS} months."
        ]
    data.renewal_terms = data.renewal_terms.strip()
    if len(data.renewal_terms) > 5000:
        errors["renewal_terms"] = ["At most 5000 characters."]
    _raise_if(errors)
    return data


def _lock_contract(contract_id: int) -> Contract:
    # Locked: two people (or a person and the beat scan) moving one contract must not interleave.
    contract = (
        Contract.objects.select_for_update(of=("self",))
        .select_related("vendor")
        .filter(pk=contract_id)
        .first()
    )
    if contract is None:
        raise NotFound("No such contract.")
    return contract


def _lock_managed(contract_id: int, *, by: User, to: str) -> Contract:
    """The contract, locked, if `by` may change it: 404 to whoever may not see it, 403 with
    "Only procurement or the contract's owner can <to>" to whoever sees but may not change it."""
    contract = _lock_contract(contract_id)
    if not contract_may_view(by, contract):
        raise NotFound("No such contract.")
    if not contract_may_manage(by, contract):
        raise NotAllowed(f"Only procurement or the contract's owner can {to}.")
    return contract


def _enter_notice_window_if_due(
    contract: Contract, *, by: User | None, today: dt.date, comment: str = ""
) -> bool:
    """An active contract whose notice deadline has come moves to expiring (and is audited)."""
    if contract.state != ContractState.ACTIVE or contract.notice_deadline > today:
        return False
    contract.enter_notice_window()
    contract.save()
    audit_record(
        target=contract,
        actor=by,
        action="entered_notice_window",
        from_state=ContractState.ACTIVE,
        to_state=contract.state,
        comment=comment or f"Notice deadline {contract.notice_deadline:%d %b %Y} reached.",
    )
    return True


def contract_create(*, by: User, data: ContractInput) -> Contract:
    """Record a draft contract with a vendor. Procurement and admins only.

    Refuses a blocked or offboarded vendor; computes the notice deadline; audited.
    """
    if not vendor_may_manage(by):
        raise NotAllowed("Only procurement can add contracts.")
    data = _clean_contract_input(data, current=None)
    with transaction.atomic():
        contract = Contract.objects.create(
            vendor_id=data.vendor_id,
            title=data.title,
            owner_id=data.owner_id,
            value=data.value,
            currency=data.currency,
            start_date=data.start_date,
            end_date=data.end_date,
            auto_renew=data.auto_renew,
            notice_period_days=data.notice_period_days,
            renewal_term_months=data.renewal_term_months,
            renewal_terms=data.renewal_terms,
            notice_deadline=notice_deadline_for(
                end_date=data.end_date, notice_period_days=data.notice_period_days
            ),
            created_by=by,
        )
        audit_record(target=contract, actor=by, action="created", to_state=contract.state)
    logger.info("contract %s created by %s", contract.pk, by.username)
    return contract


EDITABLE_STATES = (ContractState.DRAFT, *LIVE_CONTRACT_STATES)


def contract_update(
    *, contract_id: int, by: User, data: ContractInput, today: dt.date | None = None
) -> Contract:
    """Edit a draft or live contract's terms; the notice deadline follows the dates.

    An active contract whose new deadline has come moves to expiring at once. An expiring
    contract cannot have its deadline moved into the future: that is a renewal.
    """
    today = today or timezone.localdate()
    with transaction.atomic():
        contract = _lock_managed(contract_id, by=by, to="edit it")
        if contract.state not in EDITABLE_STATES:
            raise Conflict(
                f"This contract is {contract.get_state_display().lower()}; it can no longer be edited."
            )
        data = _clean_contract_input(data, current=contract)
        deadline = notice_deadline_for(
            end_date=data.end_date, notice_period_days=data.notice_period_days
        )
        if contract.state == ContractState.EXPIRING and deadline > today:
            raise InvalidInput(
                "This contract is in its notice window: renew it rather than moving its dates.",
                fields={"end_date": ["Renew the contract to extend it."]},
            )
        if contract.state in LIVE_CONTRACT_STATES and data.end_date < today:
            raise InvalidInput(
                "A live contract cannot end in the past: terminate it instead.",
                fields={"end_date": ["The end date of a live contract cannot be in the past."]},
            )
        contract.vendor_id = data.vendor_id
        contract.title = data.title
        contract.owner_id = data.owner_id
        contract.value = data.value
        contract.currency = data.currency
        contract.start_date = data.start_date
        contract.end_date = data.end_date
        contract.auto_renew = data.auto_renew
        contract.notice_period_days = data.notice_period_days
        contract.renewal_term_months = data.renewal_term_months
        contract.renewal_terms = data.renewal_terms
        contract.notice_deadline = deadline
        contract.save()
        audit_record(target=contract, actor=by, action="edited")
        _enter_notice_window_if_due(contract, by=by, today=today)
    return contract


def _reason_required(reason: str) -> str:
    reason = reason.strip()
    if not reason:
        raise InvalidInput(
            "Give a reason: it is kept in the contract's history.",
            fields={"reason": ["This field is required."]},
        )
    if len(reason) > 5000:
        raise InvalidInput(
            "The reason is too long.", fields={"reason": ["At most 5000 characters."]}
        )
    return reason


def contract_transition(
    *, contract_id: int, by: User, action: str, reason: str, today: dt.date | None = None
) -> Contract:
    """Activate a draft or terminate a contract by hand; every move needs a reason.

    Locks the row; 404 for those who may not see it, 403 for those who may not manage it,
    409 for a move the state does not allow. Activating a contract whose notice deadline
    has already come puts it straight into its notice window.
    """
    if action not in CONTRACT_ACTIONS:
        raise InvalidInput(f"Unknown action {action!r}.")
    spec = CONTRACT_ACTIONS[action]
    reason = _reason_required(reason)
    today = today or timezone.localdate()
    with transaction.atomic():
        contract = _lock_managed(contract_id, by=by, to="change its status")
        method = getattr(contract, spec.method)
        from_state = contract.state
        if not method._django_fsm.has_transition(from_state):
            raise Conflict(
                f"This contract is {contract.get_state_display().lower()}; "
                f"it cannot be {spec.past} now."
            )
        if action == "activate":
            if contract.vendor.state in UNORDERABLE_STATES:
                raise Conflict(
                    f"{contract.vendor.legal_name} is "
                    f"{contract.vendor.get_state_display().lower()}: the contract cannot start."
                )
            if contract.end_date < today:
                raise Conflict("The contract's end date has passed; it cannot be activated.")
        try:
            method()
            contract.state_reason = reason
            contract.save()
        except (TransitionNotAllowed, ConcurrentTransition):
            raise Conflict(
                "The contract was changed by someone else; reload and try again."
            ) from None
        audit_record(
            target=contract,
            actor=by,
            action=action,
            from_state=from_state,
            to_state=contract.state,
            comment=reason,
        )
        if action == "activate":
            _enter_notice_window_if_due(contract, by=by, today=today)
    logger.info("contract %s %s by %s", contract.pk, spec.past, by.username)
    return contract


def _successor_create(
    old: Contract,
    *,
    by: User | None,
    end_date: dt.date,
    value: Decimal,
    renewal_terms: str,
    today: dt.date,
    comment: str,
) -> Contract:
    """The contract that follows `old` (locked by the caller): active from the day after it
    ends, on its terms unless given; `old` is marked renewed. Both moves are audited."""
    successor = Contract.objects.create(
        vendor_id=old.vendor_id,
        title=old.title,
        owner_id=old.owner_id,
        value=value,
        currency=old.currency,
        start_date=old.end_date + dt.timedelta(days=1),
        end_date=end_date,
        auto_renew=old.auto_renew,
        notice_period_days=old.notice_period_days,
        renewal_term_months=old.renewal_term_months,
        renewal_terms=renewal_terms,
        notice_deadline=notice_deadline_for(
            end_date=end_date, notice_period_days=old.notice_period_days
        ),
        renewed_from=old,
        created_by=by or old.created_by,
    )
    successor.activate()
    successor.state_reason = comment
    successor.save()
    audit_record(
        target=successor,
        actor=by,
        action="created",
        to_state=successor.state,
        comment=f"Renewal of contract #{old.pk}. {comment}".strip(),
    )
    from_state = old.state
    old.mark_renewed()
    old.state_reason = comment
    old.save()
    audit_record(
        target=old,
        actor=by,
        action="renewed" if by is not None else "auto_renewed",
        from_state=from_state,
        to_state=old.state,
        comment=f"{comment} Continues as contract #{successor.pk}.".strip(),
    )
    _enter_notice_window_if_due(successor, by=by, today=today)
    return successor


def contract_renew(
    *,
    contract_id: int,
    by: User,
    reason: str,
    new_end_date: dt.date | None = None,
    months: int | None = None,
    value: Decimal | None = None,
    renewal_terms: str | None = None,
    today: dt.date | None = None,
) -> Contract:
    """Renew a live contract by hand: a successor starts the day after it ends and runs to
    `new_end_date` (or for `months`, or for its renewal term); the old one is marked renewed.

    `value` and `renewal_terms` default to the old contract's. Locks the old row; refuses
    a blocked or offboarded vendor (409). Returns the successor.
    """
    reason = _reason_required(reason)
    today = today or timezone.localdate()
    errors: dict[str, list[str]] = {}
    if new_end_date is not None and months is not None:
        errors["months"] = ["Give either a new end date or a number of months, not both."]
    if months is not None and not 1 <= months <= MAX_RENEWAL_MONTHS:
        errors["months"] = [f"A renewal is between 1 and {MAX_RENEWAL_MONTHS} months."]
    if value is not None:
        if message := _value_error(value):
            errors["value"] = [message]
        else:
            value = Decimal(value).quantize(Decimal("0.01"))
    if renewal_terms is not None:
        renewal_terms = renewal_terms.strip()
        if len(renewal_terms) > 5000:
            errors["renewal_terms"] = ["At most 5000 characters."]
    _raise_if(errors)
    with transaction.atomic():
        old = _lock_managed(contract_id, by=by, to="renew it")
        if old.state not in LIVE_CONTRACT_STATES:
            raise Conflict(
                f"This contract is {old.get_state_display().lower()}; only an active or "
                "expiring contract can be renewed."
            )
        if old.vendor.state in UNORDERABLE_STATES:
            raise Conflict(
                f"{old.vendor.legal_name} is {old.vendor.get_state_display().lower()}: "
                "the contract cannot be renewed."
            )
        start = old.end_date + dt.timedelta(days=1)
        if new_end_date is None:
            new_end_date = term_end(start, months or old.renewal_term_months)
        term_errors = _term_errors(
            start_date=start, end_date=new_end_date, notice_period_days=old.notice_period_days
        )
        if "end_date" in term_errors:
            term_errors = {
                "new_end_date": [f"The renewal must end after it starts on {start:%d %b %Y}."]
            }
        elif term_errors:
            term_errors = {
                "new_end_date": [
                    f"The renewal is shorter than the notice period "
                    f"({old.notice_period_days} days): give a later end date."
                ]
            }
        _raise_if(term_errors)
        successor = _successor_create(
            old,
            by=by,
            end_date=new_end_date,
            value=old.value if value is None else value,
            renewal_terms=old.renewal_terms if renewal_terms is None else renewal_terms,
            today=today,
            comment=reason,
        )
    logger.info("contract %s renewed as %s by %s", old.pk, successor.pk, by.username)
    return successor


def contracts_update_states(*, today: dt.date | None = None) -> int:
    """Beat: move contracts on by the calendar. Idempotent; returns how many moves it made.

    Live contracts past their end date renew (auto-renewing ones: a successor for the
    renewal term, same value and terms, repeated if several terms went by) or expire;
    active contracts whose notice deadline has come become expiring. Each contract is
    locked (skipping those someone is editing: the next run gets them) and every move
    is audited with no actor.
    """
    today = today or timezone.localdate()
    moved = 0
    ended = Contract.objects.filter(state__in=LIVE_CONTRACT_STATES, end_date__lt=today)
    for contract_id in list(ended.values_list("pk", flat=True)):
        with transaction.atomic():
            contract = (
                Contract.objects.select_for_update(skip_locked=True, of=("self",))
                .filter(pk=contract_id, state__in=LIVE_CONTRACT_STATES, end_date__lt=today)
                .first()
            )
            renewals = 0
            while contract is not None:
                if contract.auto_renew and renewals >= MAX_AUTO_RENEWALS_PER_RUN:
                    logger.warning(
                        "contract %s: %d renewals this run, more next run",
                        contract.pk,
                        renewals,
                    )
                    contract = None
                elif contract.auto_renew:
                    contract = _successor_create(
                        contract,
                        by=None,
                        end_date=term_end(
                            contract.end_date + dt.timedelta(days=1), contract.renewal_term_months
                        ),
                        value=contract.value,
                        renewal_terms=contract.renewal_terms,
                        today=today,
                        comment="Renewed automatically: no notice was given.",
                    )
                    moved += 1
                    renewals += 1
                    # A worker down for longer than a term: renew again until one is current.
                    if contract.end_date >= today:
                        contract = None
                else:
                    from_state = contract.state
                    contract.expire()
                    contract.state_reason = "Ended without renewal."
                    contract.save()
                    audit_record(
                        target=contract,
                        actor=None,
                        action="expired",
                        from_state=from_state,
                        to_state=contract.state,
                        comment=f"Ended on {contract.end_date:%d %b %Y}.",
                    )
                    moved += 1
                    contract = None
    due = Contract.objects.filter(state=ContractState.ACTIVE, notice_deadline__lte=today)
    for contract_id in list(due.values_list("pk", flat=True)):
        with transaction.atomic():
            contract = (
                Contract.objects.select_for_update(skip_locked=True, of=("self",))
                .filter(pk=contract_id, state=ContractState.ACTIVE, notice_deadline__lte=today)
                .first()
            )
            if contract is not None and _enter_notice_window_if_due(contract, by=None, today=today):
                moved += 1
    if moved:
        logger.info("contract scan moved %d contract(s)", moved)
    return moved


def contract_document_add(
    *, contract_id: int, by: User, title: str, upload: UploadedFile
) -> ContractDocument:
    """Store a signed copy, amendment or schedule (PDF or image, size capped) on a contract.

    The file is removed again if the transaction fails.
    """
    title = " ".join(title.split())
    if len(title) > 200:
        raise InvalidInput("The title is too long.", fields={"title": ["At most 200 characters."]})
    with files_removed_on_error() as stored, transaction.atomic():
        contract = _lock_managed(contract_id, by=by, to="add documents")
        content_type = document_check(
            upload, field="file", limit=settings.VENDOR_DOCUMENT_MAX_BYTES
        )
        name = upload.name or "document"
        document = ContractDocument(
            contract=contract,
            title=(title or name)[:200],
            filename=name[:255],
            content_type=content_type,
            size=upload.size or 0,
            uploaded_by=by,
        )
        document.file.save(name, upload, save=False)
        stored.append(str(document.file.name))
        document.save()
        audit_record(target=contract, actor=by, action="document_added", comment=document.title)
    return document


def _request_model() -> type[models.Model]:
    # The purchase request model, reached through its foreign key to Contract: vendors
    # does not import the requests app (which builds on it).
    return Contract._meta.get_field("purchase_requests").related_model


def contract_link_request(*, contract_id: int, request_id: int, by: User) -> Contract:
    """Record that a purchase request is bought under a contract (or, with the contract's
    vendor, will be). The request must be open and name the same vendor, or none.

    Audited on both the contract and the request, which is locked while it changes.
    """
    request_model = _request_model()
    with transaction.atomic():
        contract = _lock_managed(contract_id, by=by, to="link requests")
        if contract.state not in (ContractState.DRAFT, *LIVE_CONTRACT_STATES):
            raise Conflict(
                f"This contract is {contract.get_state_display().lower()}; "
                "requests can no longer be put under it."
            )
        purchase_request: Any = (
            request_model._default_manager.select_for_update(of=("self",))
            .filter(pk=request_id)
            .first()
        )
        # Only someone who may see the request may link it: otherwise its reference and
        # state would leak, and a request they cannot see would change under them.
        if purchase_request is None or not (
            by.has_role(*ROLES_SEEING_ALL_REQUESTS) or purchase_request.requester_id == by.pk
        ):
            raise InvalidInput(
                "No such purchase request.", fields={"request": ["No such purchase request."]}
            )
        reference = purchase_request.reference
        if purchase_request.state not in LINKABLE_REQUEST_STATES:
            raise InvalidInput(
                f"{reference} is {purchase_request.get_state_display().lower()}; "
                "only open requests can be linked.",
                fields={"request": [f"{reference} is no longer open."]},
            )
        if purchase_request.vendor_id not in (None, contract.vendor_id):
            raise InvalidInput(
                f"{reference} names another vendor.",
                fields={"request": [f"{reference} is for another vendor."]},
            )
        if purchase_request.contract_id == contract.pk:
            return contract
        request_model._default_manager.filter(pk=request_id).update(contract=contract)
        audit_record(target=contract, actor=by, action="request_linked", comment=reference)
        audit_record(
            target=purchase_request,
            actor=by,
            action="contract_linked",
            comment=f"{contract.title} (contract #{contract.pk})",
        )
    return contract


def contract_unlink_request(*, contract_id: int, request_id: int, by: User) -> Contract:
    """Take a purchase request out from under a contract (audited on both)."""
    request_model = _request_model()
    with transaction.atomic():
        contract = _lock_managed(contract_id, by=by, to="unlink requests")
        purchase_request: Any = (
            request_model._default_manager.select_for_update(of=("self",))
            .filter(pk=request_id, contract=contract)
            .first()
        )
        if purchase_request is None:
            raise NotFound("That request is not linked to this contract.")
        request_model._default_manager.filter(pk=request_id).update(contract=None)
        reference = purchase_request.reference
        audit_record(target=contract, actor=by, action="request_unlinked", comment=reference)
        audit_record(
            target=purchase_request,
            actor=by,
            action="contract_unlinked",
            comment=f"{contract.title} (contract #{contract.pk})",
        )
    return contract
