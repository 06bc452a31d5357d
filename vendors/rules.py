"""Who may see and do what with vendors, their bank details and contracts (django-rules).

The role lists stay in vendors/selectors.py, where the reads that apply them live;
`vendor_may_*` and `contract_may_*` there ask these rules.
"""

from __future__ import annotations

import rules

from procurement.models import Role
from procurement.permissions import add, has_role, is_user_field
from vendors.selectors import (
    ASSESSMENT_REVIEWER_ROLES,
    BANK_DETAIL_ROLES,
    DUE_DILIGENCE_ROLES,
    VENDOR_FILE_ROLES,
    VENDOR_MANAGER_ROLES,
)

may_see_vendor_file = has_role(*VENDOR_FILE_ROLES)
may_manage_vendors = has_role(*VENDOR_MANAGER_ROLES)
is_contract_owner = is_user_field("owner")

# The summary (name, state, risk tier, categories): everyone signed in, to pick a vendor.
add("vendors.view_vendor", rules.always_allow, means="everyone signed in (the summary)")
add(
    "vendors.view_vendorfile",
    may_see_vendor_file,
    means="procurement, finance, security reviewers, legal, admins (checks, assessments, "
    "documents, sanctions, contracts)",
)
add("vendors.change_vendor", may_manage_vendors, means="procurement, admins")
# Bank details are the classic invoice-fraud path: seen and changed by these roles only.
add("vendors.view_bankdetails", has_role(*BANK_DETAIL_ROLES), means="procurement, finance")
add("vendors.change_bankdetails", has_role(*BANK_DETAIL_ROLES), means="procurement, finance")
add(
    "vendors.check_vendor",
    has_role(*DUE_DILIGENCE_ROLES),
    means="procurement, finance, legal, admins (due-diligence checks, sanctions matches)",
)
# Managers choose vendors too, so they declare their interests, from the summary.
add(
    "vendors.declare_vendor",
    may_see_vendor_file | has_role(Role.MANAGER),
    means="procurement, finance, security reviewers, legal, admins, managers (a conflict of "
    "interest)",
)
add(
    "vendors.add_vendordocument",
    has_role(*DUE_DILIGENCE_ROLES, Role.SECURITY_REVIEWER),
    means="procurement, finance, legal, security reviewers, admins (certificates, reports)",
)
add(
    "vendors.score_assessment",
    has_role(*ASSESSMENT_REVIEWER_ROLES),
    means="security reviewers, admins",
)
add(
    "vendors.view_contract",
    may_see_vendor_file | is_contract_owner,
    means="procurement, finance, security reviewers, legal, admins; its owner",
)
add(
    "vendors.change_contract",
    may_manage_vendors | is_contract_owner,
    means="procurement, admins; its owner",
)
