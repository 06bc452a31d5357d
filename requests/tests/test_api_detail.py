"""GET /api/requests/{id}/: everything about one request, for those who may see it."""

from __future__ import annotations

from decimal import Decimal

from django.core.files.uploadedfile import SimpleUploadedFile

from requests.services import (
    LineItemInput,
    comment_create,
    purchase_request_add_attachment,
    purchase_request_create,
    purchase_request_transition,
)
from requests.tests.helpers import draft_for, request_in_state, request_input

PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def test_it_shows_the_line_items_with_their_amounts_and_the_computed_total(org):
    created = purchase_request_create(
        requester=org.requester,
        data=request_input(
            org,
            line_items=[
                LineItemInput(
                    description="Laptop", quantity=Decimal("2"), unit_price=Decimal("1249.99")
                ),
                LineItemInput(
                    description="Cable",
                    quantity=Decimal("1.5"),
                    unit="m",
                    unit_price=Decimal("3.33"),
                    vendor_sku="C-1",
                    vendor_url="https://example.com/cable",
                ),
            ],
        ),
    )

    body = org.client_for(org.requester).get(f"/api/requests/{created.pk}/").json()

    assert body["total"] == "2504.98"
    assert body["justification"] == "New starters in January."
    assert [
        (
            line["position"],
            line["description"],
            line["quantity"],
            line["unit"],
            line["unit_price"],
            line["amount"],
        )
        for line in body["line_items"]
    ] == [
        (0, "Laptop", "2.000", "each", "1249.99", "2499.98"),
        (1, "Cable", "1.500", "m", "3.33", "5.00"),
    ]
    assert body["line_items"][1]["vendor_sku"] == "C-1"
    assert body["line_items"][1]["vendor_url"] == "https://example.com/cable"


def test_it_lists_attachments_with_a_download_link(org):
    draft = draft_for(org)
    attachment = purchase_request_add_attachment(
        request_id=draft.pk,
        by=org.requester,
        upload=SimpleUploadedFile("quote.pdf", PDF, content_type="application/pdf"),
    )

    body = org.client_for(org.requester).get(f"/api/requests/{draft.pk}/").json()

    assert body["attachments"] == [
        {
            "id": attachment.pk,
            "filename": "quote.pdf",
            "content_type": "application/pdf",
            "size": len(PDF),
            "uploaded_at": body["attachments"][0]["uploaded_at"],
            "url": f"http://testserver/requests/{draft.pk}/attachments/{attachment.pk}/",
        }
    ]


def test_it_offers_each_caller_only_the_actions_they_may_take(org):
    submitted = request_in_state(org, "submitted")

    def actions(user) -> list[str]:
        body = org.client_for(user).get(f"/api/requests/{submitted.pk}/").json()
        return [entry["action"] for entry in body["available_actions"]]

    assert actions(org.requester) == ["cancel"]
    assert actions(org.manager) == ["approve", "reject", "return"]
    assert actions(org.procurement) == ["return", "cancel"]
    assert actions(org.finance) == []


def test_it_says_which_actions_need_a_comment(org):
    submitted = request_in_state(org, "submitted")

    body = org.client_for(org.manager).get(f"/api/requests/{submitted.pk}/").json()

    assert body["available_actions"] == [
        {"action": "approve", "label": "Approve", "comment_required": False},
        {"action": "reject", "label": "Reject", "comment_required": True},
        {"action": "return", "label": "Return for changes", "comment_required": True},
    ]


def test_it_tells_the_story_in_the_timeline_oldest_first(org):
    created = purchase_request_create(requester=org.requester, data=request_input(org))
    purchase_request_transition(request_id=created.pk, by=org.requester, action="submit")
    comment_create(request_id=created.pk, by=org.manager, body="Which model?")
    purchase_request_transition(
        request_id=created.pk, by=org.manager, action="return", comment="Pick a cheaper dock."
    )

    body = org.client_for(org.requester).get(f"/api/requests/{created.pk}/").json()

    assert [
        (
            event["kind"],
            event["actor"]["username"],
            event["action"],
            event["from_state"],
            event["to_state"],
            event["text"],
        )
        for event in body["timeline"]
    ] == [
        ("transition", "alice", "created", "", "draft", ""),
        ("transition", "alice", "submit", "draft", "submitted", ""),
        ("comment", "mark", "", "", "", "Which model?"),
        ("transition", "mark", "return", "submitted", "returned", "Pick a cheaper dock."),
    ]
    assert body["timeline"][0]["actor"] == {
        "id": org.requester.pk,
        "username": "alice",
        "name": "Alice Asker",
    }
    assert body["state"] == "returned"
    assert body["state_label"] == "Returned for changes"
    assert body["submitted_at"] is not None


def test_it_lets_a_manager_see_a_reports_request(org):
    draft = draft_for(org)

    response = org.client_for(org.manager).get(f"/api/requests/{draft.pk}/")

    assert response.status_code == 200
    assert response.json()["requester"]["username"] == "alice"


def test_it_answers_404_to_someone_who_may_not_see_the_request(org):
    draft = draft_for(org)

    response = org.client_for(org.outsider).get(f"/api/requests/{draft.pk}/")

    assert response.status_code == 404
    assert response.json() == {
        "code": "not_found",
        "detail": "No such purchase request.",
        "errors": {},
    }


def test_it_answers_the_same_404_for_a_request_that_does_not_exist(org):
    response = org.client_for(org.finance).get("/api/requests/999999/")

    assert response.status_code == 404
    assert response.json() == {
        "code": "not_found",
        "detail": "No such purchase request.",
        "errors": {},
    }
