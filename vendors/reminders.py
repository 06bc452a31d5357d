"""Reminders about vendors and contracts, sent as digests by the hourly beat task.

What is due is read from the database on every run. Each reminded thing has a
ReminderSent key per occasion (a contract at an offset before its notice deadline, a
certificate expiring, a reassessment falling due), inserted in the same transaction as
the digest that carries it; the digest itself has an email_send_once key per recipient
per day (per ISO week for procurement's digest). So overlapping runs, retries and a
worker that was down never send a thing twice, and nothing is lost: an item that could
not go out today (the day's digest already went) goes in tomorrow's.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, Exists, Model, OuterRef, Q
from django.urls import reverse
from django.utils import timezone

from procurement.models import Role, SentEmail, User
from procurement.services import email_send_once
from vendors.assessments import assessments_due_for_reassessment
from vendors.emails import vendor_url
from vendors.models import (
    LIVE_CONTRACT_STATES,
    Contract,
    ReminderSent,
    Vendor,
    VendorDocument,
    VendorState,
)

logger = logging.getLogger(__name__)

# A reassessment is announced this many days before it falls due.
REASSESSMENT_WARNING_DAYS = 30
# Purchase requests still on their way to an order: a vendor that is not approved holds them up.
OPEN_REQUEST_STATES = ("draft", "submitted", "pending_approval", "returned", "approved")


def contract_url(contract_id: int) -> str:
    return settings.SITE_URL + reverse("contracts:detail", args=[contract_id])


@dataclass
class Item:
    """One line of a digest, and the ReminderSent keys that mark it sent."""

    keys: list[str]
    context: dict[str, object] = field(default_factory=dict)


def _claim(items: Iterable[Item]) -> list[Item]:
    """Insert each item's keys; keep the items nobody had claimed. Call inside a transaction.

    A key already there (another run got it first) drops its item; on PostgreSQL a
    concurrent run's uncommitted key makes this wait, then drop it.
    """
    kept = []
    for item in items:
        try:
            with transaction.atomic():
                for key in item.keys:
                    ReminderSent.objects.create(key=key)
        except IntegrityError:
            continue
        kept.append(item)
    return kept


class _NotSent(Exception):
    """Rolls the claimed keys back: the digest did not go (already sent today)."""


def _send_digest(
    *, recipient: User, items: list[Item], key: str, template: str, context: dict[str, object]
) -> bool:
    """Claim the items and send them in one email, atomically: no email, no keys."""
    try:
        with transaction.atomic():
            kept = _claim(items)
            if not kept:
                raise _NotSent
            sent = email_send_once(
                key=key,
                to=recipient.email,
                template=template,
                context={**context, "recipient": recipient, "items": [i.context for i in kept]},
            )
            if not sent:
                raise _NotSent
    except _NotSent:
        return False
    except OSError:
        # The mail server failed: nothing was recorded, the next hourly run tries again.
        logger.exception("digest %s to %s not sent", key, recipient.email)
        return False
    return True


# --- Who hears of it ---------------------------------------------------------------------


def _stand_in() -> User | None:
    """Who hears of a thing whose owner has left (inactive, or no email): the first active
    procurement user. A reminder that reaches nobody is the failure users remember."""
    return (
        User.objects.filter(is_active=True, roles__role=Role.PROCUREMENT)
        .exclude(email="")
        .order_by("username")
        .first()
    )


def _recipient(owner: User, stand_in: User | None) -> User | None:
    return owner if owner.is_active and owner.email else stand_in


def _left(owner: User, recipient: User | None) -> User | None:
    """The owner, when someone else is told in their place (the email says so)."""
    return owner if recipient is not None and recipient.pk != owner.pk else None


# --- Contract owners ---------------------------------------------------------------------


def _keys_sent(keys: Iterable[str]) -> set[str]:
    """Which of `keys` are already in ReminderSent: one query for a whole run."""
    return set(ReminderSent.objects.filter(key__in=list(keys)).values_list("key", flat=True))


def _contract_keys(contract: Contract, *, today: dt.date) -> list[str]:
    """The reminder keys of the offsets before `contract`'s notice deadline crossed by `today`."""
    return [
        f"contract-reminder:{contract.pk}:{offset}:{contract.notice_deadline.isoformat()}"
        for offset in settings.CONTRACT_REMINDER_DAYS
        if today >= contract.notice_deadline - dt.timedelta(days=offset)
    ]


def _contract_item(contract: Contract, *, today: dt.date, done: set[str]) -> Item | None:
    """A line for `contract` if an offset before its notice deadline was crossed and not yet
    reminded of (`done`: keys already sent). When several were crossed since (a worker was
    down), one line marks all."""
    keys = [key for key in _contract_keys(contract, today=today) if key not in done]
    if not keys:
        return None
    days_left = (contract.notice_deadline - today).days
    return Item(
        keys=keys,
        context={
            "contract": contract,
            "vendor": contract.vendor,
            "days_left": days_left,
            "overdue": days_left < 0,
            "days_overdue": -days_left,
            "url": contract_url(contract.pk),
        },
    )


def contract_owner_digests_send(*, today: dt.date) -> int:
    """One email per contract owner listing each of their contracts that crossed a reminder
    offset (settings.CONTRACT_REMINDER_DAYS) before its notice deadline. Returns emails sent."""
    if not settings.CONTRACT_REMINDER_DAYS:
        return 0
    furthest = max(settings.CONTRACT_REMINDER_DAYS)
    contracts = (
        Contract.objects.filter(
            state__in=LIVE_CONTRACT_STATES,
            end_date__gte=today,
            notice_deadline__lte=today + dt.timedelta(days=furthest),
        )
        .select_related("vendor", "owner")
        .order_by("notice_deadline", "id")
    )
    contracts_due = list(contracts)
    done = _keys_sent(
        key for contract in contracts_due for key in _contract_keys(contract, today=today)
    )
    by_owner: dict[int, list[Item]] = defaultdict(list)
    owners: dict[int, User] = {}
    stand_in = _stand_in()
    for contract in contracts_due:
        item = _contract_item(contract, today=today, done=done)
        recipient = _recipient(contract.owner, stand_in)
        if item is not None and recipient is not None:
            item.context["former_owner"] = _left(contract.owner, recipient)
            by_owner[recipient.pk].append(item)
            owners[recipient.pk] = recipient
    sent = 0
    for owner_id, items in by_owner.items():
        sent += _send_digest(
            recipient=owners[owner_id],
            items=items,
            key=f"contract-digest:{owner_id}:{today.isoformat()}",
            template="contract_renewal_digest",
            context={
                "day": today,
                "pipeline_url": settings.SITE_URL + reverse("contracts:pipeline"),
            },
        )
    return sent


# --- Vendor owners -----------------------------------------------------------------------


def _certificates_due(*, today: dt.date) -> list[VendorDocument]:
    """Documents expiring within the warning window, or expired, that no later document of
    the same kind for the same vendor replaces; for vendors still in use."""
    newer = VendorDocument.objects.filter(
        vendor_id=OuterRef("vendor_id"),
        kind=OuterRef("kind"),
        expires_on__gt=OuterRef("expires_on"),
    )
    return list(
        VendorDocument.objects.filter(
            expires_on__isnull=False,
            expires_on__lte=today + dt.timedelta(days=settings.VENDOR_CERTIFICATE_WARNING_DAYS),
        )
        .exclude(vendor__state=VendorState.OFFBOARDED)
        .exclude(Exists(newer))
        .select_related("vendor", "vendor__owner")
        .order_by("expires_on", "id")
    )


def vendor_owner_digests_send(*, today: dt.date) -> int:
    """One email per vendor owner: certificates expiring soon (once while expiring, once more
    when expired) and reassessments falling due. Returns emails sent."""
    by_owner: dict[int, list[Item]] = defaultdict(list)
    owners: dict[int, User] = {}
    stand_in = _stand_in()

    def add(owner: User, item: Item) -> None:
        recipient = _recipient(owner, stand_in)
        if recipient is not None:
            item.context["former_owner"] = _left(owner, recipient)
            by_owner[recipient.pk].append(item)
            owners[recipient.pk] = recipient

    for document in _certificates_due(today=today):
        assert document.expires_on is not None  # filtered on
        expired = document.expires_on < today
        occasion = "expired" if expired else "expiring"
        key = f"vendor-certificate:{document.pk}:{document.expires_on.isoformat()}:{occasion}"
        add(
            document.vendor.owner,
            Item(
                keys=[key],
                context={
                    "kind": "certificate",
                    "document": document,
                    "vendor": document.vendor,
                    "expired": expired,
                    "days_left": (document.expires_on - today).days,
                    "url": vendor_url(document.vendor_id),
                },
            ),
        )
    # A vendor with a questionnaire already out or waiting for review needs no reminder.
    reassessments = assessments_due_for_reassessment(
        today + dt.timedelta(days=REASSESSMENT_WARNING_DAYS)
    )
    for vendor in reassessments:
        assert vendor.next_assessment_due is not None  # filtered on
        # Once while it comes due, once more when it is overdue (as certificates).
        occasion = ":overdue" if vendor.next_assessment_due < today else ""
        add(
            vendor.owner,
            Item(
                keys=[
                    f"vendor-reassessment:{vendor.pk}:"
                    f"{vendor.next_assessment_due.isoformat()}{occasion}"
                ],
                context={
                    "kind": "reassessment",
                    "vendor": vendor,
                    "due": vendor.next_assessment_due,
                    "days_left": (vendor.next_assessment_due - today).days,
                    "url": vendor_url(vendor.pk),
                },
            ),
        )
    done = _keys_sent(key for items in by_owner.values() for item in items for key in item.keys)
    sent = 0
    for owner_id, items in by_owner.items():
        owner = owners[owner_id]
        items = [item for item in items if not set(item.keys) & done]
        if not items:
            continue
        sent += _send_digest(
            recipient=owner,
            items=items,
            key=f"vendor-owner-digest:{owner_id}:{today.isoformat()}",
            template="vendor_owner_digest",
            context={"day": today},
        )
    return sent


# --- Procurement, weekly -----------------------------------------------------------------


def vendors_blocking_requests() -> list[Vendor]:
    """Vendors that are not approved but named by open purchase requests, annotated with
    `open_requests` (how many), most requests first."""
    open_requests = Q(purchase_requests__state__in=OPEN_REQUEST_STATES)
    return list(
        Vendor.objects.exclude(state=VendorState.APPROVED)
        .annotate(open_requests=Count("purchase_requests", filter=open_requests, distinct=True))
        .filter(open_requests__gt=0)
        .select_related("owner")
        .order_by("-open_requests", "legal_name")
    )


def procurement_digests_send(*, today: dt.date) -> int:
    """Once per ISO week, every active procurement user hears which vendors hold up open
    requests, if any do. Returns emails sent."""
    year, week, _ = today.isocalendar()
    recipients = list(
        User.objects.filter(is_active=True, roles__role=Role.PROCUREMENT)
        .exclude(email="")
        .distinct()
        .order_by("pk")
    )
    keys = {
        person.pk: f"vendor-blocking-digest:{person.pk}:{year}-W{week:02d}" for person in recipients
    }
    # The beat runs hourly: once this week's digests are out, do not gather them again.
    already = set(SentEmail.objects.filter(key__in=keys.values()).values_list("key", flat=True))
    recipients = [person for person in recipients if keys[person.pk] not in already]
    if not recipients:
        return 0
    vendors = vendors_blocking_requests()
    if not vendors:
        return 0
    # Each vendor's oldest open requests, in one query for all vendors (not one per vendor).
    oldest: dict[int, list[str]] = defaultdict(list)
    # The purchase request model, reached through its foreign key: vendors does not import
    # the requests app, which builds on it.
    request_model: type[Model] = Vendor._meta.get_field("purchase_requests").related_model
    open_requests = (
        request_model._default_manager.filter(vendor__in=vendors, state__in=OPEN_REQUEST_STATES)
        .order_by("created_at", "id")
        .only("id", "vendor_id", "state")  # the state: django-fsm reads it on load
    )
    for request in open_requests:
        vendor_id = request.vendor_id  # type: ignore[attr-defined]
        if len(oldest[vendor_id]) < 5:
            oldest[vendor_id].append(request.reference)  # type: ignore[attr-defined]
    rows = [
        {
            "vendor": vendor,
            "open_requests": vendor.open_requests,  # type: ignore[attr-defined]
            "references": oldest[vendor.pk],
            "url": vendor_url(vendor.pk),
        }
        for vendor in vendors
    ]
    sent = 0
    for person in recipients:
        try:
            sent += email_send_once(
                key=keys[person.pk],
                to=person.email,
                template="vendor_blocking_digest",
                context={"recipient": person, "rows": rows, "year": year, "week": week},
            )
        except OSError:
            logger.exception("weekly vendor digest to %s not sent", person.email)
    return sent


def reminders_send_due(*, now: dt.datetime | None = None) -> int:
    """Beat, hourly: every digest that is due. Returns how many emails went out."""
    today = timezone.localdate(now or timezone.now())
    return (
        contract_owner_digests_send(today=today)
        + vendor_owner_digests_send(today=today)
        + procurement_digests_send(today=today)
    )
