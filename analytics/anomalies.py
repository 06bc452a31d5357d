"""Findings in the spend ledger: likely duplicate payments, split purchases, and spend with
vendors that are not approved.

Duplicates and splits are found incrementally: every write of lines calls
`anomalies_scan_lines` with the SQL that selects exactly the new lines, in the same
transaction, and the scan compares those lines with the whole ledger through the
(payee, date) index. The heavy part is one set-based query per kind (per threshold for
splits), so a million-line import costs a few joins, not a query per line; Python only
sees the lines that are part of a finding.

A finding is a `SpendAnomaly`, unique by (kind, key), so scanning the same lines again
records nothing new. A dismissed finding stays dismissed, unless a line that was not part of
it before joins it (a third identical payment is news).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Exists, Max, Min, OuterRef, Prefetch, Q, QuerySet, Sum
from django.utils import timezone

from analytics.models import (
    AnomalyKind,
    PayeeMatch,
    SpendAnomaly,
    SpendByMonthPayee,
    SpendLine,
)
from analytics.payees import REDACTED_KEY
from analytics.scope import SpendFilters
from approvals.models import ApprovalRule
from procurement.errors import Conflict, InvalidInput, NotAllowed
from procurement.models import Role, User
from procurement.services import audit_record
from vendors.models import VendorState

CENT = Decimal("0.01")
DEFAULT_SPLIT_THRESHOLDS = [Decimal(t) for t in ("500", "1000", "5000", "10000", "25000")]
ROLES_DISMISSING = frozenset({Role.PROCUREMENT, Role.FINANCE})
# Keys longer than the column are shortened to a prefix and a hash of the whole.
_KEY_MAX = SpendAnomaly._meta.get_field("key").max_length or 200
_CHUNK = 5000

LINES = SpendLine._meta.db_table
ANOMALIES = SpendAnomaly._meta.db_table
LINKS = SpendAnomaly.lines.through._meta.db_table


# --- Settings -------------------------------------------------------------------------


def split_window_days() -> int:
    return int(getattr(settings, "SPEND_SPLIT_WINDOW_DAYS", 7))


def split_band_percent() -> int:
    return int(getattr(settings, "SPEND_SPLIT_BAND_PERCENT", 20))


def split_thresholds() -> list[Decimal]:
    """The amounts a split purchase stays under: every "total at or above" of the active
    approval policy's rules, plus SPEND_SPLIT_THRESHOLDS (in the base currency)."""
    rule_totals = ApprovalRule.objects.filter(
        policy__is_active=True, min_total__isnull=False, min_total__gt=0
    ).values_list("min_total", flat=True)
    configured = getattr(settings, "SPEND_SPLIT_THRESHOLDS", DEFAULT_SPLIT_THRESHOLDS)
    return sorted({Decimal(t).quantize(CENT) for t in [*rule_totals, *configured]})


# --- The scan -------------------------------------------------------------------------


@dataclass
class _Found:
    """A group of lines that makes one finding, before it is written."""

    kind: str
    key: str
    payee_id: int
    detail: str
    line_ids: set[int] = field(default_factory=set)


def _key(text: str) -> str:
    if len(text) <= _KEY_MAX:
        return text
    digest = hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()
    return f"{text[: _KEY_MAX - 41]}~{digest}"


def _decimal(value: object) -> Decimal:
    # SQLite hands raw NUMERIC columns back as int or float; their str() is exact enough
    # for two decimal places.
    return Decimal(str(value)).quantize(CENT)


def _date(value: object) -> dt.date:
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def _days_around(column: str, days: int) -> tuple[str, str]:
    """SQL for `column` minus and plus `days` days (a date), on PostgreSQL and SQLite."""
    days = int(days)
    if connection.vendor == "postgresql":
        return f"({column} - {days})", f"({column} + {days})"
    return f"date({column}, '-{days} days')", f"date({column}, '+{days} days')"


def _fetch(sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _duplicates_by_date(where: str, params: Sequence[Any]) -> list[_Found]:
    # The new lines that have a twin (same payee, date, currency and amount) anywhere in the
    # ledger, then every line of those groups, old ones included.
    rows = _fetch(
        f"""
        WITH hit AS (
            SELECT DISTINCT n.payee_id, n.date, n.currency, n.amount
            FROM (SELECT id, payee_id, date, currency, amount FROM {LINES}
                  WHERE ({where}) AND amount <> 0) n
            WHERE EXISTS (
                SELECT 1 FROM {LINES} o
                WHERE o.payee_id = n.payee_id AND o.date = n.date
                  AND o.amount = n.amount AND o.currency = n.currency AND o.id <> n.id
            )
        )
        SELECT l.id, l.payee_id, l.date, l.currency, l.amount
        FROM hit h JOIN {LINES} l
          ON l.payee_id = h.payee_id AND l.date = h.date
         AND l.amount = h.amount AND l.currency = h.currency
        """,  # noqa: S608 (table names are ours; values are parameters)
        params,
    )
    groups: dict[str, _Found] = {}
    for line_id, payee_id, date, currency, amount in rows:
        date, amount = _date(date), _decimal(amount)
        key = _key(f"date:{payee_id}:{date.isoformat()}:{currency}:{amount}")
        if key not in groups:
            groups[key] = _Found(
                kind=AnomalyKind.DUPLICATE_PAYMENT,
                key=key,
                payee_id=payee_id,
                detail=f"{amount:,} {currency} paid more than once on {date:%d %b %Y}",
            )
        groups[key].line_ids.add(line_id)
    return [g for g in groups.values() if len(g.line_ids) >= 2]


def _duplicates_by_reference(where: str, params: Sequence[Any]) -> list[_Found]:
    rows = _fetch(
        f"""
        WITH hit AS (
            SELECT DISTINCT n.payee_id, n.reference, n.currency, n.amount
            FROM (SELECT id, payee_id, reference, currency, amount FROM {LINES}
                  WHERE ({where}) AND amount <> 0 AND reference <> '') n
            WHERE EXISTS (
                SELECT 1 FROM {LINES} o
                WHERE o.payee_id = n.payee_id AND o.reference = n.reference
                  AND o.amount = n.amount AND o.currency = n.currency AND o.id <> n.id
            )
        )
        SELECT l.id, l.payee_id, l.reference, l.currency, l.amount, l.date
        FROM hit h JOIN {LINES} l
          ON l.payee_id = h.payee_id AND l.reference = h.reference
         AND l.amount = h.amount AND l.currency = h.currency
        """,  # noqa: S608
        params,
    )
    groups: dict[str, _Found] = {}
    dates: dict[str, set[dt.date]] = defaultdict(set)
    for line_id, payee_id, reference, currency, amount, date in rows:
        amount = _decimal(amount)
        key = _key(f"ref:{payee_id}:{currency}:{amount}:{reference}")
        if key not in groups:
            groups[key] = _Found(
                kind=AnomalyKind.DUPLICATE_PAYMENT,
                key=key,
                payee_id=payee_id,
                detail=f"{amount:,} {currency} paid more than once under reference {reference}"[
                    :300
                ],
            )
        groups[key].line_ids.add(line_id)
        dates[key].add(_date(date))
    # Lines that share the reference and the date are already a same-date finding.
    return [g for g in groups.values() if len(g.line_ids) >= 2 and len(dates[g.key]) >= 2]


def _split_candidates(
    where: str, params: Sequence[Any], *, threshold: Decimal, low: Decimal, window: int
) -> list[tuple[Any, ...]]:
    """Pairs (new line, any line) of one payee within the window, both in [low, threshold)."""
    start, end = _days_around("n.date", window - 1)
    return _fetch(
        f"""
        SELECT n.id, n.payee_id, n.date, n.base_amount, o.id, o.date, o.base_amount
        FROM (SELECT id, payee_id, date, base_amount FROM {LINES}
              WHERE ({where}) AND base_amount >= %s AND base_amount < %s) n
        JOIN {LINES} o
          ON o.payee_id = n.payee_id AND o.date BETWEEN {start} AND {end} AND o.id <> n.id
        WHERE o.base_amount >= %s AND o.base_amount < %s
        """,  # noqa: S608
        [*params, low, threshold, low, threshold],
    )


def _split_purchases(where: str, params: Sequence[Any]) -> list[_Found]:
    window = split_window_days()
    band = Decimal(split_band_percent()) / 100
    base = getattr(settings, "BASE_CURRENCY", "")
    found: list[_Found] = []
    for threshold in split_thresholds():
        low = (threshold * (1 - band)).quantize(CENT)
        pairs = _split_candidates(where, params, threshold=threshold, low=low, window=window)
        if not pairs:
            continue
        # Payments chained by "within the window of each other" make one finding.
        amounts: dict[int, Decimal] = {}
        payees: dict[int, int] = {}
        for a, payee_id, _a_date, a_amount, b, _b_date, b_amount in pairs:
            amounts[a], amounts[b] = _decimal(a_amount), _decimal(b_amount)
            payees[a] = payees[b] = payee_id
        components = _connected([(a, b) for a, _, _, _, b, _, _ in pairs])
        existing = _split_anomalies_of(set(amounts), threshold=threshold)
        for line_ids in components:
            if len(line_ids) < 2 or sum(amounts[i] for i in line_ids) < threshold:
                continue
            payee_id = payees[next(iter(line_ids))]
            key = _split_key_for(line_ids, existing, payee_id=payee_id, threshold=threshold)
            found.append(
                _Found(
                    kind=AnomalyKind.SPLIT_PURCHASE,
                    key=key,
                    payee_id=payee_id,
                    detail=f"Payments just under {threshold:,} {base} within {window} days",
                    line_ids=line_ids,
                )
            )
    return found


def _connected(pairs: Iterable[tuple[int, int]]) -> list[set[int]]:
    """The groups of ids that `pairs` link together, directly or through others."""
    parent: dict[int, int] = {}

    def root(x: int) -> int:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in pairs:
        parent[root(a)] = root(b)
    groups: dict[int, set[int]] = defaultdict(set)
    for x in list(parent):
        groups[root(x)].add(x)
    return list(groups.values())


@dataclass
class _Existing:
    key: str
    dismissed: bool
    line_ids: set[int]


def _split_anomalies_of(line_ids: set[int], *, threshold: Decimal) -> dict[int, list[_Existing]]:
    """The split findings for `threshold` that already hold any of `line_ids`, by line id."""
    links = SpendAnomaly.lines.through.objects
    by_id: dict[int, _Existing] = {}
    for chunk in _chunks(sorted(line_ids)):
        rows = links.filter(
            spendline_id__in=chunk,
            spendanomaly__kind=AnomalyKind.SPLIT_PURCHASE,
            spendanomaly__key__contains=f":{threshold}:",
        ).values_list("spendanomaly_id", "spendanomaly__key", "spendanomaly__dismissed_at")
        for anomaly_id, key, dismissed_at in rows:
            by_id.setdefault(anomaly_id, _Existing(key, dismissed_at is not None, set()))
    if by_id:
        for anomaly_id, line_id in links.filter(spendanomaly_id__in=list(by_id)).values_list(
            "spendanomaly_id", "spendline_id"
        ):
            by_id[anomaly_id].line_ids.add(line_id)
    by_line: dict[int, list[_Existing]] = defaultdict(list)
    for anomaly in by_id.values():
        for line_id in anomaly.line_ids:
            by_line[line_id].append(anomaly)
    return by_line


def _split_key_for(
    line_ids: set[int],
    existing: dict[int, list[_Existing]],
    *,
    payee_id: int,
    threshold: Decimal,
) -> str:
    """Lines join the finding they touch (an open one first); otherwise they start one,
    named after its first line, so scanning them again finds the same key.
    `existing` maps a line id to the findings that hold it."""
    touching = {e.key: e for line_id in line_ids for e in existing.get(line_id, [])}
    if touching:
        return min(touching.values(), key=lambda e: (e.dismissed, e.key)).key
    return _key(f"{payee_id}:{threshold}:{min(line_ids)}")


def _chunks(values: Sequence[int], size: int = _CHUNK) -> Iterator[Sequence[int]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _record(found: list[_Found]) -> int:
    """Write the findings: create the missing ones, link their lines, reopen a dismissed
    finding a new line joined, and refresh the dates and amounts. Returns how many were new."""
    if not found:
        return 0
    by_key: dict[tuple[str, str], _Found] = {}
    for group in found:
        known = by_key.get((group.kind, group.key))
        if known:
            known.line_ids |= group.line_ids
        else:
            by_key[(group.kind, group.key)] = group
    ids: dict[tuple[str, str], int] = {}
    for kind in {kind for kind, _ in by_key}:
        keys = sorted(key for k, key in by_key if k == kind)
        for chunk in _chunks(keys):  # type: ignore[arg-type]
            ids.update(
                ((kind, key), pk)
                for key, pk in SpendAnomaly.objects.filter(kind=kind, key__in=chunk).values_list(
                    "key", "pk"
                )
            )
    today = timezone.localdate()
    new = [
        SpendAnomaly(
            kind=group.kind,
            key=group.key,
            payee_id=group.payee_id,
            first_date=today,
            last_date=today,
            amount=0,
            detail=group.detail[:300],
        )
        for k, group in by_key.items()
        if k not in ids
    ]
    SpendAnomaly.objects.bulk_create(new, batch_size=1000, ignore_conflicts=True)
    created_keys = {(a.kind, a.key) for a in new}
    for kind in {kind for kind, _ in created_keys}:
        keys = sorted(key for k, key in created_keys if k == kind)
        for chunk in _chunks(keys):  # type: ignore[arg-type]
            ids.update(
                ((kind, key), pk)
                for key, pk in SpendAnomaly.objects.filter(kind=kind, key__in=chunk).values_list(
                    "key", "pk"
                )
            )

    links = SpendAnomaly.lines.through
    wanted = {(ids[k], line_id) for k, group in by_key.items() for line_id in group.line_ids}
    have: set[tuple[int, int]] = set()
    for chunk in _chunks(sorted(set(ids.values()))):
        have.update(
            links.objects.filter(spendanomaly_id__in=chunk).values_list(
                "spendanomaly_id", "spendline_id"
            )
        )
    missing = wanted - have
    # Plain multi-row INSERTs: tens of thousands of links on a big import, and model
    # instances for each would cost more than the database work.
    ordered = sorted(missing)
    with connection.cursor() as cursor:
        for start in range(0, len(ordered), 1000):
            batch = ordered[start : start + 1000]
            cursor.execute(
                f"INSERT INTO {LINKS} (spendanomaly_id, spendline_id) VALUES "  # noqa: S608
                + ", ".join(["(%s, %s)"] * len(batch))
                + " ON CONFLICT DO NOTHING",
                [value for pair in batch for value in pair],
            )
    changed = sorted({a for a, _ in missing})
    _reopen(changed)
    _refresh(changed)
    return len(new)


def _reopen(anomaly_ids: Sequence[int]) -> None:
    for chunk in _chunks(anomaly_ids):
        for anomaly in SpendAnomaly.objects.filter(pk__in=chunk, dismissed_at__isnull=False):
            audit_record(
                target=anomaly,
                actor=None,
                action="anomaly_reopened",
                comment="A payment that was not part of it when it was dismissed joined it.",
            )
            anomaly.dismissed_at = None
            anomaly.dismissed_by = None
            anomaly.dismissed_reason = ""
            anomaly.save(update_fields=["dismissed_at", "dismissed_by", "dismissed_reason"])


def _refresh(anomaly_ids: Sequence[int]) -> None:
    """Dates and amount of each finding from its lines (UPDATE ... FROM: PostgreSQL, and
    SQLite since 3.33)."""
    for chunk in _chunks(anomaly_ids):
        placeholders = ", ".join(["%s"] * len(chunk))
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {ANOMALIES} SET amount = agg.total, "  # noqa: S608
                "first_date = agg.first_date, last_date = agg.last_date "
                "FROM (SELECT t.spendanomaly_id AS anomaly_id, SUM(l.base_amount) AS total, "
                "MIN(l.date) AS first_date, MAX(l.date) AS last_date "
                f"FROM {LINKS} t JOIN {LINES} l ON l.id = t.spendline_id "
                f"WHERE t.spendanomaly_id IN ({placeholders}) GROUP BY t.spendanomaly_id) agg "
                f"WHERE {ANOMALIES}.id = agg.anomaly_id",
                list(chunk),
            )


def anomalies_scan_lines(*, where: str, params: Sequence[Any] = ()) -> int:
    """Find duplicates and split purchases among the lines matching `where` (SQL over the
    lines table, e.g. "spend_import_id = %s") and the whole ledger, and record them.

    Call it in the transaction that inserted those lines, after inserting them. Idempotent:
    scanning the same lines again records nothing. Returns how many findings are new.
    """
    with transaction.atomic():
        found = _duplicates_by_date(where, params)
        found += _duplicates_by_reference(where, params)
        found += _split_purchases(where, params)
        return _record(found)


def anomalies_forget_lines(*, where: str, params: Sequence[Any] = ()) -> None:
    """Take the lines matching `where` out of every finding, before they are deleted, in the
    same transaction; a finding left with fewer than two lines is no finding and goes."""
    selected = f"SELECT id FROM {LINES} WHERE ({where})"  # noqa: S608
    with transaction.atomic():
        affected = [
            row[0]
            for row in _fetch(
                f"SELECT DISTINCT spendanomaly_id FROM {LINKS} "  # noqa: S608
                f"WHERE spendline_id IN ({selected})",
                params,
            )
        ]
        if not affected:
            return
        with connection.cursor() as cursor:
            cursor.execute(
                f"DELETE FROM {LINKS} WHERE spendline_id IN ({selected})",  # noqa: S608
                params,
            )
        left: dict[int, int] = defaultdict(int)
        for chunk in _chunks(sorted(affected)):
            for anomaly_id in SpendAnomaly.lines.through.objects.filter(
                spendanomaly_id__in=chunk
            ).values_list("spendanomaly_id", flat=True):
                left[anomaly_id] += 1
        gone = [a for a in affected if left[a] < 2]
        for chunk in _chunks(sorted(gone)):
            SpendAnomaly.objects.filter(pk__in=chunk).delete()
        _refresh(sorted(set(affected) - set(gone)))


# --- Dismissing -----------------------------------------------------------------------


def anomaly_may_dismiss(user: User) -> bool:
    return user.is_active and user.has_role(*ROLES_DISMISSING)


def anomaly_dismiss(*, anomaly: SpendAnomaly, user: User, reason: str) -> SpendAnomaly:
    """Mark a finding as looked at and explained. Procurement and finance only; the reason
    is required and audited. Locks the row, so two people dismissing at once get one
    dismissal and one "already dismissed"."""
    if not anomaly_may_dismiss(user):
        raise NotAllowed("Only procurement and finance dismiss findings.")
    reason = reason.strip()
    if not reason:
        raise InvalidInput(
            "Say why this is not a problem.", fields={"reason": ["A reason is required."]}
        )
    with transaction.atomic():
        locked = SpendAnomaly.objects.select_for_update().get(pk=anomaly.pk)
        if locked.dismissed_at is not None:
            raise Conflict(f"This finding was already dismissed by {locked.dismissed_by}.")
        locked.dismissed_at = timezone.now()
        locked.dismissed_by = user
        locked.dismissed_reason = reason
        locked.save(update_fields=["dismissed_at", "dismissed_by", "dismissed_reason"])
        audit_record(target=locked, actor=user, action="anomaly_dismissed", comment=reason)
    return locked


# --- Reading --------------------------------------------------------------------------


class AnomalyStatus:
    OPEN = "open"
    DISMISSED = "dismissed"
    ALL = "all"
    CHOICES = [(OPEN, "Open"), (DISMISSED, "Dismissed"), (ALL, "All")]


def anomaly_list(
    *, filters: SpendFilters, kind: str, status: str = AnomalyStatus.OPEN
) -> QuerySet[SpendAnomaly]:
    """Findings of `kind` with at least one line within `filters` (scope included), with
    the lines the user may see prefetched, newest first."""
    links = SpendAnomaly.lines.through.objects.filter(spendanomaly_id=OuterRef("pk")).filter(
        filters.q("spendline__")
    )
    anomalies = SpendAnomaly.objects.filter(kind=kind).filter(Exists(links))
    if status == AnomalyStatus.OPEN:
        anomalies = anomalies.filter(dismissed_at__isnull=True)
    elif status == AnomalyStatus.DISMISSED:
        anomalies = anomalies.filter(dismissed_at__isnull=False)
    in_scope = SpendFilters(scope_department_ids=filters.scope_department_ids).q()
    visible_lines = (
        SpendLine.objects.filter(in_scope)
        .select_related("source", "department", "category")
        .order_by("date", "id")
    )
    return anomalies.select_related("payee", "payee__vendor", "dismissed_by").prefetch_related(
        Prefetch("lines", queryset=visible_lines, to_attr="visible_lines")
    )


@dataclass
class VendorSpend:
    payee_id: int
    payee: str
    vendor_id: int | None
    vendor: str
    state: str  # a VendorState value, or "" for no vendor record
    status: str
    amount: Decimal
    lines: int
    first_month: dt.date
    last_month: dt.date


STOPPED_STATES = {VendorState.BLOCKED, VendorState.SUSPENDED}


def spend_with_unapproved_vendors(*, filters: SpendFilters) -> list[VendorSpend]:
    """Spend per payee whose vendor is not approved (blocked and suspended first in the
    status), or that has no vendor record at all, largest first. Read from the month-and-payee
    rollup; when department or category filters apply (a manager's scope among them), from
    the lines of those payees, since no rollup crosses payees with departments."""
    not_approved = Q(payee__vendor__isnull=True) | ~Q(payee__vendor__state=VendorState.APPROVED)
    if filters.dimensions - {"payee"}:
        source = SpendLine.objects.filter(filters.q()).filter(not_approved)
        total, count = Sum("base_amount"), Count("id")
    else:
        source = SpendByMonthPayee.objects.filter(filters.q()).filter(not_approved)  # type: ignore[assignment]
        total, count = Sum("amount"), Sum("lines")  # type: ignore[assignment]
    rows = (
        source.exclude(payee__key__in=["", REDACTED_KEY])
        .exclude(payee__match=PayeeMatch.REDACTED)
        .values(
            "payee_id",
            "payee__name",
            "payee__vendor_id",
            "payee__vendor__legal_name",
            "payee__vendor__state",
        )
        .annotate(total=total, count=count, first=Min("month"), last=Max("month"))
        .order_by("-total", "payee__name")
    )
    labels = dict(VendorState.choices)
    result = []
    for row in rows:
        state = row["payee__vendor__state"] or ""
        if not row["payee__vendor_id"]:
            status = "No vendor record"
        elif state in STOPPED_STATES:
            status = f"Vendor {labels[state].lower()}"
        else:
            status = f"Vendor not approved ({labels.get(state, state).lower()})"
        result.append(
            VendorSpend(
                payee_id=row["payee_id"],
                payee=row["payee__name"],
                vendor_id=row["payee__vendor_id"],
                vendor=row["payee__vendor__legal_name"] or "",
                state=state,
                status=status,
                amount=row["total"],
                lines=row["count"],
                first_month=row["first"],
                last_month=row["last"],
            )
        )
    return result


def anomaly_lines_rows(anomalies: Iterable[SpendAnomaly]) -> Iterator[list[object]]:
    """One export row per line of each finding (the lines the user may see)."""
    for anomaly in anomalies:
        for line in getattr(anomaly, "visible_lines", []):
            yield [
                anomaly.pk,
                anomaly.get_kind_display(),
                anomaly.detail,
                anomaly.payee.name,
                "dismissed" if anomaly.dismissed_at else "open",
                line.date,
                line.amount,
                line.currency,
                line.base_amount,
                line.reference,
                line.department.name,
                line.category.name,
                line.source.name,
                line.description,
            ]
