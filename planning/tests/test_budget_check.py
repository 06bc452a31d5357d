"""The budget check wired into approval routing: stop, warn, or an extra step, at submission,
at the final approval and when procurement amends an approved request."""

from __future__ import annotations

from decimal import Decimal

import pytest

from approvals.models import ApprovalStep, StepState
from approvals.services import approval_step_decide, purchase_request_amend_approved
from approvals.tests.helpers import LINE_MANAGER, policy, steps_of, submitted
from planning.budgets import budget_consumption, budget_revise
from planning.models import Budget, ExtraApprover, OnExceed
from planning.tests.helpers import budget, objective
from procurement.errors import Conflict, InvalidInput
from procurement.models import AuditEntry, Category, Role
from requests.models import PurchaseRequest, RequestState
from requests.services import LineItemInput, purchase_request_transition
from requests.tests.page_helpers import flash_messages
from tests.factories import CostCentreFactory, PurchaseRequestFactory, UserFactory

pytestmark = pytest.mark.django_db


def approve_pending(request: PurchaseRequest, by) -> None:
    step = ApprovalStep.objects.get(request=request, state=StepState.PENDING)
    approval_step_decide(step_id=step.pk, by=by, action="approve")


def state_of(request: PurchaseRequest) -> str:
    return PurchaseRequest.objects.get(pk=request.pk).state


def audit(request: PurchaseRequest | Budget, action: str) -> list[str]:
    return list(
        AuditEntry.objects.filter(
            content_type__model=type(request)._meta.model_name, object_id=request.pk, action=action
        )
        .order_by("id")
        .values_list("comment", flat=True)
    )


def approved(org, **fields) -> PurchaseRequest:
    """Alice's request (2,500.00 GBP) approved by Mark under the line-manager policy."""
    policy(LINE_MANAGER)
    request = submitted(org, **fields)
    approve_pending(request, org.manager)
    assert state_of(request) == RequestState.APPROVED
    return PurchaseRequest.objects.get(pk=request.pk)


def amend(org, request: PurchaseRequest, total: str) -> PurchaseRequest:
    return purchase_request_amend_approved(
        request_id=request.pk,
        by=org.procurement,
        line_items=[
            LineItemInput(description="Laptop", quantity=Decimal("1"), unit_price=Decimal(total))
        ],
        comment="Supplier price changed",
    )


def refused_message(limit: Budget) -> str:
    """What the requester reads: which budget, not its figures (planning/tests/test_security.py)."""
    return (
        f"This request would take the budget {limit} over its limit, and the budget stops "
        "anything beyond it. Ask finance to revise it, or lower the request."
    )


def over_message(limit: Budget, consumed: str, this: str, over: str) -> str:
    """What an approver (or finance, procurement) reads: the budget's figures too."""
    return (
        f"This request would take the budget {limit} over its limit: budget "
        f"{limit.amount:,.2f} GBP, consumed {consumed} GBP, this request {this} GBP, over by "
        f"{over} GBP. The budget stops anything beyond it; ask finance to revise it, or lower "
        "the request."
    )


# --- Stop ---------------------------------------------------------------------------------


def test_it_refuses_a_submission_a_stop_budget_cannot_hold(org) -> None:
    policy(LINE_MANAGER)
    limit = budget(org, "4000", on_exceed=OnExceed.STOP)
    approve_pending(submitted(org), org.manager)  # 2,500 fits, and is now committed
    with pytest.raises(InvalidInput) as refused:
        submitted(org)
    assert refused.value.message == refused_message(limit)
    assert PurchaseRequest.objects.filter(state=RequestState.DRAFT).count() == 1


def test_it_tells_the_requester_why_on_the_page_and_in_the_api(org) -> None:
    policy(LINE_MANAGER)
    limit = budget(org, "2000", on_exceed=OnExceed.STOP)
    first = PurchaseRequestFactory.create(requester=org.requester, cost_centre=org.cost_centre)
    second = PurchaseRequestFactory.create(requester=org.requester, cost_centre=org.cost_centre)
    client = org.client_for(org.requester)

    page = client.post(f"/requests/{first.pk}/actions/submit/")
    api = client.post(f"/api/requests/{second.pk}/submit/", {}, content_type="application/json")

    expected = refused_message(limit)
    assert page.status_code == 302
    assert flash_messages(page) == [expected]
    assert api.status_code == 400
    assert api.json()["code"] == "invalid"
    assert api.json()["detail"] == expected
    assert state_of(first) == state_of(second) == RequestState.DRAFT


def test_a_stop_budget_filled_while_the_route_ran_refuses_the_final_approval(org) -> None:
    policy(LINE_MANAGER)
    limit = budget(org, "4000", on_exceed=OnExceed.STOP)
    first = submitted(org)
    second = submitted(org)  # each fits alone: nothing is approved yet
    approve_pending(first, org.manager)
    with pytest.raises(Conflict) as refused:
        approve_pending(second, org.manager)
    assert refused.value.message == over_message(limit, "2,500.00", "2,500.00", "1,000.00")
    assert state_of(second) == RequestState.PENDING_APPROVAL
    assert steps_of(second)[0][2] == StepState.PENDING  # still Mark's to decide, once it fits


def test_a_stop_budget_answers_409_to_the_approver_in_the_api(org) -> None:
    policy(LINE_MANAGER)
    budget(org, "4000", on_exceed=OnExceed.STOP)
    first = submitted(org)
    second = submitted(org)
    approve_pending(first, org.manager)
    step = ApprovalStep.objects.get(request=second)

    response = org.client_for(org.manager).post(
        f"/api/approvals/steps/{step.pk}/decide/",
        {"decision": "approve"},
        content_type="application/json",
    )

    assert response.status_code == 409
    assert response.json()["code"] == "conflict"
    assert "over by 1,000.00 GBP" in response.json()["detail"]
    assert state_of(second) == RequestState.PENDING_APPROVAL


def test_a_budget_revised_upward_lets_a_refused_request_through(org) -> None:
    policy(LINE_MANAGER)
    limit = budget(org, "2000", on_exceed=OnExceed.STOP)
    draft = PurchaseRequestFactory.create(requester=org.requester, cost_centre=org.cost_centre)
    with pytest.raises(InvalidInput, match=r"over its limit"):
        purchase_request_transition(request_id=draft.pk, by=org.requester, action="submit")

    budget_revise(
        budget_id=limit.pk, by=org.finance, amount=Decimal("3000"), reason="Two more starters"
    )
    purchase_request_transition(request_id=draft.pk, by=org.requester, action="submit")
    approve_pending(draft, org.manager)

    assert state_of(draft) == RequestState.APPROVED
    assert budget_consumption(budget=Budget.objects.get(pk=limit.pk)).available == Decimal("500.00")


# --- Warn ---------------------------------------------------------------------------------


def test_a_warn_budget_lets_it_through_and_says_so(org) -> None:
    policy(LINE_MANAGER)
    limit = budget(org, "1000", on_exceed=OnExceed.WARN)
    request = submitted(org)
    approve_pending(request, org.manager)
    assert state_of(request) == RequestState.APPROVED
    # The request's timeline (its requester reads it) names the budget; the budget's own
    # trail has by how much.
    assert audit(request, "budget_warning") == [
        f"Submitted over budget {limit}.",
        f"Approved over budget {limit}.",
    ]
    assert audit(limit, "budget_warning") == [
        f"{request.reference} submitted over it by 1,500.00 GBP.",
        f"{request.reference} approved over it by 1,500.00 GBP.",
    ]


# --- An extra approval step ---------------------------------------------------------------


def test_it_adds_a_budget_owner_step_after_the_policy_steps(org) -> None:
    policy(LINE_MANAGER)
    limit = budget(org, "2000", on_exceed=OnExceed.APPROVAL)
    request = submitted(org)
    assert steps_of(request) == [
        ("Line manager", 1, StepState.PENDING, ["mark"]),
        (f"Budget owner: over budget {limit}", 2, StepState.WAITING, ["hana"]),
    ]
    approve_pending(request, org.manager)
    assert state_of(request) == RequestState.PENDING_APPROVAL
    approve_pending(request, org.head)
    assert state_of(request) == RequestState.APPROVED


def test_any_one_of_finance_decides_a_finance_step(org) -> None:
    frank = UserFactory.create(username="frank", first_name="Frank", roles=[Role.FINANCE])
    policy(LINE_MANAGER)
    limit = budget(org, "2000", on_exceed=OnExceed.APPROVAL, extra_approver=ExtraApprover.FINANCE)
    request = submitted(org)
    assert steps_of(request)[1] == (
        f"Finance: over budget {limit}",
        2,
        StepState.WAITING,
        ["fiona", "frank"],
    )
    approve_pending(request, org.manager)
    approve_pending(request, frank)
    assert state_of(request) == RequestState.APPROVED
    step = ApprovalStep.objects.get(request=request, gate=f"budget:{limit.pk}")
    assert (step.state, step.decided_by_id) == (StepState.APPROVED, frank.pk)


def test_finance_decides_when_the_budget_owner_is_the_requester(org) -> None:
    # Nobody approves their own request: the owner's step goes to finance, who set the
    # budget, instead of refusing the submission for want of an approver.
    policy(LINE_MANAGER)
    limit = budget(org, "2000", on_exceed=OnExceed.APPROVAL, owner=org.requester)
    request = submitted(org)
    assert steps_of(request)[1] == (
        f"Finance, for the budget owner: over budget {limit}",
        2,
        StepState.WAITING,
        ["fiona"],
    )
    approve_pending(request, org.manager)
    approve_pending(request, org.finance)
    assert state_of(request) == RequestState.APPROVED


def test_finance_decides_when_the_budget_owner_already_decides_another_step(org) -> None:
    # Mark is Alice's line manager and owns the budget: one person decides one step of a
    # request, so he could never decide the second. Finance takes it from the start.
    policy(LINE_MANAGER)
    limit = budget(org, "2000", on_exceed=OnExceed.APPROVAL, owner=org.manager)
    request = submitted(org)
    assert steps_of(request)[1] == (
        f"Finance, for the budget owner: over budget {limit}",
        2,
        StepState.WAITING,
        ["fiona"],
    )
    approve_pending(request, org.manager)
    approve_pending(request, org.finance)
    assert state_of(request) == RequestState.APPROVED


def test_a_late_budget_step_skips_an_owner_who_already_decided(org) -> None:
    policy(LINE_MANAGER)
    limit = budget(org, "4000", on_exceed=OnExceed.APPROVAL, owner=org.manager)
    first, second = submitted(org), submitted(org)
    approve_pending(first, org.manager)
    approve_pending(second, org.manager)  # the budget is full now: a step joins the route
    assert steps_of(second)[1] == (
        f"Finance, for the budget owner: over budget {limit}",
        2,
        StepState.PENDING,
        ["fiona"],
    )


def test_finance_decides_when_the_budget_owner_has_left(org) -> None:
    policy(LINE_MANAGER)
    gone = UserFactory.create(username="gus", department=org.department, is_active=False)
    limit = budget(org, "2000", on_exceed=OnExceed.APPROVAL, owner=gone)
    request = submitted(org)
    assert steps_of(request)[1][0] == f"Finance, for the budget owner: over budget {limit}"
    assert steps_of(request)[1][3] == ["fiona"]


def test_it_refuses_a_submission_when_nobody_can_take_the_budget_step(org) -> None:
    policy(LINE_MANAGER)
    limit = budget(org, "2000", on_exceed=OnExceed.APPROVAL, owner=org.requester)
    org.finance.is_active = False
    org.finance.save()
    draft = PurchaseRequestFactory.create(requester=org.requester, cost_centre=org.cost_centre)

    with pytest.raises(InvalidInput) as refused:
        purchase_request_transition(request_id=draft.pk, by=org.requester, action="submit")

    assert refused.value.message == (
        f'Nobody can approve the step "Finance, for the budget owner: over budget {limit}" for '
        "this request (its requester may not, nor someone who decides another of its steps). "
        "Ask finance to name another budget owner, or an admin to give someone the finance role."
    )
    assert state_of(draft) == RequestState.DRAFT


def test_it_adds_the_budget_step_when_the_budget_fills_while_the_route_runs(org) -> None:
    policy(LINE_MANAGER)
    limit = budget(org, "4000", on_exceed=OnExceed.APPROVAL)
    first = submitted(org)
    second = submitted(org)  # both fit at submission: no budget step yet
    assert len(steps_of(second)) == 1
    approve_pending(first, org.manager)

    approve_pending(second, org.manager)  # now it would take the budget 1,000.00 over

    assert state_of(second) == RequestState.PENDING_APPROVAL
    assert steps_of(second) == [
        ("Line manager", 1, StepState.APPROVED, ["mark"]),
        (f"Budget owner: over budget {limit}", 2, StepState.PENDING, ["hana"]),
    ]
    assert audit(second, "step_added") == [f"Budget owner: over budget {limit}"]
    approve_pending(second, org.head)
    assert state_of(second) == RequestState.APPROVED


def test_a_rejected_budget_step_rejects_the_request(org) -> None:
    policy(LINE_MANAGER)
    limit = budget(org, "2000", on_exceed=OnExceed.APPROVAL)
    request = submitted(org)
    approve_pending(request, org.manager)
    step = ApprovalStep.objects.get(request=request, gate=f"budget:{limit.pk}")

    approval_step_decide(step_id=step.pk, by=org.head, action="reject", comment="Not this year.")

    assert state_of(request) == RequestState.REJECTED
    assert budget_consumption(budget=limit).consumed == Decimal("0.00")


# --- Budgets narrowed to a category or an objective -----------------------------------------


def test_a_budget_narrowed_to_a_category_applies_to_that_category_only(org) -> None:
    policy(LINE_MANAGER)
    hardware = Category.objects.get(code="hardware")
    software = Category.objects.get(code="software")
    budget(org, "2000", category=hardware, on_exceed=OnExceed.STOP)

    with pytest.raises(InvalidInput, match=r"over its limit"):
        submitted(org, category=hardware)
    request = submitted(org, category=software)

    assert state_of(request) == RequestState.PENDING_APPROVAL


def test_a_budget_narrowed_to_an_objective_applies_to_its_requests_only(org) -> None:
    policy(LINE_MANAGER)
    cloud = objective(org, department=org.department)
    budget(org, "2000", objective=cloud, on_exceed=OnExceed.STOP)

    with pytest.raises(InvalidInput, match=r"over its limit"):
        submitted(org, objective=cloud, no_objective_reason="")
    request = submitted(org)  # serves no objective

    assert state_of(request) == RequestState.PENDING_APPROVAL


def test_every_budget_in_scope_is_checked(org) -> None:
    # The cost centre's budget has room; the hardware budget inside it does not.
    policy(LINE_MANAGER)
    budget(org, "100000", on_exceed=OnExceed.STOP)
    hardware = budget(
        org, "2000", category=Category.objects.get(code="hardware"), on_exceed=OnExceed.APPROVAL
    )
    request = submitted(org)
    assert [step[0] for step in steps_of(request)] == [
        "Line manager",
        f"Budget owner: over budget {hardware}",
    ]


def test_a_request_with_no_budget_in_scope_passes(org) -> None:
    policy(LINE_MANAGER)
    projects = CostCentreFactory.create(code="IT-200", department=org.department)
    budget(org, "10", on_exceed=OnExceed.STOP, cost_centre=projects)
    request = approved(org)  # on IT-100, which has no budget
    assert audit(request, "budget_warning") == []


# --- Amendments of an approved request ----------------------------------------------------


def test_an_amendment_over_a_stop_budget_is_refused_and_changes_nothing(org) -> None:
    limit = budget(org, "2600", on_exceed=OnExceed.STOP)
    request = approved(org)

    with pytest.raises(Conflict) as refused:
        amend(org, request, "2700.00")  # within the 10% tolerance, but over the budget

    assert refused.value.message == over_message(limit, "0.00", "2,700.00", "100.00")
    after = PurchaseRequest.objects.get(pk=request.pk)
    assert (after.state, after.total, after.version) == ("approved", Decimal("2500.00"), 1)
    assert audit(request, "amended") == []


def test_an_amendment_over_a_stop_budget_answers_409_in_the_api(org) -> None:
    budget(org, "2600", on_exceed=OnExceed.STOP)
    request = approved(org)

    response = org.client_for(org.procurement).post(
        f"/api/approvals/requests/{request.pk}/amend/",
        {
            "line_items": [
                {"description": "Laptop", "quantity": "2", "unit": "each", "unit_price": "1350"}
            ],
            "comment": "New quote",
        },
        content_type="application/json",
    )

    assert response.status_code == 409
    assert response.json()["code"] == "conflict"
    assert "over by 100.00 GBP" in response.json()["detail"]
    assert PurchaseRequest.objects.get(pk=request.pk).total == Decimal("2500.00")


def test_an_amendment_that_lowers_the_total_is_never_refused(org) -> None:
    limit = budget(org, "3000", on_exceed=OnExceed.STOP)
    request = approved(org)
    budget_revise(budget_id=limit.pk, by=org.finance, amount=Decimal("2000"), reason="Cut")

    amended = amend(org, request, "2400.00")  # still over the cut budget, but less so

    assert (amended.state, amended.total) == ("approved", Decimal("2400.00"))


def test_an_amendment_over_an_approval_budget_goes_back_for_approval(org) -> None:
    limit = budget(org, "2600", on_exceed=OnExceed.APPROVAL)
    request = approved(org)

    amended = amend(org, request, "2700.00")  # within the tolerance: only the budget asks

    assert amended.state == RequestState.PENDING_APPROVAL
    assert audit(request, "require_reapproval") == [
        f"The total 2700.00 GBP needs: Budget owner: over budget {limit}."
    ]
    assert steps_of(request)[1:] == [
        ("Line manager", 1, StepState.PENDING, ["mark"]),
        (f"Budget owner: over budget {limit}", 2, StepState.WAITING, ["hana"]),
    ]
    approve_pending(request, org.manager)
    approve_pending(request, org.head)
    assert state_of(request) == RequestState.APPROVED


def test_a_re_approval_asks_the_budget_owner_again_for_more_money(org) -> None:
    # The owner approved an overrun of 500.00; a larger one is a new decision, in a new round.
    policy(LINE_MANAGER)
    limit = budget(org, "2000", on_exceed=OnExceed.APPROVAL)
    request = submitted(org)
    approve_pending(request, org.manager)
    approve_pending(request, org.head)
    assert state_of(request) == RequestState.APPROVED

    amend(org, request, "2600.00")

    assert state_of(request) == RequestState.PENDING_APPROVAL
    round_two = ApprovalStep.objects.filter(request=request, round=2).order_by("stage")
    assert [(step.name, step.gate) for step in round_two] == [
        ("Line manager", ""),
        (f"Budget owner: over budget {limit}", f"budget:{limit.pk}"),
    ]


def test_a_re_approval_beyond_the_tolerance_runs_the_budget_check_again(org) -> None:
    limit = budget(org, "5400", on_exceed=OnExceed.STOP)
    request = approved(org)
    amend(org, request, "3000.00")  # beyond the tolerance: pending approval, and it fits now
    assert state_of(request) == RequestState.PENDING_APPROVAL
    other = submitted(org)  # while it waits, it commits nothing: another 2,500.00 is approved
    approve_pending(other, org.manager)

    with pytest.raises(Conflict) as refused:
        approve_pending(request, org.manager)

    assert refused.value.message == over_message(limit, "2,500.00", "3,000.00", "100.00")
    assert state_of(request) == RequestState.PENDING_APPROVAL


def test_a_warn_budget_lets_an_amendment_through_and_says_so(org) -> None:
    limit = budget(org, "2600", on_exceed=OnExceed.WARN)
    request = approved(org)

    amended = amend(org, request, "2700.00")

    assert amended.state == RequestState.APPROVED
    assert audit(request, "budget_warning") == [f"Amended over budget {limit}."]
    assert audit(limit, "budget_warning") == [f"{request.reference} amended over it by 100.00 GBP."]
