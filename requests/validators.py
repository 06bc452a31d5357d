"""Field validators shared by the model, the page forms and the API serializers."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone


def validate_currency(value: str) -> None:
    if value not in settings.CURRENCIES:
        raise ValidationError(
            "Unknown currency %(value)r. Use one of: %(allowed)s.",
            code="unknown_currency",
            params={"value": value, "allowed": ", ".join(settings.CURRENCIES)},
        )


def validate_not_in_past(value: dt.date) -> None:
    if value < timezone.localdate():
        raise ValidationError("The needed-by date cannot be in the past.", code="date_in_past")
