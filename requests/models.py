"""Purchase requests: what staff ask to buy, and the state machine that carries it to closed."""

from __future__ import annotations

from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal
from pathlib import PurePath
from typing import TYPE_CHECKING, Any
from uuid import uuid4

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django_fsm import ConcurrentTransitionMixin, FSMField, transition

from procurement.models import Category, CostCentre, Department, Objective
from procurement.permissions import fsm_permission
from requests.validators import validate_currency, validate_not_in_past

if TYPE_CHECKING:
    pass

CENT = Decimal("0.01")


class RequestState(models.TextChoices):
    DRAFT = "draft", "Draft"
    SUBMITTED = "submitted", "Submitted"
    # The approvals workflow moves submitted requests here while its route runs.
    PENDING_APPROVAL = "pending_approval", "Pending approval"
    RETURNED = "returned", "Returned for changes"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    ORDERED = "ordered", "Ordered"
    RECEIVED = "received", "Received"
    CLOSED = "closed", "Closed"
    CANCELLED = "cancelled", "Cancelled"


AWAITING_DECISION = [RequestState.SUBMITTED, RequestState.PENDING_APPROVAL]
# "Cancel it while it is not yet ordered."
CANCELLABLE = [
    RequestState.DRAFT,
    RequestState.SUBMITTED,
    RequestState.PENDING_APPROVAL,
    RequestState.RETURNED,
    RequestState.APPROVED,
]


# --- Who may fire each transition: the rules in requests/rules.py ---


def fsm_condition(condition: Callable[[Any], bool]) -> Callable[[Any], bool]:
    return condition


def has_line_items(request: PurchaseRequest) -> bool:
    return request.line_items.exists()


def vendor_is_orderable(request: PurchaseRequest) -> bool:
    """Nothing is requested from, or ordered from, a blocked or offboarded vendor."""
    return request.vendor is None or request.vendor.orderable


class PurchaseRequest(ConcurrentTransitionMixin, models.Model):
    title = models.CharField(max_length=200)
    justification = models.TextField("business justification", max_length=10_000)
    requester = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="purchase_requests"
    )
    department = models.ForeignKey(Department, on_delete=models.PROTECT, related_name="+")
    cost_centre = models.ForeignKey(CostCentre, on_delete=models.PROTECT, related_name="+")
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="+")
    needed_by = models.DateField(validators=[validate_not_in_past])
    currency = models.CharField(max_length=3, validators=[validate_currency])
    processes_personal_data = models.BooleanField(
        "processes personal data",
        default=False,
        help_text="Tick if what you buy will store or process personal data (staff, customers).",
    )
    vendor = models.ForeignKey(
        "vendors.Vendor",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="purchase_requests",
        help_text="Who you want to buy from, if you know. A vendor not yet approved adds a review step.",
    )
    # Set by procurement when the purchase falls under an existing contract.
    contract = models.ForeignKey(
        "vendors.Contract",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="purchase_requests",
    )
    # Every submitted request says which business objective it serves, or why none.
    objective = models.ForeignKey(
        Objective,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="purchase_requests",
        help_text="The business objective this purchase serves.",
    )
    no_objective_reason = models.CharField(
        "serves no objective, because",
        max_length=500,
        blank=True,
        help_text="Only when it serves no objective: say why (e.g. replacing broken equipment).",
    )
    # Bumped on every edit: an emailed approval link names the version it was issued for.
    version = models.PositiveIntegerField(default=1, editable=False)
    # Always computed from the line items by the services; never taken from a client.
    total = models.DecimalField(
        max_digits=16, decimal_places=2, default=Decimal("0.00"), editable=False
    )
    state = FSMField(
        default=RequestState.DRAFT, choices=RequestState.choices, protected=True, db_index=True
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    submitted_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(total__gte=0), name="request_total_not_negative"
            ),
            # An objective, or a reason for none, never both.
            models.CheckConstraint(
                condition=models.Q(objective__isnull=True) | models.Q(no_objective_reason=""),
                name="request_objective_or_reason_not_both",
            ),
        ]
        indexes = [
            # A requester's own list ("My requests", the API's `mine`). With only
            # (requester, created_at) PostgreSQL preferred the newest-first index below and
            # filtered its way past everyone else's newer requests: 3 ms to skip 6,800 rows
            # for one page in bench/web's database, 0.1 ms with the id in this index.
            models.Index(
                fields=["requester", "-created_at", "-id"], name="request_mine_newest_first_idx"
            ),
            # Every list is newest first. Without this, a user who sees every request (finance,
            # procurement) had PostgreSQL sort them all for each page of 25: 12.7 ms for 7,200
            # requests, 0.1 ms with it (bench/web's database).
            models.Index(fields=["-created_at", "-id"], name="request_newest_first_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.reference} {self.title}"

    @property
    def reference(self) -> str:
        return f"PR-{self.pk:06d}" if self.pk else "PR-new"

    @property
    def is_editable(self) -> bool:
        return self.state == RequestState.DRAFT

    # --- Transitions: bodies touch only this row; services lock, audit and notify. ---

    @transition(
        field=state,
        source=RequestState.DRAFT,
        target=RequestState.SUBMITTED,
        permission=fsm_permission("requests.submit_purchaserequest"),
        conditions=[fsm_condition(has_line_items), fsm_condition(vendor_is_orderable)],
    )
    def submit(self) -> None:
        from django.utils import timezone

        self.submitted_at = timezone.now()

    @transition(field=state, source=RequestState.SUBMITTED, target=RequestState.PENDING_APPROVAL)
    def start_approval(self) -> None:
        """Fired by the approvals workflow when it freezes the route (a later issue)."""

    @transition(field=state, source=RequestState.APPROVED, target=RequestState.PENDING_APPROVAL)
    def require_reapproval(self) -> None:
        """Fired by the approvals workflow when an amendment raises the total past the tolerance."""

    @transition(
        field=state,
        source=AWAITING_DECISION,
        target=RequestState.APPROVED,
        permission=fsm_permission("requests.decide_purchaserequest"),
    )
    def approve(self) -> None:
        pass

    @transition(
        field=state,
        source=AWAITING_DECISION,
        target=RequestState.REJECTED,
        permission=fsm_permission("requests.decide_purchaserequest"),
    )
    def reject(self) -> None:
        pass

    @transition(
        field=state,
        source=AWAITING_DECISION,
        target=RequestState.RETURNED,
        permission=fsm_permission("requests.return_purchaserequest"),
    )
    def return_for_changes(self) -> None:
        pass

    @transition(
        field=state,
        source=RequestState.RETURNED,
        target=RequestState.DRAFT,
        permission=fsm_permission("requests.submit_purchaserequest"),
    )
    def revise(self) -> None:
        pass

    @transition(
        field=state,
        source=CANCELLABLE,
        target=RequestState.CANCELLED,
        permission=fsm_permission("requests.cancel_purchaserequest"),
    )
    def cancel(self) -> None:
        pass

    @transition(
        field=state,
        source=RequestState.APPROVED,
        target=RequestState.ORDERED,
        permission=fsm_permission("requests.order_purchaserequest"),
        conditions=[fsm_condition(vendor_is_orderable)],
    )
    def mark_ordered(self) -> None:
        pass

    @transition(
        field=state,
        source=RequestState.ORDERED,
        target=RequestState.RECEIVED,
        permission=fsm_permission("requests.receive_purchaserequest"),
    )
    def mark_received(self) -> None:
        pass

    @transition(
        field=state,
        source=RequestState.RECEIVED,
        target=RequestState.CLOSED,
        permission=fsm_permission("requests.order_purchaserequest"),
    )
    def close(self) -> None:
        pass


class LineItem(models.Model):
    request = models.ForeignKey(
        PurchaseRequest, on_delete=models.CASCADE, related_name="line_items"
    )
    position = models.PositiveSmallIntegerField(default=0)
    description = models.CharField(max_length=300)
    quantity = models.DecimalField(
        max_digits=12,
        decimal_places=3,
        validators=[
            MinValueValidator(Decimal("0.001"), message="Quantity must be greater than zero.")
        ],
    )
    unit = models.CharField(max_length=20, default="each")
    unit_price = models.DecimalField(
        max_digits=14,
        decimal_places=2,
        validators=[MinValueValidator(CENT, message="Unit price must be greater than zero.")],
    )
    vendor_sku = models.CharField("vendor SKU", max_length=100, blank=True)
    vendor_url = models.URLField("vendor link", max_length=500, blank=True)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(quantity__gt=0), name="line_item_quantity_positive"
            ),
            models.CheckConstraint(
                condition=models.Q(unit_price__gt=0), name="line_item_price_positive"
            ),
        ]

    def __str__(self) -> str:
        return self.description

    @property
    def amount(self) -> Decimal:
        return line_amount(self.quantity, self.unit_price)


def line_amount(quantity: Decimal, unit_price: Decimal) -> Decimal:
    return (quantity * unit_price).quantize(CENT, rounding=ROUND_HALF_UP)


def attachment_path(instance: Attachment, filename: str) -> str:
    # The stored name is random: the user's file name is kept in a column, never trusted as a path.
    suffix = PurePath(filename).suffix.lower()[:10]
    return f"attachments/{instance.request_id}/{uuid4().hex}{suffix}"


class Attachment(models.Model):
    request = models.ForeignKey(
        PurchaseRequest, on_delete=models.CASCADE, related_name="attachments"
    )
    file = models.FileField(upload_to=attachment_path, max_length=200)
    filename = models.CharField(max_length=255)
    content_type = models.CharField(max_length=100)
    size = models.PositiveIntegerField()
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    uploaded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["uploaded_at", "id"]

    def __str__(self) -> str:
        return self.filename


class Comment(models.Model):
    request = models.ForeignKey(PurchaseRequest, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    body = models.TextField(max_length=5000)
    mentions = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="mentioned_in"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"Comment by {self.author_id} on {self.request_id}"
