"""Who may see and do what with budgets, objectives, needs and the forecast (django-rules).

Finance sets budgets and objectives; procurement consolidates needs; managers see their
department's budgets and forecast. Budget figures beside a request go to those who decide or
manage money, not to its requester as such.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import rules

from approvals.models import StepApprover
from planning.budgets import MANAGE_ROLES, READ_ALL_ROLES
from planning.needs import NEED_MANAGER_ROLES
from procurement.models import Role
from procurement.permissions import add, has_role, is_user_field, visible_in

if TYPE_CHECKING:
    from django.db.models import QuerySet

    from planning.models import Budget
    from procurement.models import Department, Objective, User
    from requests.models import PurchaseRequest


def _budgets_visible_to(user: User) -> QuerySet[Budget]:
    from planning.budgets import budgets_visible_to

    return budgets_visible_to(user)


reads_all_money = has_role(*READ_ALL_ROLES)
manages_money = has_role(*MANAGE_ROLES)
manages_needs = has_role(*NEED_MANAGER_ROLES)


@rules.predicate
def heads_requests_department(user: User, request: PurchaseRequest | None) -> bool:
    return request is not None and request.department.head_id == user.pk


@rules.predicate
def approves_request(user: User, request: PurchaseRequest | None) -> bool:
    """Asked to decide a step of it, in any round."""
    if request is None:
        return False
    if request.requester_id == user.pk:
        # Segregation of duties: routing never asks the requester (approvals.services
        # _resolve, _gate_steps, _stand_in), so the commonest viewer of a request page needs
        # no query (~0.5 ms of Python on each of their pages, bench/web cpu_profile).
        return False
    return StepApprover.objects.filter(step__request=request, approver=user).exists()


@rules.predicate
def heads_or_manages_objectives_department(user: User, objective: Objective | None) -> bool:
    if objective is None or objective.department_id is None:
        return False
    if objective.department is not None and objective.department.head_id == user.pk:
        return True
    return user.has_role(Role.MANAGER) and user.department_id == objective.department_id


@rules.predicate
def belongs_to_a_department(user: User) -> bool:
    return user.department_id is not None


@rules.predicate
def belongs_to_the_department(user: User, department: Department | None) -> bool:
    return department is not None and user.department_id == department.pk


add(
    "planning.view_budget",
    visible_in(_budgets_visible_to, "may_see_budget"),
    means="finance, procurement, admins; its owner; the head and managers of its department",
)
add("planning.change_budget", manages_money, means="finance, admins")
add(
    "planning.view_budgetfigures",
    reads_all_money | heads_requests_department | approves_request,
    means="beside a request: finance, procurement, admins, the head of its department, "
    "its approvers (not its requester as such)",
)
add("planning.view_objective", rules.always_allow, means="everyone signed in")
add("planning.change_objective", manages_money, means="finance, admins")
add(
    "planning.view_objectivefigures",
    reads_all_money | is_user_field("owner") | heads_or_manages_objectives_department,
    means="finance, procurement, admins; its owner; the head and managers of its department",
)
add("planning.view_need", rules.always_allow, means="everyone signed in")
add(
    "planning.add_need",
    belongs_to_a_department | manages_needs,
    means="anyone in a department (for it), procurement, admins (for any)",
)
add(
    # Posting for a given department, or saying it needs an open need too.
    "planning.add_need_for_department",
    belongs_to_the_department | manages_needs,
    means="its members; procurement, admins (any department)",
)
add(
    "planning.change_need",
    is_user_field("created_by") | manages_needs,
    means="its poster, procurement, admins (while it is open)",
)
add("planning.consolidate_need", manages_needs, means="procurement, admins")
add(
    "planning.view_forecast",
    reads_all_money | has_role(Role.MANAGER),
    means="finance, procurement, admins (everything); managers (their departments)",
)
