"""The spend API's schema says what it really returns: months as YYYY-MM, imports in pages.

Both found by schemathesis (fuzz/run.py), whose response check rejected every answer:
months were documented as OpenAPI dates ("2025-05" is not one) and the import list as a
bare array while it answers {"count", "next", "previous", "results"}.
"""

from __future__ import annotations

import re

import pytest

from analytics.tests.test_it_shows_spend_dashboards import add_sample_spend


@pytest.fixture
def schema(org) -> dict:
    response = org.client_for(org.finance).get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    return response.json()


def _ok_schema(schema: dict, path: str) -> dict:
    body = schema["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]
    name = body["schema"]["$ref"].rsplit("/", 1)[1]
    return schema["components"]["schemas"][name]


@pytest.mark.parametrize(
    ("component", "path"),
    [
        ("MonthSpend", "/api/analytics/spend/over-time/"),
        ("ContractMonth", "/api/analytics/spend/contract/"),
    ],
)
def test_it_documents_a_month_as_the_yyyy_mm_string_it_sends(org, schema, component, path):
    add_sample_spend(org)
    month = schema["components"]["schemas"][component]["properties"]["month"]
    assert month["type"] == "string"
    assert "format" not in month

    rows = org.client_for(org.finance).get(path).json()["months" if "contract" in path else "rows"]
    assert rows
    for row in rows:
        assert re.fullmatch(month["pattern"], row["month"]), row


def test_it_documents_the_import_list_as_the_page_it_answers(org, schema):
    page = _ok_schema(schema, "/api/analytics/imports/")
    assert {"count", "next", "previous", "results"} <= set(page["properties"])

    body = org.client_for(org.finance).get("/api/analytics/imports/").json()
    assert set(body) == {"count", "next", "previous", "results"}
