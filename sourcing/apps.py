from __future__ import annotations

from django.apps import AppConfig


class SourcingConfig(AppConfig):
    name = "sourcing"
