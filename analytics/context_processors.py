"""What the site's navigation (templates/base.html) shows of spend analytics."""

from __future__ import annotations

from typing import cast

from django.conf import settings
from django.http import HttpRequest

from analytics.scope import spend_access, spend_may_import
from procurement.models import User


def analytics_navigation(request: HttpRequest) -> dict[str, object]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    signed_in = cast(User, user)
    # Roles are cached on the user: no extra query.
    return {
        "nav_spend": spend_access(signed_in),
        "nav_spend_imports": spend_may_import(signed_in),
        # What every amount of the spend pages is converted to.
        "base_currency": settings.BASE_CURRENCY,
    }
