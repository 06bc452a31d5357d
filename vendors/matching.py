"""Company names compared the way people write them: "ACME Ltd.", "Acme Limited" and
"acme" are the same company. Used for duplicate vendors, sanctions screening and (later)
matching spend lines to vendors.
"""

from __future__ import annotations

import re
import unicodedata

from rapidfuzz import fuzz

# Legal-form words that say nothing about which company it is, as they look once
# punctuation is gone and dotted initials are joined ("S.à r.l." -> "sarl", "A/S" -> "as").
# Multi-word forms are written with single spaces and are tried before single words.
LEGAL_FORMS = [
    # English-speaking countries
    "limited liability company",
    "limited liability partnership",
    "public limited company",
    "private limited",
    "limited",
    "ltd",
    "plc",
    "llp",
    "llc",
    "lllp",
    "pllc",
    "lp",
    "inc",
    "incorporated",
    "corp",
    "corporation",
    "co",
    "company",
    "pty",
    "pvt",
    "pte",
    "dac",
    "cic",
    # German-speaking countries
    "gmbh and co kg",
    "gmbh",
    "mbh",
    "ag",
    "kg",
    "kgaa",
    "ohg",
    "gbr",
    "ug",
    "eg",
    # Romance languages
    "se",
    "sa",
    "sas",
    "sasu",
    "sarl",
    "eurl",
    "snc",
    "sl",
    "slu",
    "srl",
    "spa",
    "sapa",
    "ltda",
    "lda",
    "sa de cv",
    # Benelux, Nordics, Central and Eastern Europe, Asia
    "bv",
    "nv",
    "bvba",
    "vof",
    "oy",
    "oyj",
    "ab",
    "publ",
    "as",
    "asa",
    "aps",
    "sp zoo",
    "sro",
    "kft",
    "zrt",
    "ooo",
    "kk",
    "sdn bhd",
    "bhd",
]
# Longest first, so "sp z oo" is removed whole before "sp" could be tried.
_FORMS = re.compile(
    r"\b(?:"
    + "|".join(re.escape(form) for form in sorted(LEGAL_FORMS, key=len, reverse=True))
    + r")\b"
)
_NOT_WORD = re.compile(r"[\W_]+")
_SPACES = re.compile(r"\s+")
# Runs of single letters are initials written with dots or spaces: "I.B.M." -> "ibm".
_INITIALS = re.compile(r"\b\w\b(?: \w\b)+")
# Letters that Unicode does not decompose into a base letter plus an accent.
_UNDECOMPOSED = str.maketrans(
    {"ø": "o", "æ": "ae", "œ": "oe", "ł": "l", "đ": "d", "ð": "d", "þ": "th", "\u0131": "i"}
)


def _plain(name: str) -> str:
    """Lower case, no accents, "&" as "and", no punctuation, initials joined."""
    text = unicodedata.normalize("NFKD", name)
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).casefold()
    text = text.translate(_UNDECOMPOSED).replace("&", " and ")
    text = _SPACES.sub(" ", _NOT_WORD.sub(" ", text)).strip()
    return _INITIALS.sub(lambda initials: initials.group(0).replace(" ", ""), text)


def name_key(name: str) -> str:
    """ "Acme Widgets (UK) Ltd." -> "acme widgets uk": accents, case, punctuation and legal forms gone.

    The first word is never taken for a legal form, so "Co-operative Bank" and "AB InBev"
    keep theirs, and a name made only of legal-form words keeps its first one ("AB Ltd"
    -> "ab", not ""). A leading "the" goes ("The Acme Company" = "Acme Co").
    """
    words = _plain(name).split(" ")
    if len(words) > 1 and words[0] == "the":
        words = words[1:]
    first, rest = words[0], " ".join(words[1:])
    rest = _SPACES.sub(" ", _FORMS.sub(" ", rest)).strip()
    # "Smith & Co" and "Acme GmbH & Co. KG" leave a dangling "and" behind.
    rest = re.sub(r"(?:^| )and$", "", rest).strip()
    return f"{first} {rest}".strip()


def identifier_key(value: str) -> str:
    """A registration or tax number compared without spaces, dashes, dots or case."""
    return re.sub(r"[^0-9A-Za-z]", "", value).upper()


def name_similarity(a: str, b: str) -> float:
    """0-100: how alike two normalised names are, whatever the order of their words."""
    if not a or not b:
        return 0.0
    return float(fuzz.token_sort_ratio(a, b))
