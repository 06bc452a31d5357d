"""Pages of the evaluation part under /sourcing/ (namespace "evaluation"): the comparison
matrix of an RFQ and its actions, and the approval page of an award above walk-away."""

from __future__ import annotations

from django.urls import URLPattern, path

from sourcing import evaluation_views as views

app_name = "evaluation"

urlpatterns: list[URLPattern] = [
    path("<int:rfq_id>/compare/", views.compare, name="compare"),
    path("<int:rfq_id>/compare/scores/", views.score, name="score"),
    path(
        "<int:rfq_id>/compare/counter-offers/<int:invitation_id>/",
        views.counter_offer,
        name="counter-offer",
    ),
    path(
        "<int:rfq_id>/compare/counter-offers/<int:counter_offer_id>/withdraw/",
        views.counter_offer_withdraw_page,
        name="counter-offer-withdraw",
    ),
    path("<int:rfq_id>/compare/award/", views.award, name="award"),
    path("awards/<int:award_id>/", views.award_detail, name="award-detail"),
    path(
        "awards/<int:award_id>/approve/",
        views.award_decide,
        {"decision": "approve"},
        name="award-approve",
    ),
    path(
        "awards/<int:award_id>/refuse/",
        views.award_decide,
        {"decision": "refuse"},
        name="award-refuse",
    ),
]
