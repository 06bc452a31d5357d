"""Spend ledger, imports and reports (issue: analytics). Empty until then."""
