"""Exchange rates loaded from a CSV file, used to convert spend to the base currency."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from io import StringIO
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse

from analytics.fx import RateTable, exchange_rates_import
from conftest import Org
from procurement.errors import InvalidInput
from procurement.models import ExchangeRate
from procurement.money import MissingExchangeRate

pytestmark = pytest.mark.django_db

GOOD = "currency,date,rate\nEUR,2024-01-01,0.86\nEUR,01/02/2024,0.85500000\nUSD,2024-01-01,0.79\n"


def _rates() -> list[tuple[str, dt.date, Decimal]]:
    return list(
        ExchangeRate.objects.order_by("currency", "valid_from").values_list(
            "currency", "valid_from", "rate"
        )
    )


def test_it_imports_rates_with_iso_and_uk_dates(tmp_path: Path) -> None:
    path = tmp_path / "rates.csv"
    path.write_text(GOOD)
    counts = exchange_rates_import(path)
    assert (counts.created, counts.updated, counts.unchanged) == (3, 0, 0)
    assert _rates() == [
        ("EUR", dt.date(2024, 1, 1), Decimal("0.86")),
        ("EUR", dt.date(2024, 2, 1), Decimal("0.855")),
        ("USD", dt.date(2024, 1, 1), Decimal("0.79")),
    ]


def test_it_replaces_the_rate_of_the_same_currency_and_day_on_a_second_import() -> None:
    exchange_rates_import(StringIO(GOOD))
    counts = exchange_rates_import(
        StringIO("Currency,Date,Rate\nEUR,2024-01-01,0.87\nUSD,2024-01-01,0.79\n")
    )
    assert (counts.created, counts.updated, counts.unchanged) == (0, 1, 1)
    assert ExchangeRate.objects.get(currency="EUR", valid_from="2024-01-01").rate == Decimal("0.87")
    assert ExchangeRate.objects.count() == 3


def test_it_writes_nothing_and_names_every_bad_line() -> None:
    exchange_rates_import(StringIO("currency,date,rate\nEUR,2024-01-01,0.86\n"))
    bad = (
        "currency,date,rate\n"
        "EUR,2024-03-01,0.84\n"  # good, but must not be written either
        "XYZ,2024-03-01,1.2\n"
        "USD,31/02/2024,0.8\n"
        "USD,2024-03-01,-1\n"
        "GBP,2024-03-01,1\n"
        "EUR,2024-03-01,0.9\n"
    )
    with pytest.raises(InvalidInput) as raised:
        exchange_rates_import(StringIO(bad))
    problems = raised.value.fields["file"]
    assert [p.split(":")[0] for p in problems] == ["line 3", "line 4", "line 5", "line 6", "line 7"]
    assert "not an ISO currency code" in problems[0]
    assert "not a date" in problems[1]
    assert "not a positive rate" in problems[2]
    assert "base currency" in problems[3]
    assert "already has rate 0.84 on line 2" in problems[4]
    assert _rates() == [("EUR", dt.date(2024, 1, 1), Decimal("0.86"))]


def test_it_refuses_a_file_without_its_header() -> None:
    with pytest.raises(InvalidInput) as raised:
        exchange_rates_import(StringIO("EUR,2024-01-01,0.86\n"))
    assert raised.value.fields["file"][0].startswith("line 1:")
    assert ExchangeRate.objects.count() == 0


def test_it_converts_with_the_latest_rate_valid_on_the_day() -> None:
    exchange_rates_import(StringIO(GOOD))
    table = RateTable()
    assert table.to_base(Decimal("100.00"), "EUR", dt.date(2024, 1, 31)) == Decimal("86.00")
    assert table.to_base(Decimal("100.00"), "EUR", dt.date(2024, 2, 1)) == Decimal("85.50")
    assert table.to_base(Decimal("10.01"), "EUR", dt.date(2030, 1, 1)) == Decimal("8.56")
    assert table.to_base(Decimal("-50.00"), "USD", dt.date(2024, 6, 1)) == Decimal("-39.50")
    assert table.to_base(Decimal("12.34"), "GBP", dt.date(2000, 1, 1)) == Decimal("12.34")
    with pytest.raises(MissingExchangeRate):
        table.to_base(Decimal("1"), "EUR", dt.date(2023, 12, 31))
    with pytest.raises(MissingExchangeRate):
        table.to_base(Decimal("1"), "JPY", dt.date(2024, 1, 1))


def test_the_command_imports_a_file_and_exits_non_zero_with_the_bad_lines(tmp_path: Path) -> None:
    good = tmp_path / "good.csv"
    good.write_text(GOOD)
    out = StringIO()
    call_command("import_exchange_rates", str(good), stdout=out)
    assert "3 new" in out.getvalue()

    bad = tmp_path / "bad.csv"
    bad.write_text("currency,date,rate\nEUR,2024-05-01,0.8\nEUR,someday,0.8\n")
    err = StringIO()
    with pytest.raises(CommandError, match="line 3"):
        call_command("import_exchange_rates", str(bad), stderr=err)
    assert "line 3: 'someday' is not a date" in err.getvalue()
    assert ExchangeRate.objects.count() == 3


def test_finance_uploads_rates_on_the_page_and_sees_them_listed(org: Org) -> None:
    client = org.client_for(org.finance)
    url = reverse("payees:exchange-rates")
    upload = SimpleUploadedFile("rates.csv", GOOD.encode(), content_type="text/csv")
    response = client.post(url, {"file": upload}, follow=True)
    assert response.status_code == 200
    assert "3 new" in response.content.decode()
    page = client.get(url).content.decode()
    assert "EUR" in page
    assert "0.85500000" in page
    assert "01 Feb 2024" in page


def test_the_page_shows_the_bad_lines_of_a_rejected_file(org: Org) -> None:
    client = org.client_for(org.procurement)
    upload = SimpleUploadedFile("rates.csv", b"currency,date,rate\nEUR,2024-13-01,0.8\n")
    response = client.post(reverse("payees:exchange-rates"), {"file": upload})
    assert response.status_code == 400
    assert "line 2: &#x27;2024-13-01&#x27; is not a date" in response.content.decode()
    assert ExchangeRate.objects.count() == 0


def test_only_finance_procurement_and_admins_may_see_or_load_rates(org: Org) -> None:
    url = reverse("payees:exchange-rates")
    assert org.client_for(org.manager).get(url).status_code == 403
    upload = SimpleUploadedFile("rates.csv", GOOD.encode())
    assert org.client_for(org.requester).post(url, {"file": upload}).status_code == 403
    assert ExchangeRate.objects.count() == 0
