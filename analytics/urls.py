"""The spend dashboards, mounted at /analytics/ (namespace "analytics")."""

from __future__ import annotations

from django.urls import URLPattern, path

from analytics import views

app_name = "analytics"

urlpatterns: list[URLPattern] = [
    path("", views.spend_overview_page, name="overview"),
    path("over-time/", views.spend_over_time_page, name="over-time"),
    path("categories/", views.spend_categories_page, name="categories"),
    path("vendors/", views.spend_vendors_page, name="vendors"),
    path("departments/", views.spend_departments_page, name="departments"),
    path("contract/", views.spend_contract_page, name="contract"),
    path("prices/", views.spend_prices_page, name="prices"),
]
