"""Pages for security assessments, mounted at /assessments/ (procurement/urls.py).

`respond/<token>/` is public: the token is a credential, and procurement/log_filters.py
must redact it from logged paths under that prefix.
"""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from vendors import assessment_views as views

app_name = "assessments"
urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.review_list, name="review-list"),
    path("send/", views.assessment_send, name="send"),
    path("respond/<str:token>/", views.respond, name="respond"),
    path("<int:assessment_id>/", views.assessment_detail, name="detail"),
    path("<int:assessment_id>/score/", views.assessment_score_view, name="score"),
    path("<int:assessment_id>/resend/", views.assessment_resend_view, name="resend"),
    path("<int:assessment_id>/cancel/", views.assessment_cancel_view, name="cancel"),
    path("<int:assessment_id>/reopen/", views.assessment_reopen_view, name="reopen"),
    path(
        "<int:assessment_id>/evidence/<int:answer_id>/",
        views.evidence_download,
        name="evidence",
    ),
]
