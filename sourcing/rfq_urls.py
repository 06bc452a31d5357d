"""RFQ pages, mounted at /sourcing/ (namespace "rfqs"); the evaluation pages share the prefix
(sourcing/evaluation_urls.py), so these paths name their own actions."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from sourcing import contract_price_views
from sourcing import rfq_views as views

app_name = "rfqs"

urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.rfq_list, name="list"),
    # Prices agreed in a contract, for the benchmarks beside quotes.
    path(
        "contracts/<int:contract_id>/prices/",
        contract_price_views.contract_prices_page,
        name="contract-prices",
    ),
    path(
        "contracts/<int:contract_id>/prices/<int:price_id>/remove/",
        contract_price_views.contract_price_remove_view,
        name="contract-price-remove",
    ),
    path(
        "from-request/<int:request_id>/",
        views.rfq_create_from_request_view,
        name="create-from-request",
    ),
    path("<int:rfq_id>/", views.rfq_detail, name="detail"),
    path("<int:rfq_id>/settings/", views.rfq_settings_save, name="settings"),
    path("<int:rfq_id>/lines/", views.rfq_lines_save_view, name="lines"),
    path("<int:rfq_id>/criteria/", views.rfq_criteria_save_view, name="criteria"),
    path("<int:rfq_id>/criteria/sum/", views.rfq_criteria_sum, name="criteria-sum"),
    path("<int:rfq_id>/prices/", views.rfq_prices_save, name="prices"),
    path("<int:rfq_id>/invitations/", views.rfq_invite_view, name="invite"),
    path(
        "<int:rfq_id>/invitations/<int:invitation_id>/resend/",
        views.invitation_resend_view,
        name="invitation-resend",
    ),
    path(
        "<int:rfq_id>/invitations/<int:invitation_id>/remove/",
        views.invitation_remove_view,
        name="invitation-remove",
    ),
    path("<int:rfq_id>/open/", views.rfq_open_view, name="open"),
    path("<int:rfq_id>/close/", views.rfq_close_view, name="close"),
    path("<int:rfq_id>/reopen/", views.rfq_reopen_view, name="reopen"),
    path("<int:rfq_id>/cancel/", views.rfq_cancel_view, name="cancel"),
    path(
        "<int:rfq_id>/questions/<int:question_id>/answer/",
        views.question_answer_view,
        name="question-answer",
    ),
    path("<int:rfq_id>/clarifications/", views.clarification_publish_view, name="clarification"),
    path(
        "<int:rfq_id>/attachments/<int:attachment_id>/",
        views.quote_attachment_download,
        name="attachment",
    ),
]
