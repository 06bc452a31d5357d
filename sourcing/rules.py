"""Who may see and do what in sourcing: RFQs, quotes, awards, orders, change orders, invoices
(registered with django-rules at start-up; sourcing/access.py and the services ask them).

Procurement runs RFQs, negotiations, awards and orders; finance reads them and resolves held
invoices; admins may do everything. An award or a change order beyond tolerance is decided
by a holder of the role the policy names, never by the person who asked for it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import rules

from procurement.models import Role
from procurement.permissions import add, has_role, visible_in
from sourcing.access import INVOICE_RESOLVERS, SOURCING_READERS, SOURCING_ROLES

if TYPE_CHECKING:
    from django.db.models import QuerySet

    from procurement.models import User
    from sourcing.models import Award, ChangeOrder, Invoice, PurchaseOrder

sources = has_role(*SOURCING_ROLES)
reads_sourcing = has_role(*SOURCING_READERS)
resolves_invoices = has_role(*INVOICE_RESOLVERS)


def _orders_visible_to(user: User) -> QuerySet[PurchaseOrder]:
    # Late: the order selectors import sourcing/access.py, which asks these rules.
    from sourcing.order_selectors import po_list

    return po_list(by=user)


may_see_order = visible_in(_orders_visible_to, "may_see_order")


@rules.predicate
def is_orders_requester(user: User, po: PurchaseOrder | None) -> bool:
    return po is not None and po.request.requester_id == user.pk


@rules.predicate
def holds_awards_approver_role(user: User, award: Award | None) -> bool:
    return award is not None and bool(award.approver_role) and user.has_role(award.approver_role)


@rules.predicate
def made_the_award(user: User, award: Award | None) -> bool:
    return award is not None and award.awarded_by_id == user.pk


@rules.predicate
def holds_changes_approver_role(user: User, change: ChangeOrder | None) -> bool:
    # A change order without a role is decided by an admin.
    return change is not None and user.has_role(change.approver_role or Role.ADMIN)


@rules.predicate
def asked_for_the_change(user: User, change: ChangeOrder | None) -> bool:
    return change is not None and change.requested_by_id == user.pk


@rules.predicate
def may_see_invoices_order(user: User, invoice: Invoice | None) -> bool:
    return invoice is not None and may_see_order(user, invoice.po)


add("sourcing.view_rfq", reads_sourcing, means="procurement, finance, admins")
add(
    "sourcing.change_rfq",
    sources,
    means="procurement, admins (lines, invitations, open, close, negotiate, score, award)",
)
add(
    "sourcing.view_quote",
    reads_sourcing,
    means="procurement, finance, admins (once the RFQ's deadline has passed)",
)
add(
    "sourcing.view_award",
    reads_sourcing | holds_awards_approver_role,
    means="procurement, finance, admins; holders of the role asked to approve it",
)
add(
    "sourcing.decide_award",
    holds_awards_approver_role & ~made_the_award,
    means="a holder of the role asked to approve it, other than who made the award",
)
add(
    "sourcing.view_purchaseorder",
    reads_sourcing | may_see_order,
    means="procurement, finance, admins; the requester of its request; holders of the "
    "role asked to approve a change to it",
)
add(
    "sourcing.change_purchaseorder",
    sources,
    means="procurement, admins (create, issue, change, cancel, close)",
)
add(
    "sourcing.receive_purchaseorder",
    is_orders_requester | has_role(Role.PROCUREMENT, Role.ADMIN),
    means="the requester of its request, procurement, admins",
)
add(
    "sourcing.decide_changeorder",
    holds_changes_approver_role & ~asked_for_the_change,
    means="a holder of the role asked to approve it (admins when none), other than who "
    "asked for it",
)
add(
    "sourcing.view_invoice",
    reads_sourcing | may_see_invoices_order,
    means="whoever may see its order",
)
add(
    "sourcing.add_invoice",
    sources | resolves_invoices,
    means="procurement, finance, admins (record, match again)",
)
add("sourcing.resolve_invoice", resolves_invoices, means="finance, admins (release, reject)")
