"""The vendor's PO link, mounted at /orders/vendor/ (namespace "po_portal"). The token in
these paths is redacted from logs (procurement/log_filters.py)."""

from __future__ import annotations

from django.urls import URLPattern, path

from sourcing import order_portal_views as views

app_name = "po_portal"

urlpatterns: list[URLPattern] = [
    path("<str:token>/", views.po_portal, name="po"),
]
