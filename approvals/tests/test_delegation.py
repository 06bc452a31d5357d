"""Out-of-office delegation: new and pending steps go to the delegate, who decides on behalf
of the approver; never to oneself, never in a cycle, never to the requester."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from approvals.models import Decision, Delegation, StepApprover
from approvals.selectors import approval_route
from approvals.services import (
    approval_step_decide,
    delegation_create,
    delegation_end,
    delegations_start_due,
)
from approvals.tasks import start_due_delegations
from approvals.tests.helpers import LINE_MANAGER, policy, submitted
from procurement.errors import InvalidInput, NotAllowed
from procurement.models import AuditEntry, Role
from requests.models import PurchaseRequest
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def today() -> dt.date:
    return timezone.localdate()


def days(n: int) -> dt.date:
    return today() + dt.timedelta(days=n)


@pytest.fixture
def xavier(org):
    return UserFactory.create(
        username="xavier",
        first_name="Xavier",
        last_name="Deputy",
        department=org.department,
        roles=[Role.MANAGER],
    )


def pending(request) -> list[tuple[str, str | None]]:
    return [
        (a.approver.username, a.on_behalf_of.username if a.on_behalf_of else None)
        for a in StepApprover.objects.filter(
            step__request=request, decision=Decision.PENDING
        ).select_related("approver", "on_behalf_of")
    ]


def audit_of(request, action: str) -> list[str]:
    return list(
        AuditEntry.objects.filter(
            content_type__model="purchaserequest", object_id=request.pk, action=action
        ).values_list("comment", flat=True)
    )


def test_it_routes_a_new_step_to_the_delegate_who_decides_on_behalf_of_the_approver(org, xavier):
    policy(LINE_MANAGER)
    delegation_create(delegator=org.manager, delegate=xavier, starts_on=today(), ends_on=days(7))

    request = submitted(org)

    assert pending(request) == [("xavier", "mark")]
    step = approval_route(request=request)[0]
    assert [a.acting_as for a in step.approvers.all() if a.decision == "pending"] == [
        "Xavier Deputy on behalf of Mark Manager"
    ]
    approval_step_decide(step_id=step.pk, by=xavier, action="approve", comment="Fine")
    assert PurchaseRequest.objects.get(pk=request.pk).state == "approved"
    assert audit_of(request, "approved_step") == ["Line manager (on behalf of Mark Manager): Fine"]


def test_it_moves_a_pending_step_to_the_delegate_when_the_delegation_starts_today(
    org, xavier, django_capture_on_commit_callbacks, mailoutbox
):
    policy(LINE_MANAGER)
    request = submitted(org)
    assert pending(request) == [("mark", None)]

    with django_capture_on_commit_callbacks(execute=True):
        delegation_create(
            delegator=org.manager, delegate=xavier, starts_on=today(), ends_on=days(3)
        )

    assert pending(request) == [("xavier", "mark")]
    assert audit_of(request, "delegated_step") == [
        "Line manager: Mark Manager is away; Xavier Deputy on behalf of Mark Manager decides it."
    ]
    assert [m.to for m in mailoutbox] == [["xavier@example.com"]]
    assert mailoutbox[0].subject.startswith("Approval needed:")


def test_it_moves_pending_steps_of_a_future_delegation_on_its_first_day_and_only_once(org, xavier):
    policy(LINE_MANAGER)
    delegation_create(delegator=org.manager, delegate=xavier, starts_on=days(1), ends_on=days(5))
    request = submitted(org)
    assert pending(request) == [("mark", None)]

    assert delegations_start_due(on=today()) == 0
    assert pending(request) == [("mark", None)]
    assert delegations_start_due(on=days(1)) == 1
    assert delegations_start_due(on=days(1)) == 0

    assert pending(request) == [("xavier", "mark")]
    assert len(audit_of(request, "delegated_step")) == 1


def test_it_starts_todays_delegations_from_the_periodic_task(org, xavier):
    policy(LINE_MANAGER)
    request = submitted(org)
    # Made as if it had been entered last week, dated to start today.
    Delegation.objects.create(
        delegator=org.manager, delegate=xavier, starts_on=today(), ends_on=days(2)
    )

    assert start_due_delegations.delay().get() == 1
    assert pending(request) == [("xavier", "mark")]


def test_it_tells_the_approver_who_delegated_that_the_delegate_decides_now(org, xavier):
    policy(LINE_MANAGER)
    request = submitted(org)
    delegation_create(delegator=org.manager, delegate=xavier, starts_on=today(), ends_on=days(1))
    step = approval_route(request=request)[0]

    with pytest.raises(NotAllowed, match="handed to Xavier Deputy"):
        approval_step_decide(step_id=step.pk, by=org.manager, action="approve")


def test_it_follows_a_chain_of_delegates_and_keeps_the_original_approver(org, xavier):
    yan = UserFactory.create(username="yan", first_name="Yan", last_name="Next")
    policy(LINE_MANAGER)
    delegation_create(delegator=org.manager, delegate=xavier, starts_on=today(), ends_on=days(3))
    delegation_create(delegator=xavier, delegate=yan, starts_on=today(), ends_on=days(1))

    request = submitted(org)

    assert pending(request) == [("yan", "mark")]


def test_it_refuses_delegating_to_oneself(org):
    with pytest.raises(InvalidInput, match="yourself") as refused:
        delegation_create(
            delegator=org.manager, delegate=org.manager, starts_on=today(), ends_on=days(1)
        )
    assert "delegate" in refused.value.fields
    with pytest.raises(IntegrityError), transaction.atomic():
        Delegation.objects.create(
            delegator=org.manager, delegate=org.manager, starts_on=today(), ends_on=days(1)
        )


def test_it_refuses_a_delegation_that_ends_before_it_starts_or_in_the_past(org, xavier):
    with pytest.raises(InvalidInput, match="on or after the first day"):
        delegation_create(
            delegator=org.manager, delegate=xavier, starts_on=days(3), ends_on=days(1)
        )
    with pytest.raises(InvalidInput, match="in the past"):
        delegation_create(
            delegator=org.manager, delegate=xavier, starts_on=days(-5), ends_on=days(-1)
        )
    assert not Delegation.objects.exists()


def test_it_refuses_a_cycle_of_two_while_both_overlap(org, xavier):
    delegation_create(delegator=org.manager, delegate=xavier, starts_on=days(1), ends_on=days(5))

    with pytest.raises(InvalidInput, match="cycle") as refused:
        delegation_create(
            delegator=xavier, delegate=org.manager, starts_on=days(5), ends_on=days(9)
        )
    assert "Xavier Deputy → Mark Manager → Xavier Deputy" in refused.value.message
    # Back from leave: the other way round is fine once the first one is over.
    delegation_create(delegator=xavier, delegate=org.manager, starts_on=days(6), ends_on=days(9))
    assert Delegation.objects.count() == 2


def test_it_refuses_a_longer_cycle_only_when_all_its_links_share_a_day(org, xavier):
    yan = UserFactory.create(username="yan", first_name="Yan", last_name="Next")
    delegation_create(delegator=org.manager, delegate=xavier, starts_on=days(1), ends_on=days(10))
    delegation_create(delegator=xavier, delegate=yan, starts_on=days(1), ends_on=days(3))

    with pytest.raises(InvalidInput, match="Yan Next → Mark Manager → Xavier Deputy → Yan Next"):
        delegation_create(delegator=yan, delegate=org.manager, starts_on=days(2), ends_on=days(2))
    # Xavier's link is over by day 4: no day on which all three run.
    delegation_create(delegator=yan, delegate=org.manager, starts_on=days(4), ends_on=days(6))


def test_it_refuses_two_delegates_at_once(org, xavier):
    delegation_create(delegator=org.manager, delegate=xavier, starts_on=days(1), ends_on=days(5))

    with pytest.raises(InvalidInput, match="already delegates to Xavier Deputy"):
        delegation_create(
            delegator=org.manager, delegate=org.head, starts_on=days(3), ends_on=days(8)
        )


def test_it_never_hands_a_step_to_the_requester_through_a_delegate(org):
    policy({"name": "Department head", "approver_kind": "department_head"})
    # Hana, the head, delegates to Alice, who then asks for something herself.
    delegation_create(
        delegator=org.head, delegate=org.requester, starts_on=today(), ends_on=days(2)
    )

    request = submitted(org)

    # It goes up to Alice's own manager instead, still on behalf of Hana.
    assert pending(request) == [("mark", "hana")]
    step = approval_route(request=request)[0]
    with pytest.raises(NotAllowed, match="own request"):
        approval_step_decide(step_id=step.pk, by=org.requester, action="approve")


def test_it_never_lets_the_requester_pass_a_step_on_to_their_own_delegate(org, xavier):
    policy({"name": "Department head", "approver_kind": "department_head"})
    # Hana delegates to Alice, and Alice (away too) to Xavier: Alice would pick who approves.
    delegation_create(
        delegator=org.head, delegate=org.requester, starts_on=today(), ends_on=days(2)
    )
    delegation_create(delegator=org.requester, delegate=xavier, starts_on=today(), ends_on=days(2))

    request = submitted(org)

    # As when the chain ends at Alice: up to Alice's own manager, on behalf of Hana.
    assert pending(request) == [("mark", "hana")]


def test_it_sends_the_step_of_an_approver_who_is_the_requester_up_not_to_their_delegate(
    org, xavier
):
    policy({"name": "Mark signs off", "approver_kind": "user", "approver_user": org.manager})
    delegation_create(delegator=org.manager, delegate=xavier, starts_on=today(), ends_on=days(2))

    request = submitted(org, requester=org.manager)

    assert pending(request) == [("hana", None)]


def test_it_ends_a_delegation_and_new_steps_go_to_the_approver_again(org, xavier):
    policy(LINE_MANAGER)
    delegation = delegation_create(
        delegator=org.manager, delegate=xavier, starts_on=today(), ends_on=days(4)
    )
    with pytest.raises(NotAllowed):
        delegation_end(delegation_id=delegation.pk, by=xavier)

    delegation_end(delegation_id=delegation.pk, by=org.manager)

    assert not Delegation.objects.filter(ends_on__gte=today()).exists()
    assert pending(submitted(org)) == [("mark", None)]


def test_it_adds_a_delegation_in_the_admin_through_the_service(org, xavier):
    policy(LINE_MANAGER)
    request = submitted(org)
    client = org.client_for(org.admin)
    form = {
        "delegator": org.manager.pk,
        "delegate": xavier.pk,
        "starts_on": today().isoformat(),
        "ends_on": days(2).isoformat(),
        "reason": "Annual leave",
    }

    response = client.post("/admin/approvals/delegation/add/", form)

    assert response.status_code == 302
    delegation = Delegation.objects.get()
    assert delegation.created_by == org.admin
    assert pending(request) == [("xavier", "mark")]

    cycle = {**form, "delegator": xavier.pk, "delegate": org.manager.pk}
    response = client.post("/admin/approvals/delegation/add/", cycle)
    assert response.status_code == 200
    assert "cycle" in response.content.decode()
    assert Delegation.objects.count() == 1
