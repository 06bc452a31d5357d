"""People, organisation and the audit trail: what every other app builds on."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import models

from procurement.prepared import PreparedQuery


class Role(models.TextChoices):
    REQUESTER = "requester", "Requester"
    MANAGER = "manager", "Manager"
    PROCUREMENT = "procurement", "Procurement"
    FINANCE = "finance", "Finance"
    SECURITY_REVIEWER = "security_reviewer", "Security reviewer"
    LEGAL = "legal", "Legal"
    ADMIN = "admin", "Admin"


# Roles whose holders may see every purchase request, not only their own.
ROLES_SEEING_ALL_REQUESTS = frozenset({Role.PROCUREMENT, Role.FINANCE, Role.ADMIN})


class Department(models.Model):
    code = models.SlugField(max_length=32, unique=True)
    name = models.CharField(max_length=120, unique=True)
    head = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="departments_headed",
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class CostCentre(models.Model):
    code = models.CharField(max_length=32, unique=True)
    name = models.CharField(max_length=120)
    department = models.ForeignKey(
        Department, on_delete=models.PROTECT, related_name="cost_centres"
    )
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class Category(models.Model):
    """What is being bought. Seeded with the six IT categories; admins may add more."""

    code = models.SlugField(max_length=32, unique=True)
    name = models.CharField(max_length=80, unique=True)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "categories"

    def __str__(self) -> str:
        return self.name


class FiscalYear(models.Model):
    """A budget year ("FY2027"). Years never overlap; a closed year takes no new requests."""

    name = models.CharField(max_length=20, unique=True)
    starts_on = models.DateField()
    ends_on = models.DateField()
    is_closed = models.BooleanField(
        default=False, help_text="Closed: no request may be submitted against this year."
    )

    class Meta:
        ordering = ["starts_on"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_on__gt=models.F("starts_on")),
                name="fiscal_year_ends_after_it_starts",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        """Years never overlap: a day belongs to one year, or budgets and the closed-year
        check would not know which. (The admin and forms call this; it is not a database
        constraint, because SQLite has no exclusion constraints.)"""
        super().clean()
        if self.starts_on is None or self.ends_on is None:
            return
        if self.ends_on <= self.starts_on:
            raise ValidationError({"ends_on": "A fiscal year ends after it starts."})
        overlapping = (
            FiscalYear.objects.filter(starts_on__lte=self.ends_on, ends_on__gte=self.starts_on)
            .exclude(pk=self.pk)
            .order_by("starts_on")
            .first()
        )
        if overlapping is not None:
            raise ValidationError(
                f"{self.name or 'This year'} overlaps {overlapping.name} "
                f"({overlapping.starts_on:%d %b %Y} to {overlapping.ends_on:%d %b %Y}); "
                "fiscal years may not overlap."
            )

    @classmethod
    def containing(cls, day: Any) -> FiscalYear | None:
        return cls.objects.filter(starts_on__lte=day, ends_on__gte=day).first()


class ObjectiveStatus(models.TextChoices):
    PLANNED = "planned", "Planned"
    ACTIVE = "active", "Active"
    ACHIEVED = "achieved", "Achieved"
    DROPPED = "dropped", "Dropped"


# A request may name an objective only while it is one of these.
OPEN_OBJECTIVE_STATUSES = [ObjectiveStatus.PLANNED, ObjectiveStatus.ACTIVE]


class Objective(models.Model):
    """A business objective purchases serve ("Move finance workloads to the cloud, FY2027").

    Company-wide when `department` is empty, else only that department's requests may name it.
    """

    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, max_length=5000)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="objectives_owned"
    )
    fiscal_year = models.ForeignKey(FiscalYear, on_delete=models.PROTECT, related_name="objectives")
    department = models.ForeignKey(
        Department,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="objectives",
        help_text="Empty: company-wide. Else only this department's requests may serve it.",
    )
    status = models.CharField(
        max_length=16, choices=ObjectiveStatus.choices, default=ObjectiveStatus.ACTIVE
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["fiscal_year__starts_on", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["fiscal_year", "name"], name="objective_name_unique_per_year"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.fiscal_year})"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_OBJECTIVE_STATUSES

    def serves_department(self, department_id: int | None) -> bool:
        return self.department_id is None or self.department_id == department_id


class User(AbstractUser):
    department = models.ForeignKey(
        Department, null=True, blank=True, on_delete=models.SET_NULL, related_name="members"
    )
    manager = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="reports",
        help_text="Line manager: sees this person's requests and approves them.",
    )

    class Meta:
        ordering = ["username"]

    def __str__(self) -> str:
        return self.get_full_name() or self.username

    @property
    def role_set(self) -> frozenset[str]:
        # Cached per instance: views ask several times per request.
        cached: frozenset[str] | None = getattr(self, "_role_set", None)
        if cached is None:
            # Asked on every signed-in request: compiled once (procurement/prepared.py).
            cached = frozenset(_ROLES_OF_USER.list(user_id=self.pk) if self.pk else ())
            if self.is_superuser:
                cached = cached | {Role.ADMIN}
            self._role_set = cached
        return cached

    def has_role(self, *roles: str) -> bool:
        return bool(self.role_set.intersection(roles))


class UserRole(models.Model):
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="roles")
    role = models.CharField(max_length=32, choices=Role.choices)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "role"], name="user_role_unique")]

    def __str__(self) -> str:
        return self.get_role_display()


_ROLES_OF_USER: PreparedQuery[str] = PreparedQuery(
    lambda user_id: UserRole.objects.filter(user_id=user_id).values_list("role", flat=True)
)


class AuditEntryQuerySet(models.QuerySet["AuditEntry"]):
    def update(self, **kwargs: Any) -> int:
        raise TypeError("Audit entries are append-only.")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise TypeError("Audit entries are append-only.")


class AuditEntry(models.Model):
    """One thing that happened to an object: a state change, by whom, when, why.

    Append-only: written by services in the same transaction as the change it
    records, never updated or deleted (the queryset and save() refuse it; on
    PostgreSQL a trigger refuses it too). Hash-chained right after that transaction
    commits (procurement/audit_chain.py): `hash` covers the entry's fields and
    `prev_hash`, the hash of the entry before it in the chain, so a changed or
    removed entry breaks the chain. The three chain fields are filled in once,
    together, and never change after.
    """

    content_type = models.ForeignKey(ContentType, on_delete=models.PROTECT)
    object_id = models.PositiveBigIntegerField()
    target = GenericForeignKey("content_type", "object_id")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    action = models.CharField(max_length=64)
    from_state = models.CharField(max_length=32, blank=True)
    to_state = models.CharField(max_length=32, blank=True)
    comment = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    # Empty until the entry is chained, a moment after its transaction commits: its place
    # in the chain (1, 2, ...), the hex SHA-256 of the entry before it there
    # (audit_chain.GENESIS_HASH for the first), and of its own fields with prev_hash.
    # NULL, not "", while unchained: the unique constraint below lets any number through.
    chain_index = models.PositiveBigIntegerField(null=True, unique=True, editable=False)
    prev_hash = models.CharField(max_length=64, null=True, editable=False)  # noqa: DJ001
    hash = models.CharField(max_length=64, null=True, editable=False)  # noqa: DJ001

    objects = AuditEntryQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(fields=["content_type", "object_id", "created_at"]),
            # What the sealer looks for after every commit: the few entries not chained yet.
            models.Index(
                fields=["id"],
                condition=models.Q(chain_index__isnull=True),
                name="audit_entry_unchained",
            ),
        ]
        constraints = [
            # Two entries chained to the same predecessor would be a fork: the database
            # refuses the second, whatever wrote it.
            models.UniqueConstraint(fields=["prev_hash"], name="audit_entry_one_successor"),
            models.CheckConstraint(
                condition=models.Q(
                    chain_index__isnull=True, prev_hash__isnull=True, hash__isnull=True
                )
                | models.Q(chain_index__isnull=False, prev_hash__isnull=False, hash__isnull=False),
                name="audit_entry_chained_whole",
            ),
        ]
        verbose_name_plural = "audit entries"

    def __str__(self) -> str:
        return f"{self.action} {self.from_state}->{self.to_state} by {self.actor_id}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise TypeError("Audit entries are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise TypeError("Audit entries are append-only.")


class AuditChainHead(models.Model):
    """The newest link of the audit chain: one row, written only under the chain lock
    (procurement/audit_chain.py), which makes chaining one writer at a time.

    `length` and `last_entry_id` let verify_audit_chain notice entries removed from the
    end of the chain, which no later entry points back to.
    """

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    hash = models.CharField(max_length=64)
    last_entry_id = models.PositiveBigIntegerField(null=True)
    length = models.PositiveBigIntegerField(default=0)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(id=1), name="audit_chain_one_head")
        ]

    def __str__(self) -> str:
        return f"audit chain of {self.length} entries, head {self.hash}"


class SentEmail(models.Model):
    """A record per email sent, keyed so a retried task never sends twice."""

    key = models.CharField(max_length=200, unique=True)
    to = models.EmailField()
    subject = models.CharField(max_length=255)
    sent_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.key} -> {self.to}"


class WorkerHeartbeat(models.Model):
    """Written by a beat-scheduled task, so /healthz can tell a worker is consuming."""

    name = models.CharField(max_length=64, unique=True)
    seen_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} at {self.seen_at}"


class ExchangeRate(models.Model):
    """How much one unit of `currency` is worth in the base currency, from `valid_from` on.

    Maintained by finance in the admin (the spend importer will load them in bulk).
    """

    currency = models.CharField(max_length=3)
    rate = models.DecimalField(max_digits=18, decimal_places=8)
    valid_from = models.DateField()

    class Meta:
        ordering = ["currency", "-valid_from"]
        constraints = [
            models.UniqueConstraint(
                fields=["currency", "valid_from"], name="exchange_rate_unique_per_day"
            ),
            models.CheckConstraint(condition=models.Q(rate__gt=0), name="exchange_rate_positive"),
        ]

    def __str__(self) -> str:
        return f"1 {self.currency} = {self.rate} base from {self.valid_from}"


class TaskOutbox(models.Model):
    """A Celery task to publish, written in the transaction of the change that wants it.

    procurement.outbox publishes it once that transaction commits; when the broker is down
    the row waits, and `manage.py relay_outbox` publishes it once the broker answers.
    """

    task = models.CharField(max_length=200)
    args = models.JSONField(default=list)
    kwargs = models.JSONField(default=dict)
    # Celery publishing options (queue, expires...), as a beat entry may give them.
    options = models.JSONField(default=dict)
    # Only runs that must happen once per key have one: beat's "<entry> for <period>".
    key = models.CharField(max_length=200, unique=True, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    published_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True)

    class Meta:
        indexes = [
            # The relay polls the pending rows, oldest first; published ones are most rows.
            models.Index(
                fields=["created_at"],
                condition=models.Q(published_at__isnull=True),
                name="task_outbox_pending",
            ),
        ]

    def __str__(self) -> str:
        state = "published" if self.published_at else "pending"
        return f"{self.task} #{self.pk} ({state})"
