"""What the site's navigation (templates/base.html) shows of vendors and contracts."""

from __future__ import annotations

from typing import cast

from django.http import HttpRequest

from procurement.models import User
from vendors.selectors import vendor_may_score_assessments, vendor_may_see_file


def vendor_navigation(request: HttpRequest) -> dict[str, bool]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    signed_in = cast(User, user)
    # Roles are cached on the user, so these cost one query per page at most.
    return {
        "nav_vendor_files": vendor_may_see_file(signed_in),
        "nav_assessment_reviews": vendor_may_score_assessments(signed_in),
    }
