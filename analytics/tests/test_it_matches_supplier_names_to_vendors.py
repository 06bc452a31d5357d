"""Supplier names from the real spend files grouped into payees and matched to vendors."""

from __future__ import annotations

import csv
from collections import defaultdict

import pytest
from pytest_django.fixtures import Settings

from analytics.models import Payee, PayeeMatch
from analytics.payees import REDACTED_KEY, PayeeResolver, payee_key
from analytics.tests.datasets import CARD_FILE, DATASETS
from conftest import Org
from tests.factories import vendor_create

# Spellings of one supplier, each group as it appears in the real files.
SAME_SUPPLIER = [
    ["AMAZON", "Amazon", "AMZ EVAQ8 ", "Amazon  Mktplce Eu-Uk"],
    ["GLOVE CLUB LTD", "GLOVECLUB", "PAYPAL *GLOVECLUB"],
    ["BACKCARE SOLUTIONS LTD", "BACKCARE SOLUTIONS ", "Back Care Solutions Ltd"],
    ["SHARP & ENRIGHT", "Sharp & Enright", "SHARP AND ENRIGHT"],
    ["PAYPAL *BUYITDIRECT", "PAYPAL BUYITDIRECT", "BUYITDIRECT ", "BUY IT DIRECT"],
    ["SP   BEAUTIFUL BROWS", "SP   BEAUTIFULB ROWS", "BEAUTIFUL BROWS"],
    ["Post Office Limited", "POST OFFICE LTD", "Post Office Ltd"],
    [
        "REDACTED PERSONAL DATA",
        "REDACTED COMMERCIAL CONFIDENTIALITY",
        "REDACTED COMMERICAL CONFIDENTIALITY",
    ],
    ["SQ  SQ  EARHUGGER SAFE", "EARHUGGER SAFE"],
    ["iZ  NEBULA CREATIVE", "IZ  NEBULA CREATIVE LIMITED"],
    ["AMAZON WEB SERVICES EMEA SARL", "AMAZON WEB SERVICES, INC.", "Amazon Web Services"],
    ["ALEXANDER MANN SOLUTIONS LTD-2WM", "Alexander Mann Solutions Limited"],
    ["Promote Consulting Ltd\\n", "PROMOTE CONSULTING LIMITED"],
    ["Faithful + Gould Limited", "FAITHFUL & GOULD LIMITED", "FAITHFUL AND GOULD LTD"],
    ["FURNITURE@WORK LIMITED", "FURNITUREATWORK"],
    ["Www.Nisbets.Com", "Nisbets"],
    ["Www.Victorfloorcare.Co.uk", "www.Victorfloorcare.co.uk"],
    ["Hmcourts-Service.G", "HMCOURTS-SERVICE"],
    ["Avison Young (UK) Limited", "AVISON YOUNG"],
    ["Wild Republic Uk L", "Wild Republic Uk Ltd", "Wild Republic Uk"],
    ["SIMPLY ERGONOMIC L", "SIMPLY ERGONOMIC LTD"],
    ["SP SERVICES UK LTD", "S P Services (Uk) Ltd"],
]

# Different suppliers that a careless rule would merge.
DIFFERENT_SUPPLIERS = [
    ("SP SERVICES UK LTD", "SERVICES UK LTD"),  # a real company, not a Shopify prefix
    ("STRIPE PAYMENTS UK LIMITED", "PAYMENTS UK"),  # Stripe itself
    ("AMAZON WEB SERVICES EMEA SARL", "AMAZON"),  # the cloud is not the shop
    ("Aws Ltd", "AMAZON WEB SERVICES"),
    ("Care Uk", "Care Ltd"),
    ("CSL KPMG LLP", "KPMG LLP"),
    ("EDF Energy Customers Ltd", "EDF ENERGY"),
    ("Cares (Uk) Ltd", "Care Uk"),
    ("LONDON BOROUGH OF BARNET", "LONDON BOROUGH OF BRENT"),
]


@pytest.mark.parametrize("spellings", SAME_SUPPLIER, ids=lambda s: s[0].strip())
def test_it_groups_the_spellings_of_one_supplier_under_one_key(spellings: list[str]) -> None:
    keys = {payee_key(spelling) for spelling in spellings}
    assert len(keys) == 1, keys
    assert keys != {""}


@pytest.mark.parametrize(("a", "b"), DIFFERENT_SUPPLIERS)
def test_it_keeps_different_suppliers_apart(a: str, b: str) -> None:
    assert payee_key(a) != payee_key(b)


def test_it_gives_missing_and_withheld_names_their_own_keys() -> None:
    assert payee_key("#N/A") == ""
    assert payee_key("   ") == ""
    assert payee_key("REDACTED PERSONAL DATA") == REDACTED_KEY


def _supplier_names() -> dict[str, int]:
    """Every supplier spelling in the shared files, with how many lines use it."""
    if not DATASETS.is_dir():
        pytest.skip(f"the real spend files are not here ({DATASETS})")
    names: dict[str, int] = defaultdict(int)
    files = [
        *(
            (p, "Supplier", "utf-8-sig")
            for p in DATASETS.glob("cabinet-office-spend-over-25k/*.csv")
        ),
        *(
            (p, "Supplier name", "latin-1")
            for p in DATASETS.glob("leeds-council-spend-over-500/*.csv")
        ),
        (CARD_FILE, "Supplier", "utf-8-sig"),
    ]
    for path, column, encoding in files:
        with path.open(encoding=encoding, errors="replace", newline="") as handle:
            for row in csv.DictReader(handle):
                names[row.get(column) or ""] += 1
    return names


def test_it_groups_the_real_files_spellings_without_merging_different_suppliers() -> None:
    names = _supplier_names()
    groups: dict[str, set[str]] = defaultdict(set)
    for name in names:
        groups[payee_key(name)].add(name)
    # Each listed spelling is really in the files, and its group is exactly as listed there.
    for spellings in SAME_SUPPLIER[:8]:
        present = [s for s in spellings if s in names]
        assert present, spellings
        assert {payee_key(s) for s in present} == {payee_key(present[0])}
    assert groups["amazon"] == {"AMAZON", "Amazon", "AMZ EVAQ8 ", "Amazon  Mktplce Eu-Uk"}
    assert "AMAZON WEB SERVICES EMEA SARL" in groups["amazonwebservices"]
    assert groups["gloveclub"] == {"GLOVE CLUB LTD", "GLOVECLUB"}
    assert groups["beautifulbrows"] == {"SP   BEAUTIFUL BROWS", "SP   BEAUTIFULB ROWS"}
    assert groups[REDACTED_KEY] == {
        "REDACTED PERSONAL DATA",
        "REDACTED COMMERCIAL CONFIDENTIALITY",
        "REDACTED COMMERICAL CONFIDENTIALITY",
    }
    assert "SP SERVICES UK LTD" in groups["spservices"]
    assert "STRIPE PAYMENTS UK LIMITED" in groups["stripepayments"]
    # About 5,800 spellings in the files; grouping saves hundreds of payees to review, and
    # no group is larger than the handful of ways one supplier is written.
    assert len(groups) < len(names) - 150
    assert max(len(g) for key, g in groups.items() if key not in ("", "amazonwebservices")) <= 6


@pytest.fixture
def vendors(org: Org) -> dict[str, int]:
    names = [
        "Amazon EU SARL",
        "Amazon Web Services EMEA SARL",
        "Glove Club Ltd",
        "Dell Corporation Limited",
        "Backcare Solutions Ltd",
        "Mott MacDonald Limited",
        "Premier Paper Group Ltd",
        "London Borough of Brent",
    ]
    made = {name: vendor_create(by=org.procurement, legal_name=name).pk for name in names}
    made["Hewlett Packard Enterprise"] = vendor_create(
        by=org.procurement, legal_name="Hewlett Packard Enterprise", aliases=["HPE Financial"]
    ).pk
    return made


def _resolved(spellings: list[str]) -> dict[str, Payee]:
    ids = PayeeResolver().resolve(spellings)
    payees = Payee.objects.in_bulk(set(ids.values()))
    return {spelling: payees[ids[spelling]] for spelling in spellings}


@pytest.mark.django_db
def test_it_matches_real_spellings_to_vendors_and_leaves_the_rest_for_review(
    vendors: dict[str, int],
) -> None:
    payees = _resolved(
        [
            "AMAZON",
            "AMZ EVAQ8 ",
            "AMAZON WEB SERVICES, INC.",
            "GLOVECLUB",
            "BACKCARE SOLUTIONS ",
            "Mott Macdondald Limited",
            "PREMIER PAPER GROU",
            "HPE FINANCIAL LTD",
            "Dell Product",
            "LONDON BOROUGH OF BARNET",
            "REDACTED PERSONAL DATA",
        ]
    )

    def vendor_of(spelling: str) -> tuple[int | None, str]:
        return payees[spelling].vendor_id, payees[spelling].match

    assert vendor_of("AMAZON") == (vendors["Amazon EU SARL"], PayeeMatch.EXACT)
    assert payees["AMZ EVAQ8 "] == payees["AMAZON"]
    assert vendor_of("AMAZON WEB SERVICES, INC.") == (
        vendors["Amazon Web Services EMEA SARL"],
        PayeeMatch.EXACT,
    )
    assert vendor_of("GLOVECLUB") == (vendors["Glove Club Ltd"], PayeeMatch.EXACT)
    assert vendor_of("BACKCARE SOLUTIONS ") == (vendors["Backcare Solutions Ltd"], PayeeMatch.EXACT)
    assert vendor_of("HPE FINANCIAL LTD") == (
        vendors["Hewlett Packard Enterprise"],
        PayeeMatch.EXACT,
    )
    # A typo and a name cut off at a card descriptor's width: matched, to be confirmed.
    assert vendor_of("Mott Macdondald Limited") == (
        vendors["Mott MacDonald Limited"],
        PayeeMatch.FUZZY,
    )
    assert (payees["Mott Macdondald Limited"].match_score or 0) >= 90
    assert vendor_of("PREMIER PAPER GROU") == (vendors["Premier Paper Group Ltd"], PayeeMatch.FUZZY)
    # Not Dell Corporation (maybe Dell Products, a vendor we do not have), not Brent.
    assert vendor_of("Dell Product") == (None, PayeeMatch.UNMATCHED)
    assert vendor_of("LONDON BOROUGH OF BARNET") == (None, PayeeMatch.UNMATCHED)
    assert vendor_of("REDACTED PERSONAL DATA") == (None, PayeeMatch.REDACTED)


@pytest.mark.django_db
def test_it_matches_fuzzily_only_above_the_configured_threshold(
    vendors: dict[str, int], settings: Settings
) -> None:
    settings.SPEND_VENDOR_MATCH_THRESHOLD = 99
    payees = _resolved(["Mott Macdondald Limited", "MOTT MACDONALD"])
    assert payees["Mott Macdondald Limited"].vendor_id is None
    assert payees["MOTT MACDONALD"].vendor_id == vendors["Mott MacDonald Limited"]


@pytest.mark.django_db
def test_it_puts_a_new_spelling_of_a_known_payee_under_that_payee(vendors: dict[str, int]) -> None:
    first = _resolved(["GLOVE CLUB LTD"])["GLOVE CLUB LTD"]
    later = _resolved(["PAYPAL *GLOVECLUB"])["PAYPAL *GLOVECLUB"]
    assert later == first
    assert sorted(first.spellings.values_list("spelling", flat=True)) == [
        "GLOVE CLUB LTD",
        "PAYPAL *GLOVECLUB",
    ]
    assert Payee.objects.count() == 1
