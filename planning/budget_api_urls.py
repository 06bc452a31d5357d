"""The objectives and budgets API, mounted at /api/planning/ with the needs API
(planning/need_api_urls.py), so no namespace: every name starts "planning-".
See docs/planning/objectives.md and docs/planning/budgets.md."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from planning import budget_api as api

urlpatterns: list[URLPattern | URLResolver] = [
    path("objectives/", api.ObjectiveListApi.as_view(), name="planning-objective-list"),
    path(
        "objectives/<int:objective_id>/",
        api.ObjectiveDetailApi.as_view(),
        name="planning-objective-detail",
    ),
    path("budgets/", api.BudgetListApi.as_view(), name="planning-budget-list"),
    path("budgets/<int:budget_id>/", api.BudgetDetailApi.as_view(), name="planning-budget-detail"),
    path(
        "budgets/<int:budget_id>/revisions/",
        api.BudgetReviseApi.as_view(),
        name="planning-budget-revise",
    ),
]
