"""Builders for approvals tests: policies and submitted requests."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from approvals.models import ApprovalPolicy, ApprovalRule, ApprovalStep
from requests.models import PurchaseRequest
from requests.services import purchase_request_transition
from tests.factories import PurchaseRequestFactory


def policy(*rules: dict[str, Any], **options: Any) -> ApprovalPolicy:
    """An active policy with `rules` in order (each a dict of ApprovalRule fields)."""
    ApprovalPolicy.objects.filter(is_active=True).update(is_active=False)
    created = ApprovalPolicy.objects.create(
        name=options.pop("name", "Test policy"), is_active=True, **options
    )
    for position, fields in enumerate(rules):
        ApprovalRule.objects.create(policy=created, position=position, **fields)
    return created


def submitted(
    org: Any, *, requester: Any = None, total_lines: int = 1, **fields: Any
) -> PurchaseRequest:
    """A request of org.requester (2500.00 GBP a line) submitted through the real service."""
    requester = requester or org.requester
    fields.setdefault("department", requester.department or org.department)
    if fields["department"] == org.department:
        fields.setdefault("cost_centre", org.cost_centre)
    draft = PurchaseRequestFactory.create(requester=requester, line_items=total_lines, **fields)
    return purchase_request_transition(request_id=draft.pk, by=requester, action="submit")


def steps_of(request: PurchaseRequest) -> list[tuple[str, int, str, list[str]]]:
    return [
        (
            step.name,
            step.stage,
            step.state,
            sorted(a.approver.username for a in step.approvers.all()),
        )
        for step in ApprovalStep.objects.filter(request=request).order_by(
            "round", "stage", "position"
        )
    ]


LINE_MANAGER = {"name": "Line manager", "approver_kind": "line_manager"}
FINANCE_ABOVE_5K = {
    "name": "Finance",
    "approver_kind": "role",
    "approver_role": "finance",
    "mode": "any",
    "min_total": Decimal("5000"),
    "stage": 2,
}
