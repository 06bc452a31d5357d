"""The needs board's REST API, mounted at /api/planning/ beside the budgets' (no namespace:
every name starts with "planning-need"). See docs/planning/needs.md."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from planning import need_api as api

urlpatterns: list[URLPattern | URLResolver] = [
    path("needs/", api.NeedListApi.as_view(), name="planning-needs"),
    path(
        "needs/consolidations/",
        api.ConsolidationCreateApi.as_view(),
        name="planning-need-consolidations",
    ),
    path(
        "needs/consolidations/<int:consolidation_id>/",
        api.ConsolidationDetailApi.as_view(),
        name="planning-need-consolidation",
    ),
    path("needs/<int:need_id>/", api.NeedDetailApi.as_view(), name="planning-need"),
    path(
        "needs/<int:need_id>/withdraw/",
        api.NeedWithdrawApi.as_view(),
        name="planning-need-withdraw",
    ),
    path(
        "needs/<int:need_id>/supports/",
        api.NeedSupportApi.as_view(),
        name="planning-need-supports",
    ),
    path(
        "needs/<int:need_id>/comments/",
        api.NeedCommentApi.as_view(),
        name="planning-need-comments",
    ),
]
