"""The spend dashboards under /analytics/: an overview and one page per view (over time,
categories, vendors, departments, on/off contract, prices).

Every page is the same shape: the filter form (GET), a chart drawn in the browser by
static/analytics/charts.js from a json_script payload, a table, and the same table as CSV or
XLSX with ?format=csv|xlsx. Thin by design: parse the filters, narrow them to the user
(scope.spend_filters_for), call one selector, render. Managers see their departments only;
people without spend access get 403.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal, cast

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.views.decorators.http import require_GET

from analytics.exports import Cell, Table, table_response
from analytics.forms import SpendFilterForm
from analytics.scope import SpendFilters, spend_access, spend_filters_for
from analytics.selectors import (
    ZERO,
    Dimension,
    MonthSpend,
    SpendBreakdown,
    SpendOverTime,
    SpendSeries,
    spend_by_category,
    spend_by_department,
    spend_by_vendor,
    spend_on_contract,
    spend_over_time,
    spend_price_variance,
    spend_summary,
)
from procurement.errors import InvalidInput
from procurement.models import User

# The tabs of every spend page, in order: (URL name, label).
TABS = [
    ("analytics:overview", "Overview"),
    ("analytics:over-time", "Over time"),
    ("analytics:categories", "Categories"),
    ("analytics:vendors", "Vendors"),
    ("analytics:departments", "Departments"),
    ("analytics:contract", "On / off contract"),
    ("analytics:prices", "Prices"),
]
# Bars drawn in a breakdown chart; the rest is one "Other" bar (the table lists them all).
CHART_BARS = 15
# Lines drawn in the price chart.
CHART_PRICE_ITEMS = 8
EXPORT_FORMATS = ("csv", "xlsx")
FILTER_PARAMS = ("from", "to", "department", "category", "vendor", "payee")


@dataclass
class Figures:
    """What one page shows: its template context, chart and tables (also the downloads)."""

    context: dict[str, Any]
    tables: list[Table]
    chart: dict[str, Any] | None = None
    has_spend: bool = True


def _user(request: HttpRequest) -> User:
    # @login_required has run: the user is a real account, not AnonymousUser.
    return cast(User, request.user)


def _import_url() -> str | None:
    try:
        return reverse("spend_imports:list")
    except NoReverseMatch:
        return None


def _period(filters: SpendFilters) -> str:
    if filters.month_from and filters.month_to:
        return f"{filters.month_from:%Y-%m}-to-{filters.month_to:%Y-%m}"
    if filters.month_from:
        return f"from-{filters.month_from:%Y-%m}"
    if filters.month_to:
        return f"to-{filters.month_to:%Y-%m}"
    return "all-months"


def _filter_query(request: HttpRequest) -> str:
    """The filters of this page as a query string, for the links to the other views."""
    query = QueryDict(mutable=True)
    for name in FILTER_PARAMS:
        values = [v for v in request.GET.getlist(name) if v]
        if values:
            query.setlist(name, values)
    return query.urlencode()


def _spend_page(
    request: HttpRequest,
    *,
    template: str,
    title: str,
    build: Callable[[SpendFilters, dict[str, Any]], Figures],
    split: bool = False,
) -> HttpResponse:
    user = _user(request)
    if not spend_access(user):
        raise PermissionDenied("Spend analytics are for procurement, finance and managers.")
    scope = spend_filters_for(user)
    form = SpendFilterForm(
        request.GET, scope_department_ids=scope.scope_department_ids, split=split
    )
    context: dict[str, Any] = {
        "title": title,
        "form": form,
        "tabs": TABS,
        "currency": settings.BASE_CURRENCY,
        "import_url": _import_url(),
        "filtered": form.filtered,
        "filter_query": _filter_query(request),
    }
    if not form.is_valid():
        return render(request, template, {**context, "invalid": True}, status=400)
    filters = spend_filters_for(user, form.spend_filters)
    try:
        figures = build(filters, form.cleaned_data)
    except InvalidInput as error:
        # A view that needs narrowing (prices per item): say so next to the field, no figures.
        for name, messages in error.fields.items():
            form.add_error(name if name in form.fields else None, messages)
        return render(request, template, {**context, "invalid": True})
    file_format = request.GET.get("format", "")
    if file_format in EXPORT_FORMATS:
        stem = f"spend-{title}-{_period(filters)}"
        return table_response(figures.tables, file_format=file_format, filename=stem)
    return render(
        request,
        template,
        {
            **context,
            **figures.context,
            "chart": figures.chart,
            "has_spend": figures.has_spend,
            "tables": figures.tables,
        },
    )


def _bars(labels: list[str], amounts: list[Decimal], *, label: str) -> dict[str, Any]:
    """A bar chart of the CHART_BARS largest, the rest as one "Other" bar."""
    if len(labels) > CHART_BARS:
        rest = sum(amounts[CHART_BARS - 1 :], ZERO)
        labels = [*labels[: CHART_BARS - 1], "Other"]
        amounts = [*amounts[: CHART_BARS - 1], rest]
    return {
        "type": "bar",
        "horizontal": True,
        "currency": settings.BASE_CURRENCY,
        "labels": labels,
        "datasets": [{"label": label, "data": [str(a) for a in amounts]}],
    }


def _breakdown_table(title: str, column: str, breakdown: SpendBreakdown) -> Table:
    return Table(
        title=title,
        header=[column, f"Spend ({settings.BASE_CURRENCY})", "Lines", "Share of total (%)"],
        rows=[[row.name, row.amount, row.lines, row.share] for row in breakdown.rows],
        notes=[("Total", breakdown.total), ("Lines", breakdown.lines)],
    )


# --- Overview ----------------------------------------------------------------------------


def _overview(filters: SpendFilters, _data: dict[str, Any]) -> Figures:
    summary = spend_summary(filters=filters)
    over_time = spend_over_time(filters=filters)
    figures: list[list[Cell]] = [
        ["Total spend", summary.total],
        ["Lines", summary.lines],
        ["Vendors", summary.vendors],
        ["Share of the top 10 vendors (%)", summary.top_share],
        ["Off-contract share (%)", summary.off_contract_share],
        ["Months", summary.months],
    ]
    return Figures(
        context={"summary": summary, "over_time": over_time, "month_rows": _month_rows(over_time)},
        tables=[
            Table("Key figures", ["Figure", "Value"], figures),
            _months_table(over_time.months, []),
        ],
        chart=_months_chart(over_time),
        has_spend=summary.lines > 0,
    )


@login_required
@require_GET
def spend_overview_page(request: HttpRequest) -> HttpResponse:
    return _spend_page(
        request, template="analytics/dashboard.html", title="overview", build=_overview
    )


# --- Over time ---------------------------------------------------------------------------


def _month_rows(over_time: SpendOverTime) -> list[tuple[MonthSpend, list[Decimal]]]:
    return [
        (month, [s.amounts[index] for s in over_time.series])
        for index, month in enumerate(over_time.months)
    ]


def _months_table(months: list[MonthSpend], series: list[SpendSeries]) -> Table:
    return Table(
        title="Spend per month",
        header=[
            "Month",
            f"Spend ({settings.BASE_CURRENCY})",
            "Lines",
            *(s.name for s in series),
        ],
        rows=[
            [f"{m.month:%Y-%m}", m.amount, m.lines, *(s.amounts[i] for s in series)]
            for i, m in enumerate(months)
        ],
    )


def _months_chart(over_time: SpendOverTime) -> dict[str, Any]:
    labels = [f"{m.month:%Y-%m}" for m in over_time.months]
    if over_time.series:
        datasets = [
            {"label": s.name, "data": [str(a) for a in s.amounts]} for s in over_time.series
        ]
    else:
        datasets = [{"label": "Spend", "data": [str(m.amount) for m in over_time.months]}]
    return {
        "type": "bar",
        "stacked": bool(over_time.series),
        "currency": settings.BASE_CURRENCY,
        "labels": labels,
        "datasets": datasets,
    }


def _over_time(filters: SpendFilters, data: dict[str, Any]) -> Figures:
    split: Dimension | None = data.get("split") or None
    over_time = spend_over_time(filters=filters, split_by=split)
    return Figures(
        context={"over_time": over_time, "split": split, "month_rows": _month_rows(over_time)},
        tables=[_months_table(over_time.months, over_time.series)],
        chart=_months_chart(over_time),
        has_spend=over_time.lines > 0,
    )


@login_required
@require_GET
def spend_over_time_page(request: HttpRequest) -> HttpResponse:
    return _spend_page(
        request,
        template="analytics/dashboard_over_time.html",
        title="over-time",
        build=_over_time,
        split=True,
    )


# --- Categories and departments ----------------------------------------------------------


def _breakdown_figures(breakdown: SpendBreakdown, column: str) -> Figures:
    return Figures(
        context={"breakdown": breakdown, "column": column},
        tables=[_breakdown_table(f"Spend by {column.lower()}", column, breakdown)],
        chart=_bars(
            [r.name for r in breakdown.rows], [r.amount for r in breakdown.rows], label="Spend"
        ),
        has_spend=breakdown.lines > 0,
    )


def _categories(filters: SpendFilters, _data: dict[str, Any]) -> Figures:
    return _breakdown_figures(spend_by_category(filters=filters), "Category")


@login_required
@require_GET
def spend_categories_page(request: HttpRequest) -> HttpResponse:
    return _spend_page(
        request,
        template="analytics/dashboard_breakdown.html",
        title="by-category",
        build=_categories,
    )


def _departments(filters: SpendFilters, _data: dict[str, Any]) -> Figures:
    return _breakdown_figures(spend_by_department(filters=filters), "Department")


@login_required
@require_GET
def spend_departments_page(request: HttpRequest) -> HttpResponse:
    return _spend_page(
        request,
        template="analytics/dashboard_breakdown.html",
        title="by-department",
        build=_departments,
    )


# --- Vendors -----------------------------------------------------------------------------


def _vendors(filters: SpendFilters, _data: dict[str, Any]) -> Figures:
    spend = spend_by_vendor(filters=filters)
    table = Table(
        title="Top vendors",
        header=[
            "Vendor",
            "Matched to a vendor record",
            f"Spend ({settings.BASE_CURRENCY})",
            "Lines",
            "Share of total (%)",
        ],
        rows=[
            [r.name, "yes" if r.matched else "no (unmatched)", r.amount, r.lines, r.share]
            for r in spend.rows
        ],
        notes=[
            ("Total", spend.total),
            ("Vendors paid", spend.groups),
            ("Share of the top 10 (%)", spend.top_share),
        ],
    )
    return Figures(
        context={"spend": spend, "column": "Vendor"},
        tables=[table],
        chart=_bars([r.name for r in spend.rows], [r.amount for r in spend.rows], label="Spend"),
        has_spend=spend.lines > 0,
    )


@login_required
@require_GET
def spend_vendors_page(request: HttpRequest) -> HttpResponse:
    return _spend_page(
        request, template="analytics/dashboard_vendors.html", title="by-vendor", build=_vendors
    )


# --- On and off contract -----------------------------------------------------------------


def _contract(filters: SpendFilters, _data: dict[str, Any]) -> Figures:
    spend = spend_on_contract(filters=filters)
    header = [
        f"On contract ({settings.BASE_CURRENCY})",
        f"Off contract ({settings.BASE_CURRENCY})",
        "Off-contract share (%)",
    ]
    return Figures(
        context={
            "spend": spend,
            "contract_tables": [(spend.months, "Month"), (spend.categories, "Category")],
        },
        tables=[
            Table(
                "Contract spend per month",
                ["Month", *header],
                [
                    [r.name, r.on_contract, r.off_contract, r.off_contract_share]
                    for r in spend.months
                ],
                notes=[
                    ("On contract", spend.on_contract),
                    ("Off contract", spend.off_contract),
                    ("Off-contract share (%)", spend.off_contract_share),
                ],
            ),
            Table(
                "Contract spend per category",
                ["Category", *header],
                [
                    [r.name, r.on_contract, r.off_contract, r.off_contract_share]
                    for r in spend.categories
                ],
            ),
        ],
        chart={
            "type": "bar",
            "stacked": True,
            "currency": settings.BASE_CURRENCY,
            "labels": [r.name for r in spend.months],
            "datasets": [
                {"label": "On contract", "data": [str(r.on_contract) for r in spend.months]},
                {"label": "Off contract", "data": [str(r.off_contract) for r in spend.months]},
            ],
        },
        has_spend=bool(spend.months),
    )


@login_required
@require_GET
def spend_contract_page(request: HttpRequest) -> HttpResponse:
    return _spend_page(
        request, template="analytics/dashboard_contract.html", title="contract", build=_contract
    )


# --- Prices ------------------------------------------------------------------------------


def _prices(filters: SpendFilters, data: dict[str, Any]) -> Figures:
    # Items within a category or vendor; across categories, the categories themselves.
    by: Literal["description", "category"] = (
        "description" if (filters.category_ids or filters.payee_ids) else "category"
    )
    variance = spend_price_variance(filters=filters, by=by)
    months = sorted({p.month for item in variance.items for p in item.points})
    labels = [f"{m:%Y-%m}" for m in months]
    datasets = []
    for item in variance.items[:CHART_PRICE_ITEMS]:
        medians: dict[dt.date, Decimal] = {p.month: p.median for p in item.points}
        datasets.append(
            {
                "label": item.name,
                "data": [str(medians[m]) if m in medians else None for m in months],
            }
        )
    column = "Item" if by == "description" else "Category"
    table = Table(
        title="Prices per month",
        header=[
            column,
            "Month",
            "Lines",
            f"Lowest ({settings.BASE_CURRENCY})",
            f"Median ({settings.BASE_CURRENCY})",
            f"Highest ({settings.BASE_CURRENCY})",
            "Median vs first month (%)",
        ],
        rows=[
            [item.name, f"{p.month:%Y-%m}", p.lines, p.low, p.median, p.high, p.change]
            for item in variance.items
            for p in item.points
        ],
    )
    return Figures(
        context={"variance": variance, "column": column},
        tables=[table],
        chart={
            "type": "line",
            "currency": settings.BASE_CURRENCY,
            "labels": labels,
            "datasets": datasets,
        },
        has_spend=bool(variance.items),
    )


@login_required
@require_GET
def spend_prices_page(request: HttpRequest) -> HttpResponse:
    return _spend_page(
        request, template="analytics/dashboard_prices.html", title="prices", build=_prices
    )
