"""URLs of the approvals API, mounted at /api/approvals/ (namespace "approvals-api").

Documented in docs/api.md. An unknown path here falls through to requests.api_urls, whose
last pattern answers it with the API's JSON 404.
"""

from __future__ import annotations

from django.urls import URLPattern, path

from approvals import api

app_name = "approvals-api"

urlpatterns: list[URLPattern] = [
    path("inbox/", api.ApprovalInboxApi.as_view(), name="inbox"),
    path("requests/<int:request_id>/route/", api.ApprovalRouteApi.as_view(), name="route"),
    path("steps/<int:step_id>/decide/", api.ApprovalStepDecideApi.as_view(), name="step-decide"),
    path("requests/<int:request_id>/amend/", api.ApprovedRequestAmendApi.as_view(), name="amend"),
]
