from __future__ import annotations

from django.urls import path

from sourcing import evaluation_views as views

app_name = "evaluation"

urlpatterns = [
    path("<int:rfq_id>/compare/", views.compare, name="compare"),
]
