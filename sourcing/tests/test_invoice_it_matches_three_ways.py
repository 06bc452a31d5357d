"""An invoice is matched against its PO and receipts: a match becomes spend in analytics
(vendor, category, department, contract); a difference puts it on hold with the reason and
tells finance, who release or reject it."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from analytics.models import SpendCategory, SpendLine
from analytics.scope import SpendFilters, spend_filters_for
from analytics.selectors import spend_by_category, spend_by_vendor, spend_on_contract, spend_summary
from procurement.errors import Conflict, InvalidInput, NotAllowed
from procurement.models import Category
from sourcing.invoices import (
    invoice_record,
    invoice_reject,
    invoice_release,
    invoice_rematch,
    tolerance_for,
)
from sourcing.models import Invoice, MatchTolerance, PurchaseOrder
from sourcing.order_selectors import invoices_on_hold
from sourcing.receipts import receipt_record
from sourcing.tests.helpers import issued_po
from vendors.models import Contract

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate


def _receive_all(org, po):
    receipt_record(
        po_id=po.pk, by=org.requester, received_on=TODAY(), lines={po.lines.get().pk: Decimal("2")}
    )


def _invoice(
    org,
    po,
    *,
    number="INV-1001",
    quantity="2",
    price="1150.00",
    total=None,
    currency="GBP",
    by=None,
):
    amount = Decimal(quantity) * Decimal(price)
    return invoice_record(
        po_id=po.pk,
        by=by or org.procurement,
        number=number,
        invoice_date=TODAY(),
        currency=currency,
        total=Decimal(total) if total else amount,
        lines={po.lines.get().pk: (Decimal(quantity), Decimal(price))},
    )


def _with_contract(org, po) -> Contract:
    contract = Contract.objects.create(
        vendor=po.vendor,
        title="Laptop framework agreement",
        owner=org.procurement,
        value=Decimal("100000"),
        currency="GBP",
        start_date=TODAY() - dt.timedelta(days=30),
        end_date=TODAY() + dt.timedelta(days=335),
        notice_deadline=TODAY() + dt.timedelta(days=300),
        created_by=org.procurement,
    )
    Contract.objects.filter(pk=contract.pk).update(state="active")
    PurchaseOrder.objects.filter(pk=po.pk).update(contract=contract)
    return contract


def test_it_matches_an_invoice_and_records_it_as_spend(org):
    po = issued_po(org)
    contract = _with_contract(org, po)
    _receive_all(org, po)

    invoice = _invoice(org, po)

    assert invoice.state == "matched"
    assert invoice.hold_reasons == []
    assert Invoice.objects.get(pk=invoice.pk).spend_recorded_at is not None
    [line] = SpendLine.objects.all()
    assert (line.amount, line.currency, line.date, line.quantity) == (
        Decimal("2300.00"),
        "GBP",
        TODAY(),
        Decimal("2"),
    )
    assert line.reference == f"{po.number}/INV-1001"
    assert line.contract_id == contract.pk
    # What the dashboards show: the vendor, the category, the department, on contract.
    everything = SpendFilters()
    [vendor_row] = spend_by_vendor(filters=everything).rows
    assert (vendor_row.param, vendor_row.id, vendor_row.amount) == (
        "vendor",
        po.vendor_id,
        Decimal("2300.00"),
    )
    hardware = SpendCategory.objects.get(category=Category.objects.get(code="hardware"))
    [category_row] = spend_by_category(
        filters=SpendFilters(category_ids=frozenset({hardware.pk}))
    ).rows
    assert (category_row.name, category_row.amount) == ("Hardware", Decimal("2300.00"))
    assert spend_summary(filters=spend_filters_for(org.manager)).total == Decimal("2300.00")
    assert spend_summary(filters=spend_filters_for(org.manager)).vendors == 1
    assert spend_on_contract(filters=everything).on_contract == Decimal("2300.00")


def test_it_holds_an_invoice_above_the_price_tolerance_and_tells_finance(
    org, mailoutbox, django_capture_on_commit_callbacks
):
    po = issued_po(org)
    _receive_all(org, po)

    with django_capture_on_commit_callbacks(execute=True):
        invoice = _invoice(org, po, price="1300.00")

    assert invoice.state == "on_hold"
    line_id = po.lines.get().pk
    assert invoice.hold_reasons == [
        {
            "line_id": line_id,
            "code": "price",
            "message": "Line 1: invoiced at 1,300.00, ordered at 1,150.00: 13.0% above, tolerance 2%",
        },
        {
            "line_id": None,
            "code": "over_po_total",
            "message": f"2,600.00 GBP invoiced against {po.number}, above its total 2,300.00 "
            "plus tolerance (2,346.00)",
        },
    ]
    [email] = [m for m in mailoutbox if m.to == [org.finance.email]]
    assert email.subject == f"Invoice INV-1001 from Northwind Hardware Ltd is on hold ({po.number})"
    assert "13.0% above, tolerance 2%" in email.body
    assert not SpendLine.objects.exists()
    assert list(invoices_on_hold(by=org.finance)) == [invoice]


def test_it_matches_within_a_vendors_own_tolerance(org):
    po = issued_po(org)
    _receive_all(org, po)
    MatchTolerance.objects.create(
        vendor=po.vendor, price_percent=Decimal("15"), quantity_percent=Decimal("0")
    )

    invoice = _invoice(org, po, price="1300.00")

    assert invoice.state == "matched"
    assert SpendLine.objects.get().amount == Decimal("2600.00")


def test_it_takes_the_most_specific_tolerance(org, settings):
    po = issued_po(org)
    hardware = Category.objects.get(code="hardware")
    settings.INVOICE_PRICE_TOLERANCE_PERCENT = Decimal("1")
    assert tolerance_for(po.vendor, hardware) == (Decimal("1"), Decimal("0"))
    MatchTolerance.objects.create(
        category=hardware, price_percent=Decimal("3"), quantity_percent=Decimal("1")
    )
    assert tolerance_for(po.vendor, hardware) == (Decimal("3"), Decimal("1"))
    MatchTolerance.objects.create(
        vendor=po.vendor, price_percent=Decimal("4"), quantity_percent=Decimal("2")
    )
    assert tolerance_for(po.vendor, hardware) == (Decimal("4"), Decimal("2"))
    MatchTolerance.objects.create(
        vendor=po.vendor,
        category=hardware,
        price_percent=Decimal("5"),
        quantity_percent=Decimal("3"),
    )
    assert tolerance_for(po.vendor, hardware) == (Decimal("5"), Decimal("3"))


def test_it_holds_an_invoice_before_the_goods_arrive_and_clears_it_on_receipt(org):
    po = issued_po(org)

    invoice = _invoice(org, po)
    assert invoice.state == "on_hold"
    assert [reason["message"] for reason in invoice.hold_reasons] == [
        "Line 1: not yet received (2 invoiced)"
    ]
    assert invoice_rematch(invoice_id=invoice.pk, by=org.finance).state == "on_hold"

    _receive_all(org, po)

    invoice = Invoice.objects.get(pk=invoice.pk)
    assert (invoice.state, invoice.hold_reasons) == ("matched", [])
    assert SpendLine.objects.get().amount == Decimal("2300.00")


def test_it_holds_what_was_invoiced_beyond_what_was_received(org):
    po = issued_po(org)
    receipt_record(
        po_id=po.pk, by=org.requester, received_on=TODAY(), lines={po.lines.get().pk: Decimal("1")}
    )

    invoice = _invoice(org, po)

    assert [reason["message"] for reason in invoice.hold_reasons] == [
        "Line 1: 2 invoiced, 1 received, tolerance 0%"
    ]


def test_it_counts_earlier_invoices_towards_the_quantity(org):
    po = issued_po(org)
    _receive_all(org, po)
    assert _invoice(org, po, number="INV-1", quantity="2").state == "matched"

    second = _invoice(org, po, number="INV-2", quantity="1")

    assert second.state == "on_hold"
    assert [reason["code"] for reason in second.hold_reasons] == ["over_ordered", "over_po_total"]
    assert second.hold_reasons[0]["message"] == "Line 1: 3 invoiced in all, 2 ordered, tolerance 0%"


def test_it_holds_a_total_that_is_not_the_sum_of_the_lines(org):
    po = issued_po(org)
    _receive_all(org, po)

    invoice = _invoice(org, po, total="2310.00")

    assert [reason["message"] for reason in invoice.hold_reasons] == [
        "The invoice total 2,310.00 is not the sum of its lines, 2,300.00"
    ]


def test_it_accepts_a_total_a_cent_off(org):
    po = issued_po(org)
    _receive_all(org, po)

    assert _invoice(org, po, total="2300.01").state == "matched"


def test_it_holds_an_invoice_in_another_currency(org):
    po = issued_po(org)
    _receive_all(org, po)

    invoice = _invoice(org, po, currency="EUR")

    assert [reason["code"] for reason in invoice.hold_reasons] == ["currency"]
    assert invoice.hold_reasons[0]["message"].startswith("Invoiced in EUR, ordered in GBP")


def test_it_refuses_an_invoice_number_the_vendor_already_used(org):
    po = issued_po(org)
    _receive_all(org, po)
    _invoice(org, po, number="INV-1001", quantity="1")

    with pytest.raises(InvalidInput) as refused:
        _invoice(org, po, number="inv-1001", quantity="1")

    assert refused.value.status == 400
    [message] = refused.value.fields["number"]
    assert message.startswith("Northwind Hardware Ltd already has invoice INV-1001 (recorded on ")
    assert message.endswith(f"against {po.number}).")
    assert Invoice.objects.count() == 1


@pytest.mark.parametrize(
    ("quantity", "price", "field", "message"),
    [
        ("0", "1150.00", "quantity_{}", "Enter a quantity above 0."),
        ("2", "-1150.00", "unit_price_{}", "Enter a unit price above 0."),
        ("2", "0", "unit_price_{}", "Enter a unit price above 0."),
    ],
)
def test_it_refuses_a_line_that_is_not_positive(org, quantity, price, field, message):
    po = issued_po(org)

    with pytest.raises(InvalidInput) as refused:
        _invoice(org, po, quantity=quantity, price=price, total="100")

    assert refused.value.fields == {field.format(po.lines.get().pk): [message]}
    assert not Invoice.objects.exists()


def test_it_lets_finance_release_a_held_invoice_which_then_becomes_spend(org):
    po = issued_po(org)
    _receive_all(org, po)
    invoice = _invoice(org, po, price="1300.00")

    with pytest.raises(NotAllowed):
        invoice_release(invoice_id=invoice.pk, by=org.procurement, reason="Agreed price rise")
    with pytest.raises(InvalidInput) as no_reason:
        invoice_release(invoice_id=invoice.pk, by=org.finance, reason="")
    assert no_reason.value.fields == {"reason": ["This field is required."]}
    assert not SpendLine.objects.exists()

    released = invoice_release(invoice_id=invoice.pk, by=org.finance, reason="Agreed price rise")

    assert (released.state, released.resolved_by, released.resolution) == (
        "released",
        org.finance,
        "Agreed price rise",
    )
    assert SpendLine.objects.get().amount == Decimal("2600.00")
    assert list(invoices_on_hold(by=org.finance)) == []


def test_it_lets_finance_reject_a_held_invoice_which_then_no_longer_counts(org):
    po = issued_po(org)
    _receive_all(org, po)
    wrong = _invoice(org, po, number="INV-1", price="1300.00")

    invoice_reject(invoice_id=wrong.pk, by=org.finance, reason="Wrong price: ask for a credit note")

    assert Invoice.objects.get(pk=wrong.pk).state == "rejected"
    assert not SpendLine.objects.exists()
    with pytest.raises(Conflict):
        invoice_release(invoice_id=wrong.pk, by=org.finance, reason="Changed my mind")
    assert _invoice(org, po, number="INV-2").state == "matched"  # the rejected 2 no longer count


def test_it_refuses_invoices_from_people_outside_procurement_and_finance(org):
    po = issued_po(org)

    with pytest.raises(NotAllowed):
        _invoice(org, po, by=org.requester)

    assert not Invoice.objects.exists()
