from __future__ import annotations

from django.urls import path

from sourcing import savings_views as views

app_name = "savings"

urlpatterns = [
    path("", views.overview, name="overview"),
]
