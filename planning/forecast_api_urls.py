"""The forecast's JSON API, mounted at /api/planning/ beside the objectives, budgets and
needs APIs (no namespace: the name starts "planning-"). See docs/planning/forecast.md."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from planning import forecast_api as api

urlpatterns: list[URLPattern | URLResolver] = [
    path("forecast/", api.ForecastApi.as_view(), name="planning-forecast"),
]
