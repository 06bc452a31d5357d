"""Due-diligence checks: outcomes, evidence, and the rules that keep them honest."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile

from procurement.errors import Conflict, InvalidInput, NotAllowed, NotFound
from procurement.models import AuditEntry
from tests.factories import vendor_create
from vendors.models import ConflictDeclaration, DueDiligenceCheck, SanctionsMatch, VendorDocument
from vendors.services import conflict_declare, due_diligence_check_record, vendor_transition

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def files_in_media() -> list[Path]:
    root = Path(settings.MEDIA_ROOT)
    return [path for path in root.rglob("*") if path.is_file()] if root.exists() else []


@pytest.fixture
def vendor(org):
    vendor = vendor_create(by=org.procurement)
    return vendor_transition(
        vendor_id=vendor.pk, by=org.procurement, action="start_review", reason="New supplier"
    )


def check(vendor, kind: str) -> DueDiligenceCheck:
    return vendor.checks.get(kind=kind)


def record(vendor, kind: str, by, status: str = "passed", outcome: str = "Checked.", **kw):
    return due_diligence_check_record(
        check_id=check(vendor, kind).pk, by=by, status=status, outcome=outcome, **kw
    )


@pytest.mark.parametrize("status", ["passed", "failed", "open"])
def test_it_records_who_checked_what_and_when(org, vendor, status):
    recorded = record(
        vendor, "registration", org.legal, status=status, outcome=" Companies House: active "
    )

    recorded.refresh_from_db()
    assert recorded.status == status
    assert recorded.outcome == "Companies House: active"
    assert recorded.checked_by == org.legal
    assert recorded.checked_at is not None
    entry = AuditEntry.objects.get(object_id=vendor.pk, action="check_registration")
    assert (entry.from_state, entry.to_state, entry.comment) == (
        "open",
        status,
        "Companies House: active",
    )


def test_it_needs_an_outcome(org, vendor):
    with pytest.raises(InvalidInput) as caught:
        record(vendor, "registration", org.procurement, outcome="  ")

    assert caught.value.fields == {"outcome": ["This field is required."]}
    assert check(vendor, "registration").status == "open"


def test_it_refuses_an_unknown_status(org, vendor):
    with pytest.raises(InvalidInput) as caught:
        record(vendor, "registration", org.procurement, status="maybe")

    assert "status" in caught.value.fields


@pytest.mark.parametrize("role", ["security", "requester", "manager"])
def test_it_refuses_people_who_do_not_do_due_diligence(org, vendor, role):
    with pytest.raises(NotAllowed):
        record(vendor, "registration", getattr(org, role))

    assert check(vendor, "registration").checked_by is None


def test_it_refuses_an_unknown_check(org):
    with pytest.raises(NotFound):
        due_diligence_check_record(
            check_id=999_999, by=org.procurement, status="passed", outcome="Checked."
        )


def test_it_stores_a_pdf_as_evidence(org, vendor):
    upload = SimpleUploadedFile("companies-house.pdf", PDF, content_type="application/pdf")

    recorded = record(vendor, "registration", org.procurement, evidence=upload)

    document = recorded.evidence
    assert document is not None
    assert document.kind == VendorDocument.Kind.EVIDENCE
    assert document.content_type == "application/pdf"
    assert document.filename == "companies-house.pdf"
    assert document.uploaded_by == org.procurement
    assert len(files_in_media()) == 1


def test_it_refuses_evidence_that_is_not_a_pdf_or_image_and_keeps_no_file(org, vendor):
    upload = SimpleUploadedFile(
        "report.pdf", b"MZ\x90\x00 not a pdf", content_type="application/pdf"
    )

    with pytest.raises(InvalidInput) as caught:
        record(vendor, "registration", org.procurement, evidence=upload)

    assert "evidence" in caught.value.fields
    assert check(vendor, "registration").status == "open"
    assert not VendorDocument.objects.exists()
    assert files_in_media() == []


def test_it_refuses_evidence_that_is_too_large_and_keeps_no_file(org, vendor, settings):
    settings.VENDOR_DOCUMENT_MAX_BYTES = 1024
    upload = SimpleUploadedFile("big.pdf", PDF + b"0" * 2048, content_type="application/pdf")

    with pytest.raises(InvalidInput) as caught:
        record(vendor, "registration", org.procurement, evidence=upload)

    assert "larger than 1 KB" in caught.value.fields["evidence"][0]
    assert not VendorDocument.objects.exists()
    assert files_in_media() == []


def test_it_removes_the_stored_evidence_when_the_record_then_fails(org, vendor, monkeypatch):
    def broken_audit(**kwargs):
        raise Conflict("The audit trail is unavailable.")

    monkeypatch.setattr("vendors.services.audit_record", broken_audit)
    upload = SimpleUploadedFile("companies-house.pdf", PDF, content_type="application/pdf")

    with pytest.raises(Conflict):
        record(vendor, "registration", org.procurement, evidence=upload)

    assert not VendorDocument.objects.exists()
    assert files_in_media() == []


def test_it_refuses_not_applicable_for_a_required_check(org, vendor):
    with pytest.raises(InvalidInput) as caught:
        record(vendor, "financial_health", org.procurement, status="not_applicable")

    assert "status" in caught.value.fields
    assert check(vendor, "financial_health").status == "open"


def test_it_accepts_not_applicable_for_an_optional_check(org, vendor):
    recorded = record(
        vendor, "insurance", org.procurement, status="not_applicable", outcome="No site work."
    )

    assert recorded.status == "not_applicable"


@pytest.mark.parametrize("match_status", ["possible", "confirmed"])
def test_it_does_not_pass_the_sanctions_check_by_hand_while_a_match_is_not_cleared(
    org, vendor, match_status
):
    match = SanctionsMatch.objects.create(
        vendor=vendor,
        source="ofac",
        entry_reference="SDN-1",
        listed_name="Northwind Hardware Trading",
        vendor_name="Northwind Hardware Ltd",
        score=Decimal("92.0"),
        status=match_status,
    )

    with pytest.raises(Conflict) as caught:
        record(vendor, "sanctions", org.procurement)

    assert "sanctions match" in caught.value.message
    assert check(vendor, "sanctions").status == "open"
    # Failing it is always possible.
    assert record(vendor, "sanctions", org.procurement, status="failed").status == "failed"

    match.status = SanctionsMatch.Status.CLEARED
    match.save()
    assert record(vendor, "sanctions", org.procurement).status == "passed"


def test_it_does_not_pass_the_conflict_of_interest_check_without_a_declaration(org, vendor):
    with pytest.raises(Conflict) as caught:
        record(vendor, "conflict_of_interest", org.procurement)

    assert "declared" in caught.value.message

    conflict_declare(vendor_id=vendor.pk, by=org.manager, has_conflict=False)
    assert record(vendor, "conflict_of_interest", org.procurement).status == "passed"


def test_it_does_not_record_checks_of_an_offboarded_vendor(org, vendor):
    vendor_transition(vendor_id=vendor.pk, by=org.procurement, action="offboard", reason="Gone")

    with pytest.raises(Conflict):
        record(vendor, "registration", org.procurement)


def test_it_needs_details_when_someone_declares_a_conflict(org, vendor):
    with pytest.raises(InvalidInput) as caught:
        conflict_declare(vendor_id=vendor.pk, by=org.procurement, has_conflict=True, details=" ")

    assert "details" in caught.value.fields
    assert not ConflictDeclaration.objects.exists()


def test_it_replaces_an_earlier_declaration(org, vendor):
    conflict_declare(vendor_id=vendor.pk, by=org.procurement, has_conflict=False)

    conflict_declare(
        vendor_id=vendor.pk,
        by=org.procurement,
        has_conflict=True,
        details="My brother is their sales director.",
    )

    declaration = ConflictDeclaration.objects.get()
    assert declaration.person == org.procurement
    assert declaration.has_conflict
    assert declaration.details == "My brother is their sales director."
    comments = list(
        AuditEntry.objects.filter(object_id=vendor.pk, action="conflict_declared")
        .order_by("id")
        .values_list("comment", flat=True)
    )
    assert comments == [
        "Declared no conflict.",
        "Declared a conflict: My brother is their sales director.",
    ]


def test_it_keeps_one_declaration_per_person(org, vendor):
    conflict_declare(vendor_id=vendor.pk, by=org.procurement, has_conflict=False)
    conflict_declare(vendor_id=vendor.pk, by=org.manager, has_conflict=False)

    assert ConflictDeclaration.objects.filter(vendor=vendor).count() == 2


def test_it_refuses_a_declaration_from_someone_not_involved(org, vendor):
    with pytest.raises(NotAllowed):
        conflict_declare(vendor_id=vendor.pk, by=org.requester, has_conflict=False)
