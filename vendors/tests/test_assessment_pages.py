"""The signed-in pages: send, review list, detail with scoring, evidence downloads, actions."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.factories import vendor_create
from vendors.assessments import assessment_answers_save
from vendors.models import AssessmentState
from vendors.services import ContactInput
from vendors.tests.test_assessment_helpers import full_answers, pdf, questions, send, small_template

pytestmark = pytest.mark.django_db


def submitted_with_evidence(org):
    assessment = send(org)
    q = questions(assessment.template)
    assessment_answers_save(
        assessment=assessment,
        answers=full_answers(assessment),
        files={q["certificate"].pk: pdf("soc2.pdf")},
        submit=True,
    )
    return assessment


def test_it_prefills_the_send_form_with_the_vendors_primary_contact(org):
    small_template()
    vendor = vendor_create(
        by=org.procurement,
        type_code="saas",
        contacts=[
            ContactInput(name="Sid Sales", email="sid@vendor.example"),
            ContactInput(name="Ines Infosec", email="ines@vendor.example", is_primary=True),
        ],
    )

    page = org.client_for(org.procurement).get(reverse("assessments:send"), {"vendor": vendor.pk})

    assert page.status_code == 200
    assert b'value="Ines Infosec"' in page.content
    assert b'value="ines@vendor.example"' in page.content
    assert f'<option value="{vendor.pk}" selected>'.encode() in page.content


def test_it_sends_from_the_page_and_opens_the_assessment(
    org, mailoutbox, django_capture_on_commit_callbacks
):
    template = small_template()
    vendor = vendor_create(by=org.procurement, type_code="saas")
    client = org.client_for(org.procurement)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("assessments:send"),
            {
                "vendor": vendor.pk,
                "template": template.pk,
                "contact_name": "Ines",
                "contact_email": "ines@vendor.example",
            },
        )

    assessment = vendor.assessments.get()
    assert response["Location"] == reverse("assessments:detail", args=[assessment.pk])
    assert b"Questionnaire sent to ines@vendor.example" in client.get(response["Location"]).content
    assert [m.to for m in mailoutbox] == [["ines@vendor.example"]]


def test_it_shows_send_errors_next_to_the_fields(org):
    template = small_template()
    vendor = vendor_create(by=org.procurement, type_code="saas")

    response = org.client_for(org.procurement).post(
        reverse("assessments:send"),
        {"vendor": vendor.pk, "template": template.pk, "contact_name": "", "contact_email": "nope"},
    )

    assert response.status_code == 400
    assert b"Enter a valid email address." in response.content
    assert not vendor.assessments.exists()


def test_it_keeps_the_send_page_from_everyone_but_procurement(org):
    assert org.client_for(org.requester).get(reverse("assessments:send")).status_code == 403
    assert org.client_for(org.security).get(reverse("assessments:send")).status_code == 403


def test_it_lists_submitted_assessments_for_review(org):
    waiting = submitted_with_evidence(org)
    send(org, legal_name="Still Answering Ltd", template=waiting.template)

    page = org.client_for(org.security).get(reverse("assessments:review-list"))

    assert page.status_code == 200
    assert b"Cloudy Software Ltd" in page.content
    assert b"Still Answering Ltd" not in page.content
    assert org.client_for(org.requester).get(reverse("assessments:review-list")).status_code == 403


def test_it_hides_an_assessment_and_its_evidence_from_a_requester(org):
    assessment = submitted_with_evidence(org)
    answer = assessment.answers.get(evidence__isnull=False)
    client = org.client_for(org.requester)

    assert client.get(reverse("assessments:detail", args=[assessment.pk])).status_code == 404
    evidence = reverse("assessments:evidence", args=[assessment.pk, answer.pk])
    assert client.get(evidence).status_code == 404


def test_it_shows_answers_and_evidence_to_people_who_see_vendor_files(org):
    assessment = submitted_with_evidence(org)
    answer = assessment.answers.get(evidence__isnull=False)
    client = org.client_for(org.legal)

    page = client.get(reverse("assessments:detail", args=[assessment.pk]))
    download = client.get(reverse("assessments:evidence", args=[assessment.pk, answer.pk]))

    assert page.status_code == 200
    assert b"Quarterly" in page.content
    assert b"soc2.pdf" in page.content
    assert (
        b"1 text answer has no score yet and counts as 0 until a reviewer scores it."
        in page.content
    )
    assert b"Save score" not in page.content  # legal does not score
    assert download.status_code == 200
    assert download["Content-Disposition"].startswith('attachment; filename="soc2.pdf"')
    assert b"".join(download.streaming_content).startswith(b"%PDF-")
    assert download["X-Content-Type-Options"] == "nosniff"


def test_it_scores_from_the_page(org):
    assessment = submitted_with_evidence(org)
    q = questions(assessment.template)
    client = org.client_for(org.security)
    detail = reverse("assessments:detail", args=[assessment.pk])
    assert b"Save score" in client.get(detail).content

    response = client.post(
        reverse("assessments:score", args=[assessment.pk]),
        {f"score_{q['incident'].pk}": "90", f"reason_{q['incident'].pk}": "Clear and honest."},
    )

    assert response["Location"] == detail
    assessment.refresh_from_db()
    assert assessment.state == AssessmentState.SCORED
    assert assessment.risk_tier == "low"
    assert b"Scored " in client.get(detail).content


def test_it_shows_scoring_errors_next_to_the_answers(org):
    assessment = submitted_with_evidence(org)
    q = questions(assessment.template)

    response = org.client_for(org.security).post(
        reverse("assessments:score", args=[assessment.pk]),
        {
            f"score_{q['incident'].pk}": "40",
            f"reason_{q['incident'].pk}": "",
            f"score_{q['mfa'].pk}": "lots",
            "tier_override": "critical",
        },
    )

    assert response.status_code == 400
    assert b"Enter a whole number from 0 to 100." in response.content
    assessment.refresh_from_db()
    assert assessment.state == AssessmentState.SUBMITTED

    response = org.client_for(org.security).post(
        reverse("assessments:score", args=[assessment.pk]),
        {
            f"score_{q['incident'].pk}": "40",
            f"reason_{q['incident'].pk}": "",
            "tier_override": "critical",
        },
    )
    assert response.status_code == 400
    assert b"Say why you score this answer yourself." in response.content
    assert b"Say why the tier differs from the computed one." in response.content
    assert b'value="40"' in response.content  # what was typed is kept


def test_it_resends_and_cancels_from_the_page(org):
    assessment = send(org)
    client = org.client_for(org.procurement)
    detail = reverse("assessments:detail", args=[assessment.pk])
    nonce = assessment.link_nonce

    client.post(reverse("assessments:resend", args=[assessment.pk]))
    refused = client.post(reverse("assessments:cancel", args=[assessment.pk]), {"reason": ""})
    assert b"Give a reason" in client.get(refused["Location"]).content
    client.post(reverse("assessments:cancel", args=[assessment.pk]), {"reason": "Duplicate"})

    assessment.refresh_from_db()
    assert assessment.link_nonce != nonce
    assert assessment.state == AssessmentState.CANCELLED
    assert b"Cancelled" in client.get(detail).content
    security = org.client_for(org.security)
    refused = security.post(reverse("assessments:resend", args=[assessment.pk]))
    assert (
        b"Only procurement can resend questionnaires." in security.get(refused["Location"]).content
    )
