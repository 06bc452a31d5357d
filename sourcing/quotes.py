"""The vendor's side of an RFQ: the signed quote link, quotes and their revisions, questions,
declining to quote, and answering a counter-offer.

The vendor has no account. Its link carries the invitation id and the invitation's
`link_nonce`, signed with SECRET_KEY under its own salt, and works for
SOURCING_QUOTE_LINK_DAYS from when it was made; a resend rotates the nonce (older links
die), and every link dies once the RFQ is cancelled or awarded. Every service here locks the
RFQ and the invitation, re-checks the rules under the lock, audits on the RFQ (actor: none,
the vendor) and queues its emails on commit.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import PurePath
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import Q, QuerySet
from django.urls import reverse
from django.utils import timezone
from django_fsm import ConcurrentTransition, TransitionNotAllowed

from procurement.errors import ApplicationError, Conflict, InvalidInput, NotFound
from procurement.files import (
    OFFICE_ZIP_TYPES,
    files_removed_on_error,
    human_size,
    office_document_check,
    sniff_document_type,
    text_decodes,
)
from procurement.money import CENT, MissingExchangeRate
from procurement.outbox import enqueue
from procurement.services import audit_record, email_send_once
from sourcing.models import (
    CounterOffer,
    CounterOfferState,
    Invitation,
    Question,
    Quote,
    QuoteAttachment,
    QuoteLine,
    Rfq,
    RfqLine,
    RfqState,
)
from sourcing.pricing import PricedLine, Tco, exchange_rate, periods_over_term, tco
from vendors.models import VendorState

logger = logging.getLogger(__name__)

LINK_SALT = "sourcing.quote-link.v1"
ZERO = Decimal(0)
QUESTION_MAX = 5000
# Unanswered questions a vendor may have at once: each one emails the buyer, so a link cannot
# be used to flood procurement's inbox; more can be asked once these are answered.
QUESTIONS_WAITING_MAX = 10
TERMS_MAX = 10_000
NOTE_MAX = 300
REASON_MAX = 2000
MESSAGE_MAX = 5000
MAX_DELIVERY_DAYS = 3650
ATTACHMENTS_PER_QUOTE = 10
# Column sizes (sourcing/models.py): QuoteLine.unit_price max_digits=14, the quote's costs 14,
# its totals 16, all with 2 places. A larger value would be a 500, not a message.
UNIT_PRICE_LIMIT = Decimal(10) ** 12
COST_LIMIT = Decimal(10) ** 12
TOTAL_LIMIT = Decimal(10) ** 14
# The RFQ states in which a link opens the portal (closed: "quotes closed", or a negotiation).
LIVE_RFQ_STATES = (RfqState.OPEN, RfqState.CLOSED, RfqState.AWARD_PENDING)
NOT_QUOTING_VENDOR_STATES = (VendorState.SUSPENDED, VendorState.BLOCKED, VendorState.OFFBOARDED)

# Office documents are ZIP (OOXML, OpenDocument) or OLE2 (Word 97-2003...) containers: the
# container's magic bytes and the file's suffix together decide. Text files must be UTF-8.
_ZIP = b"PK\x03\x04"
_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ZIP_OFFICE = OFFICE_ZIP_TYPES
_OLE_OFFICE = {
    ".doc": "application/msword",
    ".xls": "application/vnd.ms-excel",
    ".ppt": "application/vnd.ms-powerpoint",
}
_TEXT = {".txt": "text/plain", ".csv": "text/csv"}
ATTACHMENT_ACCEPT = ",".join(
    [".pdf", ".png", ".jpg", ".jpeg", ".gif", ".webp", *_ZIP_OFFICE, *_OLE_OFFICE, *_TEXT]
)


def _text(value: str) -> str:
    # PostgreSQL text cannot hold NUL: dropped here, for every caller.
    return str(value).replace("\x00", "").strip()


def _when(value: dt.datetime) -> str:
    from sourcing.rfqs import when

    return when(value)


# --- Signed links ----------------------------------------------------------------------------


def invitation_link_token(invitation: Invitation) -> str:
    return signing.dumps(
        {"i": invitation.pk, "n": invitation.link_nonce.hex}, salt=LINK_SALT, compress=True
    )


def invitation_link_url(invitation: Invitation) -> str:
    """The absolute address (under SITE_URL) of the vendor's quote page."""
    return settings.SITE_URL + reverse(
        "quote_portal:quote", args=[invitation_link_token(invitation)]
    )


class QuoteLinkDead(ApplicationError):
    """A quote link that opens nothing now. `reason` is a stable code: invalid (tampered with,
    cut short, unknown: 404), expired, replaced (a newer link was sent), cancelled, awarded
    (410). `invitation` is set only for genuine links, so a forged one learns nothing."""

    code = "link_dead"

    def __init__(
        self,
        message: str,
        *,
        reason: str,
        status: int,
        invitation: Invitation | None = None,
    ) -> None:
        super().__init__(message)
        self.reason = reason
        self.status = status
        self.invitation = invitation


def _link_invalid() -> QuoteLinkDead:
    return QuoteLinkDead(
        "This link was changed or cut short: it is not one we sent.", reason="invalid", status=404
    )


def _link_problem(
    invitation: Invitation, *, nonce: str, signature_expired: bool = False
) -> QuoteLinkDead | None:
    """Why a genuine link to `invitation` opens nothing now, or None while it works."""
    rfq = invitation.rfq
    if rfq.state == RfqState.CANCELLED:
        return QuoteLinkDead(
            f"The RFQ “{rfq.title}” was cancelled; no quote is needed from you any more.",
            reason="cancelled",
            status=410,
            invitation=invitation,
        )
    if rfq.state == RfqState.AWARDED:
        return QuoteLinkDead(
            f"The RFQ “{rfq.title}” was awarded; quotes are no longer accepted. "
            "You were told the outcome by email.",
            reason="awarded",
            status=410,
            invitation=invitation,
        )
    if nonce != invitation.link_nonce.hex:
        return QuoteLinkDead(
            "A newer link was sent for this RFQ: use the one in the latest email.",
            reason="replaced",
            status=410,
            invitation=invitation,
        )
    if signature_expired:
        return QuoteLinkDead(
            f"This link has expired (links work for {settings.SOURCING_QUOTE_LINK_DAYS} days). "
            "Ask your contact for a new one.",
            reason="expired",
            status=410,
            invitation=invitation,
        )
    return None


def _token_contents(token: str, *, max_age: int | None) -> tuple[int, str]:
    data = signing.loads(token, salt=LINK_SALT, max_age=max_age)
    if not isinstance(data, dict):
        raise ValueError("not a quote link")
    return int(data["i"]), str(data["n"])


def invitation_from_token(token: str) -> Invitation:
    """The invitation a live link opens, or QuoteLinkDead saying why not.

    Reads only: the signature, its age (SOURCING_QUOTE_LINK_DAYS), the nonce and the RFQ's
    state are checked; the services check the rules again under their locks.
    """
    max_age = int(settings.SOURCING_QUOTE_LINK_DAYS) * 24 * 3600
    signature_expired = False
    try:
        invitation_id, nonce = _token_contents(token, max_age=max_age)
    except signing.SignatureExpired:
        # Genuine but old: still find the invitation, to say "cancelled" rather than "expired".
        signature_expired = True
        try:
            invitation_id, nonce = _token_contents(token, max_age=None)
        except (signing.BadSignature, KeyError, TypeError, ValueError):
            raise _link_invalid() from None
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        raise _link_invalid() from None
    invitation = (
        Invitation.objects.select_related("rfq__created_by", "vendor")
        .filter(pk=invitation_id)
        .first()
    )
    if invitation is None:
        raise _link_invalid()
    problem = _link_problem(invitation, nonce=nonce, signature_expired=signature_expired)
    if problem is not None:
        raise problem
    return invitation


# --- What the vendor may do now ----------------------------------------------------------------


@dataclass(frozen=True)
class QuoteWindow:
    """Whether the invitation may quote now, and as what.

    `accepts`: a quote is taken now (`counter_offer` set: as the reply to it). `closed_message`:
    why not, for the "closed" page and the 409.
    """

    accepts: bool
    counter_offer: CounterOffer | None
    closed_message: str


def open_counter_offer(invitation: Invitation) -> CounterOffer | None:
    return (
        CounterOffer.objects.filter(invitation=invitation, state=CounterOfferState.OPEN)
        .select_related("quote")
        .first()
    )


def quote_window(
    invitation: Invitation,
    *,
    now: dt.datetime | None = None,
    counter_offer: CounterOffer | None = None,
    look_up: bool = True,
) -> QuoteWindow:
    """Quotes are accepted while the RFQ is open and before its deadline; or, once closed,
    as the reply to an open counter-offer whose reply-by time has not passed."""
    now = now or timezone.now()
    rfq = invitation.rfq
    offer = counter_offer if not look_up else open_counter_offer(invitation)
    live_offer = offer if offer is not None and offer.respond_by > now else None
    if invitation.declined_at is not None:
        return QuoteWindow(
            False, None, f"You declined to quote on {_when(invitation.declined_at)}."
        )
    if invitation.vendor.state in NOT_QUOTING_VENDOR_STATES:
        return QuoteWindow(
            False,
            None,
            f"{invitation.vendor.legal_name} is {invitation.vendor.get_state_display().lower()} "
            "in our records and cannot quote now. Please contact us.",
        )
    if rfq.state == RfqState.OPEN and now < rfq.deadline:
        return QuoteWindow(True, live_offer, "")
    if live_offer is not None and rfq.state in (RfqState.OPEN, RfqState.CLOSED):
        return QuoteWindow(True, live_offer, "")
    if rfq.state == RfqState.DRAFT:
        return QuoteWindow(False, None, "This RFQ is not open for quotes yet.")
    if offer is not None and offer.respond_by <= now:
        return QuoteWindow(
            False,
            None,
            f"The counter-offer had to be answered by {_when(offer.respond_by)}; quotes are "
            "no longer accepted.",
        )
    if rfq.state in (RfqState.OPEN, RfqState.CLOSED):
        return QuoteWindow(
            False,
            None,
            f"The deadline was {_when(rfq.deadline)}; quotes are no longer accepted.",
        )
    return QuoteWindow(
        False,
        None,
        f"This RFQ is {rfq.get_state_display().lower()}; quotes are no longer accepted.",
    )


def invitation_quotes(invitation: Invitation) -> list[Quote]:
    """The vendor's own quotes, every revision, first first."""
    return list(invitation.quotes.order_by("revision").prefetch_related("lines", "attachments"))


def invitation_questions(invitation: Invitation) -> QuerySet[Question]:
    """What the portal shows a vendor: every answered question (and clarification) of the
    RFQ, never who asked, and its own questions still waiting for an answer."""
    return Question.objects.filter(
        Q(answered_at__isnull=False) | Q(asked_by=invitation), rfq_id=invitation.rfq_id
    ).order_by("asked_at", "id")


# --- TCO, as the page explains it ------------------------------------------------------------


@dataclass(frozen=True)
class TcoLine:
    line: RfqLine
    unit_price: Decimal | None
    periods: Decimal
    over_term: Decimal | None


@dataclass(frozen=True)
class TcoExplanation:
    """The parts of a quote's TCO over the RFQ's term, for the "TCO over 12 months = ..."
    text. `total` is None until every line has a price."""

    lines: list[TcoLine]
    term_months: int
    currency: str
    rfq_currency: str
    implementation: Decimal
    support_per_year: Decimal
    result: Tco | None
    rate: Decimal | None
    total_in_rfq_currency: Decimal | None
    rate_missing: str

    @property
    def total(self) -> Decimal | None:
        return self.result.total if self.result else None


def _previewable(value: Decimal | None, limit: Decimal, *, allow_zero: bool) -> Decimal | None:
    """`value` if a quote could hold it (finite, in range, at most 2 places), else None."""
    if value is None or not value.is_finite() or value >= limit or _places(value) > 2:
        return None
    if value < 0 or (value == 0 and not allow_zero):
        return None
    return value


def quote_tco_explain(
    *,
    rfq: Rfq,
    prices: Mapping[int, Decimal | None],
    implementation_cost: Decimal | None,
    support_cost_per_year: Decimal | None,
    currency: str,
) -> TcoExplanation:
    """The TCO of prices as typed (some may be missing), with each part shown.

    What the vendor typed is not checked yet (the form's errors say what is wrong), so a
    value the quote could never hold (a price of "1e30", a negative cost) counts as not
    entered: multiplied out it would overflow Decimal's context and fail the page.
    """
    implementation = _previewable(implementation_cost, COST_LIMIT, allow_zero=True) or ZERO
    support = _previewable(support_cost_per_year, COST_LIMIT, allow_zero=True) or ZERO
    rows: list[TcoLine] = []
    for line in rfq.lines.all():
        price = _previewable(prices.get(line.pk), UNIT_PRICE_LIMIT, allow_zero=False)
        periods = periods_over_term(line.billing, rfq.term_months)
        over_term = (
            (line.quantity * price * periods).quantize(CENT, rounding=ROUND_HALF_UP)
            if price is not None
            else None
        )
        rows.append(TcoLine(line, price, periods, over_term))
    result: Tco | None = None
    if rows and all(row.unit_price is not None for row in rows):
        result = tco(
            lines=[
                PricedLine(row.line.quantity, row.unit_price or ZERO, row.line.billing)
                for row in rows
            ],
            implementation_cost=implementation,
            support_cost_per_year=support,
            term_months=rfq.term_months,
        )
    rate: Decimal | None = None
    converted: Decimal | None = None
    rate_missing = ""
    if currency != rfq.currency and currency in settings.CURRENCIES:
        try:
            rate = exchange_rate(currency, rfq.currency, on=timezone.localdate())
        except MissingExchangeRate as error:
            rate_missing = error.message
    if result is not None and rate is not None and result.total * rate < TOTAL_LIMIT:
        converted = (result.total * rate).quantize(CENT, rounding=ROUND_HALF_UP)
    elif result is not None and currency == rfq.currency:
        converted = result.total
    return TcoExplanation(
        lines=rows,
        term_months=rfq.term_months,
        currency=currency,
        rfq_currency=rfq.currency,
        implementation=implementation,
        support_per_year=support,
        result=result,
        rate=rate,
        total_in_rfq_currency=converted,
        rate_missing=rate_missing,
    )


# --- Attachments ---------------------------------------------------------------------------


def quote_attachment_check(upload: UploadedFile, *, field_name: str = "attachments") -> str:
    """The upload's MIME type, from its bytes (and for office files its suffix): a PDF, an
    image, an office document or a UTF-8 text file, at most QUOTE_ATTACHMENT_MAX_BYTES.
    InvalidInput naming `field_name` otherwise."""
    name = upload.name or "file"
    limit = int(settings.QUOTE_ATTACHMENT_MAX_BYTES)
    if upload.size is None or upload.size > limit:
        message = f"{name} is too large: attachments can be at most {human_size(limit)}."
        raise InvalidInput(message, fields={field_name: [message]})
    if upload.size == 0:
        raise InvalidInput(f"{name} is empty.", fields={field_name: [f"{name} is empty."]})
    sniffed = sniff_document_type(upload)
    if sniffed is not None:
        return sniffed
    suffix = PurePath(name).suffix.lower()
    upload.seek(0)
    head = upload.read(8)
    upload.seek(0)
    if suffix in _ZIP_OFFICE and head.startswith(_ZIP):
        # A real package of its kind, and no zip bomb; not only a zip's first bytes.
        return office_document_check(upload, suffix=suffix, field=field_name)
    if suffix in _OLE_OFFICE and head.startswith(_OLE):
        return _OLE_OFFICE[suffix]
    if suffix in _TEXT and text_decodes(upload, "utf-8"):
        return _TEXT[suffix]
    message = (
        f"{name} is not a PDF, an image, an office document (Word, Excel, PowerPoint, "
        "OpenDocument) or a text file."
    )
    raise InvalidInput(message, fields={field_name: [message]})


# --- Submitting a quote ----------------------------------------------------------------------


@dataclass(frozen=True)
class QuoteInput:
    """A vendor's quote as entered: one unit price per RFQ line (keyed by RfqLine id), in
    `currency`, with optional notes per line."""

    currency: str
    delivery_days: int
    valid_until: dt.date
    terms: str = ""
    implementation_cost: Decimal = ZERO
    support_cost_per_year: Decimal = ZERO
    prices: dict[int, Decimal] = field(default_factory=dict)
    notes: dict[int, str] = field(default_factory=dict)


def price_key(line_id: int) -> str:
    """The field name of a line's price: in the form and in error `fields`."""
    return f"price_{line_id}"


def note_key(line_id: int) -> str:
    return f"note_{line_id}"


def _amount(value: Any) -> Decimal | None:
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


@dataclass(frozen=True)
class _Checked:
    prices: dict[int, Decimal]
    notes: dict[int, str]
    terms: str
    implementation: Decimal
    support: Decimal
    rate: Decimal
    result: Tco
    uploads: list[tuple[UploadedFile, str]]


def _attachments_error(carried: int, added: int) -> str | None:
    """Why `added` new files cannot join the `carried` ones of the current quote, if so.
    A revision keeps the files before it, so the limit is on the quote, not the upload."""
    if added == 0 or carried + added <= ATTACHMENTS_PER_QUOTE:
        return None
    if carried == 0:
        return f"At most {ATTACHMENTS_PER_QUOTE} files per quote."
    room = max(ATTACHMENTS_PER_QUOTE - carried, 0)
    return (
        f"At most {ATTACHMENTS_PER_QUOTE} files per quote: {carried} are kept from your "
        f"current quote, so {room} more can be added."
    )


def _carried_attachments(invitation_id: int) -> int:
    return QuoteAttachment.objects.filter(
        quote__invitation_id=invitation_id, quote__superseded_at__isnull=True
    ).count()


def _check_quote(
    rfq: Rfq, data: QuoteInput, attachments: Sequence[UploadedFile], *, carried: int = 0
) -> _Checked:
    """Every value checked before anything is written; all the errors at once. `carried`:
    the files of the current quote, which the new revision keeps."""
    errors: dict[str, list[str]] = {}
    lines = list(rfq.lines.all())
    line_ids = {line.pk for line in lines}
    prices: dict[int, Decimal] = {}
    for line in lines:
        raw = data.prices.get(line.pk)
        price = _amount(raw)
        key = price_key(line.pk)
        if raw is None or raw == "":
            errors[key] = [f"Give a unit price for “{line.description}”."]
        elif price is None:
            errors[key] = ["Enter a number."]
        elif price <= 0:
            errors[key] = [f"The price of “{line.description}” must be more than 0."]
        elif _places(price) > 2 or price >= UNIT_PRICE_LIMIT:
            errors[key] = ["At most 2 decimal places and below 1,000,000,000,000."]
        else:
            prices[line.pk] = price
    unknown = sorted(set(data.prices) - line_ids)
    if unknown:
        errors["prices"] = [f"Not lines of this RFQ: {', '.join(map(str, unknown))}."]
    notes: dict[int, str] = {}
    for line_id, note in data.notes.items():
        if line_id not in line_ids:
            continue
        note = _text(note)
        if len(note) > NOTE_MAX:
            errors[note_key(line_id)] = [f"At most {NOTE_MAX} characters."]
        elif note:
            notes[line_id] = note
    currency = _text(data.currency).upper()
    if currency not in settings.CURRENCIES:
        errors["currency"] = [f"Use one of: {', '.join(settings.CURRENCIES)}."]
    delivery = data.delivery_days
    if isinstance(delivery, bool) or not isinstance(delivery, int):
        errors["delivery_days"] = ["A whole number of days, 0 or more."]
    elif delivery < 0:
        errors["delivery_days"] = ["Delivery days cannot be negative."]
    elif delivery > MAX_DELIVERY_DAYS:
        errors["delivery_days"] = [f"At most {MAX_DELIVERY_DAYS} days."]
    if not isinstance(data.valid_until, dt.date):
        errors["valid_until"] = ["Give the date until which the quote is valid."]
    elif data.valid_until < timezone.localdate():
        errors["valid_until"] = ["The quote must be valid until today or later."]
    terms = _text(data.terms)
    if len(terms) > TERMS_MAX:
        errors["terms"] = [f"At most {TERMS_MAX} characters."]
    costs: dict[str, Decimal] = {}
    for name in ("implementation_cost", "support_cost_per_year"):
        raw = getattr(data, name)
        value = _amount(raw) if raw not in (None, "") else ZERO
        if value is None:
            errors[name] = ["Enter a number."]
        elif value < 0:
            errors[name] = ["A cost cannot be negative."]
        elif _places(value) > 2 or value >= COST_LIMIT:
            errors[name] = ["At most 2 decimal places and below 1,000,000,000,000."]
        else:
            costs[name] = value
    uploads: list[tuple[UploadedFile, str]] = []
    too_many = _attachments_error(carried, len(attachments))
    if too_many is not None:
        errors["attachments"] = [too_many]
    else:
        for upload in attachments:
            try:
                uploads.append((upload, quote_attachment_check(upload)))
            except InvalidInput as error:
                errors.setdefault("attachments", []).extend(error.fields["attachments"])
    rate = Decimal(1)
    rate_error: MissingExchangeRate | None = None
    if "currency" not in errors and currency != rfq.currency:
        try:
            rate = exchange_rate(currency, rfq.currency, on=timezone.localdate())
        except MissingExchangeRate as error:
            rate_error = error
    if rate_error is not None and not errors:
        raise rate_error
    if rate_error is not None:
        errors.update(rate_error.fields)
    if errors:
        count = len(errors)
        raise InvalidInput(
            f"{count} value{'s need' if count > 1 else ' needs'} correcting; nothing was saved.",
            fields=errors,
        )
    result = tco(
        lines=[PricedLine(line.quantity, prices[line.pk], line.billing) for line in lines],
        implementation_cost=costs["implementation_cost"],
        support_cost_per_year=costs["support_cost_per_year"],
        term_months=rfq.term_months,
    )
    if result.total * max(rate, Decimal(1)) >= TOTAL_LIMIT or result.lines_total >= TOTAL_LIMIT:
        raise InvalidInput(
            "The quote's total is too large to record.",
            fields={"prices": ["The total is too large."]},
        )
    return _Checked(
        prices=prices,
        notes=notes,
        terms=terms,
        implementation=costs["implementation_cost"],
        support=costs["support_cost_per_year"],
        rate=rate,
        result=result,
        uploads=uploads,
    )


def _lock(invitation_id: int) -> tuple[Rfq, Invitation]:
    # The RFQ first (as the procurement services lock it), then the invitation: a close, a
    # resend and two tabs of the same vendor submitting are taken one at a time.
    rfq_id = Invitation.objects.filter(pk=invitation_id).values_list("rfq_id", flat=True).first()
    if rfq_id is None:
        raise NotFound("No such invitation.")
    rfq = Rfq.objects.select_for_update().get(pk=rfq_id)
    invitation = (
        Invitation.objects.select_for_update(of=("self",))
        .select_related("vendor")
        .get(pk=invitation_id)
    )
    invitation.rfq = rfq
    return rfq, invitation


def _not_dead(rfq: Rfq) -> None:
    if rfq.state in (RfqState.CANCELLED, RfqState.AWARDED):
        raise Conflict(f"This RFQ is {rfq.get_state_display().lower()}; nothing more is accepted.")


def quote_submit(
    *,
    invitation_id: int,
    data: QuoteInput,
    attachments: Sequence[UploadedFile] = (),
) -> Quote:
    """Record a vendor's quote (the first, or a revision that replaces the current one).

    Accepted while the RFQ is open and before its deadline, or as the reply to an open
    counter-offer before its reply-by time (even once the RFQ is closed): else a 409 saying
    why. Every RFQ line needs a price > 0 (errors keyed price_<line id>); a currency other
    than the RFQ's needs an exchange rate on today's date (a 400 on `currency`). The TCO over
    the RFQ's term is computed here (sourcing.pricing.tco), never taken from the vendor.
    All or nothing, under the RFQ's and the invitation's row locks: the earlier revision is
    superseded (kept, with its attachments carried over), the counter-offer answered,
    the RFQ audited, and the vendor emailed a receipt on commit.
    """
    invitation = Invitation.objects.select_related("rfq", "vendor").filter(pk=invitation_id).first()
    if invitation is None:
        raise NotFound("No such invitation.")
    window = quote_window(invitation)
    if not window.accepts:
        raise Conflict(window.closed_message)
    before = invitation.rfq
    checked = _check_quote(before, data, attachments, carried=_carried_attachments(invitation_id))
    with files_removed_on_error() as stored, transaction.atomic():
        rfq, invitation = _lock(invitation_id)
        _not_dead(rfq)
        offer = (
            CounterOffer.objects.select_for_update()
            .filter(invitation=invitation, state=CounterOfferState.OPEN)
            .first()
        )
        now = timezone.now()
        window = quote_window(invitation, now=now, counter_offer=offer, look_up=False)
        if not window.accepts:
            raise Conflict(window.closed_message)
        if (
            rfq.term_months != before.term_months
            or rfq.currency != before.currency
            or set(checked.prices) != set(rfq.lines.values_list("pk", flat=True))
        ):
            raise Conflict("The RFQ changed while you were quoting; reload the page.")
        previous = invitation.quotes.filter(superseded_at__isnull=True).first()
        if previous is not None:
            # Again under the lock: another tab may have added files meanwhile.
            too_many = _attachments_error(previous.attachments.count(), len(checked.uploads))
            if too_many is not None:
                raise InvalidInput(too_many, fields={"attachments": [too_many]})
        last_revision = (
            invitation.quotes.order_by("-revision").values_list("revision", flat=True).first()
        )
        if previous is not None:
            previous.superseded_at = now
            previous.save(update_fields=["superseded_at"])
        converted = (checked.result.total * checked.rate).quantize(CENT, rounding=ROUND_HALF_UP)
        quote = Quote.objects.create(
            invitation=invitation,
            revision=(last_revision or 0) + 1,
            in_reply_to=window.counter_offer,
            currency=_text(data.currency).upper(),
            delivery_days=data.delivery_days,
            valid_until=data.valid_until,
            terms=checked.terms,
            implementation_cost=checked.implementation,
            support_cost_per_year=checked.support,
            lines_total=checked.result.lines_total,
            tco=checked.result.total,
            tco_in_rfq_currency=converted,
            exchange_rate=checked.rate,
        )
        QuoteLine.objects.bulk_create(
            QuoteLine(
                quote=quote,
                rfq_line_id=line_id,
                unit_price=price,
                note=checked.notes.get(line_id, ""),
            )
            for line_id, price in checked.prices.items()
        )
        if previous is not None:
            # Shared files: attachments are never deleted, so r1 and r2 may both point at one.
            QuoteAttachment.objects.bulk_create(
                QuoteAttachment(
                    quote=quote,
                    file=old.file.name,
                    filename=old.filename,
                    content_type=old.content_type,
                    size=old.size,
                )
                for old in previous.attachments.all()
            )
        for upload, content_type in checked.uploads:
            name = upload.name or "attachment"
            attachment = QuoteAttachment(
                quote=quote,
                filename=name[:255],
                content_type=content_type,
                size=upload.size or 0,
            )
            attachment.file.save(name, upload, save=False)
            stored.append(str(attachment.file.name))
            attachment.save()
        vendor = invitation.vendor.legal_name
        audit_record(
            target=rfq,
            actor=None,
            action="quote_submitted",
            comment=f"r{quote.revision} by {vendor}",
        )
        if window.counter_offer is not None:
            offer = window.counter_offer
            try:
                offer.answer()
                offer.save()
            except (TransitionNotAllowed, ConcurrentTransition):
                raise Conflict(
                    "The counter-offer was changed meanwhile; reload the page."
                ) from None
            audit_record(
                target=rfq,
                actor=None,
                action="counter_offer_answered",
                comment=f"Round {offer.round}: {vendor} answered with r{quote.revision}.",
            )
        quote_id = quote.pk
        from sourcing.rfq_tasks import notify_quote_received

        enqueue(notify_quote_received, quote_id)
    logger.info("quote %s (r%s) submitted on rfq %s", quote.pk, quote.revision, rfq.pk)
    return quote


def counter_offer_decline(
    *, invitation_id: int, counter_offer_id: int, message: str
) -> CounterOffer:
    """The vendor declines a counter-offer (its current quote stands), with a message."""
    message = _text(message)
    if len(message) > MESSAGE_MAX:
        raise InvalidInput(
            f"At most {MESSAGE_MAX} characters.",
            fields={"message": [f"At most {MESSAGE_MAX} characters."]},
        )
    with transaction.atomic():
        rfq, invitation = _lock(invitation_id)
        _not_dead(rfq)
        offer = (
            CounterOffer.objects.select_for_update()
            .filter(pk=counter_offer_id, invitation=invitation)
            .first()
        )
        if offer is None:
            raise NotFound("No such counter-offer.")
        if offer.state != CounterOfferState.OPEN:
            raise Conflict(
                f"This counter-offer is no longer open ({offer.get_state_display().lower()})."
            )
        if offer.respond_by <= timezone.now():
            raise Conflict(f"This counter-offer had to be answered by {_when(offer.respond_by)}.")
        offer.vendor_message = message
        try:
            offer.decline()
            offer.save()
        except (TransitionNotAllowed, ConcurrentTransition):
            raise Conflict("The counter-offer was changed meanwhile; reload the page.") from None
        audit_record(
            target=rfq,
            actor=None,
            action="counter_offer_declined",
            comment=f"Round {offer.round}: {invitation.vendor.legal_name} declined"
            + (f": {message}" if message else "."),
        )
    return offer


def invitation_decline(*, invitation_id: int, reason: str) -> Invitation:
    """The vendor will not quote (while the RFQ is open). A quote it sent before is
    withdrawn with it: declined invitations are left out of the evaluation."""
    reason = _text(reason)
    if len(reason) > REASON_MAX:
        raise InvalidInput(
            f"At most {REASON_MAX} characters.",
            fields={"reason": [f"At most {REASON_MAX} characters."]},
        )
    with transaction.atomic():
        rfq, invitation = _lock(invitation_id)
        _not_dead(rfq)
        if invitation.declined_at is not None:
            raise Conflict(f"You already declined on {_when(invitation.declined_at)}.")
        if rfq.state != RfqState.OPEN:
            raise Conflict(
                f"This RFQ is {rfq.get_state_display().lower()}; there is nothing to decline."
            )
        invitation.declined_at = timezone.now()
        invitation.decline_reason = reason
        invitation.save(update_fields=["declined_at", "decline_reason"])
        audit_record(
            target=rfq,
            actor=None,
            action="invitation_declined",
            comment=f"{invitation.vendor.legal_name}" + (f": {reason}" if reason else "."),
        )
    return invitation


def question_ask(*, invitation_id: int, text: str) -> Question:
    """A vendor's question, while the RFQ is open and before its deadline. Procurement is
    emailed; once answered, every invited vendor sees it without who asked."""
    text = _text(text)
    if not text:
        raise InvalidInput("Write your question.", fields={"text": ["Write your question."]})
    if len(text) > QUESTION_MAX:
        raise InvalidInput(
            f"At most {QUESTION_MAX} characters.",
            fields={"text": [f"At most {QUESTION_MAX} characters."]},
        )
    with transaction.atomic():
        rfq, invitation = _lock(invitation_id)
        _not_dead(rfq)
        if invitation.declined_at is not None:
            raise Conflict(f"You declined to quote on {_when(invitation.declined_at)}.")
        if rfq.state != RfqState.OPEN or rfq.deadline <= timezone.now():
            raise Conflict(
                f"The deadline was {_when(rfq.deadline)}; questions are no longer taken."
            )
        # Counted under the invitation's row lock: two asked at once cannot both be the 10th.
        waiting = Question.objects.filter(asked_by=invitation, answered_at__isnull=True).count()
        if waiting >= QUESTIONS_WAITING_MAX:
            message = (
                f"You have {waiting} questions waiting for an answer; ask more once they "
                "are answered."
            )
            raise Conflict(message, fields={"text": [message]})
        question = Question.objects.create(rfq=rfq, asked_by=invitation, text=text)
        audit_record(
            target=rfq,
            actor=None,
            action="question_asked",
            comment=f"{invitation.vendor.legal_name}: {text[:200]}",
        )
        question_id = question.pk
        from sourcing.rfq_tasks import notify_question_asked

        enqueue(notify_question_asked, question_id)
    return question


# --- Emails ----------------------------------------------------------------------------------


def quote_email_received(*, quote_id: int) -> bool:
    """Send the vendor a receipt for its quote (revision, totals, TCO; once per quote)."""
    quote = Quote.objects.select_related("invitation__vendor", "invitation__rfq__created_by").get(
        pk=quote_id
    )
    invitation = quote.invitation
    rfq = invitation.rfq
    return email_send_once(
        key=f"rfq-quote-received:{quote.pk}",
        to=invitation.contact_email,
        template="rfq_quote_received",
        context={
            "quote": quote,
            "rfq": rfq,
            "invitation": invitation,
            "vendor": invitation.vendor,
            "buyer": rfq.created_by,
            "url": invitation_link_url(invitation),
        },
    )


def question_email_asked(*, question_id: int) -> bool:
    """Tell the RFQ's creator a vendor asked a question (once per question)."""
    question = Question.objects.select_related("rfq__created_by", "asked_by__vendor").get(
        pk=question_id
    )
    creator = question.rfq.created_by
    if not creator.email or not creator.is_active or question.asked_by is None:
        return False
    from sourcing.rfqs import rfq_url

    return email_send_once(
        key=f"rfq-question:{question.pk}",
        to=creator.email,
        template="rfq_question_asked",
        context={
            "question": question,
            "rfq": question.rfq,
            "vendor": question.asked_by.vendor,
            "creator": creator,
            "url": rfq_url(question.rfq_id) + "#questions",
        },
    )
