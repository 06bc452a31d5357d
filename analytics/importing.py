"""Reading spend files as finance systems export them.

Real exports (see ../shared/datasets) differ in headers, date formats ("2019-06-11",
"17/06/2011", "06-Apr-2011"), amounts ("2,142.73" in quotes, credit notes as negatives),
encodings (UTF-8 with or without a BOM, Windows-1252), and carry rows that are nothing but
commas, trailing empty columns, repeated header rows and placeholders such as "#N/A". This
module turns such a file, with a column mapping, into `ParsedRow`s and `RowProblem`s, one
line at a time: nothing here holds the whole file.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path
from typing import IO

from procurement.errors import InvalidInput

FIELDS = (
    "date",
    "amount",
    "supplier",
    "reference",
    "category",
    "department",
    "description",
    "currency",
    "quantity",
)
REQUIRED = ("date", "amount", "supplier")
FIELD_LABELS = {
    "date": "Date",
    "amount": "Amount",
    "supplier": "Supplier",
    "reference": "Reference (transaction number)",
    "category": "Category",
    "department": "Department or cost centre",
    "description": "Item or description",
    "currency": "Currency",
    "quantity": "Quantity",
}
# Header names seen in real exports, per field, compared case-insensitively without punctuation.
_HEADER_HINTS = {
    "date": [
        "date",
        "date paid",
        "payment date",
        "transaction date",
        "invoice date",
        "posting date",
    ],
    "amount": ["amount", "net amount", "value", "total", "amount gbp", "gross amount", "spend"],
    "supplier": ["supplier", "supplier name", "vendor", "vendor name", "merchant", "payee"],
    "reference": [
        "transaction number",
        "transaction no",
        "reference",
        "invoice number",
        "document number",
        "payment reference",
    ],
    "category": [
        "expense type",
        "expenditure category",
        "category",
        "merchant category",
        "spend category",
    ],
    "department": [
        "expense area",
        "service label",
        "department",
        "directorate",
        "cost centre",
        "cost center",
        "service area",
    ],
    "description": ["detailed expenditure type", "description", "item", "narrative", "purpose"],
    "currency": ["currency", "currency code"],
    "quantity": ["quantity", "qty"],
}
# Values that mean "nothing here" in exports.
_MISSING = {"", "#n/a", "n/a", "na", "null", "none", "-", "--", "#value!", "#ref!"}
_MAX_AMOUNT = Decimal("1e12")
CENT = Decimal("0.01")
_MONTHS = {
    m: i + 1
    for i, m in enumerate(
        ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
    )
}
_NUMERIC_DATE = re.compile(r"^(\d{1,4})[/.\-](\d{1,2})[/.\-](\d{1,4})(?:[ T].*)?$")
_NAMED_MONTH_DATE = re.compile(r"^(\d{1,2})[\s\-/]([A-Za-z]{3})[A-Za-z]*[\s\-/,]+(\d{2,4})$")
# "Friday, April 29, 2022" (Cabinet Office from April 2022), "April 29 2022".
_MONTH_FIRST_DATE = re.compile(r"^(?:[A-Za-z]+,?\s+)?([A-Za-z]{3,9})\.?\s+(\d{1,2}),?\s+(\d{4})$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_PLAIN_AMOUNT = re.compile(r"^-?\d{1,11}(?:\.\d{1,2})?$")
_AMOUNT_JUNK = str.maketrans("", "", ",£$€ \u00a0'")


def _norm_header(value: str) -> str:
    return " ".join(re.sub(r"[^0-9a-z]+", " ", value.casefold()).split())


# --- Reading lines --------------------------------------------------------------------


# A spend export has a few dozen columns. The mapping page offers every header in each of its
# menus, so a header row of a million columns (or of 100 KB names) is refused, not mapped.
HEADERS_MAX = 500
HEADER_MAX_CHARS = 200
# No real export has a 1 MB line; a file without line breaks must not be read whole.
LINE_MAX_BYTES = 1_000_000


class _TextLines:
    """The file's lines as text, decoded as UTF-8 where they are and Windows-1252 where
    not (one file mixes both), counting the bytes read for the progress bar."""

    def __init__(self, stream: IO[bytes]) -> None:
        self.stream = stream
        self.bytes_read = 0
        self._first = True

    def __iter__(self) -> Iterator[str]:
        while raw := self.stream.readline(LINE_MAX_BYTES + 1):
            if len(raw) > LINE_MAX_BYTES:
                raise InvalidInput(
                    "A line of the file is longer than 1 MB: is it a CSV file?",
                    fields={"file": ["A line is longer than 1 MB."]},
                )
            self.bytes_read += len(raw)
            if self._first:
                raw = raw.removeprefix(b"\xef\xbb\xbf")
                self._first = False
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                text = raw.decode("cp1252", errors="replace")
            # NUL is no character of a spend file, and PostgreSQL refuses it in text.
            yield text.replace("\x00", "") if "\x00" in text else text


@dataclass
class FileRows:
    """The rows of a CSV after its header: (line number, cells), blank and repeated header
    rows skipped and counted."""

    path: Path
    header: list[str] = field(default_factory=list)
    blank_rows: int = 0
    lines: _TextLines | None = None

    def __iter__(self) -> Iterator[tuple[int, list[str]]]:
        with open(self.path, "rb") as stream:
            self.lines = _TextLines(stream)
            reader = csv.reader(self.lines)
            header_key: list[str] | None = None
            first_header = ""
            try:
                for row in reader:
                    # Cheap tests first: this loop runs for every row of a million-row file.
                    first = row[0].strip() if row else ""
                    if not first and not any(cell.strip() for cell in row):
                        if header_key is not None:
                            self.blank_rows += 1
                        continue
                    if header_key is None:
                        self.header = _trim_header(row)
                        header_key = [_norm_header(cell) for cell in self.header]
                        first_header = self.header[0].casefold()
                        continue
                    if (
                        len(first) == len(first_header)
                        and first.casefold() == first_header
                        and [_norm_header(cell) for cell in row[: len(header_key)]] == header_key
                    ):
                        self.blank_rows += 1  # the header again, e.g. files concatenated
                        continue
                    yield reader.line_num, row
            except csv.Error as exc:
                raise InvalidInput(
                    f"Line {reader.line_num} is not valid CSV: {exc}.",
                    fields={"file": [f"Line {reader.line_num}: {exc}."]},
                ) from None

    @property
    def bytes_read(self) -> int:
        return self.lines.bytes_read if self.lines else 0


def _trim_header(row: list[str]) -> list[str]:
    header = [cell.strip() for cell in row]
    while header and not header[-1]:
        header.pop()  # trailing empty columns
    return header


def file_headers(path: Path) -> list[str]:
    """The column names of a CSV file (its first non-blank row)."""
    rows = FileRows(Path(path))
    for _ in rows:
        break
    if not rows.header:
        raise InvalidInput(
            "The file has no header row: is it an empty file or not a CSV?",
            fields={"file": ["No header row found."]},
        )
    if len(rows.header) > HEADERS_MAX:
        raise InvalidInput(
            f"The file's header row has {len(rows.header):,} columns; at most {HEADERS_MAX} "
            "can be mapped. Is it a spend export?",
            fields={"file": [f"More than {HEADERS_MAX} columns."]},
        )
    if any(len(header) > HEADER_MAX_CHARS for header in rows.header):
        raise InvalidInput(
            f"A column name in the file's header row is longer than {HEADER_MAX_CHARS} "
            "characters. Is the first row the header?",
            fields={"file": [f"A column name is longer than {HEADER_MAX_CHARS} characters."]},
        )
    return rows.header


# --- Mappings -------------------------------------------------------------------------


def mapping_suggest(headers: list[str], saved: dict | None = None) -> dict:
    """A mapping for `headers`: the source's saved one where its columns are all present,
    otherwise a guess from common header names."""
    if saved and saved.get("columns"):
        columns = saved["columns"]
        if all(not col or col in headers for col in columns.values()):
            return {
                "columns": {f: columns.get(f, "") for f in FIELDS},
                "day_first": bool(saved.get("day_first", True)),
            }
    normalised = {_norm_header(h): h for h in headers if h}
    guessed: dict[str, str] = {}
    for name in FIELDS:
        guessed[name] = ""
        for hint in _HEADER_HINTS[name]:
            if hint in normalised and normalised[hint] not in guessed.values():
                guessed[name] = normalised[hint]
                break
    return {"columns": guessed, "day_first": True}


def mapping_validate(mapping: object, headers: list[str]) -> dict:
    """The mapping in its canonical form, or InvalidInput naming each wrong field."""
    if not isinstance(mapping, dict) or not isinstance(mapping.get("columns"), dict):
        raise InvalidInput(
            'A mapping is an object like {"columns": {"date": "Date", ...}, "day_first": true}.',
            fields={"mapping": ["Expected an object with a 'columns' object."]},
        )
    columns = mapping["columns"]
    errors: dict[str, list[str]] = {}
    unknown = set(columns) - set(FIELDS)
    if unknown:
        errors["mapping"] = [f"Unknown field(s): {', '.join(sorted(unknown))}."]
    clean: dict[str, str] = {}
    used: dict[str, str] = {}
    for name in FIELDS:
        column = columns.get(name) or ""
        if not isinstance(column, str):
            errors[name] = ["Must be a column name."]
            continue
        column = column.strip()
        if not column:
            if name in REQUIRED:
                errors[name] = [f"Choose the column that holds the {FIELD_LABELS[name].lower()}."]
        elif column not in headers:
            errors[name] = [f"The file has no column {column!r}."]
        elif column in used:
            errors[name] = [f"{column!r} is already used for {FIELD_LABELS[used[column]].lower()}."]
        else:
            used[column] = name
        clean[name] = column
    if errors:
        raise InvalidInput("The column mapping needs fixing.", fields=errors)
    day_first = mapping.get("day_first", True)
    if not isinstance(day_first, bool):
        raise InvalidInput(
            "day_first must be true or false.", fields={"day_first": ["Use true or false."]}
        )
    return {"columns": clean, "day_first": day_first}


def mapping_parse_option(text: str) -> dict:
    """The command line's `--mapping "date=Date paid;amount=Net amount;supplier=Supplier name"`."""
    columns: dict[str, str] = {}
    day_first = True
    for part in filter(None, (p.strip() for p in text.split(";"))):
        name, sep, column = part.partition("=")
        if not sep:
            raise InvalidInput(
                f"{part!r} is not field=Column.",
                fields={"mapping": [f"{part!r} is not field=Column."]},
            )
        name = name.strip()
        if name == "day_first":
            day_first = column.strip().lower() in {"1", "true", "yes"}
        else:
            columns[name] = column.strip()
    return {"columns": columns, "day_first": day_first}


# --- Parsing rows ---------------------------------------------------------------------


@dataclass(slots=True)
class ParsedRow:
    line_number: int
    date: dt.date
    amount: Decimal
    currency: str  # "" = the source's currency
    supplier: str
    reference: str
    category: str
    department: str
    description: str
    quantity: Decimal | None
    # What identifies this line within the source, before its occurrence number is added.
    identity: str
    # Set only by the platform's own lines (an invoice knows its contract); imported lines
    # get the contract of their payee's vendor that covers their date.
    contract_id: int | None = None


@dataclass(slots=True)
class RowProblem:
    line_number: int
    column: str
    message: str
    raw: str


def _clean(value: str) -> str:
    value = value.strip()
    return "" if value.casefold() in _MISSING else value


class RowParser:
    """Turns the cells of one row into a ParsedRow or a RowProblem, by a validated mapping.

    Runs for every row of files with millions of them, so it remembers what it has already
    read: real exports repeat the same dates, suppliers, categories and departments on most
    rows, and only the amount and the reference are new each time.
    """

    _CACHE_LIMIT = 200_000  # distinct values remembered per column kind; memory stays bounded

    def __init__(self, mapping: dict, header: list[str]) -> None:
        self.columns = mapping["columns"]
        self.day_first = mapping["day_first"]
        position = {name: i for i, name in enumerate(header)}
        self.index = {f: position[c] for f, c in self.columns.items() if c}
        self._dates: dict[str, dt.date | None] = {}
        self._texts: dict[str, str] = {}
        get = self.index.get
        self._i = (
            get("date"),
            get("amount"),
            get("supplier"),
            get("reference"),
            get("category"),
            get("department"),
            get("description"),
            get("currency"),
            get("quantity"),
        )

    def _cell(self, row: list[str], name: str) -> str:
        i = self.index.get(name)
        if i is None or i >= len(row):
            return ""
        return _clean(row[i])

    def _text_of(self, raw: str) -> str:
        """A name cell with its spaces collapsed and placeholders ("#N/A") read as empty,
        remembered: real exports repeat the same names on most rows."""
        text = " ".join(_clean(raw).split())
        if len(self._texts) < self._CACHE_LIMIT:
            self._texts[raw] = text
        return text

    def date_missing(self, row: list[str]) -> bool:
        i = self._i[0]
        return i is None or i >= len(row) or not row[i].strip()

    def is_blank(self, row: list[str]) -> bool:
        """No mapped column has a value: a numbered but empty row ("452,,,,,,,,")."""
        return not any(i < len(row) and row[i].strip() for i in self.index.values())

    def parse(self, line_number: int, row: list[str]) -> ParsedRow | RowProblem:
        size = len(row)
        raw_date, raw_amount, raw_supplier, raw_reference, *others = [
            row[i] if i is not None and i < size else "" for i in self._i
        ]
        texts = self._texts
        date = self._dates.get(raw_date)
        if date is None:
            cleaned_date = _clean(raw_date)
            date = parse_date(cleaned_date, day_first=self.day_first)
            if len(self._dates) < self._CACHE_LIMIT:
                self._dates[raw_date] = date
            if date is None:
                return self._problem(
                    line_number,
                    row,
                    "date",
                    f"{cleaned_date!r} is not a date." if cleaned_date else "No date.",
                )
        # Amounts and references are new on nearly every row: read them without the cache.
        raw_amount = _clean(raw_amount)
        amount = parse_amount(raw_amount)
        if amount is None:
            return self._problem(
                line_number,
                row,
                "amount",
                f"{raw_amount!r} is not an amount." if raw_amount else "No amount.",
            )
        supplier = texts.get(raw_supplier)
        if supplier is None:
            supplier = self._text_of(raw_supplier)
        if not supplier:
            return self._problem(line_number, row, "supplier", "No supplier.")
        raw_category, raw_department, raw_description, raw_currency, raw_quantity = others
        currency = ""
        if raw_currency:
            currency = _clean(raw_currency).upper()
            if currency and not _CURRENCY.match(currency):
                return self._problem(
                    line_number, row, "currency", f"{currency!r} is not a currency code."
                )
        quantity = None
        if raw_quantity:
            raw_quantity = _clean(raw_quantity)
            if raw_quantity:
                quantity = parse_amount(raw_quantity)
                if quantity is None or quantity <= 0:
                    return self._problem(
                        line_number, row, "quantity", f"{raw_quantity!r} is not a quantity."
                    )
        reference = _clean(raw_reference)[:100] if raw_reference else ""
        category = texts.get(raw_category)
        if category is None:
            category = self._text_of(raw_category)
        department = texts.get(raw_department)
        if department is None:
            department = self._text_of(raw_department)
        description = texts.get(raw_description)
        if description is None:
            description = self._text_of(raw_description)
        category, department, description = category[:255], department[:255], description[:255]
        if reference:
            # The reference with its date and supplier: one file may hold several entities
            # whose numbering overlaps (the Cabinet Office's hold the Government Property
            # Agency's, where "6" is a different payment every month).
            identity = line_identity("r", reference, str(date), supplier.casefold())
        else:
            identity = line_identity(
                "h", str(date), str(amount), currency, supplier, category, department, description
            )
        return ParsedRow(
            line_number,
            date,
            amount,
            currency,
            supplier[:255],
            reference,
            category,
            department,
            description,
            quantity,
            identity,
        )

    def _problem(self, line_number: int, row: list[str], name: str, message: str) -> RowProblem:
        return RowProblem(line_number, self.columns.get(name, name), message, ",".join(row)[:1000])


def line_identity(kind: str, *parts: str) -> str:
    """ "r" or "h" and 31 hex digits of a hash of `parts`: see SpendLine.identity."""
    digest = hashlib.sha1("\x1f".join(parts).encode(), usedforsecurity=False).hexdigest()
    return kind + digest[:31]


def parse_date(value: str, *, day_first: bool = True) -> dt.date | None:
    """ "2019-06-11", "17/06/2011" (or 06/17/2011 when not day_first), "06-Apr-2011",
    "6 April 2011", "Friday, April 29, 2022"."""
    value = value.strip()
    if not value:
        return None
    match = _NUMERIC_DATE.match(value)
    try:
        if match:
            a, b, c = match.groups()
            if len(a) == 4:
                return dt.date(int(a), int(b), int(c))
            year = int(c) + (2000 if len(c) == 2 else 0)
            day, month = (int(a), int(b)) if day_first else (int(b), int(a))
            return dt.date(year, month, day)
        match = _NAMED_MONTH_DATE.match(value)
        if match:
            day_text, month_text, year_text = match.groups()
            named = _MONTHS.get(month_text[:3].casefold())
            if named is None:
                return None
            year = int(year_text) + (2000 if len(year_text) == 2 else 0)
            return dt.date(year, named, int(day_text))
        match = _MONTH_FIRST_DATE.match(value)
        if match:
            month_text, day_text, year_text = match.groups()
            named = _MONTHS.get(month_text[:3].casefold())
            if named is None:
                return None
            return dt.date(int(year_text), named, int(day_text))
    except ValueError:
        return None
    return None


def parse_amount(value: str) -> Decimal | None:
    """ "2,142.73" -> 2142.73; "-50.00", "(50.00)", "50.00-" and "50.00 CR" are credits."""
    text = value.strip()
    if not text:
        return None
    if _PLAIN_AMOUNT.match(text):  # most rows: "1234.50", "-20.00", "760"
        amount = Decimal(text)
        return amount if text[-3:-2] == "." else amount.quantize(CENT)
    negative = False
    if text.startswith("(") and text.endswith(")"):
        negative, text = True, text[1:-1]
    upper = text.upper()
    if upper.endswith("CR"):
        negative, text = True, text[:-2]
    elif text.endswith("-"):
        negative, text = True, text[:-1]
    text = text.translate(_AMOUNT_JUNK)
    try:
        amount = Decimal(text)
    except InvalidOperation:
        return None
    if not amount.is_finite() or abs(amount) >= _MAX_AMOUNT:
        return None
    amount = amount.quantize(CENT, rounding=ROUND_HALF_UP)
    return -amount if negative else amount


# --- Whole files ----------------------------------------------------------------------


@dataclass
class PreviewRow:
    line_number: int
    values: dict[str, str]
    errors: list[str]


def preview_rows(path: Path, mapping: dict, limit: int = 20) -> list[PreviewRow]:
    """The first `limit` data rows as they would be imported, each with its problems."""
    rows = FileRows(Path(path))
    preview: list[PreviewRow] = []
    parser: RowParser | None = None
    for line_number, row in rows:
        if parser is None:
            parser = RowParser(mapping_validate(mapping, rows.header), rows.header)
        if parser.is_blank(row):
            continue
        parsed = parser.parse(line_number, row)
        if isinstance(parsed, RowProblem):
            values = {f: parser._cell(row, f) for f in FIELDS if f in parser.index}
            preview.append(PreviewRow(line_number, values, [f"{parsed.column}: {parsed.message}"]))
        else:
            values = {
                "date": parsed.date.isoformat(),
                "amount": str(parsed.amount),
                "supplier": parsed.supplier,
                "reference": parsed.reference,
                "category": parsed.category,
                "department": parsed.department,
                "description": parsed.description,
                "currency": parsed.currency,
                "quantity": "" if parsed.quantity is None else str(parsed.quantity),
            }
            preview.append(
                PreviewRow(line_number, {f: values[f] for f in FIELDS if f in parser.index}, [])
            )
        if len(preview) >= limit:
            break
    return preview


def parsed_rows(
    path: Path, mapping: dict, *, on_header: Callable[[list[str]], None] | None = None
) -> tuple[FileRows, Iterator[ParsedRow | RowProblem]]:
    """Every data row of the file, parsed; the FileRows gives counts and bytes read as it goes."""
    rows = FileRows(Path(path))

    def generate() -> Iterator[ParsedRow | RowProblem]:
        parser: RowParser | None = None
        for line_number, row in rows:
            if parser is None:
                parser = RowParser(mapping_validate(mapping, rows.header), rows.header)
                if on_header:
                    on_header(rows.header)
            # Only a row without a date can be a numbered empty row ("452,,,,,,,,").
            if parser.date_missing(row) and parser.is_blank(row):
                rows.blank_rows += 1
                continue
            yield parser.parse(line_number, row)

    return rows, generate()
