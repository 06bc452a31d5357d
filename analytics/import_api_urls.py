"""The spend import API, mounted at /api/analytics/imports/ (namespace "spend-imports-api")."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from analytics import import_api as api

app_name = "spend-imports-api"
urlpatterns: list[URLPattern | URLResolver] = [
    path("", api.SpendImportListCreateApi.as_view(), name="list"),
    path("<int:import_id>/", api.SpendImportDetailApi.as_view(), name="detail"),
]
