"""The assessments API, mounted at /api/assessments/ (namespace "assessments-api")."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from vendors import assessment_api as api

app_name = "assessments-api"
urlpatterns: list[URLPattern | URLResolver] = [
    path("", api.AssessmentListSendApi.as_view(), name="list"),
    path("<int:assessment_id>/", api.AssessmentDetailApi.as_view(), name="detail"),
    path("<int:assessment_id>/score/", api.AssessmentScoreApi.as_view(), name="score"),
    path("<int:assessment_id>/resend/", api.AssessmentResendApi.as_view(), name="resend"),
    path("<int:assessment_id>/cancel/", api.AssessmentCancelApi.as_view(), name="cancel"),
    path("<int:assessment_id>/reopen/", api.AssessmentReopenApi.as_view(), name="reopen"),
]
