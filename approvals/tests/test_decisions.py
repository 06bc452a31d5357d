"""Deciding steps: stages in order, groups, rejections, changes requested, segregation of duties."""

from __future__ import annotations

import pytest

from approvals.models import ApprovalStep
from approvals.selectors import approval_inbox
from approvals.services import approval_step_decide
from approvals.tests.helpers import FINANCE_ABOVE_5K, LINE_MANAGER, policy, steps_of, submitted
from procurement.errors import Conflict, InvalidInput, NotAllowed
from procurement.models import AuditEntry, Role
from requests.models import PurchaseRequest
from requests.services import purchase_request_transition
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def step_named(request, name):
    return ApprovalStep.objects.get(request=request, name=name)


def state_of(request):
    return PurchaseRequest.objects.get(pk=request.pk).state


def test_it_opens_the_next_stage_and_approves_the_request_after_the_last(org):
    policy(LINE_MANAGER, FINANCE_ABOVE_5K)
    request = submitted(org, total_lines=3)

    approval_step_decide(
        step_id=step_named(request, "Line manager").pk, by=org.manager, action="approve"
    )
    assert steps_of(request)[1][2] == "pending"
    assert state_of(request) == "pending_approval"

    approval_step_decide(
        step_id=step_named(request, "Finance").pk,
        by=org.finance,
        action="approve",
        comment="Budgeted",
    )
    assert state_of(request) == "approved"
    actions = list(
        AuditEntry.objects.filter(object_id=request.pk).values_list("action", "actor__username")
    )
    assert actions[-3:] == [
        ("approved_step", "mark"),
        ("approved_step", "fiona"),
        ("approve", "fiona"),
    ]


def test_it_refuses_a_step_of_a_later_stage_until_its_turn(org):
    policy(LINE_MANAGER, FINANCE_ABOVE_5K)
    request = submitted(org, total_lines=3)

    with pytest.raises(Conflict, match="waiting"):
        approval_step_decide(
            step_id=step_named(request, "Finance").pk, by=org.finance, action="approve"
        )


def test_it_waits_for_every_parallel_step_of_a_stage(org):
    policy(LINE_MANAGER, {"name": "Legal", "approver_kind": "role", "approver_role": Role.LEGAL})
    request = submitted(org)

    approval_step_decide(
        step_id=step_named(request, "Line manager").pk, by=org.manager, action="approve"
    )
    assert state_of(request) == "pending_approval"
    approval_step_decide(step_id=step_named(request, "Legal").pk, by=org.legal, action="approve")
    assert state_of(request) == "approved"


def test_it_needs_everyone_for_all_and_n_for_n_of_m(org):
    frank = UserFactory.create(username="frank", roles=[Role.FINANCE])
    UserFactory.create(username="fran", roles=[Role.FINANCE])
    policy(
        {
            "name": "Two of finance",
            "approver_kind": "role",
            "approver_role": Role.FINANCE,
            "mode": "n_of_m",
            "required_approvals": 2,
        }
    )
    request = submitted(org)
    step = step_named(request, "Two of finance")

    approval_step_decide(step_id=step.pk, by=org.finance, action="approve")
    assert steps_of(request)[0][2] == "pending"
    approval_step_decide(step_id=step.pk, by=frank, action="approve")
    assert steps_of(request)[0][2] == "approved"
    assert state_of(request) == "approved"


def test_it_rejects_the_request_on_one_rejection_with_a_reason(
    org, django_capture_on_commit_callbacks, mailoutbox
):
    policy(LINE_MANAGER, {"name": "Legal", "approver_kind": "role", "approver_role": Role.LEGAL})
    request = submitted(org)

    with pytest.raises(InvalidInput, match="Say why"):
        approval_step_decide(step_id=step_named(request, "Legal").pk, by=org.legal, action="reject")
    with django_capture_on_commit_callbacks(execute=True):
        approval_step_decide(
            step_id=step_named(request, "Legal").pk,
            by=org.legal,
            action="reject",
            comment="Unlicensed use of personal data",
        )

    assert state_of(request) == "rejected"
    assert steps_of(request) == [
        ("Line manager", 1, "skipped", ["mark"]),
        ("Legal", 1, "rejected", ["lee"]),
    ]
    assert [m.to for m in mailoutbox] == [[org.requester.email]]
    assert "Unlicensed use of personal data" in mailoutbox[0].body


def test_it_sends_the_request_back_when_changes_are_requested_and_routes_it_afresh(org):
    policy(LINE_MANAGER)
    request = submitted(org)

    approval_step_decide(
        step_id=step_named(request, "Line manager").pk,
        by=org.manager,
        action="return",
        comment="Add a second quote",
    )
    assert state_of(request) == "returned"

    purchase_request_transition(request_id=request.pk, by=org.requester, action="revise")
    purchase_request_transition(request_id=request.pk, by=org.requester, action="submit")
    rounds = list(ApprovalStep.objects.filter(request=request).values_list("round", "state"))
    assert rounds == [(1, "changes_requested"), (2, "pending")]


def test_it_says_who_already_decided_a_step(org):
    UserFactory.create(
        username="frank", first_name="Frank", last_name="Figures", roles=[Role.FINANCE]
    )
    policy(
        {"name": "Finance", "approver_kind": "role", "approver_role": Role.FINANCE, "mode": "any"}
    )
    request = submitted(org)
    step = step_named(request, "Finance")
    approval_step_decide(step_id=step.pk, by=org.finance, action="approve")

    frank = org.finance.__class__.objects.get(username="frank")
    with pytest.raises(Conflict, match="already decided by Fiona Finance"):
        approval_step_decide(step_id=step.pk, by=frank, action="approve")


def test_it_refuses_anyone_who_is_not_an_approver_of_the_step(org):
    policy(LINE_MANAGER)
    request = submitted(org)

    for intruder in (org.finance, org.head, org.requester):
        with pytest.raises(NotAllowed):
            approval_step_decide(
                step_id=step_named(request, "Line manager").pk, by=intruder, action="approve"
            )
    assert state_of(request) == "pending_approval"


def test_it_keeps_one_person_from_deciding_two_steps_when_the_policy_says_so(org):
    policy(
        {"name": "Manager", "approver_kind": "line_manager"},
        {
            "name": "Budget holder",
            "approver_kind": "user",
            "approver_user": org.manager,
            "stage": 2,
        },
        one_decision_per_person=True,
    )
    request = submitted(org)
    approval_step_decide(
        step_id=step_named(request, "Manager").pk, by=org.manager, action="approve"
    )

    with pytest.raises(NotAllowed, match="another step"):
        approval_step_decide(
            step_id=step_named(request, "Budget holder").pk, by=org.manager, action="approve"
        )


def test_it_lets_one_person_decide_two_steps_when_the_policy_allows_it(org):
    policy(
        {"name": "Manager", "approver_kind": "line_manager"},
        {
            "name": "Budget holder",
            "approver_kind": "user",
            "approver_user": org.manager,
            "stage": 2,
        },
        one_decision_per_person=False,
    )
    request = submitted(org)
    approval_step_decide(
        step_id=step_named(request, "Manager").pk, by=org.manager, action="approve"
    )
    approval_step_decide(
        step_id=step_named(request, "Budget holder").pk, by=org.manager, action="approve"
    )
    assert state_of(request) == "approved"


def test_it_decides_through_the_request_actions_too(org):
    policy(LINE_MANAGER, FINANCE_ABOVE_5K)
    request = submitted(org, total_lines=3)

    purchase_request_transition(request_id=request.pk, by=org.manager, action="approve")
    assert steps_of(request)[0][2] == "approved"
    with pytest.raises(NotAllowed):
        purchase_request_transition(request_id=request.pk, by=org.manager, action="approve")
    purchase_request_transition(request_id=request.pk, by=org.finance, action="approve")
    assert state_of(request) == "approved"


def test_it_tells_the_second_approver_from_the_request_page_who_already_decided(org):
    UserFactory.create(
        username="frank", first_name="Frank", last_name="Figures", roles=[Role.FINANCE]
    )
    policy(
        {"name": "Finance", "approver_kind": "role", "approver_role": Role.FINANCE, "mode": "any"},
        {**LINE_MANAGER, "stage": 2},
    )
    request = submitted(org)
    frank = org.finance.__class__.objects.get(username="frank")
    purchase_request_transition(request_id=request.pk, by=org.finance, action="approve")

    # Frank's page still showed the Approve button: he is told who beat him to it (409).
    with pytest.raises(Conflict, match='"Finance" was already decided by Fiona Finance'):
        purchase_request_transition(request_id=request.pk, by=frank, action="approve")
    assert steps_of(request)[1][2] == "pending"


def test_it_closes_the_route_when_the_request_is_cancelled(org):
    policy(LINE_MANAGER)
    request = submitted(org)

    purchase_request_transition(request_id=request.pk, by=org.requester, action="cancel")

    assert steps_of(request) == [("Line manager", 1, "skipped", ["mark"])]
    assert list(approval_inbox(user=org.manager)) == []


def test_it_refuses_a_decision_on_a_changed_request_version(org):
    policy(LINE_MANAGER)
    request = submitted(org)

    with pytest.raises(Conflict, match="has changed"):
        approval_step_decide(
            step_id=step_named(request, "Line manager").pk,
            by=org.manager,
            action="approve",
            request_version=request.version + 1,
        )


def test_it_lists_what_waits_for_each_approver(org):
    policy(LINE_MANAGER, FINANCE_ABOVE_5K)
    submitted(org, total_lines=3)

    assert [a.step.name for a in approval_inbox(user=org.manager)] == ["Line manager"]
    assert list(approval_inbox(user=org.finance)) == []  # stage 2 is not open yet


def test_it_emails_approvers_when_their_step_opens(
    org, django_capture_on_commit_callbacks, mailoutbox
):
    policy(LINE_MANAGER, FINANCE_ABOVE_5K)
    with django_capture_on_commit_callbacks(execute=True):
        request = submitted(org, total_lines=3)
    assert [m.to for m in mailoutbox] == [[org.manager.email]]
    assert mailoutbox[0].subject.startswith(f"Approval needed: {request.reference}")

    with django_capture_on_commit_callbacks(execute=True):
        approval_step_decide(
            step_id=step_named(request, "Line manager").pk, by=org.manager, action="approve"
        )
    assert [m.to for m in mailoutbox][-1] == [org.finance.email]
    assert "Line manager by Mark Manager" in mailoutbox[-1].body
