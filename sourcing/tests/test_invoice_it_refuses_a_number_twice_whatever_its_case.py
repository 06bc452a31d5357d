"""A vendor's invoice number is one invoice whatever its case: the database itself refuses
"inv-1" after "INV-1", so two clerks recording it at the same instant against two POs of the
same vendor cannot pay it twice."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from sourcing.models import Invoice
from sourcing.tests.helpers import issued_po

pytestmark = pytest.mark.django_db


def test_it_refuses_the_same_number_in_another_case_in_the_database(org):
    po = issued_po(org)

    def record(number: str) -> Invoice:
        return Invoice.objects.create(
            po=po,
            vendor=po.vendor,
            number=number,
            invoice_date=timezone.localdate(),
            currency=po.currency,
            total=Decimal("100.00"),
            recorded_by=org.finance,
        )

    record("INV-1")
    with pytest.raises(IntegrityError), transaction.atomic():
        record("inv-1")

    assert Invoice.objects.filter(vendor=po.vendor).count() == 1
