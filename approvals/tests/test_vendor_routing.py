"""What a route asks of the vendor a request names: approved or not, and its risk tier."""

from __future__ import annotations

import pytest

from approvals.models import ApprovalStep
from approvals.tests.helpers import LINE_MANAGER, policy, steps_of, submitted
from procurement.errors import Conflict
from procurement.models import Role
from requests.services import purchase_request_transition
from requests.tests.helpers import draft_for
from tests.factories import vendor_approved, vendor_create
from vendors.models import Vendor
from vendors.services import vendor_transition

pytestmark = pytest.mark.django_db

NEW_VENDOR = {
    "name": "New vendor",
    "approver_kind": "role",
    "approver_role": Role.PROCUREMENT,
    "vendor_not_approved": True,
    "stage": 2,
}
RISKY_VENDOR = {
    "name": "Security review",
    "approver_kind": "role",
    "approver_role": Role.SECURITY_REVIEWER,
    "vendor_risk_tier_at_least": "high",
    "stage": 2,
}


def with_tier(vendor: Vendor, tier: str) -> Vendor:
    # The tier is written by scoring an assessment (vendors/assessments.py); here only the
    # routing is under test.
    Vendor.objects.filter(pk=vendor.pk).update(risk_tier=tier)
    vendor.refresh_from_db()
    return vendor


def test_it_adds_the_new_vendor_step_for_a_vendor_not_yet_approved(org):
    policy(LINE_MANAGER, NEW_VENDOR)
    prospect = vendor_create(by=org.procurement, legal_name="Fresh Supplies Ltd")

    request = submitted(org, vendor=prospect)

    assert [name for name, *_ in steps_of(request)] == ["Line manager", "New vendor"]


def test_it_needs_no_new_vendor_step_once_the_vendor_is_approved(org):
    policy(LINE_MANAGER, NEW_VENDOR)
    approved = vendor_approved(by=org.procurement, legal_name="Known Supplies Ltd")

    request = submitted(org, vendor=approved)

    assert [name for name, *_ in steps_of(request)] == ["Line manager"]


def test_it_adds_the_step_again_when_an_approved_vendor_is_suspended(org):
    policy(LINE_MANAGER, NEW_VENDOR)
    vendor = vendor_approved(by=org.procurement, legal_name="Wobbly Supplies Ltd")
    vendor_transition(
        vendor_id=vendor.pk, by=org.procurement, action="suspend", reason="Late deliveries"
    )

    request = submitted(org, vendor=vendor)

    assert [name for name, *_ in steps_of(request)] == ["Line manager", "New vendor"]


def test_it_leaves_the_vendor_choice_to_procurement_when_the_request_names_none(org):
    policy(LINE_MANAGER, NEW_VENDOR)

    request = submitted(org)

    assert [name for name, *_ in steps_of(request)] == ["Line manager"]


@pytest.mark.parametrize(
    ("tier", "needs_security"),
    [("low", False), ("medium", False), ("high", True), ("critical", True)],
)
def test_it_asks_the_security_reviewer_for_high_risk_vendors(org, tier, needs_security):
    policy(LINE_MANAGER, RISKY_VENDOR)
    vendor = with_tier(vendor_approved(by=org.procurement, legal_name="Tiered Ltd"), tier)

    request = submitted(org, vendor=vendor)

    names = [name for name, *_ in steps_of(request)]
    assert ("Security review" in names) is needs_security


def test_it_treats_an_unassessed_vendor_as_risky_when_its_type_needs_an_assessment(org):
    policy(LINE_MANAGER, RISKY_VENDOR)
    saas = vendor_create(by=org.procurement, legal_name="Unassessed Cloud Ltd", type_code="saas")
    hardware = vendor_create(by=org.procurement, legal_name="Plain Boxes Ltd")

    to_saas = submitted(org, vendor=saas)
    to_hardware = submitted(org, vendor=hardware)

    assert [name for name, *_ in steps_of(to_saas)] == ["Line manager", "Security review"]
    assert [name for name, *_ in steps_of(to_hardware)] == ["Line manager"]


def test_it_freezes_the_vendor_condition_at_submission(org):
    policy(LINE_MANAGER, NEW_VENDOR)
    prospect = vendor_create(by=org.procurement, legal_name="Later Approved Ltd")
    request = submitted(org, vendor=prospect)

    # Whatever happens to the vendor afterwards, a route in flight keeps its steps.
    vendor_transition(vendor_id=prospect.pk, by=org.procurement, action="block", reason="x")

    assert ApprovalStep.objects.filter(request=request, name="New vendor").exists()


def test_it_refuses_to_submit_a_request_to_a_blocked_vendor(org):
    policy(LINE_MANAGER)
    vendor = vendor_create(by=org.procurement, legal_name="Shady Traders Ltd")
    draft = draft_for(org, vendor=vendor)
    vendor_transition(
        vendor_id=vendor.pk, by=org.procurement, action="block", reason="Failed due diligence"
    )

    with pytest.raises(Conflict) as error:
        purchase_request_transition(request_id=draft.pk, by=org.requester, action="submit")

    assert "Shady Traders Ltd is blocked" in error.value.message
    draft.refresh_from_db()
    assert draft.state == "draft"


def test_it_refuses_to_order_from_a_vendor_blocked_after_approval(org):
    policy(LINE_MANAGER)
    vendor = vendor_approved(by=org.procurement, legal_name="Gone Bad Ltd")
    request = submitted(org, vendor=vendor)
    purchase_request_transition(request_id=request.pk, by=org.manager, action="approve")
    vendor_transition(vendor_id=vendor.pk, by=org.procurement, action="block", reason="Fraud")

    with pytest.raises(Conflict) as error:
        purchase_request_transition(request_id=request.pk, by=org.procurement, action="order")

    assert "nothing can be requested or ordered from it" in error.value.message
    request.refresh_from_db()
    assert request.state == "approved"
