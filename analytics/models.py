"""The spend ledger: every payment the organisation made, from imported files and (later)
from the platform's own invoices, with the rollups and findings built from it.

Three layers:
- dimensions (`Payee`, `SpendCategory`, `SpendDepartment`): the names finance systems write,
  each mapped once to our own records (vendor, category, department). Mapping a payee to a
  vendor applies to every past and future line at once, because lines point at the payee.
- `SpendLine`: one payment line, identified within its source by `identity`, so a file
  imported twice never counts twice.
- rollups (`SpendByMonth*`, `SpendCube`): sums per month, kept in step with the lines by
  `analytics.rollups` in the same transaction as every write, so dashboards never scan lines.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django_fsm import FSMField, transition

from procurement.files import GeneratedUploadPath


class SpendSource(models.Model):
    """Where lines come from: one finance system's export, a card programme, the platform."""

    class Kind(models.TextChoices):
        FILE = "file", "Imported files"
        PLATFORM = "platform", "This platform's invoices"

    name = models.CharField(max_length=120, unique=True)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.FILE)
    currency = models.CharField(
        max_length=3, help_text="Currency of amounts when the file has no currency column."
    )
    # The last column mapping that imported cleanly; offered again for the next file.
    mapping = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ImportState(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Importing"
    DONE = "done", "Imported"
    FAILED = "failed", "Failed"


class SpendImport(models.Model):
    """One file loaded into one source. Its good rows land all together or not at all."""

    source = models.ForeignKey(SpendSource, on_delete=models.PROTECT, related_name="imports")
    file = models.FileField(upload_to=GeneratedUploadPath("spend_imports"), blank=True)
    filename = models.CharField(max_length=255)
    file_size = models.PositiveBigIntegerField(default=0)
    mapping = models.JSONField(default=dict)
    state = FSMField(default=ImportState.QUEUED, choices=ImportState.choices, protected=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Progress, written as the file is read (bytes) and counted when it is done (rows).
    bytes_read = models.PositiveBigIntegerField(default=0)
    rows_read = models.PositiveIntegerField(default=0)
    rows_imported = models.PositiveIntegerField(default=0)
    rows_already_imported = models.PositiveIntegerField(default=0)
    rows_bad = models.PositiveIntegerField(default=0)
    rows_blank = models.PositiveIntegerField(default=0)
    total_base_amount = models.DecimalField(max_digits=18, decimal_places=2, default=0)
    error = models.TextField(blank=True)
    # When the findings (duplicates, splits) among its lines were last looked for: a file
    # import's scan runs on the worker after the import commits (see analytics.tasks).
    findings_scanned_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.filename} into {self.source}"

    @property
    def progress_percent(self) -> int:
        if self.state == ImportState.DONE:
            return 100
        if not self.file_size:
            return 0
        # The last few percent are the database work after the file has been read.
        return min(95, int(95 * self.bytes_read / self.file_size))

    @transition(field=state, source=ImportState.QUEUED, target=ImportState.RUNNING)
    def start(self) -> None:
        pass

    @transition(field=state, source=ImportState.RUNNING, target=ImportState.DONE)
    def finish(self) -> None:
        pass

    @transition(
        field=state, source=[ImportState.QUEUED, ImportState.RUNNING], target=ImportState.FAILED
    )
    def fail(self) -> None:
        pass


class ImportProblem(models.Model):
    """A row that was not imported, and why, by its line number in the file."""

    spend_import = models.ForeignKey(SpendImport, on_delete=models.CASCADE, related_name="problems")
    line_number = models.PositiveIntegerField()
    column = models.CharField(max_length=120, blank=True)
    message = models.CharField(max_length=300)
    raw = models.TextField(blank=True)

    class Meta:
        ordering = ["line_number", "id"]

    def __str__(self) -> str:
        return f"line {self.line_number}: {self.message}"


class PayeeMatch(models.TextChoices):
    UNMATCHED = "unmatched", "No vendor yet"
    EXACT = "exact", "Same name as the vendor"
    FUZZY = "fuzzy", "Similar name to the vendor"
    MANUAL = "manual", "Mapped by hand"
    REDACTED = "redacted", "Name withheld by the publisher"


class Payee(models.Model):
    """A supplier as finance systems spell it, grouped by normalised key ("AMAZON",
    "Amazon" and "AMZ EVAQ8" are one payee)."""

    key = models.CharField(max_length=200, unique=True)
    name = models.CharField(max_length=255, help_text="The first spelling seen.")
    vendor = models.ForeignKey(
        "vendors.Vendor", null=True, blank=True, on_delete=models.PROTECT, related_name="payees"
    )
    match = models.CharField(
        max_length=16, choices=PayeeMatch.choices, default=PayeeMatch.UNMATCHED
    )
    match_score = models.FloatField(null=True, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class PayeeSpelling(models.Model):
    """Each distinct way a payee was written, so a reviewer sees what was grouped."""

    payee = models.ForeignKey(Payee, on_delete=models.CASCADE, related_name="spellings")
    spelling = models.CharField(max_length=255, unique=True)

    def __str__(self) -> str:
        return self.spelling


class SpendCategory(models.Model):
    """A category as the file names it ("EXP - PURCHASE OF GOODS/SERVICES - ICT"); the row
    with key "" holds lines that named none."""

    key = models.CharField(max_length=255, unique=True)
    name = models.CharField(max_length=255)
    category = models.ForeignKey(
        "procurement.Category", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "spend categories"

    def __str__(self) -> str:
        return self.name


class SpendDepartment(models.Model):
    """A department or cost centre as the file names it, mapped to ours so a manager sees
    their department's spend; the row with key "" holds lines that named none."""

    key = models.CharField(max_length=255, unique=True)
    name = models.CharField(max_length=255)
    department = models.ForeignKey(
        "procurement.Department",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="spend_departments",
    )
    cost_centre = models.ForeignKey(
        "procurement.CostCentre", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class SpendLine(models.Model):
    id = models.BigAutoField(primary_key=True)
    # Only the indexes the import and the drill-downs use: each one slows a million-row load.
    # No database-level foreign keys either (db_constraint=False): checking six of them per
    # row doubled the time of a large import. Lines are written only by analytics.services,
    # which takes every id from the rows it has just resolved; on_delete=PROTECT still stops
    # the ORM deleting a payee, category or source that has lines.
    source = models.ForeignKey(
        SpendSource,
        on_delete=models.PROTECT,
        related_name="lines",
        db_index=False,
        db_constraint=False,
    )
    spend_import = models.ForeignKey(
        SpendImport,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="lines",
        db_constraint=False,
    )
    line_number = models.PositiveIntegerField(null=True, blank=True)
    # What makes this line the same line when a file is imported again: a hash of its
    # reference, date and supplier ("r" + 31 hex digits), or of the row's whole content where
    # there is no reference ("h..."), and its occurrence among the file's lines sharing that
    # hash ("#2"). Hashed so the unique index stays small at millions of lines.
    identity = models.CharField(max_length=40)
    reference = models.CharField(max_length=100, blank=True)
    date = models.DateField()
    # First day of the line's month: the rollups' key, and the partition key (docs/scaling.md).
    month = models.DateField()
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    currency = models.CharField(max_length=3)
    base_amount = models.DecimalField(max_digits=14, decimal_places=2)
    payee = models.ForeignKey(
        Payee, on_delete=models.PROTECT, related_name="lines", db_index=False, db_constraint=False
    )
    category = models.ForeignKey(
        SpendCategory,
        on_delete=models.PROTECT,
        related_name="lines",
        db_index=False,
        db_constraint=False,
    )
    department = models.ForeignKey(
        SpendDepartment,
        on_delete=models.PROTECT,
        related_name="lines",
        db_index=False,
        db_constraint=False,
    )
    contract = models.ForeignKey(
        "vendors.Contract",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    description = models.CharField(max_length=255, blank=True)
    quantity = models.DecimalField(max_digits=14, decimal_places=3, null=True, blank=True)

    class Meta:
        ordering = ["-date", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "identity"], name="spend_line_unique_per_source"
            ),
            models.CheckConstraint(
                condition=models.Q(quantity__isnull=True) | models.Q(quantity__gt=0),
                name="spend_line_quantity_positive",
            ),
        ]
        indexes = [
            models.Index(fields=["payee", "date"], name="spend_line_payee_date"),
            models.Index(fields=["department", "month"], name="spend_line_department_month"),
            models.Index(fields=["month"], name="spend_line_month"),
        ]

    def __str__(self) -> str:
        return f"{self.date} {self.payee_id} {self.amount} {self.currency}"


class SpendRollup(models.Model):
    """Sum of base amounts and count of lines per month and some dimensions."""

    # Foreign keys without database constraints, like the lines': rows are written only by
    # analytics.rollups from lines whose ids are already checked.
    month = models.DateField()
    amount = models.DecimalField(max_digits=18, decimal_places=2)
    lines = models.IntegerField()

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"{self.month:%Y-%m}: {self.amount} in {self.lines} lines"


class SpendByMonthCategory(SpendRollup):
    category = models.ForeignKey(
        SpendCategory, on_delete=models.CASCADE, related_name="+", db_constraint=False
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["month", "category"], name="rollup_month_category")
        ]


class SpendByMonthPayee(SpendRollup):
    payee = models.ForeignKey(
        Payee, on_delete=models.CASCADE, related_name="+", db_constraint=False
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["month", "payee"], name="rollup_month_payee")
        ]


class SpendByYearPayee(SpendRollup):
    """Per payee per calendar year (`month` is 1 January): "top vendors in 2025" sums a few
    thousand rows here instead of twelve months of them."""

    payee = models.ForeignKey(
        Payee, on_delete=models.CASCADE, related_name="+", db_constraint=False, db_index=False
    )

    class Meta:
        constraints = [models.UniqueConstraint(fields=["month", "payee"], name="rollup_year_payee")]


class SpendByMonthDepartment(SpendRollup):
    department = models.ForeignKey(
        SpendDepartment, on_delete=models.CASCADE, related_name="+", db_constraint=False
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["month", "department"], name="rollup_month_department")
        ]


class SpendCube(SpendRollup):
    """Department by category by on/off contract per month: the filtered views and the
    maverick-spend view. Payees are not in it on purpose: with them it grew to a third of the
    lines and cost more to keep than it saved; questions that cross a vendor with a
    department or category read the lines through their (payee, date) and (department,
    month) indexes instead."""

    department = models.ForeignKey(
        SpendDepartment,
        on_delete=models.CASCADE,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    category = models.ForeignKey(
        SpendCategory, on_delete=models.CASCADE, related_name="+", db_constraint=False
    )
    on_contract = models.BooleanField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["month", "department", "category", "on_contract"], name="rollup_cube"
            )
        ]
        indexes = [
            models.Index(fields=["department", "month"], name="rollup_cube_department"),
        ]


class AnomalyKind(models.TextChoices):
    DUPLICATE_PAYMENT = "duplicate", "Likely duplicate payment"
    SPLIT_PURCHASE = "split", "Possible split purchase"


class SpendAnomaly(models.Model):
    """A finding from the incremental scan run on every import (see analytics.anomalies)."""

    kind = models.CharField(max_length=16, choices=AnomalyKind.choices)
    # One finding per kind and group of lines, so a re-scan never repeats it.
    key = models.CharField(max_length=200)
    payee = models.ForeignKey(Payee, on_delete=models.CASCADE, related_name="anomalies")
    lines = models.ManyToManyField(SpendLine, related_name="anomalies")
    first_date = models.DateField()
    last_date = models.DateField()
    amount = models.DecimalField(max_digits=18, decimal_places=2)
    detail = models.CharField(max_length=300)
    detected_at = models.DateTimeField(auto_now_add=True)
    dismissed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    dismissed_at = models.DateTimeField(null=True, blank=True)
    dismissed_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-last_date", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "key"], name="spend_anomaly_unique"),
        ]
        verbose_name_plural = "spend anomalies"

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.detail}"


class ReportFrequency(models.TextChoices):
    WEEKLY = "weekly", "Weekly (Mondays, for the week before)"
    MONTHLY = "monthly", "Monthly (on the 1st, for the month before)"


class ReportSubscription(models.Model):
    """A user's standing order for a spend report over their own scope."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="report_subscriptions"
    )
    frequency = models.CharField(max_length=16, choices=ReportFrequency.choices)
    # Narrower than what the user may see, never wider: checked again at every send.
    department = models.ForeignKey(
        SpendDepartment, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    category = models.ForeignKey(
        SpendCategory, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    payee = models.ForeignKey(
        Payee, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["user_id", "frequency"]

    def __str__(self) -> str:
        return f"{self.get_frequency_display()} report for {self.user}"


class ReportDelivery(models.Model):
    """One report sent for one period: the unique constraint makes a second send a no-op."""

    subscription = models.ForeignKey(
        ReportSubscription, on_delete=models.CASCADE, related_name="deliveries"
    )
    period_start = models.DateField()
    period_end = models.DateField()
    sent_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-period_start"]
        constraints = [
            models.UniqueConstraint(
                fields=["subscription", "period_start"], name="report_delivery_once_per_period"
            )
        ]

    def __str__(self) -> str:
        return f"{self.subscription} for {self.period_start}"
