"""Who else may open a purchase request: everyone asked to decide one of its steps.

Registered into requests.workflow from ApprovalsConfig.ready(); requests.selectors adds it to
its own rules, so the request page, its API and its actions all let an approver in (a legal
reviewer, say, sees no other requests). Past approvers keep seeing what they decided.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from approvals.models import StepApprover
from procurement.models import User


def approvers_see_their_requests(user: User) -> QuerySet[Any, Any]:
    # Used as `pk IN (...)`, not a correlated EXISTS: PostgreSQL reads the user's few
    # assignments through the approver index once, instead of probing for every request
    # (bench/web).
    return StepApprover.objects.filter(approver=user).values("step__request_id")
