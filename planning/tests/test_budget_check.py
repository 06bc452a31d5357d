"""The budget check wired into approval routing: stop, warn, or an extra step."""

from __future__ import annotations

import pytest

from approvals.models import ApprovalStep, StepState
from approvals.services import approval_step_decide
from approvals.tests.helpers import LINE_MANAGER, policy, steps_of, submitted
from planning.models import OnExceed
from planning.tests.helpers import budget
from procurement.errors import Conflict, InvalidInput
from procurement.models import AuditEntry
from requests.models import PurchaseRequest, RequestState

pytestmark = pytest.mark.django_db


def approve_pending(request: PurchaseRequest, by) -> None:
    step = ApprovalStep.objects.get(request=request, state=StepState.PENDING)
    approval_step_decide(step_id=step.pk, by=by, action="approve")


def test_it_refuses_a_submission_a_stop_budget_cannot_hold(org) -> None:
    policy(LINE_MANAGER)
    budget(org, "4000", on_exceed=OnExceed.STOP)
    approve_pending(submitted(org), org.manager)  # 2,500 fits, and is now committed
    with pytest.raises(InvalidInput, match=r"over by 1,000\.00"):
        submitted(org)
    assert PurchaseRequest.objects.filter(state=RequestState.DRAFT).count() == 1


def test_it_adds_a_budget_owner_step_after_the_policy_steps(org) -> None:
    policy(LINE_MANAGER)
    budget(org, "2000", on_exceed=OnExceed.APPROVAL)
    request = submitted(org)
    route = steps_of(request)
    assert route[0][:2] == ("Line manager", 1)
    assert route[1][1:] == (2, StepState.WAITING, ["hana"])
    assert route[1][0].startswith("Budget owner: over budget IT-100")
    approve_pending(request, org.manager)
    approve_pending(request, org.head)
    assert PurchaseRequest.objects.get(pk=request.pk).state == RequestState.APPROVED


def test_a_warn_budget_lets_it_through_and_says_so(org) -> None:
    policy(LINE_MANAGER)
    budget(org, "1000", on_exceed=OnExceed.WARN)
    request = submitted(org)
    approve_pending(request, org.manager)
    assert PurchaseRequest.objects.get(pk=request.pk).state == RequestState.APPROVED
    warnings = AuditEntry.objects.filter(object_id=request.pk, action="budget_warning")
    assert warnings.count() == 2  # at submission and at approval


def test_a_stop_budget_filled_while_the_route_ran_refuses_the_final_approval(org) -> None:
    policy(LINE_MANAGER)
    budget(org, "4000", on_exceed=OnExceed.STOP)
    first = submitted(org)
    second = submitted(org)  # each fits alone: nothing is approved yet
    approve_pending(first, org.manager)
    with pytest.raises(Conflict, match="over its limit"):
        approve_pending(second, org.manager)
    assert PurchaseRequest.objects.get(pk=second.pk).state == RequestState.PENDING_APPROVAL
