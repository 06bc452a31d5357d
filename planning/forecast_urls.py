from __future__ import annotations

from django.urls import path

from planning import forecast_views as views

app_name = "forecast"

urlpatterns = [
    path("", views.forecast_page, name="overview"),
    # export.csv, export.xlsx (another extension: 404)
    path("export.<str:file_format>", views.forecast_export, name="export"),
]
