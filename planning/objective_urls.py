"""Pages of business objectives, mounted at /planning/objectives/ (namespace "objectives").
See docs/planning/objectives.md."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from planning import objective_views as views

app_name = "objectives"

urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.objective_list_page, name="list"),
    path("new/", views.objective_create_page, name="create"),
    path("<int:objective_id>/", views.objective_detail_page, name="detail"),
    path("<int:objective_id>/edit/", views.objective_edit_page, name="edit"),
    path("<int:objective_id>/status/", views.objective_status_page, name="status"),
]
