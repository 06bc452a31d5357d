"""Reads of spend for the dashboards, the API and the reports.

Every selector takes a `SpendFilters` already narrowed to the user (`scope.spend_filters_for`)
and answers through `spend_rows`, from the smallest source that holds every column it
filters or groups on: a one-dimension rollup (month x category, payee or department) for one
dimension, the cube (month x department x category x on/off contract) for those crossed, and
the lines themselves only where a payee (vendor) is crossed with anything else, since no
rollup holds payees with another dimension. The lines are then read within the filters
(the period, and a manager's departments, through the lines' (department, month) and
(payee, date) indexes). The price variance reads lines too: it needs single line amounts and
is therefore bounded to a category or vendor, a period and its top items.

Each selector runs a fixed, small number of queries, whatever the number of rows: sums are
`values().annotate()` over the rows with the names joined in the same query.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any, Literal

from django.db import connection, connections
from django.db.models import (
    Aggregate,
    Case,
    Count,
    DecimalField,
    ExpressionWrapper,
    F,
    FloatField,
    Max,
    Min,
    Q,
    QuerySet,
    Sum,
    When,
)
from django.db.models.functions import Coalesce

from analytics.models import (
    Payee,
    SpendByMonthCategory,
    SpendByMonthDepartment,
    SpendByMonthPayee,
    SpendByYearPayee,
    SpendCategory,
    SpendCube,
    SpendDepartment,
    SpendLine,
    SpendRollup,
)
from analytics.scope import SpendFilters
from procurement.errors import InvalidInput
from vendors.models import Vendor

ZERO = Decimal("0.00")
CENT = Decimal("0.01")
# Vendors counted in the concentration figure ("share of the top 10").
CONCENTRATION_TOP = 10
# Price variance reads lines: it compares at most this many items...
PRICE_ITEMS_MAX = 50
# ...over at most this many months when no period is given.
PRICE_DEFAULT_MONTHS = 12
NONE_NAMED = "(none named)"

Dimension = Literal["category", "department", "vendor"]
DIMENSIONS: tuple[Dimension, ...] = ("category", "department", "vendor")

_ONE_DIMENSION_ROLLUPS: dict[str, type[SpendRollup]] = {
    "category": SpendByMonthCategory,
    "payee": SpendByMonthPayee,
    "department": SpendByMonthDepartment,
}
# What the cube holds besides the month; payees are in no rollup with another dimension.
_CUBE_COLUMNS = frozenset({"department", "category", "on_contract"})
_COLUMNS = _CUBE_COLUMNS | {"payee"}


@dataclass(frozen=True)
class SpendRows:
    """Where sums come from, and how to take them there: a rollup's rows, or the lines.

    Always sum through `amount` and `lines`: a line's own `amount` column is in the file's
    currency, the base-currency amount is `base_amount`, which is what the rollups hold."""

    rows: QuerySet[Any]
    # The base-currency amount column: "amount" in a rollup, "base_amount" on the lines.
    column: str
    lines: Sum | Count
    # The rows under a contract.
    on_contract: Q
    # Each payee has one row at most (one calendar year of the yearly payee rollup): its
    # sums need no GROUP BY.
    one_row_per_payee: bool = False

    @property
    def amount(self) -> Sum:
        return Sum(self.column)

    def amount_where(self, condition: Q) -> Sum:
        """The amount of the rows matching `condition`, 0 rather than None for none."""
        return Sum(self.column, filter=condition, default=ZERO)


def _whole_calendar_years(filters: SpendFilters) -> bool:
    return bool(
        filters.month_from
        and filters.month_to
        and filters.month_from.month == 1
        and filters.month_to.month == 12
    )


def spend_rows(
    filters: SpendFilters,
    *grouped: str,
    days: tuple[dt.date, dt.date] | None = None,
    per_month: bool = True,
) -> SpendRows:
    """The rows to sum for `filters` grouped by `grouped` ("category", "department", "payee"
    or "on_contract"; a vendor is grouped through its payees), from the smallest source
    holding every column needed: one-dimension rollup, cube, or lines (payee crossed with
    anything). `days` (first, last) narrows to days, which only the lines know: a week cuts
    across months. The lines are always bounded by `filters`, months included.
    `per_month=False` says the caller sums over the whole period, never by month: payee
    totals over whole calendar years then come from the yearly rollup."""
    needed = filters.dimensions | set(grouped)
    if not needed <= _COLUMNS:
        raise ValueError(f"No spend column {', '.join(sorted(needed - _COLUMNS))}.")
    model: type[SpendRollup] | None = None
    if days is None:
        if not needed:
            model = SpendByMonthCategory
        elif needed == {"payee"} and not per_month and _whole_calendar_years(filters):
            # Its rows are dated 1 January, which the period's month bounds still select.
            model = SpendByYearPayee
        elif len(needed) == 1 and next(iter(needed)) in _ONE_DIMENSION_ROLLUPS:
            model = _ONE_DIMENSION_ROLLUPS[next(iter(needed))]
        elif needed <= _CUBE_COLUMNS:
            model = SpendCube
    if model is not None:
        # order_by(): the models' default ordering must not join the GROUP BY.
        return SpendRows(
            rows=model._default_manager.filter(filters.q()).order_by(),
            column="amount",
            lines=Sum("lines"),
            on_contract=Q(on_contract=True),
            one_row_per_payee=model is SpendByYearPayee
            and filters.month_from is not None
            and filters.month_to is not None
            and filters.month_from.year == filters.month_to.year,
        )
    lines = SpendLine.objects.filter(filters.q()).order_by()
    if days is not None:
        lines = lines.filter(date__gte=days[0], date__lte=days[1])
    return SpendRows(
        rows=lines, column="base_amount", lines=Count("id"), on_contract=Q(contract__isnull=False)
    )


def _name(name: str | None) -> str:
    return name or NONE_NAMED


def _share(part: Decimal, total: Decimal) -> Decimal | None:
    """`part` as a percentage of `total`, one decimal; None where a share means nothing."""
    if total <= 0:
        return None
    return (Decimal(100) * part / total).quantize(Decimal("0.1"))


def _money(value: Decimal | float | None) -> Decimal:
    return Decimal(value or 0).quantize(CENT)


def _months_between(first: dt.date, last: dt.date) -> list[dt.date]:
    months = []
    month = first
    while month <= last:
        months.append(month)
        month = (month + dt.timedelta(days=32)).replace(day=1)
    return months


def _months_before(month: dt.date, count: int) -> dt.date:
    index = month.year * 12 + month.month - 1 - count
    return dt.date(index // 12, index % 12 + 1, 1)


# --- Breakdowns --------------------------------------------------------------------------


@dataclass(frozen=True)
class SpendRow:
    """One group's spend in the period. `param` and `id` filter the views down to it."""

    param: str  # "category", "department", "vendor" or "payee"
    id: int
    name: str
    amount: Decimal
    lines: int
    share: Decimal | None  # percent of the period's total
    matched: bool = True  # for vendors: False for a payee not mapped to a vendor yet


@dataclass(frozen=True)
class SpendBreakdown:
    rows: list[SpendRow]
    total: Decimal
    lines: int
    # How many groups there are in all; `rows` may hold only the top ones.
    groups: int = 0


def _totals(source: SpendRows) -> tuple[Decimal, int]:
    sums = source.rows.aggregate(amount=source.amount, lines=source.lines)
    return _money(sums["amount"]), int(sums["lines"] or 0)


def _breakdown(filters: SpendFilters, dimension: str) -> SpendBreakdown:
    source = spend_rows(filters, dimension)
    total, lines = _totals(source)
    grouped = (
        source.rows.values(f"{dimension}_id", f"{dimension}__name")
        .annotate(total=source.amount, count=source.lines)
        .order_by("-total", f"{dimension}__name")
    )
    out = [
        SpendRow(
            param=dimension,
            id=row[f"{dimension}_id"],
            name=_name(row[f"{dimension}__name"]),
            amount=_money(row["total"]),
            lines=row["count"],
            share=_share(_money(row["total"]), total),
        )
        for row in grouped
    ]
    return SpendBreakdown(rows=out, total=total, lines=lines, groups=len(out))


def spend_by_category(*, filters: SpendFilters) -> SpendBreakdown:
    """Spend per category as the files name it, largest first."""
    return _breakdown(filters, "category")


def spend_by_department(*, filters: SpendFilters) -> SpendBreakdown:
    """Spend per department or cost centre as the files name it, largest first."""
    return _breakdown(filters, "department")


class _VendorTotals:
    """Vendors' sums over payee-level rows (the payee rollups, or the lines when crossed with
    a department or category): payees mapped to a vendor count as that vendor (several
    spellings, one vendor), the others as themselves.

    In SQL, in two steps: sum the rows per payee (no join, the cheapest grouping of the
    largest source), then join those few thousand sums to their payees and merge them per
    vendor, before any top-N cut (a vendor's payees may each be small and together large).
    Each figure is one query returning a row or a few."""

    def __init__(self, source: SpendRows) -> None:
        self.source = source
        if source.one_row_per_payee:
            per_payee = source.rows.values("payee_id", total=F(source.column), count=F("lines"))
        else:
            per_payee = source.rows.values("payee_id").annotate(
                total=source.amount, count=source.lines
            )
        sql, params = per_payee.query.sql_with_params()
        self.per_payee_sql, self.params = sql, list(params)
        self._top: list[tuple[str, int, str, Decimal, int]] = []
        self._top_limit = 0  # how many were asked for (fewer may exist)
        self._summary: tuple[int, Decimal, int] = (0, ZERO, 0)

    def top(self, limit: int) -> list[tuple[str, int, str, Decimal, int]]:
        """The `limit` largest, largest first and named: (param, id, name, amount, lines).

        The same query counts every group and sums them all (window functions over the
        grouped rows), which `summary` then answers from."""
        if limit > self._top_limit:
            self._top_limit = limit
            # Names are joined to the `limit` rows kept, not carried through the grouping of
            # every payee (most of a large ledger's payees are unmatched, each its own group).
            # Every name in these statements is ours; values travel as parameters.
            ranked = (
                "SELECT p.vendor_id, CASE WHEN p.vendor_id IS NULL THEN p.id END AS payee_id, "  # noqa: S608
                "SUM(per_payee.total) AS total, SUM(per_payee.count) AS count, "
                "COUNT(*) OVER () AS groups, SUM(SUM(per_payee.total)) OVER () AS all_total, "
                "SUM(SUM(per_payee.count)) OVER () AS all_count "
                f"FROM ({self.per_payee_sql}) per_payee "
                f"JOIN {Payee._meta.db_table} p ON p.id = per_payee.payee_id "
                "GROUP BY p.vendor_id, CASE WHEN p.vendor_id IS NULL THEN p.id END "
                f"ORDER BY 3 DESC, 1, 2 LIMIT {int(limit)}"
            )
            with connections[self.source.rows.db].cursor() as cursor:
                cursor.execute(
                    "SELECT top.vendor_id, top.payee_id, top.total, top.count, v.legal_name, "  # noqa: S608
                    f"named.name, top.groups, top.all_total, top.all_count FROM ({ranked}) top "
                    f"LEFT JOIN {Vendor._meta.db_table} v ON v.id = top.vendor_id "
                    f"LEFT JOIN {Payee._meta.db_table} named ON named.id = top.payee_id "
                    "ORDER BY top.total DESC, top.vendor_id, top.payee_id",
                    self.params,
                )
                rows = cursor.fetchall()
            self._top = [
                ("vendor", row[0], _name(row[4]), _money(row[2]), int(row[3]))
                if row[0] is not None
                else ("payee", row[1], _name(row[5]), _money(row[2]), int(row[3]))
                for row in rows
            ]
            self._summary = (
                (int(rows[0][6]), _money(rows[0][7]), int(rows[0][8])) if rows else (0, ZERO, 0)
            )
        return self._top[:limit]

    def summary(self) -> tuple[int, Decimal, int]:
        """(vendors and unmatched payees paid, their total, their lines): a vendor counts
        once however many payees it has."""
        if not self._top_limit:
            self.top(CONCENTRATION_TOP)
        return self._summary

    def total_of_top(self, limit: int) -> Decimal:
        return sum((amount for _p, _i, _name, amount, _n in self.top(limit)), ZERO)


def _vendor_totals(source: SpendRows) -> _VendorTotals:
    return _VendorTotals(source)


@dataclass(frozen=True)
class VendorSpend(SpendBreakdown):
    # Share of the period's total paid to the CONCENTRATION_TOP largest vendors.
    top_share: Decimal | None = None


def spend_by_vendor(*, filters: SpendFilters, limit: int = 50) -> VendorSpend:
    """The `limit` largest vendors, the number of vendors paid, and the concentration.

    A payee mapped to a vendor counts as that vendor (several spellings, one vendor); a
    payee not mapped yet is listed on its own, with `matched=False`."""
    totals = _vendor_totals(spend_rows(filters, "payee", per_month=False))
    rows = totals.top(max(limit, CONCENTRATION_TOP))
    groups, total, lines = totals.summary()
    out = [
        SpendRow(
            param=param,
            id=group_id,
            name=name,
            amount=amount,
            lines=count,
            share=_share(amount, total),
            matched=param == "vendor",
        )
        for param, group_id, name, amount, count in rows[:limit]
    ]
    return VendorSpend(
        rows=out,
        total=total,
        lines=lines,
        groups=groups,
        top_share=_share(totals.total_of_top(CONCENTRATION_TOP), total),
    )


# --- Over time ---------------------------------------------------------------------------


@dataclass(frozen=True)
class MonthSpend:
    month: dt.date
    amount: Decimal
    lines: int


@dataclass(frozen=True)
class SpendSeries:
    name: str
    amounts: list[Decimal]  # one per month of `SpendOverTime.months`


@dataclass(frozen=True)
class SpendOverTime:
    months: list[MonthSpend]  # every month from the first to the last with spend, gaps as 0
    series: list[SpendSeries] = field(default_factory=list)  # when split: top groups + "Other"

    @property
    def total(self) -> Decimal:
        return sum((month.amount for month in self.months), ZERO)

    @property
    def lines(self) -> int:
        return sum(month.lines for month in self.months)


def spend_over_time(
    *, filters: SpendFilters, split_by: Dimension | None = None, series: int = 5
) -> SpendOverTime:
    """Spend per month; split by a dimension, the `series` largest groups of the period
    each get a series and the rest is summed as "Other"."""
    source = spend_rows(filters)
    per_month = {
        row["month"]: (_money(row["total"]), row["count"])
        for row in source.rows.values("month").annotate(total=source.amount, count=source.lines)
    }
    if not per_month:
        return SpendOverTime(months=[])
    months = _months_between(min(per_month), max(per_month))
    totals = [MonthSpend(m, *per_month.get(m, (ZERO, 0))) for m in months]
    if split_by is None:
        return SpendOverTime(months=totals)

    grouped = "payee" if split_by == "vendor" else split_by
    split = spend_rows(filters, grouped)
    by_group: dict[tuple[str, int], dict[dt.date, Decimal]] = defaultdict(dict)
    if split_by == "vendor":
        named = _vendor_totals(split).top(series)
        top = [(p, i, n) for p, i, n, _amount, _count in named]
        vendor_ids = [i for p, i, _n in top if p == "vendor"]
        payee_ids = [i for p, i, _n in top if p == "payee"]
        for param, column, ids in (
            ("vendor", "payee__vendor_id", vendor_ids),
            ("payee", "payee_id", payee_ids),
        ):
            if not ids:
                continue
            for row in (
                split.rows.filter(**{f"{column}__in": ids})
                .values("month", column)
                .annotate(total=split.amount)
            ):
                by_group[(param, row[column])][row["month"]] = _money(row["total"])
    else:
        top = [
            (split_by, r[f"{split_by}_id"], _name(r[f"{split_by}__name"]))
            for r in split.rows.values(f"{split_by}_id", f"{split_by}__name")
            .annotate(total=split.amount)
            .order_by("-total", f"{split_by}__name")[:series]
        ]
        ids = [i for _p, i, _n in top]
        for row in (
            split.rows.filter(**{f"{split_by}_id__in": ids})
            .values("month", f"{split_by}_id")
            .annotate(total=split.amount)
        ):
            by_group[(split_by, row[f"{split_by}_id"])][row["month"]] = _money(row["total"])

    out = [
        SpendSeries(name, [by_group[(param, group_id)].get(m, ZERO) for m in months])
        for param, group_id, name in top
    ]
    other = [
        month.amount - sum((s.amounts[index] for s in out), ZERO)
        for index, month in enumerate(totals)
    ]
    if any(other):
        out.append(SpendSeries("Other", other))
    return SpendOverTime(months=totals, series=out)


# --- Summary -----------------------------------------------------------------------------


@dataclass(frozen=True)
class SpendSummary:
    total: Decimal
    lines: int
    vendors: int
    months: int
    first_month: dt.date | None
    last_month: dt.date | None
    top_share: Decimal | None  # share of the CONCENTRATION_TOP largest vendors
    off_contract: Decimal
    off_contract_share: Decimal | None


def spend_summary(*, filters: SpendFilters) -> SpendSummary:
    """The key figures of the overview page, in four queries (over the rollups, or the lines
    for the vendors where a payee is crossed with a department or category)."""
    source = spend_rows(filters)
    sums = source.rows.aggregate(
        amount=source.amount,
        lines=source.lines,
        first=Min("month"),
        last=Max("month"),
        months=Count("month", distinct=True),
    )
    total = _money(sums["amount"])
    vendors = _vendor_totals(spend_rows(filters, "payee", per_month=False))
    contract = spend_rows(filters, "on_contract")
    off = _money(contract.rows.aggregate(a=contract.amount_where(~contract.on_contract))["a"])
    return SpendSummary(
        total=total,
        lines=int(sums["lines"] or 0),
        vendors=vendors.summary()[0],
        months=sums["months"] or 0,
        first_month=sums["first"],
        last_month=sums["last"],
        top_share=_share(vendors.total_of_top(CONCENTRATION_TOP), total),
        off_contract=off,
        off_contract_share=_share(off, total),
    )


# --- On and off contract -----------------------------------------------------------------


@dataclass(frozen=True)
class ContractRow:
    """On- and off-contract ("maverick") spend of one month or one category."""

    month: dt.date | None
    id: int | None
    name: str
    on_contract: Decimal
    off_contract: Decimal

    @property
    def total(self) -> Decimal:
        return self.on_contract + self.off_contract

    @property
    def off_contract_share(self) -> Decimal | None:
        return _share(self.off_contract, self.total)


@dataclass(frozen=True)
class ContractSpend:
    months: list[ContractRow]
    categories: list[ContractRow]  # largest off-contract spend first

    @property
    def on_contract(self) -> Decimal:
        return sum((row.on_contract for row in self.months), ZERO)

    @property
    def off_contract(self) -> Decimal:
        return sum((row.off_contract for row in self.months), ZERO)

    @property
    def total(self) -> Decimal:
        return self.on_contract + self.off_contract

    @property
    def off_contract_share(self) -> Decimal | None:
        return _share(self.off_contract, self.total)


def spend_on_contract(*, filters: SpendFilters) -> ContractSpend:
    """Spend under a contract and outside one, per month and per category (from the cube,
    the one rollup that knows whether a line had a contract; from the lines for a payee)."""
    source = spend_rows(filters, "on_contract", "category")
    rows = source.rows
    on = source.amount_where(source.on_contract)
    off = source.amount_where(~source.on_contract)
    per_month = {row["month"]: row for row in rows.values("month").annotate(on=on, off=off)}
    months = (
        [
            ContractRow(
                month=m,
                id=None,
                name=f"{m:%Y-%m}",
                on_contract=_money(per_month[m]["on"]) if m in per_month else ZERO,
                off_contract=_money(per_month[m]["off"]) if m in per_month else ZERO,
            )
            for m in _months_between(min(per_month), max(per_month))
        ]
        if per_month
        else []
    )
    categories = [
        ContractRow(
            month=None,
            id=row["category_id"],
            name=_name(row["category__name"]),
            on_contract=_money(row["on"]),
            off_contract=_money(row["off"]),
        )
        for row in rows.values("category_id", "category__name")
        .annotate(on=on, off=off)
        .order_by("-off", "category__name")
    ]
    return ContractSpend(months=months, categories=categories)


# --- Price variance ----------------------------------------------------------------------


class _Median(Aggregate):
    """PostgreSQL's median; SQLite has none, so there the medians are taken in Python."""

    function = "PERCENTILE_CONT"
    template = "%(function)s(0.5) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()


@dataclass(frozen=True)
class PricePoint:
    month: dt.date
    lines: int
    low: Decimal
    median: Decimal
    high: Decimal
    change: Decimal | None  # median vs the item's first month, in percent


@dataclass(frozen=True)
class PriceSeries:
    name: str
    points: list[PricePoint]


@dataclass(frozen=True)
class PriceVariance:
    by: Literal["description", "category"]
    month_from: dt.date | None
    month_to: dt.date | None
    items: list[PriceSeries]


def _price_period(filters: SpendFilters) -> SpendFilters:
    """`filters` with a period: PRICE_DEFAULT_MONTHS up to the last month with spend."""
    month_to = filters.month_to
    if month_to is None:
        month_to = spend_rows(filters).rows.aggregate(last=Max("month"))["last"]
        if month_to is None:
            return filters
    month_from = filters.month_from or _months_before(month_to, PRICE_DEFAULT_MONTHS - 1)
    return replace(filters, month_from=month_from, month_to=month_to)


def _change(median: Decimal, first: Decimal) -> Decimal | None:
    if not first:
        return None
    return (Decimal(100) * (median - first) / abs(first)).quantize(Decimal("0.1"))


def spend_price_variance(
    *,
    filters: SpendFilters,
    by: Literal["description", "category"] = "description",
    limit: int = PRICE_ITEMS_MAX,
) -> PriceVariance:
    """Lowest, median and highest price per month of the items (line descriptions) or
    categories bought most often, with each month's median against the first month's.

    The price is the line's base amount, or its unit price where the line has a quantity.
    This one reads lines, so it is bounded: per item only within a category or vendor, always
    within a period (the last PRICE_DEFAULT_MONTHS months with spend when none is given), and
    for at most `limit` items. Raises InvalidInput when an item comparison is not narrowed.
    """
    if by == "description" and not (filters.category_ids or filters.payee_ids):
        raise InvalidInput(
            "Choose a category or a vendor to compare the prices of its items.",
            fields={"category": ["Choose a category or a vendor."]},
        )
    filters = _price_period(filters)
    limit = min(limit, PRICE_ITEMS_MAX)
    lines = SpendLine.objects.filter(filters.q()).order_by()
    if by == "description":
        key, label = "description", "description"
        lines = lines.exclude(description="")
    else:
        key, label = "category_id", "category__name"
    top = list(
        lines.values(key, label)
        .annotate(count=Count("id"), total=Sum("base_amount"))
        .order_by("-count", "-total", label)[:limit]
    )
    names = {row[key]: _name(row[label]) for row in top}
    if not names:
        return PriceVariance(by, filters.month_from, filters.month_to, [])
    price = Case(
        When(
            quantity__isnull=False,
            then=ExpressionWrapper(
                F("base_amount") / F("quantity"),
                output_field=DecimalField(max_digits=20, decimal_places=6),
            ),
        ),
        default=Coalesce(F("base_amount"), ZERO),
        output_field=DecimalField(max_digits=20, decimal_places=6),
    )
    chosen = lines.filter(**{f"{key}__in": list(names)}).annotate(price=price)
    stats: dict[Any, list[tuple[dt.date, int, Decimal, Decimal, Decimal]]] = defaultdict(list)
    if connection.vendor == "postgresql":
        for row in (
            chosen.values(key, "month")
            .annotate(n=Count("id"), low=Min("price"), high=Max("price"), mid=_Median("price"))
            .order_by(key, "month")
        ):
            stats[row[key]].append(
                (
                    row["month"],
                    row["n"],
                    _money(row["low"]),
                    _money(row["mid"]),
                    _money(row["high"]),
                )
            )
    else:
        prices: dict[tuple[Any, dt.date], list[Decimal]] = defaultdict(list)
        for item, month, value in chosen.values_list(key, "month", "price"):
            prices[(item, month)].append(Decimal(value))
        for (item, month), values in sorted(
            prices.items(), key=lambda kv: (str(kv[0][0]), kv[0][1])
        ):
            stats[item].append(
                (
                    month,
                    len(values),
                    _money(min(values)),
                    _money(statistics.median(values)),
                    _money(max(values)),
                )
            )
    items = []
    for row in top:
        points = stats.get(row[key], [])
        first = points[0][3] if points else ZERO
        items.append(
            PriceSeries(
                name=names[row[key]],
                points=[
                    PricePoint(month, n, low, mid, high, _change(mid, first))
                    for month, n, low, mid, high in points
                ],
            )
        )
    return PriceVariance(by, filters.month_from, filters.month_to, items)


# --- Filter choices ----------------------------------------------------------------------


@dataclass(frozen=True)
class FilterChoices:
    departments: list[tuple[int, str]]
    categories: list[tuple[int, str]]
    vendors: list[tuple[int, str]]


def _sorted_choices(pairs: Iterable[tuple[int, str | None]]) -> list[tuple[int, str]]:
    return sorted(((i, _name(n)) for i, n in pairs), key=lambda pair: (pair[1].casefold(), pair[0]))


def spend_filter_choices(*, scope_department_ids: frozenset[int] | None) -> FilterChoices:
    """The departments, categories and vendors a user may filter on: within a manager's
    scope, only those with spend in their departments (so no other department's name
    shows up in a list). A manager's vendors come from their departments' lines (no rollup
    holds payees by department), each payee once."""
    if scope_department_ids is None:
        return FilterChoices(
            departments=_sorted_choices(SpendDepartment.objects.values_list("id", "name")),
            categories=_sorted_choices(SpendCategory.objects.values_list("id", "name")),
            vendors=_sorted_choices(
                Vendor.objects.filter(payees__isnull=False)
                .values_list("id", "legal_name")
                .distinct()
            ),
        )
    cube = SpendCube.objects.filter(department_id__in=scope_department_ids).order_by()
    return FilterChoices(
        departments=_sorted_choices(
            SpendDepartment.objects.filter(id__in=scope_department_ids).values_list("id", "name")
        ),
        categories=_sorted_choices(cube.values_list("category_id", "category__name").distinct()),
        vendors=_sorted_choices(
            Vendor.objects.filter(
                payees__in=SpendLine.objects.filter(department_id__in=scope_department_ids)
                .order_by()
                .values("payee_id")
            )
            .values_list("id", "legal_name")
            .distinct()
        ),
    )
