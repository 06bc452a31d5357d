"""Routes are computed from the active policy and frozen at submission."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from approvals.models import ApprovalRule, ApprovalStep
from approvals.tests.helpers import FINANCE_ABOVE_5K, LINE_MANAGER, policy, steps_of, submitted
from procurement.errors import InvalidInput
from procurement.models import Category, ExchangeRate, Role
from requests.models import PurchaseRequest
from tests.factories import PurchaseRequestFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_it_freezes_a_staged_route_when_a_request_is_submitted(org):
    policy(LINE_MANAGER, FINANCE_ABOVE_5K)

    request = submitted(org, total_lines=3)  # 7,500.00 GBP

    assert request.state == "pending_approval"
    assert steps_of(request) == [
        ("Line manager", 1, "pending", ["mark"]),
        ("Finance", 2, "waiting", ["fiona"]),
    ]


def test_it_leaves_out_steps_whose_conditions_do_not_hold(org):
    policy(LINE_MANAGER, FINANCE_ABOVE_5K)

    request = submitted(org, total_lines=1)  # 2,500.00 GBP

    assert steps_of(request) == [("Line manager", 1, "pending", ["mark"])]


def test_it_converts_other_currencies_before_comparing_amounts(org):
    policy(LINE_MANAGER, FINANCE_ABOVE_5K)
    ExchangeRate.objects.create(
        currency="USD", rate=Decimal("0.80"), valid_from=dt.date(2020, 1, 1)
    )

    # 2 lines = 5,000.00 USD = 4,000.00 GBP: under the finance threshold
    request = submitted(org, total_lines=2, currency="USD")

    assert [name for name, *_ in steps_of(request)] == ["Line manager"]


def test_it_refuses_to_submit_when_no_exchange_rate_is_known(org):
    policy(LINE_MANAGER, FINANCE_ABOVE_5K)
    draft = PurchaseRequestFactory.create(
        requester=org.requester,
        department=org.department,
        cost_centre=org.cost_centre,
        currency="CHF",
    )
    from requests.services import purchase_request_transition

    with pytest.raises(InvalidInput, match="no exchange rate from CHF"):
        purchase_request_transition(request_id=draft.pk, by=org.requester, action="submit")

    draft.refresh_from_db()
    assert draft.state == "draft"
    assert not ApprovalStep.objects.exists()


def test_it_matches_category_department_and_personal_data(org):
    software = Category.objects.get(code="software")
    policy(
        LINE_MANAGER,
        {
            "name": "Security",
            "approver_kind": "role",
            "approver_role": Role.SECURITY_REVIEWER,
            "software_or_personal_data": True,
            "stage": 2,
        },
        {
            "name": "IT head",
            "approver_kind": "department_head",
            "department": org.department,
            "stage": 2,
        },
        {
            "name": "Marketing only",
            "approver_kind": "role",
            "approver_role": Role.LEGAL,
            "department": org.other_department,
        },
    )

    hardware = submitted(org)
    saas = submitted(org, category=software)
    personal = submitted(org, processes_personal_data=True)

    assert [name for name, *_ in steps_of(hardware)] == ["Line manager", "IT head"]
    assert [name for name, *_ in steps_of(saas)] == ["Line manager", "Security", "IT head"]
    assert [name for name, *_ in steps_of(personal)] == ["Line manager", "Security", "IT head"]


def test_it_never_changes_a_route_in_flight_when_the_policy_is_edited(org):
    active = policy(LINE_MANAGER)
    request = submitted(org)

    ApprovalRule.objects.create(
        policy=active, name="Legal", approver_kind="role", approver_role=Role.LEGAL
    )
    active.rules.filter(name="Line manager").update(approver_kind="department_head")

    assert steps_of(request) == [("Line manager", 1, "pending", ["mark"])]


def test_it_sends_the_step_to_the_requesters_manager_when_they_would_approve_themselves(org):
    policy({"name": "Budget holder", "approver_kind": "user", "approver_user": org.manager})
    # mark raises a request himself; his manager is hana
    request = submitted(org, requester=org.manager)

    assert steps_of(request) == [("Budget holder", 1, "pending", ["hana"])]


def test_it_removes_the_requester_from_a_group_step(org):
    fred = UserFactory.create(
        username="fred", manager=org.manager, department=org.department, roles=[Role.FINANCE]
    )
    policy(
        {"name": "Finance", "approver_kind": "role", "approver_role": Role.FINANCE, "mode": "any"}
    )

    request = submitted(org, requester=fred)

    assert steps_of(request) == [("Finance", 1, "pending", ["fiona"])]


def test_it_counts_the_group_for_all_and_n_of_m(org):
    UserFactory.create(username="frank", roles=[Role.FINANCE])
    UserFactory.create(username="fran", roles=[Role.FINANCE])
    policy(
        {
            "name": "All finance",
            "approver_kind": "role",
            "approver_role": Role.FINANCE,
            "mode": "all",
        },
        {
            "name": "Two of finance",
            "approver_kind": "role",
            "approver_role": Role.FINANCE,
            "mode": "n_of_m",
            "required_approvals": 2,
        },
    )

    request = submitted(org)

    assert list(
        ApprovalStep.objects.filter(request=request).values_list("name", "required_approvals")
    ) == [
        ("All finance", 3),
        ("Two of finance", 2),
    ]


def test_it_refuses_a_step_nobody_can_approve(org):
    policy(
        {
            "name": "Legal",
            "approver_kind": "role",
            "approver_role": Role.LEGAL,
            "mode": "n_of_m",
            "required_approvals": 2,
        }
    )
    draft = PurchaseRequestFactory.create(
        requester=org.requester, department=org.department, cost_centre=org.cost_centre
    )
    from requests.services import purchase_request_transition

    with pytest.raises(InvalidInput, match='"Legal" needs 2 approvals but only 1'):
        purchase_request_transition(request_id=draft.pk, by=org.requester, action="submit")
    assert PurchaseRequest.objects.get(pk=draft.pk).state == "draft"


def test_it_requires_the_line_manager_when_no_rule_matches(org):
    policy(FINANCE_ABOVE_5K, no_match="line_manager")

    request = submitted(org)

    assert steps_of(request) == [("Line manager approval", 1, "pending", ["mark"])]


def test_it_auto_approves_below_the_floor_only_when_configured_and_says_so(org):
    policy(
        FINANCE_ABOVE_5K, no_match="auto_approve_below_floor", auto_approve_floor=Decimal("3000")
    )

    small = submitted(org, total_lines=1)  # 2,500

    small.refresh_from_db()
    assert small.state == "approved"
    assert small.approval_steps.count() == 0
    from procurement.models import AuditEntry

    entry = AuditEntry.objects.get(object_id=small.pk, action="auto_approved")
    assert entry.actor is None
    assert "below 3000" in entry.comment


def test_it_asks_the_line_manager_above_the_floor(org):
    policy(
        FINANCE_ABOVE_5K, no_match="auto_approve_below_floor", auto_approve_floor=Decimal("1000")
    )

    request = submitted(org, total_lines=1)  # 2,500: above the floor, below finance's threshold

    assert steps_of(request) == [("Line manager approval", 1, "pending", ["mark"])]


def test_it_falls_back_to_the_line_manager_without_any_policy(org):
    request = submitted(org)
    assert steps_of(request) == [("Line manager approval", 1, "pending", ["mark"])]


def test_it_refuses_to_submit_without_a_line_manager_when_one_is_needed(org):
    loner = UserFactory.create(username="lone", department=org.department)
    draft = PurchaseRequestFactory.create(
        requester=loner, department=org.department, cost_centre=org.cost_centre
    )
    from requests.services import purchase_request_transition

    with pytest.raises(InvalidInput, match="no line manager"):
        purchase_request_transition(request_id=draft.pk, by=loner, action="submit")
    assert PurchaseRequest.objects.get(pk=draft.pk).state == "draft"


def test_it_needs_no_exchange_rate_when_no_rule_looks_at_amounts(org):
    policy(
        LINE_MANAGER,
        {
            "name": "Security",
            "approver_kind": "role",
            "approver_role": Role.SECURITY_REVIEWER,
            "software_or_personal_data": True,
            "min_total": Decimal("1"),
        },
    )

    request = submitted(org, currency="CHF")  # no CHF rate, and the amount rule does not apply

    assert [name for name, *_ in steps_of(request)] == ["Line manager"]
