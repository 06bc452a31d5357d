"""Scheduled spend reports: who subscribed to what, which periods are due, and the report
itself (key figures, a chart and the tables for the attached workbook).

A report covers one full period: a week (Monday to Sunday) or a calendar month, in the
platform's time zone. The hourly beat task asks `report_deliveries_due` for the
subscriptions whose last full period has ended without a delivery; the email
(`analytics.emails.send_spend_report`) builds the report and records the delivery in the
same transaction as the send, so a period is reported once whatever runs twice.

Scope is checked when the report is built, not only when it was ordered: a subscription
never shows more than `scope.spend_filters_for` allows its owner on the day it is sent.
Monthly figures come from the smallest rollup that holds them (`selectors.spend_rows`), or
from the lines where a vendor is crossed with a department or category (a manager's vendors,
a report narrowed to a vendor); a week cuts across months, so weekly figures (and the
chart's days, for both) are summed from the lines of that week, through the month index.
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass, replace
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.db import models
from django.db.models import Case, F, Q, QuerySet, Value, When

from analytics.exports import Table
from analytics.models import (
    Payee,
    ReportDelivery,
    ReportFrequency,
    ReportSubscription,
    SpendCategory,
    SpendCube,
    SpendDepartment,
    SpendLine,
)
from analytics.scope import (
    ROLES_SEEING_ALL_SPEND,
    SpendFilters,
    spend_access,
    spend_filters_for,
    spend_scope_department_ids,
)
from analytics.selectors import SpendRows, spend_rows
from procurement.errors import InvalidInput, NotAllowed, NotFound
from procurement.models import Role, User

TOP = 5
CENT = Decimal("0.01")
# How many vendors the subscription form offers (the most spent with over the last year).
PAYEE_CHOICES = 100

# --- Periods ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """A full reporting period; `end` is its last day (inclusive)."""

    frequency: str
    start: dt.date
    end: dt.date

    @property
    def label(self) -> str:
        if self.frequency == ReportFrequency.MONTHLY:
            return f"{self.start:%B %Y}"
        return f"week of {self.start.day} {self.start:%b} to {self.end.day} {self.end:%b %Y}"

    @property
    def previous(self) -> Period:
        return report_period_containing(
            frequency=self.frequency, day=self.start - dt.timedelta(days=1)
        )

    @property
    def days(self) -> list[dt.date]:
        return [self.start + dt.timedelta(days=n) for n in range((self.end - self.start).days + 1)]


def _next_month(day: dt.date) -> dt.date:
    return (day.replace(day=1) + dt.timedelta(days=32)).replace(day=1)


def report_period_containing(*, frequency: str, day: dt.date) -> Period:
    if frequency == ReportFrequency.WEEKLY:
        monday = day - dt.timedelta(days=day.weekday())
        return Period(frequency, monday, monday + dt.timedelta(days=6))
    if frequency == ReportFrequency.MONTHLY:
        first = day.replace(day=1)
        return Period(frequency, first, _next_month(first) - dt.timedelta(days=1))
    raise InvalidInput(
        f"Unknown report frequency {frequency!r}.", fields={"frequency": ["Weekly or monthly."]}
    )


def report_period_last_full(*, frequency: str, today: dt.date) -> Period:
    """The latest period that ended before `today` (last week, or last month)."""
    current = report_period_containing(frequency=frequency, day=today)
    return current.previous


def report_period_starting(*, frequency: str, start: dt.date) -> Period:
    """The period beginning on `start`; refuses a day that begins none (not a Monday, not a 1st)."""
    period = report_period_containing(frequency=frequency, day=start)
    if period.start != start:
        raise InvalidInput(f"No {frequency} report period starts on {start:%d %b %Y}.")
    return period


# --- The report ------------------------------------------------------------------------


@dataclass(frozen=True)
class Ranked:
    label: str
    amount: Decimal
    lines: int
    # Percent of the period's total; None when the total is not positive.
    share: Decimal | None


@dataclass(frozen=True)
class SpendReport:
    period: Period
    currency: str
    total: Decimal
    lines: int
    previous_total: Decimal
    previous_lines: int
    on_contract: Decimal
    vendors: list[Ranked]
    categories: list[Ranked]
    departments: list[Ranked]
    days: list[tuple[dt.date, Decimal]]

    @property
    def change(self) -> Decimal:
        return self.total - self.previous_total

    @property
    def change_percent(self) -> Decimal | None:
        if self.previous_total <= 0:
            return None
        return _percent(self.change, self.previous_total)

    @property
    def off_contract(self) -> Decimal:
        return self.total - self.on_contract

    @property
    def off_contract_share(self) -> Decimal | None:
        return _percent(self.off_contract, self.total) if self.total > 0 else None

    @property
    def top_vendors(self) -> list[Ranked]:
        return self.vendors[:TOP]

    @property
    def top_categories(self) -> list[Ranked]:
        return self.categories[:TOP]


def _percent(part: Decimal, whole: Decimal) -> Decimal:
    return (Decimal(100) * part / whole).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def _money(value: Decimal | None) -> Decimal:
    return (value or Decimal(0)).quantize(CENT, rounding=ROUND_HALF_UP)


def _period_filters(filters: SpendFilters, period: Period) -> SpendFilters:
    return replace(
        filters, month_from=period.start.replace(day=1), month_to=period.end.replace(day=1)
    )


def _rows(filters: SpendFilters, period: Period, *grouped: str) -> SpendRows:
    # The month bounds let PostgreSQL use the month index (and partitions, docs/scaling.md)
    # where the lines are read.
    filters = _period_filters(filters, period)
    if period.frequency == ReportFrequency.MONTHLY:
        return spend_rows(filters, *grouped)
    return spend_rows(filters, *grouped, days=(period.start, period.end))


def _totals(filters: SpendFilters, period: Period) -> tuple[Decimal, int]:
    source = _rows(filters, period)
    sums = source.rows.aggregate(amount=source.amount, lines=source.lines)
    return _money(sums["amount"]), int(sums["lines"] or 0)


def _ranked(
    filters: SpendFilters,
    period: Period,
    *,
    dimension: str,
    group: dict[str, models.Expression | F],
    label: str,
    total: Decimal,
) -> list[Ranked]:
    source = _rows(filters, period, dimension)
    rows = (
        source.rows.values(**group)
        .annotate(total_amount=source.amount, total_lines=source.lines)
        .order_by("-total_amount", label)
    )
    return [
        Ranked(
            label=row[label] or "(none named)",
            amount=_money(row["total_amount"]),
            lines=int(row["total_lines"]),
            share=_percent(row["total_amount"], total) if total > 0 else None,
        )
        for row in rows
    ]


def _vendor_group() -> dict[str, models.Expression | F]:
    # Payees matched to one vendor count as that vendor; the others stand on their own.
    matched = Q(payee__vendor__isnull=False)
    return {
        "vendor": F("payee__vendor_id"),
        "unmatched_payee": Case(
            When(matched, then=Value(None)),
            default=F("payee_id"),
            output_field=models.IntegerField(),
        ),
        "name": Case(
            When(matched, then=F("payee__vendor__legal_name")),
            default=F("payee__name"),
            output_field=models.CharField(),
        ),
    }


def _days(filters: SpendFilters, period: Period) -> list[tuple[dt.date, Decimal]]:
    source = spend_rows(_period_filters(filters, period), days=(period.start, period.end))
    by_day = {
        row["date"]: _money(row["amount"])
        for row in source.rows.values("date").annotate(amount=source.amount)
    }
    return [(day, by_day.get(day, Decimal("0.00"))) for day in period.days]


def spend_report_build(*, filters: SpendFilters, period: Period) -> SpendReport:
    """The figures of one period over `filters` (already narrowed by `spend_filters_for`)."""
    total, lines = _totals(filters, period)
    previous_total, previous_lines = _totals(filters, period.previous)
    contract = _rows(filters, period, "on_contract")
    on_contract = contract.rows.filter(contract.on_contract).aggregate(amount=contract.amount)
    return SpendReport(
        period=period,
        currency=settings.BASE_CURRENCY,
        total=total,
        lines=lines,
        previous_total=previous_total,
        previous_lines=previous_lines,
        on_contract=_money(on_contract["amount"]),
        vendors=_ranked(
            filters, period, dimension="payee", group=_vendor_group(), label="name", total=total
        ),
        categories=_ranked(
            filters,
            period,
            dimension="category",
            group={"category_ref": F("category_id"), "name": F("category__name")},
            label="name",
            total=total,
        ),
        departments=_ranked(
            filters,
            period,
            dimension="department",
            group={"department_ref": F("department_id"), "name": F("department__name")},
            label="name",
            total=total,
        ),
        days=_days(filters, period),
    )


def spend_report_tables(report: SpendReport, *, scope: str) -> list[Table]:
    """The workbook attached to the email: the summary, then every vendor, category,
    department and day of the period (the email shows only the top five)."""
    currency = report.currency
    summary = Table(
        title="Summary",
        header=["Figure", "Value"],
        rows=[
            ("Period", report.period.label),
            ("From", report.period.start),
            ("To", report.period.end),
            ("Scope", scope),
            (f"Total spend ({currency})", report.total),
            ("Lines", report.lines),
            (f"Previous period ({currency})", report.previous_total),
            (f"Change ({currency})", report.change),
            ("Change (%)", report.change_percent),
            (f"Off-contract spend ({currency})", report.off_contract),
            ("Off-contract share (%)", report.off_contract_share),
        ],
    )

    def ranked(title: str, column: str, items: list[Ranked]) -> Table:
        return Table(
            title=title,
            header=[column, f"Spend ({currency})", "Lines", "Share (%)"],
            rows=[(item.label, item.amount, item.lines, item.share) for item in items],
        )

    return [
        summary,
        ranked("Vendors", "Vendor", report.vendors),
        ranked("Categories", "Category", report.categories),
        ranked("Departments", "Department", report.departments),
        Table(title="By day", header=["Date", f"Spend ({currency})"], rows=report.days),
    ]


def spend_report_chart_png(report: SpendReport) -> bytes:
    """Spend per day of the period as a bar chart, for the email (PNG, drawn off-screen)."""
    # A bare Figure draws with the Agg canvas: no pyplot, no GUI, no global state to share
    # between worker threads. Imported here: matplotlib costs a second the web never needs.
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter

    days = [day for day, _ in report.days]
    amounts = [float(amount) for _, amount in report.days]
    figure = Figure(figsize=(7.2, 3.0), dpi=100, layout="constrained")
    axes = figure.subplots()
    axes.bar(range(len(days)), amounts, color=["#1f6feb" if a >= 0 else "#b42318" for a in amounts])
    if report.period.frequency == ReportFrequency.WEEKLY:
        labels = [f"{day:%a} {day.day}" for day in days]
        ticks = list(range(len(days)))
    else:
        # Mondays, and the 1st unless a Monday follows too closely to label both.
        ticks = [n for n, day in enumerate(days) if day.weekday() == 0]
        if not ticks or ticks[0] > 2:
            ticks.insert(0, 0)
        labels = [f"{days[n].day} {days[n]:%b}" for n in ticks]
    axes.set_xticks(ticks, labels, fontsize=8)
    axes.yaxis.set_major_formatter(FuncFormatter(lambda value, _pos: f"{value:,.0f}"))
    axes.tick_params(axis="y", labelsize=8)
    axes.set_ylabel(report.currency, fontsize=8)
    axes.set_title(f"Spend per day, {report.period.label}", fontsize=10)
    axes.spines[["top", "right"]].set_visible(False)
    axes.axhline(0, color="#666666", linewidth=0.6)
    out = io.BytesIO()
    figure.savefig(out, format="png")
    return out.getvalue()


# --- Subscriptions ---------------------------------------------------------------------


def report_subscription_filters(subscription: ReportSubscription) -> SpendFilters:
    """What the subscription's report may show today. Raises NotAllowed when its owner no
    longer sees spend, or no longer sees the department it was narrowed to."""
    user = subscription.user
    filters = spend_filters_for(
        user,
        SpendFilters(
            department_ids=_ids(subscription.department_id),
            category_ids=_ids(subscription.category_id),
            payee_ids=_ids(subscription.payee_id),
        ),
    )
    scope = filters.scope_department_ids
    if subscription.department_id and scope is not None and subscription.department_id not in scope:
        raise NotAllowed("You no longer see that department's spend.")
    return filters


def _ids(value: int | None) -> frozenset[int]:
    return frozenset({value}) if value else frozenset()


def report_subscription_describe(subscription: ReportSubscription) -> str:
    parts = []
    if subscription.department_id:
        parts.append(f"department {subscription.department}")
    if subscription.category_id:
        parts.append(f"category {subscription.category}")
    if subscription.payee_id:
        parts.append(f"vendor {subscription.payee}")
    return "All the spend you can see" + (": " + ", ".join(parts) if parts else "")


def report_subscriptions_of(user: User) -> QuerySet[ReportSubscription]:
    return ReportSubscription.objects.filter(user=user).select_related(
        "department", "category", "payee"
    )


@dataclass(frozen=True)
class SubscriptionChoices:
    departments: list[SpendDepartment]
    categories: list[SpendCategory]
    payees: list[Payee]


def report_subscription_choices(*, user: User, today: dt.date) -> SubscriptionChoices:
    """What `user` may narrow a report to: their departments, every category, and the
    vendors they spent most with over the last year (a full list could run to thousands)."""
    filters = spend_filters_for(user)
    scope = filters.scope_department_ids
    departments = SpendDepartment.objects.all()
    if scope is not None:
        departments = departments.filter(pk__in=scope)
    year_ago = (today - dt.timedelta(days=365)).replace(day=1)
    # A manager's vendors come from their departments' lines of the year (no rollup holds
    # payees by department); everyone else's from the payee rollup.
    spend = spend_rows(replace(filters, month_from=year_ago), "payee")
    top_payees = (
        spend.rows.values("payee_id")
        .annotate(total=spend.amount)
        .order_by("-total", "payee_id")
        .values_list("payee_id", flat=True)[:PAYEE_CHOICES]
    )
    return SubscriptionChoices(
        departments=list(departments),
        categories=list(_categories_in_scope(scope)),
        payees=list(Payee.objects.filter(pk__in=list(top_payees))),
    )


def _categories_in_scope(scope: frozenset[int] | None) -> QuerySet[SpendCategory]:
    """Every category for those who see all spend; for a manager, those with spend in their
    departments (the cube holds department x category), so no other department's
    categories are named to them."""
    if scope is None:
        return SpendCategory.objects.all()
    return SpendCategory.objects.filter(
        pk__in=SpendCube.objects.filter(department_id__in=scope).order_by().values("category_id")
    )


def _payee_in_scope(payee_id: int, scope: frozenset[int] | None) -> bool:
    if scope is None:
        return Payee.objects.filter(pk=payee_id).exists()
    # Through the lines' (payee, date) index: no rollup holds payees by department.
    return SpendLine.objects.filter(payee_id=payee_id, department_id__in=scope).exists()


def report_subscription_create(
    *,
    user: User,
    frequency: str,
    department_id: int | None = None,
    category_id: int | None = None,
    payee_id: int | None = None,
) -> ReportSubscription:
    """Subscribe `user` to a report over their scope, optionally narrowed to one department,
    category or vendor they may see. Refuses a second identical subscription."""
    if not spend_access(user):
        raise NotAllowed("Spend reports are for procurement, finance and managers.")
    errors: dict[str, list[str]] = {}
    if frequency not in ReportFrequency.values:
        errors["frequency"] = ["Choose weekly or monthly."]
    scope = spend_scope_department_ids(user)
    if department_id and (
        (scope is not None and department_id not in scope)
        or not SpendDepartment.objects.filter(pk=department_id).exists()
    ):
        errors["department"] = ["Choose one of your departments."]
    if category_id and not _categories_in_scope(scope).filter(pk=category_id).exists():
        errors["category"] = ["Choose one of the categories listed."]
    if payee_id and not _payee_in_scope(payee_id, scope):
        errors["payee"] = ["Choose one of the vendors listed."]
    if errors:
        raise InvalidInput("Check the report's settings.", fields=errors)
    narrowed: dict[str, int | None] = {
        "department_id": department_id or None,
        "category_id": category_id or None,
        "payee_id": payee_id or None,
    }
    if ReportSubscription.objects.filter(user=user, frequency=frequency, **narrowed).exists():
        raise InvalidInput("You already subscribe to this report.")
    return ReportSubscription.objects.create(user=user, frequency=frequency, **narrowed)


def _own(*, subscription_id: int, user: User) -> ReportSubscription:
    subscription = ReportSubscription.objects.filter(pk=subscription_id, user=user).first()
    if subscription is None:
        # Someone else's subscription looks the same as none at all.
        raise NotFound("No such report subscription.")
    return subscription


def report_subscription_set_active(
    *, subscription_id: int, user: User, active: bool
) -> ReportSubscription:
    """Pause or resume the user's own subscription. A resumed one sends the last full
    period on the next beat if it was never sent."""
    subscription = _own(subscription_id=subscription_id, user=user)
    if subscription.is_active != active:
        subscription.is_active = active
        subscription.save(update_fields=["is_active"])
    return subscription


def report_subscription_delete(*, subscription_id: int, user: User) -> None:
    """Delete the user's own subscription, and with it the record of what it sent."""
    _own(subscription_id=subscription_id, user=user).delete()


# --- What is due -----------------------------------------------------------------------


def report_deliveries_due(*, today: dt.date) -> list[tuple[int, dt.date]]:
    """(subscription id, period start) for each active subscription whose last full period
    has ended without a delivery. Only periods that ended after the subscription was made:
    subscribing does not send last month's report straight away.

    The role test mirrors `spend_access`, so that a user who lost access is not queued every
    hour; the send checks `spend_access` itself, which is what decides.
    """
    may_see = Q(user__is_superuser=True) | Q(
        user__roles__role__in=[*ROLES_SEEING_ALL_SPEND, Role.MANAGER]
    )
    due: list[tuple[int, dt.date]] = []
    for frequency in ReportFrequency.values:
        period = report_period_last_full(frequency=frequency, today=today)
        subscriptions = (
            ReportSubscription.objects.filter(
                may_see,
                frequency=frequency,
                is_active=True,
                user__is_active=True,
                created_at__date__lte=period.end,
            )
            .exclude(user__email="")
            .exclude(
                pk__in=ReportDelivery.objects.filter(period_start=period.start).values(
                    "subscription_id"
                )
            )
            .values_list("pk", flat=True)
            .distinct()
            .order_by("pk")
        )
        due.extend((pk, period.start) for pk in subscriptions)
    return due


def report_latest_deliveries(user: User) -> dict[int, ReportDelivery]:
    """The last delivery of each of the user's subscriptions, by subscription id."""
    latest: dict[int, ReportDelivery] = {}
    for delivery in ReportDelivery.objects.filter(subscription__user=user).order_by(
        "subscription_id", "-period_start"
    ):
        latest.setdefault(delivery.subscription_id, delivery)
    return latest
