"""Payee review and exchange rates, mounted at /analytics/payees/ (namespace "payees")."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from analytics import payee_views as views

app_name = "payees"
urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.payee_list_page, name="list"),
    path("vendors/", views.vendor_options_fragment, name="vendor-options"),
    path("<int:pk>/map/", views.payee_map_action, name="map"),
    path("<int:pk>/unmap/", views.payee_unmap_action, name="unmap"),
    path("exchange-rates/", views.exchange_rates_page, name="exchange-rates"),
]
