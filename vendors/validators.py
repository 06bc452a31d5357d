"""Checks on what people type about a vendor: country, tax number, bank account."""

from __future__ import annotations

import pycountry
from django.core.exceptions import ValidationError
from stdnum import get_cc_module
from stdnum.bic import validate as bic_validate
from stdnum.exceptions import ValidationError as StdnumError
from stdnum.iban import validate as iban_validate
from stdnum.us import ein

# Countries whose tax id python-stdnum knows by another module name than "vat".
_TAX_MODULES = {"us": ein}


def validate_country(value: str) -> None:
    if not value.strip():
        raise ValidationError("This field is required.")
    if pycountry.countries.get(alpha_2=value.strip().upper()) is None:
        raise ValidationError(f"{value!r} is not an ISO 3166 country code (e.g. GB, DE, US).")


def tax_number_clean(*, country: str, number: str) -> str:
    """The tax number in python-stdnum's compact form, or ValidationError when its format
    or check digits are wrong.

    Numbers of countries python-stdnum cannot check are kept as typed (trimmed). A VAT
    number may carry its country prefix ("GB 980 7806 84") or not; the compact form drops it.
    """
    number = number.strip()
    if not number:
        return ""
    module = _TAX_MODULES.get(country.lower()) or get_cc_module(country.lower(), "vat")
    if module is None:
        if len(number) > 40:
            raise ValidationError("At most 40 characters.")
        return number
    try:
        return str(module.validate(number))
    except StdnumError as error:
        found = pycountry.countries.get(alpha_2=country.upper())
        where = f"{found.name} " if found else ""
        raise ValidationError(f"{number} is not a valid {where}tax number: {error}") from None


def iban_clean(value: str) -> str:
    """The IBAN without spaces, in capitals, or ValidationError (length, country, check digits)."""
    value = value.strip()
    if not value:
        return ""
    try:
        return str(iban_validate(value))
    except StdnumError as error:
        raise ValidationError(f"{value} is not a valid IBAN ({error})") from None


def bic_clean(value: str) -> str:
    """The BIC / SWIFT code without spaces, in capitals, or ValidationError.

    8 or 11 characters with a real country code in the middle ("NWBKGB2L").
    """
    value = value.strip()
    if not value:
        return ""
    try:
        return str(bic_validate(value.upper()))
    except StdnumError:
        raise ValidationError(
            f"{value} is not a valid BIC: 8 or 11 letters and digits with the bank's "
            "country in the middle, e.g. NWBKGB2L."
        ) from None
