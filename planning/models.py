"""Strategic planning: budgets per cost centre and fiscal year, and the needs board.

The top app: it reads requests, approvals, sourcing and analytics, and nothing reads it.
What a budget has consumed is never stored here: planning.budgets computes it from the
requests, purchase orders, invoices and spend lines each time, so it cannot drift.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models.functions import Coalesce

from procurement.models import Category, CostCentre, Department, FiscalYear, Objective
from requests.models import PurchaseRequest
from sourcing.models import Rfq


class OnExceed(models.TextChoices):
    """What happens when a submission or an approval would take the budget over."""

    STOP = "stop", "Stop: refuse the submission or approval"
    WARN = "warn", "Warn: allow it, and show the approver"
    APPROVAL = "approval", "Ask for an extra approval step"


class ExtraApprover(models.TextChoices):
    OWNER = "owner", "The budget owner"
    FINANCE = "finance", "Finance"


class Budget(models.Model):
    """What a cost centre (optionally narrowed to a category and/or objective) may spend in a
    fiscal year. Changed only through planning.budgets.budget_revise, which keeps every
    earlier version as a BudgetRevision."""

    fiscal_year = models.ForeignKey(FiscalYear, on_delete=models.PROTECT, related_name="budgets")
    cost_centre = models.ForeignKey(CostCentre, on_delete=models.PROTECT, related_name="budgets")
    category = models.ForeignKey(
        Category,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Empty: every category of the cost centre.",
    )
    objective = models.ForeignKey(
        Objective,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="budgets",
        help_text="Empty: whatever the requests serve.",
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="budgets_owned"
    )
    # In the base currency. The current version's; every version is a BudgetRevision.
    amount = models.DecimalField(max_digits=16, decimal_places=2)
    # Twelve amounts, one per month of the fiscal year from its first, summing to `amount`;
    # empty: spread evenly.
    phasing = models.JSONField(default=list, blank=True)
    on_exceed = models.CharField(max_length=16, choices=OnExceed.choices, default=OnExceed.WARN)
    extra_approver = models.CharField(
        "extra step decided by",
        max_length=16,
        choices=ExtraApprover.choices,
        default=ExtraApprover.OWNER,
        help_text="Who decides the extra step when the policy asks for one.",
    )
    version = models.PositiveIntegerField(default=1, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["fiscal_year__starts_on", "cost_centre__code", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(amount__gte=0), name="budget_amount_not_negative"
            ),
            # One budget per scope and year: a second would overlap it. Coalesce, because
            # "every category" (NULL) must collide with another "every category".
            models.UniqueConstraint(
                "fiscal_year",
                "cost_centre",
                Coalesce("category", 0),
                Coalesce("objective", 0),
                name="one_budget_per_scope_and_year",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.scope_label} {self.fiscal_year}"

    @property
    def scope_label(self) -> str:
        parts = [self.cost_centre.code]
        if self.category_id:
            parts.append(str(self.category))
        if self.objective is not None:
            parts.append(f"objective “{self.objective.name}”")
        return " · ".join(parts)

    def monthly_amounts(self) -> list[Decimal]:
        """The twelve monthly amounts: the phasing, or the amount spread evenly (the last
        month takes the rounding)."""
        if self.phasing:
            return [Decimal(value) for value in self.phasing]
        month = (self.amount / 12).quantize(Decimal("0.01"))
        return [month] * 11 + [self.amount - month * 11]


class BudgetRevision(models.Model):
    """One version of a budget, as it was set. Append-only: the first is version 1."""

    budget = models.ForeignKey(Budget, on_delete=models.CASCADE, related_name="revisions")
    version = models.PositiveIntegerField()
    amount = models.DecimalField(max_digits=16, decimal_places=2)
    phasing = models.JSONField(default=list, blank=True)
    on_exceed = models.CharField(max_length=16, choices=OnExceed.choices)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    reason = models.CharField(max_length=500, blank=True)
    # What was consumed when this version was set: a version below it is allowed, and flagged.
    consumed_then = models.DecimalField(max_digits=16, decimal_places=2)
    below_consumed = models.BooleanField(default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["budget", "-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["budget", "version"], name="budget_revision_unique_version"
            ),
            models.CheckConstraint(
                condition=models.Q(amount__gte=0), name="budget_revision_amount_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.budget_id} v{self.version}: {self.amount}"


# --- Needs -------------------------------------------------------------------------------


class NeedStatus(models.TextChoices):
    OPEN = "open", "Open"
    CONSOLIDATED = "consolidated", "Consolidated"
    WITHDRAWN = "withdrawn", "Withdrawn"


class ConsolidationKind(models.TextChoices):
    REQUEST = "request", "A purchase request"
    RFQ = "rfq", "An RFQ"


class Consolidation(models.Model):
    """Needs that procurement gathered into one request or one RFQ: volume is leverage."""

    kind = models.CharField(max_length=16, choices=ConsolidationKind.choices)
    purchase_request = models.ForeignKey(
        PurchaseRequest, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    rfq = models.ForeignKey(Rfq, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    note = models.TextField(blank=True, max_length=5000)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(
                        kind=ConsolidationKind.REQUEST,
                        purchase_request__isnull=False,
                        rfq__isnull=True,
                    )
                    | models.Q(
                        kind=ConsolidationKind.RFQ, rfq__isnull=False, purchase_request__isnull=True
                    )
                ),
                name="consolidation_names_its_target",
            ),
        ]

    def __str__(self) -> str:
        return f"Consolidation {self.pk} into {self.kind}"


class Need(models.Model):
    """A problem a department has, posted before anyone knows what to buy."""

    title = models.CharField(max_length=200)
    problem = models.TextField(max_length=10_000)
    department = models.ForeignKey(Department, on_delete=models.PROTECT, related_name="needs")
    objective = models.ForeignKey(
        Objective, null=True, blank=True, on_delete=models.PROTECT, related_name="needs"
    )
    category = models.ForeignKey(
        Category, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    people_affected = models.PositiveIntegerField()
    needed_by = models.DateField(help_text="When it has to be solved.")
    # In the base currency; a first guess, for the forecast and for consolidation.
    rough_budget = models.DecimalField(max_digits=16, decimal_places=2)
    status = models.CharField(max_length=16, choices=NeedStatus.choices, default=NeedStatus.OPEN)
    consolidation = models.ForeignKey(
        Consolidation, null=True, blank=True, on_delete=models.PROTECT, related_name="needs"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="needs_posted"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["needed_by", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(rough_budget__gte=0), name="need_rough_budget_not_negative"
            ),
            models.CheckConstraint(
                condition=(
                    models.Q(status=NeedStatus.CONSOLIDATED, consolidation__isnull=False)
                    | (~models.Q(status=NeedStatus.CONSOLIDATED) & models.Q(consolidation=None))
                ),
                name="need_consolidated_iff_linked",
            ),
        ]

    def __str__(self) -> str:
        return self.title


class NeedSupport(models.Model):
    """ "We need this too": another department's stake in a need, with its own numbers."""

    need = models.ForeignKey(Need, on_delete=models.CASCADE, related_name="supports")
    department = models.ForeignKey(Department, on_delete=models.PROTECT, related_name="+")
    supporter = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    people_affected = models.PositiveIntegerField()
    rough_budget = models.DecimalField(max_digits=16, decimal_places=2)
    note = models.TextField(blank=True, max_length=5000)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["need", "department"], name="one_support_per_department"
            ),
            models.CheckConstraint(
                condition=models.Q(rough_budget__gte=0), name="need_support_budget_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.department} on {self.need_id}"


class NeedCommentKind(models.TextChoices):
    COMMENT = "comment", "Comment"
    ALTERNATIVE = "alternative", "Alternative"


class NeedComment(models.Model):
    need = models.ForeignKey(Need, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(
        max_length=16, choices=NeedCommentKind.choices, default=NeedCommentKind.COMMENT
    )
    body = models.TextField(max_length=5000)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.kind} by {self.author_id} on {self.need_id}"
