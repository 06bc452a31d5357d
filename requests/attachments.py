"""What an attachment really is, read from its first bytes (the client's Content-Type is not trusted)."""

from __future__ import annotations

from django.core.files.uploadedfile import UploadedFile

_SIGNATURES: list[tuple[bytes, str]] = [
    (b"%PDF-", "application/pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
]


def sniff_attachment_type(upload: UploadedFile) -> str | None:
    """The MIME type of a PDF, PNG, JPEG, GIF or WebP upload; None for anything else."""
    upload.seek(0)
    head = upload.read(16)
    upload.seek(0)
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    for signature, content_type in _SIGNATURES:
        if head.startswith(signature):
            return content_type
    return None
