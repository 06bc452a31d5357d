"""Writes to vendors: records, lifecycle, bank details, due diligence, documents.

Every service checks who may act, validates everything before writing, writes in one
transaction with its audit entry, and queues side effects (sanctions screening,
emails) on commit. Assessments live in vendors/assessments.py, sanctions in
vendors/sanctions.py, contracts in vendors/contracts.py.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.core.validators import EmailValidator, URLValidator
from django.db import transaction
from django.utils import timezone
from django_fsm import ConcurrentTransition, TransitionNotAllowed

from procurement.errors import Conflict, InvalidInput, NotAllowed, NotFound
from procurement.files import document_check, files_removed_on_error
from procurement.models import Category, Role, User
from procurement.outbox import enqueue
from procurement.services import audit_record
from vendors.matching import name_key
from vendors.models import (
    BankDetailChange,
    CheckKind,
    CheckStatus,
    ConflictDeclaration,
    DueDiligenceCheck,
    SanctionsMatch,
    Vendor,
    VendorContact,
    VendorDocument,
    VendorName,
    VendorState,
    VendorType,
)
from vendors.selectors import (
    DuplicateCandidate,
    vendor_approval_blockers,
    vendor_may_add_documents,
    vendor_may_change_bank_details,
    vendor_may_declare,
    vendor_may_manage,
    vendor_may_record_checks,
    vendor_possible_duplicates,
)
from vendors.validators import bic_clean, iban_clean, tax_number_clean, validate_country

logger = logging.getLogger(__name__)


class PossibleDuplicate(Conflict):
    """The vendor being entered looks like one we have. Confirm to create it anyway."""

    code = "possible_duplicate"

    def __init__(self, candidates: list[DuplicateCandidate]) -> None:
        names = "; ".join(f"{c.vendor.legal_name} ({c.reason})" for c in candidates)
        super().__init__(
            f"Did you mean {names}? If this is a different company, confirm to add it anyway.",
            fields={
                "duplicates": [
                    f"{c.vendor.pk}: {c.vendor.legal_name} ({c.reason})" for c in candidates
                ]
            },
        )
        self.candidates = candidates


@dataclass
class ContactInput:
    name: str
    email: str
    phone: str = ""
    job_title: str = ""
    is_primary: bool = False


@dataclass
class VendorInput:
    legal_name: str
    country: str
    vendor_type_id: int
    owner_id: int
    registration_number: str = ""
    tax_number: str = ""
    address: str = ""
    website: str = ""
    processes_personal_data: bool = False
    category_ids: list[int] = field(default_factory=list)
    trading_names: list[str] = field(default_factory=list)
    aliases: list[str] = field(default_factory=list)
    contacts: list[ContactInput] = field(default_factory=list)


def _too_long(value: str, limit: int) -> list[str]:
    return [f"At most {limit} characters."] if len(value) > limit else []


def _clean_vendor_input(data: VendorInput) -> VendorInput:
    """Validate every field, or raise one InvalidInput naming each bad field.

    Lengths are checked here because PostgreSQL refuses an over-long value with a
    DataError (a 500), where SQLite would have stored it.
    """
    errors: dict[str, list[str]] = {}
    data.legal_name = " ".join(data.legal_name.split())
    if not data.legal_name:
        errors["legal_name"] = ["This field is required."]
    elif len(data.legal_name) > 200:
        errors["legal_name"] = ["At most 200 characters."]
    data.country = data.country.strip().upper()
    try:
        validate_country(data.country)
    except ValidationError as error:
        errors["country"] = error.messages
    else:
        try:
            data.tax_number = tax_number_clean(country=data.country, number=data.tax_number)
        except ValidationError as error:
            errors["tax_number"] = error.messages
    data.registration_number = data.registration_number.strip()
    if problem := _too_long(data.registration_number, 40):
        errors["registration_number"] = problem
    data.address = data.address.strip()
    if problem := _too_long(data.address, 2000):
        errors["address"] = problem
    data.website = data.website.strip()
    if data.website:
        try:
            URLValidator(schemes=["http", "https"])(data.website)
        except ValidationError:
            errors["website"] = ["Enter a web address starting with http:// or https://."]
        else:
            if problem := _too_long(data.website, 300):
                errors["website"] = problem
    if not VendorType.objects.filter(pk=data.vendor_type_id).exists():
        errors["vendor_type"] = ["Choose a vendor type."]
    owner = User.objects.filter(pk=data.owner_id, is_active=True).first()
    if owner is None or not owner.has_role(Role.PROCUREMENT):
        errors["owner"] = ["The owner must be an active member of procurement."]
    known = set(Category.objects.filter(pk__in=data.category_ids).values_list("pk", flat=True))
    if known != set(data.category_ids):
        errors["categories"] = ["Choose categories from the list."]
    data.trading_names = [" ".join(n.split()) for n in data.trading_names if n.strip()]
    data.aliases = [" ".join(n.split()) for n in data.aliases if n.strip()]
    for field_name, names in (("trading_names", data.trading_names), ("aliases", data.aliases)):
        if any(len(name) > 200 for name in names):
            errors[field_name] = ["Each name may have at most 200 characters."]
    valid_email = EmailValidator()
    for index, contact in enumerate(data.contacts):
        contact.name = " ".join(contact.name.split())
        contact.email = contact.email.strip()
        contact.phone = contact.phone.strip()
        contact.job_title = contact.job_title.strip()
        try:
            valid_email(contact.email)
        except ValidationError:
            email_ok = False
        else:
            email_ok = True
        if not contact.name or not email_ok:
            errors.setdefault("contacts", []).append(
                f"Contact {index + 1}: give a name and a valid email address."
            )
        elif (
            len(contact.name) > 120
            or len(contact.email) > 254
            or len(contact.phone) > 40
            or len(contact.job_title) > 120
        ):
            errors.setdefault("contacts", []).append(
                f"Contact {index + 1}: name and job title at most 120 characters, phone at most 40."
            )
    if errors:
        first = next(iter(errors.values()))[0]
        raise InvalidInput(first, fields=errors)
    return data


def _key(name: str) -> str:
    # "&" becomes " and ", so a key can outgrow the 200 characters of its column.
    return name_key(name)[:200]


def _write_names_and_contacts(vendor: Vendor, data: VendorInput) -> None:
    vendor.other_names.all().delete()
    seen = {vendor.name_key}
    for kind, names in (
        (VendorName.Kind.TRADING, data.trading_names),
        (VendorName.Kind.ALIAS, data.aliases),
    ):
        for name in names:
            key = _key(name)
            if key in seen:
                continue
            seen.add(key)
            VendorName.objects.create(vendor=vendor, name=name, name_key=key, kind=kind)
    vendor.contacts.all().delete()
    for contact in data.contacts:
        VendorContact.objects.create(
            vendor=vendor,
            name=contact.name,
            email=contact.email,
            phone=contact.phone,
            job_title=contact.job_title,
            is_primary=contact.is_primary,
        )
    vendor.categories.set(data.category_ids)


def vendor_create(*, by: User, data: VendorInput, not_a_duplicate: bool = False) -> Vendor:
    """Create a prospect vendor, or raise PossibleDuplicate (409) listing look-alikes.

    `not_a_duplicate=True` is the person's answer to "did you mean ...?": create anyway,
    and the audit entry says so. Names, contacts and categories are written atomically.
    """
    if not vendor_may_manage(by):
        raise NotAllowed("Only procurement can add vendors.")
    data = _clean_vendor_input(data)
    candidates = vendor_possible_duplicates(
        legal_name=data.legal_name,
        registration_number=data.registration_number,
        tax_number=data.tax_number,
        other_names=[*data.trading_names, *data.aliases],
        country=data.country,
    )
    if candidates and not not_a_duplicate:
        raise PossibleDuplicate(candidates)
    with transaction.atomic():
        vendor = Vendor.objects.create(
            legal_name=data.legal_name,
            name_key=_key(data.legal_name),
            registration_number=data.registration_number,
            tax_number=data.tax_number,
            country=data.country,
            address=data.address,
            website=data.website,
            vendor_type_id=data.vendor_type_id,
            owner_id=data.owner_id,
            processes_personal_data=data.processes_personal_data,
            created_by=by,
        )
        _write_names_and_contacts(vendor, data)
        audit_record(
            target=vendor,
            actor=by,
            action="created",
            to_state=vendor.state,
            comment=_resemblance_note("Added", candidates),
        )
    logger.info("vendor %s created by %s", vendor.pk, by.username)
    return vendor


def _resemblance_note(done: str, candidates: list[DuplicateCandidate]) -> str:
    """What a confirmed "not a duplicate" resembled, for the audit trail."""
    if not candidates:
        return ""
    return f"{done} although it resembles: " + "; ".join(
        f"{c.vendor.legal_name} (#{c.vendor.pk}, {c.reason})" for c in candidates
    )


def _lock_vendor(vendor_id: int) -> Vendor:
    # Locked: two people moving or editing one vendor must not interleave.
    vendor = Vendor.objects.select_for_update().filter(pk=vendor_id).first()
    if vendor is None:
        raise NotFound("No such vendor.")
    return vendor


def vendor_update(
    *, vendor_id: int, by: User, data: VendorInput, not_a_duplicate: bool = False
) -> Vendor:
    """Edit a vendor's record (not its state or bank details). Renamed vendors are screened again.

    An approved vendor whose new type or use of personal data brings checks (or a security
    assessment) it has not passed goes back under review in the same transaction.
    """
    if not vendor_may_manage(by):
        raise NotAllowed("Only procurement can edit vendors.")
    data = _clean_vendor_input(data)
    candidates = vendor_possible_duplicates(
        legal_name=data.legal_name,
        registration_number=data.registration_number,
        tax_number=data.tax_number,
        other_names=[*data.trading_names, *data.aliases],
        exclude_id=vendor_id,
        country=data.country,
    )
    if candidates and not not_a_duplicate:
        raise PossibleDuplicate(candidates)
    with transaction.atomic():
        vendor = _lock_vendor(vendor_id)
        if vendor.state == VendorState.OFFBOARDED:
            raise Conflict(f"{vendor.legal_name} is offboarded; it can no longer be edited.")
        names_before = {vendor.name_key, *vendor.other_names.values_list("name_key", flat=True)}
        new_values = {
            "legal_name": data.legal_name,
            "registration_number": data.registration_number,
            "tax_number": data.tax_number,
            "country": data.country,
            "address": data.address,
            "website": data.website,
            "vendor_type_id": data.vendor_type_id,
            "owner_id": data.owner_id,
            "processes_personal_data": data.processes_personal_data,
        }
        changed = [name for name, value in new_values.items() if getattr(vendor, name) != value]
        for name, value in new_values.items():
            setattr(vendor, name, value)
        vendor.name_key = _key(data.legal_name)
        vendor.save()
        _write_names_and_contacts(vendor, data)
        names_after = {vendor.name_key, *vendor.other_names.values_list("name_key", flat=True)}
        # A new type or "processes personal data" brings its own checks (and perhaps a
        # security assessment) into the review, or into an approval given without them.
        new_obligations = bool({"vendor_type_id", "processes_personal_data"} & set(changed))
        if vendor.state == VendorState.UNDER_REVIEW or (
            vendor.state == VendorState.APPROVED and new_obligations
        ):
            _checks_create(vendor)
        note = "Changed: " + ", ".join(n.removesuffix("_id") for n in changed) if changed else ""
        resemblance = _resemblance_note("Saved", candidates)
        audit_record(
            target=vendor,
            actor=by,
            action="edited",
            comment=" ".join(part for part in (note + "." if note else "", resemblance) if part),
        )
        blockers = (
            vendor_approval_blockers(vendor)
            if vendor.state == VendorState.APPROVED and new_obligations
            else []
        )
        if blockers:
            vendor_back_under_review(
                vendor=vendor,
                by=by,
                reason="Its type or use of personal data changed, and the approval no "
                "longer covers it: " + " ".join(blockers),
            )
        if names_after != names_before and vendor.state != VendorState.PROSPECT:
            _queue_screening(vendor.pk)
    return vendor


def _queue_screening(vendor_id: int) -> None:
    from vendors.tasks import screen_vendor

    enqueue(screen_vendor, vendor_id)


# --- Lifecycle -------------------------------------------------------------------------

VENDOR_ACTIONS: dict[str, tuple[str, str]] = {
    # action: (transition method, past tense for messages and the audit trail)
    "start_review": ("start_review", "put under review"),
    "approve": ("approve", "approved"),
    "suspend": ("suspend", "suspended"),
    "return_to_review": ("return_to_review", "returned to review"),
    "block": ("block", "blocked"),
    "offboard": ("offboard", "offboarded"),
}


def _checks_create(vendor: Vendor) -> None:
    """The vendor type's checklist becomes open checks (kept if the vendor had them before)."""
    for item in vendor.vendor_type.checklist.all():
        if item.only_with_personal_data and not vendor.processes_personal_data:
            continue
        DueDiligenceCheck.objects.get_or_create(
            vendor=vendor, kind=item.kind, defaults={"required": item.required}
        )


def vendor_transition(*, vendor_id: int, by: User, action: str, reason: str) -> Vendor:
    """Move a vendor through its lifecycle; every move needs a reason.

    Locks the row; refuses (403) anyone but procurement, (409) a move the state does not
    allow or an approval while checks, sanctions matches or the assessment are open,
    listing each in `fields["blockers"]`. Starting (or returning to) a review creates the
    checklist's checks and queues sanctions screening on commit.
    """
    if not vendor_may_manage(by):
        raise NotAllowed("Only procurement can change a vendor's status.")
    return _vendor_move(vendor_id=vendor_id, by=by, action=action, reason=reason)


def vendor_block_for_sanctions_match(*, vendor_id: int, by: User, reason: str) -> Vendor:
    """Block a vendor because a sanctions match was confirmed.

    Whoever may review sanctions matches (procurement, finance, legal, admin) may block
    for this reason: a confirmed match must stop orders at once, not wait for procurement.
    Same guarantees as vendor_transition; an already blocked or offboarded vendor is left
    as it is (409).
    """
    if not vendor_may_record_checks(by):
        raise NotAllowed("Only procurement, finance or legal can act on sanctions matches.")
    return _vendor_move(vendor_id=vendor_id, by=by, action="block", reason=reason)


def _vendor_move(*, vendor_id: int, by: User, action: str, reason: str) -> Vendor:
    """The move itself, for a caller that has checked who may make it."""
    if action not in VENDOR_ACTIONS:
        raise InvalidInput(
            f"Unknown action {action!r}.",
            fields={"action": [f"Choose one of {', '.join(VENDOR_ACTIONS)}."]},
        )
    method_name, past = VENDOR_ACTIONS[action]
    reason = reason.strip()
    if not reason:
        raise InvalidInput(
            "Give a reason: it is kept in the vendor's history.",
            fields={"reason": ["This field is required."]},
        )
    with transaction.atomic():
        vendor = _lock_vendor(vendor_id)
        method = getattr(vendor, method_name)
        from_state = vendor.state
        if not method._django_fsm.has_transition(from_state):
            raise Conflict(
                f"{vendor.legal_name} is {vendor.get_state_display().lower()}; "
                f"it cannot be {past} now."
            )
        if action == "approve":
            blockers = vendor_approval_blockers(vendor)
            if blockers:
                raise Conflict(
                    f"{vendor.legal_name} cannot be approved yet: " + " ".join(blockers),
                    fields={"blockers": blockers},
                )
        try:
            method()
            vendor.state_reason = reason
            vendor.save()
        except (TransitionNotAllowed, ConcurrentTransition):
            raise Conflict(
                f"{vendor.legal_name} was changed by someone else; reload and try again."
            ) from None
        if action in ("start_review", "return_to_review"):
            _checks_create(vendor)
        audit_record(
            target=vendor,
            actor=by,
            action=action,
            from_state=from_state,
            to_state=vendor.state,
            comment=reason,
        )
        if action in ("start_review", "return_to_review"):
            _queue_screening(vendor.pk)
    logger.info("vendor %s %s by %s", vendor.pk, past, by.username)
    return vendor


def vendor_back_under_review(*, vendor: Vendor, by: User | None, reason: str) -> bool:
    """Send an approved vendor back under review for `reason`, because of something found
    about it (a failed required check, a new possible sanctions match). Returns whether it moved.

    For services that already hold the vendor's row lock, inside their transaction. Audited
    (no actor when the system found it); the owner is emailed on commit, unless they did it.
    Only an approved vendor moves: others are not yet (or no longer) cleared for orders.
    """
    if vendor.state != VendorState.APPROVED:
        return False
    vendor.return_to_review()
    vendor.state_reason = reason
    vendor.save()
    entry = audit_record(
        target=vendor,
        actor=by,
        action="return_to_review",
        from_state=VendorState.APPROVED,
        to_state=vendor.state,
        comment=reason,
    )
    from vendors.tasks import notify_vendor_back_under_review

    enqueue(notify_vendor_back_under_review, entry.pk)
    logger.info("vendor %s back under review: %s", vendor.pk, reason)
    return True


# --- Bank details ----------------------------------------------------------------------


@dataclass
class BankDetailsInput:
    account_name: str
    iban: str = ""
    bic: str = ""
    account_number: str = ""
    routing_code: str = ""


def _mask(value: str) -> str:
    value = value.replace(" ", "")
    return ("•" * max(len(value) - 4, 0) + value[-4:]) if value else ""


def _masked(details: BankDetailsInput) -> str:
    parts = [details.account_name]
    if details.iban:
        parts.append(f"IBAN {_mask(details.iban)}")
    if details.account_number:
        parts.append(f"account {_mask(details.account_number)}")
    if details.bic:
        parts.append(f"BIC {details.bic}")
    if details.routing_code:
        parts.append(f"routing {_mask(details.routing_code)}")
    return ", ".join(part for part in parts if part)[:200]


def vendor_bank_details_change(
    *, vendor_id: int, by: User, details: BankDetailsInput, reason: str
) -> Vendor:
    """Change where we pay a vendor. Procurement and finance only.

    Records who, when, the masked old and new details and the reason; an approved or
    suspended vendor goes back under review in the same transaction, and its owner is
    emailed on commit (a changed account is how invoice fraud starts).
    """
    if not vendor_may_change_bank_details(by):
        raise NotAllowed("Only procurement and finance can change a vendor's bank details.")
    reason = reason.strip()
    errors: dict[str, list[str]] = {}
    if not reason:
        errors["reason"] = ["Say why the bank details change (and how it was verified)."]
    details.account_name = " ".join(details.account_name.split())
    if not details.account_name:
        errors["account_name"] = ["This field is required."]
    elif problem := _too_long(details.account_name, 140):
        errors["account_name"] = problem
    try:
        details.iban = iban_clean(details.iban)
    except ValidationError as error:
        errors["iban"] = error.messages
    try:
        details.bic = bic_clean(details.bic)
    except ValidationError as error:
        errors["bic"] = error.messages
    details.account_number = re.sub(r"[\s-]", "", details.account_number)
    details.routing_code = details.routing_code.strip()
    if not details.iban and not details.account_number and "iban" not in errors:
        errors["iban"] = ["Give an IBAN, or an account number for countries without IBAN."]
    if len(details.account_number) > 34:
        errors["account_number"] = ["At most 34 characters."]
    elif details.account_number and not details.account_number.isalnum():
        errors["account_number"] = ["Letters and digits only."]
    if problem := _too_long(details.routing_code, 20):
        errors["routing_code"] = problem
    if errors:
        raise InvalidInput(next(iter(errors.values()))[0], fields=errors)
    with transaction.atomic():
        vendor = _lock_vendor(vendor_id)
        if vendor.state == VendorState.OFFBOARDED:
            raise Conflict(f"{vendor.legal_name} is offboarded.")
        previous = BankDetailsInput(
            account_name=vendor.bank_account_name,
            iban=vendor.bank_iban,
            bic=vendor.bank_bic,
            account_number=vendor.bank_account_number,
            routing_code=vendor.bank_routing_code,
        )
        if previous == details:
            # Saving the same details again must not send an approved vendor back to review.
            raise InvalidInput(
                "These are the bank details we already have; nothing was changed.",
                fields={"iban": ["Same as the current bank details."]},
            )
        vendor.bank_account_name = details.account_name
        vendor.bank_iban = details.iban
        vendor.bank_bic = details.bic
        vendor.bank_account_number = details.account_number
        vendor.bank_routing_code = details.routing_code
        change = BankDetailChange.objects.create(
            vendor=vendor,
            changed_by=by,
            previous=_masked(previous),
            current=_masked(details),
            reason=reason,
        )
        from_state = vendor.state
        if vendor.state in (VendorState.APPROVED, VendorState.SUSPENDED):
            vendor.return_to_review()
            # Everyone who sees the file sees the state's reason; why the account changed is
            # for procurement and finance, in the bank-details history.
            vendor.state_reason = "Bank details changed; see the bank-details history."
        vendor.save()
        audit_record(
            target=vendor,
            actor=by,
            action="bank_details_changed",
            from_state=from_state,
            to_state=vendor.state,
            comment=reason,
        )
        if previous.iban or previous.account_number:
            from vendors.tasks import notify_bank_details_changed

            enqueue(notify_bank_details_changed, change.pk)
    return vendor


# --- Due diligence ---------------------------------------------------------------------

RECORDABLE_STATUSES = (
    CheckStatus.PASSED,
    CheckStatus.FAILED,
    CheckStatus.NOT_APPLICABLE,
    CheckStatus.OPEN,
)


def _store_document(
    *,
    vendor: Vendor,
    by: User | None,
    upload: UploadedFile,
    kind: str,
    title: str,
    stored_files: list[str],
    issued_on: dt.date | None = None,
    expires_on: dt.date | None = None,
    field_name: str = "file",
) -> VendorDocument:
    content_type = document_check(
        upload, field=field_name, limit=settings.VENDOR_DOCUMENT_MAX_BYTES
    )
    name = upload.name or "document"
    document = VendorDocument(
        vendor=vendor,
        kind=kind,
        title=(title.strip() or name)[:200],
        filename=name[:255],
        content_type=content_type,
        size=upload.size or 0,
        issued_on=issued_on,
        expires_on=expires_on,
        uploaded_by=by,
    )
    document.file.save(name, upload, save=False)
    stored_files.append(str(document.file.name))
    document.save()
    return document


def due_diligence_check_record(
    *,
    check_id: int,
    by: User,
    status: str,
    outcome: str,
    evidence: UploadedFile | None = None,
) -> DueDiligenceCheck:
    """Record a check's outcome (who, when, what, evidence). Reopening is recording "open".

    The sanctions check follows its matches (vendors/sanctions.py): it cannot be passed
    by hand while a possible match is uncleared.
    """
    if not vendor_may_record_checks(by):
        raise NotAllowed("Only procurement, finance or legal can record due-diligence checks.")
    if status not in RECORDABLE_STATUSES:
        raise InvalidInput(
            f"Status must be one of {', '.join(RECORDABLE_STATUSES)}.",
            fields={"status": ["Choose passed, failed, not applicable or open."]},
        )
    outcome = outcome.strip()
    if not outcome:
        raise InvalidInput(
            "Describe the outcome: what was checked and what was found.",
            fields={"outcome": ["This field is required."]},
        )
    if problem := _too_long(outcome, 5000):
        raise InvalidInput(problem[0], fields={"outcome": problem})
    vendor_id = (
        DueDiligenceCheck.objects.filter(pk=check_id).values_list("vendor_id", flat=True).first()
    )
    if vendor_id is None:
        raise NotFound("No such check.")
    with files_removed_on_error() as stored, transaction.atomic():
        # The vendor first, then the check: the order screening and match reviews lock them
        # in, so they cannot deadlock; and a failed check may move the vendor.
        vendor = _lock_vendor(vendor_id)
        check = DueDiligenceCheck.objects.select_for_update().filter(pk=check_id).first()
        if check is None:
            raise NotFound("No such check.")
        if vendor.state == VendorState.OFFBOARDED:
            raise Conflict(f"{vendor.legal_name} is offboarded.")
        passing = status == CheckStatus.PASSED
        uncleared = vendor.sanctions_matches.exclude(status=SanctionsMatch.Status.CLEARED)
        if passing and check.kind == CheckKind.SANCTIONS and uncleared.exists():
            raise Conflict(
                "The sanctions check cannot be passed by hand while a sanctions match is not "
                "cleared: review each possible match; a confirmed match fails the check.",
                fields={"status": ["A sanctions match is not cleared."]},
            )
        undeclared = not vendor.declarations.exists()
        if passing and check.kind == CheckKind.CONFLICT_OF_INTEREST and undeclared:
            raise Conflict(
                "Nobody has declared their interests for this vendor yet: "
                "ask the people involved to declare first.",
                fields={"status": ["No conflict-of-interest declaration yet."]},
            )
        if status == CheckStatus.NOT_APPLICABLE and check.required:
            raise InvalidInput(
                "This check is required for this kind of vendor; record passed or failed.",
                fields={"status": ["A required check cannot be marked not applicable."]},
            )
        if evidence is not None:
            check.evidence = _store_document(
                vendor=vendor,
                by=by,
                upload=evidence,
                kind=VendorDocument.Kind.EVIDENCE,
                title=f"{check.get_kind_display()} evidence",
                stored_files=stored,
                field_name="evidence",
            )
        from_status = check.status
        check.status = status
        check.outcome = outcome
        check.checked_by = by
        check.checked_at = timezone.now()
        check.save()
        audit_record(
            target=vendor,
            actor=by,
            action=f"check_{check.kind}",
            from_state=from_status,
            to_state=status,
            comment=outcome,
        )
        if status == CheckStatus.FAILED and check.required:
            # An approved vendor that fails a required check is no longer cleared: it goes
            # back under review (requests naming it then need the new-vendor approval step)
            # until the check passes and someone approves it again.
            vendor_back_under_review(
                vendor=vendor,
                by=by,
                reason=f"The {check.get_kind_display().lower()} check failed: {outcome}"[:5000],
            )
    return check


def conflict_declare(
    *, vendor_id: int, by: User, has_conflict: bool, details: str = ""
) -> ConflictDeclaration:
    """`by` declares whether they have a conflict of interest with the vendor (replacing an earlier one)."""
    if not vendor_may_declare(by):
        raise NotAllowed("Only people involved in choosing vendors declare interests.")
    details = details.strip()
    if has_conflict and not details:
        raise InvalidInput(
            "Describe the conflict (who, what relationship).",
            fields={"details": ["This field is required when you declare a conflict."]},
        )
    if problem := _too_long(details, 5000):
        raise InvalidInput(problem[0], fields={"details": problem})
    with transaction.atomic():
        vendor = _lock_vendor(vendor_id)
        declaration, _ = ConflictDeclaration.objects.update_or_create(
            vendor=vendor,
            person=by,
            defaults={
                "has_conflict": has_conflict,
                "details": details,
                "declared_at": timezone.now(),
            },
        )
        audit_record(
            target=vendor,
            actor=by,
            action="conflict_declared",
            comment=("Declared a conflict: " + details)
            if has_conflict
            else "Declared no conflict.",
        )
    return declaration


def vendor_document_add(
    *,
    vendor_id: int,
    by: User,
    kind: str,
    title: str,
    upload: UploadedFile,
    issued_on: dt.date | None = None,
    expires_on: dt.date | None = None,
) -> VendorDocument:
    """Store a certificate or report (PDF or image, size capped) with its expiry date."""
    if not vendor_may_add_documents(by):
        raise NotAllowed("Only procurement, finance, legal or security can add vendor documents.")
    if kind not in VendorDocument.Kind.values:
        raise InvalidInput(
            "Choose what kind of document this is.", fields={"kind": ["Choose a kind."]}
        )
    if issued_on and expires_on and expires_on <= issued_on:
        raise InvalidInput(
            "The expiry date must be after the issue date.",
            fields={"expires_on": ["Must be after the issue date."]},
        )
    with files_removed_on_error() as stored, transaction.atomic():
        vendor = _lock_vendor(vendor_id)
        document = _store_document(
            vendor=vendor,
            by=by,
            upload=upload,
            kind=kind,
            title=title,
            stored_files=stored,
            issued_on=issued_on,
            expires_on=expires_on,
        )
        audit_record(target=vendor, actor=by, action="document_added", comment=document.title)
    return document


def vendor_names_for_screening(vendor: Vendor) -> Sequence[str]:
    """Every name the vendor goes by: legal name first, then trading names and aliases."""
    return [vendor.legal_name, *vendor.other_names.values_list("name", flat=True)]
