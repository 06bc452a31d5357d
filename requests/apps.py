from __future__ import annotations

from django.apps import AppConfig


class RequestsConfig(AppConfig):
    # This folder shadows the PyPI library `requests`; nothing in this process may use that library.
    name = "requests"
    label = "requests"
    verbose_name = "Purchase requests"

    def ready(self) -> None:
        # DRF imports the optional PyPI `requests` by name and finds this app instead; then
        # rest_framework.test (imported by drf-spectacular) fails on `requests.packages`.
        # Tell DRF the library is absent, as it is, before anything imports rest_framework.test.
        from rest_framework import compat

        compat.requests = None  # type: ignore[assignment]  # the stubs assume the library
