"""Pages of the approvals app, mounted at /approvals/ (namespace "approvals")."""

from __future__ import annotations

from django.urls import URLPattern, path

from approvals import views

app_name = "approvals"

urlpatterns: list[URLPattern] = [
    path("", views.inbox, name="inbox"),
    path("bulk-approve/", views.bulk_approve, name="bulk-approve"),
    path("delegation/", views.delegations, name="delegations"),
    path("delegation/<int:pk>/end/", views.delegation_stop, name="delegation-end"),
]
