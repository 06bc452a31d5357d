"""The REST API for security assessments, mounted at /api/assessments/.

One APIView per URL; each parses with a small input serializer, calls one service or
selector from vendors/assessments.py and renders with a small output serializer, so the
API and the pages refuse the same things with the same messages. Errors leave through
procurement.api.exception_handler as {"code", "detail", "errors"}. The answer link is a
credential for the vendor's contact and is never returned here.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from django.urls import reverse
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    extend_schema_field,
)
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
from procurement.errors import NotAllowed, NotFound
from vendors.assessments import (
    AnswerScore,
    assessment_cancel,
    assessment_get,
    assessment_list,
    assessment_reopen,
    assessment_resend,
    assessment_score,
    assessment_score_preview,
    assessment_send,
)
from vendors.models import Assessment, AssessmentState, RiskTier
from vendors.selectors import vendor_may_see_file

TAGS = ["assessments"]

_ERROR_TEXT = {
    400: "Invalid input; field errors in `errors`.",
    404: "No such assessment (or vendor), or not visible to you.",
    409: "The assessment or vendor is not in a state that allows this.",
}
_errors = partial(error_responses, texts=_ERROR_TEXT)


_ASSESSMENT_ID = OpenApiParameter(
    "assessment_id", int, OpenApiParameter.PATH, description="Assessment id."
)


_user = signed_in_user


# --- Output ------------------------------------------------------------------------------


class AssessmentPersonSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    name = serializers.CharField(source="__str__")


class AssessmentVendorSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    legal_name = serializers.CharField()


class QuestionnaireRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    version = serializers.IntegerField()


class AssessmentRowSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    vendor = AssessmentVendorSerializer()
    template = QuestionnaireRefSerializer()
    state = serializers.CharField(help_text="sent, in_progress, submitted, scored or cancelled.")
    state_label = serializers.CharField(source="get_state_display")
    contact_name = serializers.CharField()
    contact_email = serializers.EmailField()
    sent_by = AssessmentPersonSerializer()
    sent_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField(help_text="When the answer link stops working.")
    submitted_at = serializers.DateTimeField(allow_null=True)
    scored_by = AssessmentPersonSerializer(allow_null=True)
    scored_at = serializers.DateTimeField(allow_null=True)
    score = serializers.DecimalField(
        max_digits=5, decimal_places=1, allow_null=True, help_text="0-100, once scored."
    )
    computed_tier = serializers.CharField(help_text="From the score; empty until scored.")
    risk_tier = serializers.CharField(
        help_text="low, medium, high or critical: the computed tier unless overridden."
    )
    tier_override_reason = serializers.CharField()
    url = serializers.SerializerMethodField()
    web_url = serializers.SerializerMethodField()

    def get_url(self, obj: Assessment) -> str:
        return absolute_url(self.context["request"], "assessments-api:detail", obj.pk)

    def get_web_url(self, obj: Assessment) -> str:
        return absolute_url(self.context["request"], "assessments:detail", obj.pk)


class AssessmentQuestionSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    section = serializers.CharField(source="section.title")
    text = serializers.CharField()
    answer_type = serializers.CharField(help_text="yes_no, choice, text or file.")
    choices = serializers.ListField(child=serializers.DictField(), help_text="label and score.")
    weight = serializers.IntegerField()
    # Shadows Field.required on purpose: the question's own flag is called `required`.
    required = serializers.BooleanField()  # type: ignore[assignment]


class AssessmentEvidenceSerializer(serializers.Serializer):
    filename = serializers.CharField()
    content_type = serializers.CharField()
    size = serializers.IntegerField()
    url = serializers.CharField(help_text="Download (a signed-in page).")


class AssessmentAnswerSerializer(serializers.Serializer):
    question = AssessmentQuestionSerializer()
    value = serializers.CharField(help_text="yes/no, the chosen label or the text; empty if none.")
    evidence = AssessmentEvidenceSerializer(allow_null=True)
    automatic_score = serializers.IntegerField(
        allow_null=True, help_text="From the answer alone; null for text and unanswered."
    )
    reviewer_score = serializers.IntegerField(allow_null=True)
    override_reason = serializers.CharField()
    effective_score = serializers.IntegerField(help_text="What counts in the total.")
    counted = serializers.BooleanField(help_text="In the total: answered or required.")
    needs_review = serializers.BooleanField(help_text="A text answer not scored yet (counts 0).")


class AssessmentDetailSerializer(AssessmentRowSerializer):
    answers = serializers.SerializerMethodField(help_text="Every question, in order.")

    @extend_schema_field(AssessmentAnswerSerializer(many=True))
    def get_answers(self, obj: Assessment) -> list[dict[str, Any]]:
        request = self.context["request"]
        rows = [_answer_row(request, obj, row) for row in assessment_score_preview(obj).answers]
        return list(AssessmentAnswerSerializer(rows, many=True).data)


def _answer_row(request: Request, assessment: Assessment, row: AnswerScore) -> dict[str, Any]:
    answer = row.answer
    evidence = None
    if answer is not None and answer.evidence is not None:
        path = reverse("assessments:evidence", args=[assessment.pk, answer.pk])
        evidence = {
            "filename": answer.evidence.filename,
            "content_type": answer.evidence.content_type,
            "size": answer.evidence.size,
            "url": request.build_absolute_uri(path),
        }
    return {
        "question": row.question,
        "value": answer.value if answer is not None else "",
        "evidence": evidence,
        "automatic_score": row.automatic,
        "reviewer_score": row.reviewer,
        "override_reason": answer.override_reason if answer is not None else "",
        "effective_score": row.effective,
        "counted": row.counted,
        "needs_review": row.needs_review,
    }


def _detail(request: Request, assessment_id: int, *, code: int = status.HTTP_200_OK) -> Response:
    assessment = assessment_get(user=_user(request), assessment_id=assessment_id)
    if assessment is None:
        raise NotFound("No such assessment.")
    body = AssessmentDetailSerializer(assessment, context={"request": request}).data
    return object_response(body, status_code=code)


# --- Input -------------------------------------------------------------------------------


# The largest id the database holds (a 64-bit key): a larger filter value was a 500.
MAX_ID = 2**63 - 1


class AssessmentFilterSerializer(serializers.Serializer):
    vendor = serializers.IntegerField(
        required=False, min_value=1, max_value=MAX_ID, help_text="A vendor's id."
    )
    state = serializers.ChoiceField(
        choices=AssessmentState.values,
        required=False,
        error_messages=unknown_choice("state", AssessmentState.values),
    )


class AssessmentSendSerializer(serializers.Serializer):
    vendor = serializers.IntegerField(min_value=1, help_text="The vendor's id.")
    template = serializers.IntegerField(min_value=1, help_text="An active questionnaire's id.")
    contact_name = serializers.CharField(max_length=120)
    contact_email = serializers.EmailField(max_length=254, help_text="The link is sent here.")


class ScoreOverrideSerializer(serializers.Serializer):
    question = serializers.IntegerField(min_value=1, help_text="The question's id.")
    score = serializers.IntegerField(
        min_value=0, max_value=100, allow_null=True, help_text="0-100, or null to drop an override."
    )
    reason = serializers.CharField(max_length=5000, required=False, allow_blank=True, default="")


class AssessmentScoreSerializer(serializers.Serializer):
    overrides = ScoreOverrideSerializer(
        many=True,
        required=False,
        help_text="Your own scores for some answers, each with a reason; others keep theirs.",
    )
    tier_override = serializers.ChoiceField(
        choices=["", *RiskTier.values],
        required=False,
        default="",
        help_text="A tier other than the computed one (needs a reason).",
    )
    tier_override_reason = serializers.CharField(
        max_length=5000, required=False, allow_blank=True, default=""
    )

    def validate_overrides(self, value: list[dict[str, Any]]) -> list[dict[str, Any]]:
        questions = [item["question"] for item in value]
        if len(set(questions)) != len(questions):
            raise serializers.ValidationError("Each question may be overridden once.")
        return value


class AssessmentReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=5000, help_text="Kept in the vendor's history.")


# --- Views -------------------------------------------------------------------------------


class AssessmentListSendApi(APIView):
    parser_classes = [JSONParser]
    pagination_class = Pagination

    @extend_schema(
        operation_id="assessments_list",
        summary="List security assessments (people who may see vendor files)",
        parameters=[AssessmentFilterSerializer],
        responses={200: AssessmentRowSerializer(many=True), **_errors(400, 403)},
        tags=TAGS,
    )
    def get(self, request: Request) -> Response:
        user = _user(request)
        if not vendor_may_see_file(user):
            raise NotAllowed(
                "Only procurement, finance, security, legal and admins see assessments."
            )
        data = query_filters(request, AssessmentFilterSerializer)
        assessments = assessment_list(
            user=user, vendor_id=data.get("vendor"), state=data.get("state", "")
        )
        return paginated_response(self, request, assessments, AssessmentRowSerializer)

    @extend_schema(
        operation_id="assessments_send",
        summary="Send a questionnaire to a vendor contact (procurement)",
        description="The contact is emailed a link to answer without an account.",
        request=AssessmentSendSerializer,
        responses={201: AssessmentDetailSerializer, **_errors(400, 403, 404, 409)},
        tags=TAGS,
    )
    def post(self, request: Request) -> Response:
        serializer = AssessmentSendSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        assessment = assessment_send(
            vendor_id=data["vendor"],
            by=_user(request),
            template_id=data["template"],
            contact_name=data["contact_name"],
            contact_email=data["contact_email"],
        )
        return _detail(request, assessment.pk, code=status.HTTP_201_CREATED)


class AssessmentDetailApi(APIView):
    @extend_schema(
        operation_id="assessments_retrieve",
        summary="An assessment with every question, answer and score",
        parameters=[_ASSESSMENT_ID],
        responses={200: AssessmentDetailSerializer, **_errors(403, 404)},
        tags=TAGS,
    )
    def get(self, request: Request, assessment_id: int) -> Response:
        return _detail(request, assessment_id)


class AssessmentScoreApi(APIView):
    parser_classes = [JSONParser]

    @extend_schema(
        operation_id="assessments_score",
        summary="Score a submitted assessment and set the vendor's risk tier (security)",
        description=(
            "Total = sum(weight x score) / sum(weight) over answered and required questions. "
            "Tier: 80+ low, 60+ medium, 40+ high, else critical. Overrides need reasons."
        ),
        parameters=[_ASSESSMENT_ID],
        request=AssessmentScoreSerializer,
        responses={200: AssessmentDetailSerializer, **_errors(400, 403, 404, 409)},
        tags=TAGS,
    )
    def post(self, request: Request, assessment_id: int) -> Response:
        _require_visible(request, assessment_id)
        serializer = AssessmentScoreSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        assessment_score(
            assessment_id=assessment_id,
            by=_user(request),
            overrides={
                item["question"]: (item["score"], item.get("reason", ""))
                for item in data.get("overrides", [])
            },
            tier_override=data.get("tier_override", ""),
            tier_override_reason=data.get("tier_override_reason", ""),
        )
        return _detail(request, assessment_id)


def _require_visible(request: Request, assessment_id: int) -> None:
    # Before the body is read: an assessment the caller cannot see is a 404 whatever was sent.
    if assessment_get(user=_user(request), assessment_id=assessment_id) is None:
        raise NotFound("No such assessment.")


class AssessmentResendApi(APIView):
    parser_classes = [JSONParser]

    @extend_schema(
        operation_id="assessments_resend",
        summary="Send the contact a new link; earlier links stop working (procurement)",
        parameters=[_ASSESSMENT_ID],
        request=None,
        responses={200: AssessmentDetailSerializer, **_errors(403, 404, 409)},
        tags=TAGS,
    )
    def post(self, request: Request, assessment_id: int) -> Response:
        assessment_resend(assessment_id=assessment_id, by=_user(request))
        return _detail(request, assessment_id)


class AssessmentCancelApi(APIView):
    parser_classes = [JSONParser]

    @extend_schema(
        operation_id="assessments_cancel",
        summary="Cancel an assessment not yet scored (procurement)",
        parameters=[_ASSESSMENT_ID],
        request=AssessmentReasonSerializer,
        responses={200: AssessmentDetailSerializer, **_errors(400, 403, 404, 409)},
        tags=TAGS,
    )
    def post(self, request: Request, assessment_id: int) -> Response:
        _require_visible(request, assessment_id)
        serializer = AssessmentReasonSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        assessment_cancel(
            assessment_id=assessment_id,
            by=_user(request),
            reason=serializer.validated_data["reason"],
        )
        return _detail(request, assessment_id)


class AssessmentReopenApi(APIView):
    parser_classes = [JSONParser]

    @extend_schema(
        operation_id="assessments_reopen",
        summary="Return a submitted or scored assessment to the vendor with a new link",
        parameters=[_ASSESSMENT_ID],
        request=AssessmentReasonSerializer,
        responses={200: AssessmentDetailSerializer, **_errors(400, 403, 404, 409)},
        tags=TAGS,
    )
    def post(self, request: Request, assessment_id: int) -> Response:
        _require_visible(request, assessment_id)
        serializer = AssessmentReasonSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        assessment_reopen(
            assessment_id=assessment_id,
            by=_user(request),
            reason=serializer.validated_data["reason"],
        )
        return _detail(request, assessment_id)
