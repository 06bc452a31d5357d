"""Supplier names as finance systems write them, grouped and matched to vendor records.

A card statement says "AMAZON", "Amazon", "AMZ EVAQ8" and "PAYPAL *GLOVECLUB"; a ledger
says "Backcare Solutions Ltd" one month and "BACKCARE SOLUTIONS" the next. `payee_key`
turns each into the key of one payee; `PayeeResolver` finds or creates payees for a batch
of spellings at once and matches new ones to vendors with rapidfuzz. A person confirms or
corrects a match with `payee_map_to_vendor` / `payee_unmap`, which apply to the payee's
past lines at once (and to future ones, since lines point at the payee).

The rules below were drawn from the real files in shared/datasets (Cabinet Office, Leeds,
Home Office cards); analytics/tests/test_it_matches_supplier_names_to_vendors.py holds the
variants they merge and the different suppliers they must keep apart.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from decimal import Decimal

from django.conf import settings
from django.db import models, transaction
from django.db.models import (
    Case,
    DecimalField,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.utils import timezone
from rapidfuzz import fuzz, process

from analytics import rollups
from analytics.models import Payee, PayeeMatch, PayeeSpelling, SpendByMonthPayee, SpendLine
from analytics.scope import spend_may_import
from procurement.errors import InvalidInput, NotAllowed
from procurement.models import User
from procurement.services import audit_record
from vendors.matching import name_key
from vendors.models import Contract, ContractState, Vendor, VendorName

# What publishers put where a supplier's name is withheld ("REDACTED PERSONAL DATA",
# "REDACTED COMMERCIAL CONFIDENTIALITY", misspelt "COMMERICAL" too). Such lines still count
# as spend, under one payee that is never matched to a vendor.
REDACTED_KEY = "redacted"
_REDACTED = re.compile(r"^\s*(redacted\b.*|personal data|withheld.*)\s*$", re.IGNORECASE)
_NO_NAME = {"#N/A", "N/A", "NA", "NULL", "NONE", "-", "--", "?", "0"}
# Card processors that put their own code before the merchant's: "PAYPAL *X", "SP   X"
# (Shopify), "SQ  X" (Square), "IZ  X" (iZettle), "SUMUP X". Repeated ("SQ  SQ  X").
_PROCESSOR_PREFIX = re.compile(
    r"^(?:(?:paypal|pp|sq|sp|sumup|iz|izettle|zettle|stripe|wpy|ws)\s*[*\s]\s*)+", re.IGNORECASE
)
# What is left after a prefix must still name a merchant: "SP SERVICES UK LTD" is a real
# company and "STRIPE PAYMENTS UK LIMITED" is Stripe itself, not a merchant called "Payments".
_GENERIC_WORDS = frozenset(
    [
        "services",
        "service",
        "uk",
        "gb",
        "payments",
        "payment",
        "solutions",
        "group",
        "holdings",
        "international",
        "global",
        "europe",
        "eu",
        "emea",
        "online",
        "store",
        "shop",
        "ltd",
        "limited",
        "plc",
    ]
)
# Amazon Web Services is a different supplier (and a different contract) from the shop.
_BRANDS = [
    (
        re.compile(r"^(?:amazon\s*web\s*services|aws\s+services?)\b", re.IGNORECASE),
        "amazon web services",
    ),
    (re.compile(r"^(?:amzn?|amazon)(?:\b|\W|$)", re.IGNORECASE), "amazon"),
]
# A card descriptor's trailing reference: a word that mixes letters and digits ("EVAQ8").
_REFERENCE_WORD = re.compile(r"\s+(?=\w*\d)(?=\w*[a-z])\w{4,}$", re.IGNORECASE)
_WEB_PREFIX = re.compile(r"^www\.", re.IGNORECASE)
_URL_SCHEME = re.compile(r"^https?://", re.IGNORECASE)
_WEB_SUFFIX = re.compile(r"(?<=\w)\.(?:com|co\.uk|org\.uk|org|net|gov\.uk)\b.*$", re.IGNORECASE)
# A domain cut off by a fixed-width field: "Www.Fitness-Superstore.C", "Hmcourts-Service.G".
_CUT_WEB_SUFFIX = re.compile(
    r"(?<=\w{3})\.(?:c|co|co\.u|com?\.?|g|go|gov|gov\.u|or)$", re.IGNORECASE
)
# Ledger noise: the Cabinet Office's "-2WM" supplier-record suffix, a literal "\n".
_LEDGER_SUFFIX = re.compile(r"(?:\s*-\s*2WM|\\n)+\s*$", re.IGNORECASE)
# A legal form cut off by a fixed-width field ("SIMPLY ERGONOMIC L", "... Centre Lt").
_CUT_LEGAL_FORM = re.compile(r" (?:l|lt|li|lim|limi|limit|limite)$")
# Fields that cut names at a fixed width do so at 18 characters or more.
_CUT_WIDTH = 18
# How alike the words two names do not share must be for a fuzzy match ("Mott Macdondald").
_DISTINCT_PART_SIMILARITY = 85


def is_redacted(raw: str) -> bool:
    return bool(_REDACTED.match(raw))


def _strip_processor(text: str) -> str:
    prefix = _PROCESSOR_PREFIX.match(text)
    if not prefix:
        return text
    rest = text[prefix.end() :]
    words = set(name_key(rest).split()) if rest.strip() else set()
    if not words or words <= _GENERIC_WORDS:
        return text
    return rest


def _words(text: str, *, cut: bool) -> str:
    """The name as normalised words ("glove club"); its key is the same without spaces."""
    for pattern, brand in _BRANDS:
        if pattern.match(text):
            return brand
    text = _WEB_PREFIX.sub("", _URL_SCHEME.sub("", text))
    text = _CUT_WEB_SUFFIX.sub("", _WEB_SUFFIX.sub("", text))
    text = _REFERENCE_WORD.sub("", text)
    text = text.replace("+", " & ").replace("@", " at ")
    spaced = name_key(text) if text.strip() else ""
    if cut:
        spaced = _CUT_LEGAL_FORM.sub("", spaced)
    # "Barden UK Ltd" is "BARDEN": a trailing "UK" does not tell suppliers apart, unless it
    # is most of the name ("Care UK" stays "careuk").
    if spaced.endswith(" uk") and len(spaced.replace(" ", "")) >= 7:
        spaced = spaced[:-3]
    return spaced


def _key(words: str) -> str:
    # "GLOVE CLUB" and "GLOVECLUB" are one supplier: spaces do not tell payees apart.
    return words.replace(" ", "")[:200]


def payee_words(raw: str) -> str:
    """`payee_key` with the spaces kept ("glove club"), for comparing word by word."""
    text = _LEDGER_SUFFIX.sub("", raw.replace("\x00", "")).strip()
    if not text or text.upper() in _NO_NAME:
        return ""
    if is_redacted(text):
        return REDACTED_KEY
    return _words(_strip_processor(text), cut=len(text) >= _CUT_WIDTH) or name_key(raw)


def payee_key(raw: str) -> str:
    """The key under which every spelling of one supplier is grouped ("" for no name).

    Runs once per distinct spelling in a file (a few microseconds each).
    """
    return _key(payee_words(raw))


def vendor_name_words(name: str) -> str:
    """A vendor's name as payee words: the same rules, except that no card processor
    prefix is taken off ("SP Energy Networks" is the company's own name)."""
    text = name.strip()
    return _words(text, cut=False) if text else ""


def _distinct_parts_alike(a: str, b: str) -> bool:
    """Whether two names that are alike overall are also alike in the words that differ:
    "London Borough of Barnet" is not "... of Brent", "Leeds East Academy" is not "Leeds West
    Academy", though each pair scores over 90 as a whole."""
    words_a, words_b = a.split(), b.split()
    common = set(words_a) & set(words_b)
    rest_a = "".join(w for w in words_a if w not in common)
    rest_b = "".join(w for w in words_b if w not in common)
    if not rest_a and not rest_b:
        return True
    return fuzz.ratio(rest_a, rest_b) >= _DISTINCT_PART_SIMILARITY


class VendorIndex:
    """Every vendor's legal name and other names by payee key, for matching new payees."""

    def __init__(self) -> None:
        self.by_key: dict[str, int] = {}
        self.words: dict[str, str] = {}
        for name, vendor_id in Vendor.objects.values_list("legal_name", "id"):
            self._add(vendor_name_words(name), vendor_id)
        for name, vendor_id in VendorName.objects.values_list("name", "vendor_id"):
            # Aliases are often names from statements ("PAYPAL *GLOVECLUB"): key them both ways.
            self._add(vendor_name_words(name), vendor_id)
            self._add(payee_words(name), vendor_id)
        self.keys = list(self.by_key)

    def _add(self, words: str, vendor_id: int) -> None:
        key = _key(words)
        if key and key != REDACTED_KEY and key not in self.by_key:
            self.by_key[key] = vendor_id
            self.words[key] = words

    def match(self, spelling: str) -> tuple[int | None, str, float | None]:
        """(vendor id, how it matched, score) for a spelling. A spelling of 18 characters
        or more may have been cut off at a fixed width, so a vendor name that starts with its
        key is a candidate too (as a fuzzy match, for review)."""
        words = payee_words(spelling)
        key = _key(words)
        cut = len(spelling.strip()) >= _CUT_WIDTH
        if key in ("", REDACTED_KEY):
            return None, PayeeMatch.REDACTED if key else PayeeMatch.UNMATCHED, None
        if key in self.by_key:
            return self.by_key[key], PayeeMatch.EXACT, 100.0
        # Short keys match only exactly: "ibm" is not "ibs".
        if len(key) < 6 or not self.keys:
            return None, PayeeMatch.UNMATCHED, None
        threshold = settings.SPEND_VENDOR_MATCH_THRESHOLD
        for found, score, _index in process.extract(
            key, self.keys, scorer=fuzz.ratio, score_cutoff=threshold, limit=5
        ):
            if _distinct_parts_alike(words, self.words[found]):
                return self.by_key[found], PayeeMatch.FUZZY, float(score)
        if cut and len(key) >= 10:
            # "PREMIER PAPER GROU" is the start of "Premier Paper Group": still for review.
            starts = [k for k in self.keys if k.startswith(key)]
            if starts:
                found = min(starts, key=len)
                return self.by_key[found], PayeeMatch.FUZZY, float(fuzz.ratio(key, found))
        return None, PayeeMatch.UNMATCHED, None


class PayeeResolver:
    """Payee ids for spellings, creating payees (matched to vendors) for new keys.

    Works a batch at a time and remembers what it has seen, so a million-line import costs
    a handful of queries per batch, not per line.
    """

    def __init__(self) -> None:
        self.ids: dict[str, int] = {}
        self._vendors: VendorIndex | None = None

    def resolve(self, spellings: Iterable[str]) -> dict[str, int]:
        wanted = {s for s in spellings if s not in self.ids}
        if wanted:
            self._resolve_new(wanted)
        return self.ids

    def _resolve_new(self, spellings: set[str]) -> None:
        known = dict(
            PayeeSpelling.objects.filter(spelling__in=spellings).values_list("spelling", "payee_id")
        )
        self.ids.update(known)
        new = {spelling: payee_key(spelling) for spelling in spellings - known.keys()}
        if not new:
            return
        by_key = dict(Payee.objects.filter(key__in=set(new.values())).values_list("key", "id"))
        missing_keys: dict[str, str] = {}
        for spelling, key in sorted(new.items()):
            if key not in by_key:
                missing_keys.setdefault(key, spelling)
        if missing_keys:
            if self._vendors is None:
                self._vendors = VendorIndex()
            payees = []
            for key, spelling in missing_keys.items():
                vendor_id, match, score = self._vendors.match(spelling)
                payees.append(
                    Payee(
                        key=key,
                        name=spelling.strip()[:255] or "(no supplier named)",
                        vendor_id=vendor_id,
                        match=match,
                        match_score=score,
                    )
                )
            # ignore_conflicts: another import may create the same payee at the same moment.
            Payee.objects.bulk_create(payees, ignore_conflicts=True)
            by_key.update(
                Payee.objects.filter(key__in=missing_keys.keys()).values_list("key", "id")
            )
        PayeeSpelling.objects.bulk_create(
            [PayeeSpelling(spelling=s, payee_id=by_key[k]) for s, k in new.items()],
            ignore_conflicts=True,
        )
        self.ids.update(
            PayeeSpelling.objects.filter(spelling__in=new.keys()).values_list(
                "spelling", "payee_id"
            )
        )


# --- Review: a person maps a payee to a vendor, or says it is not that vendor ----------------

# Contracts whose dates say the vendor was under contract then, whatever became of them since.
CONTRACT_STATES_COVERING_SPEND = [
    ContractState.ACTIVE,
    ContractState.EXPIRING,
    ContractState.RENEWED,
    ContractState.EXPIRED,
]


def contract_covering(*, vendor_id: int | None, date_ref: object) -> Subquery:
    """The vendor's contract whose start..end (inclusive) covers `date_ref` (an F/OuterRef
    to a date), the latest-starting one where a renewal overlaps its predecessor."""
    return Subquery(
        Contract.objects.filter(
            vendor_id=vendor_id,
            state__in=CONTRACT_STATES_COVERING_SPEND,
            start_date__lte=date_ref,
            end_date__gte=date_ref,
        )
        .order_by("-start_date", "-id")
        .values("id")[:1]
    )


def _lines_relink(payee: Payee) -> None:
    """Point the payee's lines at its vendor's contract of their date (or none), keeping the
    rollups exact: the lines leave them before the change and come back after it."""
    lines = SpendLine.objects.filter(payee_id=payee.pk)
    rollups.rollups_remove_lines(where="payee_id = %s", params=[payee.pk])
    if payee.vendor_id is None:
        lines.update(contract=None)
    else:
        lines.update(
            contract=contract_covering(vendor_id=payee.vendor_id, date_ref=OuterRef("date"))
        )
    rollups.rollups_add_lines(where="payee_id = %s", params=[payee.pk])


def _check_may_review(user: User) -> None:
    if not spend_may_import(user):
        raise NotAllowed("Only procurement, finance and admins map payees to vendors.")


@transaction.atomic
def payee_map_to_vendor(*, payee: Payee, vendor: Vendor, user: User) -> Payee:
    """Map `payee` to `vendor` by hand, for its past and future lines.

    Atomic, with the payee row locked: sets the vendor (match "manual", reviewed by/at),
    adds the payee's spellings as aliases of the vendor (so a fresh import matches them
    directly), re-links the payee's lines to the vendor's contract of each line's date with
    the rollups kept exact, and writes an audit entry. Raises NotAllowed for anyone but
    procurement, finance and admins, InvalidInput for the redacted or unnamed payee.
    """
    _check_may_review(user)
    payee = Payee.objects.select_for_update().get(pk=payee.pk)
    if payee.key in ("", REDACTED_KEY):
        raise InvalidInput(
            "Lines whose supplier is withheld or missing cannot be mapped to a vendor.",
            fields={"vendor": ["This payee has no supplier name to map."]},
        )
    previous, previous_vendor = payee.match, payee.vendor
    payee.vendor = vendor
    payee.match = PayeeMatch.MANUAL
    payee.match_score = None
    payee.reviewed_by = user
    payee.reviewed_at = timezone.now()
    payee.save(update_fields=["vendor", "match", "match_score", "reviewed_by", "reviewed_at"])
    seen = {vendor.name_key, *vendor.other_names.values_list("name_key", flat=True)}
    for spelling in payee.spellings.values_list("spelling", flat=True).order_by("spelling"):
        name = spelling.strip()[:200]
        key = name_key(name)[:200]
        if not key or key in seen:
            continue
        seen.add(key)
        VendorName.objects.create(
            vendor=vendor, name=name, name_key=key, kind=VendorName.Kind.ALIAS
        )
    _lines_relink(payee)
    comment = f"Mapped to {vendor.legal_name}"
    if previous_vendor is not None and previous_vendor.pk != vendor.pk:
        comment += f" (was {previous_vendor.legal_name})"
    audit_record(
        target=payee,
        actor=user,
        action="payee_mapped",
        from_state=previous,
        to_state=PayeeMatch.MANUAL,
        comment=comment,
    )
    return payee


@transaction.atomic
def payee_unmap(*, payee: Payee, user: User) -> Payee:
    """ "Not this vendor": the payee goes back to no vendor, for its past and future lines.

    Atomic, with the payee row locked: clears the vendor (reviewed by/at kept, so the page
    can tell a reviewed payee from a new one), removes the aliases that a mapping added
    (the payee's spellings), takes its lines off the vendor's contracts with the rollups kept
    exact, and writes an audit entry. Raises NotAllowed as payee_map_to_vendor does.
    """
    _check_may_review(user)
    payee = Payee.objects.select_for_update().get(pk=payee.pk)
    previous, vendor = payee.match, payee.vendor
    if vendor is not None:
        spellings = [s.strip()[:200] for s in payee.spellings.values_list("spelling", flat=True)]
        VendorName.objects.filter(
            vendor=vendor, kind=VendorName.Kind.ALIAS, name__in=spellings
        ).delete()
    payee.vendor = None
    payee.match = PayeeMatch.REDACTED if payee.key == REDACTED_KEY else PayeeMatch.UNMATCHED
    payee.match_score = None
    payee.reviewed_by = user
    payee.reviewed_at = timezone.now()
    payee.save(update_fields=["vendor", "match", "match_score", "reviewed_by", "reviewed_at"])
    _lines_relink(payee)
    audit_record(
        target=payee,
        actor=user,
        action="payee_unmapped",
        from_state=previous,
        to_state=payee.match,
        comment=f"Not {vendor.legal_name}" if vendor else "",
    )
    return payee


# --- Reading: the review list ---------------------------------------------------------------


class PayeeView(models.TextChoices):
    REVIEW = "review", "To review"
    MAPPED = "mapped", "Mapped to a vendor"


def payees_for_review(
    *, view: str = PayeeView.REVIEW, import_id: int | None = None, q: str = ""
) -> QuerySet[Payee]:
    """Payees a person should look at, with `line_count` and `total` (base currency, from the
    payee rollup): those with no vendor first, then fuzzy matches not yet confirmed, largest
    spend first. `view="mapped"` lists the payees that have a vendor, to correct them.
    `import_id`: only payees with lines from that import."""
    if view == PayeeView.MAPPED:
        payees = Payee.objects.filter(vendor__isnull=False)
    else:
        payees = Payee.objects.filter(
            (Q(vendor__isnull=True) & ~Q(key__in=["", REDACTED_KEY]))
            | Q(match=PayeeMatch.FUZZY, reviewed_at__isnull=True)
        )
    if import_id is not None:
        payees = payees.filter(
            id__in=SpendLine.objects.filter(spend_import_id=import_id).values("payee_id")
        )
    if q.strip():
        payees = payees.filter(
            Q(name__icontains=q.strip()) | Q(spellings__spelling__icontains=q.strip())
        ).distinct()
    totals = SpendByMonthPayee.objects.filter(payee_id=OuterRef("pk")).values("payee_id")
    return (
        payees.annotate(
            total=Coalesce(
                Subquery(totals.annotate(s=Sum("amount")).values("s")),
                Value(Decimal("0")),
                output_field=DecimalField(max_digits=18, decimal_places=2),
            ),
            line_count=Coalesce(
                Subquery(totals.annotate(n=Sum("lines")).values("n")),
                Value(0),
                output_field=IntegerField(),
            ),
            fuzzy_first=Case(When(match=PayeeMatch.FUZZY, then=Value(1)), default=Value(0)),
        )
        .select_related("vendor", "reviewed_by")
        .prefetch_related("spellings")
        .order_by("fuzzy_first", "-total", "name", "id")
    )


def vendor_candidates(payee: Payee, index: VendorIndex, *, limit: int = 5) -> list[int]:
    """Ids of the vendors whose names are most like the payee's, best first (for a picker)."""
    if not index.keys or payee.key in ("", REDACTED_KEY):
        return []
    found = process.extract(
        payee.key, index.keys, scorer=fuzz.ratio, limit=limit * 3, score_cutoff=50
    )
    ids: list[int] = []
    for key, _score, _index in found:
        vendor_id = index.by_key[key]
        if vendor_id not in ids:
            ids.append(vendor_id)
    return ids[:limit]
