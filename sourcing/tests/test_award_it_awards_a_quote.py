"""The award: the top-ranked quote within walk-away is awarded at once; anything else needs a
written justification; above walk-away it waits for the policy's role (someone other than
the awarder), and only its approval orders: RFQ awarded, saving recorded, vendors told,
draft PO created."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from approvals.tests.helpers import submitted
from procurement.errors import Conflict, InvalidInput, NotAllowed
from procurement.models import AuditEntry
from sourcing.awards import award_approve, award_make, award_refuse
from sourcing.models import (
    Award,
    AwardState,
    CounterOffer,
    CounterOfferState,
    PurchaseOrder,
    Rfq,
    RfqState,
    Saving,
)
from sourcing.negotiation import counter_offer_send
from sourcing.scoring import rfq_evaluation
from sourcing.tests.helpers import (
    closed_rfq_with_two_quotes,
    invite,
    make_quote,
    make_rfq,
    vendor,
)
from vendors.models import Vendor


def ranked(rfq):
    """(top quote id, second quote id) as the matrix ranks them."""
    columns = rfq_evaluation(rfq=rfq).columns
    return columns[0].quote, columns[1].quote


def set_prices(rfq, *, target: str, walk_away: str) -> Rfq:
    Rfq.objects.filter(pk=rfq.pk).update(
        target_price=Decimal(target), walk_away_price=Decimal(walk_away)
    )
    return Rfq.objects.get(pk=rfq.pk)


def assert_nothing_written(rfq):
    assert not Award.objects.exists()
    assert not Saving.objects.exists()
    assert not PurchaseOrder.objects.exists()
    assert Rfq.objects.get(pk=rfq.pk).state == RfqState.CLOSED


def test_it_awards_the_top_ranked_quote_without_a_justification(
    org, mailoutbox, django_capture_on_commit_callbacks
):
    rfq, _, _ = closed_rfq_with_two_quotes(org)
    top, second = ranked(rfq)

    with django_capture_on_commit_callbacks(execute=True):
        award = award_make(rfq_id=rfq.pk, by=org.procurement, quote_id=top.pk, justification="")

    assert award.state == AwardState.APPROVED
    assert award.rank == 1
    assert award.score == rfq_evaluation(rfq=rfq).columns[0].total_score
    assert Rfq.objects.get(pk=rfq.pk).state == RfqState.AWARDED
    po = PurchaseOrder.objects.get(award=award)
    assert po.vendor == top.invitation.vendor
    assert po.state == "draft"
    assert Saving.objects.get(award=award).final_amount == top.tco_in_rfq_currency
    emails = {tuple(m.to): m for m in mailoutbox}
    won = emails[(top.invitation.contact_email,)]
    lost = emails[(second.invitation.contact_email,)]
    assert won.subject == f"{rfq.reference} {rfq.title}: awarded to {top.invitation.vendor}"
    assert "A purchase order follows" in won.body
    assert lost.subject == f"{rfq.reference} {rfq.title}: not awarded to {second.invitation.vendor}"
    # A losing vendor learns nothing of the winner or its prices.
    assert str(top.invitation.vendor) not in lost.body
    assert str(top.tco_in_rfq_currency) not in lost.body
    assert AuditEntry.objects.filter(object_id=rfq.pk, action="awarded").exists()


def test_it_requires_a_justification_for_a_quote_not_ranked_first(org):
    rfq, _, _ = closed_rfq_with_two_quotes(org)
    _, second = ranked(rfq)

    with pytest.raises(InvalidInput) as error:
        award_make(rfq_id=rfq.pk, by=org.procurement, quote_id=second.pk, justification="  ")

    assert error.value.fields["justification"] == [
        f"{second.invitation.vendor} is ranked 2, not first: say why it wins."
    ]
    assert_nothing_written(rfq)


def test_it_awards_a_quote_not_ranked_first_with_a_justification(org):
    rfq, _, _ = closed_rfq_with_two_quotes(org)
    _, second = ranked(rfq)

    award = award_make(
        rfq_id=rfq.pk, by=org.procurement, quote_id=second.pk, justification="Faster delivery."
    )

    assert award.state == AwardState.APPROVED
    assert award.rank == 2
    assert award.justification == "Faster delivery."


def test_it_requires_a_justification_above_walk_away(org):
    rfq, _, _ = closed_rfq_with_two_quotes(org)
    rfq = set_prices(rfq, target="1800", walk_away="2000")
    top, _ = ranked(rfq)

    with pytest.raises(InvalidInput) as error:
        award_make(rfq_id=rfq.pk, by=org.procurement, quote_id=top.pk, justification="")

    [reason] = error.value.fields["justification"]
    assert "is above the walk-away price 2,000.00 GBP" in reason
    assert "approval by Finance" in reason
    assert_nothing_written(rfq)


def test_it_requires_a_justification_when_fewer_quotes_came_in_than_required(org):
    rfq, _, _ = closed_rfq_with_two_quotes(org)
    Rfq.objects.filter(pk=rfq.pk).update(quotes_required=3)
    top, _ = ranked(rfq)

    with pytest.raises(InvalidInput) as error:
        award_make(rfq_id=rfq.pk, by=org.procurement, quote_id=top.pk, justification="")

    assert "Only 2 of the 3 quotes the policy requires" in error.value.fields["justification"][0]
    assert_nothing_written(rfq)


def pending_award(org, django_capture_on_commit_callbacks):
    rfq, _, _ = closed_rfq_with_two_quotes(org)
    rfq = set_prices(rfq, target="1800", walk_away="2000")
    top, _ = ranked(rfq)
    with django_capture_on_commit_callbacks(execute=True):
        award = award_make(
            rfq_id=rfq.pk,
            by=org.procurement,
            quote_id=top.pk,
            justification="Market prices rose; no cheaper supplier exists.",
        )
    return rfq, award


def test_it_holds_an_award_above_walk_away_for_the_approver_role(
    org, mailoutbox, django_capture_on_commit_callbacks
):
    rfq, award = pending_award(org, django_capture_on_commit_callbacks)

    assert award.state == AwardState.PENDING_APPROVAL
    assert award.approver_role == "finance"
    assert award.above_walk_away
    assert Rfq.objects.get(pk=rfq.pk).state == RfqState.AWARD_PENDING
    assert not PurchaseOrder.objects.exists()
    assert not Saving.objects.exists()
    [email] = mailoutbox  # Fiona, the one finance user; no vendor hears anything yet
    assert email.to == [org.finance.email]
    assert email.subject == f"Approve an award above walk-away: {rfq.reference} {rfq.title}"
    assert reverse("evaluation:award-detail", args=[award.pk]) in email.body
    assert "Market prices rose" in email.body


def test_it_refuses_the_approval_by_the_awarder_or_another_role(
    org, django_capture_on_commit_callbacks
):
    _, award = pending_award(org, django_capture_on_commit_callbacks)

    for person in (org.procurement, org.legal):
        with pytest.raises(NotAllowed) as error:
            award_approve(award_id=award.pk, by=person, comment="")
        assert error.value.message == (
            "Only a holder of the Finance role other than Pat Buyer, who made the award, may "
            "decide it."
        )
    assert Award.objects.get(pk=award.pk).state == AwardState.PENDING_APPROVAL
    assert not PurchaseOrder.objects.exists()


def test_it_awards_once_finance_approves(org, mailoutbox, django_capture_on_commit_callbacks):
    rfq, award = pending_award(org, django_capture_on_commit_callbacks)
    mailoutbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        approved = award_approve(award_id=award.pk, by=org.finance, comment="Agreed.")

    assert approved.state == AwardState.APPROVED
    assert approved.decided_by == org.finance
    assert Rfq.objects.get(pk=rfq.pk).state == RfqState.AWARDED
    assert Saving.objects.filter(award=award).exists()
    assert PurchaseOrder.objects.filter(award=award).exists()
    subjects = sorted(m.subject for m in mailoutbox)
    assert subjects == sorted(
        [
            f"{rfq.reference} {rfq.title}: awarded to {award.quote.invitation.vendor}",
            f"{rfq.reference} {rfq.title}: not awarded to "
            + next(str(i.vendor) for i in rfq.invitations.exclude(pk=award.quote.invitation_id)),
        ]
    )
    with pytest.raises(Conflict):
        award_approve(award_id=award.pk, by=org.finance, comment="Again")


def test_it_puts_the_rfq_back_to_evaluation_when_the_award_is_refused(
    org, django_capture_on_commit_callbacks
):
    rfq, award = pending_award(org, django_capture_on_commit_callbacks)

    with pytest.raises(InvalidInput) as error:
        award_refuse(award_id=award.pk, by=org.finance, comment=" ")
    assert error.value.fields == {"comment": ["Say why you refuse it."]}

    refused = award_refuse(award_id=award.pk, by=org.finance, comment="Re-source it.")

    assert refused.state == AwardState.REFUSED
    assert Rfq.objects.get(pk=rfq.pk).state == RfqState.CLOSED
    assert not PurchaseOrder.objects.exists()
    # Procurement may award again (another live award is allowed after a refusal).
    rfq = set_prices(rfq, target="2300", walk_away="2600")
    again = award_make(rfq_id=rfq.pk, by=org.procurement, quote_id=award.quote_id)
    assert again.state == AwardState.APPROVED


def test_it_refuses_to_award_an_rfq_whose_request_is_not_approved(org):
    request = submitted(org)
    rfq = make_rfq(org, request=request, state=RfqState.CLOSED)
    quote = make_quote(invite(org, rfq, vendor(org, "Northwind Hardware Ltd")), ["1150.00"])

    with pytest.raises(Conflict) as error:
        award_make(rfq_id=rfq.pk, by=org.procurement, quote_id=quote.pk)

    assert "not approved: an RFQ opened before approval cannot be awarded" in error.value.message
    assert_nothing_written(rfq)


def test_it_refuses_to_award_a_blocked_vendor(org):
    rfq, _, _ = closed_rfq_with_two_quotes(org)
    top, _ = ranked(rfq)
    Vendor.objects.filter(pk=top.invitation.vendor_id).update(state="blocked")

    with pytest.raises(Conflict) as error:
        award_make(rfq_id=rfq.pk, by=org.procurement, quote_id=top.pk)

    assert error.value.message == (
        f"{top.invitation.vendor} is blocked: nothing may be ordered from it."
    )
    assert_nothing_written(rfq)


def test_it_refuses_an_award_before_the_rfq_closes_or_of_a_superseded_quote(org):
    rfq, northwind, _ = closed_rfq_with_two_quotes(org)
    make_quote(northwind.invitation, ["1100.00"])

    with pytest.raises(InvalidInput) as error:
        award_make(rfq_id=rfq.pk, by=org.procurement, quote_id=northwind.pk)
    assert "quote" in error.value.fields
    Rfq.objects.filter(pk=rfq.pk).update(state=RfqState.OPEN)
    with pytest.raises(Conflict):
        award_make(rfq_id=rfq.pk, by=org.procurement, quote_id=northwind.pk)
    with pytest.raises(NotAllowed):
        award_make(rfq_id=rfq.pk, by=org.finance, quote_id=northwind.pk)


def test_it_withdraws_open_counter_offers_at_the_award(org):
    rfq, _, contoso = closed_rfq_with_two_quotes(org)
    counter_offer = counter_offer_send(
        invitation_id=contoso.invitation_id,
        by=org.procurement,
        proposed_tco=Decimal("2300"),
        message="Match Northwind?",
        respond_by=timezone.now() + dt.timedelta(days=1),
    )
    top, _ = ranked(rfq)

    award_make(rfq_id=rfq.pk, by=org.procurement, quote_id=top.pk)

    assert CounterOffer.objects.get(pk=counter_offer.pk).state == CounterOfferState.WITHDRAWN
    entry = AuditEntry.objects.get(object_id=rfq.pk, action="counter_offer_withdrawn")
    assert "withdrawn at the award" in entry.comment


# --- Pages and API ----------------------------------------------------------------------


def test_it_awards_from_the_comparison_page(org, django_capture_on_commit_callbacks):
    rfq, _, _ = closed_rfq_with_two_quotes(org)
    top, second = ranked(rfq)
    client = org.client_for(org.procurement)
    url = reverse("evaluation:award", args=[rfq.pk])

    refused = client.post(url, {"quote": second.pk, "justification": ""})
    assert refused.status_code == 400
    assert "is ranked 2, not first: say why it wins." in refused.content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        done = client.post(url, {"quote": top.pk, "justification": ""}, follow=True)
    text = done.content.decode()
    assert f"Awarded to {top.invitation.vendor}." in text
    assert "Awarded</strong>" in text


def test_it_lets_finance_approve_from_the_award_page(org, django_capture_on_commit_callbacks):
    rfq, award = pending_award(org, django_capture_on_commit_callbacks)
    page = reverse("evaluation:award-detail", args=[award.pk])

    awarder_view = org.client_for(org.procurement).get(page).content.decode()
    assert "Waiting for a Finance holder other than you" in awarder_view
    assert "Approve the award" not in awarder_view
    finance = org.client_for(org.finance)
    assert "Approve the award" in finance.get(page).content.decode()
    assert org.client_for(org.requester).get(page).status_code == 404

    no_reason = finance.post(reverse("evaluation:award-refuse", args=[award.pk]), {"comment": ""})
    assert no_reason.status_code == 400
    assert "Say why you refuse it." in no_reason.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        approved = finance.post(
            reverse("evaluation:award-approve", args=[award.pk]), {"comment": "OK"}, follow=True
        )
    assert "Award approved" in approved.content.decode()
    assert Rfq.objects.get(pk=rfq.pk).state == RfqState.AWARDED


def test_it_awards_and_approves_over_the_api(org, django_capture_on_commit_callbacks):
    rfq, _, _ = closed_rfq_with_two_quotes(org)
    rfq = set_prices(rfq, target="1800", walk_away="2000")
    top, _ = ranked(rfq)
    procurement = org.client_for(org.procurement)
    url = reverse("evaluation_api:award", args=[rfq.pk])

    missing = procurement.post(url, {"quote": top.pk}, content_type="application/json")
    assert missing.status_code == 400
    assert missing.json()["code"] == "invalid"
    assert list(missing.json()["errors"]) == ["justification"]

    with django_capture_on_commit_callbacks(execute=True):
        created = procurement.post(
            url,
            {"quote": top.pk, "justification": "Only supplier in stock."},
            content_type="application/json",
        )
    assert created.status_code == 201
    body = created.json()
    assert body["state"] == "pending_approval"
    assert body["approver_role"] == "finance"
    assert body["purchase_order"] is None

    approve_url = reverse("evaluation_api:award-approve", args=[body["id"]])
    own = procurement.post(approve_url, {}, content_type="application/json")
    assert own.status_code == 403
    assert "Only a holder of the Finance role" in own.json()["detail"]

    with django_capture_on_commit_callbacks(execute=True):
        approved = org.client_for(org.finance).post(
            approve_url, {"comment": "Fine"}, content_type="application/json"
        )
    assert approved.status_code == 200
    assert approved.json()["state"] == "approved"
    assert approved.json()["purchase_order"] == PurchaseOrder.objects.get().pk
    assert approved.json()["saving"]["final_amount"] == str(top.tco_in_rfq_currency)
