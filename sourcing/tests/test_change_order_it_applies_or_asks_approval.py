"""A change to a PO within the tolerance of its approved total applies at once and is sent
to the vendor again; beyond it, it waits for the policy's role, who approve (applied) or
refuse (the PO stays as it was)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from procurement.errors import Conflict, InvalidInput, NotAllowed
from sourcing.models import ChangeOrder, PurchaseOrder
from sourcing.order_selectors import po_history
from sourcing.orders import ChangeLineInput, change_order_decide, change_order_request
from sourcing.receipts import receipt_record
from sourcing.tests.helpers import awarded_po, issued_po

pytestmark = pytest.mark.django_db


def _lines(po, quantity: str, price: str) -> list[ChangeLineInput]:
    [line] = po.lines.all()
    return [
        ChangeLineInput(
            line_id=line.pk,
            description=line.description,
            category_id=line.category_id,
            quantity=Decimal(quantity),
            unit_price=Decimal(price),
        )
    ]


def _issued(org, capture):
    with capture(execute=True):
        return issued_po(org)


def test_it_applies_a_change_within_the_tolerance_and_sends_the_new_version(
    org, mailoutbox, django_capture_on_commit_callbacks
):
    po = _issued(org, django_capture_on_commit_callbacks)  # 2 x 1,150.00 = 2,300.00
    mailoutbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        change = change_order_request(
            po_id=po.pk, by=org.procurement, lines=_lines(po, "2", "1200.00"), reason="Price rise"
        )

    assert change.state == "applied"
    po = PurchaseOrder.objects.get(pk=po.pk)
    assert (po.version, po.total, po.approved_total) == (
        2,
        Decimal("2400.00"),
        Decimal("2300.00"),
    )
    assert po.lines.get().unit_price == Decimal("1200.00")
    [email] = [m for m in mailoutbox if m.to == [po.contact_email]]
    assert email.subject == f"Purchase order {po.number} (version 2) from Procurement"
    assert "Total: 2,400.00 GBP" in email.body
    assert "changed it" in [row.verb for row in po_history(po)]


def test_it_sends_a_change_beyond_the_tolerance_for_approval(
    org, mailoutbox, django_capture_on_commit_callbacks
):
    po = _issued(org, django_capture_on_commit_callbacks)
    mailoutbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        change = change_order_request(
            po_id=po.pk, by=org.procurement, lines=_lines(po, "3", "1150.00"), reason="One more"
        )

    assert (change.state, change.approver_role) == ("pending_approval", "finance")
    assert change.new_total == Decimal("3450.00")
    po = PurchaseOrder.objects.get(pk=po.pk)
    assert (po.version, po.total) == (1, Decimal("2300.00"))
    [email] = mailoutbox
    assert email.to == [org.finance.email]
    assert email.subject.startswith(f"Change to {po.number} needs your approval")
    assert "Why: One more" in email.body


def test_it_applies_an_approved_change_and_makes_its_total_the_approved_one(
    org, mailoutbox, django_capture_on_commit_callbacks
):
    po = _issued(org, django_capture_on_commit_callbacks)
    change = change_order_request(
        po_id=po.pk, by=org.procurement, lines=_lines(po, "3", "1150.00"), reason="One more"
    )
    mailoutbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        change_order_decide(change_order_id=change.pk, by=org.finance, action="approve")

    po = PurchaseOrder.objects.get(pk=po.pk)
    assert (po.version, po.total, po.approved_total) == (
        2,
        Decimal("3450.00"),
        Decimal("3450.00"),
    )
    assert ChangeOrder.objects.get(pk=change.pk).decided_by == org.finance
    assert [m.subject for m in mailoutbox] == [
        f"Purchase order {po.number} (version 2) from Procurement"
    ]


def test_it_keeps_the_po_as_it_was_when_the_change_is_refused(org):
    po = issued_po(org)
    change = change_order_request(
        po_id=po.pk, by=org.procurement, lines=_lines(po, "3", "1150.00"), reason="One more"
    )

    with pytest.raises(InvalidInput) as no_comment:
        change_order_decide(change_order_id=change.pk, by=org.finance, action="refuse")
    assert no_comment.value.fields == {"comment": ["This field is required."]}

    change_order_decide(
        change_order_id=change.pk, by=org.finance, action="refuse", comment="Two are enough"
    )

    po = PurchaseOrder.objects.get(pk=po.pk)
    assert (po.version, po.total, po.lines.get().quantity) == (1, Decimal("2300.00"), Decimal("2"))
    assert ChangeOrder.objects.get(pk=change.pk).state == "refused"
    with pytest.raises(Conflict) as again:
        change_order_decide(change_order_id=change.pk, by=org.finance, action="approve")
    assert again.value.message == (
        f"Change 1 to {po.number} was already decided by Fiona Finance (refused)."
    )


def test_it_lets_only_the_policy_role_decide(org):
    po = issued_po(org)
    change = change_order_request(
        po_id=po.pk, by=org.procurement, lines=_lines(po, "3", "1150.00"), reason="One more"
    )

    for person in (org.procurement, org.requester):
        with pytest.raises(NotAllowed):
            change_order_decide(change_order_id=change.pk, by=person, action="approve")

    assert ChangeOrder.objects.get(pk=change.pk).state == "pending_approval"


def test_it_allows_one_pending_change_per_po(org):
    po = issued_po(org)
    change_order_request(
        po_id=po.pk, by=org.procurement, lines=_lines(po, "3", "1150.00"), reason="One more"
    )

    with pytest.raises(Conflict) as refused:
        change_order_request(
            po_id=po.pk, by=org.procurement, lines=_lines(po, "4", "1150.00"), reason="Two more"
        )

    assert refused.value.message.startswith(f"Change 1 to {po.number} is still awaiting approval")
    assert ChangeOrder.objects.count() == 1


@pytest.mark.parametrize(
    ("quantity", "price", "field", "message"),
    [
        ("0", "1150.00", "lines[0].quantity", "Enter a quantity above 0."),
        ("-1", "1150.00", "lines[0].quantity", "Enter a quantity above 0."),
        ("2", "0", "lines[0].unit_price", "Enter a unit price above 0."),
        ("2", "-5.00", "lines[0].unit_price", "Enter a unit price above 0."),
        ("2", "1150.001", "lines[0].unit_price", "At most 2 decimal places."),
    ],
)
def test_it_refuses_bad_lines_and_writes_nothing(org, quantity, price, field, message):
    po = awarded_po(org)

    with pytest.raises(InvalidInput) as refused:
        change_order_request(
            po_id=po.pk, by=org.procurement, lines=_lines(po, quantity, price), reason="Fix"
        )

    assert refused.value.fields == {field: [message]}
    assert not ChangeOrder.objects.exists()
    assert PurchaseOrder.objects.get(pk=po.pk).version == 1


def test_it_needs_a_reason(org):
    po = awarded_po(org)

    with pytest.raises(InvalidInput) as refused:
        change_order_request(
            po_id=po.pk, by=org.procurement, lines=_lines(po, "3", "1"), reason=" "
        )

    assert refused.value.fields == {"reason": ["This field is required."]}


def test_it_never_takes_a_line_below_what_was_received(org):
    po = issued_po(org)
    receipt_record(
        po_id=po.pk,
        by=org.requester,
        received_on=po.created_at.date(),
        lines={po.lines.get().pk: Decimal("2")},
    )
    po = PurchaseOrder.objects.get(pk=po.pk)
    assert po.state == "received"

    with pytest.raises(Conflict):
        change_order_request(
            po_id=po.pk, by=org.procurement, lines=_lines(po, "1", "1150.00"), reason="x"
        )


def test_it_refuses_to_go_below_the_received_quantity_of_a_partly_received_po(org):
    po = issued_po(org)
    line = po.lines.get()
    receipt_record(
        po_id=po.pk,
        by=org.requester,
        received_on=po.created_at.date(),
        lines={line.pk: Decimal("1")},
    )

    with pytest.raises(InvalidInput) as refused:
        change_order_request(
            po_id=po.pk, by=org.procurement, lines=_lines(po, "0.5", "1150.00"), reason="Fewer"
        )

    assert refused.value.fields == {
        "lines[0].quantity": ["1 already received: the quantity cannot go below it."]
    }
