"""/requests/<pk>/edit/: a draft can be changed by its requester; anything else is refused."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from requests.models import PurchaseRequest
from requests.services import purchase_request_add_attachment
from requests.tests.helpers import draft_for, request_in_state
from requests.tests.page_helpers import (
    PDF_BYTES,
    PNG_BYTES,
    field_error,
    flash_messages,
    page,
    request_form_data,
)

pytestmark = pytest.mark.django_db


def edit_data(org, request: PurchaseRequest, **overrides):
    """What the edit page posts back when nothing is changed except `overrides`."""
    lines = [
        {
            "description": line.description,
            "quantity": str(line.quantity),
            "unit": line.unit,
            "unit_price": str(line.unit_price),
        }
        for line in request.line_items.all()
    ]
    data = request_form_data(org, lines=lines, initial_forms=len(lines), title=request.title)
    data.update(overrides)
    return data


def test_it_shows_the_draft_with_its_line_items(org):
    draft = draft_for(org, title="Spare keyboards", line_items=2)

    response = org.client_for(org.requester).get(f"/requests/{draft.pk}/edit/")

    assert response.status_code == 200
    content = page(response)
    assert 'value="Spare keyboards"' in content
    assert 'name="line_items-TOTAL_FORMS" value="2"' in content
    assert 'name="line_items-INITIAL_FORMS" value="2"' in content
    assert 'value="Laptop model 2"' in content
    assert f'value="{draft.needed_by.isoformat()}"' in content


def test_it_saves_changes_to_a_draft_and_recomputes_the_total(org):
    draft = draft_for(org, line_items=2)
    data = edit_data(org, draft, title="Laptops, revised")
    data["line_items-1-quantity"] = "1"
    data["line_items-0-DELETE"] = "on"

    response = org.client_for(org.requester).post(f"/requests/{draft.pk}/edit/", data)

    assert response.status_code == 302
    assert response["Location"] == f"/requests/{draft.pk}/"
    draft.refresh_from_db()
    assert draft.title == "Laptops, revised"
    assert [(line.description, line.quantity) for line in draft.line_items.all()] == [
        ("Laptop model 2", 1)
    ]
    assert draft.total == Decimal("1250.00")
    assert flash_messages(response) == [f"{draft.reference} saved."]


def test_it_adds_a_row_posted_after_the_existing_ones(org):
    draft = draft_for(org, line_items=1)
    data = edit_data(org, draft)
    data.update(
        {
            "line_items-TOTAL_FORMS": "2",
            "line_items-1-description": "Mouse",
            "line_items-1-quantity": "4",
            "line_items-1-unit": "each",
            "line_items-1-unit_price": "20",
        }
    )

    org.client_for(org.requester).post(f"/requests/{draft.pk}/edit/", data)

    draft.refresh_from_db()
    assert [line.description for line in draft.line_items.all()] == ["Laptop model 1", "Mouse"]
    assert draft.total == Decimal("2580.00")


def test_it_saves_and_submits_from_the_edit_page(org):
    draft = draft_for(org)

    response = org.client_for(org.requester).post(
        f"/requests/{draft.pk}/edit/", edit_data(org, draft, intent="submit")
    )

    assert response.status_code == 302
    draft.refresh_from_db()
    assert draft.state == "submitted"


def test_it_changes_nothing_when_submitting_an_edit_fails(org, settings):
    draft = draft_for(org, title="Before")
    data = edit_data(org, draft, title="After", intent="submit")
    data["line_items-0-DELETE"] = "on"
    upload = SimpleUploadedFile("quote.pdf", PDF_BYTES, content_type="application/pdf")
    data["attachments"] = [upload]

    response = org.client_for(org.requester).post(f"/requests/{draft.pk}/edit/", data)

    assert response.status_code == 400
    assert "Add at least one line item." in page(response)
    draft.refresh_from_db()
    assert draft.state == "draft"
    assert draft.title == "Before"
    assert draft.line_items.count() == 1
    assert draft.attachments.count() == 0
    assert not any(path.is_file() for path in Path(settings.MEDIA_ROOT).rglob("*"))


def test_it_shows_a_field_error_on_an_existing_row(org):
    draft = draft_for(org, line_items=2)
    data = edit_data(org, draft)
    data["line_items-1-unit_price"] = "-3"

    response = org.client_for(org.requester).post(f"/requests/{draft.pk}/edit/", data)

    assert response.status_code == 400
    assert (
        field_error(response, "id_line_items-1-unit_price")
        == "Unit price must be greater than zero."
    )
    draft.refresh_from_db()
    assert draft.line_items.get(position=1).unit_price == Decimal("1250.00")


def test_it_adds_and_removes_attachments(org):
    draft = draft_for(org)
    old = purchase_request_add_attachment(
        request_id=draft.pk,
        by=org.requester,
        upload=SimpleUploadedFile("old-quote.pdf", PDF_BYTES, content_type="application/pdf"),
    )
    client = org.client_for(org.requester)
    form = page(client.get(f"/requests/{draft.pk}/edit/"))
    assert "old-quote.pdf" in form
    assert f'name="remove_attachments" value="{old.pk}"' in form

    new = SimpleUploadedFile("photo.png", PNG_BYTES, content_type="image/png")
    data = edit_data(org, draft, remove_attachments=[str(old.pk)], attachments=[new])
    response = client.post(f"/requests/{draft.pk}/edit/", data)

    assert response.status_code == 302
    assert [a.filename for a in draft.attachments.all()] == ["photo.png"]


@pytest.mark.parametrize("state", ["submitted", "approved", "rejected", "cancelled"])
def test_it_refuses_to_edit_a_request_that_is_no_longer_a_draft(org, state):
    request = request_in_state(org, state)
    client = org.client_for(org.requester)

    shown = client.get(f"/requests/{request.pk}/edit/")
    posted = client.post(
        f"/requests/{request.pk}/edit/", edit_data(org, request, title="Sneaky change")
    )

    for response in (shown, posted):
        assert response.status_code == 302
        assert response["Location"] == f"/requests/{request.pk}/"
    label = request.get_state_display().lower()
    assert flash_messages(shown) == [f"{request.reference} is {label}; only a draft can be edited."]
    request.refresh_from_db()
    assert request.title != "Sneaky change"


def test_it_points_a_returned_request_to_edit_and_resubmit(org):
    returned = request_in_state(org, "returned")

    response = org.client_for(org.requester).get(f"/requests/{returned.pk}/edit/")

    assert response.status_code == 302
    assert "Edit and resubmit" in flash_messages(response)[0]


def test_it_lets_only_the_requester_edit(org):
    draft = draft_for(org, title="Alice's draft")
    client = org.client_for(org.manager)  # can see it, as Alice's line manager

    shown = client.get(f"/requests/{draft.pk}/edit/")
    posted = client.post(
        f"/requests/{draft.pk}/edit/", edit_data(org, draft, title="Mark was here")
    )

    assert shown.status_code == 302
    assert flash_messages(shown) == [f"Only the requester can edit {draft.reference}."]
    assert posted.status_code == 302
    draft.refresh_from_db()
    assert draft.title == "Alice's draft"


def test_it_answers_404_to_someone_who_cannot_see_the_request(org):
    draft = draft_for(org)
    client = org.client_for(org.outsider)

    assert client.get(f"/requests/{draft.pk}/edit/").status_code == 404
    assert client.post(f"/requests/{draft.pk}/edit/", edit_data(org, draft)).status_code == 404
