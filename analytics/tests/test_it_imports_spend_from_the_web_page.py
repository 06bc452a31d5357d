"""Importing a spend file from the web page: upload, map the columns, preview, import, and
read the report; the same file twice counts once; bad mappings and bad files are refused
with the reason next to the field; only procurement, finance and admins get in."""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db.models import Sum
from django.test import Client
from django.urls import reverse

from analytics.models import ImportState, SpendImport, SpendLine, SpendSource
from analytics.tests.datasets import CARD_FILE, DATASETS
from conftest import Org

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse as TestResponse

LEEDS = DATASETS / "leeds-council-spend-over-500" / "2011-09.csv"
needs_datasets = pytest.mark.skipif(
    not DATASETS.is_dir(), reason=f"the shared spend files are not here ({DATASETS})"
)

LEEDS_MAPPING = {
    "date": "Date paid",
    "amount": "Net amount",
    "supplier": "Supplier name",
    "reference": "Transaction number",
    "category": "Expenditure category",
    "department": "Service label",
    "description": "Detailed expenditure type",
    "currency": "",
    "quantity": "",
    "day_first": "on",
}
HOME_OFFICE_MAPPING = {"date": "Date", "amount": "Amount", "supplier": "Supplier"}
SMALL_CSV = (
    b"Paid on,Net,Payee,Ref\r\n"
    b"03/04/2024,100.00,Acme Ltd,A1\r\n"
    b"not a date,50.00,Acme Ltd,A2\r\n"
    b"05/04/2024,lots,Beta plc,A3\r\n"
    b",,,\r\n"
    b"06/04/2024,-20.00,Beta plc,A4\r\n"
)
SMALL_MAPPING = {"date": "Paid on", "amount": "Net", "supplier": "Payee", "reference": "Ref"}
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"


def ledger_total() -> Decimal:
    # SQLite sums decimals as floats: round back to cents.
    total = SpendLine.objects.aggregate(total=Sum("base_amount"))["total"]
    return Decimal(total).quantize(Decimal("0.01"))


def independent_count(path: Path, *, amount: str) -> tuple[int, int, Decimal]:
    """Data rows, blank rows and the total of `amount`, read with nothing but the csv module."""
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        rows = blank = 0
        total = Decimal(0)
        for row in reader:
            values = [value for value in row.values() if isinstance(value, str)]
            if not any(value.strip() for value in values):
                blank += 1
                continue
            rows += 1
            total += Decimal(row[amount].replace(",", ""))
    return rows, blank, total


def upload(client: Client, path: Path | None = None, **data: object) -> TestResponse:
    if path is not None:
        data["file"] = SimpleUploadedFile(path.name, path.read_bytes(), content_type="text/csv")
    data.setdefault("source", "")
    data.setdefault("currency", "GBP")
    return client.post(reverse("spend_imports:new"), data)


def uploaded_import(response: TestResponse) -> SpendImport:
    assert response.status_code == 302, response.content[:2000]
    spend_import = SpendImport.objects.latest("id")
    assert response["Location"] == reverse("spend_imports:map", args=[spend_import.pk])
    return spend_import


def confirm(client: Client, spend_import: SpendImport, mapping: dict, capture) -> SpendImport:
    with capture(execute=True):
        response = client.post(
            reverse("spend_imports:map", args=[spend_import.pk]), {**mapping, "action": "import"}
        )
    assert response.status_code == 302, response.content[:3000]
    assert response["Location"] == reverse("spend_imports:detail", args=[spend_import.pk])
    return SpendImport.objects.get(pk=spend_import.pk)


def small_import(client: Client) -> SpendImport:
    file = SimpleUploadedFile("payments.csv", SMALL_CSV, content_type="text/csv")
    return uploaded_import(upload(client, new_source="Small ledger", file=file))


@needs_datasets
def test_it_imports_a_leeds_file_through_upload_map_preview_and_import(
    org: Org, django_capture_on_commit_callbacks
) -> None:
    client = org.client_for(org.procurement)
    assert client.get(reverse("spend_imports:new")).status_code == 200

    spend_import = uploaded_import(upload(client, LEEDS, new_source="Leeds City Council"))
    assert spend_import.state == ImportState.QUEUED
    assert spend_import.started_at is None
    assert SpendLine.objects.count() == 0  # nothing before the columns are checked

    # The mapping step offers the file's headers, with a guess already made.
    page = client.get(reverse("spend_imports:map", args=[spend_import.pk])).content.decode()
    assert '<option value="Date paid" selected>Date paid</option>' in page
    assert '<option value="Supplier name" selected>Supplier name</option>' in page
    assert '<option value="Body name">Body name</option>' in page

    preview = client.post(
        reverse("spend_imports:map", args=[spend_import.pk]), {**LEEDS_MAPPING, "action": "preview"}
    )
    assert preview.status_code == 200
    text = preview.content.decode()
    # The first row as it will be imported: the UK date read day first, "2,142.73" as a number.
    assert "2011-09-27" in text
    assert "2142.73" in text
    assert "A &amp; A Electrical Distributors Ltd" in text
    assert text.count('<td class="num">') == 20  # twenty rows previewed, blank rows skipped
    assert SpendLine.objects.count() == 0  # a preview imports nothing

    spend_import = confirm(client, spend_import, LEEDS_MAPPING, django_capture_on_commit_callbacks)

    rows, blank, total = independent_count(LEEDS, amount="Net amount")
    assert spend_import.state == ImportState.DONE
    assert spend_import.rows_read == rows
    assert spend_import.rows_imported == rows
    assert spend_import.rows_already_imported == 0
    assert spend_import.rows_bad == 0
    assert spend_import.rows_blank == blank
    assert spend_import.total_base_amount == total
    assert SpendLine.objects.count() == rows
    assert ledger_total() == total

    report = client.get(reverse("spend_imports:detail", args=[spend_import.pk])).content.decode()
    assert f'data-count="imported">{rows}<' in report
    assert f'data-count="blank">{blank}<' in report
    assert "Every row with data was imported." in report
    assert "hx-trigger" not in report  # no polling once it is done
    assert "New supplier names to review" in report

    listing = client.get(reverse("spend_imports:list")).content.decode()
    assert "2011-09.csv" in listing
    assert "Leeds City Council" in listing
    # The source keeps the mapping for next time.
    assert (
        SpendSource.objects.get(name="Leeds City Council").mapping["columns"]["date"] == "Date paid"
    )


@needs_datasets
def test_it_imports_nothing_new_when_the_same_file_comes_again(
    org: Org, django_capture_on_commit_callbacks
) -> None:
    client = org.client_for(org.finance)
    first = uploaded_import(upload(client, CARD_FILE, new_source="Home Office cards"))
    first = confirm(client, first, HOME_OFFICE_MAPPING, django_capture_on_commit_callbacks)
    rows, _, total = independent_count(CARD_FILE, amount="Amount")
    assert (first.rows_imported, first.total_base_amount) == (rows, total)

    source = SpendSource.objects.get(name="Home Office cards")
    again = uploaded_import(upload(client, CARD_FILE, source=source.pk))
    # The source's saved mapping is offered again.
    page = client.get(reverse("spend_imports:map", args=[again.pk])).content.decode()
    assert '<option value="Supplier" selected>Supplier</option>' in page
    again = confirm(client, again, HOME_OFFICE_MAPPING, django_capture_on_commit_callbacks)

    assert again.state == ImportState.DONE
    assert again.rows_imported == 0
    assert again.rows_already_imported == rows
    assert SpendLine.objects.count() == rows
    assert ledger_total() == total
    report = client.get(reverse("spend_imports:detail", args=[again.pk])).content.decode()
    assert 'data-count="imported">0<' in report
    assert f'data-count="already-imported">{rows}<' in report


def test_it_shows_a_bad_mapping_as_errors_next_to_the_fields(org: Org) -> None:
    client = org.client_for(org.procurement)
    spend_import = small_import(client)
    url = reverse("spend_imports:map", args=[spend_import.pk])

    missing = client.post(url, {"date": "Paid on", "amount": "Net", "action": "preview"})
    assert missing.status_code == 400
    assert "Choose the column that holds the supplier." in missing.content.decode()

    twice = client.post(
        url, {"date": "Paid on", "amount": "Net", "supplier": "Net", "action": "import"}
    )
    assert twice.status_code == 400
    assert "already used for amount" in twice.content.decode()

    unknown = client.post(url, {**SMALL_MAPPING, "category": "Cost centre", "action": "import"})
    assert unknown.status_code == 400
    assert "The file has no column Cost centre." in unknown.content.decode()

    spend_import = SpendImport.objects.get(pk=spend_import.pk)
    assert spend_import.started_at is None
    assert SpendLine.objects.count() == 0


def test_it_previews_bad_rows_with_their_reasons_and_reports_them_after_the_import(
    org: Org, django_capture_on_commit_callbacks
) -> None:
    client = org.client_for(org.procurement)
    spend_import = small_import(client)
    preview = client.post(
        reverse("spend_imports:map", args=[spend_import.pk]),
        {**SMALL_MAPPING, "day_first": "on", "action": "preview"},
    ).content.decode()
    assert "2024-04-03" in preview
    assert "-20.00" in preview
    assert preview.count('class="preview-bad"') == 2

    spend_import = confirm(
        client,
        spend_import,
        {**SMALL_MAPPING, "day_first": "on"},
        django_capture_on_commit_callbacks,
    )
    assert (spend_import.rows_imported, spend_import.rows_bad, spend_import.rows_blank) == (2, 2, 1)
    assert spend_import.total_base_amount == Decimal("80.00")
    report = client.get(reverse("spend_imports:detail", args=[spend_import.pk])).content.decode()
    assert '<td class="num">3</td>' in report
    assert '<td class="num">4</td>' in report
    # The names to review are this import's new suppliers.
    assert "Acme Ltd" in report
    assert "Beta plc" in report


def test_it_keeps_out_people_who_may_not_import_spend(org: Org) -> None:
    spend_import = small_import(org.client_for(org.procurement))
    urls = [
        reverse("spend_imports:list"),
        reverse("spend_imports:new"),
        reverse("spend_imports:map", args=[spend_import.pk]),
        reverse("spend_imports:detail", args=[spend_import.pk]),
        reverse("spend_imports:progress", args=[spend_import.pk]),
    ]
    for user in (org.requester, org.manager):
        client = org.client_for(user)
        for url in urls:
            assert client.get(url).status_code == 403, (user, url)
        assert (
            client.post(reverse("spend_imports:delete", args=[spend_import.pk])).status_code == 403
        )
        file = SimpleUploadedFile("payments.csv", SMALL_CSV, content_type="text/csv")
        assert upload(client, new_source="Mine", file=file).status_code == 403
    assert SpendImport.objects.count() == 1


def test_it_refuses_a_file_larger_than_the_limit(org: Org, settings) -> None:
    settings.SPEND_IMPORT_MAX_BYTES = 100
    client = org.client_for(org.procurement)
    file = SimpleUploadedFile("payments.csv", SMALL_CSV, content_type="text/csv")
    response = upload(client, new_source="Small ledger", file=file)
    assert response.status_code == 400
    assert "Larger than 100 bytes." in response.content.decode()
    assert SpendImport.objects.count() == 0


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("spend.csv", PNG),  # an image renamed .csv
        ("spend.xlsx", b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00" + b"\x00" * 64),
    ],
)
def test_it_refuses_a_file_that_is_not_csv_text(org: Org, name: str, content: bytes) -> None:
    client = org.client_for(org.procurement)
    file = SimpleUploadedFile(name, content, content_type="text/csv")
    response = upload(client, new_source="Small ledger", file=file)
    assert response.status_code == 400
    assert "Upload a CSV (comma-separated) text file." in response.content.decode()
    assert SpendImport.objects.count() == 0
    assert not SpendSource.objects.filter(name="Small ledger").exists()


def test_it_asks_for_a_source(org: Org) -> None:
    file = SimpleUploadedFile("payments.csv", SMALL_CSV, content_type="text/csv")
    response = upload(org.client_for(org.procurement), file=file)
    assert response.status_code == 400
    assert "Choose a source above, or name a new one." in response.content.decode()


def test_it_shows_a_progress_bar_that_polls_until_the_import_is_done(
    org: Org, django_capture_on_commit_callbacks
) -> None:
    client = org.client_for(org.procurement)
    spend_import = small_import(client)
    # Confirmed, but the task has not run yet (its on-commit callback is held back).
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        client.post(
            reverse("spend_imports:map", args=[spend_import.pk]),
            {**SMALL_MAPPING, "action": "import"},
        )
    detail = client.get(reverse("spend_imports:detail", args=[spend_import.pk])).content.decode()
    progress_url = reverse("spend_imports:progress", args=[spend_import.pk])
    assert "<progress" in detail
    assert f'hx-get="{progress_url}" hx-trigger="every 1s"' in detail
    assert "Delete this import" not in detail  # not while it is queued

    fragment = client.get(progress_url, headers={"HX-Request": "true"})
    assert "every 1s" in fragment.content.decode()
    assert "HX-Refresh" not in fragment

    for callback in callbacks:
        callback()
    fragment = client.get(progress_url, headers={"HX-Request": "true"})
    assert fragment["HX-Refresh"] == "true"  # the page reloads and shows the report
    assert "every 1s" not in fragment.content.decode()
    assert 'value="100"' in fragment.content.decode()


def test_it_deletes_an_import_with_its_lines(org: Org, django_capture_on_commit_callbacks) -> None:
    client = org.client_for(org.procurement)
    spend_import = confirm(
        client, small_import(client), SMALL_MAPPING, django_capture_on_commit_callbacks
    )
    assert SpendLine.objects.count() == 2
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("spend_imports:delete", args=[spend_import.pk]))
    assert response.status_code == 302
    assert response["Location"] == reverse("spend_imports:list")
    assert not SpendImport.objects.filter(pk=spend_import.pk).exists()
    assert SpendLine.objects.count() == 0
    assert client.get(reverse("spend_imports:detail", args=[spend_import.pk])).status_code == 404


def test_it_sends_an_import_already_started_from_the_mapping_page_to_its_report(
    org: Org, django_capture_on_commit_callbacks
) -> None:
    client = org.client_for(org.procurement)
    spend_import = confirm(
        client, small_import(client), SMALL_MAPPING, django_capture_on_commit_callbacks
    )
    response = client.post(
        reverse("spend_imports:map", args=[spend_import.pk]), {**SMALL_MAPPING, "action": "import"}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("spend_imports:detail", args=[spend_import.pk])
    assert SpendLine.objects.count() == 2
