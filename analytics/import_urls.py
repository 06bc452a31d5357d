"""Spend import pages, mounted at /analytics/imports/ (namespace "spend_imports")."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from analytics import import_views as views

app_name = "spend_imports"
urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.spend_import_list_page, name="list"),
    path("new/", views.spend_import_new_page, name="new"),
    path("<int:pk>/", views.spend_import_detail_page, name="detail"),
    path("<int:pk>/map/", views.spend_import_map_page, name="map"),
    path("<int:pk>/progress/", views.spend_import_progress_fragment, name="progress"),
    path("<int:pk>/delete/", views.spend_import_delete_action, name="delete"),
]
