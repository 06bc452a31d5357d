from __future__ import annotations

from django.urls import URLPattern, URLResolver

app_name = "vendors"
urlpatterns: list[URLPattern | URLResolver] = []
