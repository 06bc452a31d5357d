"""Departments and cost centres as spend files name them, mapped to ours by finance.

An import links a new `SpendDepartment` to one of our departments (and cost centres) only
when the file's text is a department's name or code or a cost centre's code
(analytics.services). Everything else ("Information Technology", "ICT Services") waits here
for a person: `spend_department_map` / `spend_department_unmap`.

What a mapping changes, at once and for past and future lines (lines point at the
SpendDepartment row, never at our department):
- which managers see the lines (analytics.scope reads SpendDepartment.department);
- which budgets count them as actual spend (planning.budgets reads
  SpendDepartment.cost_centre);
- the forecast's split by department (planning.forecast reads the lines live).

The rollups key on the SpendDepartment row, not on our department (analytics.rollups), so
a mapping leaves every rollup row as it is: nothing is recomputed.
"""

from __future__ import annotations

from decimal import Decimal

from django.db import models, transaction
from django.db.models import (
    Case,
    DecimalField,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce

from analytics.models import SpendByMonthDepartment, SpendDepartment
from analytics.scope import spend_may_import
from procurement.errors import InvalidInput, NotAllowed
from procurement.models import CostCentre, Department, User
from procurement.services import audit_record

# The row holding the lines that named no department: there is nothing to map.
NO_DEPARTMENT_KEY = ""


class SpendDepartmentView(models.TextChoices):
    REVIEW = "review", "No cost centre yet"
    MAPPED = "mapped", "Mapped to a department"
    ALL = "all", "All"


def _check_may_map(user: User) -> None:
    # The same people who map payees to vendors (analytics.payees).
    if not spend_may_import(user):
        raise NotAllowed("Only procurement, finance and admins map the departments of spend files.")


def _label(department: Department | None, cost_centre: CostCentre | None) -> str:
    if cost_centre is not None:
        return f"{cost_centre.department.name} / {cost_centre.code} {cost_centre.name}"
    if department is not None:
        return department.name
    return "nothing"


def _state(department: Department | None, cost_centre: CostCentre | None) -> str:
    """The mapping as the audit entry's short state: a cost centre or department code."""
    if cost_centre is not None:
        return cost_centre.code[:32]
    if department is not None:
        return department.code[:32]
    return "unmapped"


@transaction.atomic
def spend_department_map(
    *,
    spend_department: SpendDepartment,
    user: User,
    department: Department | None = None,
    cost_centre: CostCentre | None = None,
) -> SpendDepartment:
    """Map a spend file's department to one of our departments, and optionally one of its
    cost centres, for its past and future lines.

    A cost centre without a department maps to the cost centre's department; a cost centre
    of another department than the one chosen is refused (InvalidInput naming
    "cost_centre"), as is choosing neither (naming "department") and mapping the row of
    lines that named no department. Atomic, with the row locked (two reviewers at once end
    with the last one's choice, each audited). Writes an audit entry when the mapping
    changes; mapping to what it already is changes nothing. No rollup is touched (they key
    on the spend department row). Raises NotAllowed for anyone but procurement, finance and
    admins.
    """
    _check_may_map(user)
    if cost_centre is not None:
        if department is not None and cost_centre.department_id != department.pk:
            message = (
                f"Cost centre {cost_centre.code} belongs to {cost_centre.department.name}, "
                f"not {department.name}."
            )
            raise InvalidInput(message, fields={"cost_centre": [message]})
        department = cost_centre.department
    elif department is None:
        raise InvalidInput(
            "Choose a department or a cost centre.",
            fields={"department": ["Choose a department, a cost centre, or both."]},
        )
    locked = SpendDepartment.objects.select_for_update().get(pk=spend_department.pk)
    if locked.key == NO_DEPARTMENT_KEY:
        raise InvalidInput(
            "Lines that name no department cannot be mapped.",
            fields={"department": ["These lines name no department to map."]},
        )
    if locked.department_id == department.pk and locked.cost_centre_id == (
        cost_centre.pk if cost_centre else None
    ):
        return locked
    was_department, was_cost_centre = locked.department, locked.cost_centre
    locked.department = department
    locked.cost_centre = cost_centre
    locked.save(update_fields=["department", "cost_centre"])
    comment = f"{locked.name} mapped to {_label(department, cost_centre)}"
    if was_department is not None or was_cost_centre is not None:
        comment += f" (was {_label(was_department, was_cost_centre)})"
    audit_record(
        target=locked,
        actor=user,
        action="spend_department_mapped",
        from_state=_state(was_department, was_cost_centre),
        to_state=_state(department, cost_centre),
        comment=comment,
    )
    return locked


@transaction.atomic
def spend_department_unmap(*, spend_department: SpendDepartment, user: User) -> SpendDepartment:
    """Take a spend file's department off our department and cost centre: its lines leave
    the managers' scope and the budgets. Atomic, with the row locked; audited when it was
    mapped (unmapping an unmapped row changes nothing). Raises NotAllowed as
    spend_department_map does."""
    _check_may_map(user)
    locked = SpendDepartment.objects.select_for_update().get(pk=spend_department.pk)
    if locked.department_id is None and locked.cost_centre_id is None:
        return locked
    was_department, was_cost_centre = locked.department, locked.cost_centre
    locked.department = None
    locked.cost_centre = None
    locked.save(update_fields=["department", "cost_centre"])
    audit_record(
        target=locked,
        actor=user,
        action="spend_department_unmapped",
        from_state=_state(was_department, was_cost_centre),
        to_state="unmapped",
        comment=f"{locked.name} no longer mapped to {_label(was_department, was_cost_centre)}",
    )
    return locked


# --- Reading: the list to map ---------------------------------------------------------------


def spend_departments_for_review(
    *, view: str = SpendDepartmentView.REVIEW, q: str = ""
) -> QuerySet[SpendDepartment]:
    """Spend departments with `line_count` and `total` (base currency, from the department
    rollup: no line is read), those mapped to no department first, then largest spend first.

    `view="review"`: those without a cost centre (so no budget counts their lines), except
    the row of lines that named none; `"mapped"`: those mapped to a department; `"all"`.
    `q` matches the name as the file writes it, our department's name or the cost centre's
    code.
    """
    rows = SpendDepartment.objects.all()
    if view == SpendDepartmentView.REVIEW:
        rows = rows.filter(cost_centre__isnull=True).exclude(key=NO_DEPARTMENT_KEY)
    elif view == SpendDepartmentView.MAPPED:
        rows = rows.filter(department__isnull=False)
    q = q.strip()
    if q:
        rows = rows.filter(
            Q(name__icontains=q)
            | Q(department__name__icontains=q)
            | Q(cost_centre__code__icontains=q)
        )
    totals = SpendByMonthDepartment.objects.filter(department_id=OuterRef("pk")).values(
        "department_id"
    )
    return (
        rows.annotate(
            total=Coalesce(
                Subquery(totals.annotate(s=Sum("amount")).values("s")),
                Value(Decimal("0")),
                output_field=DecimalField(max_digits=18, decimal_places=2),
            ),
            line_count=Coalesce(
                Subquery(totals.annotate(n=Sum("lines")).values("n")),
                Value(0),
                output_field=IntegerField(),
            ),
            mapped_last=Case(When(department__isnull=True, then=Value(0)), default=Value(1)),
        )
        .select_related("department", "cost_centre__department")
        .order_by("mapped_last", "-total", "name", "id")
    )
