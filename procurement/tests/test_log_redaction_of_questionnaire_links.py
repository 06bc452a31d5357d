"""A questionnaire link opens a vendor's answers without a password: its token never reaches a log."""

from __future__ import annotations

from procurement.log_filters import REDACTED, redact_approval_links

TOKEN = "eyJhIjoxLCJuIjoiYWJjIn0:1vXyZq:Q2hlY2tzdW1fb2ZfdGhlX3Rva2Vu"


def test_it_redacts_the_token_of_a_questionnaire_link_in_a_request_line():
    line = f'"GET /assessments/respond/{TOKEN}/ HTTP/1.1" 200 5120'

    assert (
        redact_approval_links(line) == f'"GET /assessments/respond/{REDACTED}/ HTTP/1.1" 200 5120'
    )


def test_it_redacts_a_percent_encoded_questionnaire_link():
    encoded = TOKEN.replace(":", "%3A")

    assert redact_approval_links(f"next=%2Fassessments%2Frespond%2F{encoded}%2F") == (
        f"next=%2Fassessments%2Frespond%2F{REDACTED}%2F"
    )


def test_it_leaves_the_reviewers_assessment_pages_alone():
    assert redact_approval_links("GET /assessments/42/ HTTP/1.1") == "GET /assessments/42/ HTTP/1.1"
