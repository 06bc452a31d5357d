"""The needs board: needs posted before anyone knows what to buy, "we need this too" from
other departments, comments and alternatives, and consolidation of several needs into one
purchase request or one RFQ (volume is leverage).

Writes (`need_*`, `needs_consolidate_*`) and reads (`needs_board`, `need_get`,
`consolidation_get`) of needs live here, for the pages (planning/need_views.py) and the
API (planning/need_api.py) alike, so both refuse the same things with the same messages.

Who may do what:
- every signed-in user sees every need (the point is that other stakeholders find them);
- anyone with a department posts a need for it, and says "we need this too" for it;
  procurement and admins may name any department;
- the poster, procurement and admins edit or withdraw a need while it is open;
- anyone signed in comments or suggests an alternative;
- procurement and admins consolidate open needs.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import (
    DecimalField,
    ExpressionWrapper,
    F,
    IntegerField,
    Q,
    QuerySet,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from planning.models import (
    Consolidation,
    ConsolidationKind,
    Need,
    NeedComment,
    NeedCommentKind,
    NeedStatus,
    NeedSupport,
)
from procurement.errors import Conflict, InvalidInput, NotAllowed, NotFound
from procurement.models import Category, CostCentre, Department, Objective, Role, User
from procurement.permissions import allowed, require
from procurement.prepared import PreparedQuery
from procurement.services import audit_record
from requests.selectors import purchase_request_visible_to
from requests.services import LineItemInput, RequestInput, purchase_request_create
from sourcing.access import may_see_sourcing
from sourcing.models import Rfq, RfqState

logger = logging.getLogger(__name__)

ZERO = Decimal("0.00")
CENT = Decimal("0.01")
# A rough budget is a first guess: a billion in the base currency is already no guess.
ROUGH_BUDGET_MAX = Decimal("1000000000.00")
PEOPLE_MAX = 1_000_000
TITLE_MAX = 200
PROBLEM_MAX = 10_000
BODY_MAX = 5000
# A request's justification holds at most 10,000 characters: one line per need must fit.
MAX_NEEDS_PER_CONSOLIDATION = 40
JUSTIFICATION_MAX = 10_000
# Procurement and admins may post for any department, edit any open need and consolidate.
NEED_MANAGER_ROLES = (Role.PROCUREMENT, Role.ADMIN)
# Needs can join an RFQ only while vendors have not quoted against a closed list.
RFQ_STATES_TAKING_NEEDS = (RfqState.DRAFT, RfqState.OPEN)


# The rules are in planning/rules.py; these names ask them.


def may_manage_needs(user: User) -> bool:
    """Post for any department, edit or withdraw any open need, consolidate needs."""
    return allowed(user, "planning.consolidate_need")


def may_consolidate(user: User) -> bool:
    return allowed(user, "planning.consolidate_need")


def may_post_need(user: User) -> bool:
    """Post a need at all: for their own department, or (procurement) for any."""
    return allowed(user, "planning.add_need")


def may_change_need(need: Need, user: User) -> bool:
    """Edit or withdraw: its poster or procurement, and only while it is open."""
    return need.status == NeedStatus.OPEN and allowed(user, "planning.change_need", need)


def need_reference(need: Need) -> str:
    return f"N-{need.pk:06d}" if need.pk else "N-new"


def money(amount: Decimal) -> str:
    return f"{amount:,.2f} {settings.BASE_CURRENCY}"


def _raise_first(errors: dict[str, list[str]]) -> None:
    if errors:
        raise InvalidInput(next(iter(errors.values()))[0], fields=errors)


# --- Reads ---------------------------------------------------------------------------------

_MONEY = DecimalField(max_digits=18, decimal_places=2)


def _with_totals(needs: QuerySet[Need]) -> QuerySet[Need]:
    """Each need with `total_people` and `total_budget`: its own numbers plus every
    supporting department's, and `support_count`."""
    return needs.annotate(
        supported_people=Coalesce(Sum("supports__people_affected"), Value(0)),
        supported_budget=Coalesce(Sum("supports__rough_budget"), Value(ZERO), output_field=_MONEY),
    ).annotate(
        total_people=ExpressionWrapper(
            F("people_affected") + F("supported_people"), output_field=IntegerField()
        ),
        total_budget=ExpressionWrapper(
            F("rough_budget") + F("supported_budget"), output_field=_MONEY
        ),
    )


@dataclass(frozen=True)
class NeedFilters:
    """The board's filters. `status` "" means any status; the board's default is open."""

    status: str = NeedStatus.OPEN
    department: Department | None = None  # its own, or one that said "we need this too"
    objective: Objective | None = None
    category: Category | None = None


def needs_board(*, filters: NeedFilters) -> QuerySet[Need]:
    """Needs matching `filters`, soonest needed first, with their totals and supports."""
    needs = Need.objects.all()
    if filters.status:
        needs = needs.filter(status=filters.status)
    if filters.department is not None:
        supported = NeedSupport.objects.filter(department=filters.department).values("need_id")
        needs = needs.filter(Q(department=filters.department) | Q(pk__in=supported))
    if filters.objective is not None:
        needs = needs.filter(objective=filters.objective)
    if filters.category is not None:
        needs = needs.filter(category=filters.category)
    return (
        _with_totals(needs)
        .select_related("department", "objective", "category", "created_by")
        .prefetch_related("supports__department")
        # A GROUP BY query ignores Meta.ordering: say it again, for stable pages.
        .order_by("needed_by", "id")
    )


def need_get(*, need_id: int) -> Need:
    """The need with its totals, supports and comments; NotFound when there is none."""
    need = (
        _with_totals(Need.objects.filter(pk=need_id))
        .select_related(
            "department",
            "objective__fiscal_year",
            "category",
            "created_by",
            "consolidation__purchase_request",
            "consolidation__rfq",
        )
        .prefetch_related("supports__department", "supports__supporter", "comments__author")
        .first()
    )
    if need is None:
        raise NotFound("No such need.")
    return need


def consolidation_get(*, consolidation_id: int) -> Consolidation:
    consolidation = (
        Consolidation.objects.select_related("purchase_request", "rfq", "created_by")
        .filter(pk=consolidation_id)
        .first()
    )
    if consolidation is None:
        raise NotFound("No such consolidation.")
    return consolidation


def consolidation_needs(consolidation: Consolidation) -> list[Need]:
    return list(
        _with_totals(consolidation.needs.all())
        .select_related("department", "objective", "category")
        .prefetch_related("supports__department")
        .order_by("id")
    )


@dataclass(frozen=True)
class RequestNeed:
    """A need as the page of the request it was consolidated into lists it."""

    id: int
    reference: str
    title: str
    department: str
    consolidation_id: int


# Compiled once (procurement/prepared.py): ~0.15 ms less on every request page.
_NEEDS_OF_REQUEST: PreparedQuery[tuple[int, str, str, int]] = PreparedQuery(
    lambda request_id: (
        Need.objects.filter(consolidation__purchase_request_id=request_id)
        .order_by("id")
        .values_list("id", "title", "department__name", "consolidation_id")
    )
)


def needs_of_request(*, request_id: int) -> list[RequestNeed]:
    """The needs procurement consolidated into the request, in id order (none for most).

    One query of five columns: it runs on every request page (planning.panels.needs_panel).
    Needs are public to everyone signed in, so whoever sees the request may see these.
    """
    rows = _NEEDS_OF_REQUEST.list(request_id=request_id)
    return [
        RequestNeed(
            id=pk,
            reference=f"N-{pk:06d}",  # need_reference()
            title=title,
            department=department,
            consolidation_id=consolidation_id,
        )
        for pk, title, department, consolidation_id in rows
    ]


@dataclass(frozen=True)
class ConsolidationTotals:
    needs: int
    departments: list[Department]
    people: int
    budget: Decimal


def consolidation_totals(needs: Sequence[Need]) -> ConsolidationTotals:
    """What the consolidated needs add up to. `needs` come from consolidation_needs (totals
    annotated, supports prefetched)."""
    departments: dict[int, Department] = {}
    for need in needs:
        departments.setdefault(need.department_id, need.department)
        for support in need.supports.all():
            departments.setdefault(support.department_id, support.department)
    return ConsolidationTotals(
        needs=len(needs),
        departments=sorted(departments.values(), key=lambda d: d.name),
        people=sum(_total_people(need) for need in needs),
        budget=sum((_total_budget(need) for need in needs), ZERO),
    )


def consolidation_target_visible(*, consolidation: Consolidation, user: User) -> bool:
    """Whether `user` may follow the link to the request or RFQ: the consolidation itself is
    as public as the needs, what it led to is not."""
    if consolidation.purchase_request_id is not None:
        return (
            purchase_request_visible_to(user).filter(pk=consolidation.purchase_request_id).exists()
        )
    return may_see_sourcing(user)


def _total_people(need: Need) -> int:
    annotated = getattr(need, "total_people", None)
    if annotated is not None:
        return int(annotated)
    return need.people_affected + sum(s.people_affected for s in need.supports.all())


def _total_budget(need: Need) -> Decimal:
    annotated = getattr(need, "total_budget", None)
    if annotated is not None:
        return Decimal(annotated).quantize(CENT)
    return need.rough_budget + sum((s.rough_budget for s in need.supports.all()), ZERO)


def rfqs_taking_needs() -> QuerySet[Rfq]:
    """RFQs needs may be consolidated into: draft or open."""
    return Rfq.objects.filter(state__in=RFQ_STATES_TAKING_NEEDS).order_by("-created_at", "-id")


# --- Checks --------------------------------------------------------------------------------


def _numbers_errors(
    *, people_affected: int, rough_budget: Decimal, people_field: str, budget_field: str
) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if people_affected < 1:
        errors[people_field] = ["At least one person must be affected."]
    elif people_affected > PEOPLE_MAX:
        errors[people_field] = [f"At most {PEOPLE_MAX:,} people."]
    if not rough_budget.is_finite():
        errors[budget_field] = ["Give the rough budget as a number."]
    elif rough_budget < 0:
        errors[budget_field] = ["A rough budget cannot be negative (0 when you cannot guess)."]
    elif rough_budget > ROUGH_BUDGET_MAX:
        errors[budget_field] = [f"A rough budget can be at most {money(ROUGH_BUDGET_MAX)}."]
    elif rough_budget != rough_budget.quantize(CENT):
        errors[budget_field] = ["Give the rough budget in cents at most."]
    return errors


def _objective_errors(
    objective: Objective | None, department: Department, *, unchanged: bool
) -> dict[str, list[str]]:
    """The rule purchase requests follow: an open objective, company-wide or the
    department's. An objective from another scope is refused."""
    if objective is None:
        return {}
    if not objective.serves_department(department.pk):
        return {
            "objective": [
                f'"{objective.name}" is an objective of {objective.department}, not of '
                f"{department}. Choose one of {department}'s or a company-wide objective."
            ]
        }
    if not objective.is_open and not unchanged:
        return {
            "objective": [
                f'"{objective.name}" is {objective.get_status_display().lower()}; '
                "choose an open objective."
            ]
        }
    return {}


def _require_may_post_for(by: User, department: Department, *, what: str) -> None:
    if allowed(by, "planning.add_need_for_department", department):
        return
    if by.department_id is None:
        raise NotAllowed(
            f"You belong to no department, so you cannot {what}. Ask an admin to set yours."
        )
    message = f"You can {what} only for your own department ({by.department})."
    raise NotAllowed(message, fields={"department": [message]})


@dataclass(frozen=True)
class NeedInput:
    title: str
    problem: str
    department: Department
    people_affected: int
    needed_by: dt.date
    rough_budget: Decimal
    objective: Objective | None = None
    category: Category | None = None


def _check_need(data: NeedInput, *, current: Need | None = None) -> None:
    errors: dict[str, list[str]] = {}
    title = data.title.strip()
    if not title:
        errors["title"] = ["Give the need a title."]
    elif len(title) > TITLE_MAX:
        errors["title"] = [f"At most {TITLE_MAX} characters."]
    problem = data.problem.strip()
    if not problem:
        errors["problem"] = ["Describe the problem: what goes wrong today, for whom."]
    elif len(problem) > PROBLEM_MAX:
        errors["problem"] = [f"At most {PROBLEM_MAX:,} characters."]
    date_changed = current is None or current.needed_by != data.needed_by
    if date_changed and data.needed_by < timezone.localdate():
        errors["needed_by"] = ["The needed-by date cannot be in the past."]
    errors.update(
        _numbers_errors(
            people_affected=data.people_affected,
            rough_budget=data.rough_budget,
            people_field="people_affected",
            budget_field="rough_budget",
        )
    )
    unchanged_objective = current is not None and current.objective_id == (
        data.objective.pk if data.objective else None
    )
    errors.update(_objective_errors(data.objective, data.department, unchanged=unchanged_objective))
    category_changed = current is None or current.category_id != (
        data.category.pk if data.category else None
    )
    if data.category is not None and not data.category.is_active and category_changed:
        errors["category"] = [f"Category {data.category} is no longer in use."]
    _raise_first(errors)


# --- Writes: needs -------------------------------------------------------------------------


def need_create(*, data: NeedInput, by: User) -> Need:
    """Post an open need for `data.department` (the poster's own, unless procurement or an
    admin posts it). Audited as "need_posted" in the same transaction.

    403 for another department's need; 400 for a missing title or problem, a past date, a
    negative or too large budget, or an objective that is closed or of another department.
    """
    _require_may_post_for(by, data.department, what="post a need")
    _check_need(data)
    with transaction.atomic():
        need = Need.objects.create(
            title=data.title.strip(),
            problem=data.problem.strip(),
            department=data.department,
            objective=data.objective,
            category=data.category,
            people_affected=data.people_affected,
            needed_by=data.needed_by,
            rough_budget=data.rough_budget,
            created_by=by,
        )
        audit_record(
            target=need,
            actor=by,
            action="need_posted",
            to_state=NeedStatus.OPEN,
            comment=f"{data.department}: {data.people_affected} people, {money(data.rough_budget)}",
        )
    logger.info("need %s posted by %s", need.pk, by.username)
    return need


def _lock(need_id: int) -> Need:
    # Locked so that an edit, a withdrawal, a support and a consolidation of the same need
    # happen one after another, each seeing what the one before did.
    need = Need.objects.select_for_update().filter(pk=need_id).first()
    if need is None:
        raise NotFound("No such need.")
    return need


def _require_open(need: Need, *, doing: str) -> None:
    if need.status != NeedStatus.OPEN:
        raise Conflict(
            f"{need_reference(need)} is {need.get_status_display().lower()}; only an open "
            f"need can be {doing}."
        )


def need_update(*, need_id: int, by: User, data: NeedInput) -> Need:
    """Change an open need, by its poster or procurement, under a row lock. Audited as
    "need_edited", naming the numbers that changed."""
    with transaction.atomic():
        need = _lock(need_id)
        require(
            by,
            "planning.change_need",
            need,
            message="Only the person who posted this need, or procurement, can edit it.",
        )
        _require_open(need, doing="edited")
        if data.department.pk != need.department_id:
            _require_may_post_for(by, data.department, what="post a need")
            if need.supports.filter(department=data.department).exists():
                message = (
                    f"{data.department} already said it needs this too; it cannot also be "
                    "the department that posted it."
                )
                raise InvalidInput(message, fields={"department": [message]})
        _check_need(data, current=need)
        changes: list[str] = []
        for name, value, shown in [
            ("people_affected", data.people_affected, str(data.people_affected)),
            ("rough_budget", data.rough_budget, money(data.rough_budget)),
            ("needed_by", data.needed_by, f"{data.needed_by:%d %b %Y}"),
            ("department", data.department, str(data.department)),
        ]:
            if getattr(need, name) != value:
                changes.append(f"{name.replace('_', ' ')}: {shown}")
        for name in ("title", "problem"):
            if getattr(need, name) != getattr(data, name).strip():
                changes.append(name)
        if need.objective_id != (data.objective.pk if data.objective else None):
            changes.append("objective")
        if need.category_id != (data.category.pk if data.category else None):
            changes.append("category")
        need.title = data.title.strip()
        need.problem = data.problem.strip()
        need.department = data.department
        need.objective = data.objective
        need.category = data.category
        need.people_affected = data.people_affected
        need.needed_by = data.needed_by
        need.rough_budget = data.rough_budget
        need.save()
        audit_record(
            target=need,
            actor=by,
            action="need_edited",
            comment="; ".join(changes) if changes else "No change",
        )
    return need


def need_withdraw(*, need_id: int, by: User, reason: str = "") -> Need:
    """Withdraw an open need (its poster or procurement), under a row lock; audited."""
    reason = reason.strip()
    if len(reason) > BODY_MAX:
        raise InvalidInput(
            f"At most {BODY_MAX} characters.",
            fields={"reason": [f"At most {BODY_MAX} characters."]},
        )
    with transaction.atomic():
        need = _lock(need_id)
        require(
            by,
            "planning.change_need",
            need,
            message="Only the person who posted this need, or procurement, can withdraw it.",
        )
        _require_open(need, doing="withdrawn")
        need.status = NeedStatus.WITHDRAWN
        need.save(update_fields=["status"])
        audit_record(
            target=need,
            actor=by,
            action="need_withdrawn",
            from_state=NeedStatus.OPEN,
            to_state=NeedStatus.WITHDRAWN,
            comment=reason,
        )
    return need


def need_support_add(
    *,
    need_id: int,
    by: User,
    people_affected: int,
    rough_budget: Decimal,
    note: str = "",
    department: Department | None = None,
) -> NeedSupport:
    """ "We need this too": `department` (the supporter's own unless procurement names one)
    joins an open need with its own numbers. One per department, and never the department
    that posted the need (409). Under the need's row lock; audited as "need_supported"."""
    department = department or by.department
    if department is None:
        if may_manage_needs(by):
            message = "Say which department needs this too."
            raise InvalidInput(message, fields={"department": [message]})
        raise NotAllowed(
            "You belong to no department, so you cannot say it needs this too. Ask an admin "
            "to set yours."
        )
    _require_may_post_for(by, department, what='say "we need this too"')
    note = note.strip()
    errors = _numbers_errors(
        people_affected=people_affected,
        rough_budget=rough_budget,
        people_field="people_affected",
        budget_field="rough_budget",
    )
    if len(note) > BODY_MAX:
        errors["note"] = [f"At most {BODY_MAX} characters."]
    _raise_first(errors)
    with transaction.atomic():
        need = _lock(need_id)
        _require_open(need, doing="supported")
        if need.department_id == department.pk:
            message = f"{department} posted this need; its numbers are already counted."
            raise Conflict(message, fields={"department": [message]})
        joined = need.supports.filter(department=department).select_related("supporter").first()
        if joined is not None:
            message = (
                f"{department} already said it needs this too ({joined.supporter}, "
                f"{joined.people_affected} people). One department joins once."
            )
            raise Conflict(message, fields={"department": [message]})
        try:
            with transaction.atomic():
                support = NeedSupport.objects.create(
                    need=need,
                    department=department,
                    supporter=by,
                    people_affected=people_affected,
                    rough_budget=rough_budget,
                    note=note,
                )
        except IntegrityError:
            # Without a row lock (SQLite), two supporters can pass the check together.
            message = f"{department} already said it needs this too."
            raise Conflict(message, fields={"department": [message]}) from None
        audit_record(
            target=need,
            actor=by,
            action="need_supported",
            comment=f"{department}: {people_affected} people, {money(rough_budget)}",
        )
    return support


def need_comment_add(
    *, need_id: int, by: User, body: str, kind: str = NeedCommentKind.COMMENT
) -> NeedComment:
    """A comment, or an alternative ("a shared licence would do"), by anyone signed in."""
    body = body.strip()
    errors: dict[str, list[str]] = {}
    if kind not in NeedCommentKind.values:
        errors["kind"] = [f"Choose one of: {', '.join(NeedCommentKind.values)}."]
    if not body:
        errors["body"] = ["Write something first."]
    elif len(body) > BODY_MAX:
        errors["body"] = [f"At most {BODY_MAX} characters."]
    _raise_first(errors)
    need = Need.objects.filter(pk=need_id).first()
    if need is None:
        raise NotFound("No such need.")
    return NeedComment.objects.create(need=need, author=by, kind=kind, body=body)


# --- Writes: consolidation -----------------------------------------------------------------


def _require_may_consolidate(by: User) -> None:
    if not may_consolidate(by):
        raise NotAllowed("Only procurement consolidates needs.")


def _lock_open_needs(need_ids: Sequence[int]) -> list[Need]:
    """The needs, locked in id order (so two consolidations cannot deadlock), each open."""
    ids = sorted(set(need_ids))
    if not ids:
        message = "Choose at least one need to consolidate."
        raise InvalidInput(message, fields={"needs": [message]})
    if len(ids) > MAX_NEEDS_PER_CONSOLIDATION:
        message = f"Consolidate at most {MAX_NEEDS_PER_CONSOLIDATION} needs at once."
        raise InvalidInput(message, fields={"needs": [message]})
    needs = list(Need.objects.select_for_update().filter(pk__in=ids).order_by("id"))
    missing = sorted(set(ids) - {need.pk for need in needs})
    if missing:
        message = "Unknown need " + ", ".join(f"#{pk}" for pk in missing) + "."
        raise InvalidInput(message, fields={"needs": [message]})
    closed = [need for need in needs if need.status != NeedStatus.OPEN]
    if closed:
        message = (
            "Only open needs can be consolidated: "
            + "; ".join(
                f"{need_reference(need)} “{need.title}” is {need.get_status_display().lower()}"
                for need in closed
            )
            + "."
        )
        raise Conflict(message, fields={"needs": [message]})
    # Read after the lock: supports added until now are counted, none can be added meanwhile.
    return list(
        _with_totals(Need.objects.filter(pk__in=ids))
        .select_related("department", "objective", "category")
        .prefetch_related("supports__department")
        .order_by("id")
    )


def _mark_consolidated(
    needs: Sequence[Need], consolidation: Consolidation, by: User, *, into: str
) -> None:
    Need.objects.filter(pk__in=[need.pk for need in needs]).update(
        status=NeedStatus.CONSOLIDATED, consolidation=consolidation
    )
    for need in needs:
        need.status = NeedStatus.CONSOLIDATED
        need.consolidation = consolidation
        audit_record(
            target=need,
            actor=by,
            action="need_consolidated",
            from_state=NeedStatus.OPEN,
            to_state=NeedStatus.CONSOLIDATED,
            comment=f"Into {into}",
        )


def _need_summary(need: Need) -> str:
    """One need, for a justification: its departments and their numbers."""
    parts = [f"{need.department} {need.people_affected} people, {money(need.rough_budget)}"]
    for support in need.supports.all():
        parts.append(
            f"{support.department} {support.people_affected} people, {money(support.rough_budget)}"
        )
    return (
        f"- {need_reference(need)} “{need.title}”, needed by {need.needed_by:%d %b %Y}: "
        + "; ".join(parts)
        + f". Together {_total_people(need)} people, {money(_total_budget(need))}."
    )


def _summary_line(needs: Sequence[Need]) -> str:
    totals = consolidation_totals(needs)
    return (
        f"{totals.needs} need{'s' if totals.needs != 1 else ''} of "
        f"{', '.join(d.name for d in totals.departments)}: {totals.people} people, "
        f"{money(totals.budget)}"
    )


def _justification(needs: Sequence[Need], note: str) -> str:
    head = f"Consolidated from the needs board: {_summary_line(needs)}."
    lines = [head, "", *(_need_summary(need) for need in needs)]
    if note:
        lines += ["", note]
    text = "\n".join(lines)
    if len(text) > JUSTIFICATION_MAX:
        text = text[: JUSTIFICATION_MAX - 1] + "…"
    return text


@dataclass(frozen=True)
class RequestTarget:
    """What procurement gives for the new request; the rest comes from the needs."""

    title: str
    department: Department
    cost_centre: CostCentre
    category: Category


def needs_consolidate_into_request(
    *, need_ids: Sequence[int], by: User, target: RequestTarget, note: str = ""
) -> Consolidation:
    """Gather open needs into a NEW draft purchase request, requested by `by` (procurement).

    The request: procurement's title, department, cost centre and category; needed by the
    earliest of the needs (today, if that has passed); the base currency; one line per need
    (quantity 1, unit price = its rough budget plus its supporters'); a justification listing
    every need with its departments and numbers; the needs' objective when they all share
    one that is open and serves the department, else a no-objective reason.

    All in one transaction, the needs locked in id order: the request, the Consolidation,
    each need CONSOLIDATED and audited. 403 for anyone but procurement; 409 (nothing
    written) when a need is not open or has no budget; 400 for bad request fields.
    """
    _require_may_consolidate(by)
    note = note.strip()
    title = target.title.strip()
    errors: dict[str, list[str]] = {}
    if not title:
        errors["title"] = ["Give the request a title."]
    elif len(title) > TITLE_MAX:
        errors["title"] = [f"At most {TITLE_MAX} characters."]
    if len(note) > BODY_MAX:
        errors["note"] = [f"At most {BODY_MAX} characters."]
    _raise_first(errors)
    with transaction.atomic():
        needs = _lock_open_needs(need_ids)
        unbudgeted = [need for need in needs if _total_budget(need) <= 0]
        if unbudgeted:
            message = (
                "A request needs a price for every line; give these needs a rough budget "
                "first: " + ", ".join(f"{need_reference(n)} “{n.title}”" for n in unbudgeted) + "."
            )
            raise Conflict(message, fields={"needs": [message]})
        objective_ids = {need.objective_id for need in needs}
        objective = needs[0].objective if len(objective_ids) == 1 else None
        if objective is not None and (
            not objective.is_open or not objective.serves_department(target.department.pk)
        ):
            objective = None
        references = ", ".join(need_reference(need) for need in needs)
        reason = (
            ""
            if objective is not None
            else f"Consolidated from needs {references}, which serve no single open objective "
            f"of {target.department}."
        )
        if len(reason) > 500:
            reason = reason[:499] + "…"
        lines = [
            LineItemInput(
                description=f"{need_reference(need)} {need.title}"[:300],
                quantity=Decimal("1"),
                unit_price=_total_budget(need),
            )
            for need in needs
        ]
        needed_by = max(min(need.needed_by for need in needs), timezone.localdate())
        request = purchase_request_create(
            requester=by,
            data=RequestInput(
                title=title,
                justification=_justification(needs, note),
                department=target.department,
                cost_centre=target.cost_centre,
                category=target.category,
                needed_by=needed_by,
                currency=settings.BASE_CURRENCY,
                objective=objective,
                no_objective_reason=reason,
                line_items=lines,
            ),
        )
        consolidation = Consolidation.objects.create(
            kind=ConsolidationKind.REQUEST, purchase_request=request, note=note, created_by=by
        )
        _mark_consolidated(needs, consolidation, by, into=request.reference)
        audit_record(
            target=request,
            actor=by,
            action="needs_consolidated",
            comment=f"From {references} ({_summary_line(needs)})",
        )
    logger.info("needs %s consolidated into %s by %s", references, request.reference, by.username)
    return consolidation


def needs_consolidate_into_rfq(
    *, need_ids: Sequence[int], by: User, rfq_id: int, note: str = ""
) -> Consolidation:
    """Gather open needs into an existing RFQ that is still draft or open.

    One transaction: the needs locked in id order, then the RFQ (so it cannot close
    meanwhile); the Consolidation, each need CONSOLIDATED and audited, and an audit entry
    on the RFQ. 403 for anyone but procurement; 409 (nothing written) for a need that is not
    open or an RFQ that is closed, awaiting award, awarded or cancelled.
    """
    _require_may_consolidate(by)
    note = note.strip()
    if len(note) > BODY_MAX:
        raise InvalidInput(
            f"At most {BODY_MAX} characters.", fields={"note": [f"At most {BODY_MAX} characters."]}
        )
    with transaction.atomic():
        needs = _lock_open_needs(need_ids)
        rfq = Rfq.objects.select_for_update().filter(pk=rfq_id).first()
        if rfq is None:
            raise NotFound("No such RFQ.")
        if rfq.state not in RFQ_STATES_TAKING_NEEDS:
            message = (
                f"{rfq.reference} is {rfq.get_state_display().lower()}; needs can join only a "
                "draft or open RFQ."
            )
            raise Conflict(message, fields={"rfq": [message]})
        consolidation = Consolidation.objects.create(
            kind=ConsolidationKind.RFQ, rfq=rfq, note=note, created_by=by
        )
        _mark_consolidated(needs, consolidation, by, into=rfq.reference)
        references = ", ".join(need_reference(need) for need in needs)
        audit_record(
            target=rfq,
            actor=by,
            action="needs_consolidated",
            comment=f"From {references} ({_summary_line(needs)})",
        )
    logger.info("needs %s consolidated into %s by %s", references, rfq.reference, by.username)
    return consolidation
