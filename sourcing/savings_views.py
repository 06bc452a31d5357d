"""The savings view under /analytics/savings/: what sourcing saved, award by award.

The same shape as the spend pages (analytics/views.py): the shared filter form (GET),
narrowed to the user by `spend_filters_for` (a manager sees their departments only; people
without spend access get 403), a chart of savings per month drawn by
static/analytics/charts.js, a table, and the same table as CSV or XLSX with ?format=.
"""

from __future__ import annotations

from typing import Any, cast

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from analytics.exports import Table, table_response
from analytics.forms import SpendFilterForm
from analytics.scope import SpendFilters, spend_access, spend_filters_for
from procurement.models import User
from sourcing.savings import SavingsSummary, savings_summary

EXPORT_FORMATS = ("csv", "xlsx")


def _user(request: HttpRequest) -> User:
    # @login_required has run: the user is a real account.
    return cast(User, request.user)


def _period(filters: SpendFilters) -> str:
    if filters.month_from and filters.month_to:
        return f"{filters.month_from:%Y-%m}-to-{filters.month_to:%Y-%m}"
    if filters.month_from:
        return f"from-{filters.month_from:%Y-%m}"
    if filters.month_to:
        return f"to-{filters.month_to:%Y-%m}"
    return "all-months"


def _tables(summary: SavingsSummary) -> list[Table]:
    currency = settings.BASE_CURRENCY
    awards = Table(
        title="Savings per award",
        header=[
            "RFQ",
            "Title",
            "Vendor",
            "Department",
            "Category",
            "Recorded on",
            "Baseline",
            f"Baseline ({currency})",
            f"Final ({currency})",
            f"Saved ({currency})",
            "Saved (%)",
        ],
        rows=[
            [
                row.rfq_reference,
                row.rfq_title,
                row.vendor,
                row.department,
                row.category,
                row.recorded_on,
                row.baseline_kind,
                row.baseline_base,
                row.final_base,
                row.saved_base,
                row.percent,
            ]
            for row in summary.rows
        ],
        notes=[
            ("Awards", summary.awards),
            (f"Baseline ({currency})", summary.baseline),
            (f"Final ({currency})", summary.final),
            (f"Saved ({currency})", summary.saved),
            ("Saved (%)", summary.percent),
        ],
    )
    months = Table(
        title="Savings per month",
        header=[
            "Month",
            "Awards",
            f"Baseline ({currency})",
            f"Final ({currency})",
            f"Saved ({currency})",
        ],
        rows=[[f"{m.month:%Y-%m}", m.awards, m.baseline, m.final, m.saved] for m in summary.months],
    )
    return [awards, months]


def _chart(summary: SavingsSummary) -> dict[str, Any]:
    return {
        "type": "bar",
        "currency": settings.BASE_CURRENCY,
        "labels": [f"{m.month:%Y-%m}" for m in summary.months],
        "datasets": [{"label": "Saved", "data": [str(m.saved) for m in summary.months]}],
    }


@login_required
@require_GET
def overview(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    if not spend_access(user):
        raise PermissionDenied("Savings are for procurement, finance and managers.")
    scope = spend_filters_for(user)
    form = SpendFilterForm(request.GET, scope_department_ids=scope.scope_department_ids)
    context: dict[str, Any] = {
        "form": form,
        "filtered": form.filtered,
        "currency": settings.BASE_CURRENCY,
    }
    if not form.is_valid():
        return render(
            request, "sourcing/savings/overview.html", {**context, "invalid": True}, status=400
        )
    filters = spend_filters_for(user, form.spend_filters)
    summary = savings_summary(filters=filters)
    file_format = request.GET.get("format", "")
    if file_format in EXPORT_FORMATS:
        return table_response(
            _tables(summary), file_format=file_format, filename=f"savings-{_period(filters)}"
        )
    return render(
        request,
        "sourcing/savings/overview.html",
        {**context, "summary": summary, "chart": _chart(summary)},
    )
