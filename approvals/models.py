"""Approval policies (data that procurement edits) and the frozen routes computed from them."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django_fsm import ConcurrentTransitionMixin, FSMField, transition

from procurement.models import Category, CostCentre, Department, Role
from requests.models import PurchaseRequest
from vendors.models import RiskTier


class NoMatch(models.TextChoices):
    AUTO_APPROVE_BELOW_FLOOR = (
        "auto_approve_below_floor",
        "Auto-approve below the floor, else line manager",
    )
    LINE_MANAGER = "line_manager", "Require the line manager"


class ApprovalPolicy(models.Model):
    """An ordered list of rules. Exactly one policy is active; routes copy what they need from it."""

    name = models.CharField(max_length=120)
    is_active = models.BooleanField(default=False)
    no_match = models.CharField(
        "when no rule matches", max_length=32, choices=NoMatch.choices, default=NoMatch.LINE_MANAGER
    )
    auto_approve_floor = models.DecimalField(
        max_digits=16,
        decimal_places=2,
        default=Decimal("0"),
        validators=[MinValueValidator(Decimal("0"))],
        help_text="In the base currency: below this, a request no rule matches is approved automatically.",
    )
    email_signin_above = models.DecimalField(
        "email links need sign-in above",
        max_digits=16,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0"))],
        help_text="In the base currency. Above it, an emailed link asks the approver to sign in "
        "instead of deciding. Empty: the platform's APPROVAL_EMAIL_SIGNIN_ABOVE setting applies.",
    )
    one_decision_per_person = models.BooleanField(
        default=True, help_text="One person may not decide two steps of the same request."
    )
    # Sourcing (the sourcing app reads these when it opens an RFQ, awards, or changes a PO).
    quotes_required = models.PositiveSmallIntegerField(
        "quotes needed",
        default=0,
        help_text="How many quotes an RFQ needs before an award (0: no rule). From this total "
        "up, procurement may open an RFQ before the request is approved.",
    )
    quotes_required_above = models.DecimalField(
        "quotes needed from",
        max_digits=16,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0"))],
        help_text="In the base currency: the request total from which the quotes rule applies. "
        "Empty: every request.",
    )
    walk_away_approver_role = models.CharField(
        "awards above walk-away approved by",
        max_length=32,
        choices=Role.choices,
        default=Role.FINANCE,
    )
    change_order_approver_role = models.CharField(
        "change orders beyond tolerance approved by",
        max_length=32,
        choices=Role.choices,
        default=Role.FINANCE,
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "approval policies"
        constraints = [
            models.UniqueConstraint(
                fields=["is_active"],
                condition=models.Q(is_active=True),
                name="one_active_approval_policy",
            )
        ]

    def __str__(self) -> str:
        return self.name


class ApproverKind(models.TextChoices):
    LINE_MANAGER = "line_manager", "The requester's line manager"
    DEPARTMENT_HEAD = "department_head", "The department head"
    ROLE = "role", "Everyone with a role"
    USER = "user", "A named user"


class Mode(models.TextChoices):
    ONE = "one", "One approver"
    ANY = "any", "Any one of the group"
    ALL = "all", "All of the group"
    N_OF_M = "n_of_m", "N of the group"


class OnOverdue(models.TextChoices):
    NOTIFY_MANAGER = "notify_manager", "Notify the approver's manager"
    REASSIGN = "reassign", "Reassign to the approver's manager"


class ApprovalRule(models.Model):
    """If every condition that is set holds, the route gets this rule's step."""

    policy = models.ForeignKey(ApprovalPolicy, on_delete=models.CASCADE, related_name="rules")
    position = models.PositiveSmallIntegerField(default=0)
    name = models.CharField(max_length=120, help_text='Shown on the route, e.g. "Finance review".')
    # Conditions: an empty one always holds.
    min_total = models.DecimalField(
        "total at or above",
        max_digits=16,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="In the base currency; other currencies are converted at the day's rate.",
    )
    category = models.ForeignKey(
        Category, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    department = models.ForeignKey(
        Department, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    cost_centre = models.ForeignKey(
        CostCentre, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    software_or_personal_data = models.BooleanField(
        default=False,
        help_text="Only when the request is for software/SaaS or processes personal data.",
    )
    vendor_not_approved = models.BooleanField(
        default=False, help_text="Only when the request names a vendor that is not approved."
    )
    vendor_risk_tier_at_least = models.CharField(
        "vendor risk tier at least",
        max_length=16,
        choices=RiskTier.choices,
        blank=True,
        help_text="Only when the named vendor's risk tier is this or worse (or not yet assessed).",
    )
    # The step it adds.
    approver_kind = models.CharField(max_length=20, choices=ApproverKind.choices)
    approver_role = models.CharField(max_length=32, choices=Role.choices, blank=True)
    approver_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    mode = models.CharField(max_length=10, choices=Mode.choices, default=Mode.ONE)
    required_approvals = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="N, for 'N of the group'."
    )
    stage = models.PositiveSmallIntegerField(
        default=1, help_text="Stages run in order; steps of the same stage run in parallel."
    )
    sla_hours = models.PositiveIntegerField(
        default=48, help_text="Escalates when still pending this long; 0 never escalates."
    )
    on_overdue = models.CharField(
        max_length=20, choices=OnOverdue.choices, default=OnOverdue.NOTIFY_MANAGER
    )

    class Meta:
        ordering = ["policy", "position", "id"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.approver_kind == ApproverKind.ROLE and not self.approver_role:
            raise ValidationError({"approver_role": "Choose the role that approves."})
        if self.approver_kind == ApproverKind.USER and not self.approver_user_id:
            raise ValidationError({"approver_user": "Choose the user who approves."})
        if self.mode == Mode.N_OF_M and not self.required_approvals:
            raise ValidationError({"required_approvals": "Say how many approvals are needed."})


class StepState(models.TextChoices):
    WAITING = "waiting", "Waiting for an earlier stage"
    PENDING = "pending", "Pending"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    CHANGES_REQUESTED = "changes_requested", "Changes requested"
    SKIPPED = "skipped", "Skipped"
    EXPIRED = "expired", "Expired"


OPEN_STEP_STATES = [StepState.WAITING, StepState.PENDING]


class ApprovalStep(ConcurrentTransitionMixin, models.Model):
    """One step of a request's frozen route: a copy of its rule taken at submission.

    Editing the policy later changes nothing here.
    """

    request = models.ForeignKey(
        PurchaseRequest, on_delete=models.CASCADE, related_name="approval_steps"
    )
    round = models.PositiveSmallIntegerField(
        help_text="1 for the first submission, 2 after a resubmission..."
    )
    stage = models.PositiveSmallIntegerField()
    position = models.PositiveSmallIntegerField(default=0)
    name = models.CharField(max_length=120)
    rule = models.ForeignKey(
        ApprovalRule, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Set when a higher app's gate added the step rather than a rule ("budget:12"): the gate
    # knows its step was decided, and does not ask twice in the same round.
    gate = models.CharField(max_length=64, blank=True)
    mode = models.CharField(max_length=10, choices=Mode.choices)
    required_approvals = models.PositiveSmallIntegerField()
    sla_hours = models.PositiveIntegerField(default=48)
    on_overdue = models.CharField(
        max_length=20, choices=OnOverdue.choices, default=OnOverdue.NOTIFY_MANAGER
    )
    state = FSMField(
        default=StepState.WAITING, choices=StepState.choices, protected=True, db_index=True
    )
    activated_at = models.DateTimeField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # Set once, under the step's row lock, when the step passes its SLA: it escalates only once.
    escalated_at = models.DateTimeField(null=True, blank=True)

    # Whether a person (by id) is named among the step's approvers, when a service has just
    # read it under the step's lock: approvals.rules answers from here rather than asking
    # the database again. Set on one instance, for one request; never stored.
    approvers_named: dict[int, bool]

    class Meta:
        ordering = ["request", "round", "stage", "position", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(required_approvals__gte=1), name="step_needs_an_approval"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} (stage {self.stage})"

    @transition(field=state, source=StepState.WAITING, target=StepState.PENDING)
    def activate(self) -> None:
        from django.utils import timezone

        self.activated_at = timezone.now()

    @transition(field=state, source=StepState.PENDING, target=StepState.APPROVED)
    def approve(self) -> None:
        self._stamp()

    @transition(field=state, source=StepState.PENDING, target=StepState.REJECTED)
    def reject(self) -> None:
        self._stamp()

    @transition(field=state, source=StepState.PENDING, target=StepState.CHANGES_REQUESTED)
    def request_changes(self) -> None:
        self._stamp()

    @transition(field=state, source=OPEN_STEP_STATES, target=StepState.SKIPPED)
    def skip(self) -> None:
        self._stamp()

    @transition(field=state, source=StepState.PENDING, target=StepState.EXPIRED)
    def expire(self) -> None:
        self._stamp()

    def _stamp(self) -> None:
        from django.utils import timezone

        self.decided_at = timezone.now()


class Decision(models.TextChoices):
    PENDING = "pending", "Pending"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    CHANGES_REQUESTED = "changes_requested", "Changes requested"
    NOT_NEEDED = "not_needed", "Not needed"


class StepApprover(models.Model):
    """A person asked to decide a step, and what they decided."""

    step = models.ForeignKey(ApprovalStep, on_delete=models.CASCADE, related_name="approvers")
    approver = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    decision = models.CharField(max_length=20, choices=Decision.choices, default=Decision.PENDING)
    decided_at = models.DateTimeField(null=True, blank=True)
    comment = models.TextField(blank=True)
    # Set when the step came to `approver` through a delegation: whatever they decide is
    # recorded as "approver on behalf of on_behalf_of".
    on_behalf_of = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # Daily digests that listed this assignment; capped by APPROVAL_REMINDER_MAX.
    reminders_sent = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["step", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["step", "approver"], name="one_assignment_per_step_and_approver"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.approver_id} on {self.step_id}: {self.decision}"

    @property
    def acting_as(self) -> str:
        """ "Xavier Ex on behalf of Mark Manager", or just the approver: for the route and emails."""
        if self.on_behalf_of_id:
            return f"{self.approver} on behalf of {self.on_behalf_of}"
        return str(self.approver)


class Delegation(models.Model):
    """While it runs (starts_on..ends_on, both included), `delegate` decides `delegator`'s steps.

    Created through approvals.services.delegation_create, which refuses cycles and overlaps.
    """

    delegator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="delegations_given"
    )
    delegate = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="delegations_received"
    )
    starts_on = models.DateField()
    ends_on = models.DateField()
    reason = models.CharField(max_length=200, blank=True, help_text='e.g. "Annual leave".')
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-starts_on", "-id"]
        indexes = [models.Index(fields=["delegator", "starts_on", "ends_on"])]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_on__gte=models.F("starts_on")),
                name="delegation_ends_after_it_starts",
            ),
            models.CheckConstraint(
                condition=~models.Q(delegator=models.F("delegate")),
                name="delegation_not_to_oneself",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.delegator} -> {self.delegate} ({self.starts_on} to {self.ends_on})"


class ApprovedTotal(models.Model):
    """The total a request had when it was last approved: the base for re-approval."""

    request = models.OneToOneField(
        PurchaseRequest, on_delete=models.CASCADE, primary_key=True, related_name="approved_total"
    )
    total = models.DecimalField(max_digits=16, decimal_places=2)
    approved_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.request_id}: {self.total}"
