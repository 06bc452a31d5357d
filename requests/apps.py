from __future__ import annotations

from django.apps import AppConfig


class RequestsConfig(AppConfig):
    # This folder shadows the PyPI library `requests`; nothing in this process may need that library.
    name = "requests"
    label = "requests"
    verbose_name = "Purchase requests"
