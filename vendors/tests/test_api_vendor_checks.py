"""A vendor's file through the API: due-diligence checks (with evidence), conflict
declarations, documents, sanctions match reviews, and the schema that documents them."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from drf_spectacular.drainage import GENERATOR_STATS
from rest_framework.test import APIClient

from procurement.models import User
from tests.factories import vendor_create
from vendors.models import (
    CheckKind,
    CheckStatus,
    ConflictDeclaration,
    DueDiligenceCheck,
    SanctionsMatch,
    Vendor,
    VendorDocument,
    VendorState,
)
from vendors.services import vendor_transition

PDF = b"%PDF-1.7\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def api(user: User) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def stored_files() -> list[Path]:
    root = Path(settings.MEDIA_ROOT)
    return [path for path in root.rglob("*") if path.is_file()] if root.exists() else []


@pytest.fixture
def vendor(org) -> Vendor:
    vendor = vendor_create(by=org.procurement, legal_name="Kestrel Cloud Ltd")
    vendor_transition(vendor_id=vendor.pk, by=org.procurement, action="start_review", reason="New")
    return vendor


def check_of(vendor: Vendor, kind: str) -> DueDiligenceCheck:
    return vendor.checks.get(kind=kind)


# --- Checks ----------------------------------------------------------------


def test_it_records_a_check_with_evidence_uploaded_as_multipart(org, vendor):
    check = check_of(vendor, CheckKind.REGISTRATION)
    evidence = SimpleUploadedFile("companies-house.pdf", PDF, content_type="application/pdf")

    response = api(org.legal).post(
        f"/api/vendors/{vendor.pk}/checks/{check.pk}/",
        {"status": "passed", "outcome": "Active at Companies House.", "evidence": evidence},
        format="multipart",
    )

    assert response.status_code == 200, response.content
    body = response.json()
    document = VendorDocument.objects.get()
    assert body["id"] == check.pk
    assert body["status"] == "passed"
    assert body["status_label"] == "Passed"
    assert body["outcome"] == "Active at Companies House."
    assert body["evidence"] == document.pk
    assert body["checked_by"]["username"] == "lee"
    assert body["checked_at"]
    assert (document.kind, document.filename) == ("evidence", "companies-house.pdf")
    check.refresh_from_db()
    assert check.status == CheckStatus.PASSED


def test_it_rejects_evidence_that_is_not_a_pdf_or_image(org, vendor):
    check = check_of(vendor, CheckKind.REGISTRATION)
    evidence = SimpleUploadedFile("notes.txt", b"just some text", content_type="application/pdf")

    response = api(org.procurement).post(
        f"/api/vendors/{vendor.pk}/checks/{check.pk}/",
        {"status": "passed", "outcome": "Checked.", "evidence": evidence},
        format="multipart",
    )

    assert response.status_code == 400
    body = response.json()
    assert list(body["errors"]) == ["evidence"]
    assert "not a PDF or an image" in body["detail"]
    check.refresh_from_db()
    assert check.status == CheckStatus.OPEN
    assert not VendorDocument.objects.exists()
    assert stored_files() == []


def test_it_answers_404_for_a_check_of_another_vendor(org, vendor):
    other = vendor_create(by=org.procurement, legal_name="Contoso Services Ltd")
    vendor_transition(vendor_id=other.pk, by=org.procurement, action="start_review", reason="New")
    foreign = check_of(other, CheckKind.REGISTRATION)

    response = api(org.procurement).post(
        f"/api/vendors/{vendor.pk}/checks/{foreign.pk}/",
        {"status": "passed", "outcome": "Checked."},
        format="json",
    )

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    foreign.refresh_from_db()
    assert foreign.status == CheckStatus.OPEN


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"status": "excellent", "outcome": "x"}, 400, "status"),
        ({"status": "passed"}, 400, "outcome"),
        ({"status": "not_applicable", "outcome": "n/a"}, 400, "status"),  # a required check
    ],
)
def test_it_refuses_a_bad_check_record_naming_the_field(org, vendor, body, status, field):
    check = check_of(vendor, CheckKind.REGISTRATION)

    response = api(org.procurement).post(
        f"/api/vendors/{vendor.pk}/checks/{check.pk}/", body, format="json"
    )

    assert response.status_code == status, response.content
    assert field in response.json()["errors"]
    check.refresh_from_db()
    assert check.status == CheckStatus.OPEN


def test_it_refuses_to_pass_conflicts_before_anyone_declared(org, vendor):
    check = check_of(vendor, CheckKind.CONFLICT_OF_INTEREST)

    response = api(org.procurement).post(
        f"/api/vendors/{vendor.pk}/checks/{check.pk}/",
        {"status": "passed", "outcome": "Nobody involved."},
        format="json",
    )

    assert response.status_code == 409
    assert "declare" in response.json()["detail"]


@pytest.mark.parametrize("role", ["security", "requester"])
def test_it_lets_only_due_diligence_roles_record_checks(org, vendor, role):
    check = check_of(vendor, CheckKind.REGISTRATION)

    response = api(getattr(org, role)).post(
        f"/api/vendors/{vendor.pk}/checks/{check.pk}/",
        {"status": "passed", "outcome": "Checked."},
        format="json",
    )

    assert response.status_code == 403
    check.refresh_from_db()
    assert check.status == CheckStatus.OPEN


# --- Declarations ----------------------------------------------------------


def test_it_records_a_declaration_and_replaces_it_on_a_second_one(org, vendor):
    client = api(org.manager)  # managers declare although they cannot see the file
    first = client.post(
        f"/api/vendors/{vendor.pk}/declarations/", {"has_conflict": False}, format="json"
    )
    assert first.status_code == 201, first.content

    second = client.post(
        f"/api/vendors/{vendor.pk}/declarations/",
        {"has_conflict": True, "details": "My brother is their sales director."},
        format="json",
    )

    assert second.status_code == 201, second.content
    body = second.json()
    assert body["person"]["username"] == "mark"
    assert body["has_conflict"] is True
    assert body["details"] == "My brother is their sales director."
    assert ConflictDeclaration.objects.get().has_conflict is True


def test_it_wants_details_with_a_declared_conflict(org, vendor):
    response = api(org.procurement).post(
        f"/api/vendors/{vendor.pk}/declarations/", {"has_conflict": True}, format="json"
    )

    assert response.status_code == 400
    assert "details" in response.json()["errors"]
    assert not ConflictDeclaration.objects.exists()


def test_it_refuses_declarations_from_people_not_involved(org, vendor):
    response = api(org.requester).post(
        f"/api/vendors/{vendor.pk}/declarations/", {"has_conflict": False}, format="json"
    )

    assert response.status_code == 403
    assert not ConflictDeclaration.objects.exists()


# --- Documents -------------------------------------------------------------


def test_it_adds_a_certificate_with_its_dates(org, vendor):
    upload = SimpleUploadedFile("iso.pdf", PDF, content_type="application/pdf")

    response = api(org.security).post(
        f"/api/vendors/{vendor.pk}/documents/",
        {
            "kind": "iso27001",
            "title": "ISO 27001 certificate",
            "file": upload,
            "issued_on": "2025-01-01",
            "expires_on": "2028-01-01",
        },
        format="multipart",
    )

    assert response.status_code == 201, response.content
    body = response.json()
    document = VendorDocument.objects.get()
    assert body["id"] == document.pk
    assert body["kind"] == "iso27001"
    assert body["kind_label"] == "ISO 27001 certificate"
    assert body["content_type"] == "application/pdf"
    assert body["size"] == len(PDF)
    assert (body["issued_on"], body["expires_on"]) == ("2025-01-01", "2028-01-01")
    assert body["uploaded_by"]["username"] == "sam"
    assert body["url"] == f"http://testserver/vendors/{vendor.pk}/documents/{document.pk}/"
    listed = api(org.procurement).get(f"/api/vendors/{vendor.pk}/").json()["documents"]
    assert [d["id"] for d in listed] == [document.pk]
    download = org.client_for(org.procurement).get(body["url"])  # a page: a session
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == PDF


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"file": SimpleUploadedFile("a.exe", b"MZ\x90\x00", content_type="image/png")}, "file"),
        ({"kind": "diploma"}, "kind"),
        ({"expires_on": "2024-01-01"}, "expires_on"),  # before it was issued
        ({"expires_on": "next year"}, "expires_on"),
    ],
)
def test_it_rejects_a_bad_document_naming_the_field(org, vendor, changes, field):
    body = {
        "kind": "soc2",
        "file": SimpleUploadedFile("soc2.pdf", PDF, content_type="application/pdf"),
        "issued_on": "2025-01-01",
        **changes,
    }

    response = api(org.procurement).post(
        f"/api/vendors/{vendor.pk}/documents/", body, format="multipart"
    )

    assert response.status_code == 400, response.content
    assert field in response.json()["errors"]
    assert not VendorDocument.objects.exists()
    assert stored_files() == []


def test_it_refuses_documents_from_requesters(org, vendor):
    upload = SimpleUploadedFile("soc2.pdf", PDF, content_type="application/pdf")

    response = api(org.requester).post(
        f"/api/vendors/{vendor.pk}/documents/", {"kind": "soc2", "file": upload}, format="multipart"
    )

    assert response.status_code == 403
    assert not VendorDocument.objects.exists()


# --- Sanctions matches -----------------------------------------------------


def possible_match(vendor: Vendor, reference: str = "UK-1") -> SanctionsMatch:
    return SanctionsMatch.objects.create(
        vendor=vendor,
        source="uk",
        entry_reference=reference,
        listed_name="KESTREL CLOUD LIMITED",
        vendor_name=vendor.legal_name,
        score=Decimal("96.0"),
    )


def test_it_clears_a_possible_match_with_a_reason(org, vendor):
    match = possible_match(vendor)

    response = api(org.legal).post(
        f"/api/vendors/{vendor.pk}/sanctions-matches/{match.pk}/review/",
        {"decision": "clear", "reason": "Different company number and country."},
        format="json",
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["id"] == match.pk
    assert body["status"] == "cleared"
    assert body["reviewed_by"]["username"] == "lee"
    assert body["reason"] == "Different company number and country."
    assert body["score"] == "96.0"
    detail = api(org.procurement).get(f"/api/vendors/{vendor.pk}/").json()
    assert [m["status"] for m in detail["sanctions_matches"]] == ["cleared"]


def test_it_blocks_the_vendor_when_a_match_is_confirmed(org, vendor):
    match = possible_match(vendor)

    response = api(org.procurement).post(
        f"/api/vendors/{vendor.pk}/sanctions-matches/{match.pk}/review/",
        {"decision": "confirm", "reason": "Same registered address and directors."},
        format="json",
    )

    assert response.status_code == 200, response.content
    assert response.json()["status"] == "confirmed"
    vendor.refresh_from_db()
    assert vendor.state == VendorState.BLOCKED


@pytest.mark.parametrize(
    ("body", "field"),
    [({"decision": "maybe", "reason": "x"}, "decision"), ({"decision": "clear"}, "reason")],
)
def test_it_refuses_a_review_without_a_decision_or_reason(org, vendor, body, field):
    match = possible_match(vendor)

    response = api(org.procurement).post(
        f"/api/vendors/{vendor.pk}/sanctions-matches/{match.pk}/review/", body, format="json"
    )

    assert response.status_code == 400
    assert field in response.json()["errors"]
    match.refresh_from_db()
    assert match.status == SanctionsMatch.Status.POSSIBLE


def test_it_refuses_a_second_review_and_reviews_by_other_roles(org, vendor):
    match = possible_match(vendor)
    url = f"/api/vendors/{vendor.pk}/sanctions-matches/{match.pk}/review/"
    body = {"decision": "clear", "reason": "Different company."}

    assert api(org.security).post(url, body, format="json").status_code == 403
    assert api(org.procurement).post(url, body, format="json").status_code == 200
    again = api(org.finance).post(url, body, format="json")

    assert again.status_code == 409
    assert "already cleared" in again.json()["detail"]


def test_it_answers_404_for_a_match_of_another_vendor(org, vendor):
    other = vendor_create(by=org.procurement, legal_name="Contoso Services Ltd")
    foreign = possible_match(other)

    response = api(org.procurement).post(
        f"/api/vendors/{vendor.pk}/sanctions-matches/{foreign.pk}/review/",
        {"decision": "clear", "reason": "x"},
        format="json",
    )

    assert response.status_code == 404
    foreign.refresh_from_db()
    assert foreign.status == SanctionsMatch.Status.POSSIBLE


# --- Schema ----------------------------------------------------------------


VENDOR_PATHS = {
    "/api/vendors/",
    "/api/vendors/{vendor_id}/",
    "/api/vendors/{vendor_id}/transitions/",
    "/api/vendors/{vendor_id}/bank-details/",
    "/api/vendors/{vendor_id}/checks/{check_id}/",
    "/api/vendors/{vendor_id}/declarations/",
    "/api/vendors/{vendor_id}/documents/",
    "/api/vendors/{vendor_id}/sanctions-matches/{match_id}/review/",
}


def test_it_documents_every_vendor_operation_with_its_bodies_and_errors(tmp_path: Path):
    GENERATOR_STATS.reset()
    target = tmp_path / "schema.json"

    call_command("spectacular", "--validate", "--format", "openapi-json", "--file", str(target))

    schema = json.loads(target.read_text())
    assert set(schema["paths"]) >= VENDOR_PATHS
    create = schema["paths"]["/api/vendors/"]["post"]
    assert set(create["responses"]) == {"201", "400", "403", "409"}
    conflict = create["responses"]["409"]["content"]["application/json"]["schema"]["$ref"]
    assert conflict.endswith("/VendorDuplicateError")
    error = create["responses"]["400"]["content"]["application/json"]["schema"]["$ref"]
    assert error == "#/components/schemas/Error"
    assert "Error" in schema["components"]["schemas"]
    detail = schema["components"]["schemas"]["VendorDetail"]
    # Keys some callers do not get are documented as optional.
    assert "bank_details" in detail["properties"]
    assert "bank_details" not in detail["required"]
    assert "checks" not in detail["required"]
    assert "legal_name" in detail["required"]
    record = schema["paths"]["/api/vendors/{vendor_id}/checks/{check_id}/"]["post"]
    assert set(record["requestBody"]["content"]) == {"multipart/form-data", "application/json"}
