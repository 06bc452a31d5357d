"""Approval policies, frozen routes and decisions (issue: approvals). Empty until then."""
