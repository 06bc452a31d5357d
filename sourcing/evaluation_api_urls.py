"""The evaluation API under /api/sourcing/ (namespace "evaluation_api"): the comparison matrix
of an RFQ, counter-offers, custom scores, the award and its approval.
See docs/sourcing/evaluation.md."""

from __future__ import annotations

from django.urls import URLPattern, path

from sourcing import evaluation_api as api

app_name = "evaluation_api"

urlpatterns: list[URLPattern] = [
    path("<int:rfq_id>/evaluation/", api.EvaluationApi.as_view(), name="evaluation"),
    path(
        "<int:rfq_id>/evaluation/counter-offers/",
        api.CounterOfferCreateApi.as_view(),
        name="counter-offers",
    ),
    path(
        "<int:rfq_id>/evaluation/counter-offers/<int:counter_offer_id>/withdraw/",
        api.CounterOfferWithdrawApi.as_view(),
        name="counter-offer-withdraw",
    ),
    path(
        "<int:rfq_id>/evaluation/scores/<int:criterion_id>/<int:invitation_id>/",
        api.CriterionScoreApi.as_view(),
        name="score",
    ),
    path("<int:rfq_id>/evaluation/award/", api.AwardCreateApi.as_view(), name="award"),
    path("awards/<int:award_id>/", api.AwardDetailApi.as_view(), name="award-detail"),
    path("awards/<int:award_id>/approve/", api.AwardApproveApi.as_view(), name="award-approve"),
    path("awards/<int:award_id>/refuse/", api.AwardRefuseApi.as_view(), name="award-refuse"),
]
