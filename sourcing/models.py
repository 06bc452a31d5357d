"""Sourcing: RFQs, vendor quotes, negotiation and award; then purchase orders, receipts and
invoices matched three ways.

Layering: procurement <- vendors <- requests <- approvals <- analytics <- sourcing. Every state
moves through a django-fsm transition called from a service (rfqs.py, quotes.py,
negotiation.py, awards.py, orders.py, invoices.py) that locks the row, re-checks who may act,
writes the audit entry and queues emails on commit. Money is Decimal with a currency.
"""

from __future__ import annotations

from decimal import Decimal
from uuid import uuid4

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models.functions import Lower
from django_fsm import ConcurrentTransitionMixin, FSMField, transition

from procurement.models import Category, Role
from requests.models import LineItem, PurchaseRequest
from vendors.models import Contract, Vendor

ZERO = Decimal("0")
HUNDRED = Decimal("100")


# --- RFQs ---------------------------------------------------------------------------------


class RfqState(models.TextChoices):
    DRAFT = "draft", "Draft"
    OPEN = "open", "Open for quotes"
    # The deadline passed (or procurement closed it early): quotes are sealed until then.
    CLOSED = "closed", "Closed for evaluation"
    AWARD_PENDING = "award_pending", "Award awaiting approval"
    AWARDED = "awarded", "Awarded"
    CANCELLED = "cancelled", "Cancelled"


class Billing(models.TextChoices):
    """How often a line is paid: what its price is multiplied by over the RFQ's term."""

    ONE_OFF = "one_off", "One-off"
    MONTHLY = "monthly", "Per month"
    YEARLY = "yearly", "Per year"


class Rfq(ConcurrentTransitionMixin, models.Model):
    """A request for quotation, opened from a purchase request."""

    request = models.ForeignKey(PurchaseRequest, on_delete=models.PROTECT, related_name="rfqs")
    title = models.CharField(max_length=200)
    instructions = models.TextField(blank=True, max_length=10_000)
    # Quotes in another currency are converted to this one at the ExchangeRate of the day.
    currency = models.CharField(max_length=3)
    deadline = models.DateTimeField(help_text="No quote is accepted after it.")
    term_months = models.PositiveSmallIntegerField(
        default=12,
        validators=[MinValueValidator(1), MaxValueValidator(120)],
        help_text="The period total cost of ownership is computed over.",
    )
    # Set by procurement before any quote is seen (the page refuses to show quotes until
    # both are set); in the RFQ's currency, for the whole RFQ over the term (TCO).
    target_price = models.DecimalField(max_digits=16, decimal_places=2, null=True, blank=True)
    walk_away_price = models.DecimalField(
        "walk-away price", max_digits=16, decimal_places=2, null=True, blank=True
    )
    prices_set_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Frozen from the approval policy when the RFQ is created ("N quotes above X").
    quotes_required = models.PositiveSmallIntegerField(default=0)
    state = FSMField(default=RfqState.DRAFT, choices=RfqState.choices, protected=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    opened_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    # Set when the close notification went to procurement (the beat task runs every minute).
    close_notified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["state", "deadline"])]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(target_price__isnull=True) | models.Q(target_price__gt=0),
                name="rfq_target_price_positive",
            ),
            models.CheckConstraint(
                condition=models.Q(walk_away_price__isnull=True) | models.Q(walk_away_price__gt=0),
                name="rfq_walk_away_price_positive",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.reference} {self.title}"

    @property
    def reference(self) -> str:
        return f"RFQ-{self.pk:06d}" if self.pk else "RFQ-new"

    @transition(field=state, source=RfqState.DRAFT, target=RfqState.OPEN)
    def open(self) -> None:
        from django.utils import timezone

        self.opened_at = timezone.now()

    @transition(field=state, source=RfqState.OPEN, target=RfqState.CLOSED)
    def close(self) -> None:
        from django.utils import timezone

        self.closed_at = timezone.now()

    @transition(field=state, source=RfqState.CLOSED, target=RfqState.OPEN)
    def reopen(self) -> None:
        self.closed_at = None
        self.close_notified_at = None

    @transition(field=state, source=RfqState.CLOSED, target=RfqState.AWARD_PENDING)
    def await_award_approval(self) -> None:
        pass

    @transition(
        field=state, source=[RfqState.CLOSED, RfqState.AWARD_PENDING], target=RfqState.AWARDED
    )
    def mark_awarded(self) -> None:
        pass

    @transition(field=state, source=RfqState.AWARD_PENDING, target=RfqState.CLOSED)
    def award_refused(self) -> None:
        pass

    @transition(
        field=state,
        source=[RfqState.DRAFT, RfqState.OPEN, RfqState.CLOSED, RfqState.AWARD_PENDING],
        target=RfqState.CANCELLED,
    )
    def cancel(self) -> None:
        pass


class RfqLine(models.Model):
    rfq = models.ForeignKey(Rfq, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveSmallIntegerField(default=0)
    request_line = models.ForeignKey(
        LineItem, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    description = models.CharField(max_length=300)
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="+")
    quantity = models.DecimalField(
        max_digits=12, decimal_places=3, validators=[MinValueValidator(Decimal("0.001"))]
    )
    unit = models.CharField(max_length=20, default="each")
    billing = models.CharField(max_length=10, choices=Billing.choices, default=Billing.ONE_OFF)
    # The requester's estimate, copied from the request: shown, never scored.
    estimated_unit_price = models.DecimalField(
        max_digits=14, decimal_places=2, null=True, blank=True
    )

    class Meta:
        ordering = ["rfq", "position", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(quantity__gt=0), name="rfq_line_quantity_positive"
            ),
        ]

    def __str__(self) -> str:
        return self.description


class CriterionKind(models.TextChoices):
    TCO = "tco", "Total cost of ownership"
    DELIVERY = "delivery", "Delivery time"
    RISK = "risk", "Vendor risk tier"
    PERFORMANCE = "performance", "Past performance"
    CUSTOM = "custom", "Scored by the evaluators"


class Criterion(models.Model):
    """One evaluation criterion and its weight in percent; an RFQ's weights sum to 100."""

    rfq = models.ForeignKey(Rfq, on_delete=models.CASCADE, related_name="criteria")
    position = models.PositiveSmallIntegerField(default=0)
    kind = models.CharField(max_length=12, choices=CriterionKind.choices)
    name = models.CharField(max_length=120)
    weight = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        validators=[MinValueValidator(ZERO), MaxValueValidator(HUNDRED)],
    )

    class Meta:
        ordering = ["rfq", "position", "id"]
        verbose_name_plural = "criteria"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(weight__gte=0) & models.Q(weight__lte=100),
                name="criterion_weight_0_to_100",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.weight}%)"


class Invitation(models.Model):
    """One vendor invited to quote, reached by a signed, expiring link (no account)."""

    rfq = models.ForeignKey(Rfq, on_delete=models.CASCADE, related_name="invitations")
    vendor = models.ForeignKey(Vendor, on_delete=models.PROTECT, related_name="rfq_invitations")
    contact_name = models.CharField(max_length=120)
    contact_email = models.EmailField()
    # Part of the signed link: rotating it (a resend) kills links sent before.
    link_nonce = models.UUIDField(default=uuid4, editable=False)
    # The vendor was a prospect or under review when invited: flagged on every page.
    is_prospect = models.BooleanField(default=False)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    invited_at = models.DateTimeField(auto_now_add=True)
    declined_at = models.DateTimeField(null=True, blank=True)
    decline_reason = models.TextField(blank=True, max_length=2000)

    class Meta:
        ordering = ["rfq", "id"]
        constraints = [
            models.UniqueConstraint(fields=["rfq", "vendor"], name="one_invitation_per_vendor"),
        ]

    def __str__(self) -> str:
        return f"{self.vendor} on {self.rfq_id}"


class Quote(models.Model):
    """One submission by an invited vendor. A revision is a new row: the earlier one is kept
    (superseded_at set) so the history of who offered what, and when, stays whole."""

    invitation = models.ForeignKey(Invitation, on_delete=models.PROTECT, related_name="quotes")
    revision = models.PositiveSmallIntegerField()
    # The counter-offer this revision answers (a negotiation round), if any.
    in_reply_to = models.ForeignKey(
        "CounterOffer", null=True, blank=True, on_delete=models.PROTECT, related_name="replies"
    )
    currency = models.CharField(max_length=3)
    delivery_days = models.PositiveIntegerField(validators=[MaxValueValidator(3650)])
    valid_until = models.DateField()
    terms = models.TextField(blank=True, max_length=10_000)
    implementation_cost = models.DecimalField(
        max_digits=14, decimal_places=2, default=ZERO, validators=[MinValueValidator(ZERO)]
    )
    support_cost_per_year = models.DecimalField(
        max_digits=14, decimal_places=2, default=ZERO, validators=[MinValueValidator(ZERO)]
    )
    # Computed by the service from the lines, never taken from the vendor: the price of the
    # lines as quoted (one period each), and the TCO over the RFQ's term, both in
    # `currency`, and the TCO converted to the RFQ's currency at the day's rate.
    lines_total = models.DecimalField(max_digits=16, decimal_places=2)
    tco = models.DecimalField(max_digits=16, decimal_places=2)
    tco_in_rfq_currency = models.DecimalField(max_digits=16, decimal_places=2)
    exchange_rate = models.DecimalField(
        max_digits=18, decimal_places=8, default=Decimal(1), help_text="1 quote currency = x RFQ."
    )
    submitted_at = models.DateTimeField(auto_now_add=True)
    superseded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["invitation", "revision"]
        constraints = [
            models.UniqueConstraint(
                fields=["invitation", "revision"], name="quote_revision_unique"
            ),
            # At most one current quote per vendor and RFQ.
            models.UniqueConstraint(
                fields=["invitation"],
                condition=models.Q(superseded_at__isnull=True),
                name="one_current_quote_per_invitation",
            ),
            models.CheckConstraint(condition=models.Q(tco__gt=0), name="quote_tco_positive"),
        ]

    def __str__(self) -> str:
        return f"Quote r{self.revision} from {self.invitation}"

    @property
    def is_current(self) -> bool:
        return self.superseded_at is None


class QuoteLine(models.Model):
    quote = models.ForeignKey(Quote, on_delete=models.CASCADE, related_name="lines")
    rfq_line = models.ForeignKey(RfqLine, on_delete=models.PROTECT, related_name="quote_lines")
    unit_price = models.DecimalField(max_digits=14, decimal_places=2)
    note = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["quote", "rfq_line__position", "rfq_line_id"]
        constraints = [
            models.UniqueConstraint(fields=["quote", "rfq_line"], name="quote_line_once"),
            models.CheckConstraint(
                condition=models.Q(unit_price__gt=0), name="quote_line_price_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.rfq_line_id}: {self.unit_price}"


def quote_attachment_path(instance: QuoteAttachment, filename: str) -> str:
    # Stored under a random name; the vendor's file name is kept in a column only.
    from pathlib import PurePath

    suffix = PurePath(filename).suffix.lower()[:10]
    return f"quotes/{uuid4().hex}{suffix}"


class QuoteAttachment(models.Model):
    quote = models.ForeignKey(Quote, on_delete=models.CASCADE, related_name="attachments")
    file = models.FileField(upload_to=quote_attachment_path, max_length=200)
    filename = models.CharField(max_length=255)
    content_type = models.CharField(max_length=100)
    size = models.PositiveIntegerField()

    def __str__(self) -> str:
        return self.filename


class Question(models.Model):
    """A vendor's question; once answered it is shown to every invited vendor, never with
    who asked. Procurement may also publish a clarification nobody asked for (asked_by null)."""

    rfq = models.ForeignKey(Rfq, on_delete=models.CASCADE, related_name="questions")
    asked_by = models.ForeignKey(
        Invitation, null=True, blank=True, on_delete=models.CASCADE, related_name="questions"
    )
    text = models.TextField(max_length=5000)
    asked_at = models.DateTimeField(auto_now_add=True)
    answer = models.TextField(blank=True, max_length=10_000)
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["rfq", "asked_at", "id"]

    def __str__(self) -> str:
        return self.text[:60]


class CriterionScore(models.Model):
    """An evaluator's 0-100 score of one vendor on a custom criterion (the others compute)."""

    criterion = models.ForeignKey(Criterion, on_delete=models.CASCADE, related_name="scores")
    invitation = models.ForeignKey(Invitation, on_delete=models.CASCADE, related_name="scores")
    score = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        validators=[MinValueValidator(ZERO), MaxValueValidator(HUNDRED)],
    )
    note = models.TextField(blank=True, max_length=2000)
    scored_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    scored_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["criterion", "invitation"], name="one_score_per_criterion_and_vendor"
            ),
            models.CheckConstraint(
                condition=models.Q(score__gte=0) & models.Q(score__lte=100),
                name="criterion_score_0_to_100",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.criterion_id}/{self.invitation_id}: {self.score}"


# --- Negotiation -------------------------------------------------------------------------


class CounterOfferState(models.TextChoices):
    OPEN = "open", "Waiting for the vendor"
    ANSWERED = "answered", "Answered with a revised quote"
    DECLINED = "declined", "Declined by the vendor"
    EXPIRED = "expired", "Expired"
    WITHDRAWN = "withdrawn", "Withdrawn"


class CounterOffer(ConcurrentTransitionMixin, models.Model):
    """A negotiation round: procurement's counter-offer to one vendor, answered through the
    vendor's link by a revised quote (Quote.in_reply_to) or a decline."""

    invitation = models.ForeignKey(
        Invitation, on_delete=models.PROTECT, related_name="counter_offers"
    )
    round = models.PositiveSmallIntegerField()
    # The quote revision it answers.
    quote = models.ForeignKey(Quote, on_delete=models.PROTECT, related_name="counter_offers")
    # What procurement asks for: a total over the term (TCO, RFQ currency), and a message.
    proposed_tco = models.DecimalField(max_digits=16, decimal_places=2)
    message = models.TextField(max_length=5000)
    respond_by = models.DateTimeField()
    state = FSMField(
        default=CounterOfferState.OPEN, choices=CounterOfferState.choices, protected=True
    )
    sent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    sent_at = models.DateTimeField(auto_now_add=True)
    answered_at = models.DateTimeField(null=True, blank=True)
    vendor_message = models.TextField(blank=True, max_length=5000)

    class Meta:
        ordering = ["invitation", "round"]
        constraints = [
            models.UniqueConstraint(fields=["invitation", "round"], name="counter_offer_round"),
            models.UniqueConstraint(
                fields=["invitation"],
                condition=models.Q(state="open"),
                name="one_open_counter_offer_per_vendor",
            ),
            models.CheckConstraint(
                condition=models.Q(proposed_tco__gt=0), name="counter_offer_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"Round {self.round} to {self.invitation}"

    @transition(field=state, source=CounterOfferState.OPEN, target=CounterOfferState.ANSWERED)
    def answer(self) -> None:
        from django.utils import timezone

        self.answered_at = timezone.now()

    @transition(field=state, source=CounterOfferState.OPEN, target=CounterOfferState.DECLINED)
    def decline(self) -> None:
        from django.utils import timezone

        self.answered_at = timezone.now()

    @transition(field=state, source=CounterOfferState.OPEN, target=CounterOfferState.EXPIRED)
    def expire(self) -> None:
        pass

    @transition(field=state, source=CounterOfferState.OPEN, target=CounterOfferState.WITHDRAWN)
    def withdraw(self) -> None:
        pass


# --- Award and savings -------------------------------------------------------------------


class AwardState(models.TextChoices):
    PENDING_APPROVAL = "pending_approval", "Awaiting approval (above walk-away)"
    APPROVED = "approved", "Approved"
    REFUSED = "refused", "Refused"


class Award(ConcurrentTransitionMixin, models.Model):
    """The choice of a winning quote. Above the walk-away price it waits for an extra approval
    by the policy's role (someone other than the awarder); otherwise it is approved at once."""

    rfq = models.ForeignKey(Rfq, on_delete=models.PROTECT, related_name="awards")
    quote = models.ForeignKey(Quote, on_delete=models.PROTECT, related_name="awards")
    justification = models.TextField(blank=True, max_length=10_000)
    # Frozen at the award: the ranking and the walk-away check as the awarder saw them.
    rank = models.PositiveSmallIntegerField()
    score = models.DecimalField(max_digits=6, decimal_places=2)
    above_walk_away = models.BooleanField(default=False)
    approver_role = models.CharField(max_length=32, choices=Role.choices, blank=True)
    state = FSMField(default=AwardState.APPROVED, choices=AwardState.choices, protected=True)
    awarded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    awarded_at = models.DateTimeField(auto_now_add=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_comment = models.TextField(blank=True, max_length=5000)

    class Meta:
        ordering = ["-awarded_at", "-id"]
        constraints = [
            # One live award per RFQ: a refused one may be followed by another.
            models.UniqueConstraint(
                fields=["rfq"],
                condition=~models.Q(state="refused"),
                name="one_live_award_per_rfq",
            ),
        ]

    def __str__(self) -> str:
        return f"Award of {self.rfq_id} to quote {self.quote_id}"

    @transition(field=state, source=AwardState.PENDING_APPROVAL, target=AwardState.APPROVED)
    def approve(self) -> None:
        from django.utils import timezone

        self.decided_at = timezone.now()

    @transition(field=state, source=AwardState.PENDING_APPROVAL, target=AwardState.REFUSED)
    def refuse(self) -> None:
        from django.utils import timezone

        self.decided_at = timezone.now()


class SavingsBaseline(models.TextChoices):
    FIRST_QUOTE = "first_quote", "First quote of the winning vendor"
    BENCHMARK = "benchmark", "Median price paid before (benchmark)"


class Saving(models.Model):
    """What an award saved: baseline minus final price, by SOURCING_SAVINGS_BASELINE. Written
    once when the award is approved; the analytics savings view sums these."""

    award = models.OneToOneField(Award, on_delete=models.CASCADE, related_name="saving")
    baseline_kind = models.CharField(max_length=16, choices=SavingsBaseline.choices)
    currency = models.CharField(max_length=3)
    baseline_amount = models.DecimalField(max_digits=16, decimal_places=2)
    final_amount = models.DecimalField(max_digits=16, decimal_places=2)
    # In the base currency, for the analytics view.
    baseline_base = models.DecimalField(max_digits=16, decimal_places=2)
    final_base = models.DecimalField(max_digits=16, decimal_places=2)
    saved_base = models.DecimalField(max_digits=16, decimal_places=2)
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="+")
    department = models.ForeignKey(
        "procurement.Department", on_delete=models.PROTECT, related_name="+"
    )
    vendor = models.ForeignKey(Vendor, on_delete=models.PROTECT, related_name="+")
    recorded_on = models.DateField(db_index=True)

    def __str__(self) -> str:
        return f"Saving {self.saved_base} on award {self.award_id}"


class ContractPrice(models.Model):
    """A price agreed in a contract, for the benchmark shown beside quotes."""

    contract = models.ForeignKey(Contract, on_delete=models.CASCADE, related_name="prices")
    description = models.CharField(max_length=300)
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="+")
    unit = models.CharField(max_length=20, default="each")
    unit_price = models.DecimalField(max_digits=14, decimal_places=2)

    class Meta:
        ordering = ["contract", "description"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(unit_price__gt=0), name="contract_price_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.description}: {self.unit_price}"


# --- Purchase orders ---------------------------------------------------------------------


class PoState(models.TextChoices):
    DRAFT = "draft", "Draft"
    ISSUED = "issued", "Issued"
    ACKNOWLEDGED = "acknowledged", "Acknowledged by the vendor"
    PARTIALLY_RECEIVED = "partially_received", "Partially received"
    RECEIVED = "received", "Received"
    CLOSED = "closed", "Closed"
    CANCELLED = "cancelled", "Cancelled"


RECEIVABLE_PO_STATES = [PoState.ISSUED, PoState.ACKNOWLEDGED, PoState.PARTIALLY_RECEIVED]
CHANGEABLE_PO_STATES = [PoState.DRAFT, PoState.ISSUED, PoState.ACKNOWLEDGED]


class PoNumberSequence(models.Model):
    """The last PO number used in a year. Locked with select_for_update by the service that
    creates a PO, in the same transaction: numbers are unique and gap-free per year."""

    year = models.PositiveSmallIntegerField(primary_key=True)
    last_number = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.year}: {self.last_number}"


class PurchaseOrder(ConcurrentTransitionMixin, models.Model):
    number = models.CharField(max_length=20, unique=True, editable=False)
    year = models.PositiveSmallIntegerField(editable=False)
    sequence = models.PositiveIntegerField(editable=False)
    award = models.OneToOneField(
        Award, null=True, blank=True, on_delete=models.PROTECT, related_name="purchase_order"
    )
    request = models.ForeignKey(
        PurchaseRequest, on_delete=models.PROTECT, related_name="purchase_orders"
    )
    vendor = models.ForeignKey(Vendor, on_delete=models.PROTECT, related_name="purchase_orders")
    contract = models.ForeignKey(
        Contract, null=True, blank=True, on_delete=models.SET_NULL, related_name="purchase_orders"
    )
    contact_email = models.EmailField()
    currency = models.CharField(max_length=3)
    # Kept by the services from the lines.
    total = models.DecimalField(max_digits=16, decimal_places=2, default=ZERO, editable=False)
    # The total last approved (at the award, or by a change order's approval): the base the
    # change-order tolerance is measured from.
    approved_total = models.DecimalField(max_digits=16, decimal_places=2, editable=False)
    delivery_date = models.DateField(null=True, blank=True)
    terms = models.TextField(blank=True, max_length=10_000)
    # Bumped by each applied change order; the PDF and emails name it.
    version = models.PositiveSmallIntegerField(default=1, editable=False)
    # Part of the vendor's acknowledgement link: rotating it kills earlier links.
    link_nonce = models.UUIDField(default=uuid4, editable=False)
    state = FSMField(default=PoState.DRAFT, choices=PoState.choices, protected=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    issued_at = models.DateTimeField(null=True, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    state_reason = models.TextField(blank=True, max_length=5000)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["year", "sequence"], name="po_number_per_year"),
            models.CheckConstraint(condition=models.Q(total__gte=0), name="po_total_not_negative"),
        ]

    def __str__(self) -> str:
        return self.number

    @transition(field=state, source=PoState.DRAFT, target=PoState.ISSUED)
    def issue(self) -> None:
        from django.utils import timezone

        self.issued_at = timezone.now()

    @transition(field=state, source=PoState.ISSUED, target=PoState.ACKNOWLEDGED)
    def acknowledge(self) -> None:
        from django.utils import timezone

        self.acknowledged_at = timezone.now()

    @transition(field=state, source=RECEIVABLE_PO_STATES, target=PoState.PARTIALLY_RECEIVED)
    def receive_part(self) -> None:
        pass

    @transition(field=state, source=RECEIVABLE_PO_STATES, target=PoState.RECEIVED)
    def receive_all(self) -> None:
        pass

    @transition(field=state, source=PoState.RECEIVED, target=PoState.CLOSED)
    def close(self) -> None:
        from django.utils import timezone

        self.closed_at = timezone.now()

    @transition(field=state, source=CHANGEABLE_PO_STATES, target=PoState.CANCELLED)
    def cancel(self) -> None:
        pass


class PoLine(models.Model):
    po = models.ForeignKey(PurchaseOrder, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveSmallIntegerField(default=0)
    rfq_line = models.ForeignKey(
        RfqLine, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    description = models.CharField(max_length=300)
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="+")
    quantity = models.DecimalField(max_digits=12, decimal_places=3)
    unit = models.CharField(max_length=20, default="each")
    unit_price = models.DecimalField(max_digits=14, decimal_places=2)

    class Meta:
        ordering = ["po", "position", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(quantity__gt=0), name="po_line_quantity_positive"
            ),
            models.CheckConstraint(
                condition=models.Q(unit_price__gt=0), name="po_line_price_positive"
            ),
        ]

    def __str__(self) -> str:
        return self.description


class ChangeOrderState(models.TextChoices):
    PENDING_APPROVAL = "pending_approval", "Awaiting re-approval"
    APPLIED = "applied", "Applied"
    REFUSED = "refused", "Refused"


class ChangeOrder(ConcurrentTransitionMixin, models.Model):
    """A change to a PO's lines. Within the tolerance of the approved total it applies at
    once; beyond it, it waits for re-approval by the policy's role."""

    po = models.ForeignKey(PurchaseOrder, on_delete=models.CASCADE, related_name="change_orders")
    number = models.PositiveSmallIntegerField()
    reason = models.TextField(max_length=5000)
    # The new lines as JSON: [{"line_id": int|None, "description", "category_id", "quantity",
    # "unit", "unit_price"}]; a PO line left out is removed. Applied by the service.
    lines = models.JSONField()
    old_total = models.DecimalField(max_digits=16, decimal_places=2)
    new_total = models.DecimalField(max_digits=16, decimal_places=2)
    approver_role = models.CharField(max_length=32, choices=Role.choices, blank=True)
    state = FSMField(
        default=ChangeOrderState.PENDING_APPROVAL,
        choices=ChangeOrderState.choices,
        protected=True,
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    requested_at = models.DateTimeField(auto_now_add=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_comment = models.TextField(blank=True, max_length=5000)

    class Meta:
        ordering = ["po", "number"]
        constraints = [
            models.UniqueConstraint(fields=["po", "number"], name="change_order_number"),
            models.UniqueConstraint(
                fields=["po"],
                condition=models.Q(state="pending_approval"),
                name="one_pending_change_order_per_po",
            ),
        ]

    def __str__(self) -> str:
        return f"Change {self.number} to {self.po_id}"

    @transition(
        field=state, source=ChangeOrderState.PENDING_APPROVAL, target=ChangeOrderState.APPLIED
    )
    def apply(self) -> None:
        from django.utils import timezone

        self.decided_at = timezone.now()

    @transition(
        field=state, source=ChangeOrderState.PENDING_APPROVAL, target=ChangeOrderState.REFUSED
    )
    def refuse(self) -> None:
        from django.utils import timezone

        self.decided_at = timezone.now()


# --- Receipt and invoice -----------------------------------------------------------------


class Receipt(models.Model):
    po = models.ForeignKey(PurchaseOrder, on_delete=models.PROTECT, related_name="receipts")
    received_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    received_on = models.DateField()
    recorded_at = models.DateTimeField(auto_now_add=True)
    note = models.TextField(blank=True, max_length=5000)

    class Meta:
        ordering = ["po", "recorded_at", "id"]

    def __str__(self) -> str:
        return f"Receipt {self.pk} on {self.po_id}"


class ReceiptLine(models.Model):
    receipt = models.ForeignKey(Receipt, on_delete=models.CASCADE, related_name="lines")
    po_line = models.ForeignKey(PoLine, on_delete=models.PROTECT, related_name="receipt_lines")
    quantity = models.DecimalField(max_digits=12, decimal_places=3)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(quantity__gt=0), name="receipt_line_quantity_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} of {self.po_line_id}"


class MatchTolerance(models.Model):
    """How far an invoice may differ from the PO and the receipt and still match. The most
    specific row wins: vendor and category, then vendor, then category; then the
    INVOICE_*_TOLERANCE_PERCENT settings."""

    vendor = models.ForeignKey(
        Vendor, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    category = models.ForeignKey(
        Category, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    price_percent = models.DecimalField(
        max_digits=5, decimal_places=2, validators=[MinValueValidator(ZERO)]
    )
    quantity_percent = models.DecimalField(
        max_digits=5, decimal_places=2, validators=[MinValueValidator(ZERO)]
    )

    class Meta:
        constraints = [
            # One row per vendor and category, per vendor alone, per category alone (three
            # partial constraints: SQLite has no NULLS NOT DISTINCT).
            models.UniqueConstraint(
                fields=["vendor", "category"],
                condition=models.Q(vendor__isnull=False, category__isnull=False),
                name="one_tolerance_per_vendor_and_category",
            ),
            models.UniqueConstraint(
                fields=["vendor"],
                condition=models.Q(category__isnull=True),
                name="one_tolerance_per_vendor",
            ),
            models.UniqueConstraint(
                fields=["category"],
                condition=models.Q(vendor__isnull=True),
                name="one_tolerance_per_category",
            ),
            models.CheckConstraint(
                condition=models.Q(vendor__isnull=False) | models.Q(category__isnull=False),
                name="tolerance_names_vendor_or_category",
            ),
            models.CheckConstraint(
                condition=models.Q(price_percent__gte=0) & models.Q(quantity_percent__gte=0),
                name="tolerance_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"±{self.price_percent}% price, ±{self.quantity_percent}% quantity"


class InvoiceState(models.TextChoices):
    # Recorded, not yet matched: only inside the transaction that records it.
    RECORDED = "recorded", "Recorded"
    MATCHED = "matched", "Matched"
    ON_HOLD = "on_hold", "On hold"
    # Finance released a held invoice (with a reason), or rejected it.
    RELEASED = "released", "Released by finance"
    REJECTED = "rejected", "Rejected"


PAYABLE_INVOICE_STATES = [InvoiceState.MATCHED, InvoiceState.RELEASED]


class Invoice(ConcurrentTransitionMixin, models.Model):
    po = models.ForeignKey(PurchaseOrder, on_delete=models.PROTECT, related_name="invoices")
    vendor = models.ForeignKey(Vendor, on_delete=models.PROTECT, related_name="invoices")
    number = models.CharField("vendor's invoice number", max_length=60)
    invoice_date = models.DateField()
    currency = models.CharField(max_length=3)
    # As printed on the invoice; the match checks it against the sum of the lines.
    total = models.DecimalField(max_digits=16, decimal_places=2)
    # Set by the 3-way match: [{"line_id": int|None, "code": str, "message": str}].
    hold_reasons = models.JSONField(default=list, blank=True)
    state = FSMField(default=InvoiceState.RECORDED, choices=InvoiceState.choices, protected=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    recorded_at = models.DateTimeField(auto_now_add=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution = models.TextField(blank=True, max_length=5000)
    # Set in the same transaction as the spend lines written for it.
    spend_recorded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-recorded_at", "-id"]
        constraints = [
            # "inv-1" and "INV-1" are the same invoice: recorded twice at the same instant
            # against two POs of one vendor, the database refuses the second (a double payment).
            models.UniqueConstraint(
                "vendor", Lower("number"), name="invoice_number_per_vendor_ignoring_case"
            ),
            models.CheckConstraint(condition=models.Q(total__gt=0), name="invoice_total_positive"),
        ]

    def __str__(self) -> str:
        return f"Invoice {self.number} on {self.po_id}"

    @transition(
        field=state,
        source=[InvoiceState.RECORDED, InvoiceState.ON_HOLD],
        target=InvoiceState.MATCHED,
    )
    def match(self) -> None:
        """The 3-way match found no difference (at once, or on a rematch after a receipt)."""

    @transition(field=state, source=InvoiceState.RECORDED, target=InvoiceState.ON_HOLD)
    def hold(self) -> None:
        pass

    @transition(field=state, source=InvoiceState.ON_HOLD, target=InvoiceState.RELEASED)
    def release(self) -> None:
        from django.utils import timezone

        self.resolved_at = timezone.now()

    @transition(field=state, source=InvoiceState.ON_HOLD, target=InvoiceState.REJECTED)
    def reject(self) -> None:
        from django.utils import timezone

        self.resolved_at = timezone.now()


class InvoiceLine(models.Model):
    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="lines")
    po_line = models.ForeignKey(PoLine, on_delete=models.PROTECT, related_name="invoice_lines")
    quantity = models.DecimalField(max_digits=12, decimal_places=3)
    unit_price = models.DecimalField(max_digits=14, decimal_places=2)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["invoice", "po_line"], name="invoice_line_once"),
            models.CheckConstraint(
                condition=models.Q(quantity__gt=0), name="invoice_line_quantity_positive"
            ),
            models.CheckConstraint(
                condition=models.Q(unit_price__gt=0), name="invoice_line_price_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.unit_price}"
