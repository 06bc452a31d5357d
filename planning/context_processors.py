"""What the site's navigation (templates/base.html) and the planning tabs show."""

from __future__ import annotations

from typing import cast

from django.http import HttpRequest

from planning.budgets import READ_ALL_ROLES
from planning.forecast import forecast_may_view
from procurement.models import Role, User


def planning_navigation(request: HttpRequest) -> dict[str, object]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    person = cast(User, user)
    return {
        # Needs and objectives are for everyone: stakeholders find each other's needs there.
        "nav_planning": True,
        "nav_budgets": person.has_role(*READ_ALL_ROLES, Role.MANAGER),
        "nav_forecast": forecast_may_view(person),
    }
