"""Pages of budgets, mounted at /planning/budgets/ (namespace "budgets").
See docs/planning/budgets.md."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from planning import budget_views as views

app_name = "budgets"

urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.budget_list_page, name="list"),
    path("new/", views.budget_create_page, name="create"),
    path("<int:budget_id>/", views.budget_detail_page, name="detail"),
    path("<int:budget_id>/revise/", views.budget_revise_page, name="revise"),
]
