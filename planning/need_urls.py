"""Pages of the needs board, mounted at /planning/needs/ (namespace "needs"). See
docs/planning/needs.md."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from planning import need_views as views

app_name = "needs"

urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.need_board, name="board"),
    path("new/", views.need_create_view, name="create"),
    path("consolidate/", views.consolidate_view, name="consolidate"),
    path(
        "consolidations/<int:consolidation_id>/",
        views.consolidation_detail,
        name="consolidation",
    ),
    path("<int:need_id>/", views.need_detail, name="detail"),
    path("<int:need_id>/edit/", views.need_edit_view, name="edit"),
    path("<int:need_id>/withdraw/", views.need_withdraw_view, name="withdraw"),
    path("<int:need_id>/supports/", views.need_support_view, name="support"),
    path("<int:need_id>/comments/", views.need_comment_view, name="comment"),
]
