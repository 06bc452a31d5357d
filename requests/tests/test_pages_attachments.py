"""Attachments: uploaded with the form, downloaded only by people who may see the request."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from requests.models import Attachment, PurchaseRequest
from requests.services import purchase_request_add_attachment
from requests.tests.helpers import draft_for
from requests.tests.page_helpers import PDF_BYTES, PNG_BYTES, request_form_data
from tests.factories import PurchaseRequestFactory

pytestmark = pytest.mark.django_db


def test_it_uploads_several_files_with_a_new_request(org):
    files = [
        SimpleUploadedFile("quote.pdf", PDF_BYTES, content_type="application/pdf"),
        SimpleUploadedFile("screenshot.png", PNG_BYTES, content_type="image/png"),
    ]

    response = org.client_for(org.requester).post(
        "/requests/new/", request_form_data(org, attachments=files)
    )

    assert response.status_code == 302
    created = PurchaseRequest.objects.get()
    assert [(a.filename, a.content_type, a.size) for a in created.attachments.all()] == [
        ("quote.pdf", "application/pdf", len(PDF_BYTES)),
        ("screenshot.png", "image/png", len(PNG_BYTES)),
    ]


def test_it_downloads_an_attachment_as_a_file(org):
    draft = draft_for(org)
    attachment = purchase_request_add_attachment(
        request_id=draft.pk,
        by=org.requester,
        upload=SimpleUploadedFile("Quote März.pdf", PDF_BYTES, content_type="application/pdf"),
    )

    # The line manager may see the request, so may read its files.
    response = org.client_for(org.manager).get(f"/requests/{draft.pk}/attachments/{attachment.pk}/")

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PDF_BYTES
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("attachment;")
    assert "filename*=utf-8''Quote%20M%C3%A4rz.pdf" in response["Content-Disposition"]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response["Content-Security-Policy"]


def test_it_answers_404_to_someone_who_cannot_see_the_request(org):
    draft = draft_for(org)
    attachment = purchase_request_add_attachment(
        request_id=draft.pk,
        by=org.requester,
        upload=SimpleUploadedFile("quote.pdf", PDF_BYTES, content_type="application/pdf"),
    )

    response = org.client_for(org.outsider).get(
        f"/requests/{draft.pk}/attachments/{attachment.pk}/"
    )

    assert response.status_code == 404


def test_it_answers_404_for_an_attachment_of_another_request(org):
    mine = draft_for(org)
    theirs = PurchaseRequestFactory(requester=org.outsider)
    other = Attachment.objects.create(
        request=theirs,
        file="attachments/x.pdf",
        filename="secret.pdf",
        content_type="application/pdf",
        size=10,
        uploaded_by=org.outsider,
    )

    response = org.client_for(org.requester).get(f"/requests/{mine.pk}/attachments/{other.pk}/")

    assert response.status_code == 404


def test_it_answers_404_when_the_file_is_gone(org):
    draft = draft_for(org)
    attachment = purchase_request_add_attachment(
        request_id=draft.pk,
        by=org.requester,
        upload=SimpleUploadedFile("quote.pdf", PDF_BYTES, content_type="application/pdf"),
    )
    attachment.file.storage.delete(attachment.file.name)

    response = org.client_for(org.requester).get(
        f"/requests/{draft.pk}/attachments/{attachment.pk}/"
    )

    assert response.status_code == 404
