"""Sanctions lists: import and screening (filled in by the sanctions work)."""

from __future__ import annotations


def vendor_sanctions_screen(*, vendor_id: int) -> int:
    return 0
