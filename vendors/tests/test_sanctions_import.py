"""Importing the published sanctions lists: each format, re-imports, and bad files refused."""

from __future__ import annotations

import hashlib
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from procurement.errors import InvalidInput
from procurement.models import AuditEntry
from tests.factories import vendor_create
from vendors.models import SanctionsEntry, SanctionsList, SanctionsMatch, SanctionsName
from vendors.sanctions import sanctions_file_parse, sanctions_list_import

SAMPLES = Path(__file__).resolve().parent.parent / "sample_data" / "sanctions"
UK = SAMPLES / "ConList.csv"
EU = SAMPLES / "eu_consolidated.xml"
SDN_CSV = SAMPLES / "sdn.csv"
ALT_CSV = SAMPLES / "alt.csv"
SDN_XML = SAMPLES / "sdn.xml"

UK_HEADER = (
    "Name 6,Name 1,Name 2,Name 3,Name 4,Name 5,Title,Name Non-Latin Script,Non-Latin Script Type,"
    "Non-Latin Script Language,DOB,Town of Birth,Country of Birth,Nationality,Passport Number,"
    "Passport Details,National Identification Number,National Identification Details,Position,"
    "Address 1,Address 2,Address 3,Address 4,Address 5,Address 6,Post/Zip Code,Country,"
    "Other Information,Group Type,Alias Type,Alias Quality,Regime,Listed On,"
    "UK Sanctions List Date Designated,Last Updated,Group ID"
)


def uk_row(name6: str, group: str, *, listed_on: str = "01/02/2024", alias: str = "") -> str:
    """One ConList.csv row: 36 columns, the name in Name 6, the group in Group ID."""
    cells = [""] * 36
    cells[0] = name6
    cells[28] = "Entity"
    cells[29] = alias or "Primary name"
    cells[31] = "Russia"
    cells[32] = listed_on
    cells[35] = group
    return ",".join(cells)


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def names_of(reference: str, source: str) -> set[str]:
    return set(
        SanctionsName.objects.filter(
            entry__reference=reference, entry__sanctions_list__source=source
        ).values_list("name", flat=True)
    )


def test_it_imports_the_uk_list_one_entry_per_group_with_its_aliases(db):
    imported = sanctions_list_import(source="uk", path=UK)

    assert imported.entry_count == 12
    assert SanctionsEntry.objects.filter(sanctions_list=imported).count() == 12
    kestrel = SanctionsEntry.objects.get(sanctions_list=imported, reference="90001")
    assert kestrel.name == "KESTREL GLOBAL TRADING L.L.C."
    assert kestrel.kind == "entity"
    assert kestrel.programme == "Russia"
    assert kestrel.country == "United Arab Emirates"
    assert str(kestrel.listed_on) == "2023-03-14"
    assert names_of("90001", "uk") == {
        "KESTREL GLOBAL TRADING L.L.C.",
        "KESTREL TRADING",
        "KGT FZE",
    }
    assert SanctionsName.objects.get(name="KESTREL TRADING").name_key == "kestrel trading"
    # Name 1..5 come before Name 6 (the surname).
    person = SanctionsEntry.objects.get(sanctions_list=imported, reference="90002")
    assert (person.name, person.kind) == ("Viktor Arkadyevich ZELENKOV", "individual")
    assert names_of("90002", "uk") == {"Viktor Arkadyevich ZELENKOV", "Victor ZELENKOV"}
    assert SanctionsEntry.objects.get(sanctions_list=imported, reference="90004").kind == "vessel"


def test_it_takes_the_primary_name_even_when_an_alias_row_comes_first(db):
    sanctions_list_import(source="uk", path=UK)

    entry = SanctionsEntry.objects.get(reference="90010")
    assert entry.name == "SEVERNY LOGISTICS GROUP"
    assert names_of("90010", "uk") == {"SEVERNY LOGISTICS GROUP", "SEVLOG"}


def test_it_imports_the_eu_list_with_every_name_alias(db):
    imported = sanctions_list_import(source="eu", path=EU)

    assert imported.entry_count == 10
    kestrel = SanctionsEntry.objects.get(sanctions_list=imported, reference="700001")
    assert kestrel.name == "Kestrel Global Trading Limited Liability Company"
    assert (kestrel.kind, kestrel.programme) == ("entity", "RUS")
    assert kestrel.country == "UNITED ARAB EMIRATES"
    assert str(kestrel.listed_on) == "2023-03-15"
    assert names_of("700001", "eu") == {
        "Kestrel Global Trading Limited Liability Company",
        "Kestrel Trading",
        "Кестрел Глобал Трейдинг",
    }
    person = SanctionsEntry.objects.get(sanctions_list=imported, reference="700002")
    assert (person.kind, person.country) == ("individual", "BELARUS")
    # "UNKNOWN" is no country.
    assert SanctionsEntry.objects.get(sanctions_list=imported, reference="700005").country == ""


def test_it_reads_the_eu_list_without_its_namespace_too(tmp_path):
    path = write(
        tmp_path,
        "eu.xml",
        '<export><sanctionEntity logicalId="1"><subjectType code="enterprise"/>'
        '<nameAlias wholeName="Plain Namespace Trading"/></sanctionEntity></export>',
    )

    (party,) = sanctions_file_parse(source="eu", path=path)

    assert (party.reference, party.name, party.kind) == ("1", "Plain Namespace Trading", "entity")


def test_it_imports_ofac_sdn_csv_with_the_aliases_of_alt_csv(db):
    imported = sanctions_list_import(source="ofac", path=SDN_CSV, aliases_path=ALT_CSV)

    assert imported.entry_count == 10
    assert imported.file_name == "sdn.csv + alt.csv"
    kestrel = SanctionsEntry.objects.get(sanctions_list=imported, reference="9101")
    assert (kestrel.name, kestrel.kind, kestrel.programme) == (
        "KESTREL GLOBAL TRADING L.L.C.",
        "entity",  # "-0- " in SDN_Type
        "RUSSIA-EO14024",
    )
    assert names_of("9101", "ofac") == {
        "KESTREL GLOBAL TRADING L.L.C.",
        "KESTREL TRADING",
        "KGT FZE",
    }
    assert SanctionsEntry.objects.get(reference="9107").programme == "SYRIA, SDGT"
    assert SanctionsEntry.objects.get(reference="9102").kind == "individual"


def test_it_imports_ofac_sdn_csv_alone_without_aliases(db):
    sanctions_list_import(source="ofac", path=SDN_CSV)

    assert names_of("9101", "ofac") == {"KESTREL GLOBAL TRADING L.L.C."}


def test_it_reads_the_same_ofac_entries_from_the_xml_as_from_the_csv(db):
    from_csv = sanctions_file_parse(source="ofac", path=SDN_CSV, aliases_path=ALT_CSV)
    from_xml = sanctions_file_parse(source="ofac", path=SDN_XML)

    assert [(p.reference, p.name, p.kind) for p in from_xml] == [
        (p.reference, p.name, p.kind) for p in from_csv
    ]
    assert {p.reference: set(p.aliases) for p in from_xml} == {
        p.reference: set(p.aliases) for p in from_csv
    }
    imported = sanctions_list_import(source="ofac", path=SDN_XML)
    assert imported.entry_count == 10
    assert SanctionsEntry.objects.get(reference="9101").country == "United Arab Emirates"


def test_it_records_the_file_its_checksum_and_an_audit_entry(db):
    imported = sanctions_list_import(source="uk", path=UK)

    assert imported.file_name == "ConList.csv"
    assert imported.file_sha256 == hashlib.sha256(UK.read_bytes()).hexdigest()
    entry = AuditEntry.objects.get(object_id=imported.pk, action="imported")
    assert "12 entries" in entry.comment


def test_it_replaces_the_previous_import_instead_of_adding_to_it(db, tmp_path):
    sanctions_list_import(source="eu", path=EU)
    first = sanctions_list_import(source="uk", path=UK)
    names_before = SanctionsName.objects.filter(entry__sanctions_list=first).count()

    again = sanctions_list_import(source="uk", path=UK)

    assert again.pk == first.pk
    assert SanctionsList.objects.filter(source="uk").count() == 1
    assert SanctionsEntry.objects.filter(sanctions_list=again).count() == 12
    assert SanctionsName.objects.filter(entry__sanctions_list=again).count() == names_before

    smaller = write(
        tmp_path,
        "ConList.csv",
        "Last Updated,21/11/2026\n" + UK_HEADER + "\n" + uk_row("NEW LISTED PARTY", "123") + "\n",
    )
    sanctions_list_import(source="uk", path=smaller)

    assert list(
        SanctionsEntry.objects.filter(sanctions_list__source="uk").values_list("name", flat=True)
    ) == ["NEW LISTED PARTY"]
    assert SanctionsList.objects.get(source="uk").entry_count == 1
    # The other lists are not touched.
    assert SanctionsEntry.objects.filter(sanctions_list__source="eu").count() == 10


BAD_FILES = [
    # (source, file name, content, what the error says)
    ("uk", "ConList.csv", "", "none of its first lines is a header"),
    ("uk", "ConList.csv", "Last Updated,20/11/2026\n" + UK_HEADER + "\n", "has no entries"),
    (
        "uk",
        "ConList.csv",
        "Last Updated,20/11/2026\n"
        + UK_HEADER
        + "\n"
        + uk_row("ACME", "1", listed_on="31/02/2024"),
        "ConList.csv, line 3, Listed On: '31/02/2024' is not a date",
    ),
    (
        "uk",
        "ConList.csv",
        "Last Updated,20/11/2026\n" + UK_HEADER + "\n" + uk_row("ACME", ""),
        "line 3: the Group ID is empty",
    ),
    (
        "uk",
        "ConList.csv",
        "Last Updated,20/11/2026\n" + UK_HEADER + "\n" + uk_row("", "7"),
        "line 3: the row has no name",
    ),
    ("uk", "eu.xml", EU.read_text(encoding="utf-8"), "is an XML file; the UK list is read from"),
    ("uk", "sdn.csv", SDN_CSV.read_text(encoding="utf-8"), "is not OFSI's consolidated list CSV"),
    ("eu", "eu.xml", "<export><sanctionEntity logicalId='1'>", "is not well-formed XML (line 1"),
    (
        "eu",
        "sdn.xml",
        SDN_XML.read_text(encoding="utf-8"),
        "its root element is <sdnList>, not <export>",
    ),
    ("eu", "ConList.csv", UK.read_text(encoding="utf-8"), "is not XML"),
    ("eu", "eu.xml", "<export></export>", "has no entries"),
    (
        "eu",
        "eu.xml",
        "<export><sanctionEntity logicalId='5'><subjectType code='person'/></sanctionEntity></export>",
        "<sanctionEntity> number 1 (logicalId 5) has no <nameAlias",
    ),
    ("ofac", "sdn.csv", '9101,"ACME",-0- ,"CUBA"\n', "line 1 has 4 columns; OFAC's sdn.csv has 12"),
    ("ofac", "sdn.csv", "\x1a\n", "has no entries"),
    (
        "ofac",
        "sdn.xml",
        EU.read_text(encoding="utf-8"),
        "its root element is <export>, not <sdnList>",
    ),
    (
        "ofac",
        "sdn.xml",
        "<sdnList><sdnEntry><lastName>X</lastName></sdnEntry></sdnList>",
        "has no <uid>",
    ),
]


@pytest.mark.parametrize(("source", "file_name", "content", "message"), BAD_FILES)
def test_it_refuses_a_bad_file_saying_why_and_keeps_the_previous_import(
    db, tmp_path, source, file_name, content, message
):
    sample = {"uk": UK, "eu": EU, "ofac": SDN_XML}[source]
    before = sanctions_list_import(source=source, path=sample)
    bad = write(tmp_path, file_name, content)

    with pytest.raises(InvalidInput) as caught:
        sanctions_list_import(source=source, path=bad)

    assert message in caught.value.message
    assert caught.value.fields["file"]
    after = SanctionsList.objects.get(source=source)
    assert (after.file_sha256, after.entry_count) == (before.file_sha256, before.entry_count)
    assert SanctionsEntry.objects.filter(sanctions_list=after).count() == before.entry_count


def test_it_refuses_xml_that_declares_entities(db, tmp_path):
    bomb = write(
        tmp_path,
        "eu.xml",
        '<?xml version="1.0"?><!DOCTYPE export [<!ENTITY a "aaaaaaaaaa">'
        '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
        '<export><sanctionEntity logicalId="1"><nameAlias wholeName="&b;"/></sanctionEntity></export>',
    )

    with pytest.raises(InvalidInput, match="refused for safety"):
        sanctions_list_import(source="eu", path=bomb)

    assert not SanctionsList.objects.exists()


def test_it_refuses_an_alias_file_that_belongs_to_another_download(db, tmp_path):
    other = write(tmp_path, "alt.csv", '1,2,"aka","SOMEONE ELSE",-0- \n')

    with pytest.raises(InvalidInput, match="same download"):
        sanctions_list_import(source="ofac", path=SDN_CSV, aliases_path=other)


def test_it_takes_an_alias_file_only_with_ofac_csv(db):
    with pytest.raises(InvalidInput) as caught:
        sanctions_list_import(source="ofac", path=SDN_XML, aliases_path=ALT_CSV)

    assert "aliases" in caught.value.fields


def test_it_screens_every_vendor_again_once_a_list_is_imported(
    org, django_capture_on_commit_callbacks
):
    from vendors.services import vendor_transition

    vendor = vendor_create(by=org.procurement, legal_name="Kestrel Global Trading LLC")
    vendor_transition(vendor_id=vendor.pk, by=org.procurement, action="start_review", reason="New")
    assert not SanctionsMatch.objects.exists()

    with django_capture_on_commit_callbacks(execute=True):
        sanctions_list_import(source="uk", path=UK)

    match = SanctionsMatch.objects.get(vendor=vendor)
    assert (match.source, match.entry_reference) == ("uk", "90001")
    assert vendor.checks.get(kind="sanctions").status == "open"


def test_it_reports_what_the_command_imported(db):
    out = StringIO()

    call_command("import_sanctions", "--source", "uk", str(UK), stdout=out)
    call_command(
        "import_sanctions", "--source", "ofac", "--aliases", str(ALT_CSV), str(SDN_CSV), stdout=out
    )

    # "NORDSTRAL SHIPPING COMPANY LIMITED" and its alias "NORDSTRAL SHIPPING" are one name
    # once normalised, so it is kept once.
    assert out.getvalue().splitlines() == [
        "Imported 12 entries (17 names) from the UK consolidated list (OFSI).",
        "Imported 10 entries (15 names) from the OFAC SDN list.",
    ]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--source", "uk", "/nonexistent/ConList.csv"], "No such file: /nonexistent/ConList.csv"),
        (["--source", "un", str(UK)], "Unknown --source 'un'"),
        (["--source", "uk", str(EU)], "is an XML file; the UK list is read from"),
        (["--source", "eu", str(SDN_XML)], "its root element is <sdnList>, not <export>"),
        (
            ["--source", "ofac", "--aliases", str(ALT_CSV), str(SDN_XML)],
            "goes only with OFAC's sdn.csv",
        ),
    ],
)
def test_it_makes_the_command_fail_with_a_clear_message(db, arguments, message):
    with pytest.raises(CommandError, match=message.replace("(", r"\(").replace(")", r"\)")):
        call_command("import_sanctions", *arguments, stdout=StringIO())

    assert not SanctionsList.objects.exists()


def test_it_makes_the_command_fail_on_an_empty_file(db, tmp_path):
    empty = write(tmp_path, "sdn.csv", "")

    with pytest.raises(CommandError, match="has no entries"):
        call_command("import_sanctions", "--source", "ofac", str(empty), stdout=StringIO())
