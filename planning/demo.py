"""Demo planning data for a local install (called by seed_demo, after the departments, users
and spend exist): the April-to-March fiscal year holding today, two business objectives, a
budget for each demo cost centre, set through the services so each has its version 1 and
audit entry, and each demo spend department mapped to its department's main cost centre, so
the budgets count imported spend. Idempotent: running it again creates nothing new."""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from planning.budgets import BudgetInput, budget_consumption, budget_create
from planning.models import Budget, ExtraApprover, OnExceed
from planning.objectives import ObjectiveInput, objective_create
from procurement.models import (
    CostCentre,
    Department,
    FiscalYear,
    Objective,
    ObjectiveStatus,
    Role,
    User,
)

CLOUD = "Move finance workloads to the cloud"
LAPTOPS = "Replace laptops past their service life"

# Cost centre code: (at least, on exceed). The demo's spend is made up relative to today, so
# each budget is set from what its cost centre has already consumed this year: 30% above it,
# and never below the amount given. IT-100 is the exception (see IT_100_HEADROOM).
BUDGETS = {
    "IT-100": (Decimal("120000.00"), OnExceed.APPROVAL),
    "IT-200": (Decimal("250000.00"), OnExceed.WARN),
    "FIN-100": (Decimal("40000.00"), OnExceed.WARN),
    "LEG-100": (Decimal("15000.00"), OnExceed.WARN),
    "OPS-100": (Decimal("60000.00"), OnExceed.STOP),
    "MKT-100": (Decimal("30000.00"), OnExceed.WARN),
}
HEADROOM = Decimal("1.3")
# IT-100 keeps only 3,000-4,000 free, less than the sample request waiting for Mark (4,917):
# approving it shows the budget check adding its extra step, in the demo.
IT_100_HEADROOM = Decimal("3000")
# Narrowed to the cloud objective: what IT's infrastructure may spend on it.
CLOUD_BUDGET = ("IT-200", Decimal("50000.00"), OnExceed.STOP)


def _finance_user() -> User:
    finance = (
        User.objects.filter(is_active=True, roles__role=Role.FINANCE)
        .order_by("username")
        .distinct()
        .first()
    )
    if finance is None:
        raise ValueError("seed_planning needs a finance user: run it after the demo users.")
    return finance


def _year(today: dt.date) -> tuple[FiscalYear, bool]:
    # A year already holding today is used as it is: years may not overlap.
    existing = FiscalYear.containing(today)
    if existing is not None:
        return existing, False
    # April to March, as many UK organisations keep their books: the demo's requests,
    # needed a few weeks from now, fall in the same year whatever month it is.
    first = today.year if today.month >= 4 else today.year - 1
    year = FiscalYear(
        name=f"FY{first}/{(first + 1) % 100:02d}",
        starts_on=dt.date(first, 4, 1),
        ends_on=dt.date(first + 1, 3, 31),
    )
    year.full_clean()
    year.save()
    return year, True


def _objective(
    *, name: str, year: FiscalYear, owner: User, by: User, department: Department | None, text: str
) -> tuple[Objective, bool]:
    existing = Objective.objects.filter(fiscal_year=year, name=name).first()
    if existing is not None:
        return existing, False
    created = objective_create(
        data=ObjectiveInput(
            name=name,
            description=text,
            owner=owner,
            fiscal_year=year,
            department=department,
            status=ObjectiveStatus.ACTIVE,
        ),
        by=by,
    )
    return created, True


def _budget(
    *,
    year: FiscalYear,
    cost_centre: CostCentre,
    amount: Decimal,
    on_exceed: str,
    owner: User,
    by: User,
    objective: Objective | None = None,
) -> bool:
    if Budget.objects.filter(
        fiscal_year=year, cost_centre=cost_centre, category=None, objective=objective
    ).exists():
        return False
    budget_create(
        data=BudgetInput(
            fiscal_year=year,
            cost_centre=cost_centre,
            owner=owner,
            amount=amount,
            objective=objective,
            on_exceed=on_exceed,
            extra_approver=ExtraApprover.OWNER,
        ),
        by=by,
        reason="Demo budget",
    )
    return True


def _amount_for(*, year: FiscalYear, cost_centre: CostCentre, floor: Decimal) -> Decimal:
    consumed = budget_consumption(
        budget=Budget(fiscal_year=year, cost_centre=cost_centre, amount=Decimal(0))
    ).consumed
    if cost_centre.code == "IT-100":
        wanted = consumed + IT_100_HEADROOM
    else:
        wanted = max(consumed * HEADROOM, floor)
    return Decimal(math.ceil(wanted / 1000) * 1000).quantize(Decimal("0.01"))


def _map_spend_departments() -> None:
    """Point each demo spend department without a cost centre at the first cost centre of the
    department it is mapped to (IT -> IT-100): what finance does once on the spend departments
    page (/analytics/payees/departments/)."""
    from analytics.models import SpendDepartment

    for spend_department in SpendDepartment.objects.filter(
        cost_centre__isnull=True, department__isnull=False
    ):
        first = (
            CostCentre.objects.filter(department=spend_department.department, is_active=True)
            .order_by("code")
            .first()
        )
        if first is not None:
            spend_department.cost_centre = first
            spend_department.save(update_fields=["cost_centre"])


def seed_planning(*, now: dt.datetime) -> dict[str, int]:
    """The demo's fiscal year (April to March, holding `now`, named FY2026/27, unless a year
    holding it exists), objectives and budgets; how many of each were created this time."""
    today = timezone.localdate(now)
    created = {"fiscal_years": 0, "objectives": 0, "budgets": 0}
    with transaction.atomic():
        finance = _finance_user()
        year, new_year = _year(today)
        created["fiscal_years"] += new_year
        it = Department.objects.filter(code="it").select_related("head").first()
        it_head = it.head if it is not None and it.head is not None else finance
        cloud, new = _objective(
            name=CLOUD,
            year=year,
            owner=finance,
            by=finance,
            department=None,
            text="Retire the on-premises finance servers: ledger, reporting and payroll run "
            "as managed cloud services by the end of the year.",
        )
        created["objectives"] += new
        if it is not None:
            _laptops, new = _objective(
                name=LAPTOPS,
                year=year,
                owner=it_head,
                by=finance,
                department=it,
                text="Every laptop older than four years is replaced, and the old ones wiped "
                "and recycled.",
            )
            created["objectives"] += new
        _map_spend_departments()
        for code, (floor, on_exceed) in BUDGETS.items():
            cost_centre = CostCentre.objects.filter(code=code).select_related("department").first()
            if cost_centre is None:
                continue
            amount = _amount_for(year=year, cost_centre=cost_centre, floor=floor)
            head = cost_centre.department.head
            created["budgets"] += _budget(
                year=year,
                cost_centre=cost_centre,
                amount=amount,
                on_exceed=on_exceed,
                owner=head if head is not None else finance,
                by=finance,
            )
        code, amount, on_exceed = CLOUD_BUDGET
        cost_centre = CostCentre.objects.filter(code=code).first()
        if cost_centre is not None:
            created["budgets"] += _budget(
                year=year,
                cost_centre=cost_centre,
                amount=amount,
                on_exceed=on_exceed,
                owner=finance,
                by=finance,
                objective=cloud,
            )
    return created
