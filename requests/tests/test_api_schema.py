"""The OpenAPI schema is valid and complete, and it and the docs are for signed-in people only."""

from __future__ import annotations

import pytest
from django.test import Client

from requests.services import ACTIONS


@pytest.fixture
def schema(org) -> dict:
    response = org.client_for(org.requester).get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    return response.json()


def test_it_documents_the_bodies_and_errors_of_each_operation(schema):
    create = schema["paths"]["/api/requests/"]["post"]
    body = create["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert body.endswith("/PurchaseRequestInputRequest")
    assert set(create["responses"]) == {"201", "400", "403", "413"}
    error = create["responses"]["400"]["content"]["application/json"]["schema"]["$ref"]
    assert error.endswith("/Error")
    assert set(schema["components"]["schemas"]["Error"]["properties"]) == {
        "code",
        "detail",
        "errors",
    }

    update = schema["paths"]["/api/requests/{request_id}/"]["patch"]
    assert set(update["responses"]) == {"200", "400", "403", "404", "409", "413"}


def test_it_leaves_total_and_state_out_of_the_writable_fields(schema):
    writable = schema["components"]["schemas"]["PurchaseRequestInputRequest"]["properties"]

    assert "total" not in writable
    assert "state" not in writable
    assert "line_items" in writable


def test_it_lists_every_action_in_the_transition_path(schema):
    operation = schema["paths"]["/api/requests/{request_id}/{action}/"]["post"]
    action = next(p for p in operation["parameters"] if p["name"] == "action")

    assert sorted(action["schema"]["enum"]) == sorted(ACTIONS)


def test_it_documents_the_list_filters_and_the_pagination(schema):
    operation = schema["paths"]["/api/requests/"]["get"]
    names = {parameter["name"] for parameter in operation["parameters"]}

    assert names == {
        "scope",
        "state",
        "category",
        "department",
        "q",
        "created_from",
        "created_to",
        "page",
        "page_size",
    }
    assert operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/PaginatedPurchaseRequestRowList"
    )


def test_it_documents_both_ways_to_authenticate(schema):
    assert set(schema["components"]["securitySchemes"]) == {"cookieAuth", "tokenAuth"}
    assert schema["paths"]["/api/auth/token/"]["post"].get("security") in (None, [], [{}])


def test_it_serves_the_schema_as_yaml_by_default(org):
    response = org.client_for(org.requester).get("/api/schema/")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.oai.openapi")
    assert response.content.startswith(b"openapi: 3.")


def test_it_keeps_the_schema_from_anonymous_callers_with_a_json_error(db):
    response = Client().get("/api/schema/")

    assert response.status_code in (401, 403)
    assert response["Content-Type"] == "application/json"
    assert response.json()["code"] == "not_authenticated"


def test_it_sends_an_anonymous_visitor_of_the_docs_to_the_login_page(db):
    response = Client().get("/api/docs/")

    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/api/docs/"


def test_it_serves_swagger_ui_from_our_own_static_files(org):
    client = org.client_for(org.requester)
    response = client.get("/api/docs/")
    # The start-up script comes from the same address, not inline (the CSP; docs/security.md).
    script = client.get("/api/docs/?script=")

    assert response.status_code == 200
    page = response.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in page
    assert '<script src="/api/docs/?script=">' in page
    assert "/api/schema/" in script.content.decode()
    assert "cdn" not in page.lower()
    assert "unpkg" not in page.lower()
