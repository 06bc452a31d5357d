"""Screening vendors against the imported lists, and people clearing or confirming matches."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from procurement.errors import Conflict, InvalidInput, NotAllowed
from procurement.models import AuditEntry
from tests.factories import vendor_approved, vendor_create
from vendors.models import SanctionsEntry, SanctionsMatch, Vendor
from vendors.sanctions import (
    sanctions_list_import,
    sanctions_lists_summary,
    sanctions_match_review,
    vendor_sanctions_screen,
    vendors_rescreen_all,
)
from vendors.selectors import vendor_approval_blockers
from vendors.services import vendor_transition

SAMPLES = Path(__file__).resolve().parent.parent / "sample_data" / "sanctions"


@pytest.fixture
def uk_list(db: None) -> None:
    sanctions_list_import(source="uk", path=SAMPLES / "ConList.csv")


def under_review(org: Any, legal_name: str, **fields: Any) -> Vendor:
    """A vendor whose review has started, so it has its checklist (with the sanctions check)."""
    vendor = vendor_create(by=org.procurement, legal_name=legal_name, **fields)
    return vendor_transition(
        vendor_id=vendor.pk, by=org.procurement, action="start_review", reason="New supplier"
    )


def sanctions_check(vendor: Vendor) -> Any:
    return vendor.checks.get(kind="sanctions")


def test_it_flags_a_vendor_whose_name_is_listed_however_it_is_punctuated(org, uk_list):
    vendor = under_review(org, "Kestrel Global Trading LLC")

    assert vendor_sanctions_screen(vendor_id=vendor.pk) == 1

    match = SanctionsMatch.objects.get(vendor=vendor)
    assert match.status == "possible"
    assert (match.source, match.entry_reference) == ("uk", "90001")
    assert match.listed_name == "KESTREL GLOBAL TRADING L.L.C."
    assert match.vendor_name == "Kestrel Global Trading LLC"
    assert float(match.score) == 100.0
    assert match.entry == SanctionsEntry.objects.get(reference="90001")


@pytest.mark.parametrize(
    "legal_name",
    [
        "KESTREL GLOBAL TRADING L.L.C.",
        "Global Kestrel Trading Ltd",
        "Trading Kestrel Global",
        "Kestrel Global Tradinq LLC",  # a typo is still a possible match
    ],
)
def test_it_flags_word_order_and_spelling_variants(org, uk_list, legal_name):
    vendor = under_review(org, legal_name)

    vendor_sanctions_screen(vendor_id=vendor.pk)

    assert SanctionsMatch.objects.filter(vendor=vendor, entry_reference="90001").exists()


def test_it_screens_trading_names_and_aliases_too(org, uk_list):
    vendor = under_review(org, "Falcon Supplies Ltd", trading_names=["Kestrel Trading"])

    vendor_sanctions_screen(vendor_id=vendor.pk)

    match = SanctionsMatch.objects.get(vendor=vendor)
    assert (match.vendor_name, match.listed_name) == ("Kestrel Trading", "KESTREL TRADING")


@pytest.mark.parametrize(
    "legal_name",
    [
        "Northwind Hardware Ltd",
        "Kestrel Ltd",  # one word of a listed name
        "Global Trading Ltd",  # two words of it
        "Blue Cedar Consulting",
        "Orion Software GmbH",
        "TDS Ltd",
    ],
)
def test_it_does_not_flag_unrelated_vendors(org, uk_list, legal_name):
    vendor = under_review(org, legal_name)

    assert vendor_sanctions_screen(vendor_id=vendor.pk) == 0

    assert not SanctionsMatch.objects.filter(vendor=vendor).exists()


def test_it_passes_the_sanctions_check_when_nothing_matches(org, uk_list):
    vendor = under_review(org, "Northwind Hardware Ltd")

    vendor_sanctions_screen(vendor_id=vendor.pk)

    check = sanctions_check(vendor)
    assert check.status == "passed"
    assert check.checked_by is None
    assert check.outcome.startswith("Screened against UK consolidated list (OFSI) of ")
    assert "(12 entries)" in check.outcome
    assert check.outcome.endswith(": no possible match.")


def test_it_leaves_the_check_open_while_no_list_is_imported(org):
    vendor = under_review(org, "Northwind Hardware Ltd")

    assert vendor_sanctions_screen(vendor_id=vendor.pk) == 0

    check = sanctions_check(vendor)
    assert check.status == "open"
    assert check.outcome.startswith("No sanctions list has been imported yet")


def test_it_reopens_the_check_of_an_approved_vendor_listing_the_match(org):
    vendor = vendor_approved(by=org.procurement, legal_name="Kestrel Global Trading LLC")
    assert sanctions_check(vendor).status == "passed"
    sanctions_list_import(source="uk", path=SAMPLES / "ConList.csv")

    assert vendors_rescreen_all() == 1

    check = sanctions_check(vendor)
    assert check.status == "open"
    assert "1 possible sanctions match to review" in check.outcome
    assert "KESTREL GLOBAL TRADING L.L.C." in check.outcome


def test_it_writes_an_audit_entry_for_each_screening(org, uk_list):
    vendor = under_review(org, "Kestrel Global Trading LLC")

    vendor_sanctions_screen(vendor_id=vendor.pk)

    entry = AuditEntry.objects.get(object_id=vendor.pk, action="sanctions_screened")
    assert entry.actor is None
    assert entry.comment == "Screened against UK consolidated list (OFSI): 1 new possible match."


def test_it_blocks_approval_while_a_possible_match_is_open(org, uk_list):
    vendor = under_review(org, "Kestrel Global Trading LLC")
    vendor_sanctions_screen(vendor_id=vendor.pk)

    assert "1 possible sanctions match must be cleared by a person." in vendor_approval_blockers(
        vendor
    )
    with pytest.raises(Conflict, match="possible sanctions match"):
        vendor_transition(vendor_id=vendor.pk, by=org.procurement, action="approve", reason="OK")


def test_it_does_not_raise_a_cleared_match_again(org, uk_list):
    vendor = under_review(org, "Kestrel Global Trading LLC")
    vendor_sanctions_screen(vendor_id=vendor.pk)
    match = SanctionsMatch.objects.get(vendor=vendor)
    sanctions_match_review(
        match_id=match.pk,
        by=org.legal,
        decision="clear",
        reason="Registered in Leeds since 1998; no link to the listed Dubai company.",
    )

    assert vendor_sanctions_screen(vendor_id=vendor.pk) == 0
    assert vendors_rescreen_all() == 0
    sanctions_list_import(source="uk", path=SAMPLES / "ConList.csv")
    assert vendors_rescreen_all() == 0

    assert list(SanctionsMatch.objects.filter(vendor=vendor).values_list("status", flat=True)) == [
        "cleared"
    ]
    assert sanctions_check(vendor).status == "passed"


def test_it_links_a_match_to_the_new_entry_after_a_reimport(org, uk_list):
    vendor = under_review(org, "Kestrel Global Trading LLC")
    vendor_sanctions_screen(vendor_id=vendor.pk)

    sanctions_list_import(source="uk", path=SAMPLES / "ConList.csv")

    match = SanctionsMatch.objects.get(vendor=vendor)
    assert match.entry == SanctionsEntry.objects.get(reference="90001")
    assert match.listed_name == "KESTREL GLOBAL TRADING L.L.C."


def test_it_passes_the_check_when_the_last_open_match_is_cleared(org, uk_list):
    vendor = under_review(org, "Kestrel Global Trading LLC", trading_names=["KGT FZE"])
    assert vendor_sanctions_screen(vendor_id=vendor.pk) == 2
    first, second = SanctionsMatch.objects.filter(vendor=vendor).order_by("vendor_name")

    sanctions_match_review(
        match_id=first.pk, by=org.procurement, decision="clear", reason="Other firm."
    )
    assert sanctions_check(vendor).status == "open"
    sanctions_match_review(
        match_id=second.pk, by=org.procurement, decision="clear", reason="Other firm."
    )

    check = sanctions_check(vendor)
    assert check.status == "passed"
    assert check.checked_by == org.procurement
    assert check.outcome.startswith('Pat Buyer cleared "Kestrel Global Trading LLC" ~ ')
    reviewed = SanctionsMatch.objects.get(pk=first.pk)
    assert (reviewed.status, reviewed.reviewed_by, reviewed.reason) == (
        "cleared",
        org.procurement,
        "Other firm.",
    )
    assert reviewed.reviewed_at is not None
    assert (
        AuditEntry.objects.filter(object_id=vendor.pk, action="sanctions_match_cleared").count()
        == 2
    )


@pytest.mark.parametrize("who", ["requester", "manager", "security", "outsider"])
def test_it_lets_only_procurement_finance_legal_and_admins_review_a_match(org, uk_list, who):
    vendor = under_review(org, "Kestrel Global Trading LLC")
    vendor_sanctions_screen(vendor_id=vendor.pk)
    match = SanctionsMatch.objects.get(vendor=vendor)

    with pytest.raises(NotAllowed):
        sanctions_match_review(
            match_id=match.pk, by=getattr(org, who), decision="clear", reason="No."
        )

    assert SanctionsMatch.objects.get(pk=match.pk).status == "possible"


@pytest.mark.parametrize(
    ("decision", "reason", "field"),
    [("clear", "   ", "reason"), ("confirm", "", "reason"), ("ignore", "Because.", "decision")],
)
def test_it_requires_a_decision_and_a_reason(org, uk_list, decision, reason, field):
    vendor = under_review(org, "Kestrel Global Trading LLC")
    vendor_sanctions_screen(vendor_id=vendor.pk)
    match = SanctionsMatch.objects.get(vendor=vendor)

    with pytest.raises(InvalidInput) as caught:
        sanctions_match_review(match_id=match.pk, by=org.legal, decision=decision, reason=reason)

    assert field in caught.value.fields
    assert SanctionsMatch.objects.get(pk=match.pk).status == "possible"


def test_it_decides_a_match_only_once(org, uk_list):
    vendor = under_review(org, "Kestrel Global Trading LLC")
    vendor_sanctions_screen(vendor_id=vendor.pk)
    match = SanctionsMatch.objects.get(vendor=vendor)
    sanctions_match_review(match_id=match.pk, by=org.legal, decision="clear", reason="Other firm.")

    with pytest.raises(Conflict, match="already cleared by Lee Legal"):
        sanctions_match_review(
            match_id=match.pk, by=org.finance, decision="confirm", reason="It is."
        )

    assert SanctionsMatch.objects.get(pk=match.pk).status == "cleared"


@pytest.mark.parametrize("who", ["procurement", "legal"])
def test_it_blocks_the_vendor_when_a_match_is_confirmed(org, uk_list, who):
    vendor = under_review(org, "Kestrel Global Trading LLC")
    vendor_sanctions_screen(vendor_id=vendor.pk)
    match = SanctionsMatch.objects.get(vendor=vendor)

    sanctions_match_review(
        match_id=match.pk,
        by=getattr(org, who),
        decision="confirm",
        reason="Same registration number as the listed company.",
    )

    vendor.refresh_from_db()
    assert vendor.state == "blocked"
    assert vendor.state_reason.startswith("Sanctions match confirmed: ")
    check = sanctions_check(vendor)
    assert check.status == "failed"
    assert "Same registration number" in check.outcome
    block = AuditEntry.objects.get(object_id=vendor.pk, action="block")
    assert (block.actor, block.from_state, block.to_state) == (
        getattr(org, who),
        "under_review",
        "blocked",
    )
    assert "The vendor matches a sanctions list entry." in vendor_approval_blockers(vendor)


def test_it_keeps_a_failed_check_failed_when_screening_again(org, uk_list):
    vendor = under_review(org, "Kestrel Global Trading LLC")
    vendor_sanctions_screen(vendor_id=vendor.pk)
    match = SanctionsMatch.objects.get(vendor=vendor)
    sanctions_match_review(match_id=match.pk, by=org.legal, decision="confirm", reason="It is.")

    vendor_sanctions_screen(vendor_id=vendor.pk)

    assert sanctions_check(vendor).status == "failed"


def test_it_skips_offboarded_vendors_when_screening_everyone(org, uk_list):
    gone = under_review(org, "Kestrel Global Trading LLC")
    vendor_transition(vendor_id=gone.pk, by=org.procurement, action="offboard", reason="Left")
    current = under_review(org, "Global Kestrel Trading Ltd")

    assert vendors_rescreen_all() == 1

    assert not SanctionsMatch.objects.filter(vendor=gone).exists()
    assert SanctionsMatch.objects.filter(vendor=current).exists()


def test_it_summarises_the_imported_lists(org, uk_list):
    sanctions_list_import(source="eu", path=SAMPLES / "eu_consolidated.xml")

    summary = sanctions_lists_summary()

    assert [(item.source, item.entry_count) for item in summary] == [("eu", 10), ("uk", 12)]
