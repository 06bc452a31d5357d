"""Budgets: what they have consumed (computed, never stored), setting and revising them, and
the budget check that approvals runs at submission and at final approval.

Consumption of a budget, all in the base currency, over what falls in its scope (its cost
centre; its category and objective when set) and its fiscal year:

- commitments
  - approved requests not (or no longer) on a live purchase order: their total, from
    approval until they are closed or cancelled (states approved, ordered, received);
  - open purchase orders (draft to received): what is not yet invoiced of their total;
- actuals
  - matched or released invoices of those orders: the sum of their lines, which is what
    becomes spend;
  - imported spend: spend lines of the budget's cost centre (and category) dated in the
    year, except those the invoices above wrote (source "Purchase orders"), counted once.

A request, and what was ordered and invoiced for it, is dated by its needed-by date;
imported spend by its own date. Imported spend names no objective, so a budget narrowed
to an objective counts only requests, orders and invoices.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, Q, QuerySet, Sum
from django.utils import timezone

from analytics.models import SpendLine
from approvals.gates import DecisionPanel, ExtraStep, PanelRow
from planning.models import Budget, BudgetRevision, ExtraApprover, OnExceed
from procurement.errors import Conflict, InvalidInput, NotFound
from procurement.models import (
    Category,
    CostCentre,
    FiscalYear,
    Objective,
    Role,
    User,
)
from procurement.money import to_base_currency
from procurement.permissions import allowed, require
from procurement.prepared import PreparedQuery
from procurement.services import audit_record
from requests.models import PurchaseRequest, RequestState
from sourcing.invoices import SPEND_SOURCE_NAME
from sourcing.models import PAYABLE_INVOICE_STATES, Invoice, PoState, PurchaseOrder

logger = logging.getLogger(__name__)

ZERO = Decimal("0.00")
CENT = Decimal("0.01")
# A budget amount fits Budget.amount (max_digits=16, 2 places).
AMOUNT_LIMIT = Decimal(10) ** 14
# Requests that hold money against a budget until they are closed or cancelled.
COMMITTING_REQUEST_STATES = [RequestState.APPROVED, RequestState.ORDERED, RequestState.RECEIVED]
OPEN_PO_STATES = [
    PoState.DRAFT,
    PoState.ISSUED,
    PoState.ACKNOWLEDGED,
    PoState.PARTIALLY_RECEIVED,
    PoState.RECEIVED,
]
MANAGE_ROLES = (Role.FINANCE, Role.ADMIN)
READ_ALL_ROLES = (Role.FINANCE, Role.PROCUREMENT, Role.ADMIN)


# --- Consumption -----------------------------------------------------------------------


@dataclass(frozen=True)
class Consumption:
    budget: Decimal
    committed_requests: Decimal = ZERO
    committed_orders: Decimal = ZERO
    actual_invoices: Decimal = ZERO
    actual_spend: Decimal = ZERO

    @property
    def committed(self) -> Decimal:
        return self.committed_requests + self.committed_orders

    @property
    def actual(self) -> Decimal:
        return self.actual_invoices + self.actual_spend

    @property
    def consumed(self) -> Decimal:
        return self.committed + self.actual

    @property
    def available(self) -> Decimal:
        return self.budget - self.consumed

    @property
    def over(self) -> bool:
        return self.available < 0


def _base(amount: Decimal, currency: str, on: dt.date) -> Decimal:
    return to_base_currency(amount, currency, on=on)


def request_base_total(request: PurchaseRequest) -> Decimal:
    """The request's total in the base currency, at the rate of the day it was submitted (as
    the approval rules convert it)."""
    on = (request.submitted_at or timezone.now()).date()
    return _base(request.total, request.currency, on)


def _requests_in_scope(budget: Budget) -> QuerySet[PurchaseRequest]:
    year = budget.fiscal_year
    requests = PurchaseRequest.objects.filter(
        cost_centre_id=budget.cost_centre_id,
        needed_by__gte=year.starts_on,
        needed_by__lte=year.ends_on,
    )
    if budget.category_id:
        requests = requests.filter(category_id=budget.category_id)
    if budget.objective_id:
        requests = requests.filter(objective_id=budget.objective_id)
    return requests


def _invoice_amount(invoice: Invoice) -> Decimal:
    total = sum(
        (
            (line.quantity * line.unit_price).quantize(CENT, rounding=ROUND_HALF_UP)
            for line in invoice.lines.all()
        ),
        ZERO,
    )
    return _base(total, invoice.currency, invoice.invoice_date)


def budget_consumption(*, budget: Budget, exclude_request_id: int | None = None) -> Consumption:
    """What `budget` has consumed, computed afresh from the requests, orders, invoices and
    spend lines in its scope. `exclude_request_id` leaves one request (and its orders and
    invoices) out: the "before" of the approver's panel."""
    requests = _requests_in_scope(budget)
    if exclude_request_id is not None:
        requests = requests.exclude(pk=exclude_request_id)
    live_orders = PurchaseOrder.objects.exclude(state=PoState.CANCELLED)
    committed_requests = sum(
        (
            request_base_total(request)
            for request in requests.filter(state__in=COMMITTING_REQUEST_STATES).exclude(
                pk__in=live_orders.values("request_id")
            )
        ),
        ZERO,
    )
    committed_orders = ZERO
    actual_invoices = ZERO
    orders = (
        PurchaseOrder.objects.filter(request__in=requests)
        .exclude(state=PoState.CANCELLED)
        .prefetch_related("invoices__lines")
    )
    for order in orders:
        invoiced = ZERO
        for invoice in order.invoices.all():
            if invoice.state in PAYABLE_INVOICE_STATES:
                invoiced += _invoice_amount(invoice)
        actual_invoices += invoiced
        if order.state in OPEN_PO_STATES:
            order_total = _base(order.total, order.currency, order.created_at.date())
            committed_orders += max(order_total - invoiced, ZERO)
    actual_spend = ZERO
    if not budget.objective_id:
        year = budget.fiscal_year
        lines = SpendLine.objects.filter(
            department__cost_centre_id=budget.cost_centre_id,
            date__gte=year.starts_on,
            date__lte=year.ends_on,
        ).exclude(source__name=SPEND_SOURCE_NAME)
        if budget.category_id:
            lines = lines.filter(category__category_id=budget.category_id)
        total = lines.aggregate(total=Sum("base_amount"))["total"] or ZERO
        # SQLite sums decimals as floats: back to cents.
        actual_spend = Decimal(total).quantize(CENT, rounding=ROUND_HALF_UP)
    return Consumption(
        budget=budget.amount,
        committed_requests=committed_requests,
        committed_orders=committed_orders,
        actual_invoices=actual_invoices,
        actual_spend=actual_spend,
    )


def budgets_for_request(request: PurchaseRequest) -> QuerySet[Budget]:
    """Every budget whose scope holds `request`: its cost centre's budget for the year of
    its needed-by date, and any narrowed to its category or objective."""
    scope = Q(category__isnull=True) | Q(category_id=request.category_id)
    objective = Q(objective__isnull=True)
    if request.objective_id:
        objective |= Q(objective_id=request.objective_id)
    return (
        Budget.objects.filter(
            scope,
            objective,
            cost_centre_id=request.cost_centre_id,
            fiscal_year__starts_on__lte=request.needed_by,
            fiscal_year__ends_on__gte=request.needed_by,
        )
        .select_related("fiscal_year", "cost_centre", "category", "objective", "owner")
        .order_by("id")
    )


def _cost_centre_has_budgets(request: PurchaseRequest) -> bool:
    """Whether the request's cost centre has a budget in any year. When it has none (many
    have none), the five-table query of budgets_for_request is not built at all: 0.2 ms of
    Python for this one against 1.1-1.3 ms for that one, on every approval page and final
    approval; a cost centre with budgets pays the 0.2 ms on top."""
    return bool(_A_BUDGET_OF_COST_CENTRE.list(cost_centre_id=request.cost_centre_id))


# Compiled once (procurement/prepared.py).
_A_BUDGET_OF_COST_CENTRE: PreparedQuery[int] = PreparedQuery(
    # order_by(): the default ordering joins the cost centre and year for nothing.
    lambda cost_centre_id: (
        Budget.objects.filter(cost_centre_id=cost_centre_id)
        .order_by()
        .values_list("pk", flat=True)[:1]
    )
)


@dataclass(frozen=True)
class BudgetImpact:
    """A budget before and after one request: what the approver sees."""

    budget: Budget
    before: Consumption
    this_request: Decimal

    @property
    def remaining_after(self) -> Decimal:
        return self.before.available - self.this_request

    @property
    def exceeds(self) -> bool:
        return self.remaining_after < 0


def budget_impacts(
    request: PurchaseRequest, budgets: Iterable[Budget] | None = None
) -> list[BudgetImpact]:
    """Each budget in scope (or `budgets`) before and after `request`. With no budget in
    scope nothing is converted: a request in a currency without a rate needs one only when
    there is a budget to hold it against."""
    if budgets is None and not _cost_centre_has_budgets(request):
        return []
    in_scope = list(budgets_for_request(request) if budgets is None else budgets)
    if not in_scope:
        return []
    amount = request_base_total(request)
    return [
        BudgetImpact(
            budget=budget,
            before=budget_consumption(budget=budget, exclude_request_id=request.pk),
            this_request=amount,
        )
        for budget in in_scope
    ]


# --- The check approvals runs (installed as a gate from PlanningConfig.ready()) -----------


def _money(amount: Decimal) -> str:
    return f"{amount:,.2f} {settings.BASE_CURRENCY}"


def may_see_budget_figures(request: PurchaseRequest, user: User) -> bool:
    """Budget figures beside a request are for those who decide or manage money: its
    approvers (any round), finance, procurement, admins and the head of its department. Not
    its requester as such: a requester sees no budget on the budget pages either."""
    return allowed(user, "planning.view_budgetfigures", request)


def _reader_sees(impact: BudgetImpact, request: PurchaseRequest, reader: User) -> bool:
    """Whether `reader`, who is told the request does not fit, may read the budget's figures:
    as beside the request (may_see_budget_figures), or as on the budget's own page."""
    return (
        may_see_budget_figures(request, reader)
        or budgets_visible_to(reader).filter(pk=impact.budget.pk).exists()
    )


def _over_message(impact: BudgetImpact, *, figures: bool) -> str:
    """Why a stop budget refuses. With the figures only for a reader who may see them: the
    requester who submits is told which budget and what to do, not what it holds (the
    amount, what is consumed and by how much it is over would give the budget away)."""
    if not figures:
        return (
            f"This request would take the budget {impact.budget} over its limit, and the budget "
            "stops anything beyond it. Ask finance to revise it, or lower the request."
        )
    before = impact.before
    return (
        f"This request would take the budget {impact.budget} over its limit: budget "
        f"{_money(before.budget)}, consumed {_money(before.consumed)}, this request "
        f"{_money(impact.this_request)}, over by {_money(-impact.remaining_after)}. The budget "
        "stops anything beyond it; ask finance to revise it, or lower the request."
    )


def _record_warning(
    request: PurchaseRequest, impact: BudgetImpact, *, by: User | None, verb: str
) -> None:
    """A warn budget let `request` through over its limit. The request's timeline, which its
    requester reads (page and API), names the budget; by how much it is over goes on the
    budget's own audit trail, with the request's reference."""
    over = _money(-impact.remaining_after)
    audit_record(
        target=request,
        actor=by,
        action="budget_warning",
        comment=f"{verb} over budget {impact.budget}.",
    )
    audit_record(
        target=impact.budget,
        actor=by,
        action="budget_warning",
        comment=f"{request.reference} {verb.lower()} over it by {over}.",
    )


def _finance() -> list[User]:
    return list(
        User.objects.filter(is_active=True, roles__role=Role.FINANCE)
        .order_by("username")
        .distinct()
    )


def _extra_step(budget: Budget, request: PurchaseRequest) -> ExtraStep:
    """The step an over-budget request needs: the budget's owner, or any one of finance.

    An owner who is the requester (nobody approves their own request) or who can no longer
    sign in hands the step to finance rather than to the owner's manager: finance set the
    budget and may revise it, and "any one of finance" always has someone else to ask.
    """
    owner = budget.owner
    if budget.extra_approver == ExtraApprover.OWNER:
        # approvals hands the step to the fallback when the owner may not decide it (the
        # requester, or the only approver of another step when one person decides one step).
        return ExtraStep(
            gate=f"budget:{budget.pk}",
            name=f"Budget owner: over budget {budget}"[:120],
            approvers=[owner] if owner.is_active and owner.pk != request.requester_id else [],
            fallback=_finance(),
            fallback_name=f"Finance, for the budget owner: over budget {budget}"[:120],
        )
    name = f"Finance: over budget {budget}"
    return ExtraStep(gate=f"budget:{budget.pk}", name=name[:120], approvers=_finance())


class BudgetGate:
    """Stop, warn or ask for an extra step when a request would exceed a budget."""

    def at_submit(self, request: PurchaseRequest) -> list[ExtraStep]:
        extra = []
        for impact in budget_impacts(request):
            if not impact.exceeds:
                continue
            if impact.budget.on_exceed == OnExceed.STOP:
                # The requester submits (or procurement re-submits an amended request: it
                # still reads as the requester would).
                figures = _reader_sees(impact, request, request.requester)
                raise InvalidInput(_over_message(impact, figures=figures))
            if impact.budget.on_exceed == OnExceed.APPROVAL:
                extra.append(_extra_step(impact.budget, request))
            else:
                _record_warning(request, impact, by=None, verb="Submitted")
        return extra

    def at_final_approval(
        self, request: PurchaseRequest, *, passed: set[str], by: User | None
    ) -> list[ExtraStep]:
        return self._check_locked(request, passed=passed, by=by, verb="Approved")

    def at_amendment(self, request: PurchaseRequest, *, by: User) -> list[ExtraStep]:
        # An approved request whose total went up: nothing the earlier route passed counts
        # for the extra money, so every budget step is asked for again.
        return self._check_locked(request, passed=set(), by=by, verb="Amended")

    def _check_locked(
        self, request: PurchaseRequest, *, passed: set[str], by: User | None, verb: str
    ) -> list[ExtraStep]:
        # Lock the budgets (in id order, after the request row every approver locks first):
        # two requests approved at the same moment against one budget are decided one after
        # the other. The consumption below is read after the lock is granted, and under READ
        # COMMITTED each query sees what committed before it ran, so the second counts the
        # first. Without this lock both would read the budget before either committed, and
        # both would pass (tests/test_it_holds_a_stop_budget_under_concurrent_approvals.py).
        if not _cost_centre_has_budgets(request):
            return []  # nothing to hold the request against, nor to lock
        budgets = list(budgets_for_request(request).select_for_update(of=("self",)))
        extra = []
        for impact in budget_impacts(request, budgets):
            if not impact.exceeds:
                continue
            budget = impact.budget
            if budget.on_exceed == OnExceed.STOP:
                # `by` is None when the request is approved at submission (no rule matched):
                # then the requester reads the refusal.
                figures = _reader_sees(impact, request, by or request.requester)
                raise Conflict(_over_message(impact, figures=figures))
            if budget.on_exceed == OnExceed.APPROVAL:
                if f"budget:{budget.pk}" not in passed:
                    extra.append(_extra_step(budget, request))
            else:
                _record_warning(request, impact, by=by, verb=verb)
        return extra

    def panels(self, request: PurchaseRequest) -> list[DecisionPanel]:
        return decision_panels(request)


def objective_panel(request: PurchaseRequest) -> DecisionPanel:
    """The objective the request serves, or the reason it gives for serving none."""
    if request.objective_id and request.objective:
        objective = request.objective
        return DecisionPanel(
            title="Objective",
            rows=[
                PanelRow("Serves", objective.name, emphasis=True),
                PanelRow("Owner", str(objective.owner)),
                PanelRow("Period", str(objective.fiscal_year)),
                PanelRow("Status", objective.get_status_display()),
            ],
        )
    return DecisionPanel(
        title="Objective",
        rows=[PanelRow("Serves", "No objective", emphasis=True)],
        notes=[f"Reason given: {request.no_objective_reason or 'none yet'}"],
        tone="warn",
    )


def decision_panels(request: PurchaseRequest) -> list[DecisionPanel]:
    """The objective the request serves, and each budget it draws on before and after it."""
    panels = [objective_panel(request)]
    try:
        impacts = budget_impacts(request)
    except InvalidInput as error:  # a missing exchange rate: say so rather than fail the page
        return [*panels, DecisionPanel(title="Budget", notes=[error.message], tone="warn")]
    if not impacts:
        year = FiscalYear.containing(request.needed_by)
        panels.append(
            DecisionPanel(
                title="Budget",
                notes=[
                    f"No budget is set for cost centre {request.cost_centre.code}"
                    + (f" in {year}." if year else " for this date.")
                ],
                tone="warn",
            )
        )
    for impact in impacts:
        before = impact.before
        tone = "over" if impact.exceeds else "ok"
        notes = []
        if impact.exceeds:
            notes.append(
                f"Over budget by {_money(-impact.remaining_after)}. The budget says: "
                f"{impact.budget.get_on_exceed_display()}."
            )
        panels.append(
            DecisionPanel(
                title=f"Budget {impact.budget}",
                rows=[
                    PanelRow("Budget", _money(before.budget)),
                    PanelRow("Consumed before this request", _money(before.consumed)),
                    PanelRow("This request", _money(impact.this_request)),
                    PanelRow("Remaining after", _money(impact.remaining_after), emphasis=True),
                    PanelRow("Owner", str(impact.budget.owner)),
                ],
                notes=notes,
                tone=tone,
            )
        )
    return panels


# --- Setting and revising budgets -------------------------------------------------------


@dataclass(frozen=True)
class BudgetInput:
    fiscal_year: FiscalYear
    cost_centre: CostCentre
    owner: User
    amount: Decimal
    category: Category | None = None
    objective: Objective | None = None
    phasing: Sequence[Decimal] = field(default_factory=list)
    on_exceed: str = OnExceed.WARN
    extra_approver: str = ExtraApprover.OWNER


def _require_manager(user: User) -> None:
    require(user, "planning.change_budget", message="Only finance sets budgets.")


def _check_amounts(amount: Decimal, phasing: Sequence[Decimal]) -> list[str]:
    errors: dict[str, list[str]] = {}
    # The forms and serializers refuse NaN, infinities and too many digits already; a caller
    # of the service must not get a 500 (NaN < 0 raises) or a month in fractions of a cent.
    if not amount.is_finite():
        errors["amount"] = ["Give the amount as a number."]
    elif amount < 0:
        errors["amount"] = ["A budget cannot be negative."]
    elif amount >= AMOUNT_LIMIT:
        errors["amount"] = ["That amount is too large."]
    elif amount != amount.quantize(CENT):
        errors["amount"] = ["Give the amount in cents at most."]
    if phasing:
        if len(phasing) != 12:
            errors["phasing"] = ["Give twelve monthly amounts, one per month of the year."]
        elif not all(month.is_finite() for month in phasing):
            errors["phasing"] = ["Give each month as a number."]
        elif any(month < 0 for month in phasing):
            errors["phasing"] = ["A month cannot be negative."]
        elif any(month >= AMOUNT_LIMIT or month != month.quantize(CENT) for month in phasing):
            errors["phasing"] = ["Give each month in cents at most."]
        elif amount.is_finite() and sum(phasing, ZERO) != amount:
            errors["phasing"] = [
                f"The months add up to {sum(phasing, ZERO):,.2f}, not the budget's {amount:,.2f}."
            ]
    if errors:
        raise InvalidInput(next(iter(errors.values()))[0], fields=errors)
    return []


def _check_scope(data: BudgetInput) -> None:
    errors: dict[str, list[str]] = {}
    if data.fiscal_year.is_closed:
        errors["fiscal_year"] = [f"{data.fiscal_year} is closed; its budgets are final."]
    if data.objective is not None and not data.objective.serves_department(
        data.cost_centre.department_id
    ):
        errors["objective"] = [
            f'"{data.objective.name}" is an objective of {data.objective.department}, not of '
            f"{data.cost_centre.department}, which cost centre {data.cost_centre.code} belongs to."
        ]
    errors.update(budget_objective_year_error(data))
    if data.on_exceed not in OnExceed.values:
        errors["on_exceed"] = [f"Choose one of {', '.join(OnExceed.values)}."]
    if data.extra_approver not in ExtraApprover.values:
        errors["extra_approver"] = [f"Choose one of {', '.join(ExtraApprover.values)}."]
    if errors:
        raise InvalidInput(next(iter(errors.values()))[0], fields=errors)


def _overlap_message(data: BudgetInput) -> str:
    scope = data.cost_centre.code
    if data.category:
        scope += f", {data.category}"
    if data.objective:
        scope += f', objective "{data.objective.name}"'
    return (
        f"There is already a budget for {scope} in {data.fiscal_year}: revise that one "
        "instead of adding a second for the same scope and period."
    )


def budget_create(*, data: BudgetInput, by: User, reason: str = "") -> Budget:
    """Set a budget: version 1, kept as the first revision. 400 for a negative amount,
    phasing that does not add up, a closed year, an objective of another department, or a
    second budget for the same scope and year."""
    _require_manager(by)
    _check_amounts(data.amount, data.phasing)
    _check_scope(data)
    phasing = [str(month) for month in data.phasing]
    try:
        with transaction.atomic():
            budget = Budget.objects.create(
                fiscal_year=data.fiscal_year,
                cost_centre=data.cost_centre,
                category=data.category,
                objective=data.objective,
                owner=data.owner,
                amount=data.amount,
                phasing=phasing,
                on_exceed=data.on_exceed,
                extra_approver=data.extra_approver,
                created_by=by,
            )
            _record_revision(budget=budget, by=by, reason=reason or "Set")
    except IntegrityError:
        # Two finance users setting the same scope at the same instant: the constraint decides.
        raise InvalidInput(
            _overlap_message(data), fields={"cost_centre": [_overlap_message(data)]}
        ) from None
    return budget


def _record_revision(*, budget: Budget, by: User, reason: str) -> BudgetRevision:
    consumed = budget_consumption(budget=budget).consumed
    revision = BudgetRevision.objects.create(
        budget=budget,
        version=budget.version,
        amount=budget.amount,
        phasing=budget.phasing,
        on_exceed=budget.on_exceed,
        owner=budget.owner,
        reason=reason[:500],
        consumed_then=consumed,
        below_consumed=budget.amount < consumed,
        created_by=by,
    )
    audit_record(
        target=budget,
        actor=by,
        action="budget_set" if budget.version == 1 else "budget_revised",
        comment=f"v{budget.version}: {_money(budget.amount)}"
        + (f" (below the {_money(consumed)} already consumed)" if revision.below_consumed else "")
        + (f". {reason}" if reason else ""),
    )
    return revision


def budget_revise(
    *,
    budget_id: int,
    by: User,
    amount: Decimal,
    reason: str,
    phasing: Sequence[Decimal] = (),
    on_exceed: str | None = None,
    extra_approver: str | None = None,
    owner: User | None = None,
) -> BudgetRevision:
    """A new version of a budget; the old one stays as a revision. A version below what is
    already consumed is allowed, and flagged (on the revision and in the audit trail)."""
    _require_manager(by)
    reason = reason.strip()
    if not reason:
        raise InvalidInput(
            "Say why the budget changes.", fields={"reason": ["A reason is required."]}
        )
    _check_amounts(amount, phasing)
    with transaction.atomic():
        budget = (
            Budget.objects.select_for_update(of=("self",))
            .select_related("fiscal_year", "cost_centre__department", "objective")
            .filter(pk=budget_id)
            .first()
        )
        if budget is None:
            raise NotFound("No such budget.")
        if budget.fiscal_year.is_closed:
            raise Conflict(f"{budget.fiscal_year} is closed; its budgets are final.")
        budget.amount = amount
        budget.phasing = [str(month) for month in phasing]
        if on_exceed is not None:
            budget.on_exceed = on_exceed
        if extra_approver is not None:
            budget.extra_approver = extra_approver
        if owner is not None:
            budget.owner = owner
        _check_scope(
            BudgetInput(
                fiscal_year=budget.fiscal_year,
                cost_centre=budget.cost_centre,
                owner=budget.owner,
                amount=amount,
                objective=budget.objective,
                on_exceed=budget.on_exceed,
                extra_approver=budget.extra_approver,
            )
        )
        budget.version += 1
        budget.save()
        return _record_revision(budget=budget, by=by, reason=reason)


def budgets_visible_to(user: User) -> QuerySet[Budget]:
    """Finance, procurement and admins see every budget; a budget owner sees theirs; a
    department head or manager sees their department's."""
    budgets = Budget.objects.select_related(
        "fiscal_year", "cost_centre", "category", "objective", "owner"
    )
    # A deactivated account sees nothing, whatever roles it still holds (found by the
    # permission matrix test: it listed every budget to a deactivated finance account).
    if not user.is_active:
        return budgets.none()
    if user.has_role(*READ_ALL_ROLES):
        return budgets
    mine = Q(owner=user)
    if user.has_role(Role.MANAGER) and user.department_id:
        mine |= Q(cost_centre__department_id=user.department_id)
    mine |= Q(cost_centre__department__head=user)
    return budgets.filter(mine)


# --- H1 ---
# Reads for the budget and objective pages: the same figures as budget_consumption, with
# the requests, orders and invoices that make them up. A test holds the two to each other.


@dataclass(frozen=True)
class CommittedRequest:
    """An approved request on no live order: its whole total is committed."""

    request: PurchaseRequest
    amount: Decimal


@dataclass(frozen=True)
class CountedOrder:
    """A live order of a request in scope: what is invoiced is actual; while the order is
    open, the rest of its total is committed."""

    order: PurchaseOrder
    total: Decimal
    invoiced: Decimal
    committed: Decimal


@dataclass(frozen=True)
class CountedInvoice:
    invoice: Invoice
    amount: Decimal


@dataclass(frozen=True)
class RequestSide:
    """What requests, their orders and invoices consume (imported spend aside)."""

    requests: list[CommittedRequest]
    orders: list[CountedOrder]
    invoices: list[CountedInvoice]

    @property
    def committed_requests(self) -> Decimal:
        return sum((row.amount for row in self.requests), ZERO)

    @property
    def committed_orders(self) -> Decimal:
        return sum((row.committed for row in self.orders), ZERO)

    @property
    def actual_invoices(self) -> Decimal:
        return sum((row.amount for row in self.invoices), ZERO)


def request_side(requests: QuerySet[PurchaseRequest]) -> RequestSide:
    """The request side of consumption (see the module docstring) for `requests`, item by
    item: the rules of budget_consumption, for any set of requests (a budget's scope, or
    every request serving some objectives)."""
    live_orders = PurchaseOrder.objects.exclude(state=PoState.CANCELLED)
    committed = [
        CommittedRequest(request=request, amount=request_base_total(request))
        for request in requests.filter(state__in=COMMITTING_REQUEST_STATES)
        .exclude(pk__in=live_orders.values("request_id"))
        .select_related("department", "cost_centre")
        .order_by("needed_by", "id")
    ]
    orders: list[CountedOrder] = []
    invoices: list[CountedInvoice] = []
    for order in (
        live_orders.filter(request__in=requests)
        .select_related("request", "vendor")
        .prefetch_related("invoices__lines")
        .order_by("created_at", "id")
    ):
        invoiced = ZERO
        for invoice in order.invoices.all():
            if invoice.state in PAYABLE_INVOICE_STATES:
                amount = _invoice_amount(invoice)
                invoiced += amount
                invoices.append(CountedInvoice(invoice=invoice, amount=amount))
        total = _base(order.total, order.currency, order.created_at.date())
        remaining = max(total - invoiced, ZERO) if order.state in OPEN_PO_STATES else ZERO
        orders.append(
            CountedOrder(order=order, total=total, invoiced=invoiced, committed=remaining)
        )
    return RequestSide(requests=committed, orders=orders, invoices=invoices)


@dataclass(frozen=True)
class ConsumptionDetail:
    consumption: Consumption
    side: RequestSide
    spend_lines: int  # imported spend lines counted in actual_spend


def budget_consumption_detail(*, budget: Budget) -> ConsumptionDetail:
    """budget_consumption with its parts: the committed requests, the orders and the
    invoices, and how many imported spend lines the actual spend sums."""
    side = request_side(_requests_in_scope(budget))
    actual_spend = ZERO
    spend_lines = 0
    if not budget.objective_id:
        year = budget.fiscal_year
        lines = SpendLine.objects.filter(
            department__cost_centre_id=budget.cost_centre_id,
            date__gte=year.starts_on,
            date__lte=year.ends_on,
        ).exclude(source__name=SPEND_SOURCE_NAME)
        if budget.category_id:
            lines = lines.filter(category__category_id=budget.category_id)
        totals = lines.aggregate(total=Sum("base_amount"), count=Count("id"))
        actual_spend = totals["total"] or ZERO
        spend_lines = totals["count"]
    return ConsumptionDetail(
        consumption=Consumption(
            budget=budget.amount,
            committed_requests=side.committed_requests,
            committed_orders=side.committed_orders,
            actual_invoices=side.actual_invoices,
            actual_spend=actual_spend,
        ),
        side=side,
        spend_lines=spend_lines,
    )


def budget_months(budget: Budget) -> list[tuple[dt.date, Decimal]]:
    """The first day of each of the year's twelve months with its planned amount."""
    start = budget.fiscal_year.starts_on.replace(day=1)
    months = []
    for index, amount in enumerate(budget.monthly_amounts()):
        year, month = divmod(start.month - 1 + index, 12)
        months.append((dt.date(start.year + year, month + 1, 1), amount))
    return months


def budget_objective_year_error(data: BudgetInput) -> dict[str, list[str]]:
    """A budget narrowed to an objective is for the objective's own year."""
    if data.objective is not None and data.objective.fiscal_year_id != data.fiscal_year.pk:
        return {
            "objective": [
                f'"{data.objective.name}" is an objective of {data.objective.fiscal_year}, not '
                f"of {data.fiscal_year}."
            ]
        }
    return {}
