"""Fixes from the review of the vendor rules: an approved vendor that something is found about
goes back under review, scores need weights, reminders hold across failures and do not
query per row, and the auto-renewal catch-up is bounded."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.core.mail import EmailMultiAlternatives
from django.core.mail.backends.locmem import EmailBackend
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from conftest import Org
from procurement.errors import Conflict, InvalidInput
from procurement.models import AuditEntry
from tests.factories import PurchaseRequestFactory, vendor_approved, vendor_create, vendor_type
from vendors import contracts
from vendors.assessments import assessment_answers_save, assessment_score
from vendors.contracts import (
    ContractInput,
    contract_create,
    contract_transition,
    contracts_update_states,
)
from vendors.models import (
    AssessmentState,
    Contract,
    Question,
    ReminderSent,
    SanctionsMatch,
    Vendor,
)
from vendors.reminders import reminders_send_due
from vendors.sanctions import sanctions_list_import, sanctions_match_review, vendors_rescreen_all
from vendors.selectors import vendor_approval_blockers
from vendors.services import (
    VendorInput,
    due_diligence_check_record,
    vendor_transition,
    vendor_update,
)
from vendors.tests.test_assessment_helpers import full_answers, send

pytestmark = pytest.mark.django_db

SAMPLES = Path(__file__).resolve().parent.parent / "sample_data" / "sanctions"
Capture = Callable[..., Any]


def at(day: dt.date, hour: int = 9) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour)))


def sent_to(mailoutbox: list[EmailMultiAlternatives], email: str) -> list[EmailMultiAlternatives]:
    return [message for message in mailoutbox if message.to == [email]]


# --- An approved vendor that something is found about -----------------------------------


def test_it_sends_an_approved_vendor_back_to_review_when_screening_finds_a_new_match(
    org: Org, mailoutbox: list[EmailMultiAlternatives], django_capture_on_commit_callbacks: Capture
) -> None:
    vendor = vendor_approved(by=org.procurement, legal_name="Kestrel Global Trading LLC")
    sanctions_list_import(source="uk", path=SAMPLES / "ConList.csv")

    with django_capture_on_commit_callbacks(execute=True):
        assert vendors_rescreen_all() == 1

    vendor.refresh_from_db()
    assert vendor.state == "under_review"
    assert vendor.state_reason.startswith("Screening found 1 new possible sanctions match")
    assert "KESTREL GLOBAL TRADING L.L.C." in vendor.state_reason
    entry = AuditEntry.objects.get(object_id=vendor.pk, action="return_to_review")
    assert (entry.actor, entry.from_state, entry.to_state) == (None, "approved", "under_review")
    (message,) = sent_to(mailoutbox, org.procurement.email)
    assert message.subject == "Kestrel Global Trading LLC is back under review"
    assert "KESTREL GLOBAL TRADING L.L.C." in message.body
    assert f"/vendors/{vendor.pk}/" in message.body


def test_it_keeps_a_reapproved_vendor_approved_when_a_rescreen_finds_only_cleared_matches(
    org: Org, mailoutbox: list[EmailMultiAlternatives], django_capture_on_commit_callbacks: Capture
) -> None:
    vendor = vendor_approved(by=org.procurement, legal_name="Kestrel Global Trading LLC")
    sanctions_list_import(source="uk", path=SAMPLES / "ConList.csv")
    vendors_rescreen_all()
    match = SanctionsMatch.objects.get(vendor=vendor)
    sanctions_match_review(
        match_id=match.pk, by=org.legal, decision="clear", reason="Different company, UK-based"
    )
    vendor_transition(vendor_id=vendor.pk, by=org.procurement, action="approve", reason="Cleared")

    with django_capture_on_commit_callbacks(execute=True):
        assert vendors_rescreen_all() == 0

    vendor.refresh_from_db()
    assert vendor.state == "approved"
    assert mailoutbox == []


def test_it_sends_an_approved_vendor_back_to_review_when_a_required_check_fails(
    org: Org, mailoutbox: list[EmailMultiAlternatives], django_capture_on_commit_callbacks: Capture
) -> None:
    vendor = vendor_approved(by=org.procurement, legal_name="Northwind Hardware")
    check = vendor.checks.filter(required=True).exclude(kind="sanctions").first()
    assert check is not None

    with django_capture_on_commit_callbacks(execute=True):
        due_diligence_check_record(
            check_id=check.pk, by=org.finance, status="failed", outcome="Accounts overdue."
        )

    vendor.refresh_from_db()
    assert vendor.state == "under_review"
    assert vendor.state_reason.endswith("check failed: Accounts overdue.")
    assert AuditEntry.objects.get(object_id=vendor.pk, action="return_to_review").actor == (
        org.finance
    )
    assert any("check is failed" in blocker for blocker in vendor_approval_blockers(vendor))
    (message,) = sent_to(mailoutbox, org.procurement.email)
    assert "Accounts overdue." in message.body


def test_it_leaves_a_vendor_under_review_where_it_is_when_a_check_fails(org: Org) -> None:
    vendor = vendor_create(by=org.procurement, legal_name="Northwind Hardware")
    vendor_transition(vendor_id=vendor.pk, by=org.procurement, action="start_review", reason="New")
    check = vendor.checks.filter(required=True).first()
    assert check is not None

    due_diligence_check_record(
        check_id=check.pk, by=org.finance, status="failed", outcome="Accounts overdue."
    )

    vendor.refresh_from_db()
    assert (vendor.state, vendor.state_reason) == ("under_review", "New")
    assert not AuditEntry.objects.filter(object_id=vendor.pk, action="return_to_review").exists()


def edit(org: Org, vendor: Vendor, **changes: Any) -> Vendor:
    values: dict[str, Any] = {
        "legal_name": vendor.legal_name,
        "country": vendor.country,
        "vendor_type_id": vendor.vendor_type_id,
        "owner_id": vendor.owner_id,
        "processes_personal_data": vendor.processes_personal_data,
    }
    values.update(changes)
    return vendor_update(vendor_id=vendor.pk, by=org.admin, data=VendorInput(**values))


def test_it_sends_an_approved_vendor_back_to_review_when_its_new_type_needs_more(
    org: Org, mailoutbox: list[EmailMultiAlternatives], django_capture_on_commit_callbacks: Capture
) -> None:
    vendor = vendor_approved(by=org.procurement, legal_name="Northwind Hardware")

    with django_capture_on_commit_callbacks(execute=True):
        edit(org, vendor, vendor_type_id=vendor_type("saas").pk, processes_personal_data=True)

    vendor.refresh_from_db()
    assert vendor.state == "under_review"
    assert "No security assessment has been scored." in vendor.state_reason
    assert "data processing agreement check is still open" in vendor.state_reason
    assert vendor.checks.get(kind="data_processing").status == "open"
    (message,) = sent_to(mailoutbox, org.procurement.email)
    assert "back under review" in message.subject


def test_it_keeps_an_approved_vendor_approved_after_an_edit_that_brings_no_new_checks(
    org: Org,
) -> None:
    vendor = vendor_approved(by=org.procurement, legal_name="Northwind Hardware")

    edit(org, vendor, address="1 New Street", processes_personal_data=True)

    vendor.refresh_from_db()
    assert vendor.state == "approved"
    assert vendor.address == "1 New Street"


# --- Scoring --------------------------------------------------------------------------------


def test_it_refuses_to_score_an_assessment_whose_questions_carry_no_weight(org: Org) -> None:
    assessment = send(org)
    assessment_answers_save(
        assessment=assessment, answers=full_answers(assessment), files={}, submit=True
    )
    Question.objects.filter(section__template=assessment.template).update(weight=0)

    with pytest.raises(Conflict, match="carries any weight"):
        assessment_score(assessment_id=assessment.pk, by=org.security, overrides={})

    assessment.refresh_from_db()
    assert assessment.state == AssessmentState.SUBMITTED
    assert assessment.score is None
    assert Vendor.objects.get(pk=assessment.vendor_id).risk_tier == ""


# --- Reminders ------------------------------------------------------------------------------


def test_it_reminds_once_more_when_a_reassessment_is_overdue(
    org: Org, mailoutbox: list[EmailMultiAlternatives]
) -> None:
    today = dt.date(2030, 6, 1)
    vendor = vendor_approved(by=org.procurement, legal_name="Contoso Cloud")
    Vendor.objects.filter(pk=vendor.pk).update(next_assessment_due=today + dt.timedelta(days=10))

    assert reminders_send_due(now=at(today)) == 1
    assert "due on 11 Jun 2030" in mailoutbox[-1].body
    assert reminders_send_due(now=at(today + dt.timedelta(days=10))) == 0
    assert reminders_send_due(now=at(today + dt.timedelta(days=11))) == 1
    assert "was due on 11 Jun 2030" in mailoutbox[-1].body
    assert reminders_send_due(now=at(today + dt.timedelta(days=12))) == 0


def test_it_does_not_remind_of_a_reassessment_already_underway(
    org: Org, mailoutbox: list[EmailMultiAlternatives]
) -> None:
    assessment = send(org)
    Vendor.objects.filter(pk=assessment.vendor_id).update(next_assessment_due=dt.date(2030, 6, 5))

    assert reminders_send_due(now=at(dt.date(2030, 6, 1))) == 0
    assert not ReminderSent.objects.exists()


def test_it_keeps_reminders_for_the_next_run_when_the_digest_cannot_be_sent(
    org: Org, mailoutbox: list[EmailMultiAlternatives], monkeypatch: pytest.MonkeyPatch
) -> None:
    today = dt.date(2030, 6, 1)
    vendor = vendor_approved(by=org.procurement, legal_name="Contoso Cloud")
    Vendor.objects.filter(pk=vendor.pk).update(next_assessment_due=today + dt.timedelta(days=10))

    def mail_server_down(self: EmailBackend, messages: Any) -> int:
        raise ConnectionRefusedError("mail server down")

    with monkeypatch.context() as patch:
        patch.setattr(EmailBackend, "send_messages", mail_server_down)
        assert reminders_send_due(now=at(today)) == 0
    assert not ReminderSent.objects.exists()

    assert reminders_send_due(now=at(today, hour=10)) == 1
    assert "Contoso Cloud" in mailoutbox[-1].body


def live_contract(org: Org, vendor: Vendor, title: str, **changes: Any) -> Contract:
    values: dict[str, Any] = {
        "vendor_id": vendor.pk,
        "title": title,
        "owner_id": org.procurement.pk,
        "value": Decimal("5000"),
        "currency": "GBP",
        "start_date": dt.date(2030, 1, 1),
        "end_date": dt.date(2030, 12, 31),
        "notice_period_days": 30,
    }
    values.update(changes)
    contract = contract_create(by=org.procurement, data=ContractInput(**values))
    return contract_transition(
        contract_id=contract.pk,
        by=org.procurement,
        action="activate",
        reason="Signed",
        today=values["start_date"],
    )


def reads_of_a_run(day: dt.date) -> int:
    """How many SELECTs a run makes (the claims of keys, one insert each, are writes)."""
    ReminderSent.objects.all().delete()
    with CaptureQueriesContext(connection) as queries:
        reminders_send_due(now=at(day))
    return sum(query["sql"].startswith("SELECT") for query in queries.captured_queries)


def test_it_reads_contract_reminders_in_as_many_queries_for_many_contracts_as_for_one(
    org: Org, mailoutbox: list[EmailMultiAlternatives]
) -> None:
    vendor = vendor_approved(by=org.procurement, legal_name="Contoso Cloud")
    live_contract(org, vendor, "Contract 1")
    # Each run is on a new day, so each sends its own digest.
    one = reads_of_a_run(dt.date(2030, 11, 2))
    for number in range(2, 7):
        live_contract(org, vendor, f"Contract {number}")
    many = reads_of_a_run(dt.date(2030, 11, 3))
    assert many == one
    assert "Contract 6" in mailoutbox[-1].body


def test_it_lists_vendors_holding_up_requests_without_a_query_per_vendor(
    org: Org, mailoutbox: list[EmailMultiAlternatives]
) -> None:
    monday = dt.date(2030, 6, 3)
    for number in range(5):
        prospect = vendor_create(by=org.procurement, legal_name=f"Prospect {number}")
        PurchaseRequestFactory.create(requester=org.requester, vendor=prospect)
    with CaptureQueriesContext(connection) as five:
        assert reminders_send_due(now=at(monday)) == 1
    for number in range(5, 10):
        prospect = vendor_create(by=org.procurement, legal_name=f"Prospect {number}")
        PurchaseRequestFactory.create(requester=org.requester, vendor=prospect)
    with CaptureQueriesContext(connection) as ten:
        assert reminders_send_due(now=at(monday + dt.timedelta(days=7))) == 1

    assert len(ten.captured_queries) == len(five.captured_queries)
    assert "Prospect 9" in mailoutbox[-1].body
    # Later in the week the digest is known to be sent before anything is gathered.
    with CaptureQueriesContext(connection) as again:
        assert reminders_send_due(now=at(monday + dt.timedelta(days=8))) == 0
    assert len(again.captured_queries) < len(five.captured_queries)


# --- Contracts ------------------------------------------------------------------------------


def test_it_bounds_the_automatic_renewals_of_one_run_and_catches_up_on_the_next(
    org: Org, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(contracts, "MAX_AUTO_RENEWALS_PER_RUN", 3)
    vendor = vendor_approved(by=org.procurement, legal_name="Contoso Cloud")
    first = live_contract(org, vendor, "Monthly support", auto_renew=True, renewal_term_months=1)
    today = dt.date(2031, 6, 15)  # five monthly terms after the end of 2030

    assert contracts_update_states(today=today) == 3
    assert Contract.objects.filter(state="renewed").count() == 3
    assert contracts_update_states(today=today) == 3
    assert contracts_update_states(today=today) == 0

    current = Contract.objects.get(state__in=["active", "expiring"])
    assert current.end_date == dt.date(2031, 6, 30)
    chain = [current]
    while chain[-1].renewed_from is not None:
        chain.append(chain[-1].renewed_from)
    assert chain[-1] == first
    assert len(chain) == 7


def test_it_refuses_contract_dates_outside_a_sane_range_instead_of_failing_on_renewal(org):
    from vendors.contracts import ContractInput, contract_create

    vendor = vendor_approved(by=org.procurement, legal_name="Far Future Ltd")

    with pytest.raises(InvalidInput) as error:
        contract_create(
            by=org.procurement,
            data=ContractInput(
                vendor_id=vendor.pk,
                title="Forever",
                owner_id=org.procurement.pk,
                value=Decimal("1"),
                currency="GBP",
                start_date=dt.date(2026, 1, 1),
                end_date=dt.date(9999, 12, 31),
            ),
        )

    assert error.value.fields == {"end_date": ["Give a date between 1900 and 2999."]}


def test_it_does_not_let_a_contract_owner_link_a_request_they_cannot_see(org):
    from vendors.contracts import ContractInput, contract_create, contract_link_request

    vendor = vendor_approved(by=org.procurement, legal_name="Linked Supplies Ltd")
    contract = contract_create(
        by=org.procurement,
        data=ContractInput(
            vendor_id=vendor.pk,
            title="Supply",
            owner_id=org.legal.pk,
            value=Decimal("1000"),
            currency="GBP",
            start_date=dt.date(2026, 1, 1),
            end_date=dt.date(2027, 1, 1),
        ),
    )
    someone_elses = PurchaseRequestFactory.create(
        requester=org.requester, department=org.department, cost_centre=org.cost_centre
    )

    with pytest.raises(InvalidInput) as error:
        contract_link_request(contract_id=contract.pk, request_id=someone_elses.pk, by=org.legal)

    # The same answer as for a request that does not exist: nothing about it leaks.
    assert error.value.message == "No such purchase request."
    someone_elses.refresh_from_db()
    assert someone_elses.contract_id is None
