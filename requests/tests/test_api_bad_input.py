"""Bad input gets a clear JSON error, and nothing is stored: every failed write leaves no trace."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from procurement.models import AuditEntry
from requests.models import Attachment, Comment, LineItem, PurchaseRequest
from requests.services import MAX_LINE_ITEMS
from requests.tests.helpers import draft_for, request_in_state

PDF = b"%PDF-1.7\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def snapshot() -> dict[str, object]:
    media = Path(settings.MEDIA_ROOT)
    return {
        "requests": PurchaseRequest.objects.count(),
        "states": sorted(PurchaseRequest.objects.values_list("pk", "state", "title", "total")),
        "line_items": sorted(LineItem.objects.values_list("pk", "quantity", "unit_price")),
        "attachments": Attachment.objects.count(),
        "comments": Comment.objects.count(),
        "audit": AuditEntry.objects.count(),
        "files": sorted(str(p) for p in media.rglob("*") if p.is_file()) if media.exists() else [],
    }


@pytest.fixture
def unchanged(org) -> Iterator[None]:
    """Asserts, after the test, that the database and the file store are as they were before it."""
    before = snapshot()
    yield
    assert snapshot() == before


def line(**overrides: Any) -> dict[str, Any]:
    return {"description": "Laptop", "quantity": "2", "unit_price": "1249.99", **overrides}


def payload(org: Any, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "title": "Two laptops",
        "justification": "New starters in January.",
        "department": org.department.code,
        "cost_centre": org.cost_centre.code,
        "category": "hardware",
        "needed_by": (timezone.localdate() + dt.timedelta(days=14)).isoformat(),
        "currency": "GBP",
        "line_items": [line()],
    }
    body.update(overrides)
    return body


def assert_error(
    response, status: int, code: str, errors: dict[str, list[str]] | None = None
) -> None:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"code", "detail", "errors"}
    assert body["code"] == code
    assert body["detail"]
    if errors is not None:
        assert body["errors"] == errors


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("quantity", "0", "Quantity must be greater than zero."),
        ("quantity", "-1", "Quantity must be greater than zero."),
        ("quantity", -0.5, "Quantity must be greater than zero."),
        ("unit_price", "0", "Unit price must be greater than zero."),
        ("unit_price", "0.00", "Unit price must be greater than zero."),
        ("unit_price", "-10.00", "Unit price must be greater than zero."),
        ("quantity", "two", "A valid number is required."),
        ("quantity", "1.0001", "Ensure that there are no more than 3 decimal places."),
        ("unit_price", "9.999", "Ensure that there are no more than 2 decimal places."),
        ("vendor_url", "not a link", "Enter a valid URL."),
        ("description", "", "This field may not be blank."),
    ],
)
def test_it_refuses_a_bad_line_item_on_create(org, unchanged, field, value, message):
    lines = [line(), line(**{field: value})]

    response = org.client_for(org.requester).post(
        "/api/requests/", payload(org, line_items=lines), content_type="application/json"
    )

    assert_error(response, 400, "invalid", {f"line_items[1].{field}": [message]})
    assert response.json()["detail"] == f"line_items[1].{field}: {message}"


def test_it_refuses_line_items_whose_total_is_too_large_to_store(org, unchanged):
    # Each value fits its own column, but their product does not fit the total's 16 digits.
    huge = line(quantity="999999999.999", unit_price="999999999999.99")

    response = org.client_for(org.requester).post(
        "/api/requests/", payload(org, line_items=[huge]), content_type="application/json"
    )

    assert_error(response, 400, "invalid")
    assert "line_items" in response.json()["errors"]


def test_it_refuses_an_edit_whose_total_is_too_large_and_keeps_the_old_lines(org):
    draft = draft_for(org, line_items=2)
    before = snapshot()
    lines = [line(quantity="99999999", unit_price="999999.99")] * 2

    response = org.client_for(org.requester).patch(
        f"/api/requests/{draft.pk}/", {"line_items": lines}, content_type="application/json"
    )

    assert_error(response, 400, "invalid")
    assert snapshot() == before


@pytest.mark.parametrize(
    ("field", "value"),
    [("quantity", "0"), ("unit_price", "-5")],
)
def test_it_refuses_a_bad_line_item_on_edit_and_keeps_the_old_lines(org, field, value):
    draft = draft_for(org, line_items=2)
    before = snapshot()

    response = org.client_for(org.requester).patch(
        f"/api/requests/{draft.pk}/",
        {"line_items": [line(**{field: value})]},
        content_type="application/json",
    )

    assert_error(response, 400, "invalid")
    assert list(response.json()["errors"]) == [f"line_items[0].{field}"]
    assert snapshot() == before


def test_it_refuses_an_unknown_currency(org, unchanged):
    response = org.client_for(org.requester).post(
        "/api/requests/", payload(org, currency="XYZ"), content_type="application/json"
    )

    assert_error(response, 400, "invalid")
    assert response.json()["errors"]["currency"][0].startswith(
        "Unknown currency 'XYZ'. Use one of: GBP,"
    )


def test_it_refuses_a_lower_case_currency_rather_than_guess(org, unchanged):
    response = org.client_for(org.requester).post(
        "/api/requests/", payload(org, currency="gbp"), content_type="application/json"
    )

    assert_error(response, 400, "invalid")
    assert list(response.json()["errors"]) == ["currency"]


def test_it_refuses_a_needed_by_date_in_the_past(org, unchanged):
    yesterday = (timezone.localdate() - dt.timedelta(days=1)).isoformat()

    response = org.client_for(org.requester).post(
        "/api/requests/", payload(org, needed_by=yesterday), content_type="application/json"
    )

    assert_error(
        response, 400, "invalid", {"needed_by": ["The needed-by date cannot be in the past."]}
    )


def test_it_refuses_to_move_a_drafts_needed_by_date_into_the_past(org):
    draft = draft_for(org)
    before = snapshot()

    response = org.client_for(org.requester).patch(
        f"/api/requests/{draft.pk}/",
        {"needed_by": (timezone.localdate() - dt.timedelta(days=3)).isoformat()},
        content_type="application/json",
    )

    assert_error(
        response, 400, "invalid", {"needed_by": ["The needed-by date cannot be in the past."]}
    )
    assert snapshot() == before


def test_it_refuses_to_submit_a_draft_whose_needed_by_date_has_passed(org):
    draft = draft_for(org)
    # Time passes: the date was valid when the draft was saved.
    PurchaseRequest.objects.filter(pk=draft.pk).update(
        needed_by=timezone.localdate() - dt.timedelta(days=1)
    )
    before = snapshot()

    response = org.client_for(org.requester).post(
        f"/api/requests/{draft.pk}/submit/", {}, content_type="application/json"
    )

    assert_error(
        response, 400, "invalid", {"needed_by": ["The needed-by date cannot be in the past."]}
    )
    assert snapshot() == before


def test_it_refuses_to_submit_a_draft_without_line_items(org):
    draft = draft_for(org, line_items=0)
    before = snapshot()

    response = org.client_for(org.requester).post(
        f"/api/requests/{draft.pk}/submit/", {}, content_type="application/json"
    )

    assert_error(response, 400, "invalid", {"line_items": ["Add at least one line item."]})
    assert response.json()["detail"] == "Add at least one line item before submitting."
    assert snapshot() == before


def test_it_refuses_more_line_items_than_the_limit(org, unchanged):
    lines = [line() for _ in range(MAX_LINE_ITEMS + 1)]

    response = org.client_for(org.requester).post(
        "/api/requests/", payload(org, line_items=lines), content_type="application/json"
    )

    assert_error(response, 400, "invalid")
    assert list(response.json()["errors"]) == ["line_items"]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"title": ""}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"justification": None}, "justification"),
        ({"needed_by": "next week"}, "needed_by"),
        ({"line_items": "two laptops"}, "line_items"),
        ({"line_items": [["Laptop", 2]]}, "line_items[0]"),
    ],
)
def test_it_refuses_malformed_fields(org, unchanged, overrides, field):
    response = org.client_for(org.requester).post(
        "/api/requests/", payload(org, **overrides), content_type="application/json"
    )

    assert_error(response, 400, "invalid")
    assert list(response.json()["errors"]) == [field]


def test_it_refuses_a_body_that_is_not_an_object(org, unchanged):
    response = org.client_for(org.requester).post(
        "/api/requests/", [payload(org)], content_type="application/json"
    )

    assert_error(response, 400, "invalid")
    assert list(response.json()["errors"]) == ["non_field_errors"]


def test_it_refuses_an_oversized_attachment(org, settings):
    settings.ATTACHMENT_MAX_BYTES = 1024
    draft = draft_for(org)
    before = snapshot()
    big = PDF + b"0" * 2048

    response = org.client_for(org.requester).post(
        f"/api/requests/{draft.pk}/attachments/", {"file": SimpleUploadedFile("big.pdf", big)}
    )

    assert_error(response, 400, "invalid")
    assert list(response.json()["errors"]) == ["file"]
    assert "big.pdf" in response.json()["detail"]
    assert "too large" in response.json()["detail"]
    assert snapshot() == before


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("notes.txt", b"just some text"),
        ("invoice.pdf", b"MZ\x90\x00 a windows program"),
        ("page.html", b"<html><script>alert(1)</script></html>"),
    ],
)
def test_it_refuses_an_attachment_that_is_not_a_pdf_or_an_image(org, name, content):
    draft = draft_for(org)
    before = snapshot()

    response = org.client_for(org.requester).post(
        f"/api/requests/{draft.pk}/attachments/",
        {"file": SimpleUploadedFile(name, content, content_type="application/pdf")},
    )

    message = f"{name} is not a PDF or an image (PNG, JPEG, GIF, WebP)."
    assert_error(response, 400, "invalid", {"file": [message]})
    assert snapshot() == before


def test_it_refuses_an_empty_attachment(org):
    draft = draft_for(org)
    before = snapshot()

    response = org.client_for(org.requester).post(
        f"/api/requests/{draft.pk}/attachments/", {"file": SimpleUploadedFile("empty.pdf", b"")}
    )

    assert_error(response, 400, "invalid", {"file": ["The submitted file is empty."]})
    assert snapshot() == before


def test_it_refuses_a_submit_by_someone_who_is_not_the_requester(org):
    draft = draft_for(org)
    before = snapshot()

    response = org.client_for(org.manager).post(
        f"/api/requests/{draft.pk}/submit/", {}, content_type="application/json"
    )

    assert_error(response, 403, "permission_denied")
    assert response.json()["detail"] == f"Only the requester can submit {draft.reference}."
    assert snapshot() == before


def test_it_refuses_a_second_submit(org):
    draft = draft_for(org)
    client = org.client_for(org.requester)
    first = client.post(f"/api/requests/{draft.pk}/submit/", {}, content_type="application/json")
    before = snapshot()

    second = client.post(f"/api/requests/{draft.pk}/submit/", {}, content_type="application/json")

    assert first.status_code == 200
    assert_error(second, 409, "conflict")
    assert second.json()["detail"] == f"{draft.reference} is submitted; it cannot be submitted now."
    assert snapshot() == before


def test_it_refuses_to_edit_a_submitted_request(org):
    submitted = request_in_state(org, "submitted")
    before = snapshot()

    response = org.client_for(org.requester).patch(
        f"/api/requests/{submitted.pk}/",
        {"title": "Cheaper laptops", "line_items": [line(quantity="1")]},
        content_type="application/json",
    )

    assert_error(response, 409, "conflict")
    assert snapshot() == before


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", "/api/requests/"),
        ("patch", "/api/requests/{id}/"),
        ("put", "/api/requests/{id}/"),
        ("post", "/api/requests/{id}/submit/"),
        ("post", "/api/requests/{id}/comments/"),
    ],
)
@pytest.mark.parametrize("body", ['{"title": "Laptops",', "{'title': 'single quotes'}", "not json"])
def test_it_refuses_a_malformed_json_body(org, method, path, body):
    draft = draft_for(org)
    before = snapshot()

    response = getattr(org.client_for(org.requester), method)(
        path.format(id=draft.pk), body, content_type="application/json"
    )

    assert_error(response, 400, "parse_error", {})
    assert response.json()["detail"].startswith("JSON parse error")
    assert snapshot() == before


def test_it_refuses_a_body_over_the_size_limit_with_a_json_413(org, unchanged, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2_000

    response = org.client_for(org.requester).post(
        "/api/requests/", payload(org, justification="x" * 5_000), content_type="application/json"
    )

    assert_error(response, 413, "too_large", {})


def test_it_refuses_a_form_encoded_body_where_json_is_expected(org, unchanged):
    response = org.client_for(org.requester).post(
        "/api/requests/", "title=Laptops", content_type="application/x-www-form-urlencoded"
    )

    assert_error(response, 415, "unsupported_media_type")
