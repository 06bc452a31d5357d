"""Savings from sourcing, for the analytics savings view: what each approved award saved
against its baseline (sourcing.awards.saving_record writes one row per award).

Filtered with the spend filters every analytics view takes (`analytics.scope.SpendFilters`,
already narrowed to the user by `spend_filters_for`). Those name spend dimensions; a saving
names our own records, so each filter goes through the mapping analytics keeps:
a spend department -> its department, a spend category -> its category, a payee -> its
vendor. A manager therefore sees the savings of the departments their spend scope maps to.
Months filter on the day the saving was recorded.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import TruncMonth

from analytics.models import Payee, SpendCategory, SpendDepartment
from analytics.scope import SpendFilters
from sourcing.models import ZERO, Saving

# Rows listed (and exported) per view, the latest first; the totals count them all.
ROWS_MAX = 5_000
PERCENT_PLACES = Decimal("0.1")


@dataclass
class SavingRow:
    saving: Saving
    rfq_reference: str
    rfq_title: str
    vendor: str
    department: str
    category: str
    recorded_on: dt.date
    baseline_kind: str
    currency: str
    baseline: Decimal  # in the RFQ's currency
    final: Decimal
    baseline_base: Decimal
    final_base: Decimal
    saved_base: Decimal
    percent: Decimal | None


@dataclass
class SavingsMonth:
    month: dt.date
    awards: int
    baseline: Decimal
    final: Decimal
    saved: Decimal


@dataclass
class SavingsSummary:
    rows: list[SavingRow]
    months: list[SavingsMonth]
    awards: int
    baseline: Decimal
    final: Decimal
    saved: Decimal
    percent: Decimal | None
    truncated: bool


def percent_saved(saved: Decimal, baseline: Decimal) -> Decimal | None:
    """saved / baseline x 100, to one decimal; None without a baseline."""
    if baseline <= 0:
        return None
    return (Decimal(100) * saved / baseline).quantize(PERCENT_PLACES, rounding=ROUND_HALF_UP)


def _next_month(month: dt.date) -> dt.date:
    return dt.date(month.year + month.month // 12, month.month % 12 + 1, 1)


def _departments(spend_department_ids: frozenset[int]) -> Q:
    return Q(
        department_id__in=SpendDepartment.objects.filter(
            id__in=spend_department_ids, department__isnull=False
        ).values("department_id")
    )


def savings_filtered(*, filters: SpendFilters) -> QuerySet[Saving]:
    """The savings `filters` select (spend dimensions mapped to ours; see the module doc)."""
    q = Q()
    if filters.month_from:
        q &= Q(recorded_on__gte=filters.month_from)
    if filters.month_to:
        q &= Q(recorded_on__lt=_next_month(filters.month_to))
    if filters.department_ids:
        q &= _departments(filters.department_ids)
    if filters.scope_department_ids is not None:
        # Empty: the user may see no department's spend, so no savings either.
        q &= _departments(filters.scope_department_ids)
    if filters.category_ids:
        q &= Q(
            category_id__in=SpendCategory.objects.filter(
                id__in=filters.category_ids, category__isnull=False
            ).values("category_id")
        )
    if filters.payee_ids:
        q &= Q(
            vendor_id__in=Payee.objects.filter(
                id__in=filters.payee_ids, vendor__isnull=False
            ).values("vendor_id")
        )
    return Saving.objects.filter(q)


def savings_summary(*, filters: SpendFilters) -> SavingsSummary:
    """Totals, savings per month and one row per award (the latest ROWS_MAX), in the base
    currency, for the savings `filters` select."""
    savings = savings_filtered(filters=filters)
    totals = savings.aggregate(
        awards=Count("id"),
        baseline=Sum("baseline_base"),
        final=Sum("final_base"),
        saved=Sum("saved_base"),
    )
    months = [
        SavingsMonth(
            month=row["month"].date() if isinstance(row["month"], dt.datetime) else row["month"],
            awards=row["awards"],
            baseline=row["baseline"] or ZERO,
            final=row["final"] or ZERO,
            saved=row["saved"] or ZERO,
        )
        for row in savings.annotate(month=TruncMonth("recorded_on"))
        .values("month")
        .annotate(
            awards=Count("id"),
            baseline=Sum("baseline_base"),
            final=Sum("final_base"),
            saved=Sum("saved_base"),
        )
        .order_by("month")
    ]
    rows = [
        SavingRow(
            saving=saving,
            rfq_reference=saving.award.rfq.reference,
            rfq_title=saving.award.rfq.title,
            vendor=saving.vendor.legal_name,
            department=saving.department.name,
            category=saving.category.name,
            recorded_on=saving.recorded_on,
            baseline_kind=saving.get_baseline_kind_display(),
            currency=saving.currency,
            baseline=saving.baseline_amount,
            final=saving.final_amount,
            baseline_base=saving.baseline_base,
            final_base=saving.final_base,
            saved_base=saving.saved_base,
            percent=percent_saved(saving.saved_base, saving.baseline_base),
        )
        for saving in savings.select_related(
            "award__rfq", "vendor", "department", "category"
        ).order_by("-recorded_on", "-id")[:ROWS_MAX]
    ]
    baseline = totals["baseline"] or ZERO
    saved = totals["saved"] or ZERO
    return SavingsSummary(
        rows=rows,
        months=_with_gaps(months),
        awards=totals["awards"],
        baseline=baseline,
        final=totals["final"] or ZERO,
        saved=saved,
        percent=percent_saved(saved, baseline),
        truncated=totals["awards"] > len(rows),
    )


def _with_gaps(months: list[SavingsMonth]) -> list[SavingsMonth]:
    """Every month from the first to the last, those without savings at zero (the chart's
    axis is time)."""
    if not months:
        return []
    by_month = {m.month: m for m in months}
    filled, month = [], months[0].month
    while month <= months[-1].month:
        filled.append(by_month.get(month) or SavingsMonth(month, 0, ZERO, ZERO, ZERO))
        month = _next_month(month)
    return filled
