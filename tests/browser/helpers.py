"""Steps the browser tests share."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from playwright.sync_api import Page, expect

from requests.models import PurchaseRequest
from requests.services import (
    comment_create,
    purchase_request_add_attachment,
    purchase_request_transition,
)
from requests.tests.helpers import draft_for
from requests.tests.page_helpers import PDF_BYTES

BROWSER_DB = {"transaction": True, "serialized_rollback": True}


def in_two_weeks() -> dt.date:
    return timezone.localdate() + dt.timedelta(days=14)


def fill_request_fields(
    page: Page,
    *,
    title: str = "Laptops for the new starters",
    no_objective_reason: str | None = "Replaces broken kit.",
) -> None:
    page.get_by_label("Title").fill(title)
    page.get_by_label("Business justification").fill("Two engineers join in March.")
    page.get_by_label("Category").select_option(label="Hardware")
    page.get_by_label("Needed by").fill(in_two_weeks().isoformat())
    if no_objective_reason:
        page.get_by_label("Serves no objective, because").fill(no_objective_reason)


def fill_line(page: Page, index: int, *, description: str, quantity: str, unit_price: str) -> None:
    row = page.locator(f"#line_items-{index}")
    expect(row).to_be_visible()
    row.get_by_label("Description").fill(description)
    row.get_by_label("Quantity").fill(quantity)
    row.get_by_label("Unit price").fill(unit_price)


def add_line(page: Page) -> None:
    rows = page.locator("[data-line-item]")
    before = rows.count()
    page.get_by_role("button", name="Add line").click()
    expect(rows).to_have_count(before + 1)


def request_with_history(org: Any) -> PurchaseRequest:
    """A request of Alice's that was submitted, returned with a reason, commented on and resubmitted."""
    request = draft_for(org, title="Laptops for the new starters", line_items=2)
    purchase_request_add_attachment(
        request_id=request.pk,
        by=org.requester,
        upload=SimpleUploadedFile("dell-quote-2026.pdf", PDF_BYTES, content_type="application/pdf"),
    )
    steps = [
        ("submit", org.requester, ""),
        ("return", org.manager, "Please add a second quote so we can compare."),
        ("revise", org.requester, ""),
    ]
    for action, user, comment in steps:
        purchase_request_transition(request_id=request.pk, by=user, action=action, comment=comment)
    comment_create(request_id=request.pk, by=org.requester, body="Second quote attached, @mark.")
    purchase_request_transition(request_id=request.pk, by=org.requester, action="submit")
    request.refresh_from_db()
    return request
