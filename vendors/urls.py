from __future__ import annotations

from django.urls import path

from vendors import views

app_name = "vendors"

urlpatterns = [
    path("", views.vendor_list_page, name="list"),
    path("new/", views.vendor_create_page, name="create"),
    path("<int:pk>/", views.vendor_detail_page, name="detail"),
    path("<int:pk>/edit/", views.vendor_edit_page, name="edit"),
    path("<int:pk>/transition/", views.vendor_transition_action, name="transition"),
    path(
        "<int:pk>/checks/<int:check_pk>/record/",
        views.check_record_action,
        name="check-record",
    ),
    path("<int:pk>/declare/", views.declare_action, name="declare"),
    path("<int:pk>/documents/", views.document_upload_action, name="document-upload"),
    path(
        "<int:pk>/documents/<int:document_pk>/",
        views.vendor_document_download,
        name="document",
    ),
    path("<int:pk>/bank-details/", views.bank_details_action, name="bank-details"),
    path("<int:pk>/sanctions-review/", views.sanctions_review_action, name="sanctions-review"),
]
