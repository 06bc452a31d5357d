"""The RFQ and order lists are documented as the pages they answer.

Found by schemathesis (fuzz/run.py): both were documented as bare arrays while they answer
{"count", "next", "previous", "results"}, so every response broke the published schema.
"""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("path", ["/api/sourcing/", "/api/orders/"])
def test_it_documents_the_list_as_the_page_it_answers(org, path):
    client = org.client_for(org.procurement)
    schema = client.get("/api/schema/", {"format": "json"}).json()
    body = schema["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]
    name = body["schema"]["$ref"].rsplit("/", 1)[1]

    documented = schema["components"]["schemas"][name]
    answered = client.get(path).json()

    assert documented["type"] == "object"
    assert set(answered) == {"count", "next", "previous", "results"}
    assert set(answered) <= set(documented["properties"])
