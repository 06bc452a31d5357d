"""Four eyes and need to know: whoever recorded a held invoice does not also release it, a
person who may not see an order cannot learn that one of its change orders exists, and no
award skips the walk-away check for want of a walk-away price."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from procurement.errors import Conflict, NotAllowed
from procurement.models import Role
from sourcing.awards import award_make
from sourcing.invoices import invoice_record, invoice_reject, invoice_release
from sourcing.models import ChangeOrder, Rfq
from sourcing.orders import ChangeLineInput, change_order_request
from sourcing.tests.helpers import closed_rfq_with_two_quotes, issued_po
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def _held_invoice(org, *, by):
    """Fiona records Northwind's invoice before anything arrived: it goes on hold."""
    po = issued_po(org)
    line = po.lines.get()
    invoice = invoice_record(
        po_id=po.pk,
        by=by,
        number="INV-7",
        invoice_date=timezone.localdate(),
        currency="GBP",
        total=Decimal("2300.00"),
        lines={line.pk: (Decimal("2"), Decimal("1150.00"))},
    )
    assert invoice.state == "on_hold"
    return invoice


def test_it_does_not_let_finance_release_an_invoice_they_recorded(org):
    invoice = _held_invoice(org, by=org.finance)

    with pytest.raises(NotAllowed) as refused:
        invoice_release(invoice_id=invoice.pk, by=org.finance, reason="Looks fine to me")
    answer = _api(org.finance).post(
        f"/api/orders/invoices/{invoice.pk}/release/", {"reason": "Looks fine"}, format="json"
    )

    message = (
        "You recorded invoice INV-7: someone else in finance must decide whether to release it."
    )
    assert refused.value.message == message
    assert answer.status_code == 403
    assert answer.json() == {"code": "permission_denied", "detail": message, "errors": {}}
    invoice.refresh_from_db()
    assert (invoice.state, invoice.spend_recorded_at) == ("on_hold", None)


def test_it_lets_another_finance_person_release_it_and_the_recorder_reject_it(org):
    invoice = _held_invoice(org, by=org.finance)
    colleague = UserFactory.create(username="frank", roles=[Role.FINANCE])

    released = invoice_release(invoice_id=invoice.pk, by=colleague, reason="Arrived at the branch")

    assert (released.state, released.resolved_by) == ("released", colleague)
    assert released.spend_recorded_at is not None

    second = _held_invoice(org, by=org.finance)
    assert invoice_reject(invoice_id=second.pk, by=org.finance, reason="Duplicate").state == (
        "rejected"
    )


def test_it_hides_a_change_order_from_someone_who_may_not_see_its_order(org):
    po = issued_po(org)
    [line] = po.lines.all()
    change = change_order_request(
        po_id=po.pk,
        by=org.procurement,
        reason="Three laptops instead of two",
        lines=[
            ChangeLineInput(
                line_id=line.pk,
                description=line.description,
                category_id=line.category_id,
                quantity=Decimal("3"),
                unit_price=line.unit_price,
            )
        ],
    )
    assert change.state == "pending_approval"

    existing = _api(org.outsider).post(
        f"/api/orders/change-orders/{change.pk}/decide/", {"action": "approve"}, format="json"
    )
    missing = _api(org.outsider).post(
        f"/api/orders/change-orders/{change.pk + 1000}/decide/",
        {"action": "approve"},
        format="json",
    )

    assert existing.status_code == missing.status_code == 404
    assert existing.json() == missing.json()
    assert ChangeOrder.objects.get(pk=change.pk).state == "pending_approval"
    # Someone who may see it but not decide it is told who may.
    refused = _api(org.procurement).post(
        f"/api/orders/change-orders/{change.pk}/decide/", {"action": "approve"}, format="json"
    )
    assert refused.status_code == 403


def test_it_refuses_to_award_an_rfq_without_a_walk_away_price_to_check_against(org):
    rfq, northwind, _contoso = closed_rfq_with_two_quotes(org)
    Rfq.objects.filter(pk=rfq.pk).update(target_price=None, walk_away_price=None)

    with pytest.raises(Conflict) as refused:
        award_make(rfq_id=rfq.pk, by=org.procurement, quote_id=northwind.pk)

    assert "has no target and walk-away prices" in refused.value.message
    assert not rfq.awards.exists()
