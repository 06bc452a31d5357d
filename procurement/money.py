"""Money in the base currency: the one place amounts in other currencies are converted."""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings

from procurement.errors import InvalidInput
from procurement.models import ExchangeRate

CENT = Decimal("0.01")


class MissingExchangeRate(InvalidInput):
    code = "missing_exchange_rate"


def to_base_currency(amount: Decimal, currency: str, *, on: dt.date) -> Decimal:
    """`amount` in the base currency, at the latest rate valid on `on`.

    Raises MissingExchangeRate rather than guessing: an approval threshold must never be
    compared against an unconverted amount.
    """
    if currency == settings.BASE_CURRENCY:
        return amount
    rate = (
        ExchangeRate.objects.filter(currency=currency, valid_from__lte=on)
        .order_by("-valid_from")
        .values_list("rate", flat=True)
        .first()
    )
    if rate is None:
        raise MissingExchangeRate(
            f"There is no exchange rate from {currency} to {settings.BASE_CURRENCY} for {on:%d %b %Y}. "
            "Ask finance to add one.",
            fields={"currency": [f"No exchange rate for {currency}."]},
        )
    return (amount * rate).quantize(CENT, rounding=ROUND_HALF_UP)
