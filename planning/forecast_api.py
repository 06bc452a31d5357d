"""The forecast's JSON API, GET /api/planning/forecast/ (URL name "planning-forecast"),
beside the objectives, budgets and needs APIs. See docs/planning/forecast.md.

The page's figures for the page's filters (start, department, category as query
parameters), with the page's scope: the form is built by forecast_forms.forecast_form_for
for both, and planning.forecast.forecast_build computes. Amounts are decimal strings in the
base currency; months are "YYYY-MM". Errors leave through procurement.api.exception_handler
as {"code", "detail", "errors"}: 403 before 400, so someone without access learns nothing
from the parameters.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.utils import timezone
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from analytics.api import MonthField
from planning.forecast import (
    MAX_MONTHS_AHEAD,
    SOURCES,
    UNASSIGNED_ID,
    BudgetComparison,
    Forecast,
    ForecastItem,
    ForecastSource,
    forecast_build,
)
from planning.forecast_forms import forecast_form_for
from procurement.api import error_responses, signed_in_user

_TAGS = ["planning: forecast"]
_ERRORS = error_responses(
    400,
    403,
    texts={
        400: "A bad filter: `errors` names it (start, department, category).",
        403: "Not authenticated, or not allowed to see the forecast (finance, procurement, "
        "admins and managers).",
    },
)
PARAMETERS = [
    OpenApiParameter(
        "start",
        str,
        OpenApiParameter.QUERY,
        required=False,
        description="The first of the twelve months, YYYY-MM: this month (the default) or up "
        f"to {MAX_MONTHS_AHEAD} months later.",
    ),
    OpenApiParameter(
        "department",
        int,
        OpenApiParameter.QUERY,
        required=False,
        description=f"A department's id, or {UNASSIGNED_ID} for the rows without one (not for "
        "managers). A manager may name only their departments.",
    ),
    OpenApiParameter(
        "category",
        int,
        OpenApiParameter.QUERY,
        required=False,
        description=f"A category's id, or {UNASSIGNED_ID} for the rows without one.",
    ),
]


def _money(**kwargs: Any) -> serializers.DecimalField:
    return serializers.DecimalField(max_digits=18, decimal_places=2, **kwargs)


# --- Output ------------------------------------------------------------------------------


class ForecastAmountsSerializer(serializers.Serializer):
    renewal = _money(help_text="Contract renewals.")
    recurring = _money(help_text="Recurring (off-contract) spend.")
    approved = _money(help_text="Approved requests not yet ordered.")
    need = _money(help_text="Open needs.")
    total = _money()
    budget = _money(
        allow_null=True, help_text="The budgets' phasing; null when no budget is compared."
    )


class ForecastMonthSerializer(ForecastAmountsSerializer):
    month = MonthField(help_text="YYYY-MM.")


class ForecastItemSerializer(serializers.Serializer):
    # DRF's metaclass takes declared fields off the class, so "source" shadows nothing.
    source = serializers.ChoiceField(choices=ForecastSource.choices)  # type: ignore[assignment]
    reference = serializers.CharField(
        help_text="The contract, run-rate, request or need. A request you may not open is "
        "named by its reference only."
    )
    vendor = serializers.CharField(help_text="Empty when none is known (needs).")
    department = serializers.CharField(help_text='"Unassigned" when none could be found.')
    category = serializers.CharField(help_text='"Unassigned" when none could be found.')
    months = serializers.IntegerField(help_text="How many of the twelve months it falls in.")
    amount = _money(help_text="Over the twelve months.")


class ForecastBudgetSerializer(serializers.Serializer):
    department_id = serializers.IntegerField()
    department = serializers.CharField()
    fiscal_year = serializers.CharField(help_text="The fiscal year's name, e.g. FY2027.")
    budgets = serializers.ListField(
        child=serializers.CharField(), help_text="The budgets summed, e.g. IT-100."
    )
    budget = _money(help_text="For the year.")
    budget_in_window = _money(help_text="Its phasing over the twelve months.")
    consumed = _money(help_text="Spent and committed so far, approved requests included.")
    forecast = _money(
        help_text="From this month to the window's end, in the year; approved requests left "
        "out (they are in `consumed`)."
    )
    projected = _money(help_text="consumed + forecast.")
    remaining = _money(help_text="budget - projected.")
    overrun_month = MonthField(
        allow_null=True, help_text="The first month over budget; null: within budget."
    )
    months_ahead = serializers.IntegerField(
        allow_null=True, help_text="From this month to the overrun month; null: within budget."
    )


class ForecastSerializer(serializers.Serializer):
    currency = serializers.CharField(help_text="The base currency of every amount.")
    start = MonthField(help_text="The window's first month.")
    end = MonthField(help_text="The window's last month.")
    this_month = MonthField(help_text="The month the forecast runs from.")
    months = ForecastMonthSerializer(many=True, help_text="The twelve months, in order.")
    totals = ForecastAmountsSerializer(help_text="The twelve months summed.")
    items = ForecastItemSerializer(
        many=True, help_text="Everything forecast, summed over the window, largest first."
    )
    budgets = ForecastBudgetSerializer(
        many=True, help_text="Budget vs forecast per department and fiscal year."
    )
    warnings = serializers.ListField(
        child=serializers.CharField(),
        help_text="What was left out, e.g. a contract in a currency without an exchange rate.",
    )


def _amounts(by_source: list[Decimal], *, total: Decimal, budget: Decimal | None) -> dict[str, Any]:
    return {
        **{source.value: amount for source, amount in zip(SOURCES, by_source, strict=True)},
        "total": total,
        "budget": budget,
    }


def _item(item: ForecastItem) -> dict[str, Any]:
    return {
        "source": item.source.value,
        "reference": item.reference,
        "vendor": item.vendor,
        "department": item.department,
        "category": item.category,
        "months": item.months,
        "amount": item.amount,
    }


def _budget(comparison: BudgetComparison) -> dict[str, Any]:
    return {
        "department_id": comparison.department_id,
        "department": comparison.department,
        "fiscal_year": comparison.fiscal_year.name,
        "budgets": comparison.budget_labels,
        "budget": comparison.budget,
        "budget_in_window": comparison.budget_in_window,
        "consumed": comparison.consumed,
        "forecast": comparison.forecast,
        "projected": comparison.projected,
        "remaining": comparison.remaining,
        "overrun_month": comparison.overrun_month,
        "months_ahead": comparison.months_ahead,
    }


def _body(forecast: Forecast) -> dict[str, Any]:
    budgeted = forecast.has_budget
    return {
        "currency": settings.BASE_CURRENCY,
        "start": forecast.start,
        "end": forecast.end,
        "this_month": forecast.this_month,
        "months": [
            {
                "month": m.month,
                **_amounts(m.by_source, total=m.total, budget=m.budget if budgeted else None),
            }
            for m in forecast.months
        ],
        "totals": _amounts(
            forecast.source_totals,
            total=forecast.total,
            budget=forecast.budget_total if budgeted else None,
        ),
        "items": [_item(item) for item in forecast.items()],
        "budgets": [_budget(comparison) for comparison in forecast.comparisons],
        "warnings": forecast.warnings,
    }


# --- View --------------------------------------------------------------------------------


class ForecastApi(APIView):
    @extend_schema(
        operation_id="planning_forecast",
        summary="The 12-month forecast: expected spend per month and source, and the budgets",
        description="The forecast page's figures (/planning/forecast/) for the same filters. "
        "Finance, procurement and admins see every department and the unassigned rows; a "
        "manager sees their departments, and an approved request they may not open by its "
        "reference only.",
        parameters=PARAMETERS,
        responses={200: ForecastSerializer, **_ERRORS},
        examples=[
            OpenApiExample(
                "A malformed month",
                response_only=True,
                status_codes=["400"],
                value={
                    "code": "invalid",
                    "detail": "start: Use YYYY-MM, e.g. 2026-01.",
                    "errors": {"start": ["Use YYYY-MM, e.g. 2026-01."]},
                },
            )
        ],
        tags=_TAGS,
    )
    def get(self, request: Request) -> Response:
        form = forecast_form_for(
            signed_in_user(request), request.query_params, today=timezone.localdate()
        )
        if not form.is_valid():
            raise form.invalid_input()
        forecast = forecast_build(filters=form.filters(), today=form.today)
        return Response(ForecastSerializer(_body(forecast)).data)
