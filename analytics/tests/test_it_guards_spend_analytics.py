"""The security review of spend analytics: who gets into each page and API, that a manager
never reads another department's names or figures (filters, findings, reports), that every
change is a POST with a CSRF token, that uploads cannot pick where they are stored or
blow up the mapping page, that exports never hand a spreadsheet a formula, and that odd
query strings are a 400, never a server error."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import zipfile
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from analytics.models import ReportSubscription, SpendAnomaly, SpendImport
from analytics.services import (
    LineInput,
    spend_import_path,
    spend_lines_add,
    spend_source_get_or_create,
)
from analytics.tests.test_it_shows_spend_dashboards import add_sample_spend, text
from conftest import Org
from tests.factories import vendor_create

pytestmark = pytest.mark.django_db

D = Decimal
SMALL_CSV = b"Paid on,Net,Payee,Ref\r\n03/04/2024,100.00,Acme Ltd,A1\r\n"
SMALL_MAPPING = {"date": "Paid on", "amount": "Net", "supplier": "Payee", "reference": "Ref"}


@pytest.fixture
def spend(org: Org) -> None:
    add_sample_spend(org)
    # Initech is paid by Marketing only; a vendor record makes it a filter choice.
    initech = vendor_create(by=org.procurement, legal_name="Initech Incorporated")
    from analytics.models import Payee

    Payee.objects.filter(name__icontains="initech").update(vendor=initech)
    # One payment made twice, once by each department: a finding spanning both.
    spend_lines_add(
        source=spend_source_get_or_create(name="Ledger", currency="GBP"),
        lines=[
            LineInput(dt.date(2024, 2, 1), D("700.00"), "Dupe Co", reference="D1", department="IT"),
            LineInput(
                dt.date(2024, 2, 1), D("700.00"), "Dupe Co", reference="D2", department="Marketing"
            ),
        ],
    )


def media_files() -> list[Path]:
    return [path for path in Path(settings.MEDIA_ROOT).rglob("*") if path.is_file()]


# --- Who gets in: role x page ------------------------------------------------------------

DASHBOARDS = [
    "/analytics/",
    "/analytics/over-time/",
    "/analytics/categories/",
    "/analytics/vendors/",
    "/analytics/departments/",
    "/analytics/contract/",
    "/analytics/prices/",
    "/analytics/anomalies/",
    "/analytics/cycle-times/",
    "/analytics/reports/",
]
IMPORTER_PAGES = [
    "/analytics/imports/",
    "/analytics/imports/new/",
    "/analytics/payees/",
    "/analytics/payees/vendors/?q=ac",
    "/analytics/payees/exchange-rates/",
]
SPEND_API = [
    "/api/analytics/spend/over-time/",
    "/api/analytics/spend/by-category/",
    "/api/analytics/spend/by-vendor/",
    "/api/analytics/spend/by-department/",
    "/api/analytics/spend/contract/",
]
IMPORT_API = ["/api/analytics/imports/"]

# Anonymous visitors: pages send them to log in (302), the API answers 403.
SEES_SPEND = {
    "requester": 403,
    "manager": 200,
    "head": 200,
    "procurement": 200,
    "finance": 200,
    "security": 403,
    "anonymous": 302,
}
IMPORTS = {**SEES_SPEND, "manager": 403, "head": 403}
MATRIX = [
    *((path, role, SEES_SPEND[role]) for path in DASHBOARDS for role in SEES_SPEND),
    *((path, role, IMPORTS[role]) for path in IMPORTER_PAGES for role in IMPORTS),
    *(
        (path, role, 403 if role == "anonymous" else SEES_SPEND[role])
        for path in SPEND_API
        for role in SEES_SPEND
    ),
    *(
        (path, role, 403 if role == "anonymous" else IMPORTS[role])
        for path in IMPORT_API
        for role in IMPORTS
    ),
]


def client_as(org: Org, role: str) -> Client:
    return Client() if role == "anonymous" else org.client_for(getattr(org, role))


@pytest.mark.parametrize(("path", "role", "status"), MATRIX)
def test_it_lets_each_role_into_the_analytics_pages_it_may_see(org, spend, path, role, status):
    response = client_as(org, role).get(path)

    assert response.status_code == status, (path, role)
    if status == 302:
        assert response["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize("role", ["requester", "manager", "head", "security", "anonymous"])
def test_it_keeps_an_imports_pages_from_those_who_do_not_import(org, role):
    source = spend_source_get_or_create(name="Small ledger")
    spend_import = SpendImport.objects.create(source=source, filename="a.csv", mapping={})
    client = client_as(org, role)

    for path in ("", "map/", "progress/"):
        response = client.get(f"/analytics/imports/{spend_import.pk}/{path}")
        assert response.status_code == (302 if role == "anonymous" else 403), path
    response = client.get(f"/api/analytics/imports/{spend_import.pk}/")
    assert response.status_code == 403


def test_it_answers_a_guessed_import_id_with_not_found(org):
    client = org.client_for(org.procurement)

    assert client.get("/analytics/imports/987654/").status_code == 404
    assert client.get("/api/analytics/imports/987654/").status_code == 404


# --- A manager's scope ---------------------------------------------------------------------


def test_it_names_no_other_departments_categories_or_vendors_in_the_findings_filters(org, spend):
    response = org.client_for(org.manager).get("/analytics/anomalies/")

    assert response.status_code == 200
    page = text(response)
    for name in ("Marketing", "Stationery", "Printing", "Initech Incorporated"):
        assert name not in page, name
    assert "ICT" in page  # IT's own category is offered


def test_it_totals_a_finding_over_the_managers_payments_only(org, spend):
    assert SpendAnomaly.objects.get(payee__name="Dupe Co").amount == D("1400.00")

    page = text(org.client_for(org.manager).get("/analytics/anomalies/"))

    assert "Dupe Co" in page
    assert "1 payment, 700.00 GBP" in page
    assert "1,400.00" not in page

    page = text(org.client_for(org.procurement).get("/analytics/anomalies/"))
    assert "2 payments, 1,400.00 GBP" in page


def test_it_offers_a_manager_only_their_categories_for_a_report(org, spend):
    client = org.client_for(org.manager)

    page = text(client.get("/analytics/reports/"))
    assert "ICT" in page
    assert "Stationery" not in page

    from analytics.models import SpendCategory

    stationery = SpendCategory.objects.get(name="Stationery").pk
    response = client.post(
        "/analytics/reports/new/", {"frequency": "monthly", "category": stationery}
    )
    assert response.status_code == 400
    assert not ReportSubscription.objects.exists()


def test_it_keeps_another_users_report_subscription_out_of_reach(org, spend):
    theirs = ReportSubscription.objects.create(user=org.procurement, frequency="monthly")
    client = org.client_for(org.manager)

    for action in ("pause", "resume", "delete"):
        assert client.post(f"/analytics/reports/{theirs.pk}/{action}/").status_code == 404

    theirs.refresh_from_db()
    assert theirs.is_active


def test_it_refuses_a_dismissal_from_a_manager_whether_or_not_the_finding_exists(org, spend):
    finding = SpendAnomaly.objects.get(payee__name="Dupe Co")
    client = org.client_for(org.manager)

    existing = client.post(f"/analytics/anomalies/{finding.pk}/dismiss/", {"reason": "fine"})
    missing = client.post("/analytics/anomalies/987654/dismiss/", {"reason": "fine"})

    assert existing.status_code == missing.status_code == 403
    finding.refresh_from_db()
    assert finding.dismissed_at is None


# --- Changes are POSTs with a CSRF token ------------------------------------------------------


def test_it_changes_nothing_on_get(org, spend):
    finding = SpendAnomaly.objects.get(payee__name="Dupe Co")
    subscription = ReportSubscription.objects.create(user=org.procurement, frequency="monthly")
    source = spend_source_get_or_create(name="Small ledger")
    spend_import = SpendImport.objects.create(source=source, filename="a.csv", mapping={})
    client = org.client_for(org.procurement)

    for path in (
        f"/analytics/anomalies/{finding.pk}/dismiss/?reason=x",
        f"/analytics/reports/{subscription.pk}/pause/",
        f"/analytics/reports/{subscription.pk}/delete/",
        "/analytics/reports/new/?frequency=weekly",
        f"/analytics/imports/{spend_import.pk}/delete/",
        f"/analytics/payees/{finding.payee_id}/unmap/",
        f"/analytics/payees/{finding.payee_id}/map/?vendor=1",
    ):
        assert client.get(path).status_code == 405, path

    finding.refresh_from_db()
    subscription.refresh_from_db()
    assert finding.dismissed_at is None
    assert subscription.is_active
    assert SpendImport.objects.filter(pk=spend_import.pk).exists()
    assert ReportSubscription.objects.count() == 1


def test_it_refuses_a_post_without_a_csrf_token(org, spend):
    finding = SpendAnomaly.objects.get(payee__name="Dupe Co")
    client = Client(enforce_csrf_checks=True)
    client.force_login(org.procurement)

    assert client.post("/analytics/reports/new/", {"frequency": "weekly"}).status_code == 403
    response = client.post(f"/analytics/anomalies/{finding.pk}/dismiss/", {"reason": "x"})
    assert response.status_code == 403
    response = client.post(
        "/api/analytics/imports/",
        {
            "source": "Small ledger",
            "file": SimpleUploadedFile("a.csv", SMALL_CSV),
            "mapping": json.dumps({"columns": SMALL_MAPPING}),
        },
    )
    assert response.status_code == 403

    assert not ReportSubscription.objects.exists()
    assert not SpendImport.objects.exclude(filename="platform").exists()
    finding.refresh_from_db()
    assert finding.dismissed_at is None


# --- Uploads ---------------------------------------------------------------------------------


def wide_csv(columns: int) -> bytes:
    header = ",".join(f"Column {n}" for n in range(columns))
    return f"{header}\r\n{','.join('1' for _ in range(columns))}\r\n".encode()


def test_it_refuses_a_file_with_more_columns_than_anyone_could_map_from_the_page(org):
    response = org.client_for(org.finance).post(
        "/analytics/imports/new/",
        {
            "new_source": "Wide",
            "currency": "GBP",
            "file": SimpleUploadedFile("wide.csv", wide_csv(5000), content_type="text/csv"),
        },
    )

    assert response.status_code == 400
    assert "More than 500 columns." in text(response)
    assert not SpendImport.objects.exists()
    assert media_files() == []


def test_it_refuses_a_column_name_of_a_hundred_thousand_characters(org):
    content = b"Date,Amount," + b"S" * 100_000 + b"\r\n01/01/2024,1.00,x\r\n"
    response = org.client_for(org.finance).post(
        "/api/analytics/imports/",
        {
            "source": "Long",
            "file": SimpleUploadedFile("long.csv", content, content_type="text/csv"),
            "mapping": json.dumps({"columns": {"date": "Date", "amount": "Amount"}}),
        },
    )

    assert response.status_code == 400
    assert "file" in response.json()["errors"]
    assert not SpendImport.objects.exists()
    assert media_files() == []


def test_it_refuses_a_wide_file_through_the_api(org):
    response = org.client_for(org.finance).post(
        "/api/analytics/imports/",
        {
            "source": "Wide",
            "file": SimpleUploadedFile("wide.csv", wide_csv(5000), content_type="text/csv"),
            "mapping": json.dumps({"columns": SMALL_MAPPING}),
        },
    )

    assert response.status_code == 400
    assert "file" in response.json()["errors"]
    assert not SpendImport.objects.exists()
    assert media_files() == []


@pytest.mark.parametrize(
    "name", ["../../../../tmp/evil.csv", "/etc/passwd", "..\\..\\evil.csv", "ok\x00.csv"]
)
def test_it_stores_an_upload_under_the_private_media_folder_whatever_its_name(
    org, name, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = org.client_for(org.finance).post(
            "/api/analytics/imports/",
            {
                "source": "Small ledger",
                "file": SimpleUploadedFile(name, SMALL_CSV, content_type="text/csv"),
                "mapping": json.dumps({"columns": SMALL_MAPPING}),
            },
        )

    assert response.status_code in (202, 400), response.content
    media = Path(settings.MEDIA_ROOT).resolve()
    for spend_import in SpendImport.objects.all():
        assert not Path(spend_import.file.name).is_absolute()
        assert spend_import.file.name.startswith("spend_imports/")
        path = spend_import_path(spend_import).resolve()
        assert path.is_relative_to(media)
    for path in media_files():
        assert path.resolve().is_relative_to(media)
    # Never served: the media folder has no URL.
    assert Client().get(settings.MEDIA_URL + "spend_imports/").status_code == 404


@pytest.mark.parametrize(
    "content",
    [
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
        b"PK\x03\x04" + b"\x00" * 100,
        b"",
        b"\xff\xfe\x00\x00" * 100,
    ],
)
def test_it_refuses_a_file_that_is_not_text(org, content):
    response = org.client_for(org.finance).post(
        "/analytics/imports/new/",
        {
            "new_source": "Binary",
            "currency": "GBP",
            "file": SimpleUploadedFile("spend.csv", content, content_type="text/csv"),
        },
    )

    assert response.status_code == 400
    assert not SpendImport.objects.exists()
    assert media_files() == []


@pytest.mark.parametrize(
    "content",
    [
        b"Paid on,Net,Payee,Ref\r\n",  # the header only
        b"Paid on,Net,Payee,Ref\r\n" + b'"' * 5000 + b"\r\n",  # nested quotes, never closed
        b"Paid on,Net,Payee,Ref\r\n" + b"03/04/2024," + b"9" * 200_000 + b",Acme,A1\r\n",
        b"Paid on,Net,Payee,Ref\r\n" + b",".join([b"x"] * 200_000) + b"\r\n",
    ],
    ids=["header-only", "nested-quotes", "long-field", "many-cells"],
)
def test_it_ends_a_pathological_file_with_a_report_not_a_crash(
    org, content, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = org.client_for(org.finance).post(
            "/api/analytics/imports/",
            {
                "source": "Odd",
                "file": SimpleUploadedFile("odd.csv", content, content_type="text/csv"),
                "mapping": json.dumps({"columns": SMALL_MAPPING}),
            },
        )

    # Refused at once when the mapping is checked against the first rows, or queued and
    # then reported: either way an answer, and nothing in the ledger.
    assert response.status_code in (202, 400), response.content
    if response.status_code == 400:
        assert "file" in response.json()["errors"]
        assert not SpendImport.objects.exists()
        return
    spend_import = SpendImport.objects.get()
    assert spend_import.state in ("done", "failed")
    assert spend_import.rows_imported == 0
    detail = org.client_for(org.finance).get(f"/analytics/imports/{spend_import.pk}/")
    assert detail.status_code == 200


# --- Exports ---------------------------------------------------------------------------------

FORMULAS = ['=HYPERLINK("http://evil.example","x")', " =1+1", "+SUM(A1)", "@cmd", "\uff0d1+1"]


@pytest.fixture
def formula_spend(org: Org) -> None:
    spend_lines_add(
        source=spend_source_get_or_create(name="Ledger", currency="GBP"),
        lines=[
            LineInput(
                dt.date(2024, 1, 1 + n),
                D("100.00"),
                formula,
                reference=f"F{n}",
                category=formula,
                department="IT",
            )
            for n, formula in enumerate(FORMULAS)
        ],
    )


def test_it_neutralises_formulas_in_csv_headers_and_cells(org, formula_spend):
    client = org.client_for(org.procurement)

    for path in (
        "/analytics/over-time/?split=category&format=csv",
        "/analytics/categories/?format=csv",
    ):
        rows = list(csv.reader(io.StringIO(client.get(path).content.decode())))
        cells = [cell for row in rows for cell in row]
        for formula in FORMULAS:
            assert formula not in cells, (path, formula)
            assert "'" + formula in cells, (path, formula)


def test_it_writes_no_formula_into_a_workbook(org, formula_spend):
    client = org.client_for(org.procurement)

    for path in (
        "/analytics/over-time/?split=category&format=xlsx",
        "/analytics/vendors/?format=xlsx",
        "/analytics/anomalies/?export=xlsx",
    ):
        response = client.get(path)
        assert response.status_code == 200, path
        with zipfile.ZipFile(io.BytesIO(response.content)) as book:
            xml = "".join(
                book.read(name).decode() for name in book.namelist() if name.endswith(".xml")
            )
        assert "<f>" not in xml, path
        assert "<f " not in xml, path
        assert "<hyperlink" not in xml, path


# --- Odd query strings are a 400, never a 500 -------------------------------------------------

ODD_QUERIES = [
    "department=%C2%B2",  # "²": a digit to str.isdigit(), not to int()
    "payee=%C2%B2",
    "department=99999999999999999999999999",
    "payee=99999999999999999999999999",
    "vendor=%D9%A3",  # an Arabic-Indic three
    "from=0001-01&to=0001-01",
    "to=9999-12",
    "department=" + ",".join(str(n) for n in range(1, 500)),
]


_ODD_FILTER_PATHS = [
    "/analytics/over-time/",
    "/analytics/prices/",
    "/analytics/anomalies/",
    "/analytics/cycle-times/",
    "/api/analytics/spend/by-category/",
    "/api/analytics/spend/by-vendor/",
]


@pytest.mark.parametrize(
    ("path", "query"),
    [
        (path, query)
        for path in _ODD_FILTER_PATHS
        for query in ODD_QUERIES
        # Cycle times filter by period and department only: no payee or vendor parameter.
        if not (path == "/analytics/cycle-times/" and query.startswith(("payee", "vendor")))
    ],
)
def test_it_answers_an_odd_filter_with_bad_request(org, spend, path, query):
    response = org.client_for(org.procurement).get(f"{path}?{query}")

    assert response.status_code == 400, (path, query)


def test_it_ignores_an_odd_import_id_on_the_payees_page(org, spend):
    client = org.client_for(org.procurement)

    for value in ("%C2%B2", "99999999999999999999999999"):
        assert client.get(f"/analytics/payees/?import={value}").status_code == 200
