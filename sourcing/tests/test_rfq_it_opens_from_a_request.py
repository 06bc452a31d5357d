"""Opening an RFQ from a purchase request: when a request may be sourced (approved, or
earlier when the policy's quotes rule applies), what is copied, and who may do it."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from approvals.models import ApprovalStep
from approvals.services import approval_step_decide
from approvals.tests.helpers import LINE_MANAGER, policy, submitted
from procurement.errors import Conflict, NotAllowed
from procurement.models import AuditEntry
from requests.models import RequestState
from sourcing.models import Rfq, RfqState
from sourcing.rfqs import rfq_cancel, rfq_create_from_request
from sourcing.tests.helpers import approved_request
from tests.factories import PurchaseRequestFactory

pytestmark = pytest.mark.django_db


def test_it_drafts_an_rfq_with_the_requests_lines_default_criteria_and_a_deadline(org):
    request = approved_request(org)

    rfq = rfq_create_from_request(request_id=request.pk, by=org.procurement)

    assert rfq.state == RfqState.DRAFT
    assert (rfq.title, rfq.currency, rfq.request_id) == (request.title, "GBP", request.pk)
    [item] = request.line_items.all()
    [line] = rfq.lines.all()
    assert (line.description, line.quantity, line.unit) == (
        item.description,
        item.quantity,
        item.unit,
    )
    assert line.category == request.category
    assert line.estimated_unit_price == item.unit_price
    assert line.request_line == item
    assert [(c.name, c.weight) for c in rfq.criteria.all()] == [
        ("Total cost of ownership", Decimal(50)),
        ("Delivery time", Decimal(20)),
        ("Vendor risk tier", Decimal(15)),
        ("Past performance", Decimal(10)),
        ("Quality of the proposal", Decimal(5)),
    ]
    local = timezone.localtime(rfq.deadline)
    assert local.date() == timezone.localdate() + dt.timedelta(days=7)
    assert (local.hour, local.minute) == (17, 0)
    assert rfq.quotes_required == 0
    entry = AuditEntry.objects.get(action="created", object_id=rfq.pk)
    assert entry.actor == org.procurement
    assert request.reference in entry.comment


def test_it_refuses_a_draft_request(org):
    draft = PurchaseRequestFactory.create(requester=org.requester, cost_centre=org.cost_centre)

    with pytest.raises(Conflict, match="only an approved request"):
        rfq_create_from_request(request_id=draft.pk, by=org.procurement)
    assert not Rfq.objects.exists()


def test_it_refuses_a_rejected_request(org):
    policy(LINE_MANAGER)
    request = submitted(org)
    step = ApprovalStep.objects.get(request=request)
    approval_step_decide(step_id=step.pk, by=org.manager, action="reject", comment="No budget.")
    request.refresh_from_db()
    assert request.state == RequestState.REJECTED

    with pytest.raises(Conflict, match="is rejected"):
        rfq_create_from_request(request_id=request.pk, by=org.procurement)
    assert not Rfq.objects.exists()


def test_it_opens_an_rfq_before_approval_when_the_policy_needs_quotes_for_the_amount(org):
    policy(LINE_MANAGER, quotes_required=3, quotes_required_above=Decimal("1000"))
    request = submitted(org)  # 2,500.00 GBP, waiting for Mark
    assert request.state == RequestState.PENDING_APPROVAL

    rfq = rfq_create_from_request(request_id=request.pk, by=org.procurement)

    assert rfq.quotes_required == 3
    assert "needs 3 quotes" in AuditEntry.objects.get(action="created").comment


def test_it_refuses_before_approval_when_the_amount_is_below_the_quotes_rule(org):
    policy(LINE_MANAGER, quotes_required=3, quotes_required_above=Decimal("5000"))
    request = submitted(org)  # 2,500.00 GBP

    with pytest.raises(Conflict) as refused:
        rfq_create_from_request(request_id=request.pk, by=org.procurement)

    assert "requires 3 quotes only from 5,000.00 GBP" in refused.value.message
    assert "Wait for the approval" in refused.value.message
    assert not Rfq.objects.exists()


def test_it_refuses_before_approval_when_the_policy_needs_no_quotes(org):
    policy(LINE_MANAGER)
    request = submitted(org)

    with pytest.raises(Conflict, match="requires no quotes"):
        rfq_create_from_request(request_id=request.pk, by=org.procurement)


def test_it_freezes_the_quotes_rule_on_an_approved_request_it_applies_to(org):
    request = approved_request(org)
    policy(LINE_MANAGER, quotes_required=2)  # every amount

    rfq = rfq_create_from_request(request_id=request.pk, by=org.procurement)

    assert rfq.quotes_required == 2


def test_it_refuses_a_second_live_rfq_and_allows_one_after_a_cancel(org):
    request = approved_request(org)
    first = rfq_create_from_request(request_id=request.pk, by=org.procurement)

    with pytest.raises(Conflict, match=f"already has {first.reference}"):
        rfq_create_from_request(request_id=request.pk, by=org.procurement)

    rfq_cancel(rfq_id=first.pk, by=org.procurement, reason="Wrong lines.")
    second = rfq_create_from_request(request_id=request.pk, by=org.procurement)
    assert second.pk != first.pk
    assert Rfq.objects.filter(request=request).count() == 2


@pytest.mark.parametrize("who", ["requester", "manager", "finance", "outsider"])
def test_it_lets_only_procurement_open_an_rfq(org, who):
    request = approved_request(org)

    with pytest.raises(NotAllowed, match="Only procurement"):
        rfq_create_from_request(request_id=request.pk, by=getattr(org, who))
    assert not Rfq.objects.exists()


def test_it_opens_an_rfq_from_the_request_page(org):
    request = approved_request(org)
    client = org.client_for(org.procurement)
    page = client.get(reverse("requests:detail", args=[request.pk]))
    assert b"Open an RFQ" in page.content

    response = client.post(reverse("rfqs:create-from-request", args=[request.pk]))

    rfq = Rfq.objects.get(request=request)
    assert response.status_code == 302
    assert response["Location"] == reverse("rfqs:detail", args=[rfq.pk])
    page = client.get(reverse("requests:detail", args=[request.pk]))
    assert rfq.reference.encode() in page.content
    assert b"Open an RFQ" not in page.content  # one live RFQ at a time


def test_it_shows_the_refusal_on_the_request_page(org):
    policy(LINE_MANAGER)
    request = submitted(org)
    client = org.client_for(org.procurement)

    response = client.post(reverse("rfqs:create-from-request", args=[request.pk]), follow=True)

    assert response.redirect_chain[-1][0] == reverse("requests:detail", args=[request.pk])
    assert "requires no quotes" in response.content.decode()
    assert not Rfq.objects.exists()


def test_it_offers_no_rfq_button_to_the_requester(org):
    request = approved_request(org)
    client = org.client_for(org.requester)

    page = client.get(reverse("requests:detail", args=[request.pk]))
    assert b"Open an RFQ" not in page.content

    response = client.post(reverse("rfqs:create-from-request", args=[request.pk]), follow=True)
    assert "Only procurement can open RFQs." in response.content.decode()
    assert not Rfq.objects.exists()
