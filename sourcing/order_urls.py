from __future__ import annotations

from django.urls import path

from sourcing import order_views as views

app_name = "orders"

urlpatterns = [
    path("", views.po_list, name="list"),
    path("<int:po_id>/", views.po_detail, name="detail"),
]
