"""What each RFQ line cost before: benchmarks from the spend ledger and from contracts.

Per RFQ line, from analytics spend of the last BENCHMARK_YEARS years in the line's category
(spend categories mapped to our procurement category): the unit prices paid (base amount
/ quantity where the line has a quantity, else the base amount), preferring lines whose
description is alike (rapidfuzz token_set_ratio >= SIMILARITY_MIN) and falling back to the
whole category, and saying which was used. The median, the 25th percentile (linear
interpolation between the closest ranks, as PostgreSQL's percentile_cont) and the last price
paid (the latest date), converted from the base currency to the RFQ's; the price of a live
contract covering today (an invited vendor's first); and how far each current quote's unit
price is from each of them, in percent: (quote - benchmark) / benchmark x 100.

Bounded: at most SPEND_LINES_MAX spend lines are read per RFQ line, the newest first.
A missing exchange rate makes that benchmark unavailable with the reason, never a crash.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.utils import timezone
from rapidfuzz import fuzz, utils

from procurement.money import MissingExchangeRate
from sourcing.models import ZERO, ContractPrice, Rfq, RfqLine
from sourcing.pricing import convert, periods_over_term
from sourcing.scoring import cents, current_quotes, in_rfq_currency
from vendors.models import LIVE_CONTRACT_STATES

BENCHMARK_YEARS = 3
SIMILARITY_MIN = 80
SPEND_LINES_MAX = 5_000
PERCENT_PLACES = Decimal("0.1")


@dataclass
class ContractBenchmark:
    contract_id: int
    contract_title: str
    vendor_id: int
    vendor_name: str
    description: str
    unit_price: Decimal | None  # in the RFQ's currency; None when it cannot be converted
    quoted_unit_price: Decimal
    currency: str  # the contract's
    invited: bool
    unavailable: str = ""


@dataclass
class QuoteDifference:
    """One quote's unit price against each benchmark, in percent (None: no benchmark)."""

    invitation_id: int
    vendor_name: str
    unit_price: Decimal  # RFQ currency
    vs_median: Decimal | None
    vs_p25: Decimal | None
    vs_last: Decimal | None
    vs_contract: Decimal | None


@dataclass
class LineBenchmark:
    rfq_line: RfqLine
    # "similar": alike descriptions; "category": every line of the category; "none".
    basis: str
    basis_text: str
    count: int
    currency: str
    median: Decimal | None = None
    p25: Decimal | None = None
    last: Decimal | None = None
    last_date: dt.date | None = None
    unavailable: str = ""  # why the spend figures cannot be shown (a missing rate)
    contract: ContractBenchmark | None = None
    quotes: list[QuoteDifference] = field(default_factory=list)

    @property
    def has_spend(self) -> bool:
        return self.median is not None


def _alike(a: str, b: str) -> bool:
    return fuzz.token_set_ratio(a, b, processor=utils.default_process) >= SIMILARITY_MIN


def percentile(values: list[Decimal], fraction: Decimal) -> Decimal:
    """The `fraction` percentile of `values` by linear interpolation between closest ranks."""
    ordered = sorted(values)
    position = fraction * Decimal(len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - Decimal(low))


def _difference(price: Decimal, benchmark: Decimal | None) -> Decimal | None:
    if benchmark is None or benchmark <= 0:
        return None
    return (Decimal(100) * (price - benchmark) / benchmark).quantize(
        PERCENT_PLACES, rounding=ROUND_HALF_UP
    )


def _spend_prices(line: RfqLine, since: dt.date) -> tuple[str, list[tuple[dt.date, int, Decimal]]]:
    """(basis, [(date, id, unit price in the base currency)]) of past spend like `line`."""
    from analytics.models import SpendLine

    rows = list(
        SpendLine.objects.filter(category__category_id=line.category_id, date__gte=since)
        .order_by("-date", "-id")
        .values_list("date", "id", "description", "base_amount", "quantity")[:SPEND_LINES_MAX]
    )
    if not rows:
        return "none", []

    def unit(amount: Decimal, quantity: Decimal | None) -> Decimal:
        return amount / quantity if quantity else amount

    similar = [
        (date, pk, unit(amount, quantity))
        for date, pk, description, amount, quantity in rows
        if description and _alike(line.description, description)
    ]
    if similar:
        return "similar", similar
    return "category", [
        (date, pk, unit(amount, quantity)) for date, pk, _, amount, quantity in rows
    ]


def _contract_price(
    line: RfqLine, rfq: Rfq, invited_vendor_ids: set[int], today: dt.date
) -> ContractBenchmark | None:
    candidates = [
        price
        for price in ContractPrice.objects.filter(
            category_id=line.category_id,
            contract__state__in=LIVE_CONTRACT_STATES,
            contract__start_date__lte=today,
            contract__end_date__gte=today,
        ).select_related("contract__vendor")[:500]
        if _alike(line.description, price.description)
    ]
    if not candidates:
        return None
    chosen = min(
        candidates,
        key=lambda p: (
            p.contract.vendor_id not in invited_vendor_ids,
            -fuzz.token_set_ratio(line.description, p.description, processor=utils.default_process),
            p.unit_price,
        ),
    )
    contract = chosen.contract
    benchmark = ContractBenchmark(
        contract_id=contract.pk,
        contract_title=contract.title,
        vendor_id=contract.vendor_id,
        vendor_name=contract.vendor.legal_name,
        description=chosen.description,
        unit_price=None,
        quoted_unit_price=chosen.unit_price,
        currency=contract.currency,
        invited=contract.vendor_id in invited_vendor_ids,
    )
    try:
        benchmark.unit_price = convert(chosen.unit_price, contract.currency, rfq.currency, on=today)
    except MissingExchangeRate as error:
        benchmark.unavailable = error.message
    return benchmark


def rfq_benchmarks(*, rfq: Rfq) -> list[LineBenchmark]:
    """Per RFQ line: past prices paid (median, 25th percentile, last), the contract price and
    each current quote's difference from them. Reads only; bounded per line."""
    today = timezone.localdate()
    since = today - dt.timedelta(days=round(365.25 * BENCHMARK_YEARS))
    quotes = current_quotes(rfq)
    invited_vendor_ids = set(rfq.invitations.values_list("vendor_id", flat=True))
    base = settings.BASE_CURRENCY
    benchmarks = []
    for line in rfq.lines.select_related("category").order_by("position", "id"):
        basis, prices = _spend_prices(line, since)
        benchmark = LineBenchmark(
            rfq_line=line,
            basis=basis,
            basis_text={
                "similar": f"{len(prices)} past line{'s' if len(prices) != 1 else ''} like "
                f"“{line.description}” in {line.category}",
                "category": f"no past line alike: all {len(prices)} line"
                f"{'s' if len(prices) != 1 else ''} of {line.category}",
                "none": f"no spend in {line.category} in the last {BENCHMARK_YEARS} years",
            }[basis],
            count=len(prices),
            currency=rfq.currency,
        )
        if prices:
            values = [price for _, _, price in prices]
            last_date, _, last = max(prices, key=lambda p: (p[0], p[1]))
            try:
                benchmark.median = convert(
                    percentile(values, Decimal("0.5")), base, rfq.currency, on=today
                )
                benchmark.p25 = convert(
                    percentile(values, Decimal("0.25")), base, rfq.currency, on=today
                )
                benchmark.last = convert(last, base, rfq.currency, on=today)
                benchmark.last_date = last_date
            except MissingExchangeRate as error:
                benchmark.median = benchmark.p25 = benchmark.last = None
                benchmark.unavailable = error.message
        benchmark.contract = _contract_price(line, rfq, invited_vendor_ids, today)
        contract_price = benchmark.contract.unit_price if benchmark.contract else None
        for quote in quotes:
            quote_line = next((ql for ql in quote.lines.all() if ql.rfq_line_id == line.pk), None)
            if quote_line is None:
                continue
            unit = in_rfq_currency(quote_line.unit_price, quote)
            benchmark.quotes.append(
                QuoteDifference(
                    invitation_id=quote.invitation_id,
                    vendor_name=quote.invitation.vendor.legal_name,
                    unit_price=unit,
                    vs_median=_difference(unit, benchmark.median),
                    vs_p25=_difference(unit, benchmark.p25),
                    vs_last=_difference(unit, benchmark.last),
                    vs_contract=_difference(unit, contract_price),
                )
            )
        benchmarks.append(benchmark)
    return benchmarks


def benchmark_median_total(*, rfq: Rfq, benchmarks: list[LineBenchmark]) -> Decimal | None:
    """Σ median unit price x quantity x periods over the term, or None when any line has
    no median (a partial benchmark would understate the baseline)."""
    total = ZERO
    for benchmark in benchmarks:
        if benchmark.median is None:
            return None
        line = benchmark.rfq_line
        total += benchmark.median * line.quantity * periods_over_term(line.billing, rfq.term_months)
    return cents(total)
