"""The "Approvals (N)" link in the site's navigation (templates/base.html)."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import cast

from django.http import HttpRequest

from approvals.inbox import approval_inbox_count
from procurement.models import User


def pending_approvals(request: HttpRequest) -> dict[str, Callable[[], int]]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    signed_in = cast(User, user)

    # A callable, which the template calls only when it shows the navigation (pages that do
    # not, such as error pages, cost nothing), and then once: one COUNT query per page.
    @cache
    def count() -> int:
        return approval_inbox_count(user=signed_in)

    return {"pending_approvals_count": count}
