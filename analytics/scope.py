"""Who sees which spend, and the filters every analytics view takes.

Procurement, finance and admins see all spend. A manager (the role) sees the spend of the
department they belong to or head, through the spend departments mapped to it; nobody else
sees spend. Every selector takes a `SpendFilters` already narrowed by `spend_filters_for`,
so no view can forget the scope.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace

from django.db.models import Q

from analytics.models import Payee, SpendDepartment
from procurement.errors import InvalidInput, NotAllowed
from procurement.models import Role, User
from procurement.permissions import allowed

ROLES_SEEING_ALL_SPEND = frozenset({Role.PROCUREMENT, Role.FINANCE, Role.ADMIN})
ROLES_IMPORTING_SPEND = frozenset({Role.PROCUREMENT, Role.FINANCE, Role.ADMIN})
# Filter ids are database keys: at most this many digits (a bigint has 19), so a huge
# number is a 400, not an integer overflow in the database.
ID_MAX_DIGITS = 18
# Ids per filter: a menu offers one; the API takes a handful. Bounds the SQL IN list.
IDS_PER_FILTER_MAX = 200
# The months a filter may name: a year outside would overflow date arithmetic.
FILTER_YEAR_MIN = 1900
FILTER_YEAR_MAX = 2999


@dataclass(frozen=True)
class SpendFilters:
    """Months are first days of months, inclusive. Empty id sets mean "any"."""

    month_from: dt.date | None = None
    month_to: dt.date | None = None
    department_ids: frozenset[int] = field(default_factory=frozenset)
    category_ids: frozenset[int] = field(default_factory=frozenset)
    payee_ids: frozenset[int] = field(default_factory=frozenset)
    # None: every department. A frozenset: only these (the user's scope); may be empty,
    # which means the user may see no spend at all.
    scope_department_ids: frozenset[int] | None = None

    @property
    def dimensions(self) -> set[str]:
        """The rollup columns these filters need ("department", "category", "payee")."""
        dims = set()
        if self.department_ids or self.scope_department_ids is not None:
            dims.add("department")
        if self.category_ids:
            dims.add("category")
        if self.payee_ids:
            dims.add("payee")
        return dims

    def q(self, prefix: str = "") -> Q:
        """These filters as a Q over a rollup or the lines (`prefix` for a related path)."""
        q = Q()
        if self.month_from:
            q &= Q(**{f"{prefix}month__gte": self.month_from})
        if self.month_to:
            q &= Q(**{f"{prefix}month__lte": self.month_to})
        if self.department_ids:
            q &= Q(**{f"{prefix}department_id__in": self.department_ids})
        if self.scope_department_ids is not None:
            q &= Q(**{f"{prefix}department_id__in": self.scope_department_ids})
        if self.category_ids:
            q &= Q(**{f"{prefix}category_id__in": self.category_ids})
        if self.payee_ids:
            q &= Q(**{f"{prefix}payee_id__in": self.payee_ids})
        return q


def spend_access(user: User) -> bool:
    return allowed(user, "analytics.view_spend")


def spend_may_import(user: User) -> bool:
    return allowed(user, "analytics.add_spendimport")


def spend_scope_department_ids(user: User) -> frozenset[int] | None:
    """None when the user sees all spend; otherwise the spend departments they may see."""
    if user.has_role(*ROLES_SEEING_ALL_SPEND):
        return None
    if not user.has_role(Role.MANAGER):
        return frozenset()
    departments = Q(department__head=user)
    if user.department_id:
        departments |= Q(department_id=user.department_id)
    return frozenset(SpendDepartment.objects.filter(departments).values_list("id", flat=True))


def spend_filters_for(user: User, filters: SpendFilters | None = None) -> SpendFilters:
    """`filters` narrowed to what `user` may see. Raises NotAllowed for no access at all."""
    if not spend_access(user):
        raise NotAllowed("Spend analytics are for procurement, finance and managers.")
    return replace(filters or SpendFilters(), scope_department_ids=spend_scope_department_ids(user))


def filter_month(value: str, name: str) -> dt.date | None:
    """A filter's month ("2026-01" or a date in it) as its first day; InvalidInput naming `name`."""
    value = value.strip()
    if not value:
        return None
    try:
        parsed = dt.date.fromisoformat(value + "-01" if len(value) == 7 else value)
    except ValueError:
        raise InvalidInput(
            f"{name} must be a month like 2026-01.", fields={name: ["Use YYYY-MM, e.g. 2026-01."]}
        ) from None
    if not FILTER_YEAR_MIN <= parsed.year <= FILTER_YEAR_MAX:
        raise InvalidInput(
            f"{name} must be a month between {FILTER_YEAR_MIN} and {FILTER_YEAR_MAX}.",
            fields={name: [f"Use a year from {FILTER_YEAR_MIN} to {FILTER_YEAR_MAX}."]},
        )
    return parsed.replace(day=1)


def filter_id(part: str) -> int | None:
    """`part` as a database id: ASCII digits only ("²" is a digit to str.isdigit, not to
    int()), and short enough for a bigint. None for anything else."""
    part = part.strip()
    if not part or len(part) > ID_MAX_DIGITS or not (part.isascii() and part.isdigit()):
        return None
    return int(part)


def _ids(values: list[str], name: str) -> frozenset[int]:
    ids = set()
    for value in values:
        for part in value.split(","):
            part = part.strip()
            if not part:
                continue
            value_id = filter_id(part)
            if value_id is None:
                raise InvalidInput(
                    f"{name} must be ids (whole numbers).",
                    fields={name: [f"{part[:40]!r} is not an id."]},
                )
            ids.add(value_id)
    if len(ids) > IDS_PER_FILTER_MAX:
        raise InvalidInput(
            f"{name} names too many ids.",
            fields={name: [f"At most {IDS_PER_FILTER_MAX} ids."]},
        )
    return frozenset(ids)


def spend_filters_parse(params: dict[str, list[str]]) -> SpendFilters:
    """Filters from a query string: from=YYYY-MM, to=YYYY-MM, department, category,
    payee and vendor (ids, repeated or comma-separated; a vendor stands for all its payees).
    Bad values raise InvalidInput naming the field."""

    def first(name: str) -> str:
        values = params.get(name) or [""]
        return values[0]

    month_from = filter_month(first("from"), "from")
    month_to = filter_month(first("to"), "to")
    if month_from and month_to and month_from > month_to:
        raise InvalidInput(
            "The period ends before it starts.", fields={"to": ["Must not be before 'from'."]}
        )
    payee_ids = _ids(params.get("payee", []), "payee")
    vendor_ids = _ids(params.get("vendor", []), "vendor")
    if vendor_ids:
        vendor_payees = frozenset(
            Payee.objects.filter(vendor_id__in=vendor_ids).values_list("id", flat=True)
        )
        # A vendor with no spend yet must select nothing, not everything (empty = "any").
        payee_ids = (payee_ids & vendor_payees if payee_ids else vendor_payees) or frozenset({0})
    return SpendFilters(
        month_from=month_from,
        month_to=month_to,
        department_ids=_ids(params.get("department", []), "department"),
        category_ids=_ids(params.get("category", []), "category"),
        payee_ids=payee_ids,
    )
