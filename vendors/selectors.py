"""Reads of vendors, and who may see or do what with them. Permission rules live here."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Q, QuerySet

from procurement.models import Role, User
from procurement.permissions import allowed
from vendors.matching import identifier_key, name_key, name_similarity
from vendors.models import (
    AssessmentState,
    CheckStatus,
    DueDiligenceCheck,
    SanctionsMatch,
    Vendor,
    VendorName,
    VendorState,
)

# Who may see a vendor's whole file (checks, assessments, documents, sanctions, contracts).
# Everyone signed in sees the summary (name, state, tier, categories) to pick a vendor.
VENDOR_FILE_ROLES = (
    Role.PROCUREMENT,
    Role.FINANCE,
    Role.SECURITY_REVIEWER,
    Role.LEGAL,
    Role.ADMIN,
)
# Bank details are the classic invoice-fraud path: seen and changed by these roles only.
BANK_DETAIL_ROLES = (Role.PROCUREMENT, Role.FINANCE)
VENDOR_MANAGER_ROLES = (Role.PROCUREMENT, Role.ADMIN)
# Who may record due-diligence outcomes and clear sanctions matches.
DUE_DILIGENCE_ROLES = (Role.PROCUREMENT, Role.FINANCE, Role.LEGAL, Role.ADMIN)
# Who scores security assessments.
ASSESSMENT_REVIEWER_ROLES = (Role.SECURITY_REVIEWER, Role.ADMIN)

# rapidfuzz token_sort_ratio from which two name keys are "possibly the same company":
# one wrong or missing letter in a name of nine letters or more.
DUPLICATE_NAME_SCORE = 88.0
# Shorter keys (letters, without spaces) must match exactly; see _name_score.
DUPLICATE_FUZZY_MIN_LENGTH = 6


# The rules themselves are in vendors/rules.py; these names ask them.


def vendor_may_see_file(user: User) -> bool:
    return allowed(user, "vendors.view_vendorfile")


def vendor_may_manage(user: User) -> bool:
    return allowed(user, "vendors.change_vendor")


def vendor_may_see_bank_details(user: User) -> bool:
    return allowed(user, "vendors.view_bankdetails")


def vendor_may_change_bank_details(user: User) -> bool:
    return allowed(user, "vendors.change_bankdetails")


def vendor_may_record_checks(user: User) -> bool:
    return allowed(user, "vendors.check_vendor")


def vendor_may_declare(user: User) -> bool:
    return allowed(user, "vendors.declare_vendor")


def vendor_may_add_documents(user: User) -> bool:
    return allowed(user, "vendors.add_vendordocument")


def vendor_may_score_assessments(user: User) -> bool:
    return allowed(user, "vendors.score_assessment")


def vendor_visible_to(user: User) -> QuerySet[Vendor]:
    """Vendors `user` may see at least the summary of: every active, signed-in user sees all."""
    if not allowed(user, "vendors.view_vendor"):
        return Vendor.objects.none()
    return Vendor.objects.all()


def vendor_list(*, user: User, q: str = "", state: str = "") -> QuerySet[Vendor]:
    vendors = vendor_visible_to(user).select_related("owner", "vendor_type")
    if state:
        vendors = vendors.filter(state=state)
    q = q.strip()
    if q:
        key = name_key(q)
        vendors = vendors.filter(
            Q(legal_name__icontains=q)
            | Q(name_key__contains=key)
            | Q(other_names__name_key__contains=key)
            | Q(registration_number__iexact=q)
        ).distinct()
    return vendors


def vendors_orderable() -> QuerySet[Vendor]:
    """Vendors a request may name: all but blocked and offboarded ones."""
    return Vendor.objects.exclude(state__in=[VendorState.BLOCKED, VendorState.OFFBOARDED])


def vendor_approval_blockers(vendor: Vendor) -> list[str]:
    """Why `vendor` cannot be approved now, one sentence each; empty when it can."""
    blockers: list[str] = []
    open_checks = DueDiligenceCheck.objects.filter(vendor=vendor, required=True).exclude(
        status__in=[CheckStatus.PASSED, CheckStatus.NOT_APPLICABLE]
    )
    for check in open_checks:
        status = "failed" if check.status == CheckStatus.FAILED else "still open"
        blockers.append(f"The {check.get_kind_display().lower()} check is {status}.")
    matches = SanctionsMatch.objects.filter(vendor=vendor)
    possible = matches.filter(status=SanctionsMatch.Status.POSSIBLE).count()
    if possible:
        blockers.append(
            f"{possible} possible sanctions match{'es' if possible > 1 else ''} "
            "must be cleared by a person."
        )
    if matches.filter(status=SanctionsMatch.Status.CONFIRMED).exists():
        blockers.append("The vendor matches a sanctions list entry.")
    if (
        vendor.vendor_type.requires_security_assessment
        and not vendor.assessments.filter(state=AssessmentState.SCORED).exists()
    ):
        blockers.append("No security assessment has been scored.")
    return blockers


@dataclass(frozen=True)
class DuplicateCandidate:
    vendor: Vendor
    # "same registration number", "same tax number", "name 94% alike",
    # "trading name Acme Widgets 100% alike"; several joined with ", ".
    reason: str


def _name_score(entered: str, known: str) -> float:
    """How alike two name keys are, for "did you mean ...?" (0-100).

    Short keys must be equal: one letter in four is a large part of a short name, and
    "AB Ltd" is not "ABC Ltd" (token_sort_ratio gives "ab"/"abc" 80 and "acme"/"acmes"
    89, above DUPLICATE_NAME_SCORE). From DUPLICATE_FUZZY_MIN_LENGTH letters on, a typo or
    a missing letter is still caught ("Northwind" / "Northwnd" 94).
    """
    if min(len(entered.replace(" ", "")), len(known.replace(" ", ""))) < (
        DUPLICATE_FUZZY_MIN_LENGTH
    ):
        return 100.0 if entered == known else 0.0
    return name_similarity(entered, known)


def vendor_possible_duplicates(
    *,
    legal_name: str,
    registration_number: str = "",
    tax_number: str = "",
    other_names: list[str] | None = None,
    exclude_id: int | None = None,
    country: str = "",
) -> list[DuplicateCandidate]:
    """Existing vendors that look like the one being entered: "did you mean ...?".

    Names (legal, trading and aliases, on both sides) are compared normalised
    ("Acme Ltd." = "ACME Limited", word order ignored) with rapidfuzz; registration and
    tax numbers are compared ignoring spaces and punctuation, within `country` when it is
    given (a registry's numbers are only unique within its country).
    """
    reasons: dict[int, list[str]] = {}
    vendors = Vendor.objects.exclude(pk=exclude_id) if exclude_id else Vendor.objects.all()
    same_country = vendors.filter(country=country.strip().upper()) if country else vendors
    for label, value, attr in (
        ("registration number", registration_number, "registration_number"),
        ("tax number", tax_number, "tax_number"),
    ):
        key = identifier_key(value)
        if not key:
            continue
        # Stored numbers keep the spacing they were typed with, and punctuation can sit
        # anywhere in them ("SC 123 45"), so no SQL prefix/suffix narrowing is safe: compare
        # every stored number normalised. One short column of one table is cheap to scan.
        stored = same_country.exclude(**{attr: ""}).values_list("pk", attr)
        for vendor_id, number in stored:
            if identifier_key(number) == key:
                reasons.setdefault(vendor_id, []).append(f"same {label}")
    entered = {name_key(name) for name in [legal_name, *(other_names or [])] if name.strip()}
    entered.discard("")
    if entered:
        known: list[tuple[int, str, str]] = [
            (vendor_id, key, "name") for vendor_id, key in vendors.values_list("pk", "name_key")
        ]
        names = VendorName.objects.all()
        if exclude_id:
            names = names.exclude(vendor_id=exclude_id)
        for vendor_id, key, kind, name in names.values_list(
            "vendor_id", "name_key", "kind", "name"
        ):
            label = "trading name" if kind == VendorName.Kind.TRADING else "alias"
            known.append((vendor_id, key, f"{label} {name}"))
        best: dict[int, tuple[float, str]] = {}
        for vendor_id, known_key, label in known:
            score = max(_name_score(key, known_key) for key in entered)
            if score >= DUPLICATE_NAME_SCORE and score > best.get(vendor_id, (0.0, ""))[0]:
                best[vendor_id] = (score, label)
        for vendor_id, (score, label) in best.items():
            reasons.setdefault(vendor_id, []).append(f"{label} {score:.0f}% alike")
    found = Vendor.objects.filter(pk__in=reasons).order_by("legal_name", "pk")
    return [DuplicateCandidate(vendor, ", ".join(reasons[vendor.pk])) for vendor in found]
