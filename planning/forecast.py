"""The 12-month forecast: expected spend per month, source, category and department, and how
it compares with the budgets. Read-only: nothing here writes.

Four sources; every row keeps its source (docs/planning/forecast.md has the rules in full):

- renewals: live contracts (active, or expiring: in their notice window) whose end date falls
  in the months forecast, valued at a renewal term (`renewal_term_months`) of their value
  scaled from the current term, in the month of the end date; a renewal term that ends
  inside the months forecast renews again. Category and department come from the
  contract's purchase requests, split in proportion to their totals; "Unassigned" without.
- recurring: a run-rate per vendor (a payee mapped to one, or the payee) and category:
  pairs with off-contract spend in at least 3 of the last 6 full months project their
  average monthly spend over the last 12 full months onto every month, split by the
  departments that spent it. On-contract spend is left out: its contract's renewal is the
  forecast of it.
- approved: requests approved and not on a live purchase order, their base total in the
  month they are needed (this month when that is past).
- needs: open needs, the need's rough budget under its department and each support's under
  the supporter's, in the month they are needed (this month when that is past).

Months are first days of months. The rows run from this month to the end of the window, so
the budget comparison sees what will be spent before a window that starts later.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.db import models
from django.db.models import Count, Q, Sum

from analytics.models import Payee, SpendByMonthPayee, SpendLine
from planning.budgets import READ_ALL_ROLES, budget_consumption, request_base_total
from planning.models import Budget, Need, NeedStatus
from procurement.errors import InvalidInput, NotAllowed
from procurement.models import Category, Department, FiscalYear, User
from procurement.money import MissingExchangeRate, to_base_currency
from procurement.permissions import allowed
from requests.models import PurchaseRequest, RequestState
from sourcing.models import PoState, PurchaseOrder
from vendors.contracts import add_months, term_end
from vendors.models import LIVE_CONTRACT_STATES, Contract, Vendor

ZERO = Decimal("0.00")
CENT = Decimal("0.01")
WINDOW_MONTHS = 12
# How far ahead the window may start: the rows run from this month, so a start years ahead
# would compute years of rows nobody sees.
MAX_MONTHS_AHEAD = 24
# Recurring spend: a vendor and category paid in this many of the last RECENT_MONTHS full
# months project their average over the last HISTORY_MONTHS full months.
RECURRING_MIN_MONTHS = 3
RECURRING_RECENT_MONTHS = 6
RECURRING_HISTORY_MONTHS = 12
# The id filters use for "no department" / "no category" (ids start at 1).
UNASSIGNED_ID = 0
UNASSIGNED = "Unassigned"
# Requests that say what a contract is for; cancelled and rejected ones no longer do.
DEAD_REQUEST_STATES = (RequestState.CANCELLED, RequestState.REJECTED)


class ForecastSource(models.TextChoices):
    RENEWAL = "renewal", "Contract renewals"
    RECURRING = "recurring", "Recurring spend"
    APPROVED = "approved", "Approved requests not yet ordered"
    NEED = "need", "Open needs"


SOURCES = list(ForecastSource)
# A recurring pair: (("vendor", id) or ("payee", id), category id or None).
_Pair = tuple[tuple[str, int], int | None]


@dataclass(frozen=True)
class ForecastRow:
    month: dt.date
    source: ForecastSource
    category_id: int | None
    category: str
    department_id: int | None
    department: str
    vendor: str
    reference: str
    amount: Decimal


@dataclass(frozen=True)
class ForecastFilters:
    """`start`: the first month of the window. `department_id` / `category_id`: None for
    all, UNASSIGNED_ID for the rows without one. `scope_department_ids`: None when the user
    sees every department; otherwise only these (a manager's), never the unassigned rows.
    `request_ids_shown`: None when the user may open every request; otherwise an approved
    request outside these is named by its reference only, without its title."""

    start: dt.date
    department_id: int | None = None
    category_id: int | None = None
    scope_department_ids: frozenset[int] | None = None
    request_ids_shown: frozenset[int] | None = None

    def keeps(self, row: ForecastRow) -> bool:
        department = row.department_id or UNASSIGNED_ID
        category = row.category_id or UNASSIGNED_ID
        if self.scope_department_ids is not None and department not in self.scope_department_ids:
            return False
        if self.department_id is not None and department != self.department_id:
            return False
        return self.category_id is None or category == self.category_id


@dataclass(frozen=True)
class MonthForecast:
    month: dt.date
    by_source: list[Decimal]  # in the order of SOURCES
    budget: Decimal

    @property
    def total(self) -> Decimal:
        return sum(self.by_source, ZERO)

    @property
    def source_amounts(self) -> list[tuple[ForecastSource, Decimal]]:
        return list(zip(SOURCES, self.by_source, strict=True))


@dataclass(frozen=True)
class ForecastItem:
    """One thing forecast (a contract, a vendor's run-rate, a request, a need) over the window."""

    source: ForecastSource
    reference: str
    vendor: str
    department: str
    category: str
    months: int
    amount: Decimal


@dataclass(frozen=True)
class BudgetComparison:
    """A department's budgets for one fiscal year against what is consumed and forecast."""

    department_id: int
    department: str
    fiscal_year: FiscalYear
    budget_labels: list[str]
    budget: Decimal  # the year's
    budget_in_window: Decimal  # the phasing of the window's months
    consumed: Decimal  # planning.budgets.budget_consumption, summed
    forecast: Decimal  # from this month to the window's end, approved requests left out
    overrun_month: dt.date | None
    months_ahead: int | None  # from this month to the overrun month

    @property
    def projected(self) -> Decimal:
        return self.consumed + self.forecast

    @property
    def remaining(self) -> Decimal:
        return self.budget - self.projected


@dataclass
class Forecast:
    start: dt.date
    this_month: dt.date
    months: list[MonthForecast]
    rows: list[ForecastRow]  # the window's, filtered
    comparisons: list[BudgetComparison]
    has_budget: bool
    warnings: list[str] = field(default_factory=list)

    @property
    def end(self) -> dt.date:
        """The window's last month."""
        return self.months[-1].month

    @property
    def source_totals(self) -> list[Decimal]:
        return [sum((m.by_source[i] for m in self.months), ZERO) for i in range(len(SOURCES))]

    @property
    def source_total_amounts(self) -> list[tuple[ForecastSource, Decimal]]:
        return list(zip(SOURCES, self.source_totals, strict=True))

    @property
    def total(self) -> Decimal:
        return sum((m.total for m in self.months), ZERO)

    @property
    def budget_total(self) -> Decimal:
        return sum((m.budget for m in self.months), ZERO)

    @property
    def is_empty(self) -> bool:
        return not self.rows

    def items(self, limit: int | None = None) -> list[ForecastItem]:
        """The rows summed over the window per thing forecast, largest first."""
        sums: dict[tuple[str, str, str, str, str], list[Decimal]] = defaultdict(list)
        for row in self.rows:
            key = (row.source, row.reference, row.vendor, row.department, row.category)
            sums[key].append(row.amount)
        items = [
            ForecastItem(
                source=ForecastSource(key[0]),
                reference=key[1],
                vendor=key[2],
                department=key[3],
                category=key[4],
                months=len(amounts),
                amount=sum(amounts, ZERO),
            )
            for key, amounts in sums.items()
        ]
        items.sort(key=lambda item: (-item.amount, item.reference))
        return items[:limit] if limit is not None else items


# --- Who sees what ----------------------------------------------------------------------


def forecast_may_view(user: User) -> bool:
    return allowed(user, "planning.view_forecast")


def forecast_scope_department_ids(user: User) -> frozenset[int] | None:
    """None for finance, procurement and admins (every department, unassigned rows too); a
    manager's own department and those they head; NotAllowed for anyone else."""
    if not forecast_may_view(user):
        raise NotAllowed("The forecast is for finance, procurement, admins and managers.")
    if user.has_role(*READ_ALL_ROLES):
        return None
    ids = set(Department.objects.filter(head=user).values_list("id", flat=True))
    if user.department_id:
        ids.add(user.department_id)
    return frozenset(ids)


# --- Months -----------------------------------------------------------------------------


def month_of(day: dt.date) -> dt.date:
    return day.replace(day=1)


def months_between(first: dt.date, last: dt.date) -> int:
    """Whole months from `first`'s month to `last`'s (negative when `last` is earlier)."""
    return (last.year - first.year) * 12 + last.month - first.month


def forecast_start_check(start: dt.date, *, today: dt.date) -> dt.date:
    """`start` as the first day of its month, if the window may start there: this month or
    up to MAX_MONTHS_AHEAD later. InvalidInput naming the field otherwise."""
    start = month_of(start)
    this_month = month_of(today)
    if start < this_month:
        raise InvalidInput(
            "The forecast looks ahead: start this month or later.",
            fields={"start": [f"Choose {this_month:%Y-%m} or a later month."]},
        )
    if months_between(this_month, start) > MAX_MONTHS_AHEAD:
        latest = add_months(this_month, MAX_MONTHS_AHEAD)
        raise InvalidInput(
            f"The forecast starts at most {MAX_MONTHS_AHEAD} months ahead.",
            fields={"start": [f"Choose {latest:%Y-%m} or an earlier month."]},
        )
    return start


def _split(amount: Decimal, weights: Sequence[Decimal]) -> list[Decimal]:
    """`amount` in proportion to `weights`, to the cent; the last part takes the rounding."""
    total = sum(weights, ZERO)
    if total <= 0:
        weights = [Decimal(1)] * len(weights)
        total = Decimal(len(weights))
    parts = [(amount * w / total).quantize(CENT, rounding=ROUND_HALF_UP) for w in weights[:-1]]
    return [*parts, amount - sum(parts, ZERO)]


# --- The sources ------------------------------------------------------------------------


@dataclass(frozen=True)
class _Assignment:
    category_id: int | None
    category: str
    department_id: int | None
    department: str


_UNASSIGNED = _Assignment(None, UNASSIGNED, None, UNASSIGNED)


def term_months(start: dt.date, end: dt.date) -> Decimal:
    """The length of a term from `start` to `end` (both included) in months: whole months
    when it ends the day before a monthly anniversary of its start (1 Jan to 31 Dec: 12),
    otherwise its days over an average month's."""
    after = end + dt.timedelta(days=1)
    whole = months_between(start, after)
    if whole >= 1 and add_months(start, whole) == after:
        return Decimal(whole)
    return Decimal((end - start).days + 1) / (Decimal("365.25") / 12)


def renewal_value(contract: Contract) -> Decimal:
    """The contract's value for one renewal term, scaled from its current term, in its
    own currency."""
    current = term_months(contract.start_date, contract.end_date)
    value = contract.value * Decimal(contract.renewal_term_months) / current
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def _contract_assignments(
    contract_ids: Iterable[int],
) -> dict[int, list[tuple[_Assignment, Decimal]]]:
    """Per contract: the (category, department) of its purchase requests, each with the
    requests' base total as its weight."""
    weights: dict[int, dict[_Assignment, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    requests = (
        PurchaseRequest.objects.filter(contract_id__in=list(contract_ids))
        .exclude(state__in=DEAD_REQUEST_STATES)
        .select_related("category", "department")
        .order_by("id")
    )
    for request in requests:
        assert request.contract_id is not None
        try:
            weight = request_base_total(request)
        except MissingExchangeRate:
            # Its total cannot be compared with the others: it still says where the
            # contract belongs, with an equal share of nothing (no weight).
            weight = ZERO
        assignment = _Assignment(
            request.category_id,
            request.category.name,
            request.department_id,
            request.department.name,
        )
        weights[request.contract_id][assignment] += weight
    return {
        contract_id: sorted(
            by_assignment.items(), key=lambda item: (item[0].category, item[0].department)
        )
        for contract_id, by_assignment in weights.items()
    }


def forecast_renewals(
    *, first: dt.date, end: dt.date, today: dt.date, warnings: list[str]
) -> list[ForecastRow]:
    """Rows for the renewals of live contracts due from month `first` to before `end`."""
    contracts = list(
        Contract.objects.filter(
            state__in=LIVE_CONTRACT_STATES, end_date__gte=first, end_date__lt=end
        )
        .select_related("vendor")
        .order_by("end_date", "id")
    )
    assignments = _contract_assignments(c.pk for c in contracts)
    rows = []
    for contract in contracts:
        try:
            value = to_base_currency(renewal_value(contract), contract.currency, on=today)
        except MissingExchangeRate:
            warnings.append(
                f"Contract #{contract.pk} {contract.title} is in {contract.currency}, which has no "
                f"exchange rate to {settings.BASE_CURRENCY}: its renewal is left out."
            )
            continue
        shares = assignments.get(contract.pk) or [(_UNASSIGNED, Decimal(1))]
        parts = _split(value, [weight for _, weight in shares])
        kind = "auto-renews" if contract.auto_renew else "renewal to decide"
        reference = f"Contract #{contract.pk} {contract.title} ({kind})"
        renews_on = contract.end_date
        while renews_on < end:
            for (assignment, _), part in zip(shares, parts, strict=True):
                rows.append(
                    ForecastRow(
                        month=month_of(renews_on),
                        source=ForecastSource.RENEWAL,
                        category_id=assignment.category_id,
                        category=assignment.category,
                        department_id=assignment.department_id,
                        department=assignment.department,
                        vendor=contract.vendor.legal_name,
                        reference=reference,
                        amount=part,
                    )
                )
            # A renewal term that ends inside the window renews again.
            renews_on = term_end(renews_on + dt.timedelta(days=1), contract.renewal_term_months)
    return rows


def forecast_recurring(*, first: dt.date, end: dt.date, today: dt.date) -> list[ForecastRow]:
    """Rows for the run-rate of recurring off-contract spend, on every month from `first`
    to before `end`. Reads sums only: the payee rollup narrows the payees, then one grouped
    query over their lines of the last twelve months."""
    this_month = month_of(today)
    recent_from = add_months(this_month, -RECURRING_RECENT_MONTHS)
    history_from = add_months(this_month, -RECURRING_HISTORY_MONTHS)
    # Payees (or the vendors they are mapped to) paid in enough recent months: a superset of
    # the pairs that qualify (a pair's months are among its payee's or vendor's).
    recent = SpendByMonthPayee.objects.filter(
        month__gte=recent_from, month__lt=this_month, amount__gt=0
    )
    often_paid = (
        recent.values("payee_id")
        .annotate(months=Count("month", distinct=True))
        .filter(months__gte=RECURRING_MIN_MONTHS)
        .values("payee_id")
    )
    often_paid_vendors = (
        recent.filter(payee__vendor__isnull=False)
        .values("payee__vendor_id")
        .annotate(months=Count("month", distinct=True))
        .filter(months__gte=RECURRING_MIN_MONTHS)
        .values("payee__vendor_id")
    )
    sums = (
        SpendLine.objects.filter(
            Q(payee_id__in=often_paid) | Q(payee__vendor_id__in=often_paid_vendors),
            month__gte=history_from,
            month__lt=this_month,
            contract__isnull=True,
        )
        .values(
            "payee_id",
            "payee__vendor_id",
            "category__category_id",
            "department__department_id",
            "month",
        )
        .annotate(amount=Sum("base_amount"))
        .order_by()
    )
    by_month: dict[_Pair, dict[dt.date, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    by_department: dict[_Pair, dict[int | None, Decimal]] = defaultdict(
        lambda: defaultdict(Decimal)
    )
    for entry in sums:
        vendor_id = entry["payee__vendor_id"]
        who = ("vendor", vendor_id) if vendor_id else ("payee", entry["payee_id"])
        pair: _Pair = (who, entry["category__category_id"])
        amount = entry["amount"] or ZERO
        by_month[pair][entry["month"]] += amount
        by_department[pair][entry["department__department_id"]] += amount
    qualifying = {
        pair
        for pair, months in by_month.items()
        if sum(1 for month, amount in months.items() if month >= recent_from and amount > 0)
        >= RECURRING_MIN_MONTHS
        and sum(months.values(), ZERO) > 0
    }
    if not qualifying:
        return []
    vendor_names = dict(
        Vendor.objects.filter(
            pk__in={who[1] for who, _ in qualifying if who[0] == "vendor"}
        ).values_list("id", "legal_name")
    )
    payee_names = dict(
        Payee.objects.filter(
            pk__in={who[1] for who, _ in qualifying if who[0] == "payee"}
        ).values_list("id", "name")
    )
    categories = dict(Category.objects.values_list("id", "name"))
    departments = dict(Department.objects.values_list("id", "name"))
    months = [add_months(first, i) for i in range(months_between(first, end))]
    rows = []
    for pair in sorted(qualifying, key=lambda p: (p[0], p[1] or 0)):
        who, category_id = pair
        vendor = (vendor_names if who[0] == "vendor" else payee_names).get(who[1], "")
        for department_id, total in sorted(
            by_department[pair].items(), key=lambda item: item[0] or 0
        ):
            monthly = (total / RECURRING_HISTORY_MONTHS).quantize(CENT, rounding=ROUND_HALF_UP)
            if not monthly:
                continue
            for month in months:
                rows.append(
                    ForecastRow(
                        month=month,
                        source=ForecastSource.RECURRING,
                        category_id=category_id,
                        category=categories.get(category_id, UNASSIGNED)
                        if category_id
                        else UNASSIGNED,
                        department_id=department_id,
                        department=departments.get(department_id, UNASSIGNED)
                        if department_id
                        else UNASSIGNED,
                        vendor=vendor,
                        reference=f"Run-rate of {vendor}",
                        amount=monthly,
                    )
                )
    return rows


def forecast_approved_requests(
    *,
    first: dt.date,
    end: dt.date,
    warnings: list[str],
    request_ids_shown: frozenset[int] | None = None,
) -> list[ForecastRow]:
    """Rows for requests approved and not on a live purchase order, needed before `end`.
    A request not in `request_ids_shown` (when given) keeps its title to itself: a manager
    sees their department's amounts, not the titles of requests they may not open."""
    live_orders = PurchaseOrder.objects.exclude(state=PoState.CANCELLED).values("request_id")
    requests = (
        PurchaseRequest.objects.filter(state=RequestState.APPROVED, needed_by__lt=end)
        .exclude(pk__in=live_orders)
        .select_related("category", "department", "vendor")
        .order_by("needed_by", "id")
    )
    rows = []
    for request in requests:
        try:
            amount = request_base_total(request)
        except MissingExchangeRate:
            warnings.append(
                f"{request.reference} is in {request.currency}, which has no exchange rate to "
                f"{settings.BASE_CURRENCY}: it is left out."
            )
            continue
        rows.append(
            ForecastRow(
                month=max(month_of(request.needed_by), first),
                source=ForecastSource.APPROVED,
                category_id=request.category_id,
                category=request.category.name,
                department_id=request.department_id,
                department=request.department.name,
                vendor=request.vendor.legal_name if request.vendor else "",
                reference=(
                    f"{request.reference} {request.title}"
                    if request_ids_shown is None or request.pk in request_ids_shown
                    else request.reference
                ),
                amount=amount,
            )
        )
    return rows


def forecast_needs(*, first: dt.date, end: dt.date) -> list[ForecastRow]:
    """Rows for open needs needed before `end`: the need's rough budget under its
    department, each support's under the supporting department."""
    needs = (
        Need.objects.filter(status=NeedStatus.OPEN, needed_by__lt=end)
        .select_related("category", "department")
        .prefetch_related("supports__department")
        .order_by("needed_by", "id")
    )
    rows = []
    for need in needs:
        month = max(month_of(need.needed_by), first)
        category = need.category.name if need.category else UNASSIGNED
        reference = f"Need #{need.pk} {need.title}"
        stakes = [(need.department, need.rough_budget, reference)]
        stakes += [
            (support.department, support.rough_budget, f"{reference} (support)")
            for support in need.supports.all()
        ]
        for department, amount, label in stakes:
            if not amount:
                continue
            rows.append(
                ForecastRow(
                    month=month,
                    source=ForecastSource.NEED,
                    category_id=need.category_id,
                    category=category,
                    department_id=department.pk,
                    department=department.name,
                    vendor="",
                    reference=label,
                    amount=amount,
                )
            )
    return rows


# --- Budgets ----------------------------------------------------------------------------


def budget_months(budget: Budget) -> dict[dt.date, Decimal]:
    """The budget's monthly amounts by month, from the first month of its fiscal year."""
    first = month_of(budget.fiscal_year.starts_on)
    return {add_months(first, i): amount for i, amount in enumerate(budget.monthly_amounts())}


def forecast_budgets(*, filters: ForecastFilters, first: dt.date, end: dt.date) -> list[Budget]:
    """The budgets the forecast compares with, over months `first` to before `end`. Never
    those narrowed to an objective; without a category filter only those for every
    category of their cost centre, with one only those narrowed to exactly it: a narrowed
    budget is a part of its cost centre's whole, and adding both would count it twice."""
    if filters.department_id == UNASSIGNED_ID or filters.category_id == UNASSIGNED_ID:
        return []
    budgets = Budget.objects.filter(
        objective__isnull=True,
        fiscal_year__starts_on__lt=end,
        fiscal_year__ends_on__gte=first,
    ).select_related("fiscal_year", "cost_centre__department", "category")
    if filters.category_id is None:
        budgets = budgets.filter(category__isnull=True)
    else:
        budgets = budgets.filter(category_id=filters.category_id)
    if filters.scope_department_ids is not None:
        budgets = budgets.filter(cost_centre__department_id__in=filters.scope_department_ids)
    if filters.department_id is not None:
        budgets = budgets.filter(cost_centre__department_id=filters.department_id)
    return list(budgets.order_by("fiscal_year__starts_on", "cost_centre__code", "id"))


def _overrun(
    *,
    budgets: list[Budget],
    base: Decimal,
    forecast_by_month: dict[dt.date, Decimal],
    first: dt.date,
    end: dt.date,
) -> dt.date | None:
    """The first month from `first` to before `end` in which `base` plus the forecast so far
    exceeds the budgets' phasing so far (from the start of their year)."""
    phasing: dict[dt.date, Decimal] = defaultdict(Decimal)
    for budget in budgets:
        for month, amount in budget_months(budget).items():
            phasing[month] += amount
    year_months = sorted(phasing)
    cumulative_budget = sum((phasing[m] for m in year_months if m < first), ZERO)
    cumulative_need = base
    for month in year_months:
        if month < first or month >= end:
            continue
        cumulative_budget += phasing[month]
        cumulative_need += forecast_by_month.get(month, ZERO)
        if cumulative_need > cumulative_budget:
            return month
    return None


def _comparisons(
    *,
    budgets: list[Budget],
    rows: list[ForecastRow],
    this_month: dt.date,
    start: dt.date,
    end: dt.date,
) -> list[BudgetComparison]:
    groups: dict[tuple[int, int], list[Budget]] = defaultdict(list)
    for budget in budgets:
        groups[(budget.cost_centre.department_id, budget.fiscal_year_id)].append(budget)
    comparisons = []
    for group in groups.values():
        year = group[0].fiscal_year
        department = group[0].cost_centre.department
        year_first = month_of(year.starts_on)
        year_end = add_months(year_first, WINDOW_MONTHS)
        consumptions = [budget_consumption(budget=budget) for budget in group]
        consumed = sum((c.consumed for c in consumptions), ZERO)
        committed_requests = sum((c.committed_requests for c in consumptions), ZERO)
        # Approved requests are in `consumed` already, as commitments: the totals leave them
        # out of the forecast; the overrun check takes them out of `consumed` instead and
        # counts them in the month they are needed.
        all_by_month: dict[dt.date, Decimal] = defaultdict(Decimal)
        forecast = ZERO
        for row in rows:
            if row.department_id != department.pk or not year_first <= row.month < year_end:
                continue
            all_by_month[row.month] += row.amount
            if row.source != ForecastSource.APPROVED:
                forecast += row.amount
        overrun = _overrun(
            budgets=group,
            base=consumed - committed_requests,
            forecast_by_month=all_by_month,
            first=this_month,
            end=end,
        )
        in_window = ZERO
        for budget in group:
            in_window += sum(
                (a for m, a in budget_months(budget).items() if start <= m < end), ZERO
            )
        comparisons.append(
            BudgetComparison(
                department_id=department.pk,
                department=department.name,
                fiscal_year=year,
                budget_labels=[budget.scope_label for budget in group],
                budget=sum((budget.amount for budget in group), ZERO),
                budget_in_window=in_window,
                consumed=consumed,
                forecast=forecast,
                overrun_month=overrun,
                months_ahead=months_between(this_month, overrun) if overrun else None,
            )
        )
    comparisons.sort(key=lambda c: (c.fiscal_year.starts_on, c.department))
    return comparisons


# --- The forecast -----------------------------------------------------------------------


def forecast_build(*, filters: ForecastFilters, today: dt.date) -> Forecast:
    """The forecast for the twelve months from `filters.start`, narrowed by the filters
    (the caller has put the user's scope in them), with the budget line and the budget
    comparison. InvalidInput for a start month outside what forecast_start_check allows."""
    start = forecast_start_check(filters.start, today=today)
    this_month = month_of(today)
    end = add_months(start, WINDOW_MONTHS)
    warnings: list[str] = []
    rows = [
        *forecast_renewals(first=this_month, end=end, today=today, warnings=warnings),
        *forecast_recurring(first=this_month, end=end, today=today),
        *forecast_approved_requests(
            first=this_month,
            end=end,
            warnings=warnings,
            request_ids_shown=filters.request_ids_shown,
        ),
        *forecast_needs(first=this_month, end=end),
    ]
    rows = [row for row in rows if filters.keeps(row)]
    window_rows = [row for row in rows if row.month >= start]
    window = [add_months(start, i) for i in range(WINDOW_MONTHS)]
    budgets = forecast_budgets(filters=filters, first=this_month, end=end)
    budget_line: dict[dt.date, Decimal] = defaultdict(Decimal)
    for budget in budgets:
        for month, amount in budget_months(budget).items():
            budget_line[month] += amount
    sums: dict[tuple[dt.date, ForecastSource], Decimal] = defaultdict(lambda: ZERO)
    for row in window_rows:
        sums[(row.month, row.source)] += row.amount
    months = [
        MonthForecast(
            month=month,
            by_source=[sums[(month, source)] for source in SOURCES],
            budget=budget_line.get(month, ZERO),
        )
        for month in window
    ]
    window_rows.sort(key=lambda r: (r.month, SOURCES.index(r.source), r.department, r.reference))
    return Forecast(
        start=start,
        this_month=this_month,
        months=months,
        rows=window_rows,
        comparisons=_comparisons(
            budgets=budgets, rows=rows, this_month=this_month, start=start, end=end
        ),
        has_budget=bool(budgets),
        warnings=warnings,
    )
