"""Findings in the spend: likely duplicate payments, split purchases (with the real examples
of the Home Office card file) and spend with vendors that are not approved."""

from __future__ import annotations

import csv
import datetime as dt
import io
import zipfile
from collections import defaultdict
from decimal import Decimal

import pytest
from django.conf import settings
from django.urls import reverse

from analytics.anomalies import (
    SPLIT_MAX_PAYMENTS,
    anomalies_scan_lines,
    anomaly_dismiss,
    anomaly_summary,
    spend_with_unapproved_vendors,
)
from analytics.models import AnomalyKind, Payee, SpendAnomaly, SpendLine
from analytics.scope import SpendFilters, spend_filters_for
from analytics.services import (
    LineInput,
    spend_import_delete,
    spend_lines_add,
    spend_source_get_or_create,
)
from analytics.tests.datasets import CARD_FILE
from approvals.tests.helpers import policy
from procurement.errors import Conflict, InvalidInput, NotAllowed
from procurement.models import AuditEntry
from tests.factories import vendor_approved, vendor_create
from vendors.services import vendor_transition

pytestmark = pytest.mark.django_db

needs_card_file = pytest.mark.skipif(
    not CARD_FILE.exists(), reason=f"the shared real spend files are not here ({CARD_FILE})"
)


def card_lines() -> list[LineInput]:
    with CARD_FILE.open(newline="", encoding="utf-8") as f:
        return [
            LineInput(
                date=dt.date.fromisoformat(row["Date"]),
                amount=Decimal(row["Amount"]),
                supplier=row["Supplier"],
                # Identical rows are separate card payments: keep each one.
                identity=f"ho-2020:{number}",
            )
            for number, row in enumerate(csv.DictReader(f), start=2)
        ]


@pytest.fixture(params=["few", "many"])
def card(request, org, monkeypatch):
    # The scan reads a big import's lines whole rather than through the index: both ways
    # find the same (the card file is small, so "many" is made to start at one line).
    if request.param == "many":
        monkeypatch.setattr("analytics.anomalies._MANY_LINES", 1)
    source = spend_source_get_or_create(name="Home Office card", currency="GBP")
    spend_lines_add(source=source, lines=card_lines(), label="2020.csv")
    return source


def line(day: str, amount: str, supplier: str, **fields) -> LineInput:
    return LineInput(
        date=dt.date.fromisoformat(day), amount=Decimal(amount), supplier=supplier, **fields
    )


def add(*lines: LineInput, source: str = "Ledger"):
    return spend_lines_add(source=spend_source_get_or_create(name=source), lines=list(lines))


def findings(kind: str) -> list[tuple[str, list[tuple[dt.date, Decimal]]]]:
    """(payee, [(date, amount) of each line]) per finding, as the page lists them."""
    result = []
    for anomaly in SpendAnomaly.objects.filter(kind=kind).select_related("payee"):
        lines = sorted(anomaly.lines.values_list("date", "amount"))
        result.append((anomaly.payee.name, lines))
    return sorted(result)


def d(day: str) -> dt.date:
    return dt.date.fromisoformat(day)


# --- Split purchases ---------------------------------------------------------------------


@needs_card_file
def test_it_finds_the_real_split_purchases_of_the_home_office_card_file(card) -> None:
    splits = findings(AnomalyKind.SPLIT_PURCHASE)

    def of(payee: str) -> list[list[tuple[dt.date, Decimal]]]:
        return [lines for name, lines in splits if name.casefold().startswith(payee)]

    # Three payments of 4,312.80 on one day, each under the 5,000 threshold.
    assert [(d("2020-10-05"), Decimal("4312.80"))] * 3 in of("thomaskneale")
    # 4,266.60 and 4,999.00 three days apart.
    assert [(d("2020-09-25"), Decimal("4266.60")), (d("2020-09-28"), Decimal("4999.00"))] in of(
        "airquee"
    )
    # Two of 8,280.00 the same day, under 10,000 (7,416.00 four days later is not near it).
    assert [(d("2020-04-02"), Decimal("8280.00"))] * 2 in of("arden winch")
    # Two of 912.24 the same day, under 1,000.
    assert [(d("2020-08-24"), Decimal("912.24"))] * 2 in of("backcare")


@needs_card_file
def test_it_finds_exactly_the_splits_an_independent_count_finds(card) -> None:
    window = settings.SPEND_SPLIT_WINDOW_DAYS
    band = Decimal(settings.SPEND_SPLIT_BAND_PERCENT) / 100
    lines = list(SpendLine.objects.values_list("id", "payee_id", "date", "base_amount"))
    expected = []
    for threshold in settings.SPEND_SPLIT_THRESHOLDS:
        by_payee = defaultdict(list)
        for line_id, payee_id, date, amount in lines:
            if threshold * (1 - band) <= amount < threshold:
                by_payee[payee_id].append((date, line_id, amount))
        for candidates in by_payee.values():
            candidates.sort()
            # Runs of payments each within the window of the one before.
            run = [candidates[0]]
            for candidate in candidates[1:]:
                if (candidate[0] - run[-1][0]).days < window:
                    run.append(candidate)
                    continue
                if 2 <= len(run) <= SPLIT_MAX_PAYMENTS and sum(c[2] for c in run) >= threshold:
                    expected.append(sorted(c[1] for c in run))
                run = [candidate]
            if 2 <= len(run) <= SPLIT_MAX_PAYMENTS and sum(c[2] for c in run) >= threshold:
                expected.append(sorted(c[1] for c in run))

    found = [
        sorted(a.lines.values_list("id", flat=True))
        for a in SpendAnomaly.objects.filter(kind=AnomalyKind.SPLIT_PURCHASE)
    ]
    assert len(expected) >= 10
    assert sorted(found) == sorted(expected)


def test_it_uses_the_thresholds_of_the_active_approval_policy(org) -> None:
    policy(
        {
            "name": "Finance",
            "approver_kind": "role",
            "approver_role": "finance",
            "min_total": Decimal("3000"),
        }
    )
    add(
        line("2026-01-05", "2900.00", "Acme Widgets"),
        line("2026-01-07", "2750.00", "Acme Widgets"),
    )
    [(payee, lines)] = findings(AnomalyKind.SPLIT_PURCHASE)
    assert payee == "Acme Widgets"
    assert lines == [(d("2026-01-05"), Decimal("2900.00")), (d("2026-01-07"), Decimal("2750.00"))]
    assert "3,000" in SpendAnomaly.objects.get().detail


def test_it_does_not_call_payments_a_week_apart_or_far_under_the_threshold_a_split(org) -> None:
    add(
        line("2026-01-01", "950.00", "Acme Widgets"),
        line("2026-01-08", "960.00", "Acme Widgets"),  # 7 days later: outside the window
        line("2026-02-01", "950.00", "Acme Widgets"),
        line("2026-02-02", "600.00", "Acme Widgets"),  # far under 1,000
        line("2026-03-01", "950.00", "Acme Widgets"),
        line("2026-03-02", "940.00", "Other Supplier"),  # another payee
    )
    assert findings(AnomalyKind.SPLIT_PURCHASE) == []


def test_it_grows_a_split_when_a_later_import_adds_a_payment_to_it(org) -> None:
    add(line("2026-01-05", "900.00", "Acme Widgets"), line("2026-01-06", "950.00", "Acme Widgets"))
    add(line("2026-01-09", "990.00", "Acme Widgets"), source="Card")

    [(_, lines)] = findings(AnomalyKind.SPLIT_PURCHASE)
    assert [amount for _, amount in lines] == [
        Decimal("900.00"),
        Decimal("950.00"),
        Decimal("990.00"),
    ]
    anomaly = SpendAnomaly.objects.get()
    assert (anomaly.first_date, anomaly.last_date, anomaly.amount) == (
        d("2026-01-05"),
        d("2026-01-09"),
        Decimal("2840.00"),
    )


def test_it_does_not_call_a_long_run_of_payments_under_a_threshold_a_split(org) -> None:
    def every_other_day(month: str, count: int, supplier: str) -> list[LineInput]:
        return [line(f"2026-{month}-{1 + 2 * i:02d}", "950.00", supplier) for i in range(count)]

    # Eleven payments of 950 two days apart: a recurring payment, not one purchase split.
    add(*every_other_day("01", SPLIT_MAX_PAYMENTS + 1, "Weekly Cleaning"))
    assert findings(AnomalyKind.SPLIT_PURCHASE) == []

    # Nine, then a tenth in a later import: one finding that grows to ten payments.
    add(*every_other_day("03", SPLIT_MAX_PAYMENTS - 1, "Acme Widgets"))
    add(line(f"2026-03-{1 + 2 * (SPLIT_MAX_PAYMENTS - 1):02d}", "960.00", "Acme Widgets"))
    [(payee, lines)] = findings(AnomalyKind.SPLIT_PURCHASE)
    assert (payee, len(lines)) == ("Acme Widgets", SPLIT_MAX_PAYMENTS)

    # An eleventh makes it a recurring payment: the finding is left as it was.
    add(line(f"2026-03-{1 + 2 * SPLIT_MAX_PAYMENTS:02d}", "970.00", "Acme Widgets"))
    [(payee, lines)] = findings(AnomalyKind.SPLIT_PURCHASE)
    assert (payee, len(lines)) == ("Acme Widgets", SPLIT_MAX_PAYMENTS)


# --- Duplicates ------------------------------------------------------------------------


@needs_card_file
def test_it_finds_each_duplicate_of_the_card_file_once_and_a_rescan_adds_nothing(card) -> None:
    groups = defaultdict(list)
    for line_id, payee_id, date, amount in SpendLine.objects.values_list(
        "id", "payee_id", "date", "amount"
    ):
        groups[(payee_id, date, amount)].append(line_id)
    expected = sorted(sorted(ids) for ids in groups.values() if len(ids) >= 2)

    found = sorted(
        sorted(a.lines.values_list("id", flat=True))
        for a in SpendAnomaly.objects.filter(kind=AnomalyKind.DUPLICATE_PAYMENT)
    )
    assert len(expected) >= 10
    assert found == expected

    before = list(SpendAnomaly.objects.values_list("id", "kind", "key", "amount"))
    links = SpendAnomaly.lines.through.objects.count()
    assert anomalies_scan_lines(where="1 = 1", params=[]) == 0
    again = spend_lines_add(source=card, lines=card_lines(), label="2020.csv again")
    assert again.rows_imported == 0
    assert list(SpendAnomaly.objects.values_list("id", "kind", "key", "amount")) == before
    assert SpendAnomaly.lines.through.objects.count() == links


def test_it_finds_a_payment_recorded_in_two_sources_and_under_one_reference_twice(org) -> None:
    add(line("2026-02-03", "1250.00", "Acme Widgets", reference="INV-7"), source="Ledger")
    add(line("2026-02-03", "1250.00", "ACME WIDGETS", reference="C-99"), source="Card")
    # The same invoice paid again a week later.
    add(line("2026-02-10", "1250.00", "Acme Widgets", reference="INV-7"), source="Ledger 2")
    # Same day and payee but another amount, and a zero line twice: not duplicates.
    add(
        line("2026-02-03", "80.00", "Acme Widgets"),
        line("2026-02-04", "0.00", "Acme Widgets", reference="Z"),
        line("2026-02-04", "0.00", "Acme Widgets", reference="Z"),
    )

    assert findings(AnomalyKind.DUPLICATE_PAYMENT) == [
        ("Acme Widgets", [(d("2026-02-03"), Decimal("1250.00"))] * 2),
        (
            "Acme Widgets",
            [(d("2026-02-03"), Decimal("1250.00")), (d("2026-02-10"), Decimal("1250.00"))],
        ),
    ]
    details = sorted(SpendAnomaly.objects.values_list("detail", flat=True))
    assert details == [
        "1,250.00 GBP paid more than once on 03 Feb 2026",
        "1,250.00 GBP paid more than once under reference INV-7",
    ]


def test_it_forgets_a_finding_when_an_import_that_made_it_is_deleted(org) -> None:
    ledger = add(line("2026-02-03", "1250.00", "Acme Widgets"), source="Ledger")
    card = add(
        line("2026-02-03", "1250.00", "Acme Widgets"),
        line("2026-02-03", "1250.00", "Acme Widgets", identity="b"),
        source="Card",
    )
    other = add(line("2026-03-03", "700.00", "Acme Widgets"), source="Card 2")
    [anomaly] = SpendAnomaly.objects.all()
    assert anomaly.lines.count() == 3

    spend_import_delete(spend_import=ledger, user=org.procurement)
    anomaly.refresh_from_db()
    assert anomaly.lines.count() == 2
    assert anomaly.amount == Decimal("2500.00")

    # Two lines in one import: the finding goes with them.
    spend_import_delete(spend_import=card, user=org.procurement)
    assert not SpendAnomaly.objects.exists()
    assert other.lines.count() == 1


# --- Dismissing ------------------------------------------------------------------------


def test_it_keeps_a_dismissed_finding_dismissed_and_audited_until_a_new_payment_joins_it(
    org,
) -> None:
    add(line("2026-02-03", "1250.00", "Acme Widgets"), source="Ledger")
    add(line("2026-02-03", "1250.00", "Acme Widgets"), source="Card")
    anomaly = SpendAnomaly.objects.get()

    with pytest.raises(InvalidInput):
        anomaly_dismiss(anomaly=anomaly, user=org.finance, reason="  ")
    with pytest.raises(NotAllowed):
        anomaly_dismiss(anomaly=anomaly, user=org.manager, reason="Looks fine")
    anomaly_dismiss(anomaly=anomaly, user=org.finance, reason="Two orders, both delivered")
    with pytest.raises(Conflict, match="already dismissed"):
        anomaly_dismiss(anomaly=anomaly, user=org.procurement, reason="Fine")

    assert anomalies_scan_lines(where="1 = 1", params=[]) == 0
    add(line("2026-02-03", "1250.00", "Acme Widgets"), source="Ledger")  # a re-import
    anomaly.refresh_from_db()
    assert anomaly.dismissed_at is not None
    assert anomaly.dismissed_reason == "Two orders, both delivered"
    assert AuditEntry.objects.filter(
        object_id=anomaly.pk, action="anomaly_dismissed", actor=org.finance
    ).exists()

    add(line("2026-02-03", "1250.00", "Acme Widgets"), source="Invoices")  # a third payment
    anomaly.refresh_from_db()
    assert anomaly.dismissed_at is None
    assert anomaly.lines.count() == 3


# --- Vendors that are not approved -----------------------------------------------------


def test_it_lists_spend_with_blocked_unapproved_and_unknown_vendors(org) -> None:
    add(
        line("2026-01-10", "100.00", "Approved Co"),
        line("2026-01-11", "200.00", "Blocked Co"),
        line("2026-02-11", "300.00", "Blocked Co"),
        line("2026-01-12", "50.00", "Prospect Co"),
        line("2026-01-13", "75.00", "Nobody Known"),
        line("2026-01-14", "20.00", "REDACTED PERSONAL DATA"),
    )
    approved = vendor_approved(by=org.procurement, legal_name="Zeta Approved Holdings")
    blocked = vendor_create(by=org.procurement, legal_name="Zeta Blocked Holdings")
    vendor_transition(vendor_id=blocked.pk, by=org.procurement, action="block", reason="Fraud")
    prospect = vendor_create(by=org.procurement, legal_name="Zeta Prospect Holdings")
    for name, vendor in [
        ("Approved Co", approved),
        ("Blocked Co", blocked),
        ("Prospect Co", prospect),
    ]:
        Payee.objects.filter(name=name).update(vendor=vendor)
    Payee.objects.filter(name="Nobody Known").update(vendor=None)

    rows = spend_with_unapproved_vendors(filters=spend_filters_for(org.procurement))
    assert [(r.payee, r.vendor, r.status, r.amount, r.lines) for r in rows] == [
        ("Blocked Co", "Zeta Blocked Holdings", "Vendor blocked", Decimal("500.00"), 2),
        ("Nobody Known", "", "No vendor record", Decimal("75.00"), 1),
        (
            "Prospect Co",
            "Zeta Prospect Holdings",
            "Vendor not approved (prospect)",
            Decimal("50.00"),
            1,
        ),
    ]
    january = SpendFilters(month_from=d("2026-01-01"), month_to=d("2026-01-01"))
    rows = spend_with_unapproved_vendors(filters=spend_filters_for(org.procurement, january))
    assert rows[0].amount == Decimal("200.00")


# --- The page --------------------------------------------------------------------------


def duplicates_section(page) -> str:
    html = page.content.decode()
    start = html.index('id="duplicates-heading"')
    return html[start : html.index("</section>", start)]


@pytest.fixture
def two_departments(org):
    add(line("2026-02-03", "1250.00", "Acme Widgets", department="IT"), source="Ledger")
    add(line("2026-02-03", "1250.00", "Acme Widgets", department="IT"), source="Card")
    add(line("2026-02-05", "640.00", "Marketing Supplies", department="Marketing"), source="Ledger")
    add(line("2026-02-05", "640.00", "Marketing Supplies", department="Marketing"), source="Card")


def test_it_shows_a_manager_only_findings_of_their_department(org, two_departments) -> None:
    page = org.client_for(org.manager).get(reverse("anomalies:list"))
    assert page.status_code == 200
    html = page.content.decode()
    assert "Acme Widgets" in html
    assert "Marketing Supplies" not in html
    assert "Why is this not a problem?" not in html  # managers look; others dismiss

    page = org.client_for(org.procurement).get(reverse("anomalies:list"))
    assert "Marketing Supplies" in page.content.decode()

    assert org.client_for(org.requester).get(reverse("anomalies:list")).status_code == 403


def test_it_dismisses_a_finding_from_the_page_with_a_reason(org, two_departments) -> None:
    anomaly = SpendAnomaly.objects.get(payee__name="Acme Widgets")
    client = org.client_for(org.finance)
    url = reverse("anomalies:dismiss", args=[anomaly.pk])
    here = reverse("anomalies:list") + "?from=2026-01"

    page = client.post(url, {"reason": "", "next": here})
    assert page.status_code == 400
    assert "A reason is required." in page.content.decode()

    response = client.post(url, {"reason": "Two deliveries", "next": here})
    assert response.status_code == 302
    assert response["Location"] == here
    assert "Acme Widgets" not in duplicates_section(client.get(here))
    dismissed = duplicates_section(client.get(here + "&status=dismissed"))
    assert "Acme Widgets" in dismissed
    assert "Two deliveries" in dismissed
    assert org.client_for(org.manager).post(url, {"reason": "x"}).status_code == 403


def test_it_exports_the_findings_as_csv_and_xlsx(org, two_departments) -> None:
    client = org.client_for(org.procurement)
    response = client.get(reverse("anomalies:list"), {"export": "csv", "section": "duplicates"})
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0][:3] == ["Finding", "Kind", "Detail"]
    assert sorted((r[3], r[5], r[6]) for r in rows[1:]) == [
        ("Acme Widgets", "2026-02-03", "1250.00"),
        ("Acme Widgets", "2026-02-03", "1250.00"),
        ("Marketing Supplies", "2026-02-05", "640.00"),
        ("Marketing Supplies", "2026-02-05", "640.00"),
    ]
    response = client.get(reverse("anomalies:list"), {"export": "xlsx"})
    with zipfile.ZipFile(io.BytesIO(response.content)) as book:
        workbook = book.read("xl/workbook.xml").decode()
    assert "Duplicate payments" in workbook
    assert "Split purchases" in workbook
    assert "Vendors not approved" in workbook


def test_it_shows_filter_errors_next_to_the_fields(org, two_departments) -> None:
    page = org.client_for(org.procurement).get(reverse("anomalies:list"), {"from": "March"})
    assert page.status_code == 400
    assert "Use YYYY-MM" in page.content.decode()


def duplicate_pairs(count: int, *, supplier: str = "Acme Widgets") -> None:
    """`count` duplicate findings: two payments of 100.00 on each of `count` days."""
    lines = []
    for day in range(count):
        date = (dt.date(2026, 1, 1) + dt.timedelta(days=day)).isoformat()
        lines += [
            line(date, "100.00", supplier, identity=f"{supplier}-a{day}"),
            line(date, "100.00", supplier, identity=f"{supplier}-b{day}"),
        ]
    add(*lines)


def test_it_pages_the_findings_and_loads_the_lines_of_the_page_shown_only(
    org, django_assert_max_num_queries
) -> None:
    from analytics.anomaly_views import PAGE_SIZE

    duplicate_pairs(PAGE_SIZE + 5)
    client = org.client_for(org.procurement)
    first = duplicates_section(client.get(reverse("anomalies:list")))
    assert first.count('class="card anomaly"') == PAGE_SIZE
    assert "Page 1 of 2" in first
    assert f"{PAGE_SIZE + 5} findings" in first
    # The counts at the top, linking down to each section.
    page = client.get(reverse("anomalies:list")).content.decode()
    assert f'<a href="#duplicates-heading">{PAGE_SIZE + 5} likely duplicate payments</a>' in page
    # Newest first: the last five days are on the first page, the first five on the second.
    assert '">25 Jan 2026<' in first
    assert '">1 Jan 2026<' not in first
    second = duplicates_section(client.get(reverse("anomalies:list"), {"duplicates_page": 2}))
    assert second.count('class="card anomaly"') == 5
    assert '">1 Jan 2026<' in second
    assert '">25 Jan 2026<' not in second

    # The number of queries does not grow with the findings.
    with django_assert_max_num_queries(30):
        client.get(reverse("anomalies:list"))
    duplicate_pairs(3 * PAGE_SIZE, supplier="Other Supplier")
    with django_assert_max_num_queries(30):
        client.get(reverse("anomalies:list"))


def test_it_counts_and_sums_the_findings_of_a_period_per_kind(org, two_departments) -> None:
    # The same invoice paid in January, February and April: one finding over four months.
    add(line("2026-01-15", "300.00", "Acme Widgets", reference="INV-9", department="IT"))
    add(line("2026-02-10", "300.00", "Acme Widgets", reference="INV-9", department="IT"))
    add(line("2026-04-15", "300.00", "Acme Widgets", reference="INV-9", department="Marketing"))
    add(line("2026-02-16", "950.00", "Acme Widgets"), line("2026-02-17", "900.00", "Acme Widgets"))
    anomaly_dismiss(
        anomaly=SpendAnomaly.objects.get(payee__name="Marketing Supplies"),
        user=org.finance,
        reason="Two deliveries",
    )

    def summary(user, month_from: str = "", month_to: str = "") -> dict[str, tuple]:
        filters = SpendFilters(
            month_from=d(f"{month_from}-01") if month_from else None,
            month_to=d(f"{month_to}-01") if month_to else None,
        )
        result = anomaly_summary(spend_filters_for(user, filters))
        return {
            kind: (s.open, s.dismissed, s.open_amount, s.dismissed_amount)
            for kind, s in result.items()
        }

    duplicate, split = AnomalyKind.DUPLICATE_PAYMENT, AnomalyKind.SPLIT_PURCHASE
    assert summary(org.procurement) == {
        duplicate: (2, 1, Decimal("3400.00"), Decimal("1280.00")),
        split: (1, 0, Decimal("1850.00"), Decimal("0.00")),
    }
    assert summary(org.procurement, "2026-02", "2026-02") == {
        duplicate: (2, 1, Decimal("3400.00"), Decimal("1280.00")),
        split: (1, 0, Decimal("1850.00"), Decimal("0.00")),
    }
    # March: the reference finding spans it but has no payment in it.
    assert summary(org.procurement, "2026-03", "2026-03") == {
        duplicate: (0, 0, Decimal("0.00"), Decimal("0.00")),
        split: (0, 0, Decimal("0.00"), Decimal("0.00")),
    }
    assert summary(org.procurement, "2026-04")[duplicate] == (1, 0, Decimal("900.00"), 0)
    assert summary(org.procurement, "", "2026-01")[duplicate] == (1, 0, Decimal("900.00"), 0)
    # A manager counts the findings with lines of their department, and only those lines.
    assert summary(org.manager)[duplicate] == (2, 0, Decimal("3100.00"), 0)
