"""Builders for planning tests: fiscal years, objectives and budgets, through the services."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.utils import timezone

from planning.budgets import BudgetInput, budget_create
from planning.models import Budget
from procurement.models import FiscalYear, Objective


def this_year(*, closed: bool = False) -> FiscalYear:
    """The fiscal year holding today and the next 300 days (so a request needed in a month
    falls in it): from the first of this month, one year long."""
    today = timezone.localdate()
    starts = today.replace(day=1)
    year, _ = FiscalYear.objects.get_or_create(
        name=f"FY{starts.year + 1}",
        defaults={
            "starts_on": starts,
            "ends_on": starts.replace(year=starts.year + 1) - dt.timedelta(days=1),
            "is_closed": closed,
        },
    )
    return year


def objective(
    org: Any, *, name: str = "Move finance workloads to the cloud", **fields: Any
) -> Objective:
    fields.setdefault("owner", org.head)
    fields.setdefault("fiscal_year", this_year())
    return Objective.objects.create(name=name, **fields)


def budget(org: Any, amount: str | Decimal = "10000", **fields: Any) -> Budget:
    """A budget for org.cost_centre this year, owned by Hana (the department head), set by
    Fiona (finance)."""
    data = BudgetInput(
        fiscal_year=fields.pop("fiscal_year", None) or this_year(),
        cost_centre=fields.pop("cost_centre", None) or org.cost_centre,
        owner=fields.pop("owner", None) or org.head,
        amount=Decimal(amount),
        **fields,
    )
    return budget_create(data=data, by=org.finance)
