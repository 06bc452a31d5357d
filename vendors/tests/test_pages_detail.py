"""GET /vendors/<id>/: the one-screen vendor page, and who sees which part of it."""

from __future__ import annotations

import datetime as dt
import html
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from tests.factories import PurchaseRequestFactory, vendor_approved, vendor_create
from vendors.models import (
    Assessment,
    Contract,
    QuestionnaireTemplate,
    SanctionsMatch,
    Vendor,
)
from vendors.services import (
    BankDetailsInput,
    vendor_bank_details_change,
    vendor_document_add,
    vendor_transition,
)

pytestmark = pytest.mark.django_db

PDF_BYTES = b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"
FILE_SECTIONS = [
    "Due diligence",
    "Sanctions screening",
    "Security assessments",
    "Certificates & documents",
    "Contracts",
    "Purchase requests naming this vendor",
    "History",
]


def text(response) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", response.content.decode())).split())


def under_review(org) -> Vendor:
    vendor = vendor_create(
        by=org.procurement,
        legal_name="Kestrel Networks Ltd",
        website="https://kestrel.example",
        category_ids=[],
    )
    return vendor_transition(
        vendor_id=vendor.pk, by=org.procurement, action="start_review", reason="New supplier"
    )


def with_bank_details(org, vendor: Vendor) -> Vendor:
    return vendor_bank_details_change(
        vendor_id=vendor.pk,
        by=org.finance,
        details=BankDetailsInput(account_name="Kestrel Networks", iban="GB82WEST12345698765432"),
        reason="From the signed supplier form",
    )


def test_it_shows_everything_on_one_screen_to_procurement(org):
    vendor = with_bank_details(org, under_review(org))

    response = org.client_for(org.procurement).get(f"/vendors/{vendor.pk}/")

    assert response.status_code == 200
    page = text(response)
    assert "Kestrel Networks Ltd" in page
    assert "Under review: New supplier" in page  # the state and why
    assert "Owner Pat Buyer" in page
    assert "Type Hardware reseller" in page
    for section in [*FILE_SECTIONS, "Conflict-of-interest declarations", "Bank details"]:
        assert section in page, section
    assert "Registration verified Open" in page
    assert "Not recorded yet." in page


def test_it_lists_what_stops_approval_while_under_review(org):
    vendor = under_review(org)
    SanctionsMatch.objects.create(
        vendor=vendor,
        source="uk",
        entry_reference="UK-1",
        listed_name="Kestrel Global Trading LLC",
        vendor_name=vendor.legal_name,
        score=91,
    )

    page = text(org.client_for(org.procurement).get(f"/vendors/{vendor.pk}/"))

    blockers = page.split("What stops approval", 1)[1].split("Due diligence", 1)[0]
    assert "The registration verified check is still open." in blockers
    assert "The conflict-of-interest declarations check is still open." in blockers
    assert "1 possible sanctions match must be cleared by a person." in blockers
    assert "Kestrel Global Trading LLC" in page.split("Sanctions screening", 1)[1]


def test_it_offers_only_the_moves_the_state_allows(org):
    vendor = vendor_create(by=org.procurement, legal_name="Kestrel Networks Ltd")
    client = org.client_for(org.procurement)

    def buttons() -> list[str]:
        return re.findall(
            r'name="action" value="([a-z_]+)"',
            client.get(f"/vendors/{vendor.pk}/").content.decode(),
        )

    assert buttons() == ["start_review", "block", "offboard"]
    vendor_transition(vendor_id=vendor.pk, by=org.procurement, action="start_review", reason="New")
    assert buttons() == ["approve", "block", "offboard"]
    vendor_transition(vendor_id=vendor.pk, by=org.procurement, action="offboard", reason="Gone")
    assert buttons() == []


def test_it_shows_finance_the_file_but_no_status_buttons(org):
    vendor = under_review(org)

    response = org.client_for(org.finance).get(f"/vendors/{vendor.pk}/")

    assert 'name="action"' not in response.content.decode()
    assert "Only procurement changes a vendor's status." in text(response)
    assert "Record an outcome" in text(response)  # finance records due-diligence checks


def test_it_shows_requesters_only_the_summary(org):
    vendor = with_bank_details(org, under_review(org))
    vendor.categories.set([1])
    vendor_document_add(
        vendor_id=vendor.pk,
        by=org.procurement,
        kind="iso27001",
        title="ISO certificate",
        upload=SimpleUploadedFile("iso.pdf", PDF_BYTES),
    )

    for user in (org.requester, org.manager):
        response = org.client_for(user).get(f"/vendors/{vendor.pk}/")

        assert response.status_code == 200
        page = text(response)
        assert "Kestrel Networks Ltd" in page
        assert "Under review" in page
        assert "Risk tier Not assessed" in page
        assert "Categories " in page
        assert "https://kestrel.example" in page
        for hidden in [*FILE_SECTIONS, "Bank details", "New supplier", "ISO certificate", "5432"]:
            assert hidden not in page, hidden
        assert 'name="action"' not in response.content.decode()


def test_it_lets_a_manager_declare_interests_from_the_summary(org):
    vendor = under_review(org)

    response = org.client_for(org.manager).get(f"/vendors/{vendor.pk}/")

    assert "Declare my interests" in text(response)
    assert f'action="/vendors/{vendor.pk}/declare/"' in response.content.decode()


def test_it_hides_bank_details_from_security_reviewers(org):
    vendor = with_bank_details(org, under_review(org))

    response = org.client_for(org.security).get(f"/vendors/{vendor.pk}/")

    page = text(response)
    assert "Due diligence" in page  # they see the file...
    assert "Bank details" not in page  # ...but not where we pay
    assert "5432" not in page
    assert "bank-details" not in response.content.decode()


def test_it_masks_bank_details_and_lists_their_changes(org):
    vendor = with_bank_details(org, under_review(org))

    page = text(org.client_for(org.finance).get(f"/vendors/{vendor.pk}/"))

    bank = page.split("Bank details", 1)[1].split("History", 1)[0]
    assert "IBAN ••••••••••••••••••5432" in bank
    assert "GB82WEST12345698765432" not in page
    assert "Fiona Finance: Kestrel Networks, IBAN ••••••••••••••••••5432" in bank
    assert "From the signed supplier form" in bank
    assert "back under review" not in bank  # only said for approved or suspended vendors


def test_it_warns_that_a_bank_change_puts_an_approved_vendor_back_under_review(org):
    vendor = vendor_approved(by=org.procurement, legal_name="Kestrel Networks Ltd")

    page = text(org.client_for(org.finance).get(f"/vendors/{vendor.pk}/"))

    assert "Saving puts Kestrel Networks Ltd back under review." in page


def test_it_highlights_expired_and_expiring_documents(org):
    vendor = under_review(org)
    today = timezone.localdate()
    for title, expires in [
        ("Old insurance", today - dt.timedelta(days=3)),
        ("ISO certificate", today + dt.timedelta(days=12)),
        ("SOC 2 report", today + dt.timedelta(days=200)),
    ]:
        vendor_document_add(
            vendor_id=vendor.pk,
            by=org.procurement,
            kind="iso27001",
            title=title,
            upload=SimpleUploadedFile("doc.pdf", PDF_BYTES),
            expires_on=expires,
        )

    page = text(org.client_for(org.procurement).get(f"/vendors/{vendor.pk}/"))

    documents = page.split("Certificates & documents", 1)[1]
    assert re.search(r"Old insurance .*? expired", documents)
    assert re.search(r"ISO certificate .*? expires in 12 days", documents)
    soc2 = documents.split("SOC 2 report", 1)[1].split("Pat Buyer", 1)[0]
    assert "expire" not in soc2


def test_it_lets_the_file_readers_download_a_document_and_nobody_else(org):
    vendor = under_review(org)
    document = vendor_document_add(
        vendor_id=vendor.pk,
        by=org.procurement,
        kind="iso27001",
        title="ISO certificate",
        upload=SimpleUploadedFile("iso.pdf", PDF_BYTES),
    )
    url = f"/vendors/{vendor.pk}/documents/{document.pk}/"

    response = org.client_for(org.security).get(url)

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PDF_BYTES
    assert response["Content-Type"] == "application/pdf"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert org.client_for(org.requester).get(url).status_code == 404
    other = vendor_create(by=org.procurement, legal_name="Contoso Cloud GmbH", country="DE")
    assert (
        org.client_for(org.security)
        .get(f"/vendors/{other.pk}/documents/{document.pk}/")
        .status_code
        == 404
    )


def test_it_lists_purchase_requests_naming_the_vendor(org):
    vendor = under_review(org)
    purchase_request = PurchaseRequestFactory.create(requester=org.requester, vendor=vendor)

    response = org.client_for(org.procurement).get(f"/vendors/{vendor.pk}/")

    assert f'href="/requests/{purchase_request.pk}/"' in response.content.decode()
    assert f"{purchase_request.reference} {purchase_request.title} Draft 2,500.00 GBP" in text(
        response
    )


def test_it_lists_assessments_and_contracts_with_links_to_them(org):
    vendor = under_review(org)
    template = QuestionnaireTemplate.objects.create(name="Security baseline")
    assessment = Assessment.objects.create(
        vendor=vendor,
        template=template,
        contact_name="Kim",
        contact_email="kim@kestrel.example",
        sent_by=org.procurement,
        expires_at=timezone.now() + dt.timedelta(days=14),
    )
    contract = Contract.objects.create(
        vendor=vendor,
        title="Switch support 2026",
        owner=org.procurement,
        value=12000,
        currency="GBP",
        start_date=dt.date(2026, 1, 1),
        end_date=dt.date(2026, 12, 31),
        notice_deadline=dt.date(2026, 12, 1),
        created_by=org.procurement,
    )

    response = org.client_for(org.procurement).get(f"/vendors/{vendor.pk}/")

    content = response.content.decode()
    page = text(response)
    assert f'href="/assessments/{assessment.pk}/"' in content
    assert "Security baseline v1" in page.split("Security assessments", 1)[1]
    assert f'href="/assessments/send/?vendor={vendor.pk}"' in content
    assert f'href="/contracts/{contract.pk}/"' in content
    assert "Switch support 2026 Draft 31 Dec 2026 1 Dec 2026" in page
    assert f'href="/contracts/new/?vendor={vendor.pk}"' in content


def test_it_offers_new_questionnaires_and_contracts_to_procurement_only(org):
    vendor = under_review(org)

    content = org.client_for(org.legal).get(f"/vendors/{vendor.pk}/").content.decode()

    assert "/assessments/send/" not in content
    assert "/contracts/new/" not in content


def test_it_shows_the_history_newest_first_with_reasons(org):
    vendor = under_review(org)
    vendor_transition(vendor_id=vendor.pk, by=org.procurement, action="block", reason="Fraud alert")

    page = text(org.client_for(org.procurement).get(f"/vendors/{vendor.pk}/"))

    history = page.split("History", 1)[1]
    blocked = history.index("Pat Buyer blocked the vendor (Under review → Blocked) : Fraud alert")
    started = history.index("Pat Buyer started the review (Prospect → Under review) : New supplier")
    assert blocked < started < history.index("Pat Buyer added the vendor")


def test_it_answers_404_for_a_vendor_that_does_not_exist(org):
    assert org.client_for(org.procurement).get("/vendors/999999/").status_code == 404


def test_it_says_when_a_reassessment_is_overdue(org):
    vendor = vendor_approved(by=org.procurement, legal_name="Late Review Ltd")
    # Set as scoring would have set it a year ago (vendors/assessments.py writes this field).
    Vendor.objects.filter(pk=vendor.pk).update(
        next_assessment_due=timezone.localdate() - dt.timedelta(days=1)
    )
    on_time = vendor_approved(by=org.procurement, legal_name="On Time Ltd")
    Vendor.objects.filter(pk=on_time.pk).update(
        next_assessment_due=timezone.localdate() + dt.timedelta(days=1)
    )
    client = org.client_for(org.procurement)

    late_page = client.get(f"/vendors/{vendor.pk}/").content.decode()
    on_time_page = client.get(f"/vendors/{on_time.pk}/").content.decode()

    assert '<strong class="overdue">overdue</strong>' in late_page
    assert '<strong class="overdue">overdue</strong>' not in on_time_page
