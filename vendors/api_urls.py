"""URLs of the vendors API, mounted at /api/vendors/ (namespace "vendors-api").

Documented in docs/api.md. An unknown path here falls through to requests.api_urls, whose
last pattern answers it with the API's JSON 404.
"""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from vendors import api

app_name = "vendors-api"

urlpatterns: list[URLPattern | URLResolver] = [
    path("", api.VendorListCreateApi.as_view(), name="list"),
    path("<int:vendor_id>/", api.VendorDetailApi.as_view(), name="detail"),
    path("<int:vendor_id>/transitions/", api.VendorTransitionApi.as_view(), name="transitions"),
    path("<int:vendor_id>/bank-details/", api.VendorBankDetailsApi.as_view(), name="bank-details"),
    path(
        "<int:vendor_id>/checks/<int:check_id>/",
        api.DueDiligenceCheckRecordApi.as_view(),
        name="check-record",
    ),
    path(
        "<int:vendor_id>/declarations/",
        api.ConflictDeclarationApi.as_view(),
        name="declarations",
    ),
    path("<int:vendor_id>/documents/", api.VendorDocumentsApi.as_view(), name="documents"),
    path(
        "<int:vendor_id>/sanctions-matches/<int:match_id>/review/",
        api.SanctionsMatchReviewApi.as_view(),
        name="sanctions-review",
    ),
]
