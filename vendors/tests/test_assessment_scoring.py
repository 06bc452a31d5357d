"""Scoring: weighted answers, reviewer overrides with reasons, tiers, and the vendor's next due date."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from procurement.errors import Conflict, InvalidInput, NotAllowed, NotFound
from procurement.models import AuditEntry
from tests.factories import vendor_create
from vendors.assessments import (
    assessment_answers_save,
    assessment_reopen,
    assessment_score,
    assessment_score_preview,
    assessments_due_for_reassessment,
    months_later,
    tier_for_score,
)
from vendors.models import AssessmentState
from vendors.tests.test_assessment_helpers import full_answers, pdf, questions, send

pytestmark = pytest.mark.django_db


def submitted(org, **answers: str):
    assessment = send(org)
    assessment_answers_save(
        assessment=assessment, answers=full_answers(assessment, **answers), files={}, submit=True
    )
    return assessment


def test_it_weighs_each_answer_and_counts_unscored_text_as_zero(org):
    # mfa yes (3 x 100) + reviews Yearly (2 x 50) + incident text unscored (1 x 0)
    # + region no (5 x 0); the optional certificate is unanswered and left out.
    assessment = submitted(org, reviews="Yearly", region="no")
    q = questions(assessment.template)

    preview = assessment_score_preview(assessment)

    assert preview.score == Decimal("36.4")  # 400 / 11
    assert preview.tier == "critical"
    rows = {row.question.pk: row for row in preview.answers}
    assert rows[q["reviews"].pk].automatic == 50
    assert rows[q["incident"].pk].automatic is None
    assert rows[q["incident"].pk].needs_review
    assert not rows[q["certificate"].pk].counted
    assert [row.question.pk for row in preview.needs_review] == [q["incident"].pk]


def test_it_scores_evidence_as_full_marks_when_uploaded(org):
    assessment = send(org)
    q = questions(assessment.template)
    assessment_answers_save(
        assessment=assessment,
        answers=full_answers(assessment, region="no"),
        files={q["certificate"].pk: pdf()},
        submit=True,
    )

    # 3x100 + 2x100 + 1x0 + 4x100 + 5x0 = 900 over 15
    assert assessment_score_preview(assessment).score == Decimal("60.0")


@pytest.mark.parametrize(
    ("score", "tier"),
    [
        ("100", "low"),
        ("80.0", "low"),
        ("79.9", "medium"),
        ("60.0", "medium"),
        ("59.9", "high"),
        ("40.0", "high"),
        ("39.9", "critical"),
        ("0", "critical"),
    ],
)
def test_it_puts_scores_in_tiers_at_80_60_and_40(score, tier):
    assert tier_for_score(Decimal(score)) == tier


def test_it_lets_a_reviewer_score_answers_with_reasons_and_sets_the_vendor_tier(org):
    assessment = submitted(org, reviews="Yearly", region="no")
    q = questions(assessment.template)

    scored = assessment_score(
        assessment_id=assessment.pk,
        by=org.security,
        overrides={
            q["incident"].pk: (100, "Handled well, reported within a day."),
            q["reviews"].pk: (100, "They showed us quarterly review records."),
        },
    )

    # 3x100 + 2x100 + 1x100 + 5x0 = 600 over 11
    assert scored.state == AssessmentState.SCORED
    assert scored.score == Decimal("54.5")
    assert scored.computed_tier == scored.risk_tier == "high"
    assert scored.scored_by == org.security
    vendor = scored.vendor
    vendor.refresh_from_db()
    assert vendor.risk_tier == "high"
    assert vendor.risk_assessed_at is not None
    assert vendor.next_assessment_due == months_later(timezone.localdate(), 6)
    answer = scored.answers.get(question=q["incident"])
    assert (answer.reviewer_score, answer.reviewed_by) == (100, org.security)
    entry = AuditEntry.objects.get(action="assessment_scored")
    assert "scored 54.5" in entry.comment
    assert "Handled well, reported within a day." in entry.comment


def test_it_needs_a_reason_for_each_override_and_saves_nothing_without(org):
    assessment = submitted(org)
    q = questions(assessment.template)

    with pytest.raises(InvalidInput) as refused:
        assessment_score(
            assessment_id=assessment.pk,
            by=org.security,
            overrides={q["incident"].pk: (80, "  "), q["mfa"].pk: (101, "Too generous")},
        )

    assert refused.value.fields == {
        f"reason_{q['incident'].pk}": ["Say why you score this answer yourself."],
        f"score_{q['mfa'].pk}": ["A score is a whole number from 0 to 100."],
    }
    assessment.refresh_from_db()
    assert assessment.state == AssessmentState.SUBMITTED
    assert not assessment.answers.filter(reviewer_score__isnull=False).exists()


def test_it_lets_the_reviewer_override_the_tier_only_with_a_reason(org):
    assessment = submitted(org)  # 3+2+0+5 of 11 answered well: 90.9, low
    with pytest.raises(InvalidInput) as refused:
        assessment_score(
            assessment_id=assessment.pk, by=org.security, overrides={}, tier_override="high"
        )
    assert set(refused.value.fields) == {"tier_override_reason"}

    scored = assessment_score(
        assessment_id=assessment.pk,
        by=org.security,
        overrides={},
        tier_override="high",
        tier_override_reason="Holds card data; no PCI attestation.",
    )

    assert scored.score == Decimal("90.9")
    assert (scored.computed_tier, scored.risk_tier) == ("low", "high")
    assert scored.tier_override_reason == "Holds card data; no PCI attestation."
    scored.vendor.refresh_from_db()
    assert scored.vendor.risk_tier == "high"
    assert (
        "overridden: Holds card data" in AuditEntry.objects.get(action="assessment_scored").comment
    )


def test_it_refuses_an_unknown_tier(org):
    assessment = submitted(org)

    with pytest.raises(InvalidInput) as refused:
        assessment_score(
            assessment_id=assessment.pk, by=org.security, overrides={}, tier_override="purple"
        )

    assert set(refused.value.fields) == {"tier_override"}


def test_it_lets_only_security_reviewers_score_and_hides_assessments_from_requesters(org):
    assessment = submitted(org)

    with pytest.raises(NotAllowed):
        assessment_score(assessment_id=assessment.pk, by=org.procurement, overrides={})
    with pytest.raises(NotFound):
        assessment_score(assessment_id=assessment.pk, by=org.requester, overrides={})
    assert assessment_score(assessment_id=assessment.pk, by=org.admin, overrides={}).score


def test_it_scores_only_a_submitted_assessment(org):
    assessment = send(org)
    with pytest.raises(Conflict):
        assessment_score(assessment_id=assessment.pk, by=org.security, overrides={})

    assessment_answers_save(
        assessment=assessment, answers=full_answers(assessment), files={}, submit=True
    )
    assessment_score(assessment_id=assessment.pk, by=org.security, overrides={})
    with pytest.raises(Conflict, match="reopen"):
        assessment_score(assessment_id=assessment.pk, by=org.security, overrides={})


def test_it_reopens_a_scored_assessment_for_new_answers(
    org, django_capture_on_commit_callbacks, mailoutbox
):
    assessment = submitted(org)
    assessment_score(assessment_id=assessment.pk, by=org.security, overrides={})

    with django_capture_on_commit_callbacks(execute=True):
        reopened = assessment_reopen(
            assessment_id=assessment.pk, by=org.security, reason="Please add your SOC 2 report."
        )

    assert reopened.state == AssessmentState.IN_PROGRESS
    assert reopened.score is None
    assert reopened.risk_tier == ""
    assert [m.to for m in mailoutbox] == [["carla@cloudy.example"]]
    with pytest.raises(InvalidInput):
        assessment_reopen(assessment_id=assessment.pk, by=org.security, reason="")


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (dt.date(2025, 1, 15), 6, dt.date(2025, 7, 15)),
        (dt.date(2024, 8, 31), 6, dt.date(2025, 2, 28)),
        (dt.date(2023, 11, 30), 3, dt.date(2024, 2, 29)),
        (dt.date(2025, 12, 1), 24, dt.date(2027, 12, 1)),
    ],
)
def test_it_adds_months_clamping_to_the_end_of_shorter_months(start, months, expected):
    assert months_later(start, months) == expected


def test_it_lists_vendors_due_for_reassessment_without_one_underway(org):
    today = timezone.localdate()
    due = vendor_create(by=org.procurement, legal_name="Due Ltd", type_code="saas")
    later = vendor_create(by=org.procurement, legal_name="Later Ltd", type_code="saas")
    for vendor, days in ((due, -1), (later, 10)):
        vendor.next_assessment_due = today + dt.timedelta(days=days)
        vendor.save(update_fields=["next_assessment_due"])
    busy = send(org, legal_name="Busy Ltd").vendor
    busy.next_assessment_due = today
    busy.save(update_fields=["next_assessment_due"])

    assert list(assessments_due_for_reassessment(today)) == [due]
    assert list(assessments_due_for_reassessment(today + dt.timedelta(days=10))) == [due, later]
