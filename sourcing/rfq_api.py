"""The REST API for RFQs, mounted at /api/sourcing/ (namespace "rfq_api"). See docs/sourcing/rfqs.md.

One APIView per operation, small input and output serializers; the rules live in
sourcing/rfqs.py, so the API and the pages refuse the same things with the same messages.
Errors leave through procurement.api.exception_handler as {"code", "detail", "errors"}.
Quotes are sealed: an RFQ's `quotes` are null until it is closed.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import JSONParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from procurement.api import (
    Pagination,
    absolute_url,
    error_responses,
    object_response,
    paginated_response,
    query_filters,
    signed_in_user,
    unknown_choice,
)
from procurement.errors import InvalidInput, NotFound
from procurement.models import Category
from sourcing.models import Billing, CriterionKind, Invitation, Quote, Rfq, RfqState
from sourcing.rfqs import (
    CriterionInput,
    RfqLineInput,
    clarification_publish,
    invitation_resend,
    question_answer,
    rfq_available_actions,
    rfq_cancel,
    rfq_close,
    rfq_create_from_request,
    rfq_criteria_save,
    rfq_get,
    rfq_invite,
    rfq_is_sealed,
    rfq_lines_save,
    rfq_open,
    rfq_open_blockers,
    rfq_prices_set,
    rfq_reopen,
    rfq_update,
    rfqs_visible,
)

_user = signed_in_user

_ERROR_TEXT = {
    400: "Invalid input; `errors` names each bad field.",
    403: "Not authenticated, or not allowed to do this (only procurement runs RFQs).",
    404: "No such RFQ, or not visible to you.",
    409: "The RFQ is not in a state that allows this; `detail` says why.",
}
_TAGS = ["sourcing: RFQs"]
_errors = partial(error_responses, texts=_ERROR_TEXT)


_RFQ_ID = OpenApiParameter("rfq_id", int, OpenApiParameter.PATH, description="RFQ id.")


# --- Output ------------------------------------------------------------------------------


class RfqLineOutSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    position = serializers.IntegerField()
    description = serializers.CharField()
    quantity = serializers.DecimalField(max_digits=12, decimal_places=3)
    unit = serializers.CharField()
    billing = serializers.CharField()
    category = serializers.CharField(source="category.code")
    estimated_unit_price = serializers.DecimalField(
        max_digits=14, decimal_places=2, allow_null=True
    )
    request_line = serializers.IntegerField(source="request_line_id", allow_null=True)


class RfqCriterionOutSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    name = serializers.CharField()
    weight = serializers.DecimalField(max_digits=5, decimal_places=2)


class RfqInvitationOutSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    vendor = serializers.SerializerMethodField()
    contact_name = serializers.CharField()
    contact_email = serializers.EmailField()
    is_prospect = serializers.BooleanField(help_text="Invited before the vendor was approved.")
    invited_at = serializers.DateTimeField()
    declined_at = serializers.DateTimeField(allow_null=True)
    decline_reason = serializers.CharField()
    current_revision = serializers.SerializerMethodField(
        help_text="Revision of the current quote (null: none); no amounts before the close."
    )
    quote_submitted_at = serializers.SerializerMethodField()

    def _current(self, obj: Invitation) -> Quote | None:
        return next((q for q in obj.quotes.all() if q.superseded_at is None), None)

    def get_vendor(self, obj: Invitation) -> dict[str, Any]:
        return {"id": obj.vendor_id, "legal_name": obj.vendor.legal_name, "state": obj.vendor.state}

    def get_current_revision(self, obj: Invitation) -> int | None:
        current = self._current(obj)
        return current.revision if current else None

    def get_quote_submitted_at(self, obj: Invitation) -> str | None:
        current = self._current(obj)
        return current.submitted_at.isoformat() if current else None


class RfqQuoteLineOutSerializer(serializers.Serializer):
    rfq_line = serializers.IntegerField(source="rfq_line_id")
    unit_price = serializers.DecimalField(max_digits=14, decimal_places=2)
    note = serializers.CharField()


class RfqQuoteOutSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    invitation = serializers.IntegerField(source="invitation_id")
    vendor = serializers.CharField(source="invitation.vendor.legal_name")
    revision = serializers.IntegerField()
    currency = serializers.CharField()
    lines_total = serializers.DecimalField(max_digits=16, decimal_places=2)
    tco = serializers.DecimalField(max_digits=16, decimal_places=2)
    tco_in_rfq_currency = serializers.DecimalField(max_digits=16, decimal_places=2)
    exchange_rate = serializers.DecimalField(max_digits=18, decimal_places=8)
    delivery_days = serializers.IntegerField()
    valid_until = serializers.DateField()
    implementation_cost = serializers.DecimalField(max_digits=14, decimal_places=2)
    support_cost_per_year = serializers.DecimalField(max_digits=14, decimal_places=2)
    terms = serializers.CharField()
    submitted_at = serializers.DateTimeField()
    lines = RfqQuoteLineOutSerializer(many=True)


class RfqQuestionOutSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    asked_by_vendor = serializers.SerializerMethodField(
        help_text="Who asked (for procurement only; vendors never see it). Null: a clarification."
    )
    text = serializers.CharField()
    asked_at = serializers.DateTimeField()
    answer = serializers.CharField()
    answered_at = serializers.DateTimeField(allow_null=True)

    def get_asked_by_vendor(self, obj: Any) -> str | None:
        return obj.asked_by.vendor.legal_name if obj.asked_by_id else None


class RfqListSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    reference = serializers.CharField()
    title = serializers.CharField()
    request = serializers.IntegerField(source="request_id")
    state = serializers.CharField(help_text="One of: " + ", ".join(RfqState.values) + ".")
    deadline = serializers.DateTimeField()
    currency = serializers.CharField()
    invited_count = serializers.IntegerField()
    quotes_received = serializers.IntegerField()
    url = serializers.SerializerMethodField()

    def get_url(self, obj: Rfq) -> str:
        return absolute_url(self.context["request"], "rfq_api:detail", obj.pk)


class RfqSerializer(RfqListSerializer):
    state_label = serializers.CharField(source="get_state_display")
    instructions = serializers.CharField()
    term_months = serializers.IntegerField()
    target_price = serializers.DecimalField(max_digits=16, decimal_places=2, allow_null=True)
    walk_away_price = serializers.DecimalField(max_digits=16, decimal_places=2, allow_null=True)
    prices_set_at = serializers.DateTimeField(allow_null=True)
    quotes_required = serializers.IntegerField()
    created_by = serializers.CharField(source="created_by.username")
    created_at = serializers.DateTimeField()
    opened_at = serializers.DateTimeField(allow_null=True)
    closed_at = serializers.DateTimeField(allow_null=True)
    lines = RfqLineOutSerializer(many=True)
    criteria = RfqCriterionOutSerializer(many=True)
    invitations = serializers.SerializerMethodField()
    questions = serializers.SerializerMethodField()
    quotes = serializers.SerializerMethodField(
        help_text="The current quotes, once the RFQ is closed; null while sealed."
    )
    open_blockers = serializers.SerializerMethodField(
        help_text="For a draft: what keeps it from opening, keyed by what to fix."
    )
    available_actions = serializers.SerializerMethodField(
        help_text="What the caller may do now: POST /api/sourcing/{id}/{action}/."
    )
    web_url = serializers.SerializerMethodField()

    def get_invitations(self, obj: Rfq) -> list[dict[str, Any]]:
        rows = obj.invitations.select_related("vendor").prefetch_related("quotes")
        return list(RfqInvitationOutSerializer(rows, many=True).data)

    def get_questions(self, obj: Rfq) -> list[dict[str, Any]]:
        rows = obj.questions.select_related("asked_by__vendor")
        return list(RfqQuestionOutSerializer(rows, many=True).data)

    def get_quotes(self, obj: Rfq) -> list[dict[str, Any]] | None:
        if rfq_is_sealed(obj):
            return None
        quotes = (
            Quote.objects.filter(
                invitation__rfq=obj,
                superseded_at__isnull=True,
                invitation__declined_at__isnull=True,
            )
            .select_related("invitation__vendor")
            .prefetch_related("lines")
            .order_by("invitation_id")
        )
        return list(RfqQuoteOutSerializer(quotes, many=True).data)

    def get_open_blockers(self, obj: Rfq) -> dict[str, list[str]]:
        return rfq_open_blockers(obj) if obj.state == RfqState.DRAFT else {}

    def get_available_actions(self, obj: Rfq) -> list[str]:
        return rfq_available_actions(obj, _user(self.context["request"]))

    def get_web_url(self, obj: Rfq) -> str:
        return absolute_url(self.context["request"], "rfqs:detail", obj.pk)


def _rfq_response(
    request: Request, rfq_id: int, *, status_code: int = status.HTTP_200_OK
) -> Response:
    rfq = rfq_get(_user(request), rfq_id)
    body = RfqSerializer(rfq, context={"request": request}).data
    return object_response(body, status_code=status_code)


def _require_visible(request: Request, rfq_id: int) -> Rfq:
    # Looked up before the body is read: an RFQ the caller cannot see is a 404 whatever was sent.
    return rfq_get(_user(request), rfq_id)


# --- Input -------------------------------------------------------------------------------


class RfqFilterSerializer(serializers.Serializer):
    state = serializers.ChoiceField(
        choices=RfqState.choices,
        required=False,
        error_messages=unknown_choice("state", RfqState.values),
    )


class RfqUpdateSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=200)
    instructions = serializers.CharField(max_length=10_000, allow_blank=True)
    deadline = serializers.DateTimeField(help_text="ISO 8601; in the future.")
    term_months = serializers.IntegerField(min_value=1, max_value=120)
    currency = serializers.CharField(max_length=3)


class RfqLineInSerializer(serializers.Serializer):
    description = serializers.CharField(max_length=300)
    quantity = serializers.DecimalField(max_digits=12, decimal_places=3)
    unit = serializers.CharField(max_length=20, default="each")
    billing = serializers.ChoiceField(choices=Billing.choices, default=Billing.ONE_OFF)
    category = serializers.SlugField(help_text="A category code, e.g. hardware.")
    estimated_unit_price = serializers.DecimalField(
        max_digits=14, decimal_places=2, required=False, allow_null=True
    )
    request_line = serializers.IntegerField(required=False, allow_null=True)


class RfqLinesSerializer(serializers.Serializer):
    lines = RfqLineInSerializer(many=True, allow_empty=True)


class RfqCriterionInSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=CriterionKind.choices)
    name = serializers.CharField(max_length=120)
    weight = serializers.DecimalField(max_digits=5, decimal_places=2)


class RfqCriteriaSerializer(serializers.Serializer):
    criteria = RfqCriterionInSerializer(many=True, allow_empty=True)


class RfqPricesSerializer(serializers.Serializer):
    target_price = serializers.DecimalField(max_digits=16, decimal_places=2)
    walk_away_price = serializers.DecimalField(max_digits=16, decimal_places=2)


class RfqInviteSerializer(serializers.Serializer):
    vendor = serializers.IntegerField(help_text="The vendor's id.")
    contact_name = serializers.CharField(
        max_length=120, required=False, allow_blank=True, default=""
    )
    contact_email = serializers.CharField(
        max_length=254,
        required=False,
        allow_blank=True,
        default="",
        help_text="Empty: the vendor's primary contact.",
    )


class RfqReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=5000, help_text="Why; kept in the history.")


class RfqReopenSerializer(serializers.Serializer):
    deadline = serializers.DateTimeField(help_text="The new deadline, in the future.")
    reason = serializers.CharField(max_length=5000)


class RfqAnswerSerializer(serializers.Serializer):
    answer = serializers.CharField(max_length=10_000)


class RfqClarificationSerializer(serializers.Serializer):
    text = serializers.CharField(max_length=5000)
    answer = serializers.CharField(max_length=10_000)


class RfqEmptySerializer(serializers.Serializer):
    pass


_WEIGHTS_EXAMPLE = OpenApiExample(
    "Weights not adding up to 100",
    response_only=True,
    status_codes=["400"],
    value={
        "code": "invalid",
        "detail": "The weights add up to 95%; they must add up to 100%.",
        "errors": {"criteria": ["The weights add up to 95%; they must add up to 100%."]},
    },
)
_OPEN_EXAMPLE = OpenApiExample(
    "Not ready to open",
    response_only=True,
    status_codes=["409"],
    value={
        "code": "conflict",
        "detail": "RFQ-000007 cannot open yet: Invite at least one vendor. Set the target "
        "and walk-away prices before quotes are seen.",
        "errors": {
            "invitations": ["Invite at least one vendor."],
            "prices": ["Set the target and walk-away prices before quotes are seen."],
        },
    },
)


# --- Views -------------------------------------------------------------------------------


class RfqListApi(APIView):
    pagination_class = Pagination  # read by the schema generator for the paginated list
    parser_classes = [JSONParser]

    @extend_schema(
        operation_id="rfqs_list",
        summary="List the RFQs you can see, newest first",
        parameters=[RfqFilterSerializer],
        responses={200: RfqListSerializer(many=True), **_errors(400, 403)},
        tags=_TAGS,
    )
    def get(self, request: Request) -> Response:
        data = query_filters(request, RfqFilterSerializer)
        rfqs = rfqs_visible(_user(request))
        if data.get("state"):
            rfqs = rfqs.filter(state=data["state"])
        return paginated_response(self, request, rfqs, RfqListSerializer)


class RfqCreateFromRequestApi(APIView):
    parser_classes = [JSONParser]

    @extend_schema(
        operation_id="rfqs_create_from_request",
        summary="Draft an RFQ from a purchase request (procurement)",
        description="Copies the request's lines, adds the default criteria and a deadline a "
        "week away at 17:00. The request must be approved, or awaiting approval when the "
        "approval policy needs quotes for its amount.",
        parameters=[
            OpenApiParameter("request_id", int, OpenApiParameter.PATH, description="Request id.")
        ],
        request=RfqEmptySerializer,
        responses={201: RfqSerializer, **_errors(403, 404, 409)},
        tags=_TAGS,
    )
    def post(self, request: Request, request_id: int) -> Response:
        rfq = rfq_create_from_request(request_id=request_id, by=_user(request))
        return _rfq_response(request, rfq.pk, status_code=status.HTTP_201_CREATED)


class RfqDetailApi(APIView):
    parser_classes = [JSONParser]

    @extend_schema(
        operation_id="rfqs_retrieve",
        summary="An RFQ with its lines, criteria, invitations, Q&A (and quotes, once closed)",
        parameters=[_RFQ_ID],
        responses={200: RfqSerializer, **_errors(403, 404)},
        tags=_TAGS,
    )
    def get(self, request: Request, rfq_id: int) -> Response:
        return _rfq_response(request, rfq_id)

    @extend_schema(
        operation_id="rfqs_partial_update",
        summary="Change the title, instructions, deadline (draft or open), term or currency (draft)",
        parameters=[_RFQ_ID],
        request=RfqUpdateSerializer,
        responses={200: RfqSerializer, **_errors(400, 403, 404, 409)},
        tags=_TAGS,
    )
    def patch(self, request: Request, rfq_id: int) -> Response:
        rfq = _require_visible(request, rfq_id)
        serializer = RfqUpdateSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        rfq_update(
            rfq_id=rfq_id,
            by=_user(request),
            title=data.get("title", rfq.title),
            instructions=data.get("instructions", rfq.instructions),
            deadline=data.get("deadline", rfq.deadline),
            term_months=data.get("term_months", rfq.term_months),
            currency=data.get("currency", rfq.currency),
        )
        return _rfq_response(request, rfq_id)


class RfqLinesApi(APIView):
    parser_classes = [JSONParser]

    @extend_schema(
        operation_id="rfqs_lines_replace",
        summary="Replace a draft's lines",
        parameters=[_RFQ_ID],
        request=RfqLinesSerializer,
        responses={200: RfqSerializer, **_errors(400, 403, 404, 409)},
        tags=_TAGS,
    )
    def put(self, request: Request, rfq_id: int) -> Response:
        _require_visible(request, rfq_id)
        serializer = RfqLinesSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        codes = dict(Category.objects.values_list("code", "pk"))
        lines = []
        errors: dict[str, list[str]] = {}
        for index, line in enumerate(serializer.validated_data["lines"]):
            if line["category"] not in codes:
                errors[f"lines[{index}].category"] = [f'Unknown category "{line["category"]}".']
                continue
            lines.append(
                RfqLineInput(
                    description=line["description"],
                    quantity=line["quantity"],
                    category_id=codes[line["category"]],
                    unit=line.get("unit") or "each",
                    billing=line.get("billing", Billing.ONE_OFF),
                    estimated_unit_price=line.get("estimated_unit_price"),
                    request_line_id=line.get("request_line"),
                )
            )
        if errors:
            raise InvalidInput(next(iter(errors.values()))[0], fields=errors)
        rfq_lines_save(rfq_id=rfq_id, by=_user(request), lines=lines)
        return _rfq_response(request, rfq_id)


class RfqCriteriaApi(APIView):
    parser_classes = [JSONParser]

    @extend_schema(
        operation_id="rfqs_criteria_replace",
        summary="Replace a draft's evaluation criteria (weights adding up to 100)",
        parameters=[_RFQ_ID],
        request=RfqCriteriaSerializer,
        responses={200: RfqSerializer, **_errors(400, 403, 404, 409)},
        examples=[_WEIGHTS_EXAMPLE],
        tags=_TAGS,
    )
    def put(self, request: Request, rfq_id: int) -> Response:
        _require_visible(request, rfq_id)
        serializer = RfqCriteriaSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        criteria = [
            CriterionInput(kind=item["kind"], name=item["name"], weight=item["weight"])
            for item in serializer.validated_data["criteria"]
        ]
        rfq_criteria_save(rfq_id=rfq_id, by=_user(request), criteria=criteria)
        return _rfq_response(request, rfq_id)


class RfqPricesApi(APIView):
    parser_classes = [JSONParser]

    @extend_schema(
        operation_id="rfqs_prices_set",
        summary="Set the target and walk-away prices (before quotes are seen)",
        parameters=[_RFQ_ID],
        request=RfqPricesSerializer,
        responses={200: RfqSerializer, **_errors(400, 403, 404, 409)},
        tags=_TAGS,
    )
    def put(self, request: Request, rfq_id: int) -> Response:
        _require_visible(request, rfq_id)
        serializer = RfqPricesSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        rfq_prices_set(
            rfq_id=rfq_id,
            by=_user(request),
            target_price=serializer.validated_data["target_price"],
            walk_away_price=serializer.validated_data["walk_away_price"],
        )
        return _rfq_response(request, rfq_id)


class RfqInviteApi(APIView):
    parser_classes = [JSONParser]

    @extend_schema(
        operation_id="rfqs_invite",
        summary="Invite a vendor (draft or open; emailed at once when open)",
        parameters=[_RFQ_ID],
        request=RfqInviteSerializer,
        responses={201: RfqSerializer, **_errors(400, 403, 404, 409)},
        tags=_TAGS,
    )
    def post(self, request: Request, rfq_id: int) -> Response:
        _require_visible(request, rfq_id)
        serializer = RfqInviteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        rfq_invite(
            rfq_id=rfq_id,
            by=_user(request),
            vendor_id=data["vendor"],
            contact_name=data["contact_name"],
            contact_email=data["contact_email"],
        )
        return _rfq_response(request, rfq_id, status_code=status.HTTP_201_CREATED)


class InvitationResendApi(APIView):
    parser_classes = [JSONParser]

    @extend_schema(
        operation_id="rfqs_invitation_resend",
        summary="Send a vendor a new link (earlier links stop working)",
        parameters=[
            _RFQ_ID,
            OpenApiParameter("invitation_id", int, OpenApiParameter.PATH),
        ],
        request=RfqEmptySerializer,
        responses={200: RfqSerializer, **_errors(403, 404, 409)},
        tags=_TAGS,
    )
    def post(self, request: Request, rfq_id: int, invitation_id: int) -> Response:
        rfq = _require_visible(request, rfq_id)
        if not rfq.invitations.filter(pk=invitation_id).exists():
            raise NotFound("No such invitation.")
        invitation_resend(invitation_id=invitation_id, by=_user(request))
        return _rfq_response(request, rfq_id)


class RfqOpenApi(APIView):
    parser_classes = [JSONParser]

    @extend_schema(
        operation_id="rfqs_open",
        summary="Open a draft for quotes; the invited vendors are emailed their links",
        description="A 409 lists everything missing at once, keyed by what to fix.",
        parameters=[_RFQ_ID],
        request=RfqEmptySerializer,
        responses={200: RfqSerializer, **_errors(403, 404, 409)},
        examples=[_OPEN_EXAMPLE],
        tags=_TAGS,
    )
    def post(self, request: Request, rfq_id: int) -> Response:
        _require_visible(request, rfq_id)
        rfq_open(rfq_id=rfq_id, by=_user(request))
        return _rfq_response(request, rfq_id)


class RfqCloseApi(APIView):
    parser_classes = [JSONParser]

    @extend_schema(
        operation_id="rfqs_close",
        summary="Close an open RFQ before its deadline (the quotes are unsealed)",
        parameters=[_RFQ_ID],
        request=RfqEmptySerializer,
        responses={200: RfqSerializer, **_errors(403, 404, 409)},
        tags=_TAGS,
    )
    def post(self, request: Request, rfq_id: int) -> Response:
        _require_visible(request, rfq_id)
        rfq_close(rfq_id=rfq_id, by=_user(request))
        return _rfq_response(request, rfq_id)


class RfqReopenApi(APIView):
    parser_classes = [JSONParser]

    @extend_schema(
        operation_id="rfqs_reopen",
        summary="Reopen a closed RFQ with a new deadline and a reason",
        parameters=[_RFQ_ID],
        request=RfqReopenSerializer,
        responses={200: RfqSerializer, **_errors(400, 403, 404, 409)},
        tags=_TAGS,
    )
    def post(self, request: Request, rfq_id: int) -> Response:
        _require_visible(request, rfq_id)
        serializer = RfqReopenSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        rfq_reopen(
            rfq_id=rfq_id,
            by=_user(request),
            deadline=serializer.validated_data["deadline"],
            reason=serializer.validated_data["reason"],
        )
        return _rfq_response(request, rfq_id)


class RfqCancelApi(APIView):
    parser_classes = [JSONParser]

    @extend_schema(
        operation_id="rfqs_cancel",
        summary="Cancel an RFQ not yet awarded (the invited vendors are told)",
        parameters=[_RFQ_ID],
        request=RfqReasonSerializer,
        responses={200: RfqSerializer, **_errors(400, 403, 404, 409)},
        tags=_TAGS,
    )
    def post(self, request: Request, rfq_id: int) -> Response:
        _require_visible(request, rfq_id)
        serializer = RfqReasonSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        rfq_cancel(rfq_id=rfq_id, by=_user(request), reason=serializer.validated_data["reason"])
        return _rfq_response(request, rfq_id)


class QuestionAnswerApi(APIView):
    parser_classes = [JSONParser]

    @extend_schema(
        operation_id="rfqs_question_answer",
        summary="Answer a vendor's question (emailed to every invited vendor, without who asked)",
        parameters=[_RFQ_ID, OpenApiParameter("question_id", int, OpenApiParameter.PATH)],
        request=RfqAnswerSerializer,
        responses={200: RfqSerializer, **_errors(400, 403, 404, 409)},
        tags=_TAGS,
    )
    def post(self, request: Request, rfq_id: int, question_id: int) -> Response:
        rfq = _require_visible(request, rfq_id)
        if not rfq.questions.filter(pk=question_id).exists():
            raise NotFound("No such question.")
        serializer = RfqAnswerSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        question_answer(
            question_id=question_id, by=_user(request), answer=serializer.validated_data["answer"]
        )
        return _rfq_response(request, rfq_id)


class ClarificationApi(APIView):
    parser_classes = [JSONParser]

    @extend_schema(
        operation_id="rfqs_clarification_publish",
        summary="Publish a clarification (a question and answer nobody asked)",
        parameters=[_RFQ_ID],
        request=RfqClarificationSerializer,
        responses={201: RfqSerializer, **_errors(400, 403, 404, 409)},
        tags=_TAGS,
    )
    def post(self, request: Request, rfq_id: int) -> Response:
        _require_visible(request, rfq_id)
        serializer = RfqClarificationSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        clarification_publish(
            rfq_id=rfq_id,
            by=_user(request),
            text=serializer.validated_data["text"],
            answer=serializer.validated_data["answer"],
        )
        return _rfq_response(request, rfq_id, status_code=status.HTTP_201_CREATED)
