"""Who may do what in sourcing: the role lists, and short names for the rules in
sourcing/rules.py. Every service re-checks these; views only hide buttons."""

from __future__ import annotations

from typing import TYPE_CHECKING

from procurement.models import Role, User
from procurement.permissions import allowed

if TYPE_CHECKING:
    from sourcing.models import PurchaseOrder

# Procurement runs RFQs, negotiations, awards and orders; admins may do everything.
SOURCING_ROLES = (Role.PROCUREMENT, Role.ADMIN)
# Finance and procurement see RFQs, orders and invoices; finance resolves held invoices.
SOURCING_READERS = (Role.PROCUREMENT, Role.FINANCE, Role.ADMIN)
INVOICE_RESOLVERS = (Role.FINANCE, Role.ADMIN)


def may_source(user: User) -> bool:
    """Open and run RFQs, send counter-offers, award, create and issue POs, record invoices."""
    return allowed(user, "sourcing.change_rfq")


def may_see_sourcing(user: User) -> bool:
    """See RFQs (after their deadline, the quotes), orders and invoices."""
    return allowed(user, "sourcing.view_rfq")


def may_resolve_invoices(user: User) -> bool:
    return allowed(user, "sourcing.resolve_invoice")


def may_receive(user: User, po: PurchaseOrder) -> bool:
    """Record a receipt: the person who asked for the goods, or procurement."""
    return allowed(user, "sourcing.receive_purchaseorder", po)
