"""/api/assessments/: list, detail with answers, send and score; same rules as the pages."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from tests.factories import vendor_create
from vendors.assessments import assessment_answers_save
from vendors.tests.test_assessment_helpers import full_answers, pdf, questions, send, small_template

pytestmark = pytest.mark.django_db


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def submitted(org, **kwargs):
    assessment = send(org, **kwargs)
    q = questions(assessment.template)
    assessment_answers_save(
        assessment=assessment,
        answers=full_answers(assessment),
        files={q["certificate"].pk: pdf()},
        submit=True,
    )
    return assessment


def test_it_lists_assessments_filtered_by_vendor_and_state(org):
    template = small_template()
    first = send(org, template=template, legal_name="First Ltd")
    second = send(org, template=template, legal_name="Second Ltd")
    assessment_answers_save(assessment=second, answers=full_answers(second), files={}, submit=True)
    client = api(org.finance)

    everything = client.get("/api/assessments/").json()
    by_vendor = client.get("/api/assessments/", {"vendor": first.vendor_id}).json()
    by_state = client.get("/api/assessments/", {"state": "submitted"}).json()

    assert everything["count"] == 2
    assert [row["id"] for row in by_vendor["results"]] == [first.pk]
    assert [row["vendor"]["legal_name"] for row in by_state["results"]] == ["Second Ltd"]
    row = by_vendor["results"][0]
    assert row["state"] == "sent"
    assert row["template"] == {"id": template.pk, "name": "Small questionnaire", "version": 1}
    assert row["url"].endswith(f"/api/assessments/{first.pk}/")
    assert "token" not in str(row)
    assert "nonce" not in str(row)


def test_it_names_a_bad_filter(org):
    response = api(org.finance).get("/api/assessments/", {"state": "done"})

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert "state" in response.json()["errors"]


def test_it_shows_every_question_with_its_answer_and_score(org):
    assessment = submitted(org)
    q = questions(assessment.template)

    body = api(org.security).get(f"/api/assessments/{assessment.pk}/").json()

    assert body["state"] == "submitted"
    assert len(body["answers"]) == 5
    by_question = {row["question"]["id"]: row for row in body["answers"]}
    reviews = by_question[q["reviews"].pk]
    assert reviews["value"] == "Quarterly"
    assert reviews["automatic_score"] == 100
    assert reviews["question"]["choices"][1] == {"label": "Yearly", "score": 50}
    incident = by_question[q["incident"].pk]
    assert incident["needs_review"] is True
    assert incident["effective_score"] == 0
    evidence = by_question[q["certificate"].pk]["evidence"]
    assert evidence["filename"] == "iso27001.pdf"
    assert evidence["url"].endswith(
        "/evidence/" + str(assessment.answers.get(question=q["certificate"]).pk) + "/"
    )


def test_it_refuses_requesters_the_list_and_hides_the_detail(org):
    assessment = send(org)
    client = api(org.requester)

    listing = client.get("/api/assessments/")
    detail = client.get(f"/api/assessments/{assessment.pk}/")
    score = client.post(f"/api/assessments/{assessment.pk}/score/", {}, format="json")

    assert listing.status_code == 403
    assert listing.json()["code"] == "permission_denied"
    assert detail.status_code == 404
    assert score.status_code == 404


def test_it_sends_a_questionnaire(org, django_capture_on_commit_callbacks, mailoutbox):
    template = small_template()
    vendor = vendor_create(by=org.procurement, type_code="saas")

    with django_capture_on_commit_callbacks(execute=True):
        response = api(org.procurement).post(
            "/api/assessments/",
            {
                "vendor": vendor.pk,
                "template": template.pk,
                "contact_name": "Ines",
                "contact_email": "ines@vendor.example",
            },
            format="json",
        )

    assert response.status_code == 201
    body = response.json()
    assert response["Location"] == body["url"]
    assert body["vendor"]["id"] == vendor.pk
    assert body["state"] == "sent"
    assert [m.to for m in mailoutbox] == [["ines@vendor.example"]]


@pytest.mark.parametrize(
    ("change", "status", "field"),
    [
        ({"contact_email": "nope"}, 400, "contact_email"),
        ({"template": 999999}, 400, "template"),
        ({"vendor": 999999}, 404, None),
    ],
)
def test_it_explains_a_refused_send(org, change, status, field):
    template = small_template()
    vendor = vendor_create(by=org.procurement, type_code="saas")
    body = {
        "vendor": vendor.pk,
        "template": template.pk,
        "contact_name": "Ines",
        "contact_email": "ines@vendor.example",
        **change,
    }

    response = api(org.procurement).post("/api/assessments/", body, format="json")

    assert response.status_code == status
    if field:
        assert field in response.json()["errors"]


def test_it_lets_only_procurement_send_by_the_api(org):
    template = small_template()
    vendor = vendor_create(by=org.procurement, type_code="saas")

    response = api(org.security).post(
        "/api/assessments/",
        {
            "vendor": vendor.pk,
            "template": template.pk,
            "contact_name": "I",
            "contact_email": "i@x.example",
        },
        format="json",
    )

    assert response.status_code == 403


def test_it_scores_by_the_api(org):
    assessment = submitted(org)
    q = questions(assessment.template)

    response = api(org.security).post(
        f"/api/assessments/{assessment.pk}/score/",
        {
            "overrides": [{"question": q["incident"].pk, "score": 100, "reason": "Good answer."}],
            "tier_override": "medium",
            "tier_override_reason": "New company, little track record.",
        },
        format="json",
    )

    assert response.status_code == 200
    body = response.json()
    assert body["state"] == "scored"
    assert body["score"] == "100.0"
    assert (body["computed_tier"], body["risk_tier"]) == ("low", "medium")
    row = next(r for r in body["answers"] if r["question"]["id"] == q["incident"].pk)
    assert (row["reviewer_score"], row["override_reason"]) == (100, "Good answer.")


def test_it_explains_a_refused_score(org):
    assessment = submitted(org)
    q = questions(assessment.template)
    url = f"/api/assessments/{assessment.pk}/score/"

    no_reason = api(org.security).post(
        url, {"overrides": [{"question": q["incident"].pk, "score": 50}]}, format="json"
    )
    too_high = api(org.security).post(
        url,
        {"overrides": [{"question": q["incident"].pk, "score": 150, "reason": "x"}]},
        format="json",
    )
    not_reviewer = api(org.procurement).post(url, {}, format="json")
    api(org.security).post(url, {}, format="json")
    again = api(org.security).post(url, {}, format="json")

    assert no_reason.status_code == 400
    assert no_reason.json()["errors"] == {
        f"reason_{q['incident'].pk}": ["Say why you score this answer yourself."]
    }
    assert too_high.status_code == 400
    assert "overrides[0].score" in too_high.json()["errors"]
    assert not_reviewer.status_code == 403
    assert again.status_code == 409
    assert again.json()["code"] == "conflict"
