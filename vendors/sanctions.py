"""Sanctions lists: reading the published files, importing them, screening vendors, and the
people's review of what screening found.

Three public lists are read in the formats their publishers use:

- UK: OFSI's consolidated list CSV (ConList.csv: one row per name, rows sharing a Group ID
  are one target), and the newer UK Sanctions List CSV where it is laid out the same way;
- EU: the Financial Sanctions Files consolidated XML (<export><sanctionEntity ...>);
- OFAC: the SDN list, either sdn.csv (+ alt.csv for aliases) or sdn.xml.

An import parses the whole file first (a bad file changes nothing), then replaces that
source's entries in one transaction and queues a rescreen of every vendor on commit.

Screening compares every name a vendor goes by with every listed name, both normalised by
`vendors.matching.name_key` ("ACME Trading L.L.C." -> "acme trading"). The score is
rapidfuzz's token-sort ratio: the words of each name sorted, then an edit-distance ratio.
It ignores word order ("Global Kestrel Trading" = "Kestrel Global Trading") but, unlike
WRatio or token_set_ratio, it does not reward one name merely containing the other, which
would flag every vendor whose name shares a word with a listed one ("Global", "Trading").
A score at or above settings.SANCTIONS_MATCH_THRESHOLD is a possible match for a person to
clear or confirm; the vendor cannot be approved while one is open.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import hashlib
import io
import logging
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from xml.etree.ElementTree import Element, ParseError

# No type stubs are published for defusedxml (and the project adds no stub packages).
from defusedxml import DefusedXmlException  # type: ignore[import-untyped]
from defusedxml.ElementTree import iterparse  # type: ignore[import-untyped]
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_fsm import can_proceed
from rapidfuzz import fuzz, process

from procurement.errors import Conflict, InvalidInput, NotAllowed, NotFound
from procurement.models import User
from procurement.outbox import enqueue
from procurement.services import audit_record
from vendors.matching import name_key
from vendors.models import (
    CheckKind,
    CheckStatus,
    DueDiligenceCheck,
    SanctionsEntry,
    SanctionsList,
    SanctionsMatch,
    SanctionsName,
    SanctionsSource,
    Vendor,
    VendorState,
)
from vendors.selectors import vendor_may_record_checks
from vendors.services import (
    vendor_back_under_review,
    vendor_block_for_sanctions_match,
    vendor_names_for_screening,
)

logger = logging.getLogger(__name__)

BATCH_SIZE = 2000

# --- Parsing -----------------------------------------------------------------------------


@dataclass
class ListedParty:
    """One target of a sanctions list, as its file describes it."""

    reference: str
    name: str
    aliases: list[str] = field(default_factory=list)
    kind: str = ""  # individual, entity, vessel, aircraft
    programme: str = ""
    country: str = ""
    listed_on: dt.date | None = None

    @property
    def all_names(self) -> list[str]:
        return [self.name, *self.aliases]


def _bad_file(message: str) -> InvalidInput:
    return InvalidInput(message, fields={"file": [message]})


def _clean(value: str | None) -> str:
    return " ".join((value or "").split())


def _join_distinct(values: Iterable[str]) -> str:
    return ", ".join(dict.fromkeys(value for value in values if value))


def _read_text(path: Path) -> str:
    try:
        data = path.read_bytes()
    except OSError as error:
        raise _bad_file(f"Cannot read {path}: {error.strerror or error}.") from None
    # Published UTF-8 (sometimes with a byte-order mark); older OFSI files were Windows-1252.
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def _looks_like_xml(text: str) -> bool:
    return text.lstrip().startswith("<")


def _date(value: str, *, formats: tuple[str, ...], where: str) -> dt.date | None:
    value = value.strip()
    if not value:
        return None
    parsed = _date_parse(value, formats)
    if parsed is None:
        raise _bad_file(f"{where}: {value!r} is not a date.")
    return parsed


@functools.lru_cache(maxsize=4096)
def _date_parse(value: str, formats: tuple[str, ...]) -> dt.date | None:
    # Cached: a list repeats a few thousand dates over tens of thousands of rows, and
    # strptime is the slowest step of reading it.
    for fmt in formats:
        try:
            return dt.datetime.strptime(value, fmt).date()
        except ValueError:
            continue
    return None


# UK ------------------------------------------------------------------------------------

UK_KINDS = {"individual": "individual", "entity": "entity", "ship": "vessel"}


def _uk_column(header: dict[str, int], *names: str) -> int | None:
    for name in names:
        if name.casefold() in header:
            return header[name.casefold()]
    return None


def parse_uk_csv(path: Path) -> list[ListedParty]:
    """OFSI's ConList.csv: a "Last Updated" line, a header, then one row per name.

    Rows sharing a Group ID are one target; "Name 1".."Name 5" then "Name 6" (the surname,
    or the whole name of an entity) make the name; "Alias Type" says which is the primary
    name. The UK Sanctions List CSV (a "Unique ID" per target, "Name type") is read alike.
    """
    text = _read_text(path)
    if _looks_like_xml(text):
        raise _bad_file(
            f"{path.name} is an XML file; the UK list is read from OFSI's consolidated "
            "list CSV (ConList.csv)."
        )
    rows = csv.reader(io.StringIO(text, newline=""))
    header: dict[str, int] = {}
    header_line = 0
    for line_number, row in enumerate(rows, start=1):
        names = {cell.strip().casefold(): index for index, cell in enumerate(row)}
        if "name 6" in names and ("group id" in names or "unique id" in names):
            header, header_line = names, line_number
            break
        if line_number >= 3:
            break
    if not header:
        raise _bad_file(
            f"{path.name} is not OFSI's consolidated list CSV: none of its first lines is a "
            "header with the columns 'Name 6' and 'Group ID'."
        )
    reference_col = _uk_column(header, "Group ID", "Unique ID")
    name_cols = [_uk_column(header, f"Name {n}") for n in (1, 2, 3, 4, 5, 6)]
    kind_col = _uk_column(header, "Group Type", "Individual, Entity, Ship")
    alias_col = _uk_column(header, "Alias Type", "Name type")
    regime_col = _uk_column(header, "Regime", "Regime Name")
    country_col = _uk_column(header, "Country", "Address Country")
    nationality_col = _uk_column(header, "Nationality", "Nationality(/ies)")
    listed_col = _uk_column(header, "Listed On", "Date Designated")
    assert reference_col is not None  # the header test above found it

    def cell(row: list[str], index: int | None) -> str:
        return _clean(row[index]) if index is not None and index < len(row) else ""

    parties: dict[str, ListedParty] = {}
    has_primary: set[str] = set()
    for line_number, row in enumerate(rows, start=header_line + 1):
        if not any(value.strip() for value in row):
            continue
        where = f"{path.name}, line {line_number}"
        reference = cell(row, reference_col)
        if not reference:
            raise _bad_file(f"{where}: the Group ID is empty.")
        # Excel has been known to write the ids as floats ("13048.0").
        reference = re.sub(r"^(\d+)\.0+$", r"\1", reference)
        name = _clean(" ".join(cell(row, col) for col in name_cols))
        if not name:
            raise _bad_file(f"{where}: the row has no name (Name 1 to Name 6 are empty).")
        listed_on = _date(
            cell(row, listed_col), formats=("%d/%m/%Y", "%Y-%m-%d"), where=f"{where}, Listed On"
        )
        primary = cell(row, alias_col).casefold() in ("primary name", "primary")
        party = parties.get(reference)
        if party is None:
            party = parties[reference] = ListedParty(
                reference=reference,
                name=name,
                kind=UK_KINDS.get(cell(row, kind_col).casefold(), cell(row, kind_col).lower()),
                programme=cell(row, regime_col),
                country=cell(row, country_col) or cell(row, nationality_col),
                listed_on=listed_on,
            )
            if primary:
                has_primary.add(reference)
            continue
        if primary and reference not in has_primary:
            # The primary name came after an alias: swap them.
            party.aliases.append(party.name)
            party.name = name
            has_primary.add(reference)
        elif name != party.name and name not in party.aliases:
            party.aliases.append(name)
        party.programme = _join_distinct([*party.programme.split(", "), cell(row, regime_col)])
        party.country = party.country or cell(row, country_col) or cell(row, nationality_col)
        if listed_on and (party.listed_on is None or listed_on < party.listed_on):
            party.listed_on = listed_on
    return list(parties.values())


# XML helpers ---------------------------------------------------------------------------


def _local(tag: str) -> str:
    """The tag without its namespace: both lists publish with one, and have changed it."""
    return tag.rsplit("}", 1)[-1]


def _children(element: Element, name: str) -> Iterator[Element]:
    return (child for child in element if _local(child.tag) == name)


def _child_text(element: Element, name: str) -> str:
    return next((_clean(child.text) for child in _children(element, name)), "")


def _xml_records(path: Path, *, root: str, record: str, describe: str) -> Iterator[Element]:
    """Yield each complete `record` element of a (possibly large) XML file whose root is `root`.

    Parsed incrementally and with defusedxml, which refuses entity expansion tricks.
    Elements are cleared once handed over, so memory stays flat on the big EU file.
    """
    try:
        with path.open("rb") as stream:
            events = iterparse(stream, events=("start", "end"))
            seen_root = False
            for event, element in events:
                if not seen_root:
                    if _local(element.tag) != root:
                        raise _bad_file(
                            f"{path.name} is not {describe}: its root element is "
                            f"<{_local(element.tag)}>, not <{root}>."
                        )
                    seen_root = True
                if event == "end" and _local(element.tag) == record:
                    yield element
                    element.clear()
    except ParseError as error:
        line, column = getattr(error, "position", (0, 0))
        raise _bad_file(
            f"{path.name} is not well-formed XML (line {line}, column {column})."
        ) from None
    except DefusedXmlException:
        raise _bad_file(
            f"{path.name} declares XML entities or a DTD, which are refused for safety."
        ) from None
    except OSError as error:
        raise _bad_file(f"Cannot read {path}: {error.strerror or error}.") from None


def _sniff_not_csv(path: Path, *, expected: str) -> None:
    try:
        with path.open("rb") as stream:
            start = stream.read(512).lstrip(b"\xef\xbb\xbf \t\r\n")
    except OSError as error:
        raise _bad_file(f"Cannot read {path}: {error.strerror or error}.") from None
    if not start.startswith(b"<"):
        raise _bad_file(f"{path.name} is not XML; {expected} is an XML file.")


# EU ------------------------------------------------------------------------------------

EU_KINDS = {"person": "individual", "enterprise": "entity"}
EU_NAMESPACE = "http://eu.europa.ec/fpi/fsd/export"


def parse_eu_xml(path: Path) -> list[ListedParty]:
    """The EU Financial Sanctions Files consolidated XML (namespace EU_NAMESPACE)."""
    _sniff_not_csv(path, expected="the EU consolidated list")
    parties: list[ListedParty] = []
    records = _xml_records(
        path, root="export", record="sanctionEntity", describe="the EU consolidated list"
    )
    for number, entity in enumerate(records, start=1):
        reference = _clean(entity.get("logicalId")) or _clean(entity.get("euReferenceNumber"))
        where = f"{path.name}, <sanctionEntity> number {number}"
        if not reference:
            raise _bad_file(f"{where} has no logicalId.")
        names = [
            _clean(alias.get("wholeName"))
            for alias in _children(entity, "nameAlias")
            if _clean(alias.get("wholeName"))
        ]
        if not names:
            raise _bad_file(f"{where} (logicalId {reference}) has no <nameAlias wholeName=...>.")
        subject = next(_children(entity, "subjectType"), None)
        code = _clean(subject.get("code")) if subject is not None else ""
        regulations = list(_children(entity, "regulation"))
        countries = [
            _clean(node.get("countryDescription"))
            for name in ("citizenship", "address")
            for node in _children(entity, name)
        ]
        dates = [_clean(entity.get("designationDate"))] + [
            _clean(regulation.get("publicationDate")) for regulation in regulations
        ]
        listed = [
            _date(value, formats=("%Y-%m-%d",), where=f"{where}, date") for value in dates if value
        ]
        parties.append(
            ListedParty(
                reference=reference,
                name=names[0],
                aliases=list(dict.fromkeys(name for name in names[1:] if name != names[0])),
                kind=EU_KINDS.get(code, code),
                programme=_join_distinct(_clean(r.get("programme")) for r in regulations),
                country=next((c for c in countries if c and c.upper() != "UNKNOWN"), ""),
                listed_on=min((d for d in listed if d), default=None),
            )
        )
    return parties


# OFAC ----------------------------------------------------------------------------------

OFAC_SDN_COLUMNS = 12  # ent_num, SDN_Name, SDN_Type, Program, Title, ..., Remarks
OFAC_ALT_COLUMNS = 5  # ent_num, alt_num, alt_type, alt_name, alt_remarks


def _ofac_value(value: str) -> str:
    value = _clean(value)
    return "" if value == "-0-" else value


def _ofac_programme(value: str) -> str:
    # "SDGT] [IRGC" in sdn.csv: brackets between several programmes.
    return _join_distinct(part.strip(" []") for part in re.split(r"\]\s*\[", value))


def _ofac_csv_rows(path: Path) -> Iterator[tuple[int, list[str]]]:
    text = _read_text(path)
    if _looks_like_xml(text):
        raise _bad_file(f"{path.name} is an XML file, not OFAC's CSV.")
    for line_number, row in enumerate(csv.reader(io.StringIO(text, newline="")), start=1):
        # The files end with a DOS end-of-file character on a line of its own.
        if not any(value.strip(" \x1a") for value in row):
            continue
        yield line_number, row


def parse_ofac_csv(path: Path, aliases_path: Path | None = None) -> list[ListedParty]:
    """OFAC's sdn.csv (no header, "-0- " for empty) and, optionally, its alt.csv aliases."""
    parties: dict[str, ListedParty] = {}
    for line_number, row in _ofac_csv_rows(path):
        where = f"{path.name}, line {line_number}"
        if line_number == 1 and row[0].strip().casefold() == "ent_num":
            continue  # a header someone added
        if len(row) != OFAC_SDN_COLUMNS:
            raise _bad_file(
                f"{where} has {len(row)} columns; OFAC's sdn.csv has {OFAC_SDN_COLUMNS} "
                "(ent_num, SDN_Name, SDN_Type, Program, ...)."
            )
        reference = _ofac_value(row[0])
        if not reference.isdigit():
            raise _bad_file(f"{where}: ent_num {reference!r} is not a number.")
        name = _ofac_value(row[1])
        if not name:
            raise _bad_file(f"{where}: SDN_Name is empty.")
        parties[reference] = ListedParty(
            reference=reference,
            name=name,
            kind=_ofac_value(row[2]).lower() or "entity",
            programme=_ofac_programme(_ofac_value(row[3])),
        )
    if aliases_path is not None and parties:
        matched = unmatched = 0
        for line_number, row in _ofac_csv_rows(aliases_path):
            where = f"{aliases_path.name}, line {line_number}"
            if line_number == 1 and row[0].strip().casefold() == "ent_num":
                continue
            if len(row) != OFAC_ALT_COLUMNS:
                raise _bad_file(
                    f"{where} has {len(row)} columns; OFAC's alt.csv has {OFAC_ALT_COLUMNS} "
                    "(ent_num, alt_num, alt_type, alt_name, alt_remarks)."
                )
            party = parties.get(_ofac_value(row[0]))
            alias = _ofac_value(row[3])
            if party is None:
                unmatched += 1
                continue
            matched += 1
            if alias and alias != party.name and alias not in party.aliases:
                party.aliases.append(alias)
        if unmatched and not matched:
            raise _bad_file(
                f"None of the aliases in {aliases_path.name} belongs to an entry of "
                f"{path.name}: are both files from the same download?"
            )
    return list(parties.values())


def _ofac_xml_name(element: Element) -> str:
    # Written as sdn.csv writes it ("LAST, First"), so both formats list the same names.
    last, first = _child_text(element, "lastName"), _child_text(element, "firstName")
    return f"{last}, {first}" if last and first else last or first


def parse_ofac_xml(path: Path) -> list[ListedParty]:
    """OFAC's sdn.xml: <sdnList><sdnEntry><uid>, names, <programList>, <akaList>, addresses."""
    _sniff_not_csv(path, expected="OFAC's sdn.xml")
    parties: list[ListedParty] = []
    records = _xml_records(path, root="sdnList", record="sdnEntry", describe="OFAC's SDN list")
    for number, entry in enumerate(records, start=1):
        reference = _child_text(entry, "uid")
        where = f"{path.name}, <sdnEntry> number {number}"
        if not reference:
            raise _bad_file(f"{where} has no <uid>.")
        name = _ofac_xml_name(entry)
        if not name:
            raise _bad_file(f"{where} (uid {reference}) has no <lastName>.")
        aliases = [
            _ofac_xml_name(aka)
            for aka_list in _children(entry, "akaList")
            for aka in _children(aka_list, "aka")
        ]
        programmes = [
            _clean(program.text)
            for program_list in _children(entry, "programList")
            for program in _children(program_list, "program")
        ]
        countries = [
            _child_text(item, "country")
            for list_name, item_name in (
                ("addressList", "address"),
                ("nationalityList", "nationality"),
                ("citizenshipList", "citizenship"),
            )
            for item_list in _children(entry, list_name)
            for item in _children(item_list, item_name)
        ]
        parties.append(
            ListedParty(
                reference=reference,
                name=name,
                aliases=list(dict.fromkeys(a for a in aliases if a and a != name)),
                kind=_child_text(entry, "sdnType").lower() or "entity",
                programme=_join_distinct(programmes),
                country=next((c for c in countries if c), ""),
            )
        )
    return parties


def sanctions_file_parse(
    *, source: str, path: Path, aliases_path: Path | None = None
) -> list[ListedParty]:
    """Read a list file of `source` completely, or raise InvalidInput naming what is wrong."""
    if source not in SanctionsSource.values:
        raise InvalidInput(
            f"Unknown sanctions list {source!r}: choose one of {', '.join(SanctionsSource.values)}.",
            fields={"source": ["Choose uk, eu or ofac."]},
        )
    for file in (path, aliases_path):
        if file is not None and not file.is_file():
            raise _bad_file(f"No such file: {file}.")
    ofac_csv = source == SanctionsSource.OFAC and path.suffix.lower() != ".xml"
    if aliases_path is not None and not ofac_csv:
        raise InvalidInput(
            "An aliases file (alt.csv) goes only with OFAC's sdn.csv.",
            fields={"aliases": ["Only for --source ofac with sdn.csv."]},
        )
    if source == SanctionsSource.UK:
        return parse_uk_csv(path)
    if source == SanctionsSource.EU:
        return parse_eu_xml(path)
    if ofac_csv:
        return parse_ofac_csv(path, aliases_path)
    return parse_ofac_xml(path)


# --- Import ------------------------------------------------------------------------------


def _sha256(*paths: Path | None) -> str:
    digest = hashlib.sha256()
    for path in paths:
        if path is None:
            continue
        with path.open("rb") as stream:
            for chunk in iter(lambda: stream.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


def sanctions_list_import(
    *, source: str, path: Path, aliases_path: Path | None = None
) -> SanctionsList:
    """Replace the entries of `source` with those of the file at `path`.

    The file is parsed completely before anything is written: a malformed, empty or
    wrong file raises InvalidInput and leaves the previous import as it was. The swap is
    one transaction (the list row locked, so two imports of one source queue up); matches
    already found keep their copied details and are re-linked to the new entry of the same
    reference. Every vendor is screened again on commit.
    """
    parties = sanctions_file_parse(source=source, path=path, aliases_path=aliases_path)
    label = SanctionsSource(source).label
    if not parties:
        raise _bad_file(
            f"{path.name} has no entries: it is probably not the {label}, or it was cut short."
        )
    file_name = path.name if aliases_path is None else f"{path.name} + {aliases_path.name}"
    sha256 = _sha256(path, aliases_path)
    with transaction.atomic():
        sanctions_list, _ = SanctionsList.objects.select_for_update().get_or_create(
            source=source, defaults={"imported_at": timezone.now()}
        )
        # Explicit, set-based deletes: letting the ORM cascade would load every old entry.
        SanctionsMatch.objects.filter(entry__sanctions_list=sanctions_list).update(entry=None)
        SanctionsName.objects.filter(entry__sanctions_list=sanctions_list).delete()
        SanctionsEntry.objects.filter(sanctions_list=sanctions_list).delete()
        entries = SanctionsEntry.objects.bulk_create(
            [
                SanctionsEntry(
                    sanctions_list=sanctions_list,
                    reference=party.reference[:64],
                    name=party.name[:500],
                    kind=party.kind[:32],
                    programme=party.programme[:300],
                    country=party.country[:120],
                    listed_on=party.listed_on,
                )
                for party in parties
            ],
            batch_size=BATCH_SIZE,
        )
        names: list[SanctionsName] = []
        for entry, party in zip(entries, parties, strict=True):
            keys: set[str] = set()
            for name in party.all_names:
                key = name_key(name)[:500]
                if key and key not in keys:
                    keys.add(key)
                    names.append(SanctionsName(entry=entry, name=name[:500], name_key=key))
        SanctionsName.objects.bulk_create(names, batch_size=BATCH_SIZE)
        by_reference = {entry.reference: entry.pk for entry in entries}
        for match in SanctionsMatch.objects.filter(source=source, entry__isnull=True):
            if match.entry_reference in by_reference:
                match.entry_id = by_reference[match.entry_reference]
                match.save(update_fields=["entry"])
        sanctions_list.imported_at = timezone.now()
        sanctions_list.file_name = file_name[:255]
        sanctions_list.file_sha256 = sha256
        sanctions_list.entry_count = len(entries)
        sanctions_list.save()
        audit_record(
            target=sanctions_list,
            actor=None,
            action="imported",
            comment=f"{len(entries)} entries ({len(names)} names) from {file_name}, sha256 {sha256}.",
        )
        from vendors.tasks import rescreen_all_vendors

        enqueue(rescreen_all_vendors)
    logger.info("imported %s: %s entries, %s names", source, len(entries), len(names))
    return sanctions_list


def sanctions_lists_summary() -> list[SanctionsList]:
    """The imported lists, for "screened against ..." on the vendor page."""
    return list(SanctionsList.objects.order_by("source"))


def sanctions_list_label(sanctions_list: SanctionsList) -> str:
    """ "UK consolidated list (OFSI) of 2026-11-20 (4,812 entries)"."""
    imported = timezone.localdate(sanctions_list.imported_at)
    return (
        f"{sanctions_list.get_source_display()} of {imported:%Y-%m-%d} "
        f"({sanctions_list.entry_count:,} entries)"
    )


# --- Screening ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Listed:
    source: str
    reference: str
    name: str
    entry_id: int


@dataclass
class _ScreeningIndex:
    """Every listed name's normalised form, loaded once per screening run.

    Only the keys and ids are loaded (two columns, no join); the few names that score
    high enough are then fetched with their entry.
    """

    keys: list[str]
    name_ids: list[list[int]]
    lists: list[SanctionsList]

    @classmethod
    def load(cls) -> _ScreeningIndex:
        grouped: dict[str, list[int]] = defaultdict(list)
        for key, name_id in SanctionsName.objects.values_list("name_key", "pk"):
            grouped[_sorted_words(key)].append(name_id)
        return cls(
            keys=list(grouped), name_ids=list(grouped.values()), lists=sanctions_lists_summary()
        )

    def search(self, name: str, *, threshold: float) -> list[tuple[_Listed, float]]:
        key = _sorted_words(name_key(name))
        if not key or not self.keys:
            return []
        # Keys are stored with their words sorted, so a plain ratio here is rapidfuzz's
        # token_sort_ratio without re-sorting every listed name on every call.
        found = process.extract(
            key, self.keys, scorer=fuzz.ratio, score_cutoff=threshold, limit=None
        )
        scores = {
            name_id: round(float(score), 1)
            for _, score, index in found
            for name_id in self.name_ids[index]
        }
        if not scores:
            return []
        names = SanctionsName.objects.filter(pk__in=scores).values_list(
            "pk", "name", "entry_id", "entry__reference", "entry__sanctions_list__source"
        )
        return [
            (
                _Listed(source=source, reference=reference, name=listed, entry_id=entry_id),
                scores[pk],
            )
            for pk, listed, entry_id, reference, source in names
        ]


def _sorted_words(key: str) -> str:
    return " ".join(sorted(key.split()))


def _match_line(match: SanctionsMatch) -> str:
    return (
        f'"{match.vendor_name}" ~ "{match.listed_name}" '
        f"({SanctionsSource(match.source).label} {match.entry_reference}, {match.score}%)"
    )


def _outcome(text: str) -> str:
    return text if len(text) <= 5000 else text[:4997] + "..."


def _sanctions_check_follow(vendor: Vendor, index: _ScreeningIndex) -> None:
    """Set the vendor's sanctions check from its matches; failed (a person's verdict) stays."""
    check = (
        DueDiligenceCheck.objects.select_for_update()
        .filter(vendor=vendor, kind=CheckKind.SANCTIONS)
        .first()
    )
    if check is None or check.status in (CheckStatus.FAILED, CheckStatus.NOT_APPLICABLE):
        return
    today = f"{timezone.localdate():%Y-%m-%d}"
    open_matches = list(vendor.sanctions_matches.exclude(status=SanctionsMatch.Status.CLEARED))
    if not index.lists:
        check.status = CheckStatus.OPEN
        check.outcome = "No sanctions list has been imported yet: the vendor was not screened."
    elif open_matches:
        check.status = CheckStatus.OPEN
        check.outcome = _outcome(
            f"{len(open_matches)} possible sanctions match"
            f"{'es' if len(open_matches) > 1 else ''} to review (screened on {today}): "
            + "; ".join(_match_line(match) for match in open_matches)
            + "."
        )
    else:
        lists = ", ".join(sanctions_list_label(item) for item in index.lists)
        check.status = CheckStatus.PASSED
        check.outcome = f"Screened against {lists} on {today}: no possible match."
    check.checked_by = None
    check.checked_at = timezone.now()
    check.save()


def _vendor_screen(vendor_id: int, index: _ScreeningIndex) -> int:
    threshold = float(settings.SANCTIONS_MATCH_THRESHOLD)
    with transaction.atomic():
        # Locked: a rename or a review of this vendor waits until its matches are written.
        vendor = Vendor.objects.select_for_update().filter(pk=vendor_id).first()
        if vendor is None or vendor.state == VendorState.OFFBOARDED:
            return 0
        best: dict[tuple[str, str, str], tuple[_Listed, float]] = {}
        for vendor_name in dict.fromkeys(vendor_names_for_screening(vendor)):
            for listed, score in index.search(vendor_name, threshold=threshold):
                key = (listed.source, listed.reference[:64], vendor_name[:200])
                if key not in best or score > best[key][1]:
                    best[key] = (listed, score)
        known = set(
            vendor.sanctions_matches.values_list("source", "entry_reference", "vendor_name")
        )
        new = [
            SanctionsMatch(
                vendor=vendor,
                entry_id=listed.entry_id,
                source=source,
                entry_reference=reference,
                listed_name=listed.name[:500],
                vendor_name=vendor_name,
                score=score,
            )
            for (source, reference, vendor_name), (listed, score) in best.items()
            if (source, reference, vendor_name) not in known
        ]
        SanctionsMatch.objects.bulk_create(new)
        _sanctions_check_follow(vendor, index)
        if new:
            # An approved vendor must not go on taking orders while a person has not looked
            # at a possible match: back under review, and its owner is told.
            vendor_back_under_review(
                vendor=vendor,
                by=None,
                reason=_outcome(
                    f"Screening found {len(new)} new possible sanctions match"
                    f"{'es' if len(new) > 1 else ''}: "
                    + "; ".join(_match_line(match) for match in new)
                    + ". Clear or confirm each, then approve the vendor again."
                ),
            )
        lists = ", ".join(item.get_source_display() for item in index.lists) or "no list"
        audit_record(
            target=vendor,
            actor=None,
            action="sanctions_screened",
            comment=(
                f"Screened against {lists}: {len(new)} new possible match"
                f"{'' if len(new) == 1 else 'es'}."
            ),
        )
    if new:
        logger.warning("vendor %s: %s new possible sanctions matches", vendor_id, len(new))
    return len(new)


def vendor_sanctions_screen(*, vendor_id: int) -> int:
    """Screen one vendor's names against every imported list; returns the new possible matches.

    Locks the vendor; a match once found (and perhaps cleared) is never raised again for
    the same listed entry and vendor name. Sets the vendor's sanctions check: passed when
    nothing is left to review, open while a possible match is, untouched once failed. An
    approved vendor with a new possible match goes back under review (owner emailed on commit).
    """
    return _vendor_screen(vendor_id, _ScreeningIndex.load())


def vendors_rescreen_all() -> int:
    """Screen every vendor not offboarded, loading the lists once; returns the new matches."""
    index = _ScreeningIndex.load()
    vendor_ids = Vendor.objects.exclude(state=VendorState.OFFBOARDED).values_list("pk", flat=True)
    # One transaction per vendor: a long rescreen never holds many vendors locked.
    return sum(_vendor_screen(vendor_id, index) for vendor_id in list(vendor_ids))


# --- Review ------------------------------------------------------------------------------

DECISIONS = {"clear": SanctionsMatch.Status.CLEARED, "confirm": SanctionsMatch.Status.CONFIRMED}


def _person(user: User) -> str:
    return user.get_full_name() or user.get_username()


def sanctions_match_review(
    *, match_id: int, by: User, decision: str, reason: str
) -> SanctionsMatch:
    """A person's verdict on a possible match: "clear" (another party) or "confirm" (it is).

    Procurement, finance, legal and admin only; a reason is required; a match is decided
    once (409 after). Locks the vendor, then the match. Clearing the last open match passes
    the sanctions check; confirming fails it and blocks the vendor, in the same transaction.
    """
    if decision not in DECISIONS:
        raise InvalidInput(
            "Decide whether to clear or confirm the match.",
            fields={"decision": ["Choose clear or confirm."]},
        )
    if not vendor_may_record_checks(by):
        raise NotAllowed(
            "Only procurement, finance, legal or an admin can review sanctions matches."
        )
    reason = reason.strip()
    if not reason:
        raise InvalidInput(
            "Give a reason: it is kept in the vendor's history.",
            fields={"reason": ["This field is required."]},
        )
    vendor_id = (
        SanctionsMatch.objects.filter(pk=match_id).values_list("vendor_id", flat=True).first()
    )
    if vendor_id is None:
        raise NotFound("No such sanctions match.")
    with transaction.atomic():
        vendor = Vendor.objects.select_for_update().get(pk=vendor_id)
        match = SanctionsMatch.objects.select_for_update().get(pk=match_id)
        if match.status != SanctionsMatch.Status.POSSIBLE:
            who = _person(match.reviewed_by) if match.reviewed_by else "someone"
            raise Conflict(f"This match was already {match.status} by {who}.")
        match.status = DECISIONS[decision]
        match.reviewed_by = by
        match.reviewed_at = timezone.now()
        match.reason = reason
        match.save()
        line = _match_line(match)
        audit_record(
            target=vendor,
            actor=by,
            action=f"sanctions_match_{match.status}",
            from_state=SanctionsMatch.Status.POSSIBLE,
            to_state=match.status,
            comment=f"{line}: {reason}",
        )
        check = (
            DueDiligenceCheck.objects.select_for_update()
            .filter(vendor=vendor, kind=CheckKind.SANCTIONS)
            .first()
        )
        today = f"{timezone.localdate():%Y-%m-%d}"
        if match.status == SanctionsMatch.Status.CONFIRMED:
            if check is not None:
                check.status = CheckStatus.FAILED
                check.outcome = _outcome(
                    f"{_person(by)} confirmed a sanctions match on {today}: {line}. {reason}"
                )
                check.checked_by = by
                check.checked_at = timezone.now()
                check.save()
            if can_proceed(vendor.block):
                # Finance and legal may confirm a match but not move vendors in general; a
                # confirmed match must block all the same, so this service lets them.
                vendor_block_for_sanctions_match(
                    vendor_id=vendor.pk,
                    by=by,
                    reason=f"Sanctions match confirmed: {line}. {reason}",
                )
        else:
            still_open = vendor.sanctions_matches.exclude(status=SanctionsMatch.Status.CLEARED)
            if (
                check is not None
                and check.status not in (CheckStatus.FAILED, CheckStatus.NOT_APPLICABLE)
                and not still_open.exists()
            ):
                check.status = CheckStatus.PASSED
                check.outcome = _outcome(
                    f"{_person(by)} cleared {line} on {today}: not the same party. {reason}"
                )
                check.checked_by = by
                check.checked_at = timezone.now()
                check.save()
    return match
