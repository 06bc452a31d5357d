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
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import (
    Count,
    DecimalField,
    Exists,
    F,
    Max,
    Min,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce
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
from procurement.permissions import allowed
from procurement.services import audit_record
from vendors.models import VendorState

CENT = Decimal("0.01")
DEFAULT_SPLIT_THRESHOLDS = [Decimal(t) for t in ("500", "1000", "5000", "10000", "25000")]
ROLES_DISMISSING = frozenset({Role.PROCUREMENT, Role.FINANCE})
# Keys longer than the column are shortened to a prefix and a hash of the whole.
_KEY_MAX = SpendAnomaly._meta.get_field("key").max_length or 200
_CHUNK = 5000
_AMOUNT = DecimalField(max_digits=18, decimal_places=2)

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

# A chain of more payments than this, each just under one threshold and each less than the
# window after the one before, is a recurring payment (a weekly delivery, a standing order),
# not one purchase split to stay under the threshold: it is not reported.
SPLIT_MAX_PAYMENTS = 10
# Findings read from the database per round trip, once SQL has found them.
_BATCH = 2000
# Work tables of one scan, temporary (this connection only) and dropped at its end:
# the lines of each group found, and the finding each group makes or joins.
_MEMBERS = "anomaly_scan_member"  # (tag, first_id, line_id)
_GROUPS = "anomaly_scan_group"  # (tag, first_id, anomaly_id)
_CHANGED = "anomaly_scan_changed"  # (anomaly_id): findings a line joined
# A group is (tag, first_id): what was found, and the smallest id among its lines.
_TAG_DATE = 0  # same payee, date, currency and amount
_TAG_REFERENCE = 1  # same payee, reference, currency and amount, on different dates
_TAG_SPLIT = 2  # + the index of the threshold in split_thresholds()


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


def _postgres() -> bool:
    return connection.vendor == "postgresql"


def _date_plus(expression: str, days: int) -> str:
    """SQL for the date `expression` plus `days` (may be negative), PostgreSQL and SQLite."""
    days = int(days)
    if _postgres():
        return f"({expression} + {days})"
    return f"date({expression}, '{days:+d} days')"


def _days_between(later: str, earlier: str) -> str:
    if _postgres():
        return f"({later} - {earlier})"
    return f"(julianday({later}) - julianday({earlier}))"


def _fetch(sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _execute(sql: str, params: Sequence[Any] = ()) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def _chunks(values: Sequence[Any], size: int = _CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _work_tables_create() -> None:
    _work_tables_drop()
    _execute(
        f"CREATE TEMPORARY TABLE {_MEMBERS} "
        "(tag integer NOT NULL, first_id bigint NOT NULL, line_id bigint NOT NULL)"
    )
    _execute(
        f"CREATE TEMPORARY TABLE {_GROUPS} (tag integer NOT NULL, first_id bigint NOT NULL, "
        "anomaly_id bigint NOT NULL, PRIMARY KEY (tag, first_id))"
    )


def _work_tables_drop() -> None:
    for table in (_MEMBERS, _GROUPS, _CHANGED):
        _execute(f"DROP TABLE IF EXISTS {table}")


# Big enough an import to read the ledger whole rather than look up each new line's
# neighbours through the (payee, date) index.
_MANY_LINES = 20_000
# Memory for the scan's hash tables (per operation, PostgreSQL only, this transaction).
_WORK_MEM = "128MB"


def _prepare(where: str, params: Sequence[Any]) -> bool:
    """Whether the new lines are many. The lines were inserted by this transaction, so the
    planner's statistics know nothing of them and would guess "a few rows": right for a
    small import, ruinous for a big one (an index probe per line instead of one hash join).
    For many, refresh them (ANALYZE samples a fixed number of rows: a fraction of a second)
    and give the hash tables room, so they do not spill to disk."""
    [(count,)] = _fetch(
        f"SELECT COUNT(*) FROM (SELECT 1 FROM {LINES} WHERE ({where}) LIMIT {_MANY_LINES}) n",  # noqa: S608
        params,
    )
    many = count >= _MANY_LINES
    if many and _postgres():
        _execute(f"ANALYZE {LINES}")
        _execute("SELECT set_config('work_mem', %s, true)", [_WORK_MEM])
        # Compiling these statements costs more than it saves.
        _execute("SELECT set_config('jit', 'off', true)")
    return many


def _find_duplicates(where: str, params: Sequence[Any], *, tag: int, many: bool) -> None:
    """Every group of the ledger's lines with the same payee, currency, amount and date (or
    reference, on two dates or more) that holds one of the new lines and more than one line.

    Set-based: for a few new lines, a GROUP BY over the ledger's lines sharing their keys
    (through the (payee, date) index); for many, one GROUP BY over the ledger, keeping the
    groups that hold a new line. Then the lines of the groups found."""
    by = "date" if tag == _TAG_DATE else "reference"
    columns = ("payee_id", by, "currency", "amount")
    on = " AND ".join(f"l.{c} = k.{c}" for c in columns)
    having = "COUNT(*) > 1" if tag == _TAG_DATE else "COUNT(*) > 1 AND MIN(l.date) < MAX(l.date)"
    extra = "" if tag == _TAG_DATE else "AND reference <> ''"
    if many:
        groups = f"""
            SELECT l.payee_id, l.{by}, l.currency, l.amount, MIN(l.id) AS first_id
            FROM {LINES} l WHERE amount <> 0 {extra}
            GROUP BY l.payee_id, l.{by}, l.currency, l.amount
            HAVING {having} AND MAX(CASE WHEN ({where}) THEN 1 ELSE 0 END) = 1
        """  # noqa: S608
    else:
        groups = f"""
            SELECT l.payee_id, l.{by}, l.currency, l.amount, MIN(l.id) AS first_id
            FROM (SELECT DISTINCT {", ".join(columns)} FROM {LINES}
                  WHERE ({where}) AND amount <> 0 {extra}) k
            JOIN {LINES} l ON {on}
            GROUP BY l.payee_id, l.{by}, l.currency, l.amount
            HAVING {having}
        """  # noqa: S608
    reference = tag == _TAG_REFERENCE and _postgres()
    if reference:
        # No index leads with the reference: a nested loop would read each payee's lines
        # through the (payee, date) index once per group (seconds when the planner, blind
        # to lines this transaction inserted, guesses a few). One hash join over the
        # ledger costs a fraction of a second at a million lines.
        _execute("SET LOCAL enable_nestloop = off")
    _execute(
        f"INSERT INTO {_MEMBERS} (tag, first_id, line_id) "  # noqa: S608
        f"SELECT {tag}, k.first_id, l.id FROM ({groups}) k JOIN {LINES} l ON {on}",
        params,
    )
    if reference:
        _execute("SET LOCAL enable_nestloop = on")


def _find_splits(
    where: str, params: Sequence[Any], thresholds: Sequence[Decimal], *, many: bool
) -> None:
    """Chains of payments to one payee, each within the band under a threshold and each less
    than the window after the one before, that hold a new line, have 2 to
    SPLIT_MAX_PAYMENTS payments and add up to the threshold or more.

    All in SQL: the lines in band, ordered by date per payee and threshold; a chain starts
    where the gap to the previous payment is the window or more; its number is the running
    count of starts. For a few new lines, only the lines of their payees within
    SPLIT_MAX_PAYMENTS windows of each new line's date are read (through the (payee, date)
    index): a chain short enough to report lies within that, and one cut off at its edge has
    more payments than that anyway (a cut chain spans more than SPLIT_MAX_PAYMENTS - 1 gaps
    of less than a window). For many, the ledger's lines in band are read in one pass."""
    window = split_window_days()
    band = Decimal(split_band_percent()) / 100
    reach = SPLIT_MAX_PAYMENTS * max(window - 1, 0)
    values = ", ".join(["(%s, CAST(%s AS NUMERIC), CAST(%s AS NUMERIC))"] * len(thresholds))
    bands: list[Any] = []
    for index, threshold in enumerate(thresholds):
        bands += [_TAG_SPLIT + index, threshold, (threshold * (1 - band)).quantize(CENT)]
    gap = _days_between("l.date", "LAG(l.date) OVER w")
    new = f"CASE WHEN ({where}) THEN 1 ELSE 0 END"
    lines = f"(SELECT id, payee_id, date, base_amount, {new} AS is_new FROM {LINES}) l"  # noqa: S608
    if many:
        # Most payees and dates are touched: one pass over the ledger's lines in band.
        in_band = f"{lines} JOIN band u ON l.base_amount >= u.low AND l.base_amount < u.threshold"
        touched = ""
        touched_params: list[Any] = []
    else:
        # The new lines' dates in band, merged into islands where their reaches overlap.
        touched = f"""touched_dates AS (
            SELECT DISTINCT b.tag, b.threshold, b.low, n.payee_id, n.date
            FROM (SELECT payee_id, date, base_amount FROM {LINES} WHERE ({where})) n
            JOIN band b ON n.base_amount >= b.low AND n.base_amount < b.threshold
        ),
        island_starts AS (
            SELECT tag, threshold, low, payee_id, date,
                   CASE WHEN {_days_between("date", "LAG(date) OVER p")} <= {2 * reach}
                        THEN 0 ELSE 1 END AS starts
            FROM touched_dates
            WINDOW p AS (PARTITION BY tag, payee_id ORDER BY date)
        ),
        islands AS (
            SELECT tag, threshold, low, payee_id, date,
                   SUM(starts) OVER (PARTITION BY tag, payee_id ORDER BY date
                                     ROWS UNBOUNDED PRECEDING) AS island
            FROM island_starts
        ),
        touched AS (
            SELECT tag, threshold, low, payee_id,
                   {_date_plus("MIN(date)", -reach)} AS first_day,
                   {_date_plus("MAX(date)", reach)} AS last_day
            FROM islands
            GROUP BY tag, threshold, low, payee_id, island
        ),"""  # noqa: S608
        in_band = (
            f"touched u JOIN {lines} ON l.payee_id = u.payee_id "
            "AND l.date >= u.first_day AND l.date <= u.last_day "
            "AND l.base_amount >= u.low AND l.base_amount < u.threshold"
        )
        touched_params = list(params)
    _execute(
        f"""
        WITH band (tag, threshold, low) AS (VALUES {values}),
        {touched}
        banded AS (
            SELECT u.tag, u.threshold, l.payee_id, l.id, l.date, l.base_amount, l.is_new,
                   CASE WHEN {gap} < {window} THEN 0 ELSE 1 END AS starts
            FROM {in_band}
            WINDOW w AS (PARTITION BY u.tag, l.payee_id ORDER BY l.date, l.id)
        ),
        chained AS (
            SELECT tag, threshold, payee_id, id, base_amount, is_new,
                   SUM(starts) OVER (PARTITION BY tag, payee_id ORDER BY date, id
                                     ROWS UNBOUNDED PRECEDING) AS chain
            FROM banded
        ),
        measured AS (
            SELECT tag, threshold, id, MIN(id) OVER c AS first_id, COUNT(*) OVER c AS payments,
                   SUM(base_amount) OVER c AS total, MAX(is_new) OVER c AS has_new
            FROM chained
            WINDOW c AS (PARTITION BY tag, payee_id, chain)
        )
        INSERT INTO {_MEMBERS} (tag, first_id, line_id)
        SELECT tag, first_id, id FROM measured
        WHERE payments >= 2 AND payments <= {int(SPLIT_MAX_PAYMENTS)}
          AND total >= threshold AND has_new = 1
        """,  # noqa: S608
        [*bands, *touched_params, *params],
    )


@dataclass
class _Group:
    tag: int
    first_id: int
    kind: str
    key: str
    payee_id: int
    detail: str


def _groups_batches() -> Iterator[list[_Group]]:
    """The groups found, _BATCH at a time (keyset pages over the work table), described
    from their first line."""
    thresholds = split_thresholds()
    window = split_window_days()
    base = getattr(settings, "BASE_CURRENCY", "")
    tags = [_TAG_DATE, _TAG_REFERENCE, *range(_TAG_SPLIT, _TAG_SPLIT + len(thresholds))]
    tag, after = tags.pop(0), 0
    while True:
        rows = _fetch(
            f"""
            SELECT s.tag, s.first_id, l.payee_id, l.date, l.currency, l.amount, l.reference
            FROM {_MEMBERS} s JOIN {LINES} l ON l.id = s.first_id
            WHERE s.tag = %s AND s.first_id > %s AND s.line_id = s.first_id
            ORDER BY s.first_id
            LIMIT {_BATCH}
            """,  # noqa: S608
            [tag, after],
        )
        if not rows:
            if not tags:
                return
            tag, after = tags.pop(0), 0
            continue
        batch = []
        for tag, first_id, payee_id, date, currency, amount, reference in rows:
            date, amount = _date(date), _decimal(amount)
            if tag == _TAG_DATE:
                kind = AnomalyKind.DUPLICATE_PAYMENT
                key = f"date:{payee_id}:{date.isoformat()}:{currency}:{amount}"
                detail = f"{amount:,} {currency} paid more than once on {date:%d %b %Y}"
            elif tag == _TAG_REFERENCE:
                kind = AnomalyKind.DUPLICATE_PAYMENT
                key = f"ref:{payee_id}:{currency}:{amount}:{reference}"
                detail = f"{amount:,} {currency} paid more than once under reference {reference}"
            else:
                threshold = thresholds[tag - _TAG_SPLIT]
                kind = AnomalyKind.SPLIT_PURCHASE
                key = f"{payee_id}:{threshold}:{first_id}"
                detail = f"Payments just under {threshold:,} {base} within {window} days"
            batch.append(_Group(tag, first_id, kind, _key(key), payee_id, detail[:300]))
        _join_existing_splits(batch, thresholds)
        yield batch
        after = rows[-1][1]


def _join_existing_splits(batch: list[_Group], thresholds: Sequence[Decimal]) -> None:
    """A chain that holds a line of a split finding (of the same threshold) joins that
    finding, an open one first, rather than starting another one."""
    splits = [g for g in batch if g.tag >= _TAG_SPLIT]
    if not splits:
        return
    first, last = splits[0], splits[-1]
    rows = _fetch(
        f"""
        SELECT DISTINCT s.tag, s.first_id, a.key, a.dismissed_at
        FROM {_MEMBERS} s
        JOIN {LINKS} t ON t.spendline_id = s.line_id
        JOIN {ANOMALIES} a ON a.id = t.spendanomaly_id
        WHERE a.kind = %s AND s.tag = %s AND s.first_id >= %s AND s.first_id <= %s
        """,  # noqa: S608
        [AnomalyKind.SPLIT_PURCHASE, first.tag, first.first_id, last.first_id],
    )
    touching: dict[tuple[int, int], list[tuple[bool, str]]] = defaultdict(list)
    for tag, first_id, key, dismissed_at in rows:
        parts = key.split(":")
        if len(parts) == 3 and parts[1] == str(thresholds[tag - _TAG_SPLIT]):
            touching[(tag, first_id)].append((dismissed_at is not None, key))
    for group in splits:
        found = touching.get((group.tag, group.first_id))
        if found:
            group.key = min(found)[1]


def _record(batch: list[_Group]) -> int:
    """Find or create the finding of each group, and note which one in the work table.
    Returns how many findings are new."""
    ids: dict[tuple[str, str], int] = {}

    def look_up(pairs: set[tuple[str, str]]) -> None:
        for kind in {kind for kind, _ in pairs}:
            keys = sorted(key for k, key in pairs if k == kind)
            ids.update(
                ((kind, key), pk)
                for key, pk in SpendAnomaly.objects.filter(kind=kind, key__in=keys).values_list(
                    "key", "pk"
                )
            )

    wanted = {(g.kind, g.key) for g in batch}
    look_up(wanted)
    today = timezone.localdate()
    new: dict[tuple[str, str], SpendAnomaly] = {}
    for g in batch:
        if (g.kind, g.key) not in ids and (g.kind, g.key) not in new:
            new[(g.kind, g.key)] = SpendAnomaly(
                kind=g.kind,
                key=g.key,
                payee_id=g.payee_id,
                first_date=today,
                last_date=today,
                amount=0,
                detail=g.detail,
            )
    if new:
        SpendAnomaly.objects.bulk_create(list(new.values()), batch_size=1000, ignore_conflicts=True)
        look_up(set(new))
    rows = [(g.tag, g.first_id, ids[(g.kind, g.key)]) for g in batch]
    for chunk in _chunks(rows, 1000):
        _execute(
            f"INSERT INTO {_GROUPS} (tag, first_id, anomaly_id) VALUES "  # noqa: S608
            + ", ".join(["(%s, %s, %s)"] * len(chunk)),
            [value for row in chunk for value in row],
        )
    return len(new)


def _link() -> None:
    """Link every group's lines to its finding, and note the findings a line joined."""
    unlinked = (
        f"FROM {_MEMBERS} s JOIN {_GROUPS} g ON g.tag = s.tag AND g.first_id = s.first_id "  # noqa: S608
        f"WHERE NOT EXISTS (SELECT 1 FROM {LINKS} t "
        "WHERE t.spendanomaly_id = g.anomaly_id AND t.spendline_id = s.line_id)"
    )
    _execute(f"CREATE TEMPORARY TABLE {_CHANGED} AS SELECT DISTINCT g.anomaly_id {unlinked}")
    _execute(
        f"INSERT INTO {LINKS} (spendanomaly_id, spendline_id) "
        f"SELECT DISTINCT g.anomaly_id, s.line_id {unlinked} ON CONFLICT DO NOTHING"
    )


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


def _refresh_where(selected: str, params: Sequence[Any] = ()) -> None:
    """Dates and amount of each finding whose id `selected` (SQL) returns, from its lines
    (UPDATE ... FROM: PostgreSQL, and SQLite since 3.33)."""
    _execute(
        f"UPDATE {ANOMALIES} SET amount = agg.total, "  # noqa: S608
        "first_date = agg.first_date, last_date = agg.last_date "
        "FROM (SELECT t.spendanomaly_id AS anomaly_id, SUM(l.base_amount) AS total, "
        "MIN(l.date) AS first_date, MAX(l.date) AS last_date "
        f"FROM {LINKS} t JOIN {LINES} l ON l.id = t.spendline_id "
        f"WHERE t.spendanomaly_id IN ({selected}) GROUP BY t.spendanomaly_id) agg "
        f"WHERE {ANOMALIES}.id = agg.anomaly_id",
        params,
    )


def _refresh(anomaly_ids: Sequence[int]) -> None:
    for chunk in _chunks(anomaly_ids):
        _refresh_where(", ".join(["%s"] * len(chunk)), list(chunk))


def anomalies_scan_lines(*, where: str, params: Sequence[Any] = ()) -> int:
    """Find duplicates and split purchases among the lines matching `where` (SQL over the
    lines table, e.g. "spend_import_id = %s") and the whole ledger, and record them.

    Call it in the transaction that inserted those lines, after inserting them. Idempotent:
    scanning the same lines again records nothing. Returns how many findings are new.

    The database finds the groups (a few set-based statements into a temporary work
    table); Python reads one row per group, _BATCH at a time, to name and create the
    findings; the links, reopening and amounts are set-based again. Memory does not grow
    with the number of lines.
    """
    with transaction.atomic():
        many = _prepare(where, params)
        _work_tables_create()
        _find_duplicates(where, params, tag=_TAG_DATE, many=many)
        _find_duplicates(where, params, tag=_TAG_REFERENCE, many=many)
        thresholds = split_thresholds()
        if thresholds:
            _find_splits(where, params, thresholds, many=many)
        _execute(f"CREATE INDEX {_MEMBERS}_group ON {_MEMBERS} (tag, first_id, line_id)")
        if _postgres():
            _execute(f"ANALYZE {_MEMBERS}")
        new = sum(_record(batch) for batch in _groups_batches())
        _link()
        if _postgres():
            _execute(f"ANALYZE {_CHANGED}")
        changed = f"SELECT anomaly_id FROM {_CHANGED}"  # noqa: S608
        dismissed = _fetch(
            f"SELECT id FROM {ANOMALIES} "  # noqa: S608
            f"WHERE dismissed_at IS NOT NULL AND id IN ({changed})"
        )
        _reopen([row[0] for row in dismissed])
        _refresh_where(changed)
        _work_tables_drop()
        return new


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
    return allowed(user, "analytics.dismiss_spendanomaly")


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


def _last_day(month: dt.date) -> dt.date:
    return (month.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1)


def _findings(*, filters: SpendFilters, status: str = AnomalyStatus.ALL) -> QuerySet[SpendAnomaly]:
    """Findings with at least one line within `filters` (scope included), any kind.

    A finding's first and last dates are those of its first and last lines, so the period
    is mostly answered from the finding's own row: only a finding that starts before the
    period and ends after it is looked into line by line. Department, category, payee and
    scope filters need the lines (through the link table, by primary key)."""
    anomalies = SpendAnomaly.objects.all()
    if status == AnomalyStatus.OPEN:
        anomalies = anomalies.filter(dismissed_at__isnull=True)
    elif status == AnomalyStatus.DISMISSED:
        anomalies = anomalies.filter(dismissed_at__isnull=False)
    start = filters.month_from
    end = _last_day(filters.month_to) if filters.month_to else None
    if start:
        anomalies = anomalies.filter(last_date__gte=start)
    if end:
        anomalies = anomalies.filter(first_date__lte=end)
    lines_within = SpendAnomaly.lines.through.objects.filter(spendanomaly_id=OuterRef("pk")).filter(
        filters.q("spendline__")
    )
    if filters.dimensions:
        return anomalies.filter(Exists(lines_within))
    if start and end:
        # Self-contained (not correlated with the outer row), so the planner neither hashes
        # every line of the period nor, costing that, compiles the query (JIT).
        spanning = SpendAnomaly.objects.filter(first_date__lt=start, last_date__gt=end).filter(
            Exists(lines_within)
        )
        anomalies = anomalies.filter(
            Q(first_date__gte=start) | Q(last_date__lte=end) | Q(pk__in=spanning.values("pk"))
        )
    return anomalies


def anomaly_list(
    *, filters: SpendFilters, kind: str, status: str = AnomalyStatus.OPEN
) -> QuerySet[SpendAnomaly]:
    """Findings of `kind` with at least one line within `filters` (scope included), with
    the lines the user may see prefetched, newest first. Lazy: page it (the lines are
    loaded for the page shown only, when it is evaluated)."""
    anomalies = _findings(filters=filters, status=status).filter(kind=kind)
    in_scope = SpendFilters(scope_department_ids=filters.scope_department_ids).q()
    visible_lines = (
        SpendLine.objects.filter(in_scope)
        .select_related("source", "department", "category")
        .order_by("date", "id")
    )
    if filters.scope_department_ids is None:
        anomalies = anomalies.annotate(visible_amount=F("amount"))
    else:
        # A finding may span departments: a manager sees the sum of the lines in their
        # scope, never the finding's total, which would tell another department's spend.
        visible_total = (
            SpendLine.objects.filter(in_scope, anomalies=OuterRef("pk"))
            .order_by()
            .values("anomalies")
            .annotate(total=Sum("base_amount"))
            .values("total")
        )
        anomalies = anomalies.annotate(
            visible_amount=Coalesce(
                Subquery(visible_total, output_field=_AMOUNT),
                Value(Decimal("0.00")),
                output_field=_AMOUNT,
            )
        )
    return anomalies.select_related("payee", "payee__vendor", "dismissed_by").prefetch_related(
        Prefetch("lines", queryset=visible_lines, to_attr="visible_lines")
    )


@dataclass
class AnomalySummary:
    """How many findings of one kind there are within some filters, and their amounts
    (the sum of their lines in the base currency; a manager's, of the lines in scope)."""

    kind: str
    label: str
    open: int = 0
    dismissed: int = 0
    open_amount: Decimal = Decimal("0.00")
    dismissed_amount: Decimal = Decimal("0.00")

    @property
    def count(self) -> int:
        return self.open + self.dismissed

    @property
    def amount(self) -> Decimal:
        return self.open_amount + self.dismissed_amount


def anomaly_summary(filters: SpendFilters) -> dict[str, AnomalySummary]:
    """Counts and amounts of the findings within `filters`, open and dismissed, per kind
    (every kind present): one query, two within a manager's scope."""
    summary = {kind: AnomalySummary(kind=kind, label=label) for kind, label in AnomalyKind.choices}
    findings = _findings(filters=filters).order_by()
    is_open = Q(dismissed_at__isnull=True)
    rows = findings.values("kind").annotate(
        open=Count("id", filter=is_open),
        dismissed=Count("id", filter=~is_open),
        open_amount=Sum("amount", filter=is_open),
        dismissed_amount=Sum("amount", filter=~is_open),
    )
    scoped = filters.scope_department_ids is not None
    for row in rows:
        item = summary[row["kind"]]
        item.open, item.dismissed = row["open"], row["dismissed"]
        if not scoped:
            item.open_amount = _decimal(row["open_amount"] or 0)
            item.dismissed_amount = _decimal(row["dismissed_amount"] or 0)
    if scoped:
        # Never a finding's total: only what the manager's lines add up to.
        links = SpendAnomaly.lines.through.objects.filter(
            spendanomaly__in=findings.values("pk"),
            spendline__department_id__in=filters.scope_department_ids,
        )
        line_open = Q(spendanomaly__dismissed_at__isnull=True)
        for amounts in (
            links.order_by()
            .values("spendanomaly__kind")
            .annotate(
                open_amount=Sum("spendline__base_amount", filter=line_open),
                dismissed_amount=Sum("spendline__base_amount", filter=~line_open),
            )
        ):
            item = summary[amounts["spendanomaly__kind"]]
            item.open_amount = _decimal(amounts["open_amount"] or 0)
            item.dismissed_amount = _decimal(amounts["dismissed_amount"] or 0)
    return summary


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
