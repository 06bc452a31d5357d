"""The RFQ API, mounted at /api/sourcing/ (namespace "rfq_api"); the evaluation API shares
the prefix (sourcing/evaluation_api_urls.py), so these paths name their own operations.
See docs/sourcing/rfqs.md."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from sourcing import rfq_api as api

app_name = "rfq_api"

urlpatterns: list[URLPattern | URLResolver] = [
    path("", api.RfqListApi.as_view(), name="list"),
    path(
        "from-request/<int:request_id>/",
        api.RfqCreateFromRequestApi.as_view(),
        name="create-from-request",
    ),
    path("<int:rfq_id>/", api.RfqDetailApi.as_view(), name="detail"),
    path("<int:rfq_id>/lines/", api.RfqLinesApi.as_view(), name="lines"),
    path("<int:rfq_id>/criteria/", api.RfqCriteriaApi.as_view(), name="criteria"),
    path("<int:rfq_id>/prices/", api.RfqPricesApi.as_view(), name="prices"),
    path("<int:rfq_id>/invitations/", api.RfqInviteApi.as_view(), name="invite"),
    path(
        "<int:rfq_id>/invitations/<int:invitation_id>/resend/",
        api.InvitationResendApi.as_view(),
        name="invitation-resend",
    ),
    path("<int:rfq_id>/open/", api.RfqOpenApi.as_view(), name="open"),
    path("<int:rfq_id>/close/", api.RfqCloseApi.as_view(), name="close"),
    path("<int:rfq_id>/reopen/", api.RfqReopenApi.as_view(), name="reopen"),
    path("<int:rfq_id>/cancel/", api.RfqCancelApi.as_view(), name="cancel"),
    path(
        "<int:rfq_id>/questions/<int:question_id>/answer/",
        api.QuestionAnswerApi.as_view(),
        name="question-answer",
    ),
    path("<int:rfq_id>/clarifications/", api.ClarificationApi.as_view(), name="clarification"),
]
