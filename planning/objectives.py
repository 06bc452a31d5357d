"""Business objectives: who may set them, the rules for changing them, and the report of
what each has committed and spent.

Everybody signed in reads objectives (a requester must pick one); finance and admins set
and change them. The money figures (commitments, actuals, requests) are for those who see
budgets: finance, procurement and admins on every objective; the owner on theirs; a
department's head and managers on their department's. Spend is counted by
planning.budgets.request_side, the rules a budget counts by (imported spend names no
objective, so it never counts here).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError, transaction
from django.db.models import Count, QuerySet

from planning.budgets import (
    ZERO,
    CommittedRequest,
    CountedOrder,
    budgets_visible_to,
    request_side,
)
from planning.models import Budget
from procurement.errors import InvalidInput, NotAllowed, NotFound
from procurement.models import (
    OPEN_OBJECTIVE_STATUSES,
    AuditEntry,
    Department,
    FiscalYear,
    Objective,
    ObjectiveStatus,
    User,
)
from procurement.permissions import allowed
from procurement.services import audit_record
from requests.models import PurchaseRequest, RequestState
from requests.selectors import purchase_request_visible_to

# The department filter's value for objectives of no department.
COMPANY_WIDE = "company"


# --- Who may do what ------------------------------------------------------------------------


def may_manage_objectives(user: User) -> bool:
    return allowed(user, "planning.change_objective")


def may_see_objective_figures(user: User, objective: Objective) -> bool:
    """The money figures of `objective`: for finance, procurement, admins, its owner, and the
    head and managers of its department (planning/rules.py)."""
    return allowed(user, "planning.view_objectivefigures", objective)


def _require_manager(user: User) -> None:
    if not may_manage_objectives(user):
        raise NotAllowed("Only finance sets objectives.")


# --- Reads ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ObjectiveFilters:
    fiscal_year_id: int | None = None
    # A department id, COMPANY_WIDE, or None for every objective.
    department: int | str | None = None
    status: str = ""


def objective_list(*, filters: ObjectiveFilters | None = None) -> QuerySet[Objective]:
    """Every objective (everybody signed in reads them), newest year first, by name."""
    filters = filters or ObjectiveFilters()
    objectives = Objective.objects.select_related("fiscal_year", "department", "owner").order_by(
        "-fiscal_year__starts_on", "name", "id"
    )
    if filters.fiscal_year_id is not None:
        objectives = objectives.filter(fiscal_year_id=filters.fiscal_year_id)
    if filters.department == COMPANY_WIDE:
        objectives = objectives.filter(department__isnull=True)
    elif filters.department is not None:
        objectives = objectives.filter(department_id=filters.department)
    if filters.status:
        objectives = objectives.filter(status=filters.status)
    return objectives


def objective_get(*, objective_id: int) -> Objective:
    objective = (
        Objective.objects.select_related("fiscal_year", "department", "owner")
        .filter(pk=objective_id)
        .first()
    )
    if objective is None:
        raise NotFound("No such objective.")
    return objective


@dataclass(frozen=True)
class ObjectiveSpend:
    """What the requests serving an objective have committed and spent, in the base
    currency. `requests` counts those submitted (drafts aside), whatever became of them."""

    requests: int = 0
    committed_requests: Decimal = ZERO
    committed_orders: Decimal = ZERO
    actual_invoices: Decimal = ZERO
    committed_request_rows: Sequence[CommittedRequest] = field(default=(), compare=False)
    order_rows: Sequence[CountedOrder] = field(default=(), compare=False)

    @property
    def committed(self) -> Decimal:
        return self.committed_requests + self.committed_orders

    @property
    def actual(self) -> Decimal:
        return self.actual_invoices

    @property
    def total(self) -> Decimal:
        return self.committed + self.actual


def objectives_spend(*, objectives: Iterable[Objective]) -> dict[int, ObjectiveSpend]:
    """ObjectiveSpend for each of `objectives`, keyed by id: one pass over their requests,
    orders and invoices, however many objectives there are."""
    ids = [objective.pk for objective in objectives]
    if not ids:
        return {}
    requests = PurchaseRequest.objects.filter(objective_id__in=ids)
    side = request_side(requests)
    counts = dict(
        requests.exclude(state=RequestState.DRAFT)
        .order_by()
        .values("objective_id")
        .annotate(n=Count("id"))
        .values_list("objective_id", "n")
    )
    committed: dict[int, list[CommittedRequest]] = {pk: [] for pk in ids}
    for row in side.requests:
        assert row.request.objective_id is not None
        committed[row.request.objective_id].append(row)
    orders: dict[int, list[CountedOrder]] = {pk: [] for pk in ids}
    for order_row in side.orders:
        objective_id = order_row.order.request.objective_id
        assert objective_id is not None
        orders[objective_id].append(order_row)
    return {
        pk: ObjectiveSpend(
            requests=counts.get(pk, 0),
            committed_requests=sum((row.amount for row in committed[pk]), ZERO),
            committed_orders=sum((row.committed for row in orders[pk]), ZERO),
            actual_invoices=sum((row.invoiced for row in orders[pk]), ZERO),
            committed_request_rows=committed[pk],
            order_rows=orders[pk],
        )
        for pk in ids
    }


def objective_spend(*, objective: Objective) -> ObjectiveSpend:
    return objectives_spend(objectives=[objective])[objective.pk]


@dataclass(frozen=True)
class ObjectiveRow:
    """An objective in the report; `spend` is None when the reader may not see its figures."""

    objective: Objective
    spend: ObjectiveSpend | None


def objective_report(*, user: User, objectives: Iterable[Objective]) -> list[ObjectiveRow]:
    """The per-objective report (the list page, its CSV/XLSX and the API): each objective
    with its figures where `user` may see them."""
    objectives = list(objectives)
    shown = [o for o in objectives if may_see_objective_figures(user, o)]
    spend = objectives_spend(objectives=shown)
    return [ObjectiveRow(objective=o, spend=spend.get(o.pk)) for o in objectives]


def objective_requests(*, objective: Objective, user: User) -> QuerySet[PurchaseRequest]:
    """The submitted requests serving `objective` that `user` may see, newest first."""
    return (
        purchase_request_visible_to(user)
        .filter(objective=objective)
        .exclude(state=RequestState.DRAFT)
        .select_related("requester", "department", "cost_centre")
        .order_by("-submitted_at", "-id")
    )


def objective_budgets(*, objective: Objective, user: User) -> QuerySet[Budget]:
    """The budgets narrowed to `objective` that `user` may see."""
    return budgets_visible_to(user).filter(objective=objective)


# --- Writes ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ObjectiveInput:
    name: str
    owner: User
    fiscal_year: FiscalYear
    description: str = ""
    department: Department | None = None
    status: str = ObjectiveStatus.ACTIVE


def _check(data: ObjectiveInput, *, current: Objective | None = None) -> ObjectiveInput:
    errors: dict[str, list[str]] = {}
    name = " ".join(data.name.split())
    if not name:
        errors["name"] = ["Give the objective a name."]
    elif len(name) > 200:
        errors["name"] = ["Keep the name to 200 characters."]
    if len(data.description) > 5000:
        errors["description"] = ["Keep the description to 5,000 characters."]
    if not data.owner.is_active:
        errors["owner"] = [f"{data.owner} no longer has an account; choose an active owner."]
    year_changes = current is None or current.fiscal_year_id != data.fiscal_year.pk
    if year_changes and data.fiscal_year.is_closed:
        errors["fiscal_year"] = [f"{data.fiscal_year} is closed; choose an open fiscal year."]
    if data.status not in ObjectiveStatus.values:
        errors["status"] = [f"Choose one of {', '.join(ObjectiveStatus.values)}."]
    if current is not None:
        department_id = data.department.pk if data.department else None
        scope_changes = year_changes or current.department_id != department_id
        if scope_changes:
            used = _uses(current)
            if used:
                key = "fiscal_year" if year_changes else "department"
                errors.setdefault(key, []).append(
                    f"Already named by {used}: its year and department stay as they are. "
                    "Set up a new objective instead."
                )
    if name and not errors.get("name"):
        duplicate = Objective.objects.filter(fiscal_year=data.fiscal_year, name__iexact=name)
        if current is not None:
            duplicate = duplicate.exclude(pk=current.pk)
        if duplicate.exists():
            errors["name"] = [f'There is already an objective "{name}" in {data.fiscal_year}.']
    if errors:
        raise InvalidInput(next(iter(errors.values()))[0], fields=errors)
    return ObjectiveInput(
        name=name,
        owner=data.owner,
        fiscal_year=data.fiscal_year,
        description=data.description.strip(),
        department=data.department,
        status=data.status,
    )


def _uses(objective: Objective) -> str:
    """What names `objective` ("2 requests and 1 budget"), or "" when nothing does."""
    requests = PurchaseRequest.objects.filter(objective=objective).count()
    budgets = Budget.objects.filter(objective=objective).count()
    parts = []
    if requests:
        parts.append(f"{requests} request{'s' if requests != 1 else ''}")
    if budgets:
        parts.append(f"{budgets} budget{'s' if budgets != 1 else ''}")
    return " and ".join(parts)


def _duplicate(data: ObjectiveInput) -> InvalidInput:
    message = f'There is already an objective "{data.name}" in {data.fiscal_year}.'
    return InvalidInput(message, fields={"name": [message]})


def objective_create(*, data: ObjectiveInput, by: User) -> Objective:
    """Set an objective (finance or admin), audited. 400 for a blank or duplicate name, an
    inactive owner or a closed fiscal year."""
    _require_manager(by)
    if data.status not in OPEN_OBJECTIVE_STATUSES:
        message = "A new objective is planned or active; achieved and dropped come later."
        raise InvalidInput(message, fields={"status": [message]})
    data = _check(data)
    try:
        with transaction.atomic():
            objective = Objective.objects.create(
                name=data.name,
                description=data.description,
                owner=data.owner,
                fiscal_year=data.fiscal_year,
                department=data.department,
                status=data.status,
            )
            audit_record(
                target=objective,
                actor=by,
                action="objective_created",
                to_state=objective.status,
                comment=f"{objective.name} ({objective.fiscal_year}), owner {objective.owner}, "
                + (
                    f"department {objective.department}."
                    if objective.department
                    else "company-wide."
                ),
            )
    except IntegrityError:
        # Two people adding the same name at once: the unique constraint decides.
        raise _duplicate(data) from None
    return objective


def objective_update(*, objective_id: int, by: User, data: ObjectiveInput) -> Objective:
    """Change an objective's name, description, owner, department or year (finance or
    admin), audited with the fields that changed. Its year and department stay fixed once a
    request or budget names it. The status changes only through objective_status_set."""
    _require_manager(by)
    try:
        with transaction.atomic():
            objective = (
                Objective.objects.select_for_update(of=("self",))
                .select_related("fiscal_year", "department", "owner")
                .filter(pk=objective_id)
                .first()
            )
            if objective is None:
                raise NotFound("No such objective.")
            data = _check(
                ObjectiveInput(
                    name=data.name,
                    owner=data.owner,
                    fiscal_year=data.fiscal_year,
                    description=data.description,
                    department=data.department,
                    status=objective.status,
                ),
                current=objective,
            )
            changed = []
            for name, value in (
                ("name", data.name),
                ("description", data.description),
                ("owner", data.owner),
                ("fiscal_year", data.fiscal_year),
                ("department", data.department),
            ):
                if getattr(objective, name) != value:
                    changed.append(name.replace("_", " "))
                    setattr(objective, name, value)
            if not changed:
                return objective
            objective.save()
            audit_record(
                target=objective,
                actor=by,
                action="objective_updated",
                comment="Changed: " + ", ".join(changed) + ".",
            )
    except IntegrityError:
        raise _duplicate(data) from None
    return objective


def objective_status_set(
    *, objective_id: int, by: User, status: str, comment: str = ""
) -> Objective:
    """Move an objective to planned, active, achieved or dropped (finance or admin), with an
    audit entry from the old status to the new. The row is locked, so two people changing it
    at once are recorded one after the other. A request may name only a planned or active
    objective, so achieving or dropping one closes it to new requests."""
    _require_manager(by)
    if status not in ObjectiveStatus.values:
        message = f"Choose one of {', '.join(ObjectiveStatus.values)}."
        raise InvalidInput(message, fields={"status": [message]})
    with transaction.atomic():
        objective = (
            Objective.objects.select_for_update(of=("self",))
            .select_related("fiscal_year")
            .filter(pk=objective_id)
            .first()
        )
        if objective is None:
            raise NotFound("No such objective.")
        if objective.status == status:
            message = f'"{objective.name}" is already {objective.get_status_display().lower()}.'
            raise InvalidInput(message, fields={"status": [message]})
        before = objective.status
        objective.status = status
        objective.save(update_fields=["status"])
        audit_record(
            target=objective,
            actor=by,
            action="objective_status",
            from_state=before,
            to_state=status,
            comment=comment.strip()[:2000],
        )
    return objective


def objective_history(*, objective: Objective) -> QuerySet[AuditEntry]:
    """The audit entries of `objective`, oldest first."""
    return AuditEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(Objective), object_id=objective.pk
    ).select_related("actor")
