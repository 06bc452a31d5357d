"""The REST API of the evaluation part, mounted at /api/sourcing/ (namespace "evaluation_api").

One APIView per operation, small input and output serializers; the rules live in
scoring.py, negotiation.py and awards.py, so the API and the pages refuse the same things
with the same messages. Errors leave through procurement.api.exception_handler as
{"code", "detail", "errors"}. See docs/sourcing/evaluation.md.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from django.urls import reverse
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    extend_schema,
    extend_schema_field,
)
from rest_framework import serializers, status
from rest_framework.parsers import JSONParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from procurement.api import absolute_url, error_responses, signed_in_user
from procurement.errors import Conflict, NotFound
from sourcing.access import may_see_sourcing
from sourcing.awards import award_approve, award_get, award_make, award_refuse
from sourcing.benchmarks import LineBenchmark, rfq_benchmarks
from sourcing.models import Award, CounterOffer, CriterionScore, Rfq, RfqState, Saving
from sourcing.negotiation import counter_offer_send, counter_offer_withdraw
from sourcing.scoring import Evaluation, criterion_score_set, rfq_evaluation

_user = signed_in_user

_ERROR_TEXT = {
    400: "Invalid input; `errors` names each bad field.",
    403: "Not authenticated, or not allowed to do this (the detail says who may).",
    404: "No such RFQ, award or vendor, or not visible to you.",
    409: "The RFQ or award is not in a state that allows this (quotes sealed, already "
    "awarded, request not approved, vendor blocked, an open counter-offer...).",
}
_errors = partial(error_responses, texts=_ERROR_TEXT)


_RFQ_ID = OpenApiParameter("rfq_id", int, OpenApiParameter.PATH, description="RFQ id.")
_AWARD_ID = OpenApiParameter("award_id", int, OpenApiParameter.PATH, description="Award id.")


def _money(**kwargs: Any) -> serializers.DecimalField:
    """A money amount: a decimal string with two places ("1250.00")."""
    return serializers.DecimalField(max_digits=16, decimal_places=2, **kwargs)


def _visible_rfq(request: Request, rfq_id: int) -> Rfq:
    if not may_see_sourcing(_user(request)):
        raise NotFound("No such RFQ.")
    rfq = Rfq.objects.filter(pk=rfq_id).first()
    if rfq is None:
        raise NotFound("No such RFQ.")
    return rfq


def _unsealed_rfq(request: Request, rfq_id: int) -> Rfq:
    """The RFQ, if its quotes may be shown: closed (or later) and prices set; else 409."""
    rfq = _visible_rfq(request, rfq_id)
    sealed = rfq.state in (RfqState.DRAFT, RfqState.OPEN) or (
        rfq.state == RfqState.CANCELLED and not rfq.closed_at
    )
    if sealed:
        raise Conflict(f"Quotes are sealed until {rfq.deadline:%d %b %Y %H:%M} (UTC).")
    if rfq.target_price is None or rfq.walk_away_price is None:
        raise Conflict("Set the target and walk-away prices before the quotes are shown.")
    return rfq


# --- Output ------------------------------------------------------------------------------


class EvaluationVendorSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    legal_name = serializers.CharField()
    state = serializers.CharField()
    risk_tier = serializers.CharField()


class EvaluationLineSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    description = serializers.CharField()
    quantity = serializers.DecimalField(max_digits=12, decimal_places=3)
    unit = serializers.CharField()
    billing = serializers.CharField()
    category = serializers.CharField()


class EvaluationCriterionSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    name = serializers.CharField()
    weight = serializers.DecimalField(max_digits=5, decimal_places=2)


class EvaluationLinePriceSerializer(serializers.Serializer):
    rfq_line = serializers.IntegerField()
    quoted_unit_price = serializers.DecimalField(
        max_digits=14, decimal_places=2, help_text="In the quote's currency."
    )
    unit_price = serializers.DecimalField(
        max_digits=14, decimal_places=2, help_text="In the RFQ's currency."
    )
    line_total = _money()
    note = serializers.CharField()


class EvaluationCriterionResultSerializer(serializers.Serializer):
    criterion = serializers.IntegerField()
    raw = serializers.CharField(help_text="The value the score comes from, as the page shows it.")
    score = serializers.DecimalField(max_digits=5, decimal_places=2)
    points = serializers.DecimalField(max_digits=5, decimal_places=2)
    note = serializers.CharField()


class EvaluationQuoteSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    revision = serializers.IntegerField()
    currency = serializers.CharField()
    exchange_rate = serializers.DecimalField(max_digits=18, decimal_places=8)
    delivery_days = serializers.IntegerField()
    valid_until = serializers.DateField()
    submitted_at = serializers.DateTimeField()


class EvaluationColumnSerializer(serializers.Serializer):
    invitation = serializers.IntegerField()
    vendor = EvaluationVendorSerializer()
    is_prospect = serializers.BooleanField()
    quote = EvaluationQuoteSerializer()
    lines = EvaluationLinePriceSerializer(many=True)
    lines_total = _money()
    implementation = _money()
    support_over_term = _money()
    tco = _money()
    above_walk_away = serializers.BooleanField()
    criteria = EvaluationCriterionResultSerializer(many=True)
    total_score = serializers.DecimalField(max_digits=6, decimal_places=2)
    rank = serializers.IntegerField()
    justification_reasons = serializers.ListField(
        child=serializers.CharField(),
        help_text="Why awarding this quote needs a justification (empty: it does not).",
    )


class EvaluationFormulaSerializer(serializers.Serializer):
    name = serializers.CharField()
    text = serializers.CharField()


class ContractBenchmarkSerializer(serializers.Serializer):
    contract = serializers.IntegerField()
    contract_title = serializers.CharField()
    vendor = serializers.IntegerField()
    vendor_name = serializers.CharField()
    invited = serializers.BooleanField()
    description = serializers.CharField()
    unit_price = serializers.DecimalField(
        max_digits=14, decimal_places=2, allow_null=True, help_text="In the RFQ's currency."
    )
    quoted_unit_price = serializers.DecimalField(max_digits=14, decimal_places=2)
    currency = serializers.CharField(help_text="The contract's currency.")
    unavailable = serializers.CharField()


class QuoteDifferenceSerializer(serializers.Serializer):
    invitation = serializers.IntegerField()
    vendor_name = serializers.CharField()
    unit_price = serializers.DecimalField(max_digits=14, decimal_places=2)
    vs_median = serializers.DecimalField(max_digits=8, decimal_places=1, allow_null=True)
    vs_p25 = serializers.DecimalField(max_digits=8, decimal_places=1, allow_null=True)
    vs_last = serializers.DecimalField(max_digits=8, decimal_places=1, allow_null=True)
    vs_contract = serializers.DecimalField(max_digits=8, decimal_places=1, allow_null=True)


class LineBenchmarkSerializer(serializers.Serializer):
    rfq_line = serializers.IntegerField()
    basis = serializers.ChoiceField(choices=["similar", "category", "none"])
    basis_text = serializers.CharField()
    count = serializers.IntegerField()
    currency = serializers.CharField()
    median = serializers.DecimalField(max_digits=14, decimal_places=2, allow_null=True)
    p25 = serializers.DecimalField(max_digits=14, decimal_places=2, allow_null=True)
    last = serializers.DecimalField(max_digits=14, decimal_places=2, allow_null=True)
    last_date = serializers.DateField(allow_null=True)
    unavailable = serializers.CharField()
    contract = ContractBenchmarkSerializer(allow_null=True)
    quotes = QuoteDifferenceSerializer(many=True)


class BestOfferSerializer(serializers.Serializer):
    invitation = serializers.IntegerField()
    vendor = serializers.CharField()
    tco = _money()


class EvaluationSerializer(serializers.Serializer):
    rfq = serializers.IntegerField()
    reference = serializers.CharField()
    title = serializers.CharField()
    state = serializers.CharField()
    currency = serializers.CharField()
    term_months = serializers.IntegerField()
    target_price = _money(allow_null=True)
    walk_away_price = _money(allow_null=True)
    best = BestOfferSerializer(allow_null=True)
    flag = serializers.CharField(help_text='"above_walk_away", "negotiate", "within_target" or "".')
    recommendation = serializers.CharField()
    walk_away_approver_role = serializers.CharField()
    quotes_required = serializers.IntegerField()
    weights_total = serializers.DecimalField(max_digits=6, decimal_places=2)
    lines = EvaluationLineSerializer(many=True)
    criteria = EvaluationCriterionSerializer(many=True)
    columns = EvaluationColumnSerializer(many=True, help_text="Ranked: the first is rank 1.")
    formulas = EvaluationFormulaSerializer(many=True)
    benchmarks = LineBenchmarkSerializer(many=True)
    web_url = serializers.CharField()


def _evaluation_body(
    request: Request, evaluation: Evaluation, benchmarks: list[LineBenchmark]
) -> dict[str, Any]:
    rfq = evaluation.rfq
    best = evaluation.best
    return {
        "rfq": rfq.pk,
        "reference": rfq.reference,
        "title": rfq.title,
        "state": rfq.state,
        "currency": rfq.currency,
        "term_months": rfq.term_months,
        "target_price": evaluation.target_price,
        "walk_away_price": evaluation.walk_away_price,
        "best": {
            "invitation": best.invitation.pk,
            "vendor": str(best.invitation.vendor),
            "tco": best.tco,
        }
        if best
        else None,
        "flag": evaluation.flag,
        "recommendation": evaluation.recommendation,
        "walk_away_approver_role": evaluation.walk_away_approver_role,
        "quotes_required": evaluation.quotes_required,
        "weights_total": evaluation.weights_total,
        "lines": [
            {
                "id": line.pk,
                "description": line.description,
                "quantity": line.quantity,
                "unit": line.unit,
                "billing": line.billing,
                "category": line.category.name,
            }
            for line in evaluation.lines
        ],
        "criteria": [
            {"id": c.pk, "kind": c.kind, "name": c.name, "weight": c.weight}
            for c in evaluation.criteria
        ],
        "columns": [
            {
                "invitation": column.invitation.pk,
                "vendor": column.invitation.vendor,
                "is_prospect": column.is_prospect,
                "quote": column.quote,
                "lines": [
                    {
                        "rfq_line": price.rfq_line.pk,
                        "quoted_unit_price": price.quoted_unit_price,
                        "unit_price": price.unit_price,
                        "line_total": price.line_total,
                        "note": price.note,
                    }
                    for price in column.lines
                ],
                "lines_total": column.lines_total,
                "implementation": column.implementation,
                "support_over_term": column.support_over_term,
                "tco": column.tco,
                "above_walk_away": column.above_walk_away,
                "criteria": [
                    {
                        "criterion": result.criterion.pk,
                        "raw": result.raw,
                        "score": result.score,
                        "points": result.points,
                        "note": result.note,
                    }
                    for result in column.criteria
                ],
                "total_score": column.total_score,
                "rank": column.rank,
                "justification_reasons": evaluation.justification_reasons(column),
            }
            for column in evaluation.columns
        ],
        "formulas": [{"name": name, "text": text} for name, text in evaluation.formulas],
        "benchmarks": [
            {
                "rfq_line": b.rfq_line.pk,
                "basis": b.basis,
                "basis_text": b.basis_text,
                "count": b.count,
                "currency": b.currency,
                "median": b.median,
                "p25": b.p25,
                "last": b.last,
                "last_date": b.last_date,
                "unavailable": b.unavailable,
                "contract": {
                    "contract": b.contract.contract_id,
                    "contract_title": b.contract.contract_title,
                    "vendor": b.contract.vendor_id,
                    "vendor_name": b.contract.vendor_name,
                    "invited": b.contract.invited,
                    "description": b.contract.description,
                    "unit_price": b.contract.unit_price,
                    "quoted_unit_price": b.contract.quoted_unit_price,
                    "currency": b.contract.currency,
                    "unavailable": b.contract.unavailable,
                }
                if b.contract
                else None,
                "quotes": [
                    {
                        "invitation": q.invitation_id,
                        "vendor_name": q.vendor_name,
                        "unit_price": q.unit_price,
                        "vs_median": q.vs_median,
                        "vs_p25": q.vs_p25,
                        "vs_last": q.vs_last,
                        "vs_contract": q.vs_contract,
                    }
                    for q in b.quotes
                ],
            }
            for b in benchmarks
        ],
        "web_url": request.build_absolute_uri(reverse("evaluation:compare", args=[rfq.pk])),
    }


class CounterOfferSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    invitation = serializers.IntegerField(source="invitation_id")
    round = serializers.IntegerField()
    quote = serializers.IntegerField(source="quote_id", help_text="The quote it answers.")
    proposed_tco = _money()
    message = serializers.CharField()
    respond_by = serializers.DateTimeField()
    state = serializers.CharField()
    sent_by = serializers.CharField()
    sent_at = serializers.DateTimeField()


class AwardSavingSerializer(serializers.Serializer):
    baseline_kind = serializers.CharField()
    currency = serializers.CharField()
    baseline_amount = _money()
    final_amount = _money()
    baseline_base = _money()
    final_base = _money()
    saved_base = _money()
    recorded_on = serializers.DateField()


class AwardSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    rfq = serializers.IntegerField(source="rfq_id")
    quote = serializers.IntegerField(source="quote_id")
    vendor = serializers.CharField(source="quote.invitation.vendor.legal_name")
    state = serializers.CharField()
    rank = serializers.IntegerField(help_text="Frozen at the award.")
    score = serializers.DecimalField(max_digits=6, decimal_places=2)
    above_walk_away = serializers.BooleanField()
    approver_role = serializers.CharField(help_text="Who must approve (above walk-away), or empty.")
    justification = serializers.CharField()
    awarded_by = serializers.CharField()
    awarded_at = serializers.DateTimeField()
    decided_by = serializers.CharField(allow_null=True)
    decided_at = serializers.DateTimeField(allow_null=True)
    decision_comment = serializers.CharField()
    saving = serializers.SerializerMethodField()
    purchase_order = serializers.SerializerMethodField()
    web_url = serializers.SerializerMethodField()

    @extend_schema_field(AwardSavingSerializer(allow_null=True))
    def get_saving(self, obj: Award) -> dict[str, Any] | None:
        saving = Saving.objects.filter(award=obj).first()
        return dict(AwardSavingSerializer(saving).data) if saving else None

    @extend_schema_field(serializers.IntegerField(allow_null=True))
    def get_purchase_order(self, obj: Award) -> int | None:
        return obj.purchase_order.pk if hasattr(obj, "purchase_order") else None

    @extend_schema_field(serializers.CharField())
    def get_web_url(self, obj: Award) -> str:
        return absolute_url(self.context["request"], "evaluation:award-detail", obj.pk)


class CriterionScoreSerializer(serializers.Serializer):
    criterion = serializers.IntegerField(source="criterion_id")
    invitation = serializers.IntegerField(source="invitation_id")
    score = serializers.DecimalField(max_digits=5, decimal_places=2)
    note = serializers.CharField()
    scored_by = serializers.CharField()
    scored_at = serializers.DateTimeField()


# --- Input -------------------------------------------------------------------------------


class CounterOfferInputSerializer(serializers.Serializer):
    invitation = serializers.IntegerField(min_value=1, help_text="The vendor's invitation id.")
    proposed_tco = _money(
        help_text="What you ask for: the TCO over the term, in the RFQ's currency."
    )
    message = serializers.CharField(max_length=5000)
    respond_by = serializers.DateTimeField(help_text="When the vendor must reply by.")


class AwardInputSerializer(serializers.Serializer):
    quote = serializers.IntegerField(min_value=1, help_text="The winning current quote's id.")
    justification = serializers.CharField(
        max_length=10_000,
        required=False,
        allow_blank=True,
        default="",
        help_text="Required when the quote is not ranked first, is above walk-away, or fewer "
        "quotes came in than the policy requires.",
    )


class AwardDecisionInputSerializer(serializers.Serializer):
    comment = serializers.CharField(
        max_length=5000,
        required=False,
        allow_blank=True,
        default="",
        help_text="Required to refuse.",
    )


class CriterionScoreInputSerializer(serializers.Serializer):
    score = serializers.DecimalField(max_digits=5, decimal_places=2)
    note = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class CounterOfferWithdrawInputSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


_AWARD_400 = OpenApiExample(
    "Not the top-ranked quote, no justification",
    response_only=True,
    status_codes=["400"],
    value={
        "code": "invalid",
        "detail": "A written justification is required: Contoso Devices Ltd is ranked 2, not "
        "first: say why it wins.",
        "errors": {
            "justification": ["Contoso Devices Ltd is ranked 2, not first: say why it wins."]
        },
    },
)


# --- Views -------------------------------------------------------------------------------


class EvaluationApi(APIView):
    @extend_schema(
        operation_id="sourcing_evaluation_retrieve",
        summary="The comparison matrix, benchmarks and formulas of a closed RFQ",
        parameters=[_RFQ_ID],
        responses={200: EvaluationSerializer, **_errors(403, 404, 409)},
        tags=["sourcing"],
    )
    def get(self, request: Request, rfq_id: int) -> Response:
        rfq = _unsealed_rfq(request, rfq_id)
        body = _evaluation_body(request, rfq_evaluation(rfq=rfq), rfq_benchmarks(rfq=rfq))
        return Response(EvaluationSerializer(body).data)


class CounterOfferCreateApi(APIView):
    parser_classes = [JSONParser]

    @extend_schema(
        operation_id="sourcing_counter_offers_create",
        summary="Send a vendor a counter-offer (procurement)",
        parameters=[_RFQ_ID],
        request=CounterOfferInputSerializer,
        responses={201: CounterOfferSerializer, **_errors(400, 403, 404, 409)},
        tags=["sourcing"],
    )
    def post(self, request: Request, rfq_id: int) -> Response:
        rfq = _unsealed_rfq(request, rfq_id)
        serializer = CounterOfferInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        if not rfq.invitations.filter(pk=data["invitation"]).exists():
            raise NotFound("No such invitation on this RFQ.")
        counter_offer = counter_offer_send(
            invitation_id=data["invitation"],
            by=_user(request),
            proposed_tco=data["proposed_tco"],
            message=data["message"],
            respond_by=data["respond_by"],
        )
        return Response(CounterOfferSerializer(counter_offer).data, status=status.HTTP_201_CREATED)


class CounterOfferWithdrawApi(APIView):
    parser_classes = [JSONParser]

    @extend_schema(
        operation_id="sourcing_counter_offers_withdraw",
        summary="Withdraw an open counter-offer (procurement)",
        parameters=[
            _RFQ_ID,
            OpenApiParameter("counter_offer_id", int, OpenApiParameter.PATH),
        ],
        request=CounterOfferWithdrawInputSerializer,
        responses={200: CounterOfferSerializer, **_errors(403, 404, 409)},
        tags=["sourcing"],
    )
    def post(self, request: Request, rfq_id: int, counter_offer_id: int) -> Response:
        rfq = _visible_rfq(request, rfq_id)
        if not CounterOffer.objects.filter(pk=counter_offer_id, invitation__rfq=rfq).exists():
            raise NotFound("No such counter-offer on this RFQ.")
        serializer = CounterOfferWithdrawInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        counter_offer = counter_offer_withdraw(
            counter_offer_id=counter_offer_id,
            by=_user(request),
            reason=serializer.validated_data["reason"],
        )
        return Response(CounterOfferSerializer(counter_offer).data)


class AwardCreateApi(APIView):
    parser_classes = [JSONParser]

    @extend_schema(
        operation_id="sourcing_award_create",
        summary="Award the RFQ to one of its current quotes (procurement)",
        description="Approved at once, or `pending_approval` when the quote is above the "
        "walk-away price (then approved by the policy's role at "
        "`POST /api/sourcing/awards/{id}/approve/`).",
        parameters=[_RFQ_ID],
        request=AwardInputSerializer,
        responses={201: AwardSerializer, **_errors(400, 403, 404, 409)},
        examples=[_AWARD_400],
        tags=["sourcing"],
    )
    def post(self, request: Request, rfq_id: int) -> Response:
        rfq = _unsealed_rfq(request, rfq_id)
        serializer = AwardInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        award = award_make(
            rfq_id=rfq.pk,
            by=_user(request),
            quote_id=serializer.validated_data["quote"],
            justification=serializer.validated_data["justification"],
        )
        return _award_response(request, award.pk, status_code=status.HTTP_201_CREATED)


def _award_response(
    request: Request, award_id: int, *, status_code: int = status.HTTP_200_OK
) -> Response:
    award = award_get(award_id=award_id, user=_user(request))
    if award is None:
        raise NotFound("No such award.")
    body = AwardSerializer(award, context={"request": request}).data
    return Response(body, status=status_code)


class AwardDetailApi(APIView):
    @extend_schema(
        operation_id="sourcing_award_retrieve",
        summary="An award",
        parameters=[_AWARD_ID],
        responses={200: AwardSerializer, **_errors(403, 404)},
        tags=["sourcing"],
    )
    def get(self, request: Request, award_id: int) -> Response:
        return _award_response(request, award_id)


class _AwardDecisionApi(APIView):
    parser_classes = [JSONParser]

    def decide(self, request: Request, award_id: int, *, approve: bool) -> Response:
        if award_get(award_id=award_id, user=_user(request)) is None:
            raise NotFound("No such award.")
        serializer = AwardDecisionInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        comment = serializer.validated_data["comment"]
        if approve:
            award_approve(award_id=award_id, by=_user(request), comment=comment)
        else:
            award_refuse(award_id=award_id, by=_user(request), comment=comment)
        return _award_response(request, award_id)


class AwardApproveApi(_AwardDecisionApi):
    @extend_schema(
        operation_id="sourcing_award_approve",
        summary="Approve an award above walk-away (a holder of its approver role other than "
        "the awarder): the RFQ is awarded, the saving recorded, the draft PO created",
        parameters=[_AWARD_ID],
        request=AwardDecisionInputSerializer,
        responses={200: AwardSerializer, **_errors(400, 403, 404, 409)},
        tags=["sourcing"],
    )
    def post(self, request: Request, award_id: int) -> Response:
        return self.decide(request, award_id, approve=True)


class AwardRefuseApi(_AwardDecisionApi):
    @extend_schema(
        operation_id="sourcing_award_refuse",
        summary="Refuse an award above walk-away (comment required): the RFQ goes back to "
        "evaluation",
        parameters=[_AWARD_ID],
        request=AwardDecisionInputSerializer,
        responses={200: AwardSerializer, **_errors(400, 403, 404, 409)},
        tags=["sourcing"],
    )
    def post(self, request: Request, award_id: int) -> Response:
        return self.decide(request, award_id, approve=False)


class CriterionScoreApi(APIView):
    parser_classes = [JSONParser]

    @extend_schema(
        operation_id="sourcing_scores_update",
        summary="Set an evaluator's score (0-100) of one vendor on a custom criterion",
        parameters=[
            _RFQ_ID,
            OpenApiParameter("criterion_id", int, OpenApiParameter.PATH),
            OpenApiParameter("invitation_id", int, OpenApiParameter.PATH),
        ],
        request=CriterionScoreInputSerializer,
        responses={200: CriterionScoreSerializer, **_errors(400, 403, 404, 409)},
        tags=["sourcing"],
    )
    def put(self, request: Request, rfq_id: int, criterion_id: int, invitation_id: int) -> Response:
        rfq = _unsealed_rfq(request, rfq_id)
        if not rfq.criteria.filter(pk=criterion_id).exists():
            raise NotFound("No such criterion on this RFQ.")
        serializer = CriterionScoreInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        record: CriterionScore = criterion_score_set(
            criterion_id=criterion_id,
            invitation_id=invitation_id,
            by=_user(request),
            score=serializer.validated_data["score"],
            note=serializer.validated_data["note"],
        )
        return Response(CriterionScoreSerializer(record).data)
