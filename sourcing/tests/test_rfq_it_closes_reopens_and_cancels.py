"""An RFQ after it opens: closed by the deadline task (once), closed early, reopened with a new
deadline, cancelled; what each tells the vendors and the buyer, and what it does to quoting."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from procurement.errors import Conflict, InvalidInput
from procurement.models import AuditEntry
from sourcing.models import CounterOffer, CounterOfferState, Rfq, RfqState
from sourcing.quotes import (
    QuoteLinkDead,
    invitation_from_token,
    invitation_link_token,
    quote_submit,
)
from sourcing.rfq_tasks import close_due_rfqs
from sourcing.rfqs import invitation_resend, rfq_cancel, rfq_close, rfq_reopen, rfqs_close_due
from sourcing.tests.helpers import (
    closed_rfq_with_two_quotes,
    invite,
    make_award,
    make_quote,
    make_rfq,
    vendor,
)
from sourcing.tests.test_rfq_helpers import quote_input

pytestmark = pytest.mark.django_db


def past_deadline_rfq(org):
    rfq = make_rfq(org, deadline=timezone.now() - dt.timedelta(minutes=1))
    northwind = invite(org, rfq, vendor(org, "Northwind Hardware Ltd"))
    make_quote(northwind, ["1150.00"])
    invite(org, rfq, vendor(org, "Contoso Devices Ltd"))
    return rfq, northwind


def test_it_closes_rfqs_past_their_deadline_and_tells_the_buyer_once(
    org, django_capture_on_commit_callbacks, mailoutbox
):
    rfq, _ = past_deadline_rfq(org)
    later = make_rfq(org, request=rfq.request)  # deadline in a week

    with django_capture_on_commit_callbacks(execute=True):
        assert rfqs_close_due() == 1
    with django_capture_on_commit_callbacks(execute=True):
        assert rfqs_close_due() == 0

    rfq.refresh_from_db()
    later.refresh_from_db()
    assert (rfq.state, later.state) == (RfqState.CLOSED, RfqState.OPEN)
    assert rfq.closed_at is not None
    assert rfq.close_notified_at is not None
    [message] = mailoutbox
    assert message.to == [org.procurement.email]
    assert message.subject == f"Quotes are ready: {rfq.reference} {rfq.title} (1 received)"
    assert "1 of the 2 invited vendors sent a quote" in message.body
    entry = AuditEntry.objects.get(action="closed")
    assert (entry.actor, entry.comment) == (None, "1 quote received.")


def test_it_refuses_a_quote_once_the_deadline_task_closed_the_rfq(org):
    rfq, northwind = past_deadline_rfq(org)

    assert close_due_rfqs.delay().get() == 1

    with pytest.raises(Conflict, match="quotes are no longer accepted"):
        quote_submit(invitation_id=northwind.pk, data=quote_input(rfq, ["1000.00"]))
    assert northwind.quotes.count() == 1


def test_it_closes_early_and_tells_the_buyer_when_someone_else_closed_it(
    org, django_capture_on_commit_callbacks, mailoutbox
):
    rfq = make_rfq(org)
    northwind = invite(org, rfq, vendor(org, "Northwind Hardware Ltd"))

    with django_capture_on_commit_callbacks(execute=True):
        rfq_close(rfq_id=rfq.pk, by=org.admin)

    rfq.refresh_from_db()
    assert rfq.state == RfqState.CLOSED
    assert [m.to for m in mailoutbox] == [[org.procurement.email]]
    assert AuditEntry.objects.get(action="closed_early").actor == org.admin
    with pytest.raises(Conflict, match="quotes are no longer accepted"):
        quote_submit(invitation_id=northwind.pk, data=quote_input(rfq, ["1000.00"]))


def test_it_reopens_with_a_new_deadline_and_lets_the_vendors_quote_again(
    org, django_capture_on_commit_callbacks, mailoutbox
):
    rfq, northwind = past_deadline_rfq(org)
    rfqs_close_due()
    deadline = timezone.now() + dt.timedelta(days=3)

    with django_capture_on_commit_callbacks(execute=True):
        rfq_reopen(rfq_id=rfq.pk, by=org.procurement, deadline=deadline, reason="One quote only.")

    rfq.refresh_from_db()
    assert (rfq.state, rfq.deadline, rfq.closed_at) == (RfqState.OPEN, deadline, None)
    assert sorted(m.to[0] for m in mailoutbox) == [
        "sales@contoso.example",
        "sales@northwind.example",
    ]
    assert all(m.subject.startswith("Reopened for quotes:") for m in mailoutbox)
    assert "One quote only." in AuditEntry.objects.get(action="reopened").comment
    quote = quote_submit(invitation_id=northwind.pk, data=quote_input(rfq, ["1100.00"]))
    assert quote.revision == 2


def test_it_refuses_a_reopen_without_a_reason_or_with_a_past_deadline(org):
    rfq, _, _ = closed_rfq_with_two_quotes(org)

    with pytest.raises(InvalidInput) as refused:
        rfq_reopen(
            rfq_id=rfq.pk,
            by=org.procurement,
            deadline=timezone.now() - dt.timedelta(days=1),
            reason=" ",
        )

    assert set(refused.value.fields) == {"deadline", "reason"}
    rfq.refresh_from_db()
    assert rfq.state == RfqState.CLOSED


def test_it_cancels_tells_the_vendors_why_and_kills_their_links(
    org, django_capture_on_commit_callbacks, mailoutbox
):
    rfq, northwind, _ = closed_rfq_with_two_quotes(org)
    token = invitation_link_token(northwind.invitation)
    offer = CounterOffer.objects.create(
        invitation=northwind.invitation,
        round=1,
        quote=northwind,
        proposed_tco=Decimal("2000"),
        message="Lower?",
        respond_by=timezone.now() + dt.timedelta(days=1),
        sent_by=org.procurement,
    )

    with django_capture_on_commit_callbacks(execute=True):
        rfq_cancel(rfq_id=rfq.pk, by=org.procurement, reason="The project was stopped.")

    rfq.refresh_from_db()
    offer.refresh_from_db()
    assert rfq.state == RfqState.CANCELLED
    assert offer.state == CounterOfferState.WITHDRAWN
    assert sorted(m.to[0] for m in mailoutbox) == [
        "sales@contoso.example",
        "sales@northwind.example",
    ]
    assert all("The project was stopped." in m.body for m in mailoutbox)
    with pytest.raises(QuoteLinkDead) as dead:
        invitation_from_token(token)
    assert (dead.value.reason, dead.value.status) == ("cancelled", 410)


def test_it_sends_nothing_when_a_draft_is_cancelled(
    org, django_capture_on_commit_callbacks, mailoutbox
):
    rfq = make_rfq(org, state=RfqState.DRAFT)
    invite(org, rfq, vendor(org, "Northwind Hardware Ltd"))

    with django_capture_on_commit_callbacks(execute=True):
        rfq_cancel(rfq_id=rfq.pk, by=org.procurement, reason="Duplicate.")

    assert mailoutbox == []


def test_it_cannot_cancel_an_awarded_rfq_or_close_a_closed_one(org):
    rfq, northwind, _ = closed_rfq_with_two_quotes(org)

    with pytest.raises(Conflict, match="only an open RFQ can be closed"):
        rfq_close(rfq_id=rfq.pk, by=org.procurement)
    make_award(org, rfq, northwind)
    with pytest.raises(Conflict, match="is awarded; it can no longer be cancelled"):
        rfq_cancel(rfq_id=rfq.pk, by=org.procurement, reason="Changed my mind.")
    assert Rfq.objects.get(pk=rfq.pk).state == RfqState.AWARDED


def test_it_sends_a_new_link_after_the_close_only_to_answer_a_counter_offer(
    org, django_capture_on_commit_callbacks, mailoutbox
):
    _, northwind, contoso = closed_rfq_with_two_quotes(org)
    CounterOffer.objects.create(
        invitation=northwind.invitation,
        round=1,
        quote=northwind,
        proposed_tco=Decimal("2000"),
        message="Lower?",
        respond_by=timezone.now() + dt.timedelta(days=1),
        sent_by=org.procurement,
    )

    with pytest.raises(Conflict, match="to answer an open counter-offer"):
        invitation_resend(invitation_id=contoso.invitation_id, by=org.procurement)
    with django_capture_on_commit_callbacks(execute=True):
        invitation_resend(invitation_id=northwind.invitation_id, by=org.procurement)

    [message] = mailoutbox
    assert message.to == ["sales@northwind.example"]
    assert message.subject.startswith("New link:")
    assert "answer it on the same page" in message.body
