"""Prices over a term and across currencies: the formulas every sourcing page shows.

One place, so the quote page, the comparison matrix, the award and the savings all compute
a total cost of ownership (TCO) the same way.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings

from procurement.models import ExchangeRate
from procurement.money import CENT, MissingExchangeRate
from sourcing.models import Billing

RATE_PLACES = Decimal("0.00000001")


def periods_over_term(billing: str, term_months: int) -> Decimal:
    """How many times a line's price is paid over the term: once, each month, or each year
    (a part year counts pro rata: 18 months of a yearly licence is 1.5 payments)."""
    if billing == Billing.MONTHLY:
        return Decimal(term_months)
    if billing == Billing.YEARLY:
        return Decimal(term_months) / Decimal(12)
    return Decimal(1)


@dataclass(frozen=True)
class PricedLine:
    quantity: Decimal
    unit_price: Decimal
    billing: str


@dataclass(frozen=True)
class Tco:
    lines_total: Decimal  # each line's quantity x unit price, once
    lines_over_term: Decimal  # the same, times the periods paid over the term
    implementation: Decimal
    support_over_term: Decimal
    total: Decimal  # the TCO: lines over the term + implementation + support over the term


def tco(
    *,
    lines: Iterable[PricedLine],
    implementation_cost: Decimal,
    support_cost_per_year: Decimal,
    term_months: int,
) -> Tco:
    """TCO = sum(quantity x unit price x periods over the term) + implementation (one-off)
    + support per year x term in years. Every part is rounded to the cent once, at the end."""
    lines = list(lines)
    lines_total = sum((line.quantity * line.unit_price for line in lines), Decimal(0))
    over_term = sum(
        (
            line.quantity * line.unit_price * periods_over_term(line.billing, term_months)
            for line in lines
        ),
        Decimal(0),
    )
    support = support_cost_per_year * Decimal(term_months) / Decimal(12)

    def cents(value: Decimal) -> Decimal:
        return value.quantize(CENT, rounding=ROUND_HALF_UP)

    total = cents(over_term) + cents(implementation_cost) + cents(support)
    return Tco(
        cents(lines_total), cents(over_term), cents(implementation_cost), cents(support), total
    )


def _rate_to_base(currency: str, on: dt.date) -> Decimal:
    if currency == settings.BASE_CURRENCY:
        return Decimal(1)
    rate = (
        ExchangeRate.objects.filter(currency=currency, valid_from__lte=on)
        .order_by("-valid_from")
        .values_list("rate", flat=True)
        .first()
    )
    if rate is None:
        raise MissingExchangeRate(
            f"There is no exchange rate from {currency} to {settings.BASE_CURRENCY} for "
            f"{on:%d %b %Y}, so a price in {currency} cannot be compared. Quote in the RFQ's "
            "currency, or ask finance to add the rate.",
            fields={"currency": [f"No exchange rate for {currency} on {on:%d %b %Y}."]},
        )
    return rate


def exchange_rate(from_currency: str, to_currency: str, *, on: dt.date) -> Decimal:
    """How many `to_currency` one `from_currency` is worth on `on`, through the base currency.
    Raises MissingExchangeRate (a 400 with the reason) rather than guessing."""
    if from_currency == to_currency:
        return Decimal(1)
    rate = _rate_to_base(from_currency, on) / _rate_to_base(to_currency, on)
    return rate.quantize(RATE_PLACES, rounding=ROUND_HALF_UP)


def convert(amount: Decimal, from_currency: str, to_currency: str, *, on: dt.date) -> Decimal:
    rate = exchange_rate(from_currency, to_currency, on=on)
    return (amount * rate).quantize(CENT, rounding=ROUND_HALF_UP)
