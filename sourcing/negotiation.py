"""Negotiation rounds: procurement's counter-offers to one vendor while the RFQ is closed for
evaluation, answered by the vendor through its quote link (a revised quote, helper A's
portal) or left to expire; and the history of quotes and counter-offers per vendor.

Every write locks the invitation row (one open counter-offer per vendor; the database's
partial unique constraint is the backstop), re-checks who may act, writes the audit entry on
the RFQ in the same transaction and queues the vendor's email on commit.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone
from django_fsm import TransitionNotAllowed

from procurement.errors import Conflict, InvalidInput, NotAllowed, NotFound
from procurement.models import User
from procurement.outbox import enqueue
from procurement.services import audit_record, email_send_once
from sourcing.access import may_source
from sourcing.models import (
    CounterOffer,
    CounterOfferState,
    Invitation,
    Quote,
    Rfq,
    RfqState,
)

MESSAGE_MAX = 5000


def _money(amount: Decimal, currency: str) -> str:
    return f"{amount:,.2f} {currency}"


def counter_offer_send(
    *,
    invitation_id: int,
    by: User,
    proposed_tco: Decimal,
    message: str,
    respond_by: dt.datetime,
) -> CounterOffer:
    """Send one vendor a counter-offer: a TCO below its current quote's, a message and a
    reply-by time. The RFQ must be closed for evaluation (not awarded or cancelled) and the
    vendor must have a current quote and no open counter-offer (409).

    Locks the RFQ and the invitation; the round is the previous round + 1. Audited on the RFQ;
    the email with the vendor's quote link is queued on commit."""
    if not may_source(by):
        raise NotAllowed("Only procurement negotiates with vendors.")
    message = (message or "").strip()
    errors: dict[str, list[str]] = {}
    if proposed_tco is None or proposed_tco <= 0:
        errors["proposed_tco"] = ["Propose a total above zero."]
    if not message:
        errors["message"] = ["Tell the vendor what you ask for."]
    elif len(message) > MESSAGE_MAX:
        errors["message"] = [f"At most {MESSAGE_MAX:,} characters."]
    if respond_by is None or respond_by <= timezone.now():
        errors["respond_by"] = ["Give a time in the future."]
    if errors:
        raise InvalidInput(next(iter(errors.values()))[0], fields=errors)
    with transaction.atomic():
        rfq_id = (
            Invitation.objects.filter(pk=invitation_id).values_list("rfq_id", flat=True).first()
        )
        if rfq_id is None:
            raise NotFound("No such invitation.")
        # Lock order everywhere in this module: the RFQ, then the invitation.
        rfq = Rfq.objects.select_for_update().get(pk=rfq_id)
        locked = (
            Invitation.objects.select_for_update().select_related("vendor").get(pk=invitation_id)
        )
        if rfq.state != RfqState.CLOSED:
            raise Conflict(
                f"{rfq.reference} is {rfq.get_state_display().lower()}: counter-offers are sent "
                "while it is closed for evaluation, before the award."
            )
        if locked.declined_at is not None:
            raise Conflict(f"{locked.vendor} declined to quote.")
        quote = Quote.objects.filter(invitation=locked, superseded_at__isnull=True).first()
        if quote is None:
            raise Conflict(f"{locked.vendor} has no quote to negotiate on.")
        if proposed_tco >= quote.tco_in_rfq_currency:
            current = _money(quote.tco_in_rfq_currency, rfq.currency)
            raise InvalidInput(
                f"A counter-offer asks for less than the current quote ({current}).",
                fields={"proposed_tco": [f"Propose less than the current quote's TCO, {current}."]},
            )
        if locked.counter_offers.filter(state=CounterOfferState.OPEN).exists():
            raise Conflict(
                f"{locked.vendor} already has an open counter-offer: wait for the answer, or "
                "withdraw it first."
            )
        last_round = locked.counter_offers.aggregate(last=Max("round"))["last"] or 0
        try:
            with transaction.atomic():
                counter_offer = CounterOffer.objects.create(
                    invitation=locked,
                    round=last_round + 1,
                    quote=quote,
                    proposed_tco=proposed_tco,
                    message=message,
                    respond_by=respond_by,
                    sent_by=by,
                )
        except IntegrityError:
            raise Conflict(f"{locked.vendor} already has an open counter-offer.") from None
        audit_record(
            target=rfq,
            actor=by,
            action="counter_offer_sent",
            comment=f"Round {counter_offer.round} to {locked.vendor}: "
            f"{_money(proposed_tco, rfq.currency)} (quote {_money(quote.tco_in_rfq_currency, rfq.currency)}), "
            f"reply by {timezone.localtime(respond_by):%d %b %Y %H:%M}",
        )
        from sourcing.evaluation_tasks import notify_counter_offer

        enqueue(notify_counter_offer, counter_offer.pk)
    return counter_offer


def _close_open(counter_offer: CounterOffer, *, action: str, by: User | None, why: str) -> None:
    """Withdraw or expire an open counter-offer the caller has locked, with its audit entry."""
    rfq = counter_offer.invitation.rfq
    if action == "withdraw":
        counter_offer.withdraw()
    else:
        counter_offer.expire()
    counter_offer.save()
    audit_record(
        target=rfq,
        actor=by,
        action=f"counter_offer_{'withdrawn' if action == 'withdraw' else 'expired'}",
        comment=f"Round {counter_offer.round} to {counter_offer.invitation.vendor}" + why,
    )


def counter_offer_withdraw(*, counter_offer_id: int, by: User, reason: str = "") -> CounterOffer:
    """Withdraw an open counter-offer (the vendor's reply is no longer awaited). Locks the
    RFQ and the counter-offer; audited on the RFQ."""
    if not may_source(by):
        raise NotAllowed("Only procurement negotiates with vendors.")
    with transaction.atomic():
        rfq_id = (
            CounterOffer.objects.filter(pk=counter_offer_id)
            .values_list("invitation__rfq_id", flat=True)
            .first()
        )
        if rfq_id is None:
            raise NotFound("No such counter-offer.")
        Rfq.objects.select_for_update().get(pk=rfq_id)
        counter_offer = (
            CounterOffer.objects.select_for_update()
            .select_related("invitation__rfq", "invitation__vendor")
            .get(pk=counter_offer_id)
        )
        if counter_offer.state != CounterOfferState.OPEN:
            raise Conflict(
                f"Round {counter_offer.round} is already "
                f"{counter_offer.get_state_display().lower()}."
            )
        reason = (reason or "").strip()
        _close_open(counter_offer, action="withdraw", by=by, why=f": {reason}" if reason else "")
    return counter_offer


def counter_offers_withdraw_for_award(*, rfq: Rfq, by: User) -> int:
    """Inside an award's transaction (the RFQ locked by the caller): withdraw every open
    counter-offer of the RFQ, each audited. Returns how many."""
    withdrawn = 0
    for counter_offer in (
        CounterOffer.objects.select_for_update()
        .select_related("invitation__rfq", "invitation__vendor")
        .filter(invitation__rfq=rfq, state=CounterOfferState.OPEN)
    ):
        _close_open(counter_offer, action="withdraw", by=by, why=": withdrawn at the award")
        withdrawn += 1
    return withdrawn


def counter_offers_expire_due(*, now: dt.datetime | None = None) -> int:
    """Expire open counter-offers whose reply-by time has passed (the beat task runs it).
    Each one in its own transaction, locked, re-checked and audited. Returns how many."""
    now = now or timezone.now()
    expired = 0
    due = list(
        CounterOffer.objects.filter(state=CounterOfferState.OPEN, respond_by__lt=now)
        .order_by("respond_by", "id")
        .values_list("pk", "invitation__rfq_id")[:1000]
    )
    for counter_offer_id, rfq_id in due:
        with transaction.atomic():
            Rfq.objects.select_for_update().get(pk=rfq_id)
            counter_offer = (
                CounterOffer.objects.select_for_update()
                .select_related("invitation__rfq", "invitation__vendor")
                .get(pk=counter_offer_id)
            )
            # Answered or withdrawn since the scan: nothing to do.
            if counter_offer.state != CounterOfferState.OPEN or counter_offer.respond_by >= now:
                continue
            try:
                _close_open(counter_offer, action="expire", by=None, why=": no reply in time")
            except TransitionNotAllowed:
                continue
            expired += 1
    return expired


# --- History ---------------------------------------------------------------------------


@dataclass
class Event:
    at: dt.datetime
    kind: str  # "quote" or "counter_offer"
    title: str  # "Quote revision 2", "Counter-offer round 1"
    amount: Decimal  # TCO quoted, or TCO proposed (RFQ currency)
    currency: str
    who: str  # the vendor, or the person who sent the counter-offer
    outcome: str = ""  # a counter-offer's state, or "current" / "superseded"
    message: str = ""
    vendor_message: str = ""
    answered_at: dt.datetime | None = None


def negotiation_history(*, invitation: Invitation) -> list[Event]:
    """One vendor's quotes (each revision: TCO, when, in reply to which round) and
    counter-offers (who sent what, when, and what became of it), in time order."""
    rfq = invitation.rfq
    events = []
    for quote in invitation.quotes.select_related("in_reply_to").order_by("submitted_at", "id"):
        reply = f", answering round {quote.in_reply_to.round}" if quote.in_reply_to else ""
        events.append(
            Event(
                at=quote.submitted_at,
                kind="quote",
                title=f"Quote revision {quote.revision}{reply}",
                amount=quote.tco_in_rfq_currency,
                currency=rfq.currency,
                who=str(invitation.vendor),
                outcome="current" if quote.is_current else "superseded",
            )
        )
    for counter_offer in invitation.counter_offers.select_related("sent_by").order_by("round"):
        events.append(
            Event(
                at=counter_offer.sent_at,
                kind="counter_offer",
                title=f"Counter-offer round {counter_offer.round}",
                amount=counter_offer.proposed_tco,
                currency=rfq.currency,
                who=str(counter_offer.sent_by),
                outcome=counter_offer.get_state_display(),
                message=counter_offer.message,
                vendor_message=counter_offer.vendor_message,
                answered_at=counter_offer.answered_at,
            )
        )
    return sorted(events, key=lambda e: e.at)


# --- Email -----------------------------------------------------------------------------


def _absolute(url: str) -> str:
    return url if url.startswith(("http://", "https://")) else settings.SITE_URL + url


def counter_offer_email(*, counter_offer_id: int) -> bool:
    """Email the vendor's contact the counter-offer and its quote link (once per round)."""
    # Helper A's portal builds the signed link; imported here so each part loads alone.
    from sourcing.quotes import invitation_link_url

    counter_offer = CounterOffer.objects.select_related(
        "invitation__rfq", "invitation__vendor", "quote", "sent_by"
    ).get(pk=counter_offer_id)
    if counter_offer.state != CounterOfferState.OPEN:
        return False  # withdrawn before the worker got here
    invitation = counter_offer.invitation
    return email_send_once(
        key=f"rfq-counter-offer:{counter_offer.pk}",
        to=invitation.contact_email,
        template="rfq_counter_offer",
        context={
            "counter_offer": counter_offer,
            "invitation": invitation,
            "rfq": invitation.rfq,
            "vendor": invitation.vendor,
            "quote": counter_offer.quote,
            "url": _absolute(invitation_link_url(invitation)),
        },
    )
