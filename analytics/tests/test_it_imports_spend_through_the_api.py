"""Importing a spend file through the API: one multipart POST (source, currency, file,
mapping) answers 202, then the import's URL tells its state, counts and problems. A bad
mapping or file is a 400 naming the field and leaves nothing behind; only procurement,
finance and admins may import."""

from __future__ import annotations

import csv
import json
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db.models import Sum
from django.test import Client
from django.urls import reverse

from analytics.models import ImportState, SpendImport, SpendLine, SpendSource
from analytics.tests.datasets import CARD_FILE, DATASETS
from conftest import Org

needs_datasets = pytest.mark.skipif(
    not DATASETS.is_dir(), reason=f"the shared spend files are not here ({DATASETS})"
)
HOME_OFFICE_MAPPING = {
    "columns": {"date": "Date", "amount": "Amount", "supplier": "Supplier"},
    "day_first": False,
}
SMALL_CSV = (
    b"Paid on,Net,Payee,Ref\r\n"
    b"03/04/2024,100.00,Acme Ltd,A1\r\n"
    b"31/02/2024,50.00,Acme Ltd,A2\r\n"
    b"05/04/2024,lots,Beta plc,A3\r\n"
    b"06/04/2024,-20.00,Beta plc,A4\r\n"
)
SMALL_MAPPING = {
    "columns": {"date": "Paid on", "amount": "Net", "supplier": "Payee", "reference": "Ref"},
    "day_first": True,
}
LIST_URL = "/api/analytics/imports/"


def ledger_total() -> Decimal:
    # SQLite sums decimals as floats: round back to cents.
    total = SpendLine.objects.aggregate(total=Sum("base_amount"))["total"]
    return Decimal(total).quantize(Decimal("0.01"))


def post_import(
    client: Client,
    *,
    content: bytes = SMALL_CSV,
    name: str = "payments.csv",
    mapping: object = SMALL_MAPPING,
    source: str = "Small ledger",
    currency: str = "GBP",
    capture=None,
):
    data = {
        "source": source,
        "currency": currency,
        "file": SimpleUploadedFile(name, content, content_type="text/csv"),
        "mapping": mapping if isinstance(mapping, str) else json.dumps(mapping),
    }
    if capture is None:
        return client.post(LIST_URL, data)
    with capture(execute=True):
        return client.post(LIST_URL, data)


def media_files() -> list[Path]:
    return [path for path in Path(settings.MEDIA_ROOT).rglob("*") if path.is_file()]


@needs_datasets
def test_it_imports_a_real_file_and_reports_it(
    org: Org, django_capture_on_commit_callbacks
) -> None:
    client = org.client_for(org.finance)
    response = post_import(
        client,
        content=CARD_FILE.read_bytes(),
        name=CARD_FILE.name,
        mapping=HOME_OFFICE_MAPPING,
        source="Home Office cards",
        capture=django_capture_on_commit_callbacks,
    )
    assert response.status_code == 202, response.json()
    body = response.json()
    spend_import = SpendImport.objects.get()
    assert body["id"] == spend_import.pk
    assert body["url"].endswith(reverse("spend-imports-api:detail", args=[spend_import.pk]))
    assert response["Location"] == body["url"]

    with CARD_FILE.open(newline="") as handle:
        rows = [
            row for row in csv.DictReader(handle) if any((v or "").strip() for v in row.values())
        ]
    total = sum((Decimal(row["Amount"]) for row in rows), Decimal(0))

    detail = client.get(body["url"]).json()
    assert detail["state"] == ImportState.DONE
    assert detail["progress_percent"] == 100
    assert detail["rows_read"] == len(rows)
    assert detail["rows_imported"] == len(rows)
    assert detail["rows_bad"] == 0
    assert Decimal(detail["total_base_amount"]) == total
    assert detail["mapping"]["columns"]["supplier"] == "Supplier"
    assert detail["problems"] == []
    assert ledger_total() == total

    listing = client.get(LIST_URL).json()
    assert listing["count"] == 1
    assert listing["results"][0]["filename"] == "2020.csv"

    # The same file again adds nothing.
    response = post_import(
        client,
        content=CARD_FILE.read_bytes(),
        name=CARD_FILE.name,
        mapping=HOME_OFFICE_MAPPING,
        source="Home Office cards",
        capture=django_capture_on_commit_callbacks,
    )
    again = client.get(response.json()["url"]).json()
    assert again["rows_imported"] == 0
    assert again["rows_already_imported"] == len(rows)
    assert SpendLine.objects.count() == len(rows)


def test_it_lists_the_problems_with_their_line_numbers(
    org: Org, django_capture_on_commit_callbacks
) -> None:
    client = org.client_for(org.procurement)
    body = post_import(client, capture=django_capture_on_commit_callbacks).json()
    detail = client.get(body["url"]).json()
    assert (detail["rows_imported"], detail["rows_bad"]) == (2, 2)
    assert Decimal(detail["total_base_amount"]) == Decimal("80.00")
    assert [problem["line_number"] for problem in detail["problems"]] == [3, 4]
    assert all(problem["message"] for problem in detail["problems"])


def test_it_refuses_a_bad_mapping_and_leaves_nothing_behind(org: Org) -> None:
    client = org.client_for(org.procurement)
    cases = [
        ({"columns": {"date": "Paid on", "amount": "Net"}}, "mapping.supplier"),
        (
            {"columns": {"date": "Paid on", "amount": "Net", "supplier": "Net"}},
            "mapping.supplier",
        ),
        (
            {"columns": {"date": "Paid on", "amount": "Net", "supplier": "Who"}},
            "mapping.supplier",
        ),
        ("{not json", "mapping"),
        (["a list"], "mapping"),
    ]
    for mapping, field in cases:
        response = post_import(client, mapping=mapping)
        assert response.status_code == 400, mapping
        assert field in response.json()["errors"], (mapping, response.json())
    assert not SpendImport.objects.exists()
    assert not SpendSource.objects.exists()
    assert media_files() == []


def test_it_refuses_a_file_that_is_not_csv_or_too_large(org: Org, settings) -> None:
    client = org.client_for(org.procurement)
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01"
    response = post_import(client, content=png, name="spend.csv")
    assert response.status_code == 400
    assert "file" in response.json()["errors"]

    settings.SPEND_IMPORT_MAX_BYTES = 50
    response = post_import(client)
    assert response.status_code == 400
    assert response.json()["errors"]["file"] == ["Larger than 50 bytes."]
    assert not SpendImport.objects.exists()
    assert media_files() == []


def test_it_requires_the_file_source_and_mapping(org: Org) -> None:
    response = org.client_for(org.procurement).post(LIST_URL, {})
    assert response.status_code == 400
    assert {"source", "file", "mapping"} <= set(response.json()["errors"])


def test_it_refuses_people_who_may_not_import_spend(org: Org) -> None:
    importer = org.client_for(org.procurement)
    with_import = post_import(importer).json()  # confirmed but not run: no on-commit here
    for user in (org.requester, org.manager):
        client = org.client_for(user)
        assert client.get(LIST_URL).status_code == 403
        assert client.get(with_import["url"]).status_code == 403
        assert post_import(client, source="Mine").status_code == 403
    assert not SpendSource.objects.filter(name="Mine").exists()
    assert Client().get(LIST_URL).status_code in (401, 403)


def test_it_answers_404_for_an_unknown_import(org: Org) -> None:
    response = org.client_for(org.procurement).get(
        reverse("spend-imports-api:detail", args=[999999])
    )
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
