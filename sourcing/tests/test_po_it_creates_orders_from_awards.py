"""A purchase order is created from an approved award: the quote's lines, the vendor's
contact and contract, and the year's next number, gap-free."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone

from procurement.errors import Conflict, NotAllowed
from sourcing.models import Award, PoNumberSequence, PurchaseOrder
from sourcing.order_selectors import po_history
from sourcing.orders import po_create_from_award
from sourcing.tests.helpers import awarded_po, closed_rfq_with_two_quotes, make_award
from vendors.models import Contract
from vendors.services import vendor_transition

pytestmark = pytest.mark.django_db


def _award(org):
    rfq, northwind, _contoso = closed_rfq_with_two_quotes(org)
    return make_award(org, rfq, northwind)


def test_it_creates_a_draft_po_with_the_awarded_quotes_lines(org):
    po = awarded_po(org)

    year = timezone.localdate().year
    assert po.number == f"PO-{year}-000001"
    assert po.state == "draft"
    assert po.vendor.legal_name == "Northwind Hardware Ltd"
    assert po.contact_email == "sales@northwind.example"
    assert (po.currency, po.total, po.approved_total) == (
        "GBP",
        Decimal("2300.00"),
        Decimal("2300.00"),
    )
    assert po.delivery_date == timezone.localdate() + dt.timedelta(days=10)
    assert po.contract is None
    [line] = po.lines.all()
    assert (line.description, line.quantity, line.unit_price, line.category.code) == (
        "Laptop, 14 inch",
        Decimal("2"),
        Decimal("1150.00"),
        "hardware",
    )
    [created] = po_history(po)
    assert (created.entry.actor, created.verb) == (org.procurement, "created the order")
    assert "Northwind Hardware Ltd" in created.comment


def test_it_numbers_the_next_order_of_the_year_one_higher(org):
    first = awarded_po(org)
    second = po_create_from_award(award_id=_award(org).pk, by=org.procurement)

    year = timezone.localdate().year
    assert (first.number, second.number) == (f"PO-{year}-000001", f"PO-{year}-000002")
    assert PoNumberSequence.objects.get(year=year).last_number == 2


def test_it_keeps_numbers_gap_free_when_a_creation_rolls_back(org):
    award = _award(org)

    def award_then_fail() -> None:
        with transaction.atomic():
            po_create_from_award(award_id=award.pk, by=org.procurement)
            raise RuntimeError("something after the PO failed")

    with pytest.raises(RuntimeError):
        award_then_fail()

    assert not PurchaseOrder.objects.exists()
    po = po_create_from_award(award_id=award.pk, by=org.procurement)
    assert po.number.endswith("-000001")


def test_it_links_the_vendors_live_contract_covering_today(org):
    award = _award(org)
    vendor = award.quote.invitation.vendor
    today = timezone.localdate()
    contract = Contract.objects.create(
        vendor=vendor,
        title="Laptop framework agreement",
        owner=org.procurement,
        value=Decimal("100000"),
        currency="GBP",
        start_date=today - dt.timedelta(days=30),
        end_date=today + dt.timedelta(days=335),
        notice_deadline=today + dt.timedelta(days=300),
        created_by=org.procurement,
    )
    Contract.objects.filter(pk=contract.pk).update(state="active")

    po = po_create_from_award(award_id=award.pk, by=org.procurement)

    assert po.contract == contract


def test_it_refuses_an_award_still_awaiting_approval(org):
    award = _award(org)
    Award.objects.filter(pk=award.pk).update(state="pending_approval")

    with pytest.raises(Conflict) as refused:
        po_create_from_award(award_id=award.pk, by=org.procurement)

    assert "awaiting approval" in refused.value.message
    assert not PurchaseOrder.objects.exists()


def test_it_refuses_a_second_po_for_the_same_award(org):
    po = awarded_po(org)

    with pytest.raises(Conflict) as refused:
        po_create_from_award(award_id=po.award_id, by=org.procurement)

    assert refused.value.message.endswith(f"already has {po.number}.")
    assert PurchaseOrder.objects.count() == 1


def test_it_refuses_a_po_to_a_blocked_vendor_and_uses_no_number(org):
    award = _award(org)
    vendor_transition(
        vendor_id=award.quote.invitation.vendor_id,
        by=org.procurement,
        action="block",
        reason="Confirmed sanctions match",
    )

    with pytest.raises(Conflict) as refused:
        po_create_from_award(award_id=award.pk, by=org.procurement)

    assert refused.value.message == (
        "Northwind Hardware Ltd is blocked: no order can be placed with it."
    )
    assert refused.value.status == 409
    assert not PurchaseOrder.objects.exists()
    assert not PoNumberSequence.objects.filter(last_number__gt=0).exists()


def test_it_lets_only_procurement_create_orders(org):
    award = _award(org)

    with pytest.raises(NotAllowed):
        po_create_from_award(award_id=award.pk, by=org.requester)

    assert not PurchaseOrder.objects.exists()
