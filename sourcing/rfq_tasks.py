"""Tasks: thin, fetch by id and call a service; queued with transaction.on_commit."""

from __future__ import annotations
