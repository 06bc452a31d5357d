"""Match tolerances: one row per vendor and category, per vendor alone and per category alone,
enforced by the database on SQLite as on PostgreSQL."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from procurement.models import Category
from sourcing.models import MatchTolerance
from sourcing.tests.helpers import vendor

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("scope", ["vendor and category", "vendor", "category"])
def test_it_refuses_a_second_tolerance_for_the_same_scope(org, scope):
    northwind = vendor(org, "Northwind Hardware Ltd")
    hardware = Category.objects.get(code="hardware")
    fields = {
        "vendor and category": {"vendor": northwind, "category": hardware},
        "vendor": {"vendor": northwind},
        "category": {"category": hardware},
    }[scope]
    MatchTolerance.objects.create(price_percent=Decimal("5"), quantity_percent=0, **fields)

    with pytest.raises(IntegrityError), transaction.atomic():
        MatchTolerance.objects.create(price_percent=Decimal("9"), quantity_percent=0, **fields)

    assert MatchTolerance.objects.count() == 1


def test_it_keeps_a_vendor_row_beside_its_vendor_and_category_row(org):
    northwind = vendor(org, "Northwind Hardware Ltd")
    hardware = Category.objects.get(code="hardware")

    MatchTolerance.objects.create(vendor=northwind, price_percent=5, quantity_percent=0)
    MatchTolerance.objects.create(category=hardware, price_percent=3, quantity_percent=0)
    MatchTolerance.objects.create(
        vendor=northwind, category=hardware, price_percent=8, quantity_percent=1
    )

    assert MatchTolerance.objects.count() == 3
