"""Preparing a draft RFQ: its lines, criteria (weights adding up to 100), deadline, target and
walk-away prices, invited vendors; and opening it, which emails every vendor a working link."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.utils import timezone

from procurement.errors import Conflict, InvalidInput, NotAllowed, NotFound
from procurement.models import AuditEntry, Category
from sourcing.models import Billing, CriterionKind, Invitation, RfqState
from sourcing.rfqs import (
    CriterionInput,
    RfqLineInput,
    rfq_criteria_save,
    rfq_invite,
    rfq_lines_save,
    rfq_open,
    rfq_prices_set,
    rfq_update,
)
from sourcing.tests.helpers import vendor
from sourcing.tests.test_rfq_helpers import draft_rfq
from vendors.models import VendorContact
from vendors.services import vendor_transition

pytestmark = pytest.mark.django_db


def criteria(*weights: str) -> list[CriterionInput]:
    kinds = [CriterionKind.TCO, CriterionKind.DELIVERY, CriterionKind.RISK, CriterionKind.CUSTOM]
    return [
        CriterionInput(kind=kind, name=f"Criterion {index}", weight=Decimal(weight))
        for index, (kind, weight) in enumerate(zip(kinds, weights, strict=False))
    ]


def ready_draft(org):
    """A draft with prices set and Northwind (approved) invited."""
    rfq = draft_rfq(org)
    rfq_prices_set(
        rfq_id=rfq.pk,
        by=org.procurement,
        target_price=Decimal("2300"),
        walk_away_price=Decimal("2600"),
    )
    rfq_invite(
        rfq_id=rfq.pk,
        by=org.procurement,
        vendor_id=vendor(org, "Northwind Hardware Ltd").pk,
        contact_name="Nina North",
        contact_email="nina@northwind.example",
    )
    return rfq


# --- Criteria ------------------------------------------------------------------------------


def test_it_saves_criteria_whose_weights_add_up_to_100(org):
    rfq = draft_rfq(org)

    rfq_criteria_save(rfq_id=rfq.pk, by=org.procurement, criteria=criteria("60", "25", "10", "5"))

    assert [c.weight for c in rfq.criteria.all()] == [
        Decimal(60),
        Decimal(25),
        Decimal(10),
        Decimal(5),
    ]


def test_it_refuses_weights_that_do_not_add_up_to_100_and_keeps_the_old_ones(org):
    rfq = draft_rfq(org)
    before = list(rfq.criteria.values_list("name", "weight"))

    with pytest.raises(InvalidInput) as refused:
        rfq_criteria_save(
            rfq_id=rfq.pk, by=org.procurement, criteria=criteria("60", "20", "10", "5")
        )

    assert refused.value.message == "The weights add up to 95%; they must add up to 100%."
    assert refused.value.fields == {
        "criteria": ["The weights add up to 95%; they must add up to 100%."]
    }
    assert list(rfq.criteria.values_list("name", "weight")) == before


def test_it_refuses_a_computed_criterion_twice_a_missing_name_and_a_weight_above_100(org):
    rfq = draft_rfq(org)
    bad = [
        CriterionInput(kind=CriterionKind.TCO, name="Price", weight=Decimal(50)),
        CriterionInput(kind=CriterionKind.TCO, name="Price again", weight=Decimal(30)),
        CriterionInput(kind=CriterionKind.CUSTOM, name=" ", weight=Decimal(20)),
        CriterionInput(kind=CriterionKind.CUSTOM, name="Fit", weight=Decimal(101)),
    ]

    with pytest.raises(InvalidInput) as refused:
        rfq_criteria_save(rfq_id=rfq.pk, by=org.procurement, criteria=bad)

    assert refused.value.fields["criteria[1].kind"] == [
        "Only one criterion may score the total cost of ownership."
    ]
    assert refused.value.fields["criteria[2].name"] == ["Give the criterion a name."]
    assert refused.value.fields["criteria[3].weight"] == ["A weight is a percentage from 0 to 100."]


def test_it_lets_several_custom_criteria_share_the_weights(org):
    rfq = draft_rfq(org)
    custom = [
        CriterionInput(kind=CriterionKind.TCO, name="TCO", weight=Decimal("70")),
        CriterionInput(kind=CriterionKind.CUSTOM, name="Fit", weight=Decimal("15.5")),
        CriterionInput(kind=CriterionKind.CUSTOM, name="Support", weight=Decimal("14.5")),
    ]

    rfq_criteria_save(rfq_id=rfq.pk, by=org.procurement, criteria=custom)

    assert rfq.criteria.count() == 3


# --- Lines ---------------------------------------------------------------------------------


def test_it_replaces_the_lines_of_a_draft(org):
    rfq = draft_rfq(org)
    software = Category.objects.get(code="software")

    rfq_lines_save(
        rfq_id=rfq.pk,
        by=org.procurement,
        lines=[
            RfqLineInput("Laptop, 14 inch", Decimal(2), rfq.request.category_id),
            RfqLineInput("Device management", Decimal(2), software.pk, "seat", Billing.MONTHLY),
        ],
    )

    assert [(line.description, line.billing) for line in rfq.lines.all()] == [
        ("Laptop, 14 inch", "one_off"),
        ("Device management", "monthly"),
    ]


def test_it_refuses_lines_with_a_zero_quantity_or_no_description_and_writes_nothing(org):
    rfq = draft_rfq(org)
    before = list(rfq.lines.values_list("description", flat=True))

    with pytest.raises(InvalidInput) as refused:
        rfq_lines_save(
            rfq_id=rfq.pk,
            by=org.procurement,
            lines=[
                RfqLineInput("Laptop", Decimal(0), rfq.request.category_id),
                RfqLineInput("  ", Decimal(1), rfq.request.category_id),
            ],
        )

    assert refused.value.fields == {
        "lines[0].quantity": ["A quantity must be more than 0."],
        "lines[1].description": ["Describe what is to be quoted."],
    }
    assert list(rfq.lines.values_list("description", flat=True)) == before


def test_it_refuses_an_rfq_without_lines(org):
    rfq = draft_rfq(org)

    with pytest.raises(InvalidInput, match="at least one line"):
        rfq_lines_save(rfq_id=rfq.pk, by=org.procurement, lines=[])
    assert rfq.lines.count() == 1


# --- Deadline, term, currency ----------------------------------------------------------------


def test_it_refuses_a_deadline_in_the_past(org):
    rfq = draft_rfq(org)

    with pytest.raises(InvalidInput) as refused:
        rfq_update(
            rfq_id=rfq.pk,
            by=org.procurement,
            title=rfq.title,
            instructions="",
            deadline=timezone.now() - dt.timedelta(hours=1),
            term_months=12,
            currency="GBP",
        )

    assert refused.value.fields == {"deadline": ["Choose a moment in the future."]}


def test_it_fixes_the_term_and_currency_once_open_but_lets_the_deadline_move(
    org, django_capture_on_commit_callbacks, mailoutbox
):
    rfq = ready_draft(org)
    with django_capture_on_commit_callbacks(execute=True):
        rfq_open(rfq_id=rfq.pk, by=org.procurement)
    mailoutbox.clear()
    later = timezone.now() + dt.timedelta(days=10)

    with pytest.raises(Conflict, match="term and the currency are fixed"):
        rfq_update(
            rfq_id=rfq.pk,
            by=org.procurement,
            title=rfq.title,
            instructions="",
            deadline=later,
            term_months=24,
            currency="GBP",
        )
    with django_capture_on_commit_callbacks(execute=True):
        rfq_update(
            rfq_id=rfq.pk,
            by=org.procurement,
            title="Laptops for new starters",
            instructions="Include a 3-year warranty.",
            deadline=later,
            term_months=12,
            currency="GBP",
        )

    rfq.refresh_from_db()
    assert rfq.deadline == later
    [message] = mailoutbox
    assert message.to == ["nina@northwind.example"]
    assert message.subject.startswith("New deadline: Laptops for new starters")


# --- Target and walk-away --------------------------------------------------------------------


def test_it_refuses_a_target_above_the_walk_away_price(org):
    rfq = draft_rfq(org)

    with pytest.raises(InvalidInput) as refused:
        rfq_prices_set(
            rfq_id=rfq.pk,
            by=org.procurement,
            target_price=Decimal("2700"),
            walk_away_price=Decimal("2600"),
        )

    assert refused.value.fields == {
        "walk_away_price": ["The walk-away price cannot be below the target."]
    }
    rfq.refresh_from_db()
    assert rfq.target_price is None


def test_it_refuses_prices_of_zero(org):
    rfq = draft_rfq(org)

    with pytest.raises(InvalidInput) as refused:
        rfq_prices_set(
            rfq_id=rfq.pk, by=org.procurement, target_price=Decimal(0), walk_away_price=Decimal(-5)
        )

    assert set(refused.value.fields) == {"target_price", "walk_away_price"}


def test_it_refuses_prices_once_quotes_are_seen(org):
    from sourcing.tests.helpers import closed_rfq_with_two_quotes

    rfq, _, _ = closed_rfq_with_two_quotes(org)

    with pytest.raises(Conflict, match="set before quotes are seen"):
        rfq_prices_set(
            rfq_id=rfq.pk,
            by=org.procurement,
            target_price=Decimal("1000"),
            walk_away_price=Decimal("3000"),
        )
    rfq.refresh_from_db()
    assert rfq.walk_away_price == Decimal("2600.00")


def test_it_records_when_the_prices_were_set(org):
    rfq = draft_rfq(org)

    rfq_prices_set(
        rfq_id=rfq.pk, by=org.procurement, target_price=Decimal(2300), walk_away_price=Decimal(2600)
    )

    rfq.refresh_from_db()
    assert rfq.prices_set_at is not None
    entry = AuditEntry.objects.get(action="prices_set")
    assert entry.comment == "Target 2,300.00 GBP, walk-away 2,600.00 GBP."


# --- Invitations ---------------------------------------------------------------------------


def test_it_invites_an_approved_vendor_at_its_primary_contact(org):
    rfq = draft_rfq(org)
    northwind = vendor(org, "Northwind Hardware Ltd")
    VendorContact.objects.create(vendor=northwind, name="Other", email="other@northwind.example")
    VendorContact.objects.create(
        vendor=northwind, name="Nina North", email="nina@northwind.example", is_primary=True
    )

    invitation = rfq_invite(rfq_id=rfq.pk, by=org.procurement, vendor_id=northwind.pk)

    assert (invitation.contact_name, invitation.contact_email) == (
        "Nina North",
        "nina@northwind.example",
    )
    assert invitation.is_prospect is False


def test_it_flags_a_prospect_as_not_yet_approved(org):
    rfq = draft_rfq(org)
    prospect = vendor(org, "Fabrikam Prospects Ltd", approved=False)

    invitation = rfq_invite(
        rfq_id=rfq.pk,
        by=org.procurement,
        vendor_id=prospect.pk,
        contact_name="Fay",
        contact_email="fay@fabrikam.example",
    )

    assert invitation.is_prospect is True
    assert "(not yet approved)" in AuditEntry.objects.get(action="vendor_invited").comment


@pytest.mark.parametrize("action", ["block", "suspend"])
def test_it_refuses_to_invite_a_blocked_or_suspended_vendor(org, action):
    rfq = draft_rfq(org)
    refused_vendor = vendor(org, "Shady Supplies Ltd")
    vendor_transition(
        vendor_id=refused_vendor.pk, by=org.procurement, action=action, reason="Fraud"
    )

    with pytest.raises(Conflict) as refused:
        rfq_invite(
            rfq_id=rfq.pk,
            by=org.procurement,
            vendor_id=refused_vendor.pk,
            contact_name="S",
            contact_email="s@shady.example",
        )

    assert refused.value.message == (
        f"Shady Supplies Ltd is {action}ed: it cannot be invited to quote."
    )
    assert not Invitation.objects.exists()


def test_it_refuses_to_invite_a_vendor_twice_or_without_a_contact(org):
    rfq = draft_rfq(org)
    northwind = vendor(org, "Northwind Hardware Ltd")
    rfq_invite(
        rfq_id=rfq.pk,
        by=org.procurement,
        vendor_id=northwind.pk,
        contact_name="Nina",
        contact_email="nina@northwind.example",
    )
    contoso = vendor(org, "Contoso Devices Ltd")

    with pytest.raises(Conflict, match="already invited"):
        rfq_invite(
            rfq_id=rfq.pk,
            by=org.procurement,
            vendor_id=northwind.pk,
            contact_name="Nina",
            contact_email="nina@northwind.example",
        )
    with pytest.raises(InvalidInput, match="has no contact on file"):
        rfq_invite(rfq_id=rfq.pk, by=org.procurement, vendor_id=contoso.pk)
    with pytest.raises(InvalidInput) as refused:
        rfq_invite(
            rfq_id=rfq.pk,
            by=org.procurement,
            vendor_id=contoso.pk,
            contact_name="Carl",
            contact_email="not an email",
        )
    assert refused.value.fields == {"contact_email": ["Enter a valid email address."]}
    assert Invitation.objects.count() == 1


# --- Opening -------------------------------------------------------------------------------


def test_it_refuses_to_open_listing_everything_missing_at_once(org):
    rfq = draft_rfq(org)
    rfq.criteria.filter(kind=CriterionKind.CUSTOM).delete()  # 95%

    with pytest.raises(Conflict) as refused:
        rfq_open(rfq_id=rfq.pk, by=org.procurement)

    assert set(refused.value.fields) == {"criteria", "invitations", "prices"}
    message = refused.value.message
    assert "they add up to 95%" in message
    assert "Invite at least one vendor." in message
    assert "Set the target and walk-away prices" in message
    rfq.refresh_from_db()
    assert rfq.state == RfqState.DRAFT


def test_it_opens_and_emails_each_vendor_a_link_that_opens_its_quote_page(
    org, settings, django_capture_on_commit_callbacks, mailoutbox
):
    rfq = ready_draft(org)
    prospect = vendor(org, "Fabrikam Prospects Ltd", approved=False)
    rfq_invite(
        rfq_id=rfq.pk,
        by=org.procurement,
        vendor_id=prospect.pk,
        contact_name="Fay",
        contact_email="fay@fabrikam.example",
    )

    with django_capture_on_commit_callbacks(execute=True):
        rfq_open(rfq_id=rfq.pk, by=org.procurement)

    rfq.refresh_from_db()
    assert rfq.state == RfqState.OPEN
    assert sorted(m.to[0] for m in mailoutbox) == ["fay@fabrikam.example", "nina@northwind.example"]
    nina = next(m for m in mailoutbox if m.to == ["nina@northwind.example"])
    assert rfq.title in nina.subject
    [link] = re.findall(r"http\S+/sourcing/quote/\S+/", nina.body)
    assert link.startswith(settings.SITE_URL)
    assert f'href="{link}"' in nina.alternatives[0][0]
    assert "Laptop model 1" in nina.body
    fay = next(m for m in mailoutbox if m.to == ["fay@fabrikam.example"])
    assert "not yet an approved supplier" in fay.body

    page = org.client_for(org.outsider).get(link.removeprefix(settings.SITE_URL))
    assert page.status_code == 200
    assert rfq.title in page.content.decode()
    assert "Northwind Hardware Ltd" in page.content.decode()


def test_it_emails_a_vendor_invited_while_open_at_once(
    org, django_capture_on_commit_callbacks, mailoutbox
):
    rfq = ready_draft(org)
    with django_capture_on_commit_callbacks(execute=True):
        rfq_open(rfq_id=rfq.pk, by=org.procurement)
    mailoutbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        rfq_invite(
            rfq_id=rfq.pk,
            by=org.procurement,
            vendor_id=vendor(org, "Contoso Devices Ltd").pk,
            contact_name="Carl",
            contact_email="carl@contoso.example",
        )

    assert [m.to for m in mailoutbox] == [["carl@contoso.example"]]


def test_it_lets_finance_see_but_not_change_and_hides_rfqs_from_requesters(org):
    rfq = draft_rfq(org)

    with pytest.raises(NotAllowed, match="Only procurement"):
        rfq_open(rfq_id=rfq.pk, by=org.finance)
    for outsider in (org.requester, org.outsider, org.manager):
        with pytest.raises(NotFound):
            rfq_open(rfq_id=rfq.pk, by=outsider)
