"""Writes to the spend ledger: imports of files, and lines added by the platform itself.

Every line lands through `_Loader`, in two phases:

1. the rows are parsed, their names resolved to payees, categories and departments (a batch
   at a time), converted to the base currency and written to a per-import staging table
   (COPY on PostgreSQL). Progress is committed as it goes, so the page can show it;
2. one transaction moves the staged rows into the ledger with INSERT ... SELECT ... ON
   CONFLICT DO NOTHING on (source, identity), so a row already imported is skipped, then
   updates the rollups and the anomaly findings from exactly the lines it inserted.

Either every good row of a file is in the ledger or none is; bad rows are reported with
their line numbers and never stop the good ones.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import queue
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import SuspiciousFileOperation
from django.core.files.uploadedfile import UploadedFile
from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.db.models import Sum
from django.utils import timezone

from analytics import rollups
from analytics.fx import RateTable
from analytics.importing import (
    CENT,
    ParsedRow,
    RowProblem,
    file_headers,
    line_identity,
    mapping_validate,
    parsed_rows,
)
from analytics.models import (
    ImportProblem,
    ImportState,
    Payee,
    SpendCategory,
    SpendDepartment,
    SpendImport,
    SpendLine,
    SpendSource,
)
from analytics.payees import CONTRACT_STATES_COVERING_SPEND, PayeeResolver
from analytics.scope import spend_may_import
from procurement.errors import Conflict, InvalidInput, NotAllowed
from procurement.files import human_size, text_file_check
from procurement.models import Category, CostCentre, Department, User
from procurement.money import MissingExchangeRate
from procurement.outbox import enqueue
from procurement.services import audit_record
from vendors.models import Contract

logger = logging.getLogger(__name__)

# Rows parsed, resolved and staged per batch: bounds memory whatever the file's size.
BATCH_ROWS = 20_000
# A file imported on PostgreSQL moves into the ledger in parts of about this many rows: the
# database inserts one part while Python parses the next (see _LedgerWriter).
PART_ROWS = 250_000
# Bad rows kept with their reasons; beyond this they are only counted (a file of nothing but
# bad rows must not become millions of problem rows).
PROBLEMS_STORED_MAX = 10_000
_LEDGER_COLUMNS = [
    "line_number",
    "identity",
    "reference",
    "date",
    "month",
    "amount",
    "currency",
    "base_amount",
    "payee_id",
    "category_id",
    "department_id",
    "contract_id",
    "description",
    "quantity",
]


# --- Sources and imports --------------------------------------------------------------


def spend_source_get_or_create(*, name: str, currency: str | None = None) -> SpendSource:
    name = " ".join(name.split())
    if not name:
        raise InvalidInput("Name the source of this spend.", fields={"source": ["Required."]})
    if len(name) > 120:
        raise InvalidInput(
            "The source name is too long.", fields={"source": ["At most 120 characters."]}
        )
    currency = (currency or settings.BASE_CURRENCY).strip().upper()
    if len(currency) != 3 or not currency.isalpha():
        raise InvalidInput(
            f"{currency!r} is not a currency code.", fields={"currency": ["Use a code like GBP."]}
        )
    source, _ = SpendSource.objects.get_or_create(name=name, defaults={"currency": currency})
    return source


def spend_import_upload(*, source: SpendSource, upload: UploadedFile, user: User) -> SpendImport:
    """Store an uploaded CSV as a queued import of `source`, not started until confirmed."""
    if not spend_may_import(user):
        raise NotAllowed("Only procurement, finance and admins import spend.")
    limit = settings.SPEND_IMPORT_MAX_BYTES
    name = upload.name or "spend.csv"
    if upload.size is None or upload.size > limit:
        raise InvalidInput(
            f"{name} is too large: spend files can be at most {human_size(limit)} here. "
            "Use the import_spend command for larger files.",
            fields={"file": [f"Larger than {human_size(limit)}."]},
        )
    try:
        # Read to its end: a file that turns binary after its first kilobytes, or a web page.
        text_file_check(upload, field="file", limit=limit, noun="spend files")
    except InvalidInput as error:
        raise InvalidInput(
            f"{name} is not a CSV file.",
            fields={"file": [*error.fields["file"], "Upload a CSV (comma-separated) text file."]},
        ) from None
    spend_import = SpendImport(
        source=source, filename=name[:255], file_size=upload.size, created_by=user
    )
    spend_import.file.save(name, upload, save=False)
    if Path(spend_import.file.name or "").is_absolute():
        # Only the command line reads a file in place (spend_import_from_path).
        spend_import.file.delete(save=False)
        raise SuspiciousFileOperation("An uploaded file must be stored under MEDIA_ROOT.")
    try:
        file_headers(Path(spend_import.file.path))
        spend_import.save()
    except Exception:
        spend_import.file.delete(save=False)
        raise
    return spend_import


def spend_import_confirm(*, spend_import: SpendImport, mapping: object, user: User) -> SpendImport:
    """Check `mapping` against the file, keep it (and offer it next time for this source),
    and queue the import on commit."""
    if not spend_may_import(user):
        raise NotAllowed("Only procurement, finance and admins import spend.")
    with transaction.atomic():
        spend_import = SpendImport.objects.select_for_update().get(pk=spend_import.pk)
        if spend_import.state != ImportState.QUEUED or spend_import.started_at:
            raise Conflict("This import has already been started.")
        clean = mapping_validate(mapping, file_headers(spend_import_path(spend_import)))
        spend_import.mapping = clean
        spend_import.started_at = timezone.now()
        spend_import.save(update_fields=["mapping", "started_at"])
        SpendSource.objects.filter(pk=spend_import.source_id).update(mapping=clean)
        import_id = spend_import.pk

        from analytics.tasks import spend_import_task

        enqueue(spend_import_task, import_id)
    return spend_import


def spend_import_from_path(
    *, source: SpendSource, path: Path, mapping: object, user: User | None = None
) -> SpendImport:
    """A queued import of a file already on this machine (the command line), not copied."""
    path = Path(path)
    clean = mapping_validate(mapping, file_headers(path))
    spend_import = SpendImport(
        source=source,
        filename=path.name[:255],
        file_size=path.stat().st_size,
        mapping=clean,
        created_by=user,
        started_at=timezone.now(),
    )
    spend_import.file.name = str(path.resolve())
    spend_import.save()
    SpendSource.objects.filter(pk=source.pk).update(mapping=clean)
    return spend_import


def spend_import_run(
    *, spend_import_id: int, progress: Callable[[SpendImport], None] | None = None
) -> SpendImport:
    """Run a queued import to the end. Safe to call twice: only a queued import starts.

    Not wrapped in one transaction on purpose: progress must be visible while it runs. The
    ledger itself changes in a single transaction at the end (see the module docstring).
    """
    with transaction.atomic():
        spend_import = SpendImport.objects.select_for_update().get(pk=spend_import_id)
        if spend_import.state != ImportState.QUEUED:
            return spend_import
        spend_import.start()
        spend_import.save(update_fields=["state"])
    try:
        loader = _Loader(spend_import, progress=progress)
        loader.load_file()
    except Exception as exc:
        logger.exception("spend import %s failed", spend_import_id)
        spend_import = SpendImport.objects.get(pk=spend_import_id)
        spend_import.fail()
        spend_import.error = (
            str(exc)[:2000]
            if isinstance(exc, InvalidInput)
            else (
                "The import stopped on an unexpected error; nothing was added. "
                "The details are in the server log."
            )
        )
        spend_import.finished_at = timezone.now()
        spend_import.save(update_fields=["state", "error", "finished_at"])
        if progress:
            progress(spend_import)
        return spend_import
    return SpendImport.objects.get(pk=spend_import_id)


def spend_import_findings_scan(*, spend_import_id: int) -> int:
    """Record the findings among an import's lines, once. Returns how many are new.

    Locks the import, so the queued task and the beat sweep never scan it at the same time;
    an import deleted meanwhile is skipped."""
    from analytics.anomalies import anomalies_scan_lines

    with transaction.atomic():
        spend_import = (
            SpendImport.objects.select_for_update()
            .filter(pk=spend_import_id, state=ImportState.DONE, findings_scanned_at=None)
            .first()
        )
        if spend_import is None:
            return 0
        found = anomalies_scan_lines(where="spend_import_id = %s", params=[spend_import_id])
        SpendImport.objects.filter(pk=spend_import_id).update(findings_scanned_at=timezone.now())
    return found


def spend_import_delete(*, spend_import: SpendImport, user: User) -> None:
    """Remove an import and its lines, taking them out of the rollups and findings."""
    if not spend_may_import(user):
        raise NotAllowed("Only procurement, finance and admins delete spend imports.")
    with transaction.atomic():
        spend_import = SpendImport.objects.select_for_update().get(pk=spend_import.pk)
        if spend_import.state == ImportState.RUNNING:
            raise Conflict("This import is still running; wait for it to finish.")
        where, params = "spend_import_id = %s", [spend_import.pk]
        from analytics.anomalies import anomalies_forget_lines

        anomalies_forget_lines(where=where, params=params)
        rollups.rollups_remove_lines(where=where, params=params)
        SpendLine.objects.filter(spend_import=spend_import).delete()
        audit_record(
            target=spend_import.source,
            actor=user,
            action="spend_import_deleted",
            comment=f"{spend_import.filename}: {spend_import.rows_imported} lines removed.",
        )
        file_name = spend_import.file.name or ""
        uploaded = bool(file_name) and not Path(file_name).is_absolute()
        spend_import.delete()
        if uploaded:
            transaction.on_commit(lambda: spend_import.file.storage.delete(file_name))


def spend_import_path(spend_import: SpendImport) -> Path:
    """Where the import's file is: an upload under MEDIA_ROOT, or (from the command line) the
    absolute path it was given, read in place."""
    name = spend_import.file.name or ""
    if Path(name).is_absolute():
        return Path(name)
    return Path(spend_import.file.path)


# --- Lines from the platform ----------------------------------------------------------


@dataclass
class LineInput:
    date: dt.date
    amount: Decimal
    supplier: str
    currency: str = ""
    reference: str = ""
    category: str = ""
    department: str = ""
    description: str = ""
    quantity: Decimal | None = None
    # Default: the reference (with date and supplier), or a hash of the line where there is none.
    identity: str = ""
    # The contract the line was bought under, when the caller knows it (an invoice against a
    # PO); otherwise the payee's vendor's contract covering the date, if any.
    contract_id: int | None = None


def spend_lines_add(
    *,
    source: SpendSource,
    lines: Sequence[LineInput],
    label: str = "platform",
    user: User | None = None,
) -> SpendImport:
    """Add lines to the ledger as one batch (an import without a file); lines already in
    the source (same identity) are skipped. Atomic; returns the batch with its counts."""
    batch = SpendImport.objects.create(
        source=source, filename=label[:255], mapping={}, created_by=user, started_at=timezone.now()
    )
    batch.start()
    batch.save(update_fields=["state"])
    rows: list[ParsedRow | RowProblem] = []
    for number, line in enumerate(lines, start=1):
        amount = Decimal(line.amount).quantize(CENT, rounding=ROUND_HALF_UP)
        if line.identity:
            identity = line_identity("i", line.identity)
        elif line.reference:
            identity = line_identity(
                "r", line.reference, line.date.isoformat(), line.supplier.casefold()
            )
        else:
            identity = line_identity(
                "h",
                line.date.isoformat(),
                str(amount),
                line.currency,
                line.supplier,
                line.category,
                line.department,
                line.description,
            )
        rows.append(
            ParsedRow(
                number,
                line.date,
                amount,
                line.currency.upper(),
                " ".join(line.supplier.split()),
                line.reference[:100],
                line.category,
                line.department,
                line.description[:255],
                line.quantity,
                identity,
                line.contract_id,
            )
        )
    _Loader(batch).load_rows(rows)
    return SpendImport.objects.get(pk=batch.pk)


# --- The loader -----------------------------------------------------------------------


class _NameResolver:
    """Ids of SpendCategory / SpendDepartment rows by name, created (and linked to ours by
    name or code) the first time a name is seen."""

    def __init__(self, model: type[SpendCategory] | type[SpendDepartment]) -> None:
        self.model = model
        self.by_key: dict[str, int] = {}
        # By the name as written, so the hot loop looks ids up without normalising again.
        self.ids: dict[str, int] = {}

    @staticmethod
    def key(name: str) -> str:
        return " ".join(name.casefold().split())

    def resolve(self, names: Iterable[str]) -> dict[str, int]:
        """{name as written: id} for every name seen so far, `names` included."""
        unseen = {n for n in names if n not in self.ids}
        if not unseen:
            return self.ids
        wanted = {self.key(n): n for n in unseen}
        missing = {k: n for k, n in wanted.items() if k not in self.by_key}
        if missing:
            self.by_key.update(self.model.objects.filter(key__in=missing).values_list("key", "id"))
            new = [self._new(k, n) for k, n in missing.items() if k not in self.by_key]
            if new:
                self.model.objects.bulk_create(new, ignore_conflicts=True)  # type: ignore[arg-type]
                self.by_key.update(
                    self.model.objects.filter(key__in=[n.key for n in new]).values_list("key", "id")
                )
        for name in unseen:
            self.ids[name] = self.by_key[self.key(name)]
        return self.ids

    def _new(self, key: str, name: str) -> SpendCategory | SpendDepartment:
        if self.model is SpendCategory:
            category = Category.objects.filter(name__iexact=name).first() if key else None
            return SpendCategory(key=key, name=name or "(no category)", category=category)
        department = None
        cost_centre = None
        if key:
            department = (
                Department.objects.filter(name__iexact=name).first()
                or Department.objects.filter(code__iexact=name).first()
            )
            cost_centre = CostCentre.objects.filter(code__iexact=name).first()
            if department is None and cost_centre is not None:
                department = cost_centre.department
        return SpendDepartment(
            key=key, name=name or "(no department)", department=department, cost_centre=cost_centre
        )


# COPY's text format escapes these four characters with a backslash.
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


class _CopyStream:
    """COPY into the staging table on a connection of its own, in a thread, fed batch by
    batch: PostgreSQL stores one batch while Python parses the next.

    The staging table is then a real (UNLOGGED) table, since two connections use it; the
    ledger itself is still written in one transaction on the main connection.
    """

    def __init__(self, table: str) -> None:
        self.sql = f"COPY {table} ({', '.join(_LEDGER_COLUMNS)}) FROM STDIN"
        self.chunks: queue.Queue[str | None] = queue.Queue(maxsize=4)
        self.buffer = ""
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name=f"copy {table}", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        copy_connection = connections.create_connection(DEFAULT_DB_ALIAS)
        try:
            with copy_connection.cursor() as cursor:
                # Large reads: each read waits for the GIL while the parsing thread holds it.
                cursor.copy_expert(self.sql, self, size=4 * 1024 * 1024)
        except BaseException as exc:  # noqa: BLE001 (handed to the main thread in close())
            self.error = exc
            # Keep draining, so the main thread never blocks on a full queue.
            while self.chunks.get() is not None:
                pass
        finally:
            copy_connection.close()

    def read(self, size: int = -1) -> str:
        """What psycopg2 calls for the next piece of COPY data; "" ends it."""
        while not self.buffer:
            chunk = self.chunks.get()
            if chunk is None:
                return ""
            self.buffer = chunk
        if size is None or size < 0 or size >= len(self.buffer):
            data, self.buffer = self.buffer, ""
        else:
            data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data

    def write(self, text: str) -> None:
        if self.error is not None:
            raise self.error
        self.chunks.put(text)

    def close(self) -> None:
        """Wait for PostgreSQL to have every row; raise what went wrong in the thread."""
        self.chunks.put(None)
        self.thread.join()
        if self.error is not None:
            raise self.error


class _Aborted(Exception):
    """The parsing thread failed: the ledger writer rolls its transaction back."""


class _LedgerWriter:
    """Moves a file's staged parts into the ledger on a thread and a connection of its own,
    while the loader parses the rest: the database inserts one part while Python parses the
    next, where a single insert at the end would leave one of them idle.

    All parts go in ONE transaction, open from the first part to the last, so the ledger
    still changes all at once or not at all. The rollups are summed per part into a temporary
    table and upserted once, at the end (upserting after every part would rewrite the same
    rollup rows once per part). A line's occurrence number counts the lines with the same
    identity in the earlier parts of the file too.
    """

    _FINEST = "spend_import_finest"

    def __init__(self, loader: _Loader) -> None:
        self.loader = loader
        self.parts: queue.Queue[str | type[_Aborted] | None] = queue.Queue()
        self.blank_rows = 0
        self.error: BaseException | None = None
        self.thread = threading.Thread(
            target=self._run, name=f"ledger {loader.spend_import.pk}", daemon=True
        )
        self.thread.start()

    def add(self, staging: str) -> None:
        """A staging table whose COPY has finished (committed), for the ledger."""
        if self.error is not None:
            raise self.error
        self.parts.put(staging)

    def finish(self, *, blank_rows: int) -> None:
        """After the last part: wait for the commit; raise what went wrong in the thread."""
        self.blank_rows = blank_rows
        self.parts.put(None)
        self.thread.join()
        if self.error is not None:
            raise self.error

    def abort(self) -> None:
        if self.thread.is_alive():
            self.parts.put(_Aborted)
            self.thread.join()

    def _run(self) -> None:
        # Django gives this thread a connection of its own (connections are per thread).
        loader = self.loader
        done: list[str] = []
        inserted, total = 0, Decimal(0)
        try:
            with transaction.atomic():
                loader._lock_source()
                rollups.rollups_finest_table_create(self._FINEST)
                while (part := self.parts.get()) is not None:
                    if part is _Aborted:
                        raise _Aborted
                    assert isinstance(part, str)
                    insert_sql, params = loader._insert_sql(part, earlier=done)
                    count, amount = rollups.rollups_insert_lines_summed(
                        insert_sql=insert_sql, params=params, finest_table=self._FINEST
                    )
                    inserted, total = inserted + count, total + amount
                    done.append(part)
                rollups.rollups_add_finest(self._FINEST)
                loader._finish_import(inserted=inserted, total=total, blank_rows=self.blank_rows)
        except _Aborted:
            pass
        except BaseException as exc:  # noqa: BLE001 (handed to the loader in add() or finish())
            self.error = exc
        finally:
            connection.close()


class _Loader:
    def __init__(
        self, spend_import: SpendImport, progress: Callable[[SpendImport], None] | None = None
    ) -> None:
        self.spend_import = spend_import
        self.source = spend_import.source
        self.progress = progress
        self.payees = PayeeResolver()
        self.categories = _NameResolver(SpendCategory)
        self.departments = _NameResolver(SpendDepartment)
        self.rates = RateTable()
        self.payee_vendor: dict[int, int | None] = {}
        self.contracts: dict[int, list[tuple[dt.date, dt.date, int]]] = {}
        self.postgres = connection.vendor == "postgresql"
        # A second connection can load the staging table only if it can see it: outside a
        # transaction (the worker and the command), never inside one (tests, callers' atomic).
        self.threaded = self.postgres and not connection.in_atomic_block
        self.staging_prefix = (
            f"analytics_spend_staging_{spend_import.pk}"
            if self.threaded
            else f"spend_staging_{spend_import.pk}"
        )
        self.staging = ""
        self.staging_tables: list[str] = []
        self.copy_stream: _CopyStream | None = None
        # The platform's own batches are small: their findings are recorded with them.
        self.scan_findings_now = True
        self._months: dict[dt.date, dt.date] = {}
        self.rows_read = 0
        self.rows_bad = 0
        self.problems_stored = 0
        self.currency_column = (spend_import.mapping.get("columns") or {}).get(
            "currency"
        ) or "currency"

    # Phase 1 --------------------------------------------------------------------------

    def load_file(self) -> None:
        self.scan_findings_now = False
        path = spend_import_path(self.spend_import)
        file_rows, rows = parsed_rows(path, self.spend_import.mapping)
        # On PostgreSQL outside a transaction, parts of the file move into the ledger while
        # the rest is parsed; elsewhere all rows are staged, then moved in one statement.
        writer = _LedgerWriter(self) if self.threaded else None
        self._create_staging()
        try:
            batch: list[ParsedRow | RowProblem] = []
            part_rows = 0
            for row in rows:
                batch.append(row)
                if len(batch) >= BATCH_ROWS:
                    self._stage(batch)
                    part_rows += len(batch)
                    batch = []
                    self._report_progress(file_rows.bytes_read)
                    if writer is not None and part_rows >= PART_ROWS:
                        self._finish_copy()
                        writer.add(self.staging)
                        self._create_staging()
                        part_rows = 0
            self._stage(batch)
            self._finish_copy()
            self._report_progress(file_rows.bytes_read)
            if writer is None:
                self._move_to_ledger(blank_rows=file_rows.blank_rows)
            else:
                writer.add(self.staging)
                writer.finish(blank_rows=file_rows.blank_rows)
                if self.progress:
                    self.progress(self.spend_import)
        except BaseException:
            if writer is not None:
                writer.abort()
            raise
        finally:
            self._finish_copy()
            self._drop_staging()

    def load_rows(self, rows: list[ParsedRow | RowProblem]) -> None:
        self._create_staging()
        try:
            for start in range(0, len(rows), BATCH_ROWS):
                self._stage(rows[start : start + BATCH_ROWS])
            self._finish_copy()
            self._move_to_ledger(blank_rows=0)
        finally:
            self._finish_copy()
            self._drop_staging()

    def _create_staging(self) -> None:
        """A new staging table (the next part, for a file loaded in parts), fed by COPY on a
        connection of its own when threaded."""
        kind = "UNLOGGED" if self.threaded else "TEMPORARY"
        self.staging = f"{self.staging_prefix}_{len(self.staging_tables) + 1}"
        self.staging_tables.append(self.staging)
        with connection.cursor() as cursor:
            # A leftover of an import whose process was killed has the same name.
            cursor.execute(f"DROP TABLE IF EXISTS {self.staging}")
            cursor.execute(
                f"CREATE {kind} TABLE {self.staging} ("
                "line_number integer, identity varchar(140), reference varchar(100), date date, "
                "month date, amount numeric(14, 2), currency varchar(3), "
                "base_amount numeric(14, 2), payee_id bigint, category_id bigint, "
                "department_id bigint, contract_id bigint, description varchar(255), "
                "quantity numeric(14, 3))"
            )
        if self.threaded:
            self.copy_stream = _CopyStream(self.staging)

    def _finish_copy(self) -> None:
        if self.copy_stream is not None:
            stream, self.copy_stream = self.copy_stream, None
            stream.close()

    def _drop_staging(self) -> None:
        with connection.cursor() as cursor:
            for table in self.staging_tables:
                cursor.execute(f"DROP TABLE IF EXISTS {table}")
        self.staging_tables = []

    def _report_progress(self, bytes_read: int) -> None:
        SpendImport.objects.filter(pk=self.spend_import.pk).update(
            bytes_read=bytes_read, rows_read=self.rows_read, rows_bad=self.rows_bad
        )
        self.spend_import.bytes_read = bytes_read
        self.spend_import.rows_read = self.rows_read
        self.spend_import.rows_bad = self.rows_bad
        if self.progress:
            self.progress(self.spend_import)

    def _contract_for(self, payee_id: int, on: dt.date) -> int | None:
        vendor_id = self.payee_vendor.get(payee_id)
        if vendor_id is None:
            return None
        spans = self.contracts.get(vendor_id)
        if spans is None:
            spans = self.contracts[vendor_id] = list(
                Contract.objects.filter(
                    vendor_id=vendor_id, state__in=CONTRACT_STATES_COVERING_SPEND
                )
                .order_by("-start_date", "-id")
                .values_list("start_date", "end_date", "id")
            )
        for start, end, contract_id in spans:
            if start <= on <= end:
                return contract_id
        return None

    def _stage(self, batch: list[ParsedRow | RowProblem]) -> None:
        """Resolve and stage one batch. The loop below runs once per line of the file, so it
        keeps to dictionary lookups: names were resolved for the whole batch above it."""
        if not batch:
            return
        good = [row for row in batch if isinstance(row, ParsedRow)]
        problems = [row for row in batch if isinstance(row, RowProblem)]
        self.rows_read += len(batch)
        payee_ids = self.payees.resolve({row.supplier for row in good})
        new_payees = [pid for pid in set(payee_ids.values()) if pid not in self.payee_vendor]
        if new_payees:
            self.payee_vendor.update(
                Payee.objects.filter(id__in=new_payees).values_list("id", "vendor_id")
            )
        category_ids = self.categories.resolve({row.category for row in good})
        department_ids = self.departments.resolve({row.department for row in good})
        default_currency = self.source.currency
        base = self.rates.base
        payee_vendor = self.payee_vendor
        months = self._months
        staged: list[tuple[Any, ...]] = []
        for row in good:
            currency = row.currency or default_currency
            date = row.date
            if currency == base:
                base_amount = row.amount
            else:
                try:
                    base_amount = self.rates.to_base(row.amount, currency, date)
                except MissingExchangeRate:
                    problems.append(
                        RowProblem(
                            row.line_number,
                            self.currency_column,
                            f"No exchange rate from {currency} to {base} for {date:%d %b %Y}.",
                            "",
                        )
                    )
                    continue
            payee_id = payee_ids[row.supplier]
            month = months.get(date)
            if month is None:
                month = months[date] = date.replace(day=1)
            contract_id = row.contract_id
            if contract_id is None and payee_vendor.get(payee_id) is not None:
                contract_id = self._contract_for(payee_id, date)
            staged.append(
                (
                    row.line_number,
                    row.identity,
                    row.reference,
                    date,
                    month,
                    row.amount,
                    currency,
                    base_amount,
                    payee_id,
                    category_ids[row.category],
                    department_ids[row.department],
                    contract_id,
                    row.description,
                    row.quantity,
                )
            )
        self.rows_bad += len(problems)
        self._write_staged(staged)
        problems = problems[: max(0, PROBLEMS_STORED_MAX - self.problems_stored)]
        self.problems_stored += len(problems)
        if problems:
            ImportProblem.objects.bulk_create(
                [
                    ImportProblem(
                        spend_import=self.spend_import,
                        line_number=p.line_number,
                        column=p.column[:120],
                        message=p.message[:300],
                        raw=p.raw,
                    )
                    for p in problems
                ]
            )

    def _write_staged(self, staged: list[tuple[Any, ...]]) -> None:
        if not staged:
            return
        if self.postgres:
            # COPY's text format: tab-separated, \N for NULL; only the two free-text columns
            # can hold a tab, newline or backslash.
            esc, null = _COPY_ESCAPES, "\\N"
            text = "".join(
                [
                    f"{r[0]}\t{r[1]}\t{r[2].translate(esc)}\t{r[3]}\t{r[4]}\t{r[5]}\t{r[6]}\t"
                    f"{r[7]}\t{r[8]}\t{r[9]}\t{r[10]}\t{null if r[11] is None else r[11]}\t"
                    f"{r[12].translate(esc)}\t{null if r[13] is None else r[13]}\n"
                    for r in staged
                ]
            )
            if self.copy_stream is not None:
                self.copy_stream.write(text)
            else:
                with connection.cursor() as cursor:
                    cursor.copy_expert(
                        f"COPY {self.staging} ({', '.join(_LEDGER_COLUMNS)}) FROM STDIN",
                        io.StringIO(text),
                    )
            return
        placeholders = ", ".join(["%s"] * len(_LEDGER_COLUMNS))
        with connection.cursor() as cursor:
            cursor.executemany(
                f"INSERT INTO {self.staging} VALUES ({placeholders})",  # noqa: S608
                [
                    (
                        *row[:3],
                        row[3].isoformat(),
                        row[4].isoformat(),
                        str(row[5]),
                        row[6],
                        str(row[7]),
                        *row[8:13],
                        None if row[13] is None else str(row[13]),
                    )
                    for row in staged
                ],
            )

    # Phase 2 --------------------------------------------------------------------------

    def _insert_sql(self, staging: str, earlier: Sequence[str] = ()) -> tuple[str, list[Any]]:
        """INSERT ... SELECT of one staging table into the ledger, skipping lines already
        there. The n-th line with the same reference (or the same content) in the file is
        line "#n": a payment split over several lines keeps them all, and the same file
        imported again yields the same identities. Lines of `earlier` parts of the same file
        count before this part's."""
        columns = ", ".join(_LEDGER_COLUMNS)
        occurrence = "ROW_NUMBER() OVER (PARTITION BY identity ORDER BY line_number)"
        joined = ""
        if earlier:
            # Table names are ours (the staging tables of this import); nothing comes from users.
            union = " UNION ALL ".join(
                f"SELECT identity FROM {table}"  # noqa: S608
                for table in earlier
            )
            joined = (
                f" LEFT JOIN (SELECT identity, COUNT(*) AS seen FROM ({union}) e "  # noqa: S608
                f"WHERE identity IN (SELECT identity FROM {staging}) GROUP BY identity) p "
                "USING (identity)"
            )
            occurrence = f"COALESCE(p.seen, 0) + {occurrence}"
        selected = ", ".join(
            f"identity || '#' || ({occurrence})" if c == "identity" else c for c in _LEDGER_COLUMNS
        )
        # ON CONFLICT without a column list: the one unique key is (source, identity), and
        # PostgreSQL accepts this form on a table partitioned by month (docs/scaling.md).
        sql = (
            f"INSERT INTO {SpendLine._meta.db_table} "  # noqa: S608 (names are ours)
            f"(source_id, spend_import_id, {columns}) "
            f"SELECT %s, %s, {selected} FROM {staging}{joined} WHERE 1 = 1 "
            "ON CONFLICT DO NOTHING"
        )
        return sql, [self.source.pk, self.spend_import.pk]

    def _lock_source(self) -> None:
        # One import per source at a time moves lines in: keeps "already imported" counts
        # exact when the same file is loaded twice at once.
        SpendSource.objects.select_for_update().get(pk=self.source.pk)

    def _move_to_ledger(self, *, blank_rows: int) -> None:
        import_id = self.spend_import.pk
        with transaction.atomic():
            self._lock_source()
            insert_sql, params = self._insert_sql(self.staging)
            if self.postgres:
                inserted, total = rollups.rollups_insert_lines(insert_sql=insert_sql, params=params)
            else:
                with connection.cursor() as cursor:
                    cursor.execute(insert_sql, params)
                    inserted = cursor.rowcount
                rollups.rollups_add_lines(where="spend_import_id = %s", params=[import_id])
                total = SpendLine.objects.filter(spend_import_id=import_id).aggregate(
                    total=Sum("base_amount")
                )["total"] or Decimal("0")
            self._finish_import(inserted=inserted, total=total, blank_rows=blank_rows)
        if self.progress:
            self.progress(self.spend_import)

    def _finish_import(self, *, inserted: int, total: Decimal, blank_rows: int) -> None:
        """The import's counts and its finished state, in the transaction that moved its lines."""
        import_id = self.spend_import.pk
        where = "spend_import_id = %s"
        if self.scan_findings_now:
            from analytics.anomalies import anomalies_scan_lines

            anomalies_scan_lines(where=where, params=[import_id])
        else:
            # A file's findings are looked for on the worker once its lines are in: the
            # ledger and the dashboards do not wait for the scan (analytics.tasks).
            from analytics.tasks import scan_spend_import_findings

            enqueue(scan_spend_import_findings, import_id)
        # A fresh copy: the state field is protected and cannot be refreshed in place.
        spend_import = SpendImport.objects.select_for_update().get(pk=import_id)
        spend_import.rows_read = self.rows_read
        spend_import.rows_bad = self.rows_bad
        spend_import.rows_blank = blank_rows
        spend_import.rows_imported = inserted
        spend_import.rows_already_imported = self.rows_read - self.rows_bad - inserted
        spend_import.total_base_amount = Decimal(total).quantize(CENT)
        spend_import.bytes_read = spend_import.file_size
        spend_import.finished_at = timezone.now()
        if self.scan_findings_now:
            spend_import.findings_scanned_at = spend_import.finished_at
        spend_import.finish()
        spend_import.save()
        logger.info(
            "spend import %s: %s lines imported, %s already there, %s bad",
            import_id,
            inserted,
            spend_import.rows_already_imported,
            self.rows_bad,
        )
        self.spend_import = spend_import
