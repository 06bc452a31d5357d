"""Builders shared by the test_assessment_* files (this module holds no tests itself)."""

from __future__ import annotations

from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from procurement.models import User
from tests.factories import vendor_create
from vendors.assessments import assessment_link_token, assessment_send
from vendors.models import Assessment, Question, QuestionnaireSection, QuestionnaireTemplate

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def pdf(name: str = "iso27001.pdf", body: bytes = PDF) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, body, content_type="application/pdf")


def small_template(name: str = "Small questionnaire") -> QuestionnaireTemplate:
    """Two sections; weights chosen so the maths is easy to follow by hand.

    Access: yes_no "mfa" (weight 3, required), choice "reviews" (weight 2, required:
    Quarterly 100 / Yearly 50 / Never 0). Evidence: text "incident" (weight 1, required),
    file "certificate" (weight 4, optional), yes_no "region" (weight 5, optional).
    """
    template = QuestionnaireTemplate.objects.create(name=name, version=1)
    access = QuestionnaireSection.objects.create(template=template, title="Access", position=1)
    evidence = QuestionnaireSection.objects.create(template=template, title="Evidence", position=2)
    Question.objects.create(
        section=access, text="Is MFA required?", answer_type="yes_no", weight=3, position=1
    )
    Question.objects.create(
        section=access,
        text="How often are access rights reviewed?",
        answer_type="choice",
        choices=[
            {"label": "Quarterly", "score": 100},
            {"label": "Yearly", "score": 50},
            {"label": "Never", "score": 0},
        ],
        weight=2,
        position=2,
    )
    Question.objects.create(
        section=evidence,
        text="Describe your last incident.",
        answer_type="text",
        weight=1,
        position=1,
    )
    Question.objects.create(
        section=evidence,
        text="Upload your certificate.",
        answer_type="file",
        weight=4,
        required=False,
        position=2,
    )
    Question.objects.create(
        section=evidence,
        text="Can you keep data in our region?",
        answer_type="yes_no",
        weight=5,
        required=False,
        position=3,
    )
    return template


def questions(template: QuestionnaireTemplate) -> dict[str, Question]:
    """The small template's questions by a short name."""
    by_type = list(
        Question.objects.filter(section__template=template).order_by(
            "section__position", "position"
        )
    )
    return dict(zip(["mfa", "reviews", "incident", "certificate", "region"], by_type, strict=True))


def send(
    org: Any,
    *,
    by: User | None = None,
    template: QuestionnaireTemplate | None = None,
    legal_name: str = "Cloudy Software Ltd",
    **vendor_fields: Any,
) -> Assessment:
    vendor = vendor_create(
        by=org.procurement, legal_name=legal_name, type_code="saas", **vendor_fields
    )
    return assessment_send(
        vendor_id=vendor.pk,
        by=by or org.procurement,
        template_id=(template or small_template()).pk,
        contact_name="Carla Contact",
        contact_email="carla@cloudy.example",
    )


def respond_path(assessment: Assessment) -> str:
    return reverse("assessments:respond", args=[assessment_link_token(assessment)])


def full_answers(assessment: Assessment, **overrides: str) -> dict[int, str]:
    """Every non-file question of the small template answered well."""
    q = questions(assessment.template)
    values = {
        "mfa": "yes",
        "reviews": "Quarterly",
        "incident": "None in three years.",
        "region": "yes",
    }
    values.update(overrides)
    return {q[name].pk: value for name, value in values.items()}
