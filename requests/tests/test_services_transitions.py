"""Every transition of a purchase request, and every refusal, through the one service."""

from __future__ import annotations

import pytest

from procurement.errors import Conflict, InvalidInput, NotAllowed, NotFound
from procurement.models import AuditEntry
from requests.models import LineItem, PurchaseRequest
from requests.services import purchase_request_transition
from requests.tests.helpers import draft_for, request_in_state

pytestmark = pytest.mark.django_db


def transition(request, user, action, comment=""):
    return purchase_request_transition(
        request_id=request.pk, by=user, action=action, comment=comment
    )


def audit_for(request):
    return list(
        AuditEntry.objects.filter(
            object_id=request.pk, content_type__model="purchaserequest"
        ).values_list("action", "from_state", "to_state", "actor__username", "comment")
    )


# --- Allowed moves, each with its audit entry ---------------------------------

ALLOWED = [
    ("draft", "submit", "requester", "submitted"),
    ("submitted", "approve", "manager", "approved"),
    ("submitted", "approve", "head", "approved"),
    ("submitted", "reject", "manager", "rejected"),
    ("submitted", "return", "manager", "returned"),
    ("submitted", "return", "procurement", "returned"),
    ("returned", "revise", "requester", "draft"),
    ("approved", "order", "procurement", "ordered"),
    ("ordered", "receive", "requester", "received"),
    ("ordered", "receive", "procurement", "received"),
    ("received", "close", "procurement", "closed"),
    ("draft", "cancel", "requester", "cancelled"),
    ("submitted", "cancel", "requester", "cancelled"),
    ("returned", "cancel", "requester", "cancelled"),
    ("approved", "cancel", "requester", "cancelled"),
    ("approved", "cancel", "procurement", "cancelled"),
]


@pytest.mark.parametrize(("start", "action", "who", "end"), ALLOWED)
def test_it_moves_the_request_and_records_who_did_it(org, start, action, who, end):
    request = request_in_state(org, start)
    before = len(audit_for(request))

    result = transition(request, getattr(org, who), action, comment="Looks right")

    request.refresh_from_db()
    assert result.state == request.state == end
    entries = audit_for(request)
    assert len(entries) == before + 1
    assert entries[-1] == (action, start, end, getattr(org, who).username, "Looks right")


def test_it_stamps_the_submission_time(org):
    request = request_in_state(org, "submitted")
    assert request.submitted_at is not None


# --- Refused moves: nothing changes, nothing is audited ----------------------

REFUSED = [
    # (state, action, who, error)
    ("submitted", "submit", "requester", Conflict),  # double submit
    ("draft", "submit", "manager", NotAllowed),  # not the requester
    ("draft", "submit", "procurement", NotAllowed),
    ("draft", "submit", "outsider", NotFound),  # may not even see it
    ("draft", "approve", "manager", Conflict),  # nothing to decide yet
    ("submitted", "approve", "requester", NotAllowed),  # never one's own request
    ("submitted", "approve", "finance", NotAllowed),
    ("submitted", "approve", "outsider", NotFound),
    ("submitted", "reject", "requester", NotAllowed),
    ("submitted", "return", "requester", NotAllowed),
    ("approved", "approve", "manager", Conflict),
    ("rejected", "submit", "requester", Conflict),
    ("ordered", "cancel", "requester", Conflict),  # "cancel while not yet ordered"
    ("received", "cancel", "procurement", Conflict),
    ("closed", "cancel", "requester", Conflict),
    ("cancelled", "submit", "requester", Conflict),
    ("submitted", "cancel", "manager", NotAllowed),
    ("approved", "order", "requester", NotAllowed),
    ("approved", "order", "manager", NotAllowed),
    ("submitted", "order", "procurement", Conflict),
    ("ordered", "receive", "manager", NotAllowed),
    ("received", "close", "requester", NotAllowed),
    ("draft", "revise", "requester", Conflict),
    ("returned", "revise", "manager", NotAllowed),
    ("returned", "submit", "requester", Conflict),  # back to draft first
]


@pytest.mark.parametrize(("start", "action", "who", "error"), REFUSED)
def test_it_refuses_impossible_or_unauthorised_moves(org, start, action, who, error):
    request = request_in_state(org, start)
    before = audit_for(request)

    with pytest.raises(error) as raised:
        transition(request, getattr(org, who), action, comment="trying")

    assert raised.value.message  # a sentence for the person, not a stack trace
    request.refresh_from_db()
    assert request.state == start
    assert audit_for(request) == before


def test_it_explains_a_double_submit(org):
    request = request_in_state(org, "submitted")

    with pytest.raises(Conflict) as error:
        transition(request, org.requester, "submit")

    assert error.value.message == f"{request.reference} is submitted; it cannot be submitted now."


def test_it_refuses_to_submit_a_request_without_line_items(org):
    request = draft_for(org, line_items=0)
    assert LineItem.objects.filter(request=request).count() == 0

    with pytest.raises(InvalidInput) as error:
        transition(request, org.requester, "submit")

    assert error.value.message == "Add at least one line item before submitting."
    request.refresh_from_db()
    assert request.state == "draft"


@pytest.mark.parametrize("action", ["reject", "return"])
def test_it_requires_a_reason_to_reject_or_return(org, action):
    request = request_in_state(org, "submitted")

    with pytest.raises(InvalidInput) as error:
        transition(request, org.manager, action, comment="   ")

    assert "comment is required" in error.value.message
    request.refresh_from_db()
    assert request.state == "submitted"


def test_it_refuses_an_unknown_action(org):
    request = request_in_state(org, "draft")
    with pytest.raises(InvalidInput, match="Unknown action"):
        transition(request, org.requester, "teleport")


def test_it_refuses_a_submit_once_the_needed_by_date_has_passed(org):
    import datetime as dt

    from django.utils import timezone

    request = draft_for(org)
    # Drafts can sit for a while; the date is checked again at submission.
    type(request).objects.filter(pk=request.pk).update(
        needed_by=timezone.localdate() - dt.timedelta(days=1)
    )

    with pytest.raises(InvalidInput) as error:
        transition(request, org.requester, "submit")

    assert error.value.fields["needed_by"] == ["The needed-by date cannot be in the past."]


def test_it_refuses_to_set_the_state_directly(org):
    request = draft_for(org)
    with pytest.raises(AttributeError):
        request.state = "approved"


def test_it_emails_the_requester_when_someone_else_decides(
    org, django_capture_on_commit_callbacks, mailoutbox
):
    request = request_in_state(org, "submitted")

    with django_capture_on_commit_callbacks(execute=True):
        transition(request, org.manager, "return", comment="Please add a second quote.")

    assert len(mailoutbox) == 1
    message = mailoutbox[0]
    assert message.to == [org.requester.email]
    assert message.subject == f"{request.reference} returned for changes: {request.title}"
    assert "Please add a second quote." in message.body
    assert f"/requests/{request.pk}/" in message.body


def test_it_writes_the_title_in_the_transition_subject_as_typed(
    org, django_capture_on_commit_callbacks, mailoutbox
):
    request = request_in_state(org, "submitted")
    PurchaseRequest.objects.filter(pk=request.pk).update(title="Tom's & Jerry's <dock>")

    with django_capture_on_commit_callbacks(execute=True):
        transition(request, org.manager, "approve")

    assert mailoutbox[0].subject == f"{request.reference} approved: Tom's & Jerry's <dock>"


def test_it_does_not_email_requesters_about_their_own_moves(
    org, django_capture_on_commit_callbacks, mailoutbox
):
    request = request_in_state(org, "draft")

    with django_capture_on_commit_callbacks(execute=True):
        transition(request, org.requester, "cancel")

    assert mailoutbox == []
