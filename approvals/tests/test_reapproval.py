"""Amending an approved request: within the tolerance it stays approved; beyond it, it needs
approving again on a new route round. Either way the version goes up and the timeline says why."""

from __future__ import annotations

from decimal import Decimal

import pytest

from approvals.models import ApprovalStep, ApprovedTotal
from approvals.services import approval_step_decide, purchase_request_amend_approved
from approvals.tests.helpers import LINE_MANAGER, policy, steps_of, submitted
from procurement.errors import Conflict, InvalidInput, NotAllowed
from procurement.models import AuditEntry
from requests.models import PurchaseRequest
from requests.services import LineItemInput

pytestmark = pytest.mark.django_db


def approved(org, **fields):
    """A request approved at 2,500.00 GBP by Mark, its line manager."""
    policy(LINE_MANAGER)
    request = submitted(org, **fields)
    step = ApprovalStep.objects.get(request=request)
    approval_step_decide(step_id=step.pk, by=org.manager, action="approve")
    return PurchaseRequest.objects.get(pk=request.pk)


def priced(amount: str) -> list[LineItemInput]:
    return [LineItemInput(description="Laptop", quantity=Decimal("1"), unit_price=Decimal(amount))]


def amend(org, request, amount: str, comment: str = "Supplier price changed"):
    return purchase_request_amend_approved(
        request_id=request.pk, by=org.procurement, line_items=priced(amount), comment=comment
    )


def timeline(request) -> list[tuple[str, str]]:
    return list(
        AuditEntry.objects.filter(
            content_type__model="purchaserequest", object_id=request.pk
        ).values_list("action", "comment")
    )


def test_it_keeps_a_request_approved_when_the_total_stays_within_the_tolerance(org):
    request = approved(org)
    assert ApprovedTotal.objects.get(request=request).total == Decimal("2500.00")

    amended = amend(org, request, "2750.00")  # exactly +10%

    assert amended.state == "approved"
    assert amended.total == Decimal("2750.00")
    assert amended.version == request.version + 1
    assert timeline(request)[-1] == (
        "amended",
        "Total 2500.00 → 2750.00 GBP (approved: 2500.00, re-approval above 2750.00). "
        "Supplier price changed",
    )


def test_it_sends_a_request_back_for_approval_when_the_total_rises_beyond_the_tolerance(
    org, django_capture_on_commit_callbacks, mailoutbox
):
    request = approved(org)
    mailoutbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        amended = amend(org, request, "2750.01")

    assert amended.state == "pending_approval"
    assert [action for action, _ in timeline(request)[-3:]] == [
        "amended",
        "require_reapproval",
        "approval_started",
    ]
    assert steps_of(request) == [
        ("Line manager", 1, "approved", ["mark"]),
        ("Line manager", 1, "pending", ["mark"]),
    ]
    assert ApprovalStep.objects.filter(request=request).latest("round").round == 2
    assert [m.to for m in mailoutbox] == [["mark@example.com"]]

    new_step = ApprovalStep.objects.get(request=request, round=2)
    approval_step_decide(step_id=new_step.pk, by=org.manager, action="approve")
    assert PurchaseRequest.objects.get(pk=request.pk).state == "approved"
    assert ApprovedTotal.objects.get(request=request).total == Decimal("2750.01")


def test_it_measures_creeping_amendments_against_the_approved_total(org):
    request = approved(org)

    amend(org, request, "2700.00")  # +8%
    again = amend(org, request, "2800.00")  # +12% on what was approved, +3.7% on the last

    assert again.state == "pending_approval"


def test_it_follows_the_configured_tolerance(org, settings):
    settings.APPROVAL_REAPPROVAL_TOLERANCE_PERCENT = 0
    request = approved(org)

    assert amend(org, request, "2500.00").state == "approved"
    assert amend(org, request, "2500.01").state == "pending_approval"


def test_it_lets_only_procurement_amend_and_only_an_approved_request(org):
    request = approved(org)
    with pytest.raises(NotAllowed):
        purchase_request_amend_approved(
            request_id=request.pk, by=org.manager, line_items=priced("1"), comment="Cheaper"
        )
    with pytest.raises(InvalidInput, match="Say why"):
        amend(org, request, "2600.00", comment=" ")
    with pytest.raises(InvalidInput) as bad_line:
        amend(org, request, "0")
    assert "line_items[0].unit_price" in bad_line.value.fields
    pending = submitted(org)
    with pytest.raises(Conflict, match="only an approved request"):
        amend(org, pending, "2600.00")

    unchanged = PurchaseRequest.objects.get(pk=request.pk)
    assert (unchanged.total, unchanged.version) == (request.total, request.version)
