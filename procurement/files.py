"""Uploaded files: what a file really is (from its bytes), how big it may be, where it is
stored (a generated name under MEDIA_ROOT), how it is served (a download, never a page), and
making sure a transaction that fails leaves no orphan file behind.

Shared by every upload: request attachments, vendor documents and check evidence,
questionnaire answers, contract documents, quote files and spend files. The table of them
all, with what each is checked for, is tests/test_it_hardens_every_upload.py.
"""

from __future__ import annotations

import codecs
import unicodedata
import zipfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import PurePath
from uuid import uuid4

from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.db.models import Model
from django.db.models.fields.files import FieldFile
from django.http import FileResponse, Http404
from django.utils.deconstruct import deconstructible

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


def size_check(upload: UploadedFile, *, field: str, limit: int, noun: str = "files") -> str:
    """The upload's name, once it is known not to be empty nor over `limit` bytes;
    InvalidInput naming `field` otherwise."""
    name = upload.name or "file"
    if upload.size is None or upload.size > limit:
        raise InvalidInput(
            f"{name} is too large: {noun} can be at most {human_size(limit)}.",
            fields={field: [f"{name} is larger than {human_size(limit)}."]},
        )
    if upload.size == 0:
        raise InvalidInput(f"{name} is empty.", fields={field: [f"{name} is empty."]})
    return name


def document_check(upload: UploadedFile, *, field: str, limit: int, noun: str = "files") -> str:
    """The upload's sniffed MIME type, or InvalidInput naming `field` (too large, empty, wrong type)."""
    name = size_check(upload, field=field, limit=limit, noun=noun)
    content_type = sniff_document_type(upload)
    if content_type is None:
        message = f"{name} is not a PDF or an image (PNG, JPEG, GIF, WebP)."
        raise InvalidInput(message, fields={field: [message]})
    return content_type


# --- Office documents (a zip inside) -------------------------------------------------------

# The part an OOXML package must declare in [Content_Types].xml to be what its suffix says.
_OOXML_MAIN_PARTS = {
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
    ".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml",
}
OFFICE_ZIP_TYPES = {
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    ".odt": "application/vnd.oasis.opendocument.text",
    ".ods": "application/vnd.oasis.opendocument.spreadsheet",
    ".odp": "application/vnd.oasis.opendocument.presentation",
}
# Zip-bomb guards. Real office files have tens to a few hundred parts, unpack to a few
# times their size, and compress XML at most ~20:1; a bomb needs far more of one of these.
OFFICE_MAX_PARTS = 2000
OFFICE_MAX_UNPACKED_BYTES = 200 * 1024 * 1024
OFFICE_MAX_RATIO = 100
_CONTENT_TYPES_MAX_BYTES = 1024 * 1024


def office_document_check(upload: UploadedFile, *, suffix: str, field: str) -> str:
    """The MIME type of a Word, Excel, PowerPoint or OpenDocument file named `suffix`, once
    its bytes prove it is one: a readable zip, within the zip-bomb limits above, holding the
    package part its format requires ([Content_Types].xml declaring the main part for OOXML,
    a first "mimetype" entry for OpenDocument), and no macros. InvalidInput naming `field`
    otherwise. Nothing is unpacked but that one small part."""
    name = upload.name or "file"
    kind = OFFICE_ZIP_TYPES.get(suffix.lower())
    if kind is None:
        raise InvalidInput(
            f"{name} is not an office document.", fields={field: [f"{name}: unknown type."]}
        )

    def refuse(why: str) -> InvalidInput:
        message = f"{name} is not a real {suffix.lower()} document: {why}."
        return InvalidInput(message, fields={field: [message]})

    upload.seek(0)
    try:
        with zipfile.ZipFile(upload) as package:
            parts = package.infolist()
            if len(parts) > OFFICE_MAX_PARTS:
                raise refuse(f"it holds more than {OFFICE_MAX_PARTS} parts")
            unpacked = sum(part.file_size for part in parts)
            if unpacked > OFFICE_MAX_UNPACKED_BYTES:
                raise refuse(
                    f"it unpacks to more than {human_size(OFFICE_MAX_UNPACKED_BYTES)} "
                    "(refused as a possible zip bomb)"
                )
            for part in parts:
                if part.file_size > OFFICE_MAX_RATIO * max(part.compress_size, 1024):
                    raise refuse(f"{part.filename} is packed {OFFICE_MAX_RATIO} times or more")
                if part.filename.startswith("/") or ".." in PurePath(part.filename).parts:
                    raise refuse("a part is named outside the package")
                if part.filename.lower().endswith("vbaproject.bin"):
                    raise refuse("it holds macros")
            if suffix.lower() in _OOXML_MAIN_PARTS:
                declared = _small_part(package, "[Content_Types].xml")
                if declared is None or _OOXML_MAIN_PARTS[suffix.lower()].encode() not in declared:
                    raise refuse("its package does not declare one")
            else:
                first = parts[0].filename if parts else ""
                mimetype = _small_part(package, "mimetype") if first == "mimetype" else None
                if mimetype is None or mimetype.strip() != kind.encode():
                    raise refuse("its package does not declare one")
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError):
        raise refuse("it is not a readable zip package") from None
    finally:
        upload.seek(0)
    return kind


def _small_part(package: zipfile.ZipFile, name: str) -> bytes | None:
    try:
        part = package.getinfo(name)
    except KeyError:
        return None
    if part.file_size > _CONTENT_TYPES_MAX_BYTES:
        return None
    with package.open(part) as handle:
        return handle.read(_CONTENT_TYPES_MAX_BYTES + 1)[:_CONTENT_TYPES_MAX_BYTES]


# --- Text files (CSV) ------------------------------------------------------------------------


def text_file_check(upload: UploadedFile, *, field: str, limit: int, noun: str = "files") -> str:
    """The encoding ("utf-8" or "cp1252") of a plain-text upload such as a CSV, read to its
    end: no NUL byte anywhere, valid in one of the two encodings, and not a web page or an
    image in disguise (HTML, SVG and XML start with "<"). InvalidInput naming `field`
    otherwise (too large, empty, binary)."""
    name = size_check(upload, field=field, limit=limit, noun=noun)
    message = f"{name} is not a text (CSV) file."
    upload.seek(0)
    start = upload.read(512).lstrip(b"\xef\xbb\xbf \t\r\n")
    if start.startswith(b"<"):
        raise InvalidInput(
            f"{name} is a web page or XML, not a CSV file.",
            fields={field: [f"{name} is a web page or XML, not a CSV file."]},
        )
    for encoding in ("utf-8", "cp1252"):
        if text_decodes(upload, encoding):
            return encoding
    raise InvalidInput(message, fields={field: [message]})


def text_decodes(upload: UploadedFile, encoding: str) -> bool:
    """Whether the whole upload decodes in `encoding` with no NUL byte (read in chunks)."""
    decoder = codecs.getincrementaldecoder(encoding)()
    upload.seek(0)
    try:
        for chunk in upload.chunks():
            if b"\x00" in chunk:
                return False
            decoder.decode(chunk)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    finally:
        upload.seek(0)
    return True


# --- Where files are stored and how they are served --------------------------------------------


@deconstructible
class GeneratedUploadPath:
    """A model FileField's upload_to: "<folder>/<yyyy>/<mm>/<random>.<suffix>".

    The uploader's file name never becomes a path: it is kept in the model's filename column
    for the download's Content-Disposition only. The suffix is kept (lower case, letters and
    digits only) so an operator can tell a PDF from an image on disk.
    """

    def __init__(self, folder: str) -> None:
        self.folder = folder.strip("/")

    def __call__(self, instance: Model | None, filename: str) -> str:
        from django.utils import timezone

        suffix = PurePath(filename).suffix.lower()[:10]
        if not suffix[1:].isalnum():
            suffix = ""
        today = timezone.now()
        return f"{self.folder}/{today:%Y/%m}/{uuid4().hex}{suffix}"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, GeneratedUploadPath) and other.folder == self.folder

    def __hash__(self) -> int:
        return hash(self.folder)


def safe_download_name(filename: str, *, fallback: str = "download") -> str:
    """The uploader's file name, fit for a Content-Disposition header: no path, no control
    or format characters (no header splitting, no right-to-left tricks), at most 150
    characters keeping the suffix; `fallback` when nothing is left. (Quotes stay: Django
    escapes them inside filename="...", and writes filename*= for anything not ASCII.)"""
    name = PurePath(filename.replace("\\", "/")).name
    name = "".join(char for char in name if unicodedata.category(char)[0] != "C").strip(" .")
    if len(name) > 150:
        suffix = PurePath(name).suffix[:10]
        name = name[: 150 - len(suffix)] + suffix
    return name or fallback


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
        handle, as_attachment=True, filename=safe_download_name(filename), content_type=content_type
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "private, no-store"
    return response
