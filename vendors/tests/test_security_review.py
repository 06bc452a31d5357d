"""Found in the security review of the vendor pages and API: each test is one hole closed
(or one guard that must stay), read as what an attacker or a curious colleague tries."""

from __future__ import annotations

import datetime as dt
import html
import re
from decimal import Decimal

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from conftest import Org
from procurement.models import AuditEntry
from tests.factories import PurchaseRequestFactory, vendor_approved, vendor_create
from vendors.assessments import assessment_answers_save
from vendors.contracts import ContractInput, contract_create, contract_document_add
from vendors.models import Contract, Vendor
from vendors.services import (
    BankDetailsInput,
    vendor_bank_details_change,
    vendor_document_add,
    vendor_transition,
)
from vendors.tests.test_assessment_helpers import (
    full_answers,
    pdf,
    questions,
    respond_path,
    send,
    small_template,
)

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
# More digits than int() converts (Python refuses past 4300), and a digit int() cannot read.
THOUSANDS_OF_DIGITS = "9" * 5000
BEYOND_ANY_ID = "9" * 30


def text(response) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", response.content.decode())).split())


def contract_for(org: Org, vendor: Vendor, *, owner=None) -> Contract:
    today = timezone.localdate()
    return contract_create(
        by=org.procurement,
        data=ContractInput(
            vendor_id=vendor.pk,
            title="Helpdesk SaaS",
            owner_id=(owner or org.procurement).pk,
            value=Decimal("9000"),
            currency="GBP",
            start_date=today - dt.timedelta(days=30),
            end_date=today + dt.timedelta(days=365),
            notice_period_days=30,
        ),
    )


# --- Bad input answers 400 or falls back, never 500 ------------------------------------------


@pytest.mark.parametrize("url", ["/api/contracts/", "/api/assessments/"])
def test_it_refuses_a_vendor_filter_beyond_any_id_with_a_400(org, url):
    response = org.client_for(org.procurement).get(url, {"vendor": BEYOND_ANY_ID})

    assert response.status_code == 400
    assert "vendor" in response.json()["errors"]


@pytest.mark.parametrize("vendor", ["²", THOUSANDS_OF_DIGITS])
def test_it_opens_the_send_form_without_a_vendor_for_an_id_that_is_not_plain_digits(org, vendor):
    response = org.client_for(org.procurement).get(reverse("assessments:send"), {"vendor": vendor})

    assert response.status_code == 200
    assert "Send a security questionnaire" in text(response)


@pytest.mark.parametrize("score", ["²", THOUSANDS_OF_DIGITS])
def test_it_refuses_a_reviewer_score_that_is_not_plain_digits_next_to_the_field(org, score):
    assessment = send(org)
    assessment_answers_save(
        assessment=assessment, answers=full_answers(assessment), files={}, submit=True
    )
    incident = questions(assessment.template)["incident"]

    response = org.client_for(org.security).post(
        reverse("assessments:score", args=[assessment.pk]),
        {f"score_{incident.pk}": score, f"reason_{incident.pk}": "Weak answer"},
    )

    assert response.status_code == 400
    assert "Enter a whole number from 0 to 100." in text(response)
    assessment.refresh_from_db()
    assert assessment.state == "submitted"


@pytest.mark.parametrize("days", [THOUSANDS_OF_DIGITS, "-30", "365"])
def test_it_shows_the_ninety_day_pipeline_for_a_window_it_does_not_offer(org, days):
    response = org.client_for(org.procurement).get(reverse("contracts:pipeline"), {"days": days})

    assert response.status_code == 200
    assert response.context["days"] == 90


def test_it_opens_the_contract_form_without_a_vendor_for_a_thousands_digit_id(org):
    response = org.client_for(org.procurement).get(
        reverse("contracts:create"), {"vendor": THOUSANDS_OF_DIGITS}
    )

    assert response.status_code == 200
    assert response.context["form"].initial.get("vendor") is None


def test_it_drops_nul_characters_from_reasons_posted_on_the_assessment_pages(org):
    # PostgreSQL refuses a NUL in text: these were 500s there.
    assessment = send(org)
    assessment_answers_save(
        assessment=assessment, answers=full_answers(assessment), files={}, submit=True
    )
    incident = questions(assessment.template)["incident"]
    security = org.client_for(org.security)

    scored = security.post(
        reverse("assessments:score", args=[assessment.pk]),
        {f"score_{incident.pk}": "40", f"reason_{incident.pk}": "Vague\x00 answer"},
    )
    reopened = security.post(
        reverse("assessments:reopen", args=[assessment.pk]), {"reason": "Needs\x00 detail"}
    )
    cancelled = org.client_for(org.procurement).post(
        reverse("assessments:cancel", args=[assessment.pk]), {"reason": "Vendor\x00 withdrew"}
    )

    assert [scored.status_code, reopened.status_code, cancelled.status_code] == [302] * 3
    assessment.refresh_from_db()
    assert assessment.state == "cancelled"
    assert assessment.answers.get(question=incident).override_reason == "Vague answer"
    comments = AuditEntry.objects.filter(action__in=["assessment_reopened", "assessment_cancelled"])
    assert sorted(entry.comment.split(": ", 1)[1] for entry in comments) == [
        "Needs detail",
        "Vendor withdrew",
    ]


# --- Bank details stay with procurement and finance ------------------------------------------


def test_it_keeps_a_bank_changes_reason_out_of_the_history_for_roles_without_bank_access(org):
    vendor = vendor_create(by=org.procurement, legal_name="Kestrel Networks Ltd")
    vendor_transition(vendor_id=vendor.pk, by=org.procurement, action="start_review", reason="New")
    vendor_bank_details_change(
        vendor_id=vendor.pk,
        by=org.finance,
        details=BankDetailsInput(account_name="Kestrel Payee", iban="GB82WEST12345698765432"),
        reason="New account at Westbank ending 5432, confirmed by phone",
    )

    for user in (org.security, org.legal, org.admin):
        page = text(org.client_for(user).get(f"/vendors/{vendor.pk}/"))
        assert "changed the bank details" in page
        assert "Westbank" not in page, user
        assert "5432" not in page, user
    finance = text(org.client_for(org.finance).get(f"/vendors/{vendor.pk}/"))
    assert "changed the bank details (Under review → Under review) : New account at" in finance


# --- Requests are seen by those who may see them ---------------------------------------------


def test_it_shows_security_and_legal_only_their_own_requests_naming_a_vendor(org):
    vendor = vendor_approved(by=org.procurement, legal_name="Kestrel Networks Ltd")
    PurchaseRequestFactory.create(requester=org.requester, vendor=vendor, title="Secret merger")
    PurchaseRequestFactory.create(requester=org.security, vendor=vendor, title="Pen test")

    for user in (org.security, org.legal):
        page = text(org.client_for(user).get(f"/vendors/{vendor.pk}/"))
        assert "Secret merger" not in page, user
    security = text(org.client_for(org.security).get(f"/vendors/{vendor.pk}/"))
    assert "Pen test" in security
    assert "1 more request by other people names this vendor." in security
    legal = text(org.client_for(org.legal).get(f"/vendors/{vendor.pk}/"))
    assert "2 requests by other people name this vendor." in legal
    procurement = text(org.client_for(org.procurement).get(f"/vendors/{vendor.pk}/"))
    assert "Secret merger" in procurement
    assert "Pen test" in procurement
    assert "by other people" not in procurement


def test_it_shows_a_contract_owner_in_legal_only_their_own_requests_under_it(org):
    vendor = vendor_approved(by=org.procurement, legal_name="Kestrel Networks Ltd")
    contract = contract_for(org, vendor, owner=org.legal)
    PurchaseRequestFactory.create(
        requester=org.requester, vendor=vendor, contract=contract, title="Secret merger"
    )
    detail = reverse("contracts:detail", args=[contract.pk])

    legal = text(org.client_for(org.legal).get(detail))
    finance = text(org.client_for(org.finance).get(detail))

    assert "Secret merger" not in legal
    assert "1 request by other people is linked to this contract." in legal
    assert "Secret merger" in finance


# --- Downloads ---------------------------------------------------------------------------------


def _downloads(org: Org) -> dict[str, str]:
    """One stored file behind each download page, uploaded with a lying content type."""
    vendor = vendor_approved(by=org.procurement, legal_name="Kestrel Networks Ltd")
    lying = SimpleUploadedFile("x.pdf", PDF, content_type="text/html")
    document = vendor_document_add(
        vendor_id=vendor.pk, by=org.procurement, kind="dpa", title="Doc", upload=lying
    )
    contract = contract_for(org, vendor)
    contract_document = contract_document_add(
        contract_id=contract.pk,
        by=org.procurement,
        title="Signed",
        upload=SimpleUploadedFile("x.pdf", PDF, content_type="text/html"),
    )
    assessment = send(org, legal_name="Cloudy Software Ltd")
    certificate = questions(assessment.template)["certificate"]
    assessment_answers_save(
        assessment=assessment, answers={}, files={certificate.pk: pdf("x.pdf")}, submit=False
    )
    answer = assessment.answers.get(evidence__isnull=False)
    return {
        "vendor document": reverse("vendors:document", args=[vendor.pk, document.pk]),
        "contract document": reverse(
            "contracts:document", args=[contract.pk, contract_document.pk]
        ),
        "evidence": reverse("assessments:evidence", args=[assessment.pk, answer.pk]),
    }


def test_it_serves_every_vendor_file_as_a_download_the_browser_may_not_run(org):
    client = org.client_for(org.procurement)

    for what, url in _downloads(org).items():
        response = client.get(url)
        assert response.status_code == 200, what
        assert response["Content-Type"] == "application/pdf", what
        assert response["Content-Disposition"] == 'attachment; filename="x.pdf"', what
        assert response["X-Content-Type-Options"] == "nosniff", what
        assert response["Content-Security-Policy"] == "default-src 'none'; sandbox", what
        assert "no-store" in response["Cache-Control"], what


def test_it_answers_404_for_a_vendor_file_missing_from_storage(org):
    downloads = _downloads(org)
    for name in _stored_names():
        default_storage.delete(name)
    client = org.client_for(org.procurement)

    for what, url in downloads.items():
        assert client.get(url).status_code == 404, what


def _stored_names() -> list[str]:
    names: list[str] = []
    pending = [""]
    while pending:
        folder = pending.pop()
        folders, files = default_storage.listdir(folder)
        pending += [f"{folder}/{sub}".lstrip("/") for sub in folders]
        names += [f"{folder}/{file}".lstrip("/") for file in files]
    return names


def test_it_answers_404_for_a_file_asked_for_under_another_vendor_or_assessment(org):
    vendor = vendor_create(by=org.procurement, legal_name="Kestrel Networks Ltd")
    other_vendor = vendor_create(by=org.procurement, legal_name="Other Corp", country="DE")
    document = vendor_document_add(
        vendor_id=vendor.pk, by=org.procurement, kind="dpa", title="DPA", upload=pdf("dpa.pdf")
    )
    assessment = send(org)
    other_assessment = send(org, legal_name="Other Cloud Ltd", template=assessment.template)
    certificate = questions(assessment.template)["certificate"]
    assessment_answers_save(
        assessment=assessment, answers={}, files={certificate.pk: pdf()}, submit=False
    )
    answer = assessment.answers.get(evidence__isnull=False)
    client = org.client_for(org.procurement)

    moved_document = reverse("vendors:document", args=[other_vendor.pk, document.pk])
    moved_evidence = reverse("assessments:evidence", args=[other_assessment.pk, answer.pk])

    assert client.get(moved_document).status_code == 404
    assert client.get(moved_evidence).status_code == 404


@pytest.mark.parametrize("role", ["requester", "manager", "outsider"])
def test_it_answers_404_to_people_outside_the_vendor_file_for_every_download(org, role):
    downloads = _downloads(org)
    client = org.client_for(getattr(org, role))

    for what, url in downloads.items():
        assert client.get(url).status_code == 404, what


def test_it_sends_people_who_are_not_signed_in_to_the_login_page_for_every_download(org):
    for what, url in _downloads(org).items():
        response = Client().get(url)
        assert response.status_code == 302, what
        assert response["Location"].startswith(reverse("login")), what


# --- The public questionnaire link -------------------------------------------------------


def test_it_never_lets_a_questionnaire_link_write_answers_of_another_questionnaire(org):
    assessment = send(org)
    other = send(org, legal_name="Other Cloud Ltd", template=small_template("Other questionnaire"))
    other_question = questions(other.template)["mfa"]
    data = {f"q{pk}": value for pk, value in full_answers(assessment).items()}
    data[f"q{other_question.pk}"] = "no"

    response = Client().post(respond_path(assessment), {**data, "intent": "save"})

    assert response.status_code == 302
    assert not other.answers.exists()
    assert assessment.answers.count() == 4


def test_it_keeps_the_questionnaire_link_out_of_its_own_page_and_caches(org):
    assessment = send(org)
    path = respond_path(assessment)
    token = path.rstrip("/").rsplit("/", 1)[1]

    response = Client().get(path)

    assert response.status_code == 200
    assert token not in response.content.decode()
    assert "no-store" in response["Cache-Control"]
    assert response["X-Robots-Tag"] == "noindex, nofollow"
    # The origin only: the path, which holds the token, is never sent on.
    assert response["Referrer-Policy"] == "strict-origin"
