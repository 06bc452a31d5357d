"""Who may see spend, import it and act on what it shows (registered with django-rules).

Which departments' spend a manager sees is a filter, not a yes or no: analytics/scope.py
narrows every query to `spend_scope_department_ids`; these rules say who gets in at all.
"""

from __future__ import annotations

from analytics.anomalies import ROLES_DISMISSING
from analytics.scope import ROLES_IMPORTING_SPEND, ROLES_SEEING_ALL_SPEND
from procurement.models import ROLES_SEEING_ALL_REQUESTS, Role
from procurement.permissions import add, has_role

imports_spend = has_role(*ROLES_IMPORTING_SPEND)

add(
    "analytics.view_spend",
    has_role(*ROLES_SEEING_ALL_SPEND) | has_role(Role.MANAGER),
    means="procurement, finance, admins (all spend); managers (their departments' spend)",
)
add(
    # Which departments' cycle times a manager sees is a filter (analytics/cycle_times.py).
    "analytics.view_cycletimes",
    has_role(*ROLES_SEEING_ALL_REQUESTS) | has_role(Role.MANAGER),
    means="procurement, finance, admins (all departments); managers (their departments)",
)
add(
    "analytics.view_spendimport",
    imports_spend,
    means="procurement, finance, admins",
)
add(
    "analytics.add_spendimport",
    imports_spend,
    means="procurement, finance, admins (upload, exchange rates)",
)
add(
    "analytics.change_payee",
    imports_spend,
    means="procurement, finance, admins (map payees to vendors, spend departments to ours)",
)
add(
    "analytics.dismiss_spendanomaly",
    has_role(*ROLES_DISMISSING),
    means="procurement, finance",
)
