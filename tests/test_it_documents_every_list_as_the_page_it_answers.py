"""Every list of the API is documented as the page it answers.

Found by schemathesis (fuzz/run.py): the planning and sourcing lists were documented as bare
arrays while they answer {"count", "next", "previous", "results"}, so every response broke the
published schema. This walks the schema instead of naming lists, so a new app's list is held to
the same rule the day it is added.
"""

from __future__ import annotations

import pytest

PAGE = {"count", "next", "previous", "results"}


def _list_operations(schema: dict) -> list[str]:
    # A list: a GET without path parameters whose documented body is an object with "results"
    # or an array (the mistake this guards against).
    found = []
    for path, operations in schema["paths"].items():
        get = operations.get("get")
        if "{" in path or not get or "200" not in get["responses"]:
            continue
        body = get["responses"]["200"].get("content", {}).get("application/json")
        if body is None:
            continue
        documented = body["schema"]
        if "$ref" in documented:
            documented = schema["components"]["schemas"][documented["$ref"].rsplit("/", 1)[1]]
        if documented.get("type") == "array" or "results" in documented.get("properties", {}):
            found.append(path)
    return found


@pytest.mark.django_db
def test_it_documents_each_list_as_a_page_and_answers_one(org):
    # An admin may read every list (the procurement and finance roles each miss some).
    client = org.client_for(org.admin)
    schema = client.get("/api/schema/", {"format": "json"}).json()
    lists = _list_operations(schema)
    # The lists the fuzzer caught, and the requests list every user has: the walk finds them.
    assert {"/api/requests/", "/api/sourcing/", "/api/orders/", "/api/planning/budgets/"} <= set(
        lists
    )

    for path in lists:
        body = schema["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]
        documented = schema["components"]["schemas"][body["schema"]["$ref"].rsplit("/", 1)[1]]
        response = client.get(path)

        assert response.status_code == 200, path
        assert documented.get("type") == "object", f"{path} is documented as a bare array"
        assert set(response.json()) == PAGE, path
        assert set(documented["properties"]) >= PAGE, path
