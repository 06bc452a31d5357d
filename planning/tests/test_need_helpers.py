"""Builders for the needs board's tests, through the services (no tests here)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.utils import timezone

from planning.models import Need, NeedSupport
from planning.needs import NeedInput, need_create, need_support_add
from procurement.models import Category


def in_days(days: int) -> dt.date:
    return timezone.localdate() + dt.timedelta(days=days)


def post_need(
    org: Any,
    *,
    by: Any = None,
    title: str = "Video calls drop in the meeting rooms",
    department: Any = None,
    people: int = 10,
    budget: str = "1000.00",
    days: int = 30,
    objective: Any = None,
    category: str | None = None,
) -> Need:
    """A need posted by Alice (IT) unless `by` says otherwise."""
    by = by or org.requester
    return need_create(
        data=NeedInput(
            title=title,
            problem="Remote colleagues cannot hear the room.",
            department=department or by.department,
            people_affected=people,
            needed_by=in_days(days),
            rough_budget=Decimal(budget),
            objective=objective,
            category=Category.objects.get(code=category) if category else None,
        ),
        by=by,
    )


def support(
    org: Any, need: Need, *, by: Any = None, people: int = 5, budget: str = "500.00"
) -> NeedSupport:
    """Otto (Marketing) says Marketing needs it too."""
    return need_support_add(
        need_id=need.pk,
        by=by or org.outsider,
        people_affected=people,
        rough_budget=Decimal(budget),
        note="Same in our rooms.",
    )
