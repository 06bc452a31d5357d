"""Payee review and exchange rates, mounted at /analytics/payees/ (namespace "payees"); the
spend departments' mapping at departments/."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from analytics import payee_views as views
from analytics import spend_department_views

app_name = "payees"
urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.payee_list_page, name="list"),
    path("vendors/", views.vendor_options_fragment, name="vendor-options"),
    path("<int:pk>/map/", views.payee_map_action, name="map"),
    path("<int:pk>/unmap/", views.payee_unmap_action, name="unmap"),
    path("exchange-rates/", views.exchange_rates_page, name="exchange-rates"),
    path("departments/", spend_department_views.spend_department_list_page, name="departments"),
    path(
        "departments/<int:pk>/map/",
        spend_department_views.spend_department_map_action,
        name="department-map",
    ),
    path(
        "departments/<int:pk>/unmap/",
        spend_department_views.spend_department_unmap_action,
        name="department-unmap",
    ),
]
