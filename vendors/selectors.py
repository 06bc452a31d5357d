"""Reads of vendors, and who may see or do what with them. Permission rules live here."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Q, QuerySet

from procurement.models import Role, User
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

DUPLICATE_NAME_SCORE = 88.0


def vendor_may_see_file(user: User) -> bool:
    return user.is_active and user.has_role(*VENDOR_FILE_ROLES)


def vendor_may_manage(user: User) -> bool:
    return user.is_active and user.has_role(*VENDOR_MANAGER_ROLES)


def vendor_may_see_bank_details(user: User) -> bool:
    return user.is_active and user.has_role(*BANK_DETAIL_ROLES)


def vendor_may_record_checks(user: User) -> bool:
    return user.is_active and user.has_role(*DUE_DILIGENCE_ROLES)


def vendor_may_score_assessments(user: User) -> bool:
    return user.is_active and user.has_role(*ASSESSMENT_REVIEWER_ROLES)


def vendor_visible_to(user: User) -> QuerySet[Vendor]:
    """Vendors `user` may see at least the summary of: every active, signed-in user sees all."""
    if not user.is_authenticated or not user.is_active:
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
    reason: str  # "name 94% alike", "same registration number", "same tax number"


def vendor_possible_duplicates(
    *,
    legal_name: str,
    registration_number: str = "",
    tax_number: str = "",
    other_names: list[str] | None = None,
    exclude_id: int | None = None,
) -> list[DuplicateCandidate]:
    """Existing vendors that look like the one being entered: "did you mean ...?".

    Names are compared normalised ("Acme Ltd." = "ACME Limited") with rapidfuzz;
    registration and tax numbers are compared ignoring spaces and punctuation.
    """
    found: dict[int, DuplicateCandidate] = {}
    vendors = Vendor.objects.exclude(pk=exclude_id) if exclude_id else Vendor.objects.all()
    for label, value, attr in (
        ("registration number", registration_number, "registration_number"),
        ("tax number", tax_number, "tax_number"),
    ):
        key = identifier_key(value)
        if not key:
            continue
        # Identifiers are short and few per vendor: compare normalised in Python, after a
        # cheap SQL narrowing on the last characters (which punctuation never touches).
        for vendor in vendors.filter(**{f"{attr}__iendswith": key[-3:]}):
            if identifier_key(getattr(vendor, attr)) == key:
                found.setdefault(vendor.pk, DuplicateCandidate(vendor, f"same {label}"))
    keys = {name_key(name) for name in [legal_name, *(other_names or [])] if name.strip()}
    keys.discard("")
    if keys:
        known: list[tuple[int, str]] = list(vendors.values_list("pk", "name_key"))
        other = VendorName.objects.all()
        if exclude_id:
            other = other.exclude(vendor_id=exclude_id)
        known += list(other.values_list("vendor_id", "name_key"))
        best: dict[int, float] = {}
        for vendor_id, known_key in known:
            score = max(name_similarity(key, known_key) for key in keys)
            if score >= DUPLICATE_NAME_SCORE and score > best.get(vendor_id, 0):
                best[vendor_id] = score
        for vendor in Vendor.objects.filter(pk__in=best):
            reason = f"name {best[vendor.pk]:.0f}% alike"
            if vendor.pk in found:
                reason = f"{found[vendor.pk].reason}, {reason}"
            found[vendor.pk] = DuplicateCandidate(vendor, reason)
    return sorted(found.values(), key=lambda candidate: candidate.vendor.legal_name)
