"""Uploaded documents: what a file really is (from its bytes), how big it may be, and
making sure a transaction that fails leaves no orphan file behind.

Shared by request attachments and vendor evidence (certificates, questionnaire answers).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.db.models.fields.files import FieldFile
from django.http import FileResponse, Http404

from procurement.errors import InvalidInput

_SIGNATURES: list[tuple[bytes, str]] = [
    (b"%PDF-", "application/pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
]


def sniff_document_type(upload: UploadedFile) -> str | None:
    """The MIME type of a PDF, PNG, JPEG, GIF or WebP upload; None for anything else.

    The client's Content-Type is not trusted: the first bytes decide.
    """
    upload.seek(0)
    head = upload.read(16)
    upload.seek(0)
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    for signature, content_type in _SIGNATURES:
        if head.startswith(signature):
            return content_type
    return None


def human_size(size: int) -> str:
    """10485760 -> "10 MB", 1572864 -> "1.5 MB", 2048 -> "2 KB"."""
    for unit, scale in (("MB", 1024 * 1024), ("KB", 1024)):
        if size >= scale:
            return f"{size / scale:.1f}".removesuffix(".0") + f" {unit}"
    return f"{size} bytes"


def document_check(upload: UploadedFile, *, field: str, limit: int, noun: str = "files") -> str:
    """The upload's sniffed MIME type, or InvalidInput naming `field` (too large, empty, wrong type)."""
    name = upload.name or "file"
    if upload.size is None or upload.size > limit:
        raise InvalidInput(
            f"{name} is too large: {noun} can be at most {human_size(limit)}.",
            fields={field: [f"{name} is larger than {human_size(limit)}."]},
        )
    if upload.size == 0:
        raise InvalidInput(f"{name} is empty.", fields={field: [f"{name} is empty."]})
    content_type = sniff_document_type(upload)
    if content_type is None:
        message = f"{name} is not a PDF or an image (PNG, JPEG, GIF, WebP)."
        raise InvalidInput(message, fields={field: [message]})
    return content_type


@contextmanager
def files_removed_on_error() -> Iterator[list[str]]:
    """Delete files stored inside a transaction that then failed: no orphan uploads.

    Append each stored file's name to the yielded list.
    """
    stored: list[str] = []
    try:
        yield stored
    except BaseException:
        delete_files(stored)
        raise


def delete_files(names: Sequence[str]) -> None:
    for name in names:
        default_storage.delete(name)


def private_file_response(file: FieldFile, *, filename: str, content_type: str) -> FileResponse:
    """Serve a stored upload to someone the caller has already checked may have it.

    Always a download, with the content type sniffed at upload (never the client's), and
    headers that stop a browser from guessing, running or caching it. A file missing from
    storage is a 404, not a 500.
    """
    try:
        handle = file.open("rb")
    except FileNotFoundError:
        raise Http404("The file is missing.") from None
    response = FileResponse(
        handle, as_attachment=True, filename=filename, content_type=content_type
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "private, no-store"
    return response
