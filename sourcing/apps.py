from __future__ import annotations

from django.apps import AppConfig


class SourcingConfig(AppConfig):
    name = "sourcing"

    def ready(self) -> None:
        from requests import workflow
        from sourcing.panels import purchase_orders_panel

        workflow.register_detail_panel(purchase_orders_panel)
