"""Questionnaire templates in the admin: edited until sent, then frozen and copied as a new version."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from vendors.admin_questionnaires import QuestionForm, template_copy_as_new_version
from vendors.models import Question, QuestionnaireTemplate
from vendors.tests.test_assessment_helpers import send, small_template

pytestmark = pytest.mark.django_db


def test_it_shows_a_sent_template_read_only_and_says_why(org):
    template = small_template()
    send(org, template=template)
    client = org.client_for(org.admin)

    page = client.get(reverse("admin:vendors_questionnairetemplate_change", args=[template.pk]))

    assert page.status_code == 200
    assert b"has been sent to vendors, so it is read-only" in page.content
    assert b'name="name"' not in page.content  # no editable fields
    assert b"Copy as a new version" in page.content
    post = client.post(
        reverse("admin:vendors_questionnairetemplate_change", args=[template.pk]),
        {"name": "Changed"},
    )
    assert post.status_code == 403
    template.refresh_from_db()
    assert template.name == "Small questionnaire"


def test_it_lets_an_unsent_template_be_edited(org):
    template = small_template()

    page = org.client_for(org.admin).get(
        reverse("admin:vendors_questionnairetemplate_change", args=[template.pk])
    )

    assert b'name="name"' in page.content
    assert b"read-only" not in page.content


def test_it_copies_a_template_as_the_next_version_and_retires_the_old_one(org):
    template = small_template()
    send(org, template=template)

    response = org.client_for(org.admin).post(
        reverse("admin:vendors_questionnairetemplate_changelist"),
        {"action": "copy_as_new_version", "_selected_action": [template.pk]},
        follow=True,
    )

    assert b"Small questionnaire v2 created" in response.content
    copy = QuestionnaireTemplate.objects.get(name=template.name, version=2)
    template.refresh_from_db()
    assert copy.is_active
    assert not template.is_active

    def shape(t):
        return list(
            Question.objects.filter(section__template=t)
            .order_by("section__position", "position")
            .values_list("section__title", "text", "answer_type", "choices", "weight", "required")
        )

    assert shape(copy) == shape(template)
    assert template.assessments.count() == 1
    assert not copy.is_in_use
    assert template_copy_as_new_version(template=template, by=org.admin).version == 3


@pytest.mark.parametrize(
    ("choices", "message"),
    [
        ([{"label": "Only one", "score": 100}], "at least two choices"),
        (
            [{"label": "A", "score": 100}, {"label": "B", "score": 101}],
            "whole number from 0 to 100",
        ),
        ([{"label": "A", "score": 100}, {"label": "A", "score": 0}], "listed twice"),
        ([{"label": "A", "score": 100}, {"text": "B"}], '"label"'),
    ],
)
def test_it_refuses_choice_questions_without_two_scored_choices(choices, message):
    form = QuestionForm(
        data={
            "position": 1,
            "text": "How often?",
            "answer_type": "choice",
            "choices": json.dumps(choices),
            "weight": 2,
            "required": True,
        }
    )

    assert not form.is_valid()
    assert message in " ".join(form.errors["choices"])


def test_it_accepts_a_well_formed_choice_question_and_empty_choices_elsewhere():
    good = QuestionForm(
        data={
            "position": 1,
            "text": "How often?",
            "answer_type": "choice",
            "choices": json.dumps(
                [{"label": "Often", "score": 100}, {"label": "Never", "score": 0}]
            ),
            "weight": 2,
        }
    )
    yes_no = QuestionForm(
        data={"position": 1, "text": "MFA?", "answer_type": "yes_no", "choices": "", "weight": 3}
    )

    assert good.is_valid(), good.errors
    assert yes_no.is_valid(), yes_no.errors
    assert yes_no.cleaned_data["choices"] == []
