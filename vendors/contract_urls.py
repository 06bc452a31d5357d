"""Contract pages, mounted at /contracts/ (namespace "contracts")."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from vendors import contract_views as views

app_name = "contracts"
urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.contract_pipeline_page, name="pipeline"),
    path("all/", views.contract_list_page, name="list"),
    path("new/", views.contract_create_page, name="create"),
    path("<int:pk>/", views.contract_detail_page, name="detail"),
    path("<int:pk>/edit/", views.contract_edit_page, name="edit"),
    path("<int:pk>/renew/", views.contract_renew_page, name="renew"),
    path("<int:pk>/documents/", views.contract_document_upload, name="document-upload"),
    path(
        "<int:pk>/documents/<int:doc_pk>/",
        views.contract_document_download,
        name="document",
    ),
    path("<int:pk>/requests/", views.contract_request_link, name="request-link"),
    path(
        "<int:pk>/requests/<int:request_id>/unlink/",
        views.contract_request_unlink,
        name="request-unlink",
    ),
    path("<int:pk>/<slug:action>/", views.contract_action_page, name="action"),
]
