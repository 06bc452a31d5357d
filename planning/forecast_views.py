"""The forecast page under /planning/forecast/ and its CSV and XLSX downloads.

Finance, procurement and admins see every department; a manager sees their own department
(and those they head); anyone else gets 403. Thin: parse the filters (narrowed to the user),
call planning.forecast.forecast_build, render. The JSON API (planning/forecast_api.py)
builds the same form with the same scope. The chart is drawn in the browser by
static/js/forecast.js from a json_script payload, like the spend charts (no CDN, no inline
script); the tables under it hold the exact figures.
"""

from __future__ import annotations

from typing import Any, cast

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from analytics.exports import Table, table_response
from planning.forecast import SOURCES, Forecast, forecast_build
from planning.forecast_forms import ForecastForm, forecast_form_for
from procurement.errors import NotAllowed
from procurement.models import User

EXPORT_FORMATS = ("csv", "xlsx")
# Things listed under "What makes up the forecast"; the downloads hold every row.
ITEMS_SHOWN = 20


def _user(request: HttpRequest) -> User:
    # @login_required has run: the user is a real account.
    return cast(User, request.user)


def _form(request: HttpRequest) -> ForecastForm:
    try:
        return forecast_form_for(_user(request), request.GET, today=timezone.localdate())
    except NotAllowed as error:
        raise PermissionDenied(error.message) from None


def _chart(forecast: Forecast) -> dict[str, Any]:
    return {
        "currency": settings.BASE_CURRENCY,
        "labels": [f"{m.month:%Y-%m}" for m in forecast.months],
        "datasets": [
            {"label": source.label, "data": [str(m.by_source[i]) for m in forecast.months]}
            for i, source in enumerate(SOURCES)
        ],
        "line": (
            {"label": "Budget", "data": [str(m.budget) for m in forecast.months]}
            if forecast.has_budget
            else None
        ),
    }


def _tables(forecast: Forecast) -> list[Table]:
    currency = settings.BASE_CURRENCY
    rows = Table(
        title="Forecast rows",
        header=[
            "Month",
            "Source",
            "Category",
            "Department",
            "Vendor",
            "Reference",
            f"Amount ({currency})",
        ],
        rows=[
            [
                f"{row.month:%Y-%m}",
                row.source.label,
                row.category,
                row.department,
                row.vendor,
                row.reference,
                row.amount,
            ]
            for row in forecast.rows
        ],
        notes=[(f"Total ({currency})", forecast.total)],
    )
    months = Table(
        title="Forecast per month",
        header=[
            "Month",
            *(f"{s.label} ({currency})" for s in SOURCES),
            f"Total ({currency})",
            f"Budget ({currency})",
        ],
        rows=[
            [f"{m.month:%Y-%m}", *m.by_source, m.total, m.budget if forecast.has_budget else None]
            for m in forecast.months
        ],
    )
    comparison = Table(
        title="Budget vs forecast",
        header=[
            "Department",
            "Fiscal year",
            "Budgets",
            f"Budget for the year ({currency})",
            f"Budget in these months ({currency})",
            f"Consumed so far ({currency})",
            f"Forecast ({currency})",
            f"Projected ({currency})",
            f"Remaining ({currency})",
            "First month over budget",
            "Months ahead",
        ],
        rows=[
            [
                c.department,
                str(c.fiscal_year),
                ", ".join(c.budget_labels),
                c.budget,
                c.budget_in_window,
                c.consumed,
                c.forecast,
                c.projected,
                c.remaining,
                f"{c.overrun_month:%Y-%m}" if c.overrun_month else "",
                c.months_ahead,
            ]
            for c in forecast.comparisons
        ],
    )
    return [rows, months, comparison]


@login_required
@require_GET
def forecast_page(request: HttpRequest) -> HttpResponse:
    form = _form(request)
    context: dict[str, Any] = {
        "form": form,
        "filtered": form.filtered,
        "currency": settings.BASE_CURRENCY,
        "sources": SOURCES,
    }
    if not form.is_valid():
        return render(
            request, "planning/forecast/page.html", {**context, "invalid": True}, status=400
        )
    forecast = forecast_build(filters=form.filters(), today=form.today)
    return render(
        request,
        "planning/forecast/page.html",
        {
            **context,
            "forecast": forecast,
            "chart": _chart(forecast),
            "items": forecast.items(ITEMS_SHOWN),
            "more_items": max(len(forecast.items()) - ITEMS_SHOWN, 0),
        },
    )


@login_required
@require_GET
def forecast_export(request: HttpRequest, file_format: str) -> HttpResponse:
    """The forecast's rows as CSV (the rows) or XLSX (the rows, the months and the budget
    comparison, one sheet each). 400 with a JSON body naming the bad filter."""
    if file_format not in EXPORT_FORMATS:
        raise Http404("Downloads are CSV or XLSX.")
    form = _form(request)
    if not form.is_valid():
        error = form.invalid_input()
        return JsonResponse(
            {"code": error.code, "detail": error.message, "errors": error.fields},
            status=error.status,
        )
    forecast = forecast_build(filters=form.filters(), today=form.today)
    stem = f"forecast-{forecast.start:%Y-%m}-to-{forecast.end:%Y-%m}"
    return table_response(_tables(forecast), file_format=file_format, filename=stem)
