from __future__ import annotations

from django.apps import AppConfig


class ProcurementConfig(AppConfig):
    name = "procurement"
    verbose_name = "Organisation and people"

    def ready(self) -> None:
        from procurement.celery import ensure_broker_folders

        ensure_broker_folders()
