"""Who else may open a purchase request: everyone asked to decide one of its steps.

Registered into requests.workflow from ApprovalsConfig.ready(); requests.selectors adds it to
its own rules, so the request page, its API and its actions all let an approver in (a legal
reviewer, say, sees no other requests). Past approvers keep seeing what they decided.
"""

from __future__ import annotations

from approvals.models import StepApprover
from requests.workflow import VisibilityArm

# Matched as `pk IN (the user's assignments' requests)`, not a correlated EXISTS: PostgreSQL
# reads the user's few assignments through the approver index once, instead of probing for
# every request (bench/web).
APPROVERS_SEE_THEIR_REQUESTS = VisibilityArm(
    model=StepApprover, user_field="approver", values="step__request_id"
)
