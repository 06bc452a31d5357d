"""Sending a questionnaire, and which links still open it (expired, tampered, submitted,
cancelled, replaced by a resend)."""

from __future__ import annotations

import datetime as dt
import re
from importlib import import_module

import pytest
from django.apps import apps as django_apps
from django.utils import timezone

from procurement.errors import Conflict, InvalidInput, NotAllowed
from procurement.models import AuditEntry
from tests.factories import vendor_create
from vendors.assessments import (
    AssessmentLinkDead,
    assessment_answers_save,
    assessment_cancel,
    assessment_from_token,
    assessment_link_token,
    assessment_resend,
    assessment_send,
)
from vendors.models import AssessmentState, Question, QuestionnaireTemplate
from vendors.services import vendor_transition
from vendors.tests.test_assessment_helpers import full_answers, respond_path, send, small_template

pytestmark = pytest.mark.django_db


def test_it_seeds_the_default_questionnaire_once():
    template = QuestionnaireTemplate.objects.get(name="IT security questionnaire", version=1)
    titles = list(template.sections.values_list("title", flat=True))
    assert titles == [
        "Access control & MFA",
        "Encryption at rest and in transit",
        "Incident response",
        "Sub-processors",
        "Data location",
        "Certifications",
        "Penetration testing",
        "Business continuity",
    ]
    counts = [section.questions.count() for section in template.sections.all()]
    assert all(2 <= count <= 4 for count in counts)
    types = set(
        Question.objects.filter(section__template=template).values_list("answer_type", flat=True)
    )
    assert types == {"yes_no", "choice", "text", "file"}

    import_module("vendors.migrations.0003_default_questionnaire").seed(django_apps, None)

    assert QuestionnaireTemplate.objects.filter(name="IT security questionnaire").count() == 1
    assert Question.objects.filter(section__template=template).count() == sum(counts)


def test_it_sends_the_contact_a_link_that_opens_the_questionnaire(
    org, settings, django_capture_on_commit_callbacks, mailoutbox
):
    with django_capture_on_commit_callbacks(execute=True):
        assessment = send(org)

    assert assessment.state == AssessmentState.SENT
    days = (assessment.expires_at - timezone.now()).days
    assert days == 13  # VENDOR_QUESTIONNAIRE_LINK_DAYS = 14, less the seconds since sending
    [message] = mailoutbox
    assert message.to == ["carla@cloudy.example"]
    assert "Cloudy Software Ltd" in message.subject
    [link] = re.findall(r"http\S+/assessments/respond/\S+/", message.body)
    assert link.startswith(settings.SITE_URL)
    assert f'href="{link}"' in message.alternatives[0][0]
    entry = AuditEntry.objects.get(action="assessment_sent")
    assert entry.object_id == assessment.vendor_id
    assert "carla@cloudy.example" in entry.comment

    page = org.client_for(org.outsider).get(link.removeprefix(settings.SITE_URL))
    assert page.status_code == 200
    assert b"Is MFA required?" in page.content


def test_it_opens_the_link_without_signing_in_and_keeps_it_out_of_referers(client, org):
    assessment = send(org)

    response = client.get(respond_path(assessment))

    assert response.status_code == 200
    # Not "no-referrer": a POST would then carry `Origin: null` and fail the CSRF check.
    assert response["Referrer-Policy"] == "strict-origin"
    assert response["X-Robots-Tag"] == "noindex, nofollow"
    assert "no-store" in response["Cache-Control"]
    assert b"csrfmiddlewaretoken" in response.content


def test_it_lets_only_procurement_send(org):
    template = small_template()
    for user in (org.requester, org.security, org.finance, org.legal):
        with pytest.raises(NotAllowed):
            send(org, by=user, template=template, legal_name=f"Vendor for {user.username}")
    assert not template.assessments.exists()


@pytest.mark.parametrize("action", ["block", "offboard"])
def test_it_refuses_to_send_to_a_blocked_or_offboarded_vendor(org, action):
    vendor = vendor_create(by=org.procurement, type_code="saas")
    vendor_transition(vendor_id=vendor.pk, by=org.procurement, action=action, reason="Fraud")

    with pytest.raises(Conflict, match="not sent questionnaires"):
        assessment_send(
            vendor_id=vendor.pk,
            by=org.procurement,
            template_id=small_template().pk,
            contact_name="Carla",
            contact_email="carla@example.com",
        )


def test_it_names_each_bad_field_when_sending(org):
    vendor = vendor_create(by=org.procurement, type_code="saas")
    inactive = small_template()
    inactive.is_active = False
    inactive.save()

    with pytest.raises(InvalidInput) as contact:
        assessment_send(
            vendor_id=vendor.pk,
            by=org.procurement,
            template_id=small_template("Other").pk,
            contact_name=" ",
            contact_email="not an email",
        )
    with pytest.raises(InvalidInput) as template:
        assessment_send(
            vendor_id=vendor.pk,
            by=org.procurement,
            template_id=inactive.pk,
            contact_name="Carla",
            contact_email="carla@example.com",
        )

    assert set(contact.value.fields) == {"contact_name", "contact_email"}
    assert set(template.value.fields) == {"template"}


def test_it_says_an_expired_link_has_expired(client, org):
    assessment = send(org)
    path = respond_path(assessment)
    assessment.expires_at = timezone.now() - dt.timedelta(minutes=1)
    assessment.save(update_fields=["expires_at"])

    response = client.get(path)

    assert response.status_code == 410
    assert b"This link has expired" in response.content
    assert b"pat@example.com" in response.content  # whom to ask for a new one
    assert response["Referrer-Policy"] == "no-referrer"


def test_it_says_a_link_older_than_its_signature_allows_has_expired(org, settings, monkeypatch):
    assessment = send(org)
    token = assessment_link_token(assessment)
    later = timezone.now().timestamp() + 15 * 24 * 3600
    monkeypatch.setattr("django.core.signing.time.time", lambda: later)

    with pytest.raises(AssessmentLinkDead) as dead:
        assessment_from_token(token)

    assert dead.value.reason == "expired"
    assert dead.value.status == 410


@pytest.mark.parametrize(
    "tamper",
    [
        lambda token: token[:-2] + ("AA" if not token.endswith("AA") else "BB"),
        lambda token: token[: len(token) // 2],
        lambda token: "not-a-token",
    ],
)
def test_it_refuses_a_tampered_link_without_saying_anything_about_it(client, org, tamper):
    assessment = send(org)
    path = respond_path(assessment)
    token = path.split("/")[-2]

    response = client.get(path.replace(token, tamper(token)))

    assert response.status_code == 404
    assert b"not one we sent" in response.content
    assert b"Cloudy" not in response.content


def test_it_says_a_submitted_questionnaire_was_already_submitted(client, org):
    assessment = send(org)
    assessment_answers_save(
        assessment=assessment, answers=full_answers(assessment), files={}, submit=True
    )

    response = client.get(respond_path(assessment))

    assert response.status_code == 410
    assert b"already submitted" in response.content


def test_it_says_a_cancelled_questionnaire_was_cancelled(client, org):
    assessment = send(org)
    path = respond_path(assessment)
    assessment_cancel(assessment_id=assessment.pk, by=org.procurement, reason="Wrong contact")

    response = client.get(path)

    assert response.status_code == 410
    assert b"was cancelled" in response.content
    with pytest.raises(InvalidInput):
        assessment_cancel(assessment_id=assessment.pk, by=org.procurement, reason=" ")


def test_it_kills_the_old_link_when_the_questionnaire_is_resent(
    client, org, django_capture_on_commit_callbacks, mailoutbox
):
    with django_capture_on_commit_callbacks(execute=True):
        assessment = send(org)
    old_path = respond_path(assessment)
    assessment.expires_at = timezone.now() + dt.timedelta(days=1)
    assessment.save(update_fields=["expires_at"])

    with django_capture_on_commit_callbacks(execute=True):
        resent = assessment_resend(assessment_id=assessment.pk, by=org.procurement)

    old = client.get(old_path)
    assert old.status_code == 410
    assert b"A newer link was sent" in old.content
    assert client.get(respond_path(resent)).status_code == 200
    assert (resent.expires_at - timezone.now()).days == 13  # a full period again
    assert len(mailoutbox) == 2
    [new_link] = re.findall(r"http\S+/assessments/respond/\S+/", mailoutbox[1].body)
    assert assessment_from_token(new_link.split("/")[-2]) == resent
    # The old link cannot save answers either, even if its page was already open.
    with pytest.raises(AssessmentLinkDead):
        assessment_answers_save(assessment=assessment, answers={}, files={}, submit=False)


def test_it_does_not_resend_a_submitted_questionnaire(org):
    assessment = send(org)
    assessment_answers_save(
        assessment=assessment, answers=full_answers(assessment), files={}, submit=True
    )

    with pytest.raises(Conflict):
        assessment_resend(assessment_id=assessment.pk, by=org.procurement)
