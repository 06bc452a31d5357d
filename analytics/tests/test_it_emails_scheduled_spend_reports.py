"""Scheduled spend reports: subscriptions, the beat scan, and the emailed report with its
chart and workbook, sent once per subscription and period."""

from __future__ import annotations

import csv
import datetime as dt
import email
import email.policy
import re
import zipfile
from collections import defaultdict
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from email.message import EmailMessage
from io import BytesIO
from pathlib import Path
from xml.etree import ElementTree

import pytest
from django.core import mail
from django.utils import timezone

from analytics import tasks
from analytics.models import (
    Payee,
    ReportDelivery,
    ReportFrequency,
    ReportSubscription,
    SpendDepartment,
    SpendLine,
)
from analytics.payees import payee_key
from analytics.reports import (
    report_period_containing,
    report_period_last_full,
    report_period_starting,
    report_subscription_create,
)
from analytics.services import LineInput, spend_lines_add, spend_source_get_or_create
from analytics.tests.datasets import CARD_FILE, DATASETS
from conftest import Org
from procurement.errors import InvalidInput
from procurement.models import Role, SentEmail, UserRole
from tests.factories import vendor_approved
from tests.smtp import RecordingHandler
from vendors.models import Contract, ContractState

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

# --- Helpers ---------------------------------------------------------------------------


def add_lines(*lines: tuple[dt.date, str, str, str, str]) -> None:
    """(date, amount, supplier, department, category) lines, through the ledger's own service."""
    source = spend_source_get_or_create(name="Ledger", currency="GBP")
    batch = spend_lines_add(
        source=source,
        lines=[
            LineInput(
                date=day,
                amount=Decimal(amount),
                supplier=supplier,
                department=department,
                category=category,
                identity=f"test-{n}",
            )
            for n, (day, amount, supplier, department, category) in enumerate(lines)
        ],
    )
    assert batch.rows_bad == 0


def subscribe(
    user, frequency=ReportFrequency.MONTHLY, *, since: dt.date, **narrowed
) -> ReportSubscription:
    subscription = ReportSubscription.objects.create(user=user, frequency=frequency, **narrowed)
    # Subscribed before the period ended, so that period is due.
    created = timezone.make_aware(dt.datetime.combine(since, dt.time(9)))
    ReportSubscription.objects.filter(pk=subscription.pk).update(created_at=created)
    return subscription


def parsed(message: mail.EmailMessage) -> EmailMessage:
    """The message as a mail client reads it."""
    result = email.message_from_bytes(message.message().as_bytes(), policy=email.policy.default)
    assert isinstance(result, EmailMessage)
    return result


@dataclass
class Received:
    html: str
    text: str
    png: bytes
    png_cid: str
    xlsx: bytes
    xlsx_name: str


def received(message: EmailMessage) -> Received:
    html = message.get_body(preferencelist=("html",))
    text = message.get_body(preferencelist=("plain",))
    assert html is not None
    assert text is not None
    [png] = [part for part in message.walk() if part.get_content_type() == "image/png"]
    [xlsx] = [part for part in message.walk() if part.get_content_type() == XLSX]
    assert png.get_content_disposition() == "inline"
    assert xlsx.get_content_disposition() == "attachment"
    return Received(
        html=html.get_content(),
        text=text.get_content(),
        png=png.get_content(),
        png_cid=png["Content-ID"].strip("<>"),
        xlsx=xlsx.get_content(),
        xlsx_name=xlsx.get_filename() or "",
    )


def xlsx_sheets(content: bytes) -> dict[str, list[list[str]]]:
    """Each worksheet's cells as text, read straight from the file's XML."""
    ns = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}
    rel = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"
    book = zipfile.ZipFile(BytesIO(content))
    shared: list[str] = []
    if "xl/sharedStrings.xml" in book.namelist():
        root = ElementTree.fromstring(book.read("xl/sharedStrings.xml"))
        shared = ["".join(t.text or "" for t in si.iter(f"{{{ns['m']}}}t")) for si in root]
    rels = ElementTree.fromstring(book.read("xl/_rels/workbook.xml.rels"))
    targets = {r.get("Id"): r.get("Target") for r in rels}
    sheets = {}
    workbook = ElementTree.fromstring(book.read("xl/workbook.xml"))
    for sheet in workbook.iterfind("m:sheets/m:sheet", ns):
        root = ElementTree.fromstring(book.read("xl/" + str(targets[sheet.get(rel)])))
        rows = []
        for row in root.iterfind(".//m:sheetData/m:row", ns):
            cells = []
            for cell in row.iterfind("m:c", ns):
                kind = cell.get("t")
                if kind == "s":
                    cells.append(shared[int(cell.findtext("m:v", "", ns))])
                elif kind == "inlineStr":
                    cells.append("".join(t.text or "" for t in cell.iter(f"{{{ns['m']}}}t")))
                else:
                    cells.append(cell.findtext("m:v", "", ns))
            rows.append(cells)
        sheets[str(sheet.get("name"))] = rows
    return sheets


def summary(content: bytes) -> dict[str, str]:
    return {row[0]: row[1] for row in xlsx_sheets(content)["Summary"][1:] if len(row) > 1}


def money(value: Decimal) -> str:
    """As the email writes an amount: 1,234.50."""
    return f"{value:,.2f}"


# --- Periods ---------------------------------------------------------------------------


def test_it_reports_weeks_from_monday_to_sunday() -> None:
    wednesday = dt.date(2026, 3, 11)
    last_week = report_period_last_full(frequency=ReportFrequency.WEEKLY, today=wednesday)
    assert (last_week.start, last_week.end) == (dt.date(2026, 3, 2), dt.date(2026, 3, 8))
    assert last_week.start.weekday() == 0
    assert last_week.end.weekday() == 6
    # On Monday the week that ended yesterday is due; on Sunday it is still running.
    assert report_period_last_full(frequency="weekly", today=dt.date(2026, 3, 9)) == last_week
    assert report_period_last_full(frequency="weekly", today=dt.date(2026, 3, 8)).start == (
        dt.date(2026, 2, 23)
    )
    # A week across a new year and a month: still Monday to Sunday.
    week = report_period_containing(frequency="weekly", day=dt.date(2026, 1, 1))
    assert (week.start, week.end) == (dt.date(2025, 12, 29), dt.date(2026, 1, 4))
    assert week.previous.end == dt.date(2025, 12, 28)
    with pytest.raises(InvalidInput):
        report_period_starting(frequency="weekly", start=dt.date(2026, 3, 3))


def test_it_reports_calendar_months() -> None:
    month = report_period_last_full(frequency="monthly", today=dt.date(2024, 3, 1))
    assert (month.start, month.end) == (dt.date(2024, 2, 1), dt.date(2024, 2, 29))
    assert month.previous.start == dt.date(2024, 1, 1)
    assert month.label == "February 2024"


def test_it_counts_the_weeks_monday_and_sunday_and_nothing_either_side(org: Org) -> None:
    add_lines(
        (dt.date(2026, 3, 1), "1000.00", "Before Ltd", "IT", "Hardware"),  # Sunday before
        (dt.date(2026, 3, 2), "10.00", "Monday Ltd", "IT", "Hardware"),
        (dt.date(2026, 3, 8), "20.00", "Sunday Ltd", "IT", "Hardware"),
        (dt.date(2026, 3, 9), "3000.00", "After Ltd", "IT", "Hardware"),  # Monday after
    )
    subscription = subscribe(org.procurement, ReportFrequency.WEEKLY, since=dt.date(2026, 3, 1))

    assert tasks.send_spend_report.delay(subscription.pk, "2026-03-02").get() is True

    [message] = mail.outbox
    report = received(parsed(message))
    figures = summary(report.xlsx)
    assert figures["From"] == str((dt.date(2026, 3, 2) - dt.date(1899, 12, 30)).days)
    assert Decimal(figures["Total spend (GBP)"]) == Decimal("30.00")
    assert figures["Lines"] == "2"
    assert Decimal(figures["Previous period (GBP)"]) == Decimal("1000.00")
    assert "week of 2 Mar to 8 Mar 2026" in message.subject
    by_day = xlsx_sheets(report.xlsx)["By day"][1:]
    assert len(by_day) == 7
    assert [Decimal(row[1]) for row in by_day] == [10, 0, 0, 0, 0, 0, 20]


# --- Sending once ----------------------------------------------------------------------


@pytest.fixture
def last_month(org: Org) -> dt.date:
    """Spend in the last full month and the one before, for IT and Marketing; returns the
    last full month's first day."""
    period = report_period_last_full(frequency="monthly", today=timezone.localdate())
    before = period.previous.start
    vendor = vendor_approved(by=org.procurement, legal_name="Northwind Hardware Ltd")
    Contract.objects.create(
        vendor=vendor,
        title="Laptops",
        owner=org.procurement,
        value=50000,
        currency="GBP",
        start_date=before,
        end_date=period.end + dt.timedelta(days=365),
        notice_deadline=period.end + dt.timedelta(days=300),
        created_by=org.procurement,
        state=ContractState.ACTIVE,
    )
    add_lines(
        (period.start, "1200.00", "NORTHWIND HARDWARE LIMITED", "IT Services", "Hardware"),
        (period.start + dt.timedelta(days=3), "300.50", "Acme Cables", "IT Services", "Cables"),
        (period.start + dt.timedelta(days=9), "-100.00", "Acme Cables", "IT Services", "Cables"),
        (period.end, "5000.00", "Glossy Print Ltd", "Marketing Team", "Printing"),
        (before + dt.timedelta(days=5), "800.00", "Acme Cables", "IT Services", "Cables"),
        (before + dt.timedelta(days=6), "40.00", "Glossy Print Ltd", "Marketing Team", "Printing"),
    )
    SpendDepartment.objects.filter(name="IT Services").update(department=org.department)
    SpendDepartment.objects.filter(name="Marketing Team").update(department=org.other_department)
    return period.start


def test_it_sends_a_monthly_report_once_with_its_chart_and_workbook_when_the_task_runs_twice(
    org: Org, last_month: dt.date
) -> None:
    subscription = subscribe(org.finance, since=last_month)

    assert tasks.send_spend_report.delay(subscription.pk, last_month.isoformat()).get() is True
    # A retried or duplicated task: the period is already recorded.
    assert tasks.send_spend_report.delay(subscription.pk, last_month.isoformat()).get() is False

    [message] = mail.outbox
    assert message.to == ["fiona@example.com"]
    report = received(parsed(message))
    assert report.png.startswith(b"\x89PNG\r\n\x1a\n")
    assert f'src="cid:{report.png_cid}"' in report.html
    assert report.xlsx_name == f"spend-report-{last_month.isoformat()}.xlsx"
    assert list(xlsx_sheets(report.xlsx)) == [
        "Summary",
        "Vendors",
        "Categories",
        "Departments",
        "By day",
    ]
    # Total 6,400.50 over four lines; 1,200 of it under Northwind's contract.
    assert message.subject == f"Spend report, {last_month:%B %Y}: GBP 6,400.50"
    assert "GBP 6,400.50 in 4 lines" in report.text
    assert "Previous period: GBP 840.00" in report.text
    assert "Off-contract: GBP 5,200.50 (81.3% of the total)" in report.text
    assert "1. Glossy Print Ltd: GBP 5,000.00 (78.1%)" in report.text
    assert "2. Northwind Hardware Ltd: GBP 1,200.00 (18.7%)" in report.text
    assert "3. Acme Cables: GBP 200.50 (3.1%)" in report.text
    assert ReportDelivery.objects.filter(subscription=subscription).count() == 1
    assert SentEmail.objects.filter(
        key=f"spend-report:{subscription.pk}:{last_month.isoformat()}"
    ).exists()


def test_it_queues_each_due_report_once_when_beat_runs_twice(
    org: Org, last_month: dt.date, django_capture_on_commit_callbacks
) -> None:
    monthly = subscribe(org.procurement, since=last_month)
    weekly = subscribe(org.finance, ReportFrequency.WEEKLY, since=last_month)
    paused = subscribe(org.procurement, ReportFrequency.WEEKLY, since=last_month)
    paused.is_active = False
    paused.save()
    # Made today: its first report is for the period under way, not the one just ended.
    ReportSubscription.objects.create(user=org.head, frequency="monthly")

    # Each report is queued through the task outbox and runs when the scan commits.
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.send_due_spend_reports.delay().get() == 2
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.send_due_spend_reports.delay().get() == 0

    assert sorted(m.to[0] for m in mail.outbox) == ["fiona@example.com", "pat@example.com"]
    last_week = report_period_last_full(frequency="weekly", today=timezone.localdate())
    assert set(ReportDelivery.objects.values_list("subscription_id", "period_start")) == {
        (monthly.pk, last_month),
        (weekly.pk, last_week.start),
    }


def test_it_shows_a_manager_only_their_departments_spend(org: Org, last_month: dt.date) -> None:
    subscription = subscribe(org.manager, since=last_month)

    assert tasks.send_spend_report.delay(subscription.pk, last_month.isoformat()).get() is True

    [message] = mail.outbox
    report = received(parsed(message))
    assert "GBP 1,400.50 in 3 lines" in report.text
    assert "Previous period: GBP 800.00" in report.text
    assert "Glossy" not in report.text + report.html
    sheets = xlsx_sheets(report.xlsx)
    assert [row[0] for row in sheets["Departments"][1:]] == ["IT Services"]
    assert "Glossy Print Ltd" not in str(sheets)


def test_it_reports_a_managers_own_share_of_a_vendor_both_departments_pay(
    org: Org, last_month: dt.date
) -> None:
    # Marketing pays Acme Cables too, in both months; the IT manager sees IT's part only.
    spend_lines_add(
        source=spend_source_get_or_create(name="Ledger", currency="GBP"),
        lines=[
            LineInput(
                date=day,
                amount=Decimal("70.00"),
                supplier="Acme Cables",
                department="Marketing Team",
                category="Cables",
                identity=f"marketing-{n}",
            )
            for n, day in enumerate([last_month, last_month - dt.timedelta(days=3)])
        ],
    )
    acme = Payee.objects.get(name="Acme Cables")
    glossy = Payee.objects.get(name="Glossy Print Ltd")

    with pytest.raises(InvalidInput) as refused:
        report_subscription_create(user=org.manager, frequency="monthly", payee_id=glossy.pk)
    assert refused.value.fields == {"payee": ["Choose one of the vendors listed."]}
    subscription = report_subscription_create(
        user=org.manager, frequency="monthly", payee_id=acme.pk
    )
    created = timezone.make_aware(dt.datetime.combine(last_month, dt.time(9)))
    ReportSubscription.objects.filter(pk=subscription.pk).update(created_at=created)

    assert tasks.send_spend_report.delay(subscription.pk, last_month.isoformat()).get() is True

    [message] = mail.outbox
    report = received(parsed(message))
    assert "GBP 200.50 in 2 lines" in report.text
    assert "Previous period: GBP 800.00" in report.text
    sheets = xlsx_sheets(report.xlsx)
    assert [row[0] for row in sheets["Departments"][1:]] == ["IT Services"]
    assert [(row[0], Decimal(row[1])) for row in sheets["Vendors"][1:]] == [
        ("Acme Cables", Decimal("200.50"))
    ]


def test_it_sends_nothing_to_a_user_who_lost_access(
    org: Org, last_month: dt.date, django_capture_on_commit_callbacks
) -> None:
    demoted = subscribe(org.manager, since=last_month)
    moved = subscribe(
        org.head, since=last_month, department=SpendDepartment.objects.get(name="IT Services")
    )
    UserRole.objects.filter(user=org.manager, role=Role.MANAGER).delete()
    org.head.department = org.other_department
    org.head.save()
    org.department.head = None
    org.department.save()

    # The beat does not queue the demoted manager; the send itself checks both.
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.send_due_spend_reports.delay().get() == 1
    assert tasks.send_spend_report.delay(demoted.pk, last_month.isoformat()).get() is False
    assert tasks.send_spend_report.delay(moved.pk, last_month.isoformat()).get() is False

    assert mail.outbox == []
    assert not ReportDelivery.objects.exists()


def test_it_sends_nothing_for_a_period_not_over_yet(org: Org) -> None:
    this_month = timezone.localdate().replace(day=1)
    subscription = subscribe(org.finance, since=this_month)

    assert tasks.send_spend_report.delay(subscription.pk, this_month.isoformat()).get() is False
    assert mail.outbox == []


# --- Figures against the real card file ------------------------------------------------


@pytest.mark.skipif(not CARD_FILE.exists(), reason=f"the shared datasets are not at {DATASETS}")
def test_it_reports_the_figures_of_a_real_card_file_as_an_independent_count_does(
    org: Org,
) -> None:
    with CARD_FILE.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    source = spend_source_get_or_create(name="Home Office procurement cards", currency="GBP")
    batch = spend_lines_add(
        source=source,
        lines=[
            LineInput(
                date=dt.date.fromisoformat(row["Date"]),
                amount=Decimal(row["Amount"]),
                supplier=row["Supplier"],
                identity=f"2020.csv:{n}",
            )
            for n, row in enumerate(rows, start=2)
        ],
    )
    assert batch.rows_imported == len(rows)
    subscription = subscribe(org.procurement, since=dt.date(2020, 1, 1))

    assert tasks.send_spend_report.delay(subscription.pk, "2020-03-01").get() is True

    # The same figures, straight from the file.
    def month(prefix: str) -> list[dict[str, str]]:
        return [row for row in rows if row["Date"].startswith(prefix)]

    march, february = month("2020-03"), month("2020-02")
    total = sum((Decimal(row["Amount"]) for row in march), Decimal(0))
    previous = sum((Decimal(row["Amount"]) for row in february), Decimal(0))
    by_payee: dict[str, Decimal] = defaultdict(Decimal)
    for row in march:
        by_payee[payee_key(row["Supplier"])] += Decimal(row["Amount"])
    top = sorted(by_payee.values(), reverse=True)[:5]
    change = (100 * (total - previous) / previous).quantize(Decimal("0.1"), ROUND_HALF_UP)

    [message] = mail.outbox
    report = received(parsed(message))
    figures = summary(report.xlsx)
    assert Decimal(figures["Total spend (GBP)"]) == total
    assert figures["Lines"] == str(len(march))
    assert Decimal(figures["Previous period (GBP)"]) == previous
    assert Decimal(figures["Change (%)"]) == change
    assert f"GBP {money(total)} in {len(march)} lines" in report.text
    assert f"Previous period: GBP {money(previous)}" in report.text
    listed = re.findall(r"^\d\. (.+): GBP ([\d,.-]+)", report.text.split("Top vendors:")[1], re.M)
    assert [Decimal(amount.replace(",", "")) for _, amount in listed[:5]] == top
    for name, amount in listed[:5]:
        assert by_payee[payee_key(name)] == Decimal(amount.replace(",", ""))
    vendors = xlsx_sheets(report.xlsx)["Vendors"][1:]
    assert sum(Decimal(row[1]) for row in vendors) == total
    assert len(vendors) == len(by_payee)
    assert SpendLine.objects.filter(date__month=3).count() == len(march)


# --- The subscriptions page ------------------------------------------------------------


def test_it_lets_a_manager_subscribe_pause_resume_and_delete_their_own_report(
    org: Org, last_month: dt.date
) -> None:
    client = org.client_for(org.manager)
    it = SpendDepartment.objects.get(name="IT Services")
    marketing = SpendDepartment.objects.get(name="Marketing Team")

    page = client.get("/analytics/reports/")
    assert page.status_code == 200
    assert "You have no spend reports yet." in page.content.decode()
    # Only their own department, and only vendors paid from it, are offered.
    assert "IT Services" in page.content.decode()
    assert "Acme Cables" in page.content.decode()
    assert "Marketing Team" not in page.content.decode()
    assert "Glossy Print Ltd" not in page.content.decode()

    refused = client.post(
        "/analytics/reports/new/", {"frequency": "weekly", "department": marketing.pk}
    )
    assert refused.status_code == 400
    assert not ReportSubscription.objects.exists()

    created = client.post("/analytics/reports/new/", {"frequency": "weekly", "department": it.pk})
    assert created.status_code == 302
    subscription = ReportSubscription.objects.get(user=org.manager)
    assert (subscription.frequency, subscription.department_id) == ("weekly", it.pk)
    again = client.post("/analytics/reports/new/", {"frequency": "weekly", "department": it.pk})
    assert "You already subscribe to this report." in again.content.decode()

    client.post(f"/analytics/reports/{subscription.pk}/pause/")
    subscription.refresh_from_db()
    assert not subscription.is_active
    assert "Paused" in client.get("/analytics/reports/").content.decode()
    client.post(f"/analytics/reports/{subscription.pk}/resume/")
    subscription.refresh_from_db()
    assert subscription.is_active

    assert client.get(f"/analytics/reports/{subscription.pk}/delete/").status_code == 405
    other = org.client_for(org.finance)
    assert other.post(f"/analytics/reports/{subscription.pk}/delete/").status_code == 404
    assert client.post(f"/analytics/reports/{subscription.pk}/delete/").status_code == 302
    assert not ReportSubscription.objects.exists()


def test_it_refuses_the_reports_page_to_people_without_spend_access(org: Org) -> None:
    client = org.client_for(org.requester)
    assert client.get("/analytics/reports/").status_code == 403
    assert client.post("/analytics/reports/new/", {"frequency": "monthly"}).status_code == 403
    assert not ReportSubscription.objects.exists()


def test_it_keeps_the_csrf_check_on_subscribing(org: Org) -> None:
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(org.finance)
    assert client.post("/analytics/reports/new/", {"frequency": "monthly"}).status_code == 403
    assert not ReportSubscription.objects.exists()


# --- Over real SMTP --------------------------------------------------------------------


@pytest.mark.integration
def test_it_sends_the_report_over_real_smtp_with_its_attachments(
    smtp_server: RecordingHandler, org: Org, last_month: dt.date
) -> None:
    subscription = subscribe(org.finance, since=last_month)

    assert tasks.send_spend_report.delay(subscription.pk, last_month.isoformat()).get() is True
    assert tasks.send_spend_report.delay(subscription.pk, last_month.isoformat()).get() is False

    [envelope] = smtp_server.received
    assert envelope.rcpt_tos == ["fiona@example.com"]
    assert isinstance(envelope.content, bytes)
    message = email.message_from_bytes(envelope.content, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    report = received(message)
    assert report.png.startswith(b"\x89PNG")
    assert f'src="cid:{report.png_cid}"' in report.html
    assert Decimal(summary(report.xlsx)["Total spend (GBP)"]) == Decimal("6400.50")


def test_it_writes_the_report_to_the_local_outbox_with_its_attachments(
    settings,
    org: Org,
    last_month: dt.date,
) -> None:
    settings.EMAIL_BACKEND = "procurement.mail.EmlOutboxBackend"
    subscription = subscribe(org.finance, since=last_month)

    assert tasks.send_spend_report.delay(subscription.pk, last_month.isoformat()).get() is True

    [eml] = Path(settings.EMAIL_OUTBOX_DIR).glob("*.eml")
    message = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    report = received(message)
    assert report.png.startswith(b"\x89PNG")
    assert Decimal(summary(report.xlsx)["Total spend (GBP)"]) == Decimal("6400.50")
