"""Every upload in the platform, page and API, in one table, each checked for the same things:

- its type is read from its bytes: a ".pdf" that is really HTML, SVG, a zip or a program is
  refused, a ".csv" that is really binary or a web page is refused, an office file must be a
  real package of its kind and no zip bomb;
- a file over its size limit is refused with an error that says so;
- a refused file leaves nothing behind, on disk or in the database;
- a kept file is stored under MEDIA_ROOT under a generated name (never the uploader's);
- it is served only through a view that checks who asks, as a download
  (Content-Disposition: attachment, the name quoted), with the type sniffed on upload and
  X-Content-Type-Options: nosniff.

A new upload that is not in the table fails the completeness tests at the bottom: every
FileField of every model, every FileField of a form or serializer and every view reading
request.FILES must belong to a row.
"""

from __future__ import annotations

import ast
import io
import json
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import xlsxwriter
from django.apps import apps
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import models
from django.http import HttpResponse
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from analytics.models import SpendImport
from conftest import Org
from procurement.errors import InvalidInput
from procurement.files import (
    OFFICE_MAX_RATIO,
    office_document_check,
    safe_download_name,
    text_file_check,
)
from procurement.models import ExchangeRate
from requests.models import Attachment
from requests.tests.helpers import draft_for
from requests.tests.page_helpers import request_form_data
from sourcing.models import QuoteAttachment
from sourcing.rfqs import rfq_close
from sourcing.tests.helpers import invite, make_rfq, vendor
from sourcing.tests.test_rfq_helpers import portal_path, quote_form
from tests.factories import vendor_create
from vendors.models import Answer, ContractDocument, Vendor, VendorDocument
from vendors.services import vendor_transition
from vendors.tests.test_assessment_helpers import questions, respond_path, send
from vendors.tests.test_contract_pages import live

pytestmark = pytest.mark.django_db

BASE_DIR = Path(django_settings.BASE_DIR)
# The uploader's name: it must come back in the download, and never be the stored path.
NAME_STEM = "Quarterly offer"

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
CSV = b"Paid on,Net,Payee,Ref\r\n03/04/2024,100.00,Acme Ltd,A1\r\n04/04/2024,20.00,Beta plc,A2\r\n"
RATES = b"currency,date,rate\nEUR,2024-01-01,0.86\n"


def _zip(parts: dict[str, bytes], *, compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=compression) as package:
        for name, body in parts.items():
            package.writestr(name, body)
    return out.getvalue()


def _real_xlsx() -> bytes:
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True})
    book.add_worksheet("Prices").write_row(0, 0, ["Item", "Price"])
    book.close()
    return out.getvalue()


# What a file may claim to be and what it really is. (name, bytes, why it must be refused)
DISGUISED_DOCUMENTS = [
    (f"{NAME_STEM}.pdf", b"<!DOCTYPE html><html><script>alert(1)</script></html>", "html"),
    (
        f"{NAME_STEM}.png",
        b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><rect/></svg>',
        "svg",
    ),
    (f"{NAME_STEM}.pdf", _zip({"offer.html": b"<script>alert(1)</script>"}), "zip"),
    (f"{NAME_STEM}.pdf", b"MZ\x90\x00\x03\x00\x00\x00 This program cannot be run", "program"),
]
# The quote page also takes office files: a zip that is not the package its name says.
BOMB = _zip({"[Content_Types].xml": b"", "xl/workbook.xml": b"\x00" * (20 * 1024 * 1024)})
DISGUISED_OFFICE = [
    (f"{NAME_STEM}.xlsx", _zip({"offer.html": b"<script>alert(1)</script>"}), "plain zip"),
    (f"{NAME_STEM}.docx", _real_xlsx(), "workbook named docx"),
    (f"{NAME_STEM}.xlsx", BOMB, "zip bomb"),
]
DISGUISED_CSV = [
    (f"{NAME_STEM}.csv", b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "png"),
    (f"{NAME_STEM}.csv", b"<html><body><script>alert(1)</script></body></html>\n", "html"),
    (f"{NAME_STEM}.csv", _real_xlsx(), "xlsx"),
    # Text for the first 64 KB, then a program: the whole file is read, not a sample.
    (f"{NAME_STEM}.csv", CSV + b"x,1,y,z\r\n" * 8000 + b"MZ\x90\x00\x00\xff\xfe", "late binary"),
]


# --- The table ---------------------------------------------------------------------------------


def _api(user: Any) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def _vendor_under_review(org: Org) -> Vendor:
    created = vendor_create(by=org.procurement, legal_name="Kestrel Networks Ltd")
    return vendor_transition(
        vendor_id=created.pk, by=org.procurement, action="start_review", reason="New supplier"
    )


@dataclass(frozen=True)
class UploadCase:
    """One way a file gets into the platform."""

    name: str
    kind: str  # "document" (PDF, image), "quote" (also office and text), "csv"
    limit_setting: str  # the setting that caps its size (a module constant for rates)
    # Where a form/serializer FileField or a request.FILES read for it is written.
    declared_in: tuple[str, ...]
    prepare: Callable[[Org], dict[str, Any]]
    post: Callable[[Org, dict[str, Any], SimpleUploadedFile], HttpResponse]
    # What a good upload leaves in the database (stored files, or the rates read).
    kept: Callable[[dict[str, Any]], models.QuerySet[Any]]
    model: type[models.Model] | None = None  # None: read and thrown away, never stored
    # The reader who may download what was kept, and one who may not.
    download: Callable[[Org, dict[str, Any], Any], tuple[HttpResponse, HttpResponse]] | None = None
    api: bool = False


def _request_page_post(org: Org, _context: dict[str, Any], upload: SimpleUploadedFile) -> Any:
    return org.client_for(org.requester).post(
        "/requests/new/", request_form_data(org, attachments=[upload])
    )


def _request_api_post(org: Org, context: dict[str, Any], upload: SimpleUploadedFile) -> Any:
    return _api(org.requester).post(
        f"/api/requests/{context['draft'].pk}/attachments/", {"file": upload}, format="multipart"
    )


def _attachment_download(org: Org, _context: dict[str, Any], row: Attachment) -> Any:
    url = f"/requests/{row.request_id}/attachments/{row.pk}/"
    return org.client_for(org.manager).get(url), org.client_for(org.outsider).get(url)


def _vendor_document_page_post(org: Org, context: dict[str, Any], upload: Any) -> Any:
    return org.client_for(org.security).post(
        f"/vendors/{context['vendor'].pk}/documents/",
        {"kind": "iso27001", "title": "", "file": upload, "expires_on": "2030-06-30"},
    )


def _vendor_document_api_post(org: Org, context: dict[str, Any], upload: Any) -> Any:
    return _api(org.procurement).post(
        f"/api/vendors/{context['vendor'].pk}/documents/",
        {"kind": "soc2", "file": upload, "issued_on": "2025-01-01"},
        format="multipart",
    )


def _check_record_page_post(org: Org, context: dict[str, Any], upload: Any) -> Any:
    vendor = context["vendor"]
    check = vendor.checks.get(kind="registration")
    return org.client_for(org.legal).post(
        f"/vendors/{vendor.pk}/checks/{check.pk}/record/",
        {"status": "passed", "outcome": "Registry extract checked.", "evidence": upload},
    )


def _check_record_api_post(org: Org, context: dict[str, Any], upload: Any) -> Any:
    vendor = context["vendor"]
    check = vendor.checks.get(kind="registration")
    return _api(org.procurement).post(
        f"/api/vendors/{vendor.pk}/checks/{check.pk}/",
        {"status": "passed", "outcome": "Registry extract checked.", "evidence": upload},
        format="multipart",
    )


def _vendor_document_download(org: Org, context: dict[str, Any], row: VendorDocument) -> Any:
    url = f"/vendors/{row.vendor_id}/documents/{row.pk}/"
    return org.client_for(org.procurement).get(url), org.client_for(org.requester).get(url)


def _vendor_documents(context: dict[str, Any]) -> Any:
    return VendorDocument.objects.filter(vendor=context["vendor"])


def _assessment_prepare(org: Org) -> dict[str, Any]:
    assessment = send(org)
    return {"assessment": assessment, "vendor": assessment.vendor}


def _assessment_post(org: Org, context: dict[str, Any], upload: Any) -> Any:
    assessment = context["assessment"]
    certificate = questions(assessment.template)["certificate"]
    # The vendor's contact, through the emailed link: no login.
    return Client().post(respond_path(assessment), {f"q{certificate.pk}": upload, "intent": "save"})


def _evidence_download(org: Org, context: dict[str, Any], row: VendorDocument) -> Any:
    assessment = context["assessment"]
    answer = Answer.objects.get(assessment=assessment, evidence=row)
    url = reverse("assessments:evidence", args=[assessment.pk, answer.pk])
    return org.client_for(org.security).get(url), org.client_for(org.requester).get(url)


def _contract_post(org: Org, context: dict[str, Any], upload: Any) -> Any:
    return org.client_for(org.procurement).post(
        reverse("contracts:document-upload", args=[context["contract"].pk]),
        {"title": "", "file": upload},
    )


def _contract_download(org: Org, _context: dict[str, Any], row: ContractDocument) -> Any:
    url = reverse("contracts:document", args=[row.contract_id, row.pk])
    return org.client_for(org.finance).get(url), org.client_for(org.requester).get(url)


def _quote_prepare(org: Org) -> dict[str, Any]:
    return {"invitation": invite(org, make_rfq(org), vendor(org, "Northwind Hardware Ltd"))}


def _quote_post(org: Org, context: dict[str, Any], upload: Any) -> Any:
    invitation = context["invitation"]
    data = quote_form(invitation.rfq, ["1150.00"])
    return Client().post(portal_path(invitation), {**data, "attachments": [upload]})


def _quote_download(org: Org, context: dict[str, Any], row: QuoteAttachment) -> Any:
    rfq = context["invitation"].rfq
    rfq_close(rfq_id=rfq.pk, by=org.procurement)  # sealed until the deadline or closing
    url = reverse("rfqs:attachment", args=[rfq.pk, row.pk])
    return org.client_for(org.procurement).get(url), org.client_for(org.outsider).get(url)


def _spend_page_post(org: Org, _context: dict[str, Any], upload: Any) -> Any:
    return org.client_for(org.finance).post(
        reverse("spend_imports:new"),
        {"source": "", "new_source": "Ledger", "currency": "GBP", "file": upload},
    )


def _spend_api_post(org: Org, _context: dict[str, Any], upload: Any) -> Any:
    mapping = {"columns": {"date": "Paid on", "amount": "Net", "supplier": "Payee"}}
    return org.client_for(org.finance).post(
        "/api/analytics/imports/",
        {"source": "Ledger", "currency": "GBP", "file": upload, "mapping": json.dumps(mapping)},
    )


def _rates_post(org: Org, _context: dict[str, Any], upload: Any) -> Any:
    return org.client_for(org.finance).post(reverse("payees:exchange-rates"), {"file": upload})


def _nothing(_org: Org) -> dict[str, Any]:
    return {}


UPLOADS = [
    UploadCase(
        name="request attachment, request page",
        kind="document",
        limit_setting="ATTACHMENT_MAX_BYTES",
        declared_in=("requests/forms.py:PurchaseRequestForm", "requests/views.py"),
        prepare=lambda org: {"department": org.department},
        post=_request_page_post,
        model=Attachment,
        kept=lambda context: Attachment.objects.all(),
        download=_attachment_download,
    ),
    UploadCase(
        name="request attachment, API",
        kind="document",
        limit_setting="ATTACHMENT_MAX_BYTES",
        declared_in=("requests/api.py:AttachmentUploadSerializer",),
        prepare=lambda org: {"draft": draft_for(org)},
        post=_request_api_post,
        model=Attachment,
        kept=lambda context: Attachment.objects.all(),
        download=_attachment_download,
        api=True,
    ),
    UploadCase(
        name="vendor certificate, vendor page",
        kind="document",
        limit_setting="VENDOR_DOCUMENT_MAX_BYTES",
        declared_in=("vendors/forms.py:DocumentForm", "vendors/views.py"),
        prepare=lambda org: {"vendor": _vendor_under_review(org)},
        post=_vendor_document_page_post,
        model=VendorDocument,
        kept=_vendor_documents,
        download=_vendor_document_download,
    ),
    UploadCase(
        name="vendor certificate, API",
        kind="document",
        limit_setting="VENDOR_DOCUMENT_MAX_BYTES",
        declared_in=("vendors/api.py:DocumentUploadSerializer",),
        prepare=lambda org: {"vendor": _vendor_under_review(org)},
        post=_vendor_document_api_post,
        model=VendorDocument,
        kept=_vendor_documents,
        download=_vendor_document_download,
        api=True,
    ),
    UploadCase(
        name="due-diligence evidence, vendor page",
        kind="document",
        limit_setting="VENDOR_DOCUMENT_MAX_BYTES",
        declared_in=("vendors/forms.py:CheckRecordForm",),
        prepare=lambda org: {"vendor": _vendor_under_review(org)},
        post=_check_record_page_post,
        model=VendorDocument,
        kept=_vendor_documents,
        download=_vendor_document_download,
    ),
    UploadCase(
        name="due-diligence evidence, API",
        kind="document",
        limit_setting="VENDOR_DOCUMENT_MAX_BYTES",
        declared_in=("vendors/api.py:CheckRecordUploadSerializer",),
        prepare=lambda org: {"vendor": _vendor_under_review(org)},
        post=_check_record_api_post,
        model=VendorDocument,
        kept=_vendor_documents,
        download=_vendor_document_download,
        api=True,
    ),
    UploadCase(
        name="security questionnaire answer, vendor's link",
        kind="document",
        limit_setting="VENDOR_DOCUMENT_MAX_BYTES",
        declared_in=("vendors/assessment_views.py",),
        prepare=_assessment_prepare,
        post=_assessment_post,
        model=VendorDocument,
        kept=_vendor_documents,
        download=_evidence_download,
    ),
    UploadCase(
        name="contract document, contract page",
        kind="document",
        limit_setting="VENDOR_DOCUMENT_MAX_BYTES",
        declared_in=("vendors/contract_forms.py:DocumentForm", "vendors/contract_views.py"),
        prepare=lambda org: {"contract": live(org)},
        post=_contract_post,
        model=ContractDocument,
        kept=lambda context: ContractDocument.objects.all(),
        download=_contract_download,
    ),
    UploadCase(
        name="quote file, vendor's quote link",
        kind="quote",
        limit_setting="QUOTE_ATTACHMENT_MAX_BYTES",
        declared_in=("sourcing/rfq_forms.py:QuoteForm", "sourcing/portal_views.py"),
        prepare=_quote_prepare,
        post=_quote_post,
        model=QuoteAttachment,
        kept=lambda context: QuoteAttachment.objects.all(),
        download=_quote_download,
    ),
    UploadCase(
        name="spend file, import page",
        kind="csv",
        limit_setting="SPEND_IMPORT_MAX_BYTES",
        declared_in=("analytics/import_forms.py:UploadForm", "analytics/import_views.py"),
        prepare=_nothing,
        post=_spend_page_post,
        model=SpendImport,
        kept=lambda context: SpendImport.objects.all(),
    ),
    UploadCase(
        name="spend file, API",
        kind="csv",
        limit_setting="SPEND_IMPORT_MAX_BYTES",
        declared_in=("analytics/import_api.py:SpendImportInputSerializer",),
        prepare=_nothing,
        post=_spend_api_post,
        model=SpendImport,
        kept=lambda context: SpendImport.objects.all(),
        api=True,
    ),
    UploadCase(
        name="exchange rates, rates page",
        kind="rates",
        limit_setting="analytics.payee_forms.RATE_FILE_MAX_BYTES",
        declared_in=("analytics/payee_forms.py:RateFileForm", "analytics/payee_views.py"),
        prepare=_nothing,
        post=_rates_post,
        kept=lambda context: ExchangeRate.objects.all(),
    ),
]
# Files the platform reads that no web request brings: an operator names a path on the
# server. (They are checked by content all the same: vendors/sanctions.py, analytics/fx.py.)
COMMAND_LINE_ONLY = {
    "manage.py import_sanctions",
    "manage.py import_exchange_rates",
    "manage.py import_spend",
}

GOOD = {
    "document": (f"{NAME_STEM}.pdf", PDF, "application/pdf"),
    "quote": (f"{NAME_STEM}.pdf", PDF, "application/pdf"),
    "csv": (f"{NAME_STEM}.csv", CSV, "text/csv"),
    "rates": (f"{NAME_STEM}.csv", RATES, "text/csv"),
}
# What the refusal says, in the error shown next to the field or in the JSON errors.
NOT_TEXT = (
    "is not a text (CSV) file",
    "is a web page or XML, not a CSV file",
    "Upload a CSV (comma-separated) text file.",
)
REFUSAL = {
    "document": ("is not a PDF or an image",),
    "quote": ("is not a PDF, an image", "is not a real ."),
    "csv": NOT_TEXT,
    "rates": NOT_TEXT,
}
DISGUISES = {
    "document": DISGUISED_DOCUMENTS,
    "quote": DISGUISED_DOCUMENTS + DISGUISED_OFFICE,
    "csv": DISGUISED_CSV,
    "rates": DISGUISED_CSV,
}


def _upload(name: str, body: bytes) -> SimpleUploadedFile:
    # The client's type always claims the harmless thing: it must not be believed.
    return SimpleUploadedFile(name, body, content_type="application/pdf")


def _media_files() -> list[Path]:
    root = Path(django_settings.MEDIA_ROOT)
    return [path for path in root.rglob("*") if path.is_file()] if root.exists() else []


def _refused(case: UploadCase, response: Any) -> str:
    """The error the uploader sees: a 400 naming what is wrong, as JSON from the API."""
    assert response.status_code == 400, (case.name, response.status_code)
    if case.api:
        body = response.json()
        assert body["code"], body
        assert body["detail"], body
        assert body["errors"], body
        return json.dumps(body)
    return response.content.decode()


def _by_name(cases: list[UploadCase]) -> list[Any]:
    return [pytest.param(case, id=case.name) for case in cases]


# --- What every upload does --------------------------------------------------------------


@pytest.mark.parametrize("case", _by_name(UPLOADS))
def test_it_keeps_a_good_file_under_a_generated_name_in_media_root(org: Org, case) -> None:
    context = case.prepare(org)
    name, body, content_type = GOOD[case.kind]

    response = case.post(org, context, _upload(name, body))

    assert response.status_code < 400, response.content[:2000]
    if case.model is None:
        assert case.kept(context).exists()  # read, applied, and not kept as a file
        assert _media_files() == []
        return
    row = case.kept(context).get()
    stored = Path(row.file.path).resolve()
    assert stored.is_relative_to(Path(django_settings.MEDIA_ROOT).resolve())
    assert stored.read_bytes() == body
    assert row.filename == name  # the uploader's name is kept in a column...
    assert "Quarterly" not in row.file.name  # ...never in the path
    assert Path(row.file.name).stem.isalnum()
    assert len(Path(row.file.name).stem) == 32
    if hasattr(row, "content_type"):
        assert row.content_type == content_type


@pytest.mark.parametrize("case", _by_name(UPLOADS))
def test_it_refuses_a_file_whose_bytes_are_not_what_its_name_says(org: Org, case) -> None:
    context = case.prepare(org)
    for name, body, what in DISGUISES[case.kind]:
        response = case.post(org, context, _upload(name, body))

        error = _refused(case, response)
        assert any(phrase in error for phrase in REFUSAL[case.kind]), (what, error[:3000])
        assert not case.kept(context).exists(), what
        assert _media_files() == [], what


@pytest.mark.parametrize("case", _by_name(UPLOADS))
def test_it_refuses_a_file_over_its_size_limit_and_says_so(
    org: Org, case, settings, monkeypatch
) -> None:
    context = case.prepare(org)
    name, body, _content_type = GOOD[case.kind]
    if "." in case.limit_setting:
        module, constant = case.limit_setting.rsplit(".", 1)
        monkeypatch.setattr(f"{module}.{constant}", len(body) - 1)
    else:
        setattr(settings, case.limit_setting, len(body) - 1)

    response = case.post(org, context, _upload(name, body))

    error = _refused(case, response)
    assert "too large" in error.lower() or "larger than" in error.lower(), error[:3000]
    assert not case.kept(context).exists()
    assert _media_files() == []


@pytest.mark.parametrize("case", _by_name([case for case in UPLOADS if case.download]))
def test_it_serves_a_kept_file_only_as_a_download_to_those_who_may_see_it(org: Org, case) -> None:
    context = case.prepare(org)
    name, body, content_type = GOOD[case.kind]
    case.post(org, context, _upload(name, body))
    row = case.kept(context).get()

    assert case.download is not None
    allowed, refused = case.download(org, context, row)

    assert refused.status_code in (403, 404)
    assert allowed.status_code == 200
    assert b"".join(allowed.streaming_content) == body
    assert allowed["Content-Disposition"] == f'attachment; filename="{name}"'
    assert allowed["Content-Type"] == content_type
    assert allowed["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in allowed["Content-Security-Policy"]


def test_it_takes_a_real_office_file_with_a_quote_and_serves_it_with_its_type(org: Org) -> None:
    [case] = [case for case in UPLOADS if case.kind == "quote"]
    context = case.prepare(org)
    workbook = _real_xlsx()

    response = case.post(org, context, _upload("Price list.xlsx", workbook))

    assert response.status_code < 400, response.content[:2000]
    row = QuoteAttachment.objects.get()
    assert row.content_type == ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    assert case.download is not None
    allowed, _refused_response = case.download(org, context, row)
    assert allowed["Content-Type"] == row.content_type
    assert allowed["Content-Disposition"] == 'attachment; filename="Price list.xlsx"'


# --- The checks themselves -------------------------------------------------------------------


def test_an_office_file_is_checked_as_the_package_its_name_says() -> None:
    def check(name: str, body: bytes) -> str:
        return office_document_check(
            SimpleUploadedFile(name, body), suffix=Path(name).suffix, field="file"
        )

    odt = _zip(
        {"mimetype": b"application/vnd.oasis.opendocument.text", "content.xml": b"<x/>"},
        compression=zipfile.ZIP_STORED,
    )
    with_macros = _zip(
        {
            "[Content_Types].xml": _zip_part(_real_xlsx(), "[Content_Types].xml"),
            "xl/vbaProject.bin": b"\x00" * 100,
        }
    )
    dense = _zip({"[Content_Types].xml": b"", "xl/a.xml": b"a" * (OFFICE_MAX_RATIO * 4096)})

    assert check("prices.xlsx", _real_xlsx()).endswith("spreadsheetml.sheet")
    assert check("letter.odt", odt) == "application/vnd.oasis.opendocument.text"
    for name, body, why in [
        ("letter.odt", _zip({"content.xml": b"<x/>"}), "its package does not declare one"),
        ("prices.xlsx", with_macros, "it holds macros"),
        ("prices.xlsx", dense, "packed 100 times or more"),
        ("prices.xlsx", b"PK\x03\x04 but cut short", "not a readable zip package"),
    ]:
        with pytest.raises(InvalidInput, match=why) as refused:
            check(name, body)
        assert list(refused.value.fields) == ["file"]


def _zip_part(package: bytes, name: str) -> bytes:
    with zipfile.ZipFile(io.BytesIO(package)) as opened:
        return opened.read(name)


def test_a_text_file_is_read_to_its_end_in_utf8_or_windows_1252() -> None:
    def check(body: bytes) -> str:
        return text_file_check(SimpleUploadedFile("a.csv", body), field="file", limit=10**6)

    assert check("Zahlung,Müller GmbH\n".encode()) == "utf-8"
    assert check("Payee,Caf\xe9 Ltd\n".encode("cp1252")) == "cp1252"
    with pytest.raises(InvalidInput, match="is empty"):
        check(b"")
    with pytest.raises(InvalidInput, match="web page or XML"):
        check(b"\xef\xbb\xbf  <?xml version='1.0'?><svg/>")


def test_a_download_name_cannot_split_the_header_or_hide_its_suffix() -> None:
    assert safe_download_name("offer\r\nSet-Cookie: x=1.pdf") == "offerSet-Cookie: x=1.pdf"
    assert safe_download_name("invoice\u202efdp.exe") == "invoicefdp.exe"
    assert safe_download_name("C:\\Users\\me\\offer.pdf") == "offer.pdf"
    assert safe_download_name("../../etc/passwd") == "passwd"
    assert safe_download_name("\x00\x01") == "download"
    long = safe_download_name("a" * 300 + ".pdf")
    assert len(long) == 150
    assert long.endswith(".pdf")


# --- Completeness: a new upload must join the table ------------------------------------------


def test_every_file_field_of_every_model_is_in_the_table() -> None:
    stored = {
        (model, model_field.name)
        for model in apps.get_models()
        for model_field in model._meta.get_fields()
        if isinstance(model_field, models.FileField)
    }

    assert {model for model, _field in stored} == {case.model for case in UPLOADS if case.model}
    # ...and none of them can be given a path by the uploader.
    for model, name in stored:
        file_field = model._meta.get_field(name)
        assert isinstance(file_field, models.FileField)
        generated = file_field.generate_filename(model(), "../../Quarterly offer.html")
        assert ".." not in generated, (model, generated)
        assert "Quarterly" not in generated, (model, generated)


def _upload_points() -> set[str]:
    """Every "file:Class" declaring a FileField in a form or serializer, and every module
    reading request.FILES, in the project's own code."""
    found: set[str] = set()
    # The project's apps sit at the top of the checkout (installed packages do not).
    own_apps = [
        Path(config.path)
        for config in apps.get_app_configs()
        if Path(config.path).parent == BASE_DIR
    ]
    for path in sorted(path for app in own_apps for path in app.rglob("*.py")):
        relative = path.relative_to(BASE_DIR)
        if "tests" in relative.parts or "migrations" in relative.parts:
            continue
        source = path.read_text()
        if "FileField" not in source and "FILES" not in source:
            continue
        tree = ast.parse(source)
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef) and not _is_model(node):
                for inner in ast.walk(node):
                    if _calls(inner, "FileField"):
                        found.add(f"{relative}:{node.name}")
            if isinstance(node, ast.Attribute) and node.attr == "FILES":
                found.add(str(relative))
    return found


def _is_model(node: ast.ClassDef) -> bool:
    return any(ast.unparse(base).endswith("Model") for base in node.bases)


def _calls(node: ast.AST, name: str) -> bool:
    if not isinstance(node, ast.Call):
        return False
    func = node.func
    called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
    return str(called).endswith(name)  # MultipleFileField too


def test_every_upload_form_serializer_and_view_is_in_the_table() -> None:
    declared = {point for case in UPLOADS for point in case.declared_in}

    assert _upload_points() == declared
