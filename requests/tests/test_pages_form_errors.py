"""Each bad input on the request form: a clear error next to its field, status 400, nothing stored."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from procurement.errors import InvalidInput
from procurement.models import AuditEntry
from requests.models import Attachment, LineItem, PurchaseRequest
from requests.tests.page_helpers import PDF_BYTES, TWO_LINES, field_error, request_form_data, text
from tests.factories import CostCentreFactory

pytestmark = pytest.mark.django_db


def assert_nothing_stored(settings) -> None:
    assert PurchaseRequest.objects.count() == 0
    assert LineItem.objects.count() == 0
    assert Attachment.objects.count() == 0
    assert AuditEntry.objects.count() == 0
    media = Path(settings.MEDIA_ROOT)
    assert not media.exists() or not any(path.is_file() for path in media.rglob("*"))


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("quantity", "0", "Quantity must be greater than zero."),
        ("quantity", "-1", "Quantity must be greater than zero."),
        ("unit_price", "0", "Unit price must be greater than zero."),
        ("unit_price", "-5.00", "Unit price must be greater than zero."),
    ],
)
@pytest.mark.parametrize("intent", ["draft", "submit"])
def test_it_refuses_a_zero_or_negative_quantity_or_price(
    org, settings, field, value, message, intent
):
    data = request_form_data(org, intent=intent, **{f"line_items-1-{field}": value})

    response = org.client_for(org.requester).post("/requests/new/", data)

    assert response.status_code == 400
    assert field_error(response, f"id_line_items-1-{field}") == message
    assert "Please correct the errors below." in text(response)
    assert_nothing_stored(settings)


def test_it_refuses_an_unknown_currency_from_a_forged_post(org, settings):
    settings.CURRENCIES = ["GBP", "EUR"]
    data = request_form_data(org, currency="XXX")

    response = org.client_for(org.requester).post("/requests/new/", data)

    assert response.status_code == 400
    assert field_error(response, "id_currency") == "Unknown currency 'XXX'. Use one of: GBP, EUR."
    assert_nothing_stored(settings)


def test_it_refuses_a_needed_by_date_in_the_past(org, settings):
    yesterday = timezone.localdate() - dt.timedelta(days=1)
    data = request_form_data(org, needed_by=yesterday.isoformat())

    response = org.client_for(org.requester).post("/requests/new/", data)

    assert response.status_code == 400
    assert field_error(response, "id_needed_by") == "The needed-by date cannot be in the past."
    assert_nothing_stored(settings)


def test_it_refuses_to_submit_without_line_items_and_keeps_no_draft_either(org, settings):
    attachment = SimpleUploadedFile("quote.pdf", PDF_BYTES, content_type="application/pdf")
    data = request_form_data(org, lines=[], intent="submit", attachments=[attachment])

    response = org.client_for(org.requester).post("/requests/new/", data)

    assert response.status_code == 400
    content = response.content.decode()
    errors = content.split('id="line-items-errors"', 1)[1].split("</div>", 1)[0]
    assert "Add at least one line item." in errors
    # The error sits in the line items section, before the rows.
    assert content.index('id="line-items-errors"') < content.index('id="line-items"')
    assert_nothing_stored(settings)


def test_it_refuses_line_items_whose_total_is_too_large_to_store(org, settings):
    huge = {
        "description": "Fleet",
        "quantity": "999999999.999",
        "unit": "each",
        "unit_price": "999999999999.99",
    }
    data = request_form_data(org, lines=[huge])

    response = org.client_for(org.requester).post("/requests/new/", data)

    assert response.status_code == 400
    errors = response.content.decode().split('id="line-items-errors"', 1)[1].split("</div>", 1)[0]
    assert "The total of the line items is too large." in errors
    assert_nothing_stored(settings)


def test_it_refuses_an_oversized_attachment(org, settings):
    settings.ATTACHMENT_MAX_BYTES = 16
    big = SimpleUploadedFile("quote.pdf", PDF_BYTES, content_type="application/pdf")
    data = request_form_data(org, attachments=[big])

    response = org.client_for(org.requester).post("/requests/new/", data)

    assert response.status_code == 400
    assert field_error(response, "id_attachments").startswith("quote.pdf is larger than")
    assert_nothing_stored(settings)


@pytest.mark.parametrize(
    ("name", "content", "content_type"),
    [
        ("notes.txt", b"just some words", "text/plain"),
        # A claimed type proves nothing: the bytes are what count.
        ("invoice.pdf", b"MZ\x90\x00 this is a program", "application/pdf"),
    ],
)
def test_it_refuses_an_attachment_that_is_not_a_pdf_or_an_image(
    org, settings, name, content, content_type
):
    upload = SimpleUploadedFile(name, content, content_type=content_type)
    data = request_form_data(org, attachments=[upload])

    response = org.client_for(org.requester).post("/requests/new/", data)

    assert response.status_code == 400
    assert (
        field_error(response, "id_attachments")
        == f"{name} is not a PDF or an image (PNG, JPEG, GIF, WebP)."
    )
    assert_nothing_stored(settings)


def test_it_stores_no_file_when_a_later_attachment_is_refused(org, settings):
    good = SimpleUploadedFile("quote.pdf", PDF_BYTES, content_type="application/pdf")
    bad = SimpleUploadedFile("notes.txt", b"just some words", content_type="text/plain")
    data = request_form_data(org, attachments=[good, bad])

    response = org.client_for(org.requester).post("/requests/new/", data)

    assert response.status_code == 400
    assert "notes.txt" in field_error(response, "id_attachments")
    assert_nothing_stored(settings)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("title", "", "This field is required."),
        ("justification", "", "This field is required."),
        ("needed_by", "next tuesday", "Enter a valid date."),
        (
            "cost_centre",
            "999999",
            "Select a valid choice. That choice is not one of the available choices.",
        ),
    ],
)
def test_it_refuses_missing_or_malformed_request_fields(org, settings, field, value, message):
    response = org.client_for(org.requester).post(
        "/requests/new/", request_form_data(org, **{field: value})
    )

    assert response.status_code == 400
    assert field_error(response, f"id_{field}") == message
    assert_nothing_stored(settings)


def test_it_refuses_a_cost_centre_of_another_department(org, settings):
    elsewhere = CostCentreFactory(code="MKT-1", name="Campaigns", department=org.other_department)
    data = request_form_data(org, cost_centre=str(elsewhere.pk))

    response = org.client_for(org.requester).post("/requests/new/", data)

    assert response.status_code == 400
    assert field_error(response, "id_cost_centre") == "Cost centre MKT-1 does not belong to IT."
    assert_nothing_stored(settings)


def test_it_refuses_a_half_filled_line(org, settings):
    lines = [{"description": "Monitor", "quantity": "", "unit": "each", "unit_price": ""}]

    response = org.client_for(org.requester).post(
        "/requests/new/", request_form_data(org, lines=lines)
    )

    assert response.status_code == 400
    assert field_error(response, "id_line_items-0-quantity") == "This field is required."
    assert field_error(response, "id_line_items-0-unit_price") == "This field is required."
    assert_nothing_stored(settings)


def test_it_puts_a_service_error_on_the_row_it_names_counting_only_kept_rows(
    org, settings, monkeypatch
):
    """The service numbers the rows it was given; removed and blank rows are not among them."""

    def refuse(**kwargs):
        assert [line.description for line in kwargs["data"].line_items] == ["Laptop", "Dock"]
        raise InvalidInput(
            "Too many docks.", fields={"line_items[1].quantity": ["At most 2 docks."]}
        )

    monkeypatch.setattr("requests.views.purchase_request_create", refuse)
    lines = [
        {
            "description": "Removed",
            "quantity": "1",
            "unit": "each",
            "unit_price": "5",
            "DELETE": "on",
        },
        TWO_LINES[0],
        {"description": "", "quantity": "", "unit": "each", "unit_price": ""},
        TWO_LINES[1],
    ]

    response = org.client_for(org.requester).post(
        "/requests/new/", request_form_data(org, lines=lines)
    )

    assert response.status_code == 400
    assert field_error(response, "id_line_items-3-quantity") == "At most 2 docks."
    assert_nothing_stored(settings)


@pytest.mark.parametrize("total_forms", ["100000", "lots"])
def test_it_refuses_a_forged_row_count(org, settings, total_forms):
    data = request_form_data(org, **{"line_items-TOTAL_FORMS": total_forms})

    response = org.client_for(org.requester).post("/requests/new/", data)

    assert response.status_code == 400
    assert "Please correct the errors below." in text(response)
    assert_nothing_stored(settings)
