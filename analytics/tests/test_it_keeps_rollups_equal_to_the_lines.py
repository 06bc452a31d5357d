"""Rollups always equal a fresh GROUP BY over the lines: after imports, re-imports,
overlapping files, lines added by the platform, deletions and remapped payees."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db.models import Count, Q, Sum

from analytics.models import (
    SpendByMonthCategory,
    SpendByMonthDepartment,
    SpendByMonthPayee,
    SpendByYearPayee,
    SpendCube,
    SpendImport,
    SpendLine,
    SpendRollup,
)
from analytics.rollups import rollups_rebuild
from analytics.services import (
    LineInput,
    spend_import_delete,
    spend_import_from_path,
    spend_import_run,
    spend_lines_add,
    spend_source_get_or_create,
)
from analytics.tests.datasets import CABINET, DATASETS
from conftest import Org

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(not DATASETS.is_dir(), reason=f"the shared datasets are not at {DATASETS}"),
]
CENT = Decimal("0.01")


def _fresh(dimensions: list[str]) -> dict[tuple, tuple[Decimal, int]]:
    rows = (
        SpendLine.objects.values("month", *dimensions)
        .annotate(amount=Sum("base_amount"), lines=Count("id"))
        .order_by()
    )
    return {
        (r["month"], *(r[d] for d in dimensions)): (r["amount"].quantize(CENT), r["lines"])
        for r in rows
    }


def _stored(model: type[SpendRollup], dimensions: list[str]) -> dict[tuple, tuple[Decimal, int]]:
    return {
        (r["month"], *(r[d] for d in dimensions)): (r["amount"].quantize(CENT), r["lines"])
        for r in model._default_manager.values("month", "amount", "lines", *dimensions)
    }


def assert_rollups_match_the_lines() -> None:
    assert _stored(SpendByMonthCategory, ["category_id"]) == _fresh(["category_id"])
    assert _stored(SpendByMonthPayee, ["payee_id"]) == _fresh(["payee_id"])
    assert _stored(SpendByMonthDepartment, ["department_id"]) == _fresh(["department_id"])
    per_year: dict[tuple, tuple[Decimal, int]] = {}
    for (month, payee_id), (amount, lines) in _fresh(["payee_id"]).items():
        key = (month.replace(month=1), payee_id)
        before = per_year.get(key, (Decimal("0"), 0))
        per_year[key] = (before[0] + amount, before[1] + lines)
    assert _stored(SpendByYearPayee, ["payee_id"]) == per_year
    cube = (
        SpendLine.objects.annotate(on_contract=~Q(contract=None))
        .values("month", "department_id", "category_id", "on_contract")
        .annotate(amount=Sum("base_amount"), lines=Count("id"))
        .order_by()
    )
    fresh_cube = {
        (r["month"], r["department_id"], r["category_id"], r["on_contract"]): (
            r["amount"].quantize(CENT),
            r["lines"],
        )
        for r in cube
    }
    stored_cube = _stored(SpendCube, ["department_id", "category_id", "on_contract"])
    assert stored_cube == fresh_cube


def _import(name: str) -> SpendImport:
    path = DATASETS / "cabinet-office-spend-over-25k" / name
    source = spend_source_get_or_create(name="Cabinet Office")
    return spend_import_run(
        spend_import_id=spend_import_from_path(source=source, path=path, mapping=CABINET).pk
    )


def test_it_keeps_rollups_exact_through_imports_reimports_and_deletions(org: Org) -> None:
    july = _import("2021-07.csv")
    assert_rollups_match_the_lines()

    august = _import("2021-08.csv")  # republishes part of July
    assert august.rows_already_imported > 0
    assert_rollups_match_the_lines()

    _import("2021-07.csv")  # the same file again
    assert_rollups_match_the_lines()

    spend_lines_add(
        source=spend_source_get_or_create(name="Platform invoices"),
        lines=[
            LineInput(
                date=dt.date(2021, 7, 5),
                amount=Decimal("1250.00"),
                supplier="Acme Ltd",
                reference="INV-1",
            ),
            LineInput(
                date=dt.date(2021, 7, 6),
                amount=Decimal("-250.00"),
                supplier="Acme Ltd",
                reference="CN-1",
            ),
        ],
    )
    assert_rollups_match_the_lines()

    spend_import_delete(spend_import=july, user=org.procurement)
    assert SpendLine.objects.filter(spend_import=august).exists()
    assert_rollups_match_the_lines()

    spend_import_delete(spend_import=august, user=org.procurement)
    assert_rollups_match_the_lines()
    assert SpendLine.objects.count() == 2


def test_it_rebuilds_rollups_to_the_same_figures() -> None:
    _import("2021-07.csv")
    _import("2021-08.csv")
    before = _stored(SpendCube, ["department_id", "category_id", "on_contract"])

    rollups_rebuild()

    assert _stored(SpendCube, ["department_id", "category_id", "on_contract"]) == before
    assert_rollups_match_the_lines()
