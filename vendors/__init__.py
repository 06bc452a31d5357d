"""Vendors, security assessments and contracts (issue: vendors). Empty until then."""
