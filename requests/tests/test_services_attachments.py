"""Attachments: quotes as PDF or images, checked by their bytes and size."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from procurement.errors import Conflict, InvalidInput
from requests.models import Attachment, PurchaseRequest
from requests.services import purchase_request_add_attachment, purchase_request_create
from requests.tests.helpers import request_in_state, request_input

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


def upload(name: str, content: bytes, content_type: str = "application/pdf") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type=content_type)


def stored_files(settings) -> list[Path]:
    root = Path(settings.MEDIA_ROOT)
    return [path for path in root.rglob("*") if path.is_file()] if root.exists() else []


def test_it_stores_a_quote_with_the_request(org, settings):
    request = purchase_request_create(
        requester=org.requester,
        data=request_input(org),
        attachments=[upload("quote.pdf", PDF), upload("photo.png", PNG, "image/png")],
    )

    attachments = list(request.attachments.all())
    assert [(a.filename, a.content_type, a.size) for a in attachments] == [
        ("quote.pdf", "application/pdf", len(PDF)),
        ("photo.png", "image/png", len(PNG)),
    ]
    assert attachments[0].file.read() == PDF
    # Stored under a random name: the client's file name is never used as a path.
    assert "quote" not in attachments[0].file.name


def test_it_judges_the_type_by_the_bytes_not_the_claimed_content_type(org, settings):
    with pytest.raises(InvalidInput) as error:
        purchase_request_create(
            requester=org.requester,
            data=request_input(org),
            attachments=[upload("quote.pdf", b"MZ\x90\x00 not a pdf at all")],
        )

    assert error.value.fields["attachments"] == [
        "quote.pdf is not a PDF or an image (PNG, JPEG, GIF, WebP)."
    ]
    assert PurchaseRequest.objects.count() == 0
    assert stored_files(settings) == []


def test_it_refuses_an_oversized_attachment_and_keeps_nothing(org, settings):
    settings.ATTACHMENT_MAX_BYTES = 1024 * 1024
    big = PDF + b"0" * (1024 * 1024)

    with pytest.raises(InvalidInput, match="too large"):
        purchase_request_create(
            requester=org.requester,
            data=request_input(org),
            # The first file is fine and gets stored before the second fails: it must go too.
            attachments=[upload("fine.pdf", PDF), upload("huge.pdf", big)],
        )

    assert PurchaseRequest.objects.count() == 0
    assert Attachment.objects.count() == 0
    assert stored_files(settings) == []


def test_it_caps_attachments_per_request(org, settings):
    settings.ATTACHMENTS_PER_REQUEST = 1
    request = purchase_request_create(
        requester=org.requester, data=request_input(org), attachments=[upload("a.pdf", PDF)]
    )

    with pytest.raises(InvalidInput, match="at most 1 attachments"):
        purchase_request_add_attachment(
            request_id=request.pk, by=org.requester, upload=upload("b.pdf", PDF)
        )


def test_it_freezes_attachments_once_submitted(org):
    request = request_in_state(org, "submitted")

    with pytest.raises(Conflict):
        purchase_request_add_attachment(
            request_id=request.pk, by=org.requester, upload=upload("late.pdf", PDF)
        )


@pytest.mark.parametrize(
    ("limit", "shown"),
    [(10 * 1024 * 1024, "10 MB"), (1536 * 1024, "1.5 MB"), (2048, "2 KB"), (500, "500 bytes")],
)
def test_it_states_the_size_limit_in_words(org, settings, limit, shown):
    settings.ATTACHMENT_MAX_BYTES = limit
    too_big = PDF + b"0" * limit

    with pytest.raises(InvalidInput) as error:
        purchase_request_create(
            requester=org.requester, data=request_input(org), attachments=[upload("q.pdf", too_big)]
        )

    assert error.value.message == f"q.pdf is too large: attachments can be at most {shown}."
