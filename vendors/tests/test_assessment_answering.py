"""The vendor's contact answers by the link: saves, comes back, uploads evidence, submits."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from procurement.errors import Conflict, InvalidInput
from procurement.models import AuditEntry
from vendors.assessments import AssessmentLinkDead, assessment_answers_save
from vendors.models import Answer, AssessmentState, VendorDocument
from vendors.tests.test_assessment_helpers import full_answers, pdf, questions, respond_path, send

pytestmark = pytest.mark.django_db


def _stored_files(settings) -> list[Path]:
    root = Path(settings.MEDIA_ROOT)
    return [path for path in root.rglob("*") if path.is_file()] if root.exists() else []


def test_it_keeps_saved_answers_for_when_the_contact_comes_back(client, org):
    assessment = send(org)
    q = questions(assessment.template)
    path = respond_path(assessment)

    response = client.post(
        path, {f"q{q['mfa'].pk}": "yes", f"q{q['incident'].pk}": "A phish.", "intent": "save"}
    )

    assert response.status_code == 302
    assert response["Location"] == path
    assessment.refresh_from_db()
    assert assessment.state == AssessmentState.IN_PROGRESS
    later = client.get(path)
    assert b"Your answers are saved" in later.content
    assert f'name="q{q["mfa"].pk}" value="yes" checked'.encode() in later.content
    assert b"A phish.</textarea>" in later.content
    assert AuditEntry.objects.filter(action="assessment_started").exists()


def test_it_clears_an_answer_left_empty_and_keeps_the_others(org):
    assessment = send(org)
    q = questions(assessment.template)
    assessment_answers_save(
        assessment=assessment, answers=full_answers(assessment), files={}, submit=False
    )

    assessment_answers_save(
        assessment=assessment, answers={q["incident"].pk: "  "}, files={}, submit=False
    )

    values = dict(Answer.objects.filter(assessment=assessment).values_list("question_id", "value"))
    assert q["incident"].pk not in values
    assert values[q["mfa"].pk] == "yes"


def test_it_lists_the_required_questions_missing_on_submit_and_saves_nothing(client, org):
    assessment = send(org)
    q = questions(assessment.template)

    response = client.post(respond_path(assessment), {f"q{q['mfa'].pk}": "no", "intent": "submit"})

    assert response.status_code == 400
    assert b"2 required questions are not answered yet" in response.content
    assert response.content.count(b"Answer this question before you submit.") == 2
    assert f'href="#q{q["reviews"].pk}-label"'.encode() in response.content
    assert f'href="#q{q["incident"].pk}-label"'.encode() in response.content
    # What was typed is shown again, though nothing was stored.
    assert f'name="q{q["mfa"].pk}" value="no" checked'.encode() in response.content
    assessment.refresh_from_db()
    assert assessment.state == AssessmentState.SENT
    assert not assessment.answers.exists()


def test_it_refuses_answers_that_are_not_among_the_options(org):
    assessment = send(org)
    q = questions(assessment.template)

    with pytest.raises(InvalidInput) as refused:
        assessment_answers_save(
            assessment=assessment,
            answers={
                q["mfa"].pk: "maybe",
                q["reviews"].pk: "Weekly",
                q["incident"].pk: "x" * 5001,
                999999: "yes",
            },
            files={},
            submit=False,
        )

    assert refused.value.fields == {
        f"q{q['mfa'].pk}": ["Answer yes or no."],
        f"q{q['reviews'].pk}": ["Choose one of: Quarterly; Yearly; Never."],
        f"q{q['incident'].pk}": ["At most 5000 characters (this has 5001)."],
        "q999999": ["Not a question of this questionnaire."],
    }
    assert not assessment.answers.exists()


def test_it_stores_evidence_as_a_vendor_document_and_shows_its_name(client, org):
    assessment = send(org)
    q = questions(assessment.template)
    path = respond_path(assessment)

    client.post(path, {f"q{q['certificate'].pk}": pdf("iso.pdf"), "intent": "save"})

    answer = Answer.objects.get(assessment=assessment, question=q["certificate"])
    document = answer.evidence
    assert document.kind == VendorDocument.Kind.EVIDENCE
    assert document.vendor == assessment.vendor
    assert document.uploaded_by is None
    assert document.content_type == "application/pdf"
    assert b"Uploaded: <strong>iso.pdf</strong>" in client.get(path).content


def test_it_replaces_earlier_evidence_and_removes_the_old_file(
    org, settings, django_capture_on_commit_callbacks
):
    assessment = send(org)
    q = questions(assessment.template)
    with django_capture_on_commit_callbacks(execute=True):
        assessment_answers_save(
            assessment=assessment,
            answers={},
            files={q["certificate"].pk: pdf("old.pdf")},
            submit=False,
        )
        assessment_answers_save(
            assessment=assessment,
            answers={},
            files={q["certificate"].pk: pdf("new.pdf")},
            submit=False,
        )

    assert list(VendorDocument.objects.values_list("filename", flat=True)) == ["new.pdf"]
    # One file left, stored under a generated name (the uploader's is kept in the column).
    [stored] = _stored_files(settings)
    assert stored.suffix == ".pdf"
    assert stored.read_bytes() == VendorDocument.objects.get().file.read()


def test_it_refuses_a_file_that_is_not_a_pdf_or_image_and_writes_nothing(client, org, settings):
    assessment = send(org)
    q = questions(assessment.template)
    script = SimpleUploadedFile(
        "cert.pdf", b"#!/bin/sh\nrm -rf /\n", content_type="application/pdf"
    )

    response = client.post(
        respond_path(assessment),
        {f"q{q['certificate'].pk}": script, f"q{q['mfa'].pk}": "yes", "intent": "save"},
    )

    assert response.status_code == 400
    assert b"cert.pdf is not a PDF or an image" in response.content
    assert not assessment.answers.exists()
    assert not VendorDocument.objects.exists()
    assert _stored_files(settings) == []


def test_it_refuses_a_file_over_the_size_limit_and_writes_nothing(org, settings):
    settings.VENDOR_DOCUMENT_MAX_BYTES = 1024
    assessment = send(org)
    q = questions(assessment.template)

    with pytest.raises(InvalidInput) as refused:
        assessment_answers_save(
            assessment=assessment,
            answers=full_answers(assessment),
            files={q["certificate"].pk: pdf("big.pdf", b"%PDF-" + b"0" * 2048)},
            submit=True,
        )

    assert refused.value.fields == {f"q{q['certificate'].pk}": ["big.pdf is larger than 1 KB."]}
    assert not assessment.answers.exists()
    assert _stored_files(settings) == []


def test_it_removes_the_stored_file_when_the_submit_is_refused(org, settings):
    assessment = send(org)
    q = questions(assessment.template)

    with pytest.raises(InvalidInput):
        assessment_answers_save(
            assessment=assessment,
            answers={q["mfa"].pk: "yes"},  # the choice and text questions are missing
            files={q["certificate"].pk: pdf()},
            submit=True,
        )

    assert not VendorDocument.objects.exists()
    assert _stored_files(settings) == []


def test_it_refuses_a_file_for_a_question_that_does_not_take_one(org):
    assessment = send(org)
    q = questions(assessment.template)

    with pytest.raises(InvalidInput) as refused:
        assessment_answers_save(
            assessment=assessment, answers={}, files={q["mfa"].pk: pdf()}, submit=False
        )

    assert refused.value.fields == {f"q{q['mfa'].pk}": ["This question does not take a file."]}


def test_it_submits_thanks_the_contact_and_tells_the_vendor_owner(
    client, org, django_capture_on_commit_callbacks, mailoutbox
):
    assessment = send(org)
    q = questions(assessment.template)
    data = {f"q{question_id}": value for question_id, value in full_answers(assessment).items()}

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(respond_path(assessment), {**data, "intent": "submit"})

    assert response.status_code == 200
    assert b"your answers are submitted" in response.content
    assert response["Referrer-Policy"] == "no-referrer"
    assessment.refresh_from_db()
    assert assessment.state == AssessmentState.SUBMITTED
    assert assessment.submitted_at is not None
    assert Answer.objects.get(assessment=assessment, question=q["reviews"]).value == "Quarterly"
    [message] = mailoutbox
    assert message.to == [org.procurement.email]
    assert "submitted its security questionnaire" in message.subject
    assert f"/assessments/{assessment.pk}/" in message.body
    entry = AuditEntry.objects.get(action="assessment_submitted")
    assert entry.actor is None
    assert entry.object_id == assessment.vendor_id


def test_it_allows_no_more_changes_after_submission(client, org):
    assessment = send(org)
    path = respond_path(assessment)
    assessment_answers_save(
        assessment=assessment, answers=full_answers(assessment), files={}, submit=True
    )

    with pytest.raises(AssessmentLinkDead) as refused:
        assessment_answers_save(assessment=assessment, answers={}, files={}, submit=False)
    response = client.post(path, {"intent": "save"})

    assert isinstance(refused.value, Conflict)
    assert refused.value.reason == "submitted"
    assert refused.value.status == 410
    assert response.status_code == 410
