"""The POST-only actions on the vendor page: status moves, checks, declarations, documents,
bank details and sanctions reviews. Each calls one service and goes back to the page."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from procurement.models import AuditEntry
from tests.factories import vendor_approved, vendor_create
from vendors.models import SanctionsMatch, Vendor, VendorDocument
from vendors.services import vendor_transition

pytestmark = pytest.mark.django_db

PDF_BYTES = b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"


def text(response) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", response.content.decode())).split())


def flash_messages(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def field_error(response, field_id: str) -> str:
    content = response.content.decode()
    error = re.search(
        rf'<small class="field-error" id="{field_id}_error">(.*?)</small>', content, re.S
    )
    assert error, f"no error shown for {field_id}"
    widget = re.search(rf'<(?:input|select|textarea)[^>]*\bid="{field_id}"[^>]*>', content)
    assert widget, f"no input {field_id}"
    assert 'aria-invalid="true"' in widget.group(0)
    return html.unescape(error.group(1)).strip()


def under_review(org) -> Vendor:
    vendor = vendor_create(by=org.procurement, legal_name="Kestrel Networks Ltd")
    return vendor_transition(
        vendor_id=vendor.pk, by=org.procurement, action="start_review", reason="New supplier"
    )


def state_of(vendor: Vendor) -> str:
    vendor.refresh_from_db()
    return vendor.state


def test_it_moves_a_vendor_with_a_reason_and_goes_back_to_its_page(org):
    vendor = vendor_create(by=org.procurement, legal_name="Kestrel Networks Ltd")

    response = org.client_for(org.procurement).post(
        f"/vendors/{vendor.pk}/transition/", {"action": "start_review", "reason": "New supplier"}
    )

    assert response.status_code == 302
    assert response["Location"] == f"/vendors/{vendor.pk}/"
    assert flash_messages(response) == ["Kestrel Networks Ltd put under review."]
    assert state_of(vendor) == "under_review"
    assert vendor.checks.count() == 5  # the hardware checklist


def test_it_refuses_a_move_without_a_reason(org):
    vendor = vendor_create(by=org.procurement, legal_name="Kestrel Networks Ltd")

    response = org.client_for(org.procurement).post(
        f"/vendors/{vendor.pk}/transition/", {"action": "start_review", "reason": "  "}, follow=True
    )

    assert "Give a reason: it is kept in the vendor's history." in text(response)
    assert state_of(vendor) == "prospect"


def test_it_refuses_approval_while_checks_are_open_and_says_why(org):
    vendor = under_review(org)

    response = org.client_for(org.procurement).post(
        f"/vendors/{vendor.pk}/transition/",
        {"action": "approve", "reason": "Looks fine"},
        follow=True,
    )

    page = text(response)
    assert response.status_code == 200
    flash = page.split("Kestrel Networks Ltd cannot be approved yet:", 1)[1].split("Summary", 1)[0]
    assert "The registration verified check is still open." in flash
    assert "The financial health check is still open." in flash
    assert state_of(vendor) == "under_review"
    assert not AuditEntry.objects.filter(object_id=vendor.pk, action="approve").exists()


def test_it_refuses_status_moves_to_people_outside_procurement(org):
    vendor = under_review(org)

    response = org.client_for(org.finance).post(
        f"/vendors/{vendor.pk}/transition/",
        {"action": "block", "reason": "I think so"},
        follow=True,
    )

    assert "Only procurement can change a vendor's status." in text(response)
    assert state_of(vendor) == "under_review"


def test_it_approves_once_every_check_is_recorded_on_the_page(org):
    vendor = under_review(org)
    procurement = org.client_for(org.procurement)
    legal = org.client_for(org.legal)

    declared = procurement.post(f"/vendors/{vendor.pk}/declare/", {"has_conflict": "no"})
    assert declared.status_code == 302
    for check in vendor.checks.all():
        recorded = legal.post(
            f"/vendors/{vendor.pk}/checks/{check.pk}/record/",
            {"status": "passed", "outcome": f"{check.get_kind_display()}: fine."},
        )
        assert recorded.status_code == 302, text(recorded)
    assert "What stops approval" not in text(procurement.get(f"/vendors/{vendor.pk}/"))

    approved = procurement.post(
        f"/vendors/{vendor.pk}/transition/", {"action": "approve", "reason": "All checks passed"}
    )

    assert flash_messages(approved) == ["Kestrel Networks Ltd approved."]
    assert state_of(vendor) == "approved"
    check = vendor.checks.get(kind="registration")
    assert check.checked_by == org.legal
    assert check.outcome == "Registration verified: fine."


def test_it_keeps_the_check_form_with_its_errors_when_the_outcome_is_missing(org):
    vendor = under_review(org)
    check = vendor.checks.get(kind="registration")

    response = org.client_for(org.procurement).post(
        f"/vendors/{vendor.pk}/checks/{check.pk}/record/", {"status": "passed", "outcome": ""}
    )

    assert response.status_code == 400
    assert field_error(response, f"check-{check.pk}-outcome") == "This field is required."
    check.refresh_from_db()
    assert check.status == "open"


def test_it_shows_a_refused_check_outcome_on_the_page(org):
    vendor = under_review(org)
    check = vendor.checks.get(kind="conflict_of_interest")

    response = org.client_for(org.procurement).post(
        f"/vendors/{vendor.pk}/checks/{check.pk}/record/", {"status": "passed", "outcome": "Fine"}
    )

    assert response.status_code == 409
    assert "Nobody has declared their interests for this vendor yet" in text(response)
    check.refresh_from_db()
    assert check.status == "open"


def test_it_stores_evidence_with_a_check(org):
    vendor = under_review(org)
    check = vendor.checks.get(kind="registration")

    org.client_for(org.procurement).post(
        f"/vendors/{vendor.pk}/checks/{check.pk}/record/",
        {
            "status": "passed",
            "outcome": "Companies House record matches.",
            "evidence": SimpleUploadedFile("companies-house.pdf", PDF_BYTES),
        },
    )

    check.refresh_from_db()
    assert check.evidence is not None
    assert check.evidence.filename == "companies-house.pdf"
    page = org.client_for(org.procurement).get(f"/vendors/{vendor.pk}/").content.decode()
    assert f'href="/vendors/{vendor.pk}/documents/{check.evidence.pk}/"' in page


def test_it_requires_details_when_someone_declares_a_conflict(org):
    vendor = under_review(org)

    response = org.client_for(org.procurement).post(
        f"/vendors/{vendor.pk}/declare/", {"has_conflict": "yes", "details": ""}
    )

    assert response.status_code == 400
    assert (
        field_error(response, "id_details") == "This field is required when you declare a conflict."
    )
    assert not vendor.declarations.exists()


def test_it_records_a_declared_conflict_for_the_person_declaring(org):
    vendor = under_review(org)

    response = org.client_for(org.manager).post(
        f"/vendors/{vendor.pk}/declare/", {"has_conflict": "yes", "details": "My brother runs it."}
    )

    assert response.status_code == 302
    declaration = vendor.declarations.get()
    assert (declaration.person, declaration.has_conflict) == (org.manager, True)
    page = text(org.client_for(org.procurement).get(f"/vendors/{vendor.pk}/"))
    assert "Mark Manager : declared a conflict — My brother runs it." in page


def test_it_uploads_a_certificate_with_its_expiry(org):
    vendor = under_review(org)

    response = org.client_for(org.security).post(
        f"/vendors/{vendor.pk}/documents/",
        {
            "kind": "iso27001",
            "title": "ISO 27001 certificate 2026",
            "file": SimpleUploadedFile("iso.pdf", PDF_BYTES),
            "expires_on": "2027-06-30",
        },
    )

    assert response.status_code == 302
    assert response["Location"] == f"/vendors/{vendor.pk}/#documents"
    document = vendor.documents.get()
    assert (document.title, str(document.expires_on), document.content_type) == (
        "ISO 27001 certificate 2026",
        "2027-06-30",
        "application/pdf",
    )


def test_it_refuses_a_file_that_is_not_a_pdf_or_an_image(org, settings):
    vendor = under_review(org)

    response = org.client_for(org.procurement).post(
        f"/vendors/{vendor.pk}/documents/",
        {
            "kind": "soc2",
            "title": "SOC 2",
            "file": SimpleUploadedFile("soc2.pdf", b"MZ\x90\x00 this is a Windows program"),
        },
    )

    assert response.status_code == 400
    assert (
        field_error(response, "id_file")
        == "soc2.pdf is not a PDF or an image (PNG, JPEG, GIF, WebP)."
    )
    assert not VendorDocument.objects.exists()
    media = Path(settings.MEDIA_ROOT)
    assert not media.exists() or not any(path.is_file() for path in media.rglob("*"))


def test_it_puts_an_approved_vendor_back_under_review_when_finance_changes_bank_details(org):
    vendor = vendor_approved(by=org.procurement, legal_name="Kestrel Networks Ltd")
    client = org.client_for(org.finance)

    response = client.post(
        f"/vendors/{vendor.pk}/bank-details/",
        {
            "account_name": "Kestrel Networks Ltd",
            "iban": "GB82 WEST 1234 5698 7654 32",
            "bic": "WESTGB2L",
            "reason": "New bank; confirmed by phone with their CFO",
        },
    )

    assert response.status_code == 302
    assert state_of(vendor) == "under_review"
    assert vendor.bank_iban == "GB82WEST12345698765432"
    page = text(client.get(f"/vendors/{vendor.pk}/"))
    assert "Bank details changed. The change is in the vendor's history." in page
    history = page.split("History", 1)[1]
    assert (
        "Fiona Finance changed the bank details (Approved → Under review) : "
        "New bank; confirmed by phone with their CFO"
    ) in history


def test_it_shows_a_bad_iban_next_to_the_field(org):
    vendor = under_review(org)

    response = org.client_for(org.procurement).post(
        f"/vendors/{vendor.pk}/bank-details/",
        {"account_name": "Kestrel", "iban": "GB00WEST12345698765432", "reason": "New bank"},
    )

    assert response.status_code == 400
    assert "is not a valid IBAN" in field_error(response, "id_iban")
    vendor.refresh_from_db()
    assert vendor.bank_iban == ""


def test_it_refuses_bank_changes_by_a_security_reviewer(org):
    vendor = vendor_approved(by=org.procurement, legal_name="Kestrel Networks Ltd")

    response = org.client_for(org.security).post(
        f"/vendors/{vendor.pk}/bank-details/",
        {"account_name": "Mallory", "iban": "GB82WEST12345698765432", "reason": "Trust me"},
    )

    assert response.status_code == 403
    page = text(response)
    assert "Only procurement and finance can change a vendor's bank details." in page
    assert "Bank details" not in page.split("Only procurement and finance", 1)[1]
    assert state_of(vendor) == "approved"
    assert vendor.bank_iban == ""
    assert not vendor.bank_changes.exists()


def test_it_clears_a_possible_sanctions_match_with_a_reason(org):
    vendor = under_review(org)
    match = SanctionsMatch.objects.create(
        vendor=vendor,
        source="uk",
        entry_reference="UK-1",
        listed_name="Kestrel Global Trading LLC",
        vendor_name=vendor.legal_name,
        score=91,
    )

    response = org.client_for(org.legal).post(
        f"/vendors/{vendor.pk}/sanctions-review/",
        {"match_id": match.pk, "decision": "clear", "reason": "Different country and owners"},
    )

    assert response.status_code == 302
    assert response["Location"] == f"/vendors/{vendor.pk}/#sanctions"
    match.refresh_from_db()
    assert (match.status, match.reviewed_by, match.reason) == (
        "cleared",
        org.legal,
        "Different country and owners",
    )


def test_it_refuses_a_sanctions_review_by_a_security_reviewer(org):
    vendor = under_review(org)
    match = SanctionsMatch.objects.create(
        vendor=vendor,
        source="uk",
        entry_reference="UK-1",
        listed_name="Kestrel Global Trading LLC",
        vendor_name=vendor.legal_name,
        score=91,
    )

    response = org.client_for(org.security).post(
        f"/vendors/{vendor.pk}/sanctions-review/",
        {"match_id": match.pk, "decision": "clear", "reason": "Looks different"},
        follow=True,
    )

    assert "can review sanctions matches" in text(response)
    match.refresh_from_db()
    assert match.status == "possible"


def test_it_answers_404_for_a_match_of_another_vendor(org):
    vendor = under_review(org)
    other = vendor_create(by=org.procurement, legal_name="Contoso Cloud GmbH", country="DE")
    match = SanctionsMatch.objects.create(
        vendor=other,
        source="uk",
        entry_reference="UK-1",
        listed_name="Contoso Trading",
        vendor_name=other.legal_name,
        score=90,
    )

    response = org.client_for(org.procurement).post(
        f"/vendors/{vendor.pk}/sanctions-review/",
        {"match_id": match.pk, "decision": "clear", "reason": "Not them"},
    )

    assert response.status_code == 404


@pytest.mark.parametrize(
    "path",
    [
        "transition/",
        "checks/{check}/record/",
        "declare/",
        "documents/",
        "bank-details/",
        "sanctions-review/",
    ],
)
def test_it_changes_nothing_on_get(org, path):
    vendor = under_review(org)
    url = f"/vendors/{vendor.pk}/" + path.format(check=vendor.checks.first().pk)

    response = org.client_for(org.procurement).get(url)

    assert response.status_code == 405
    assert state_of(vendor) == "under_review"


def test_it_enforces_csrf_on_actions(org):
    vendor = vendor_create(by=org.procurement, legal_name="Kestrel Networks Ltd")
    client = Client(enforce_csrf_checks=True)
    client.force_login(org.procurement)

    response = client.post(
        f"/vendors/{vendor.pk}/transition/", {"action": "block", "reason": "Forged"}
    )

    assert response.status_code == 403
    assert state_of(vendor) == "prospect"
