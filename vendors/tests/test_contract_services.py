"""Contracts: validation, who may do what, renewals, the beat scan and the pipeline."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from conftest import Org
from procurement.errors import Conflict, InvalidInput, NotAllowed, NotFound
from procurement.models import AuditEntry
from tests.factories import PurchaseRequestFactory, vendor_approved, vendor_create
from vendors.contracts import (
    ContractInput,
    add_months,
    contract_create,
    contract_document_add,
    contract_get,
    contract_link_request,
    contract_pipeline,
    contract_renew,
    contract_transition,
    contract_update,
    contracts_update_states,
    term_end,
)
from vendors.models import Contract, ContractState, Vendor
from vendors.services import vendor_transition

TODAY = dt.date(2030, 6, 1)


def contract_input(vendor: Vendor, owner_id: int, **changes: Any) -> ContractInput:
    values: dict[str, Any] = {
        "vendor_id": vendor.pk,
        "title": "Laptop leasing",
        "owner_id": owner_id,
        "value": Decimal("12000.00"),
        "currency": "GBP",
        "start_date": dt.date(2030, 1, 1),
        "end_date": dt.date(2030, 12, 31),
        "notice_period_days": 30,
        "auto_renew": False,
        "renewal_term_months": 12,
    }
    values.update(changes)
    return ContractInput(**values)


def live_contract(org: Org, vendor: Vendor | None = None, **changes: Any) -> Contract:
    vendor = vendor or vendor_approved(by=org.procurement)
    contract = contract_create(
        by=org.procurement, data=contract_input(vendor, org.procurement.pk, **changes)
    )
    return contract_transition(
        contract_id=contract.pk,
        by=org.procurement,
        action="activate",
        reason="Signed",
        today=changes.get("start_date", dt.date(2030, 1, 1)),
    )


def audit_actions(contract: Contract) -> list[str]:
    return list(
        AuditEntry.objects.filter(
            content_type__model="contract", object_id=contract.pk
        ).values_list("action", flat=True)
    )


# --- Validation ---------------------------------------------------------------------------


def test_it_creates_a_draft_with_its_notice_deadline(org: Org) -> None:
    vendor = vendor_approved(by=org.procurement)
    contract = contract_create(by=org.procurement, data=contract_input(vendor, org.legal.pk))
    assert contract.state == ContractState.DRAFT
    assert contract.notice_deadline == dt.date(2030, 12, 1)
    assert audit_actions(contract) == ["created"]


def test_it_refuses_an_end_date_on_or_before_the_start(org: Org) -> None:
    vendor = vendor_approved(by=org.procurement)
    for end in (dt.date(2030, 1, 1), dt.date(2029, 12, 31)):
        with pytest.raises(InvalidInput) as error:
            contract_create(
                by=org.procurement,
                data=contract_input(vendor, org.procurement.pk, end_date=end),
            )
        assert "end_date" in error.value.fields
    assert not Contract.objects.exists()


def test_it_refuses_a_notice_period_as_long_as_the_term(org: Org) -> None:
    vendor = vendor_approved(by=org.procurement)
    with pytest.raises(InvalidInput) as error:
        contract_create(
            by=org.procurement,
            data=contract_input(vendor, org.procurement.pk, notice_period_days=364),
        )
    assert error.value.fields["notice_period_days"] == [
        "The notice period (364 days) must be shorter than the term (364 days)."
    ]


def test_it_names_each_bad_field(org: Org) -> None:
    vendor = vendor_approved(by=org.procurement)
    with pytest.raises(InvalidInput) as error:
        contract_create(
            by=org.procurement,
            data=contract_input(
                vendor,
                org.requester.pk,
                value=Decimal("-1"),
                currency="XYZ",
                renewal_term_months=0,
                title=" ",
            ),
        )
    assert set(error.value.fields) == {
        "title",
        "owner",
        "value",
        "currency",
        "renewal_term_months",
    }


def test_it_refuses_a_new_contract_with_a_blocked_vendor(org: Org) -> None:
    vendor = vendor_create(by=org.procurement)
    vendor_transition(vendor_id=vendor.pk, by=org.procurement, action="block", reason="Fraud")
    with pytest.raises(InvalidInput) as error:
        contract_create(by=org.procurement, data=contract_input(vendor, org.procurement.pk))
    assert "blocked" in error.value.fields["vendor"][0]


def test_it_keeps_the_notice_deadline_in_step_on_update(org: Org) -> None:
    vendor = vendor_approved(by=org.procurement)
    contract = contract_create(by=org.procurement, data=contract_input(vendor, org.procurement.pk))
    contract_update(
        contract_id=contract.pk,
        by=org.procurement,
        data=contract_input(
            vendor, org.procurement.pk, end_date=dt.date(2031, 6, 30), notice_period_days=90
        ),
        today=TODAY,
    )
    contract.refresh_from_db()
    assert contract.notice_deadline == dt.date(2031, 4, 1)


# --- Permissions ---------------------------------------------------------------------------


def test_it_hides_contracts_from_requesters(org: Org) -> None:
    contract = live_contract(org)
    assert contract_get(user=org.requester, contract_id=contract.pk) is None
    with pytest.raises(NotFound):
        contract_transition(
            contract_id=contract.pk, by=org.requester, action="terminate", reason="No"
        )


def test_it_lets_finance_read_but_not_change(org: Org) -> None:
    contract = live_contract(org)
    assert contract_get(user=org.finance, contract_id=contract.pk) == contract
    with pytest.raises(NotAllowed):
        contract_transition(
            contract_id=contract.pk, by=org.finance, action="terminate", reason="No"
        )
    with pytest.raises(NotAllowed):
        contract_create(
            by=org.finance,
            data=contract_input(contract.vendor, org.finance.pk),
        )


def test_it_lets_the_owner_manage_their_contract(org: Org) -> None:
    vendor = vendor_approved(by=org.procurement)
    contract = contract_create(by=org.procurement, data=contract_input(vendor, org.legal.pk))
    contract_transition(
        contract_id=contract.pk, by=org.legal, action="activate", reason="Signed", today=TODAY
    )
    contract.refresh_from_db()
    assert contract.state == ContractState.ACTIVE


# --- Transitions and renewals -------------------------------------------------------------


def test_it_needs_a_reason_to_terminate(org: Org) -> None:
    contract = live_contract(org)
    with pytest.raises(InvalidInput) as error:
        contract_transition(
            contract_id=contract.pk, by=org.procurement, action="terminate", reason=" "
        )
    assert "reason" in error.value.fields


def test_it_refuses_to_activate_twice(org: Org) -> None:
    contract = live_contract(org)
    with pytest.raises(Conflict):
        contract_transition(
            contract_id=contract.pk, by=org.procurement, action="activate", reason="Again"
        )


def test_it_renews_by_hand_from_the_day_after_the_end(org: Org) -> None:
    contract = live_contract(org)
    successor = contract_renew(
        contract_id=contract.pk,
        by=org.procurement,
        reason="Good service",
        months=24,
        value=Decimal("20000"),
        today=TODAY,
    )
    contract.refresh_from_db()
    assert contract.state == ContractState.RENEWED
    assert successor.renewed_from == contract
    assert successor.state == ContractState.ACTIVE
    assert (successor.start_date, successor.end_date) == (
        dt.date(2031, 1, 1),
        dt.date(2032, 12, 31),
    )
    assert successor.value == Decimal("20000.00")
    assert successor.notice_deadline == dt.date(2032, 12, 1)
    assert "renewed" in audit_actions(contract)


def test_it_refuses_a_renewal_ending_before_it_starts(org: Org) -> None:
    contract = live_contract(org)
    with pytest.raises(InvalidInput) as error:
        contract_renew(
            contract_id=contract.pk,
            by=org.procurement,
            reason="Oops",
            new_end_date=dt.date(2030, 12, 31),
        )
    assert "new_end_date" in error.value.fields
    contract.refresh_from_db()
    assert contract.state == ContractState.ACTIVE


def test_it_refuses_to_renew_with_a_blocked_vendor(org: Org) -> None:
    contract = live_contract(org)
    vendor_transition(
        vendor_id=contract.vendor_id, by=org.procurement, action="block", reason="Sanctioned"
    )
    with pytest.raises(Conflict):
        contract_renew(contract_id=contract.pk, by=org.procurement, reason="Keep it")


def test_it_adds_months_within_the_month() -> None:
    assert add_months(dt.date(2030, 1, 31), 1) == dt.date(2030, 2, 28)
    assert add_months(dt.date(2030, 12, 31), 12) == dt.date(2031, 12, 31)
    assert term_end(dt.date(2031, 7, 1), 6) == dt.date(2031, 12, 31)


# --- The beat scan --------------------------------------------------------------------------


def test_it_moves_a_contract_into_its_notice_window(org: Org) -> None:
    contract = live_contract(org)
    assert contracts_update_states(today=dt.date(2030, 11, 30)) == 0
    assert contracts_update_states(today=dt.date(2030, 12, 1)) == 1
    contract.refresh_from_db()
    assert contract.state == ContractState.EXPIRING
    assert contracts_update_states(today=dt.date(2030, 12, 1)) == 0


def test_it_expires_a_contract_past_its_end(org: Org) -> None:
    contract = live_contract(org)
    contracts_update_states(today=dt.date(2030, 12, 1))
    assert contracts_update_states(today=dt.date(2031, 1, 1)) == 1
    contract.refresh_from_db()
    assert contract.state == ContractState.EXPIRED
    assert audit_actions(contract)[-1] == "expired"
    assert contracts_update_states(today=dt.date(2031, 1, 2)) == 0


def test_it_auto_renews_once_for_the_renewal_term(org: Org) -> None:
    contract = live_contract(org, auto_renew=True, renewal_term_months=6, renewal_terms="CPI+2%")
    assert contracts_update_states(today=dt.date(2031, 1, 1)) == 1
    contract.refresh_from_db()
    assert contract.state == ContractState.RENEWED
    successor = Contract.objects.get(renewed_from=contract)
    assert successor.state == ContractState.ACTIVE
    assert (successor.start_date, successor.end_date) == (dt.date(2031, 1, 1), dt.date(2031, 6, 30))
    assert (successor.value, successor.renewal_terms) == (contract.value, "CPI+2%")
    entry = AuditEntry.objects.get(
        content_type__model="contract", object_id=contract.pk, action="auto_renewed"
    )
    assert entry.actor is None
    assert contracts_update_states(today=dt.date(2031, 1, 1)) == 0
    assert Contract.objects.count() == 2


def test_it_catches_up_on_several_missed_terms(org: Org) -> None:
    live_contract(org, auto_renew=True, renewal_term_months=6)
    assert contracts_update_states(today=dt.date(2032, 1, 15)) == 3
    current = Contract.objects.get(state__in=["active", "expiring"])
    assert current.end_date == dt.date(2032, 6, 30)


# --- The pipeline -----------------------------------------------------------------------------


def test_it_lists_decisions_due_soonest_first_with_overdue_on_top(org: Org) -> None:
    vendor = vendor_approved(by=org.procurement)
    later = live_contract(org, vendor, title="Later", end_date=dt.date(2030, 9, 29))
    sooner = live_contract(org, vendor, title="Sooner", end_date=dt.date(2030, 7, 31))
    overdue = live_contract(org, vendor, title="Overdue", end_date=dt.date(2030, 6, 20))
    live_contract(org, vendor, title="Far away", end_date=dt.date(2031, 6, 30))
    items = contract_pipeline(user=org.finance, days=90, today=TODAY)
    assert [item.contract for item in items] == [overdue, sooner, later]
    assert [item.overdue for item in items] == [True, False, False]
    assert [item.days_left for item in items] == [-11, 30, 90]
    assert [
        item.contract for item in contract_pipeline(user=org.finance, days=30, today=TODAY)
    ] == [
        overdue,
        sooner,
    ]
    assert contract_pipeline(user=org.requester, today=TODAY) == []


# --- Documents and linked requests -------------------------------------------------------------


def test_it_refuses_a_document_that_is_not_a_pdf_or_image(org: Org) -> None:
    contract = live_contract(org)
    upload = SimpleUploadedFile("contract.exe", b"MZ\x90\x00binary", content_type="application/pdf")
    with pytest.raises(InvalidInput) as error:
        contract_document_add(contract_id=contract.pk, by=org.procurement, title="", upload=upload)
    assert "file" in error.value.fields
    assert not contract.documents.exists()


def test_it_refuses_a_document_over_the_size_limit(org: Org, settings: Any) -> None:
    settings.VENDOR_DOCUMENT_MAX_BYTES = 10
    contract = live_contract(org)
    upload = SimpleUploadedFile("signed.pdf", b"%PDF-1.4 " + b"x" * 20)
    with pytest.raises(InvalidInput) as error:
        contract_document_add(contract_id=contract.pk, by=org.procurement, title="", upload=upload)
    assert "larger than" in error.value.fields["file"][0]


def test_it_stores_a_signed_copy(org: Org) -> None:
    contract = live_contract(org)
    upload = SimpleUploadedFile("signed.pdf", b"%PDF-1.4 signed")
    document = contract_document_add(
        contract_id=contract.pk, by=org.procurement, title="Signed copy", upload=upload
    )
    assert (document.title, document.content_type) == ("Signed copy", "application/pdf")


def test_it_links_a_request_for_the_same_vendor_only(org: Org) -> None:
    contract = live_contract(org)
    purchase_request = PurchaseRequestFactory.create(
        requester=org.requester, vendor=contract.vendor
    )
    contract_link_request(
        contract_id=contract.pk, request_id=purchase_request.pk, by=org.procurement
    )
    purchase_request.refresh_from_db()
    assert purchase_request.contract == contract
    other = PurchaseRequestFactory.create(
        requester=org.requester, vendor=vendor_approved(by=org.procurement, legal_name="Other Co")
    )
    with pytest.raises(InvalidInput) as error:
        contract_link_request(contract_id=contract.pk, request_id=other.pk, by=org.procurement)
    assert "another vendor" in error.value.fields["request"][0]
