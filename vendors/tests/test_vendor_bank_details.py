"""Changing where we pay a vendor: who may, what is checked, and what follows."""

from __future__ import annotations

import pytest

from procurement.errors import InvalidInput, NotAllowed
from procurement.models import AuditEntry
from tests.factories import vendor_approved, vendor_create
from vendors.models import BankDetailChange, Vendor
from vendors.services import BankDetailsInput, vendor_bank_details_change, vendor_transition

GB_IBAN = "GB82 WEST 1234 5698 7654 32"
DE_IBAN = "DE89370400440532013000"


def change(
    vendor: Vendor, by, reason: str = "Letter from the vendor, confirmed by phone", **fields
):
    details = BankDetailsInput(
        account_name=fields.pop("account_name", "Northwind Hardware"), **fields
    )
    return vendor_bank_details_change(vendor_id=vendor.pk, by=by, details=details, reason=reason)


@pytest.fixture
def paid(org):
    """An approved vendor we already pay, owned by org.procurement."""
    vendor = vendor_approved(by=org.procurement)
    # Even first details send an approved vendor back to review; approve it again.
    change(vendor, org.procurement, iban=GB_IBAN, bic="NWBKGB2L", reason="Onboarding")
    return vendor_transition(
        vendor_id=vendor.pk, by=org.procurement, action="approve", reason="Details verified"
    )


@pytest.mark.parametrize("role", ["procurement", "finance"])
def test_it_lets_procurement_and_finance_change_bank_details(org, role):
    vendor = vendor_create(by=org.procurement)

    vendor = change(vendor, getattr(org, role), iban=GB_IBAN, bic="nwbk gb 2l")

    vendor.refresh_from_db()
    assert vendor.bank_iban == "GB82WEST12345698765432"
    assert vendor.bank_bic == "NWBKGB2L"
    assert vendor.has_bank_details


@pytest.mark.parametrize("role", ["security", "legal", "requester", "manager"])
def test_it_refuses_everyone_else(org, role):
    vendor = vendor_create(by=org.procurement)

    with pytest.raises(NotAllowed):
        change(vendor, getattr(org, role), iban=GB_IBAN)

    vendor.refresh_from_db()
    assert vendor.bank_iban == ""
    assert not BankDetailChange.objects.exists()


@pytest.mark.parametrize(
    ("fields", "field_name"),
    [
        ({"iban": "GB82 WEST 1234 5698 7654 33"}, "iban"),  # check digits wrong
        ({"iban": "XX00 1234"}, "iban"),
        ({"iban": GB_IBAN, "bic": "NWBK"}, "bic"),
        ({"iban": GB_IBAN, "bic": "NWBKXX2L"}, "bic"),  # no country XX
        ({}, "iban"),  # neither IBAN nor account number
        ({"account_number": "1" * 35}, "account_number"),
        ({"account_number": "12/34"}, "account_number"),
        ({"account_number": "12345678", "routing_code": "1" * 21}, "routing_code"),
        ({"iban": GB_IBAN, "account_name": "  "}, "account_name"),
    ],
)
def test_it_refuses_bad_details_naming_the_field(org, fields, field_name):
    vendor = vendor_create(by=org.procurement)

    with pytest.raises(InvalidInput) as caught:
        change(vendor, org.finance, **fields)

    assert field_name in caught.value.fields
    assert not BankDetailChange.objects.exists()


def test_it_needs_a_reason(org):
    vendor = vendor_create(by=org.procurement)

    with pytest.raises(InvalidInput) as caught:
        change(vendor, org.finance, iban=GB_IBAN, reason=" ")

    assert "reason" in caught.value.fields


def test_it_accepts_an_account_number_for_countries_without_iban(org):
    vendor = vendor_create(by=org.procurement, country="US")

    vendor = change(vendor, org.finance, account_number="0001 2345 6789", routing_code="021000021")

    assert vendor.bank_account_number == "000123456789"
    assert vendor.bank_routing_code == "021000021"


def test_it_puts_an_approved_vendor_back_under_review_keeping_the_reason_private(org, paid):
    vendor = change(paid, org.finance, iban=DE_IBAN, reason="New bank after merger, called them")

    vendor.refresh_from_db()
    assert vendor.state == "under_review"
    # The why stays in the bank-details history, which only procurement and finance see.
    assert vendor.state_reason == "Bank details changed; see the bank-details history."
    assert vendor.bank_changes.first().reason == "New bank after merger, called them"
    entry = AuditEntry.objects.filter(object_id=vendor.pk, action="bank_details_changed").last()
    assert entry is not None
    assert (entry.from_state, entry.to_state, entry.actor) == (
        "approved",
        "under_review",
        org.finance,
    )


def test_it_keeps_a_masked_history_and_never_the_full_iban(org, paid):
    change(paid, org.finance, iban=DE_IBAN, reason="New bank after merger")

    latest = BankDetailChange.objects.filter(vendor=paid).first()
    assert latest is not None
    assert latest.changed_by == org.finance
    assert latest.reason == "New bank after merger"
    assert latest.previous.endswith("IBAN ••••••••••••••••••5432, BIC NWBKGB2L")
    assert "IBAN ••••••••••••••••••3000" in latest.current
    everything = " ".join(
        f"{c.previous} {c.current} {c.reason}" for c in BankDetailChange.objects.all()
    )
    audit = " ".join(AuditEntry.objects.values_list("comment", flat=True))
    for full in ("GB82WEST12345698765432", DE_IBAN, "12345698765432"):
        assert full not in everything
        assert full not in audit


def test_it_refuses_the_same_details_again_without_sending_the_vendor_back(org, paid):
    with pytest.raises(InvalidInput):
        change(paid, org.finance, iban=GB_IBAN, bic="NWBKGB2L")

    paid.refresh_from_db()
    assert paid.state == "approved"


def test_it_emails_the_owner_when_someone_else_changes_the_details(
    org, paid, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        change(paid, org.finance, iban=DE_IBAN, reason="New bank after merger")

    assert len(mailoutbox) == 1
    message = mailoutbox[0]
    assert message.to == [org.procurement.email]
    assert "Northwind Hardware Ltd" in message.subject
    assert "New bank after merger" in message.body
    assert "Fiona" in message.body
    assert DE_IBAN not in message.body
    assert f"/vendors/{paid.pk}/" in message.body


def test_it_does_not_email_the_owner_about_their_own_change(
    org, paid, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        change(paid, org.procurement, iban=DE_IBAN)

    assert mailoutbox == []


def test_it_does_not_email_about_first_time_details(
    org, mailoutbox, django_capture_on_commit_callbacks
):
    vendor = vendor_create(by=org.procurement)

    with django_capture_on_commit_callbacks(execute=True):
        change(vendor, org.finance, iban=GB_IBAN)

    assert mailoutbox == []
    assert BankDetailChange.objects.get().previous == ""
