"""Reads of approval routes and of what waits for whom."""

from __future__ import annotations

from django.db.models import Max, Prefetch, QuerySet

from approvals.models import ApprovalStep, Decision, StepApprover, StepState
from procurement.models import User
from requests.models import PurchaseRequest


def approval_route(*, request: PurchaseRequest) -> list[ApprovalStep]:
    """The latest round of the request's frozen route, with who was asked and what they decided."""
    last_round = request.approval_steps.aggregate(last=Max("round"))["last"]
    if last_round is None:
        return []
    return list(
        ApprovalStep.objects.filter(request=request, round=last_round)
        .select_related("decided_by")
        .prefetch_related(
            Prefetch(
                "approvers",
                queryset=StepApprover.objects.select_related("approver", "on_behalf_of").order_by(
                    "id"
                ),
            )
        )
        .order_by("stage", "position", "id")
    )


def approval_inbox(*, user: User) -> QuerySet[StepApprover]:
    """The open steps `user` is asked to decide, oldest first."""
    return (
        StepApprover.objects.filter(
            approver=user, decision=Decision.PENDING, step__state=StepState.PENDING
        )
        .select_related(
            "step",
            "step__request",
            "step__request__requester",
            "step__request__department",
            "step__request__category",
        )
        .order_by("step__activated_at", "id")
    )
