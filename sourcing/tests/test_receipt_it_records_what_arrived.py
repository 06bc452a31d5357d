"""Receipts record what arrived, in full or in part, by whom and when; never more than was
ordered, and nothing at all when one line is wrong."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from procurement.errors import Conflict, InvalidInput, NotAllowed, NotFound
from requests.models import PurchaseRequest
from sourcing.models import PurchaseOrder, Receipt
from sourcing.order_selectors import po_history, po_line_statuses
from sourcing.receipts import receipt_record
from sourcing.tests.helpers import awarded_po, issued_po

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate


def _receive(org, po, quantity: str, *, by=None):
    return receipt_record(
        po_id=po.pk,
        by=by or org.requester,
        received_on=TODAY(),
        lines={po.lines.get().pk: Decimal(quantity)},
        note="",
    )


def test_it_refuses_receiving_more_than_ordered_and_writes_nothing(org):
    po = issued_po(org)
    line = po.lines.get()

    with pytest.raises(InvalidInput) as refused:
        _receive(org, po, "3")

    assert refused.value.fields == {f"quantity_{line.pk}": ["Only 2 of 2 is still to be received."]}
    assert refused.value.message == (
        "Nothing was recorded. “Laptop, 14 inch”: Only 2 of 2 is still to be received."
    )
    assert not Receipt.objects.exists()
    assert PurchaseOrder.objects.get(pk=po.pk).state == "issued"


def test_it_moves_the_po_through_partial_then_full_receipt(org):
    po = issued_po(org)
    line = po.lines.get()

    _receive(org, po, "1")
    po = PurchaseOrder.objects.get(pk=po.pk)
    assert po.state == "partially_received"
    assert PurchaseRequest.objects.get(pk=po.request_id).state == "ordered"
    with pytest.raises(InvalidInput) as too_many:
        _receive(org, po, "2")
    assert too_many.value.fields == {
        f"quantity_{line.pk}": ["Only 1 of 2 is still to be received."]
    }

    _receive(org, po, "1", by=org.procurement)

    po = PurchaseOrder.objects.get(pk=po.pk)
    assert po.state == "received"
    assert PurchaseRequest.objects.get(pk=po.request_id).state == "received"
    [status] = po_line_statuses(po)
    assert (status.received, status.to_receive) == (Decimal("2"), Decimal("0"))
    receipts = [row for row in po_history(po) if row.verb == "recorded a receipt"]
    assert [row.entry.actor for row in receipts] == [org.requester, org.procurement]
    assert receipts[0].to_label == "Partially received"
    assert receipts[1].to_label == "Received"
    assert receipts[0].comment.startswith(f"Received on {TODAY():%d %b %Y}: 1 x Laptop, 14 inch")


def test_it_refuses_a_second_receipt_once_all_arrived(org):
    po = issued_po(org)
    _receive(org, po, "2")

    with pytest.raises(Conflict) as refused:
        _receive(org, po, "1")

    assert (
        refused.value.message == f"{po.number} is received: nothing can be received against it now."
    )


@pytest.mark.parametrize(
    ("quantity", "message"),
    [("0", "Enter a quantity received above 0."), ("-1", "Enter a quantity received above 0.")],
)
def test_it_refuses_a_quantity_that_is_not_positive(org, quantity, message):
    po = issued_po(org)

    with pytest.raises(InvalidInput) as refused:
        _receive(org, po, quantity)

    assert refused.value.fields == {f"quantity_{po.lines.get().pk}": [message]}
    assert not Receipt.objects.exists()


def test_it_refuses_a_date_in_the_future(org):
    po = issued_po(org)

    with pytest.raises(InvalidInput) as refused:
        receipt_record(
            po_id=po.pk,
            by=org.requester,
            received_on=TODAY() + dt.timedelta(days=1),
            lines={po.lines.get().pk: Decimal("1")},
        )

    assert refused.value.fields == {"received_on": ["The date cannot be in the future."]}


def test_it_refuses_receipts_on_a_draft(org):
    po = awarded_po(org)

    with pytest.raises(Conflict):
        _receive(org, po, "1")


def test_it_lets_the_requester_and_procurement_receive_but_nobody_else(org):
    po = issued_po(org)

    with pytest.raises(NotAllowed):
        _receive(org, po, "1", by=org.finance)  # sees the PO, does not receive
    with pytest.raises(NotFound):
        _receive(org, po, "1", by=org.outsider)  # does not even see it

    assert not Receipt.objects.exists()
