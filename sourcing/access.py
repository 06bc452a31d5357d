"""Who may do what in sourcing. Every service re-checks these; views only hide buttons."""

from __future__ import annotations

from procurement.models import Role, User

# Procurement runs RFQs, negotiations, awards and orders; admins may do everything.
SOURCING_ROLES = (Role.PROCUREMENT, Role.ADMIN)
# Finance and procurement see RFQs, orders and invoices; finance resolves held invoices.
SOURCING_READERS = (Role.PROCUREMENT, Role.FINANCE, Role.ADMIN)
INVOICE_RESOLVERS = (Role.FINANCE, Role.ADMIN)


def may_source(user: User) -> bool:
    """Open and run RFQs, send counter-offers, award, create and issue POs, record invoices."""
    return user.is_authenticated and user.has_role(*SOURCING_ROLES)


def may_see_sourcing(user: User) -> bool:
    """See RFQs (after their deadline, the quotes), orders and invoices."""
    return user.is_authenticated and user.has_role(*SOURCING_READERS)


def may_resolve_invoices(user: User) -> bool:
    return user.is_authenticated and user.has_role(*INVOICE_RESOLVERS)


def may_receive(user: User, *, requester_id: int) -> bool:
    """Record a receipt: the person who asked for the goods, or procurement."""
    return user.is_authenticated and (
        user.pk == requester_id or user.has_role(Role.PROCUREMENT, Role.ADMIN)
    )


def may_approve_as(user: User, *, role: str, requested_by_id: int) -> bool:
    """Decide an extra approval (an award above walk-away, a change order beyond tolerance):
    a holder of the policy's role who is not the person who asked for it."""
    return user.is_authenticated and user.pk != requested_by_id and user.has_role(role)
