"""Does a rule match a request? Each condition of a rule that is set must hold."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from functools import cached_property

from django.utils import timezone

from approvals.models import ApprovalRule
from procurement.money import to_base_currency
from requests.models import PurchaseRequest
from vendors.models import RISK_TIER_ORDER, VendorState

# Facts only a later app can answer register here. (Budgets do not: planning's budget check
# is a gate, approvals/gates.py, since it must also run at the final approval under a lock.)
# An unanswered fact counts as true: a rule that asks for an extra check then adds its
# step rather than silently passing.
FactCheck = Callable[[PurchaseRequest], bool]
_fact_checks: dict[str, FactCheck] = {}


def register_fact(name: str, check: FactCheck) -> None:
    _fact_checks[name] = check


def _fact(name: str, request: PurchaseRequest) -> bool:
    check = _fact_checks.get(name)
    return check(request) if check else True


class RequestFacts:
    """What rules ask about a request. The converted total is computed only if a rule needs it,
    so a request in a currency without a rate is refused only where an amount matters."""

    def __init__(self, request: PurchaseRequest) -> None:
        self.request = request

    @classmethod
    def of(cls, request: PurchaseRequest) -> RequestFacts:
        return cls(request)

    @cached_property
    def total_in_base(self) -> Decimal:
        request = self.request
        on = (request.submitted_at or timezone.now()).date()
        return to_base_currency(request.total, request.currency, on=on)


def _vendor_not_approved(request: PurchaseRequest) -> bool:
    """The request names a vendor that is not (or no longer) approved.

    A request that names no vendor leaves the choice to procurement: no step here.
    """
    return request.vendor is not None and request.vendor.state != VendorState.APPROVED


def _vendor_tier_at_least(request: PurchaseRequest, tier: str) -> bool:
    """The named vendor's risk tier is `tier` or worse.

    A vendor never assessed counts as matching when its type calls for an assessment: its
    risk is unknown where it matters, so the step stays (as with an unanswered fact). A type
    that needs none (a hardware reseller) has no tier to compare and does not match.
    """
    vendor = request.vendor
    if vendor is None:
        return False
    if not vendor.risk_tier:
        return vendor.vendor_type.requires_security_assessment
    return RISK_TIER_ORDER[vendor.risk_tier] >= RISK_TIER_ORDER[tier]


def rule_matches(rule: ApprovalRule, facts: RequestFacts) -> bool:
    request = facts.request
    if rule.category_id is not None and rule.category_id != request.category_id:
        return False
    if rule.department_id is not None and rule.department_id != request.department_id:
        return False
    if rule.cost_centre_id is not None and rule.cost_centre_id != request.cost_centre_id:
        return False
    if rule.software_or_personal_data and not (
        request.category.code == "software" or request.processes_personal_data
    ):
        return False
    if rule.vendor_not_approved and not _vendor_not_approved(request):
        return False
    if rule.vendor_risk_tier_at_least and not _vendor_tier_at_least(
        request, rule.vendor_risk_tier_at_least
    ):
        return False
    # Last: the only condition that may need an exchange rate.
    return rule.min_total is None or facts.total_in_base >= rule.min_total
