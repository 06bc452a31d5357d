from __future__ import annotations

from django.apps import AppConfig


class VendorsConfig(AppConfig):
    name = "vendors"
