"""The demo's planning data (planning.demo.seed_planning, which seed_demo calls): this
April-to-March fiscal year, two objectives and a budget per demo cost centre, set through the services;
running it again creates nothing."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from planning.demo import CLOUD, LAPTOPS, seed_planning
from planning.models import Budget, BudgetRevision
from procurement.models import AuditEntry, FiscalYear, Objective
from tests.factories import CostCentreFactory

pytestmark = pytest.mark.django_db


def test_it_seeds_a_year_objectives_and_budgets_once(org):
    CostCentreFactory.create(code="IT-200", department=org.department)
    CostCentreFactory.create(code="MKT-100", department=org.other_department)
    now = timezone.now()

    first = seed_planning(now=now)
    again = seed_planning(now=now)

    assert first == {"fiscal_years": 1, "objectives": 2, "budgets": 4}
    assert again == {"fiscal_years": 0, "objectives": 0, "budgets": 0}
    today = timezone.localdate(now)
    year = FiscalYear.objects.get()
    first_year = today.year if today.month >= 4 else today.year - 1
    assert (year.name, year.starts_on, year.ends_on) == (
        f"FY{first_year}/{(first_year + 1) % 100:02d}",
        dt.date(first_year, 4, 1),
        dt.date(first_year + 1, 3, 31),
    )
    cloud = Objective.objects.get(name=CLOUD)
    laptops = Objective.objects.get(name=LAPTOPS)
    assert (cloud.department, laptops.department, laptops.owner) == (None, org.department, org.head)
    it_100 = Budget.objects.get(cost_centre=org.cost_centre)
    assert (it_100.on_exceed, it_100.owner, it_100.amount) == (
        "approval",
        org.head,
        # Nothing consumed yet in this test: the 3,000 kept free, which is all it has.
        Decimal("3000.00"),
    )
    assert Budget.objects.get(objective=cloud).cost_centre.code == "IT-200"
    assert BudgetRevision.objects.count() == 4
    assert AuditEntry.objects.filter(action="budget_set").count() == 4


def test_it_uses_a_year_that_already_holds_today(org):
    today = timezone.localdate()
    existing = FiscalYear.objects.create(
        name="FY-current",
        starts_on=today - dt.timedelta(days=100),
        ends_on=today + dt.timedelta(days=200),
    )

    seed_planning(now=timezone.now())

    assert list(FiscalYear.objects.all()) == [existing]
    assert Budget.objects.get().fiscal_year == existing
