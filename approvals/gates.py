"""Checks a higher app adds to every approval route, without approvals importing it.

planning installs its budget check here (from PlanningConfig.ready()), as approvals
installs its workflow into requests.workflow. A gate is asked three things:

- at submission (and at a re-approval), which extra steps the route needs; it may refuse
  the submission by raising an ApplicationError;
- just before the request becomes approved, with the request row locked, whether it may:
  it may raise Conflict (a stop limit), or name steps still needed, which are added to the
  route then (its earlier answer may have changed while the route ran);
- when procurement raises the total of an approved request (an amendment), with the request
  locked, whether it may stay approved: it may raise Conflict (a stop limit), or name steps,
  which send the request back to approval (the new round asks at_submit again);
- what the approver should see beside the request (the approval page and email).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from procurement.models import User
    from requests.models import PurchaseRequest


@dataclass(frozen=True)
class ExtraStep:
    gate: str  # names the check, e.g. "budget:12": one step per gate and round
    name: str
    approvers: list[User]
    sla_hours: int = 48
    # Who decides instead when none of `approvers` may (each is the requester, or already
    # decides another step of the route while one person may decide only one), and the
    # step's name then.
    fallback: list[User] = field(default_factory=list)
    fallback_name: str = ""


@dataclass(frozen=True)
class PanelRow:
    label: str
    value: str
    emphasis: bool = False


@dataclass(frozen=True)
class DecisionPanel:
    """Facts for the approver, rendered the same way on the page, the confirmation page and
    in both parts of the email. `tone` is "ok", "warn" or "over"."""

    title: str
    rows: list[PanelRow] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    tone: str = "ok"


class Gate(Protocol):
    def at_submit(self, request: PurchaseRequest) -> list[ExtraStep]: ...

    def at_final_approval(
        self, request: PurchaseRequest, *, passed: set[str], by: User | None
    ) -> list[ExtraStep]: ...

    def at_amendment(self, request: PurchaseRequest, *, by: User) -> list[ExtraStep]: ...

    def panels(self, request: PurchaseRequest) -> list[DecisionPanel]: ...


_gates: list[Gate] = []


def install(gate: Gate) -> None:
    # ready() can run more than once: one gate of each kind.
    global _gates
    _gates = [g for g in _gates if type(g) is not type(gate)] + [gate]


def installed() -> list[Gate]:
    return list(_gates)


def decision_panels(request: PurchaseRequest) -> list[DecisionPanel]:
    return [panel for gate in _gates for panel in gate.panels(request)]
