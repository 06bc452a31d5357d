from __future__ import annotations

from django.urls import path

from sourcing import rfq_views as views

app_name = "rfqs"

urlpatterns = [
    path("", views.rfq_list, name="list"),
    path("<int:rfq_id>/", views.rfq_detail, name="detail"),
]
