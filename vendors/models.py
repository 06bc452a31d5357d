"""Vendors and what we know about them: due diligence, security assessments, documents,
sanctions screening and contracts.

State machines (django-fsm, protected fields) move vendors, assessments and contracts;
every move goes through a service in vendors/services.py (or assessments.py, contracts.py)
that locks the row and writes the audit entry with the reason.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any
from uuid import uuid4

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django_fsm import ConcurrentTransitionMixin, FSMField, transition

from procurement.files import GeneratedUploadPath
from procurement.models import Category


def fsm_condition(condition: Callable[[Any], bool]) -> Callable[[Any], bool]:
    """Hand a typed condition to django-fsm, whose signature admits any model."""
    return condition


# --- Vendors ---------------------------------------------------------------------------


class VendorState(models.TextChoices):
    PROSPECT = "prospect", "Prospect"
    UNDER_REVIEW = "under_review", "Under review"
    APPROVED = "approved", "Approved"
    SUSPENDED = "suspended", "Suspended"
    BLOCKED = "blocked", "Blocked"
    OFFBOARDED = "offboarded", "Offboarded"


# Every state a vendor can be blocked from (and, with blocked, offboarded from).
BLOCKABLE_STATES = [
    VendorState.PROSPECT,
    VendorState.UNDER_REVIEW,
    VendorState.APPROVED,
    VendorState.SUSPENDED,
]
# Nothing may be requested from or ordered from a vendor in these states.
UNORDERABLE_STATES = frozenset({VendorState.BLOCKED, VendorState.OFFBOARDED})


class RiskTier(models.TextChoices):
    """Ordered from least to most risky; compare with RISK_TIER_ORDER."""

    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"
    CRITICAL = "critical", "Critical"


RISK_TIER_ORDER = {tier.value: rank for rank, tier in enumerate(RiskTier)}


class CheckKind(models.TextChoices):
    REGISTRATION = "registration", "Registration verified"
    SANCTIONS = "sanctions", "Sanctions screening"
    FINANCIAL_HEALTH = "financial_health", "Financial health"
    REFERENCES = "references", "References"
    INSURANCE = "insurance", "Insurance"
    CONFLICT_OF_INTEREST = "conflict_of_interest", "Conflict-of-interest declarations"
    DATA_PROCESSING = "data_processing", "Data processing agreement"


class VendorType(models.Model):
    """A kind of supplier, with its own due-diligence checklist (edited in the admin)."""

    code = models.SlugField(max_length=32, unique=True)
    name = models.CharField(max_length=80, unique=True)
    requires_security_assessment = models.BooleanField(
        default=True,
        help_text="A scored security assessment is needed before a vendor of this type is approved.",
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ChecklistItem(models.Model):
    """One due-diligence check a vendor of `vendor_type` goes through when its review starts."""

    vendor_type = models.ForeignKey(VendorType, on_delete=models.CASCADE, related_name="checklist")
    kind = models.CharField(max_length=32, choices=CheckKind.choices)
    required = models.BooleanField(
        default=True, help_text="A vendor cannot be approved while this check is open or failed."
    )
    only_with_personal_data = models.BooleanField(
        default=False, help_text="Only for vendors that will process personal data."
    )

    class Meta:
        ordering = ["vendor_type", "kind"]
        constraints = [
            models.UniqueConstraint(fields=["vendor_type", "kind"], name="checklist_kind_once")
        ]

    def __str__(self) -> str:
        return f"{self.vendor_type}: {self.get_kind_display()}"


def _vendor_is_clear_to_approve(vendor: Vendor) -> bool:
    from vendors.selectors import vendor_approval_blockers

    return not vendor_approval_blockers(vendor)


class Vendor(ConcurrentTransitionMixin, models.Model):
    legal_name = models.CharField(max_length=200)
    # Normalised legal name ("Acme Ltd." -> "acme"), kept for duplicate and spend matching.
    name_key = models.CharField(max_length=200, db_index=True, editable=False)
    registration_number = models.CharField("company registration number", max_length=40, blank=True)
    tax_number = models.CharField(
        "tax / VAT number",
        max_length=40,
        blank=True,
        help_text="Validated for the vendor's country where a checksum is known (python-stdnum).",
    )
    country = models.CharField(max_length=2, help_text="ISO 3166 two-letter code, e.g. GB.")
    address = models.TextField(blank=True, max_length=2000)
    website = models.URLField(blank=True, max_length=300)
    vendor_type = models.ForeignKey(VendorType, on_delete=models.PROTECT, related_name="vendors")
    categories = models.ManyToManyField(Category, blank=True, related_name="vendors")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="vendors_owned",
        help_text="The person in procurement who looks after this vendor.",
    )
    processes_personal_data = models.BooleanField(
        default=False, help_text="Will this vendor store or process personal data for us?"
    )
    state = FSMField(default=VendorState.PROSPECT, choices=VendorState.choices, protected=True)
    # Why the vendor is in its current state (the last move's reason; history is in the audit trail).
    state_reason = models.TextField(blank=True)
    risk_tier = models.CharField(max_length=16, choices=RiskTier.choices, blank=True)
    risk_assessed_at = models.DateTimeField(null=True, blank=True)
    next_assessment_due = models.DateField(null=True, blank=True)
    # Bank details: seen and changed only by procurement and finance (vendors/services.py).
    bank_account_name = models.CharField(max_length=140, blank=True)
    bank_iban = models.CharField("IBAN", max_length=34, blank=True)
    bank_bic = models.CharField("BIC / SWIFT", max_length=11, blank=True)
    bank_account_number = models.CharField(
        max_length=34, blank=True, help_text="For countries without IBAN."
    )
    bank_routing_code = models.CharField("sort code / routing number", max_length=20, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["legal_name"]
        indexes = [models.Index(fields=["state"]), models.Index(fields=["registration_number"])]

    def __str__(self) -> str:
        return self.legal_name

    @property
    def orderable(self) -> bool:
        return self.state not in UNORDERABLE_STATES

    @property
    def has_bank_details(self) -> bool:
        return bool(self.bank_iban or self.bank_account_number)

    # Transitions: bodies touch only this row; services lock, check roles and audit.
    @transition(field=state, source=VendorState.PROSPECT, target=VendorState.UNDER_REVIEW)
    def start_review(self) -> None:
        pass

    @transition(
        field=state,
        source=[VendorState.UNDER_REVIEW, VendorState.SUSPENDED],
        target=VendorState.APPROVED,
        conditions=[fsm_condition(_vendor_is_clear_to_approve)],
    )
    def approve(self) -> None:
        pass

    @transition(field=state, source=VendorState.APPROVED, target=VendorState.SUSPENDED)
    def suspend(self) -> None:
        pass

    @transition(
        field=state,
        source=[VendorState.APPROVED, VendorState.SUSPENDED, VendorState.BLOCKED],
        target=VendorState.UNDER_REVIEW,
    )
    def return_to_review(self) -> None:
        pass

    @transition(field=state, source=BLOCKABLE_STATES, target=VendorState.BLOCKED)
    def block(self) -> None:
        pass

    @transition(
        field=state, source=[*BLOCKABLE_STATES, VendorState.BLOCKED], target=VendorState.OFFBOARDED
    )
    def offboard(self) -> None:
        pass


class VendorName(models.Model):
    """Another name the vendor trades under or appears as (on invoices, card statements)."""

    class Kind(models.TextChoices):
        TRADING = "trading", "Trading name"
        ALIAS = "alias", "Alias"

    vendor = models.ForeignKey(Vendor, on_delete=models.CASCADE, related_name="other_names")
    name = models.CharField(max_length=200)
    name_key = models.CharField(max_length=200, db_index=True, editable=False)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.TRADING)

    class Meta:
        ordering = ["kind", "name"]
        constraints = [
            models.UniqueConstraint(fields=["vendor", "name_key"], name="vendor_name_once")
        ]

    def __str__(self) -> str:
        return self.name


class VendorContact(models.Model):
    vendor = models.ForeignKey(Vendor, on_delete=models.CASCADE, related_name="contacts")
    name = models.CharField(max_length=120)
    email = models.EmailField()
    phone = models.CharField(max_length=40, blank=True)
    job_title = models.CharField(max_length=120, blank=True)
    is_primary = models.BooleanField(default=False)

    class Meta:
        ordering = ["-is_primary", "name"]

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>"


class BankDetailChange(models.Model):
    """A change of a vendor's bank details: who, when, from what to what (masked), and why.

    Append-only. Every change puts an approved vendor back under review (invoice fraud
    usually starts with "please note our new bank details").
    """

    vendor = models.ForeignKey(Vendor, on_delete=models.CASCADE, related_name="bank_changes")
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    changed_at = models.DateTimeField(auto_now_add=True)
    previous = models.CharField(max_length=200, blank=True, help_text="Masked.")
    current = models.CharField(max_length=200, help_text="Masked.")
    reason = models.TextField()

    class Meta:
        ordering = ["-changed_at", "-id"]

    def __str__(self) -> str:
        return f"{self.vendor} bank details changed {self.changed_at:%Y-%m-%d}"


class VendorDocument(models.Model):
    """A certificate, report or agreement, usually with an expiry date we must watch."""

    class Kind(models.TextChoices):
        SOC2 = "soc2", "SOC 2 report"
        ISO27001 = "iso27001", "ISO 27001 certificate"
        INSURANCE = "insurance", "Insurance certificate"
        PCI_DSS = "pci_dss", "PCI DSS attestation"
        DPA = "dpa", "Data processing agreement"
        PEN_TEST = "pen_test", "Penetration test summary"
        EVIDENCE = "evidence", "Other evidence"

    vendor = models.ForeignKey(Vendor, on_delete=models.CASCADE, related_name="documents")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    title = models.CharField(max_length=200)
    file = models.FileField(upload_to=GeneratedUploadPath("vendors"), max_length=300)
    filename = models.CharField(max_length=255)
    content_type = models.CharField(max_length=100)
    size = models.PositiveIntegerField()
    issued_on = models.DateField(null=True, blank=True)
    expires_on = models.DateField(null=True, blank=True, db_index=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    uploaded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["expires_on", "kind"]

    def __str__(self) -> str:
        return self.title


# --- Due diligence ---------------------------------------------------------------------


class CheckStatus(models.TextChoices):
    OPEN = "open", "Open"
    PASSED = "passed", "Passed"
    FAILED = "failed", "Failed"
    NOT_APPLICABLE = "not_applicable", "Not applicable"


class DueDiligenceCheck(models.Model):
    """One check on one vendor: its outcome, who recorded it, when, and the evidence."""

    vendor = models.ForeignKey(Vendor, on_delete=models.CASCADE, related_name="checks")
    kind = models.CharField(max_length=32, choices=CheckKind.choices)
    required = models.BooleanField(default=True)
    status = models.CharField(max_length=16, choices=CheckStatus.choices, default=CheckStatus.OPEN)
    outcome = models.TextField(blank=True, max_length=5000)
    evidence = models.ForeignKey(
        VendorDocument, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    checked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    checked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["vendor", "kind"]
        constraints = [models.UniqueConstraint(fields=["vendor", "kind"], name="check_once")]

    def __str__(self) -> str:
        return f"{self.vendor}: {self.get_kind_display()} ({self.status})"


class ConflictDeclaration(models.Model):
    """A person involved with a vendor declares whether they have a conflict of interest."""

    vendor = models.ForeignKey(Vendor, on_delete=models.CASCADE, related_name="declarations")
    person = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    has_conflict = models.BooleanField()
    details = models.TextField(blank=True, max_length=5000)
    declared_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-declared_at"]
        constraints = [
            models.UniqueConstraint(fields=["vendor", "person"], name="declaration_once")
        ]

    def __str__(self) -> str:
        return f"{self.person} on {self.vendor}: {'conflict' if self.has_conflict else 'none'}"


# --- Sanctions ---------------------------------------------------------------------------


class SanctionsSource(models.TextChoices):
    UK = "uk", "UK consolidated list (OFSI)"
    EU = "eu", "EU consolidated list"
    OFAC = "ofac", "OFAC SDN list"


class SanctionsList(models.Model):
    """One import of a published list. A new import of a source replaces its entries."""

    source = models.CharField(max_length=8, choices=SanctionsSource.choices, unique=True)
    imported_at = models.DateTimeField()
    file_name = models.CharField(max_length=255)
    file_sha256 = models.CharField(max_length=64)
    entry_count = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.get_source_display()} ({self.entry_count} entries)"


class SanctionsEntry(models.Model):
    sanctions_list = models.ForeignKey(
        SanctionsList, on_delete=models.CASCADE, related_name="entries"
    )
    reference = models.CharField(max_length=64, help_text="The list's own id for the entry.")
    name = models.CharField(max_length=500)
    kind = models.CharField(max_length=32, blank=True, help_text="individual, entity, vessel...")
    programme = models.CharField(max_length=300, blank=True)
    country = models.CharField(max_length=120, blank=True)
    listed_on = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "sanctions entries"

    def __str__(self) -> str:
        return self.name


class SanctionsName(models.Model):
    """A name an entry is known by (its primary name and each alias), normalised for matching."""

    entry = models.ForeignKey(SanctionsEntry, on_delete=models.CASCADE, related_name="names")
    name = models.CharField(max_length=500)
    name_key = models.CharField(max_length=500)

    def __str__(self) -> str:
        return self.name


class SanctionsMatch(models.Model):
    """A possible match between a vendor's name and a listed name, for a person to judge.

    The entry's details are copied, so a later import of the list does not erase
    what the reviewer saw.
    """

    class Status(models.TextChoices):
        POSSIBLE = "possible", "Possible match"
        CLEARED = "cleared", "Cleared (not the same party)"
        CONFIRMED = "confirmed", "Confirmed match"

    vendor = models.ForeignKey(Vendor, on_delete=models.CASCADE, related_name="sanctions_matches")
    entry = models.ForeignKey(
        SanctionsEntry, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    source = models.CharField(max_length=8, choices=SanctionsSource.choices)
    entry_reference = models.CharField(max_length=64)
    listed_name = models.CharField(max_length=500)
    vendor_name = models.CharField(max_length=200, help_text="The vendor name that matched.")
    score = models.DecimalField(max_digits=5, decimal_places=1)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.POSSIBLE)
    found_at = models.DateTimeField(auto_now_add=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    reason = models.TextField(blank=True, max_length=5000)

    class Meta:
        ordering = ["-score"]
        constraints = [
            models.UniqueConstraint(
                fields=["vendor", "source", "entry_reference", "vendor_name"],
                name="sanctions_match_once",
            )
        ]
        verbose_name_plural = "sanctions matches"

    def __str__(self) -> str:
        return f"{self.vendor} ~ {self.listed_name} ({self.score})"


# --- Security assessments ---------------------------------------------------------------


class QuestionnaireTemplate(models.Model):
    """A versioned questionnaire. Once sent, a version is frozen: edit a new version instead."""

    name = models.CharField(max_length=120)
    version = models.PositiveIntegerField(default=1)
    description = models.TextField(blank=True)
    is_active = models.BooleanField(
        default=True, help_text="Offered when procurement sends a questionnaire."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["name", "version"], name="template_version_once")
        ]

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"

    @property
    def is_in_use(self) -> bool:
        return self.assessments.exists()


class QuestionnaireSection(models.Model):
    template = models.ForeignKey(
        QuestionnaireTemplate, on_delete=models.CASCADE, related_name="sections"
    )
    title = models.CharField(max_length=120)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["template", "position", "id"]

    def __str__(self) -> str:
        return self.title


class AnswerType(models.TextChoices):
    YES_NO = "yes_no", "Yes / no"
    CHOICE = "choice", "Choice"
    TEXT = "text", "Text"
    FILE = "file", "File upload (evidence)"


class Question(models.Model):
    section = models.ForeignKey(
        QuestionnaireSection, on_delete=models.CASCADE, related_name="questions"
    )
    text = models.CharField(max_length=500)
    help_text = models.CharField(max_length=500, blank=True)
    answer_type = models.CharField(max_length=16, choices=AnswerType.choices)
    # For choice questions: [{"label": "Quarterly", "score": 100}, ...]; score is 0-100.
    choices = models.JSONField(default=list, blank=True)
    weight = models.PositiveIntegerField(default=1, validators=[MaxValueValidator(100)])
    required = models.BooleanField(default=True)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["section", "position", "id"]

    def __str__(self) -> str:
        return self.text


class AssessmentState(models.TextChoices):
    SENT = "sent", "Sent to vendor"
    IN_PROGRESS = "in_progress", "Vendor answering"
    SUBMITTED = "submitted", "Submitted for review"
    SCORED = "scored", "Scored"
    CANCELLED = "cancelled", "Cancelled"


class Assessment(ConcurrentTransitionMixin, models.Model):
    """One questionnaire sent to one vendor contact by a signed link, answered and scored."""

    vendor = models.ForeignKey(Vendor, on_delete=models.CASCADE, related_name="assessments")
    template = models.ForeignKey(
        QuestionnaireTemplate, on_delete=models.PROTECT, related_name="assessments"
    )
    contact_name = models.CharField(max_length=120)
    contact_email = models.EmailField()
    # Part of the signed link: rotating it (a resend) kills the links sent before.
    link_nonce = models.UUIDField(default=uuid4, editable=False)
    state = FSMField(default=AssessmentState.SENT, choices=AssessmentState.choices, protected=True)
    sent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    sent_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    submitted_at = models.DateTimeField(null=True, blank=True)
    scored_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    scored_at = models.DateTimeField(null=True, blank=True)
    # 0-100, from the weighted answers and the reviewer's per-answer overrides.
    score = models.DecimalField(
        max_digits=5,
        decimal_places=1,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal(0)), MaxValueValidator(Decimal(100))],
    )
    computed_tier = models.CharField(max_length=16, choices=RiskTier.choices, blank=True)
    # The tier that counts: the computed one, unless the reviewer overrode it (with a reason).
    risk_tier = models.CharField(max_length=16, choices=RiskTier.choices, blank=True)
    tier_override_reason = models.TextField(blank=True, max_length=5000)

    class Meta:
        ordering = ["-sent_at", "-id"]

    def __str__(self) -> str:
        return f"{self.template} for {self.vendor}"

    @transition(field=state, source=AssessmentState.SENT, target=AssessmentState.IN_PROGRESS)
    def start(self) -> None:
        pass

    @transition(
        field=state,
        source=[AssessmentState.SENT, AssessmentState.IN_PROGRESS],
        target=AssessmentState.SUBMITTED,
    )
    def submit(self) -> None:
        pass

    @transition(field=state, source=AssessmentState.SUBMITTED, target=AssessmentState.SCORED)
    def mark_scored(self) -> None:
        pass

    @transition(
        field=state,
        source=[AssessmentState.SUBMITTED, AssessmentState.SCORED],
        target=AssessmentState.IN_PROGRESS,
    )
    def reopen(self) -> None:
        pass

    @transition(
        field=state,
        source=[AssessmentState.SENT, AssessmentState.IN_PROGRESS, AssessmentState.SUBMITTED],
        target=AssessmentState.CANCELLED,
    )
    def cancel(self) -> None:
        pass


class Answer(models.Model):
    assessment = models.ForeignKey(Assessment, on_delete=models.CASCADE, related_name="answers")
    question = models.ForeignKey(Question, on_delete=models.PROTECT, related_name="+")
    # yes/no: "yes" or "no"; choice: the chosen label; text: the text.
    value = models.TextField(blank=True, max_length=10_000)
    evidence = models.ForeignKey(
        VendorDocument, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    answered_at = models.DateTimeField(auto_now=True)
    # The reviewer's own score for this answer (0-100), replacing the automatic one.
    reviewer_score = models.PositiveIntegerField(
        null=True, blank=True, validators=[MaxValueValidator(100)]
    )
    override_reason = models.TextField(blank=True, max_length=5000)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["question__section__position", "question__position", "question_id"]
        constraints = [
            models.UniqueConstraint(fields=["assessment", "question"], name="answer_once"),
            models.CheckConstraint(
                condition=models.Q(reviewer_score__isnull=True) | models.Q(reviewer_score__lte=100),
                name="answer_reviewer_score_at_most_100",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.question}: {self.value[:40]}"


# --- Contracts ---------------------------------------------------------------------------


class ContractState(models.TextChoices):
    DRAFT = "draft", "Draft"
    ACTIVE = "active", "Active"
    EXPIRING = "expiring", "Expiring (in notice window)"
    RENEWED = "renewed", "Renewed"
    TERMINATED = "terminated", "Terminated"
    EXPIRED = "expired", "Expired"


LIVE_CONTRACT_STATES = [ContractState.ACTIVE, ContractState.EXPIRING]


class Contract(ConcurrentTransitionMixin, models.Model):
    vendor = models.ForeignKey(Vendor, on_delete=models.PROTECT, related_name="contracts")
    title = models.CharField(max_length=200)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="contracts_owned"
    )
    value = models.DecimalField(
        max_digits=16, decimal_places=2, validators=[MinValueValidator(Decimal("0"))]
    )
    currency = models.CharField(max_length=3)
    start_date = models.DateField()
    end_date = models.DateField()
    auto_renew = models.BooleanField(default=False)
    notice_period_days = models.PositiveIntegerField(
        default=30, help_text="Days before the end date by which notice must be given."
    )
    renewal_term_months = models.PositiveIntegerField(
        default=12, validators=[MinValueValidator(1)], help_text="Length of each renewal."
    )
    renewal_terms = models.TextField(blank=True, max_length=5000)
    # end_date - notice_period_days: the day a decision to renew or leave is due. Kept by
    # the services whenever either changes, so the pipeline sorts and filters in SQL.
    notice_deadline = models.DateField(db_index=True, editable=False)
    state = FSMField(default=ContractState.DRAFT, choices=ContractState.choices, protected=True)
    renewed_from = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="renewal"
    )
    state_reason = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["notice_deadline", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(end_date__gt=models.F("start_date")),
                name="contract_ends_after_it_starts",
            ),
            models.CheckConstraint(
                condition=models.Q(value__gte=0), name="contract_value_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.title} ({self.vendor})"

    @property
    def term_days(self) -> int:
        return (self.end_date - self.start_date).days

    @transition(field=state, source=ContractState.DRAFT, target=ContractState.ACTIVE)
    def activate(self) -> None:
        pass

    @transition(field=state, source=ContractState.ACTIVE, target=ContractState.EXPIRING)
    def enter_notice_window(self) -> None:
        pass

    @transition(field=state, source=LIVE_CONTRACT_STATES, target=ContractState.RENEWED)
    def mark_renewed(self) -> None:
        pass

    @transition(
        field=state,
        source=[ContractState.DRAFT, *LIVE_CONTRACT_STATES],
        target=ContractState.TERMINATED,
    )
    def terminate(self) -> None:
        pass

    @transition(field=state, source=LIVE_CONTRACT_STATES, target=ContractState.EXPIRED)
    def expire(self) -> None:
        pass


class ContractDocument(models.Model):
    contract = models.ForeignKey(Contract, on_delete=models.CASCADE, related_name="documents")
    title = models.CharField(max_length=200)
    file = models.FileField(upload_to=GeneratedUploadPath("contracts"), max_length=300)
    filename = models.CharField(max_length=255)
    content_type = models.CharField(max_length=100)
    size = models.PositiveIntegerField()
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    uploaded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-uploaded_at"]

    def __str__(self) -> str:
        return self.title


class ReminderSent(models.Model):
    """One reminder about one thing (a contract at an offset, a certificate before it expires).

    Inserted in the same transaction as the digest email that carried it, so a thing is
    reminded of once per occasion even when several runs overlap.
    """

    key = models.CharField(max_length=200, unique=True)
    sent_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.key
