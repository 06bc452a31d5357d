"""Company names compared the way people write them: "ACME Ltd.", "Acme Limited" and
"acme" are the same company. Used for duplicate vendors, sanctions screening and (later)
matching spend lines to vendors.
"""

from __future__ import annotations

import re
import unicodedata

from rapidfuzz import fuzz

# Legal-form words that say nothing about which company it is. Multi-word forms are
# written with single spaces; they are removed after punctuation has become spaces.
LEGAL_FORMS = [
    "limited liability company",
    "public limited company",
    "private limited",
    "limited",
    "ltd",
    "plc",
    "llp",
    "llc",
    "lp",
    "inc",
    "incorporated",
    "corp",
    "corporation",
    "co",
    "company",
    "gmbh",
    "mbh",
    "ag",
    "kg",
    "ug",
    "se",
    "sa",
    "sas",
    "sarl",
    "sl",
    "srl",
    "spa",
    "bv",
    "nv",
    "oy",
    "ab",
    "as",
    "aps",
    "pty",
    "pvt",
    "kk",
    "the",
]
_FORMS = re.compile(r"\b(?:" + "|".join(re.escape(form) for form in LEGAL_FORMS) + r")\b")
_NOT_WORD = re.compile(r"[^\w]+")
_SPACES = re.compile(r"\s+")


def name_key(name: str) -> str:
    """ "Acme Widgets (UK) Ltd." -> "acme widgets uk": accents, case, punctuation and legal forms gone.

    A name made only of legal-form words keeps them, so "The Company Ltd" is not "".
    """
    text = unicodedata.normalize("NFKD", name)
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).casefold()
    text = text.replace("&", " and ")
    # "G.m.b.H." and "S.A." lose their dots before the legal forms are looked for.
    text = re.sub(r"\b(\w)\.(?=\w\b\.?)", r"\1", text)
    text = _SPACES.sub(" ", _NOT_WORD.sub(" ", text.replace("_", " "))).strip()
    stripped = _SPACES.sub(" ", _FORMS.sub(" ", text)).strip()
    return stripped or text


def identifier_key(value: str) -> str:
    """A registration or tax number compared without spaces, dashes, dots or case."""
    return re.sub(r"[^0-9A-Za-z]", "", value).upper()


def name_similarity(a: str, b: str) -> float:
    """0-100: how alike two normalised names are, whatever the order of their words."""
    if not a or not b:
        return 0.0
    return float(fuzz.token_sort_ratio(a, b))
