"""Company names compared as people write them."""

from __future__ import annotations

import pytest

from vendors.matching import identifier_key, name_key, name_similarity


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("Acme Ltd.", "acme"),
        ("ACME Limited", "acme"),
        ("Acme Public Limited Company", "acme"),
        ("Acme, Inc.", "acme"),
        ("Acme L.L.C.", "acme"),
        ("Acme Corp", "acme"),
        ("Acme GmbH", "acme"),
        ("Acme G.m.b.H.", "acme"),
        ("Acme GmbH & Co. KG", "acme"),
        ("Acme AG", "acme"),
        ("Acme S.A.", "acme"),
        ("Acme SARL", "acme"),
        ("Acme S.à r.l.", "acme"),
        ("Acme S.p.A.", "acme"),
        ("Acme S.r.l.", "acme"),
        ("Acme B.V.", "acme"),
        ("Acme N.V.", "acme"),
        ("Acme AB (publ)", "acme"),
        ("Acme A/S", "acme"),
        ("Acme ApS", "acme"),
        ("Acme Oy", "acme"),
        ("Acme Sp. z o.o.", "acme"),
        ("Acme Pty Ltd", "acme"),
        ("Acme K.K.", "acme"),
        ("Acme Co., Ltd.", "acme"),
        ("The Acme Company", "acme"),
    ],
)
def test_it_drops_legal_forms_of_many_countries(name, key):
    assert name_key(name) == key


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Müller GmbH", "Muller GmbH"),
        ("Société Générale S.A.", "Societe Generale"),
        ("Ørsted A/S", "Orsted"),
        ("Straße Systems", "STRASSE SYSTEMS"),
        ("Smith & Sons", "Smith and Sons"),
        ("Acme Widgets (UK) Ltd.", "ACME WIDGETS UK LIMITED"),
        ("I.B.M. Corp", "IBM"),
        ("Acme-Widgets", "Acme Widgets"),
    ],
)
def test_it_ignores_accents_case_punctuation_and_ampersands(a, b):
    assert name_key(a) == name_key(b)


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("Ltd", "ltd"),
        ("S.A.", "sa"),
        ("The", "the"),
        ("The Company Ltd", "company"),
        ("AB Ltd", "ab"),
        ("Company Limited", "company"),
    ],
)
def test_it_never_reduces_a_name_made_of_legal_forms_to_nothing(name, key):
    assert name_key(name) == key


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("Co-operative Bank plc", "co operative bank"),
        ("SA Power Networks", "sa power networks"),
        ("AB InBev", "ab inbev"),
        ("Limited Editions Ltd", "limited editions"),
    ],
)
def test_it_keeps_a_first_word_that_only_looks_like_a_legal_form(name, key):
    assert name_key(name) == key


def test_it_does_not_treat_a_legal_form_inside_a_word_as_one():
    assert name_key("Cobalt Agency Ltd") == "cobalt agency"
    assert name_key("Sanco Ltd") == "sanco"


def test_it_scores_names_alike_whatever_their_word_order():
    assert name_similarity(name_key("Widgets Acme Ltd"), name_key("Acme Widgets plc")) == 100
    assert name_similarity("acme widgets", "acme") < 60
    assert name_similarity("", "acme") == 0


def test_it_compares_identifiers_without_spacing_or_punctuation():
    assert identifier_key(" sc-123 45.") == identifier_key("SC12345") == "SC12345"
