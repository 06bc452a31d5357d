"""What the site's navigation (templates/base.html) shows of sourcing and orders."""

from __future__ import annotations

from typing import cast

from django.http import HttpRequest

from procurement.models import User
from sourcing.access import may_see_sourcing


def sourcing_navigation(request: HttpRequest) -> dict[str, object]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"nav_sourcing": may_see_sourcing(cast(User, user))}
