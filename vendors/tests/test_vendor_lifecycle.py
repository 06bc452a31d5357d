"""A vendor's lifecycle: who may move it, which moves exist, and what stops an approval."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from procurement.errors import Conflict, InvalidInput, NotAllowed
from procurement.models import AuditEntry
from tests.factories import vendor_approved, vendor_create
from vendors.models import Assessment, QuestionnaireTemplate, SanctionsMatch, Vendor
from vendors.services import (
    conflict_declare,
    due_diligence_check_record,
    vendor_block_for_sanctions_match,
    vendor_transition,
)


def move(org, vendor: Vendor, action: str, reason: str = "Because") -> Vendor:
    return vendor_transition(vendor_id=vendor.pk, by=org.procurement, action=action, reason=reason)


def pass_every_check(org, vendor: Vendor) -> None:
    conflict_declare(vendor_id=vendor.pk, by=org.procurement, has_conflict=False)
    for check in vendor.checks.all():
        due_diligence_check_record(
            check_id=check.pk, by=org.procurement, status="passed", outcome="Checked."
        )


def scored_assessment(org, vendor: Vendor) -> Assessment:
    template = QuestionnaireTemplate.objects.create(name="Security baseline")
    assessment = Assessment.objects.create(
        vendor=vendor,
        template=template,
        contact_name="Nora",
        contact_email="nora@example.com",
        sent_by=org.procurement,
        expires_at=timezone.now() + dt.timedelta(days=14),
    )
    assessment.submit()
    assessment.mark_scored()
    assessment.score = Decimal("80.0")
    assessment.save()
    return assessment


@pytest.fixture
def reviewed(org):
    vendor = vendor_create(by=org.procurement)
    return move(org, vendor, "start_review", "New supplier for laptops")


def test_it_needs_a_reason_for_every_move(org):
    vendor = vendor_create(by=org.procurement)

    with pytest.raises(InvalidInput) as caught:
        move(org, vendor, "start_review", reason="   ")

    assert caught.value.fields == {"reason": ["This field is required."]}
    vendor.refresh_from_db()
    assert vendor.state == "prospect"


@pytest.mark.parametrize("role", ["requester", "manager", "finance", "security", "legal"])
def test_it_lets_only_procurement_move_a_vendor(org, role):
    vendor = vendor_create(by=org.procurement)

    with pytest.raises(NotAllowed) as caught:
        vendor_transition(
            vendor_id=vendor.pk, by=getattr(org, role), action="start_review", reason="Go"
        )

    assert caught.value.status == 403
    vendor.refresh_from_db()
    assert vendor.state == "prospect"


def test_it_refuses_an_illegal_move_naming_the_state(org):
    vendor = vendor_create(by=org.procurement)

    with pytest.raises(Conflict) as caught:
        move(org, vendor, "suspend")

    assert caught.value.status == 409
    assert caught.value.message == "Northwind Hardware Ltd is prospect; it cannot be suspended now."


def test_it_refuses_an_unknown_action(org):
    vendor = vendor_create(by=org.procurement)

    with pytest.raises(InvalidInput) as caught:
        move(org, vendor, "delete")

    assert "action" in caught.value.fields


def test_it_opens_the_types_checklist_when_the_review_starts(org, reviewed):
    checks = {c.kind: (c.status, c.required) for c in reviewed.checks.all()}

    assert checks == {
        "registration": ("open", True),
        "sanctions": ("open", True),
        "financial_health": ("open", True),
        "insurance": ("open", False),
        "conflict_of_interest": ("open", True),
    }


def test_it_asks_for_a_data_processing_agreement_only_when_personal_data_is_processed(org):
    plain = vendor_create(by=org.procurement, legal_name="Plain SaaS Ltd", type_code="saas")
    personal = vendor_create(
        by=org.procurement,
        legal_name="Personal SaaS Ltd",
        type_code="saas",
        processes_personal_data=True,
    )

    move(org, plain, "start_review")
    move(org, personal, "start_review")

    assert not plain.checks.filter(kind="data_processing").exists()
    assert personal.checks.get(kind="data_processing").required


def test_it_refuses_approval_while_checks_are_open_or_failed_listing_them(org, reviewed):
    registration = reviewed.checks.get(kind="registration")
    due_diligence_check_record(
        check_id=registration.pk, by=org.procurement, status="failed", outcome="Dissolved."
    )

    with pytest.raises(Conflict) as caught:
        move(org, reviewed, "approve")

    blockers = caught.value.fields["blockers"]
    assert "The registration verified check is failed." in blockers
    assert "The sanctions screening check is still open." in blockers
    # An optional check does not block.
    assert not any("insurance" in blocker for blocker in blockers)
    reviewed.refresh_from_db()
    assert reviewed.state == "under_review"


def test_it_refuses_approval_while_a_sanctions_match_is_possible(org, reviewed):
    pass_every_check(org, reviewed)
    SanctionsMatch.objects.create(
        vendor=reviewed,
        source="uk",
        entry_reference="UK-1",
        listed_name="Northwind Hardware Trading",
        vendor_name="Northwind Hardware Ltd",
        score=Decimal("91.0"),
    )

    with pytest.raises(Conflict) as caught:
        move(org, reviewed, "approve")

    assert caught.value.fields["blockers"] == [
        "1 possible sanctions match must be cleared by a person."
    ]


def test_it_approves_once_a_match_is_cleared(org, reviewed):
    pass_every_check(org, reviewed)
    SanctionsMatch.objects.create(
        vendor=reviewed,
        source="uk",
        entry_reference="UK-1",
        listed_name="Northwind Hardware Trading",
        vendor_name="Northwind Hardware Ltd",
        score=Decimal("91.0"),
        status=SanctionsMatch.Status.CLEARED,
    )

    assert move(org, reviewed, "approve").state == "approved"


def test_it_refuses_approval_without_a_scored_assessment_when_the_type_needs_one(org):
    vendor = vendor_create(by=org.procurement, type_code="saas")
    move(org, vendor, "start_review")
    pass_every_check(org, vendor)

    with pytest.raises(Conflict) as caught:
        move(org, vendor, "approve")

    assert caught.value.fields["blockers"] == ["No security assessment has been scored."]

    scored_assessment(org, vendor)
    assert move(org, vendor, "approve").state == "approved"


def test_it_approves_a_vendor_with_everything_done_and_keeps_the_reason(org, reviewed):
    pass_every_check(org, reviewed)

    vendor = move(org, reviewed, "approve", reason="All checks passed")

    vendor.refresh_from_db()
    assert vendor.state == "approved"
    assert vendor.state_reason == "All checks passed"
    entry = AuditEntry.objects.get(object_id=vendor.pk, action="approve")
    assert (entry.from_state, entry.to_state, entry.comment, entry.actor) == (
        "under_review",
        "approved",
        "All checks passed",
        org.procurement,
    )


def test_it_suspends_and_reapproves_with_reasons_in_the_history(org):
    vendor = vendor_approved(by=org.procurement)

    move(org, vendor, "suspend", reason="Late deliveries")
    vendor = move(org, vendor, "approve", reason="Deliveries back on time")

    assert vendor.state == "approved"
    comments = list(
        AuditEntry.objects.filter(object_id=vendor.pk, action__in=["suspend", "approve"])
        .order_by("id")
        .values_list("comment", flat=True)
    )
    assert comments[-2:] == ["Late deliveries", "Deliveries back on time"]


def test_it_does_not_approve_a_blocked_vendor_directly(org):
    vendor = vendor_approved(by=org.procurement)
    move(org, vendor, "block", reason="Fraud suspected")

    with pytest.raises(Conflict) as caught:
        move(org, vendor, "approve")

    assert "is blocked" in caught.value.message
    vendor = move(org, vendor, "return_to_review", reason="Cleared by the police")
    assert move(org, vendor, "approve").state == "approved"


def test_it_does_not_move_an_offboarded_vendor(org, reviewed):
    move(org, reviewed, "offboard", reason="No longer used")

    for action in ("approve", "start_review", "return_to_review", "block", "offboard"):
        with pytest.raises(Conflict):
            move(org, reviewed, action)


def test_it_lets_finance_block_a_vendor_for_a_confirmed_sanctions_match(org):
    vendor = vendor_approved(by=org.procurement)

    vendor = vendor_block_for_sanctions_match(
        vendor_id=vendor.pk, by=org.finance, reason="Sanctions match confirmed: UK-1"
    )

    assert vendor.state == "blocked"
    assert not vendor.orderable
    with pytest.raises(NotAllowed):
        vendor_block_for_sanctions_match(
            vendor_id=vendor.pk, by=org.security, reason="Sanctions match confirmed"
        )
