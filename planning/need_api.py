"""The REST API of the needs board, mounted at /api/planning/ (no namespace: every URL name
starts with "planning-need"). See docs/planning/needs.md.

One APIView per operation, small input and output serializers; the rules live in
planning/needs.py, so the API and the pages refuse the same things with the same messages.
Errors leave through procurement.api.exception_handler as {"code", "detail", "errors"}.
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

from planning.models import Consolidation, ConsolidationKind, Need, NeedCommentKind, NeedStatus
from planning.needs import (
    BODY_MAX,
    MAX_NEEDS_PER_CONSOLIDATION,
    PROBLEM_MAX,
    TITLE_MAX,
    NeedFilters,
    NeedInput,
    RequestTarget,
    consolidation_get,
    consolidation_needs,
    consolidation_target_visible,
    consolidation_totals,
    may_change_need,
    may_consolidate,
    may_manage_needs,
    need_comment_add,
    need_create,
    need_get,
    need_reference,
    need_support_add,
    need_withdraw,
    needs_board,
    needs_consolidate_into_request,
    needs_consolidate_into_rfq,
)
from procurement.api import (
    Pagination,
    absolute_url,
    by_code,
    error_responses,
    object_response,
    paginated_response,
    query_filters,
    signed_in_user,
    unknown_choice,
)
from procurement.errors import InvalidInput, NotAllowed
from procurement.models import Category, CostCentre, Department, Objective
from sourcing.models import Rfq

_user = signed_in_user
MAX_ID = 2**63 - 1

_ERROR_TEXT = {
    400: "Invalid input; `errors` names each bad field.",
    403: "Not authenticated, or not allowed to do this (another department's need; only "
    "procurement consolidates).",
    404: "No such need or consolidation.",
    409: "The need (or RFQ) is not in a state that allows this, or the department already "
    "joined; `detail` says why.",
}
_TAGS = ["planning: needs"]
_NEED_ID = OpenApiParameter("need_id", int, OpenApiParameter.PATH, description="Need id.")
_CONSOLIDATION_ID = OpenApiParameter(
    "consolidation_id", int, OpenApiParameter.PATH, description="Consolidation id."
)
_errors = partial(error_responses, texts=_ERROR_TEXT)


# Inline enums: other serializers already have a "kind" and a "status" with other choices.
@extend_schema_field({"type": "string", "enum": NeedCommentKind.values})
class CommentKindField(serializers.ChoiceField):
    pass


@extend_schema_field({"type": "string", "enum": ConsolidationKind.values})
class ConsolidationKindField(serializers.ChoiceField):
    pass


@extend_schema_field({"type": "string", "enum": [*NeedStatus.values, "any"]})
class StatusFilterField(serializers.ChoiceField):
    pass


# --- Output ------------------------------------------------------------------------------


class NeedSupportOutSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    department = serializers.CharField(source="department.code")
    department_name = serializers.CharField(source="department.name")
    supporter = serializers.CharField(source="supporter.username")
    people_affected = serializers.IntegerField()
    rough_budget = serializers.DecimalField(max_digits=16, decimal_places=2)
    note = serializers.CharField()
    created_at = serializers.DateTimeField()


class NeedCommentOutSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    author = serializers.CharField(source="author.username")
    kind = serializers.CharField(help_text="comment or alternative.")
    body = serializers.CharField()
    created_at = serializers.DateTimeField()


class NeedListSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    reference = serializers.SerializerMethodField()
    title = serializers.CharField()
    status = serializers.CharField(help_text="One of: " + ", ".join(NeedStatus.values) + ".")
    department = serializers.CharField(source="department.code", help_text="Who posted it.")
    departments = serializers.SerializerMethodField(
        help_text="Its department's code, then those of the departments that need it too."
    )
    people_affected = serializers.IntegerField(help_text="In its own department.")
    rough_budget = serializers.DecimalField(
        max_digits=16, decimal_places=2, help_text="Its own department's, in the base currency."
    )
    total_people = serializers.IntegerField(help_text="With every supporting department's.")
    total_budget = serializers.DecimalField(
        max_digits=18, decimal_places=2, help_text="With every supporting department's."
    )
    needed_by = serializers.DateField()
    objective = serializers.IntegerField(source="objective_id", allow_null=True)
    category = serializers.SerializerMethodField()
    url = serializers.SerializerMethodField()

    def get_reference(self, obj: Need) -> str:
        return need_reference(obj)

    def get_departments(self, obj: Need) -> list[str]:
        return [obj.department.code, *(s.department.code for s in obj.supports.all())]

    def get_category(self, obj: Need) -> str | None:
        return obj.category.code if obj.category_id and obj.category else None

    def get_url(self, obj: Need) -> str:
        return absolute_url(self.context["request"], "planning-need", obj.pk)


class NeedSerializer(NeedListSerializer):
    problem = serializers.CharField()
    created_by = serializers.CharField(source="created_by.username")
    created_at = serializers.DateTimeField()
    supports = NeedSupportOutSerializer(many=True)
    comments = NeedCommentOutSerializer(many=True)
    consolidation = serializers.IntegerField(
        source="consolidation_id", allow_null=True, help_text="Set once consolidated."
    )
    available_actions = serializers.SerializerMethodField(
        help_text="What the caller may do now: withdraw, support, comment."
    )
    web_url = serializers.SerializerMethodField()

    def get_available_actions(self, obj: Need) -> list[str]:
        user = _user(self.context["request"])
        actions = []
        if may_change_need(obj, user):
            actions.append("withdraw")
        joined = {obj.department_id, *(s.department_id for s in obj.supports.all())}
        if obj.status == NeedStatus.OPEN and (
            may_manage_needs(user)
            or (user.department_id is not None and user.department_id not in joined)
        ):
            actions.append("support")
        actions.append("comment")
        return actions

    def get_web_url(self, obj: Need) -> str:
        return absolute_url(self.context["request"], "needs:detail", obj.pk)


class ConsolidationTargetSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    reference = serializers.CharField()
    url = serializers.CharField(
        allow_null=True, help_text="The request or RFQ in the API; null when not yours to see."
    )


class ConsolidationTotalsSerializer(serializers.Serializer):
    needs = serializers.IntegerField()
    departments = serializers.ListField(child=serializers.CharField())
    people = serializers.IntegerField()
    budget = serializers.DecimalField(max_digits=18, decimal_places=2)


class ConsolidationSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField(help_text="request or rfq.")
    target = serializers.SerializerMethodField()
    note = serializers.CharField()
    created_by = serializers.CharField(source="created_by.username")
    created_at = serializers.DateTimeField()
    needs = serializers.SerializerMethodField()
    totals = serializers.SerializerMethodField(
        help_text="What the needs add up to, with their supporters: volume is leverage."
    )
    url = serializers.SerializerMethodField()
    web_url = serializers.SerializerMethodField()

    def _needs(self, obj: Consolidation) -> list[Need]:
        cached: list[Need] | None = getattr(obj, "_needs_cache", None)
        if cached is None:
            cached = consolidation_needs(obj)
            obj._needs_cache = cached  # type: ignore[attr-defined]
        return cached

    @extend_schema_field(ConsolidationTargetSerializer)
    def get_target(self, obj: Consolidation) -> dict[str, Any]:
        request = self.context["request"]
        visible = consolidation_target_visible(consolidation=obj, user=_user(request))
        if obj.kind == ConsolidationKind.REQUEST and obj.purchase_request is not None:
            target_id, reference = obj.purchase_request.pk, obj.purchase_request.reference
            url = reverse("api:request-detail", args=[target_id]) if visible else None
        else:
            assert obj.rfq is not None
            target_id, reference = obj.rfq.pk, obj.rfq.reference
            url = reverse("rfq_api:detail", args=[target_id]) if visible else None
        return {
            "id": target_id,
            "reference": reference,
            "url": request.build_absolute_uri(url) if url else None,
        }

    @extend_schema_field(NeedListSerializer(many=True))
    def get_needs(self, obj: Consolidation) -> list[dict[str, Any]]:
        return list(NeedListSerializer(self._needs(obj), many=True, context=self.context).data)

    @extend_schema_field(ConsolidationTotalsSerializer)
    def get_totals(self, obj: Consolidation) -> dict[str, Any]:
        totals = consolidation_totals(self._needs(obj))
        return dict(
            ConsolidationTotalsSerializer(
                {
                    "needs": totals.needs,
                    "departments": [d.code for d in totals.departments],
                    "people": totals.people,
                    "budget": totals.budget,
                }
            ).data
        )

    def get_url(self, obj: Consolidation) -> str:
        return absolute_url(self.context["request"], "planning-need-consolidation", obj.pk)

    def get_web_url(self, obj: Consolidation) -> str:
        return absolute_url(self.context["request"], "needs:consolidation", obj.pk)


def _need_response(
    request: Request, need_id: int, *, status_code: int = status.HTTP_200_OK
) -> Response:
    body = NeedSerializer(need_get(need_id=need_id), context={"request": request}).data
    return object_response(body, status_code=status_code)


def _consolidation_response(
    request: Request, consolidation_id: int, *, status_code: int = status.HTTP_200_OK
) -> Response:
    consolidation = consolidation_get(consolidation_id=consolidation_id)
    body = ConsolidationSerializer(consolidation, context={"request": request}).data
    return object_response(body, status_code=status_code)


# --- Input -------------------------------------------------------------------------------


class NeedFilterSerializer(serializers.Serializer):
    status = StatusFilterField(
        choices=[*NeedStatus.values, "any"],
        required=False,
        help_text="Default open; any for every status.",
        error_messages=unknown_choice("status", [*NeedStatus.values, "any"]),
    )
    department = by_code(
        Department.objects.all(),
        "department",
        required=False,
        help_text="A department's code: needs it posted or said it needs too.",
    )
    objective = serializers.PrimaryKeyRelatedField(
        queryset=Objective.objects.all(),
        required=False,
        help_text="An objective's id.",
        error_messages={"does_not_exist": "Unknown objective {pk_value}."},
    )
    category = by_code(
        Category.objects.all(), "category", required=False, help_text="A category's code."
    )


class NeedInputSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=TITLE_MAX)
    problem = serializers.CharField(
        max_length=PROBLEM_MAX, help_text="What goes wrong today, and for whom."
    )
    department = by_code(
        Department.objects.all(),
        "department",
        required=False,
        help_text="A department's code; default yours. Only procurement and admins may name "
        "another.",
    )
    people_affected = serializers.IntegerField(help_text="At least 1.")
    needed_by = serializers.DateField(help_text="Not in the past.")
    rough_budget = serializers.DecimalField(
        max_digits=16,
        decimal_places=2,
        help_text="In the base currency; 0 up to 1,000,000,000.",
    )
    objective = serializers.PrimaryKeyRelatedField(
        queryset=Objective.objects.all(),
        allow_null=True,
        required=False,
        help_text="An open objective, company-wide or of the need's department.",
        error_messages={"does_not_exist": "Unknown objective {pk_value}."},
    )
    category = by_code(
        Category.objects.all(), "category", allow_null=True, required=False, help_text="Code."
    )


class NeedSupportInputSerializer(serializers.Serializer):
    department = by_code(
        Department.objects.all(),
        "department",
        required=False,
        help_text="Default yours; only procurement and admins may name another.",
    )
    people_affected = serializers.IntegerField(help_text="At least 1.")
    rough_budget = serializers.DecimalField(
        max_digits=16, decimal_places=2, help_text="Your department's, in the base currency."
    )
    note = serializers.CharField(max_length=BODY_MAX, required=False, allow_blank=True, default="")


class NeedCommentInputSerializer(serializers.Serializer):
    kind = CommentKindField(choices=NeedCommentKind.values, default=NeedCommentKind.COMMENT)
    body = serializers.CharField(max_length=BODY_MAX)


class NeedWithdrawInputSerializer(serializers.Serializer):
    reason = serializers.CharField(
        max_length=BODY_MAX, required=False, allow_blank=True, default=""
    )


class ConsolidationInputSerializer(serializers.Serializer):
    needs = serializers.ListField(
        # An id beyond a bigint is no need's (and a 500 on SQLite when looked up).
        child=serializers.IntegerField(min_value=1, max_value=MAX_ID),
        max_length=MAX_NEEDS_PER_CONSOLIDATION,
        help_text="Ids of open needs.",
    )
    kind = ConsolidationKindField(choices=ConsolidationKind.values)
    title = serializers.CharField(
        max_length=TITLE_MAX, required=False, help_text="For kind request: the request's title."
    )
    department = by_code(
        Department.objects.all(), "department", required=False, help_text="For kind request."
    )
    cost_centre = by_code(
        CostCentre.objects.all(), "cost centre", required=False, help_text="For kind request."
    )
    category = by_code(
        Category.objects.all(), "category", required=False, help_text="For kind request."
    )
    rfq = serializers.PrimaryKeyRelatedField(
        queryset=Rfq.objects.all(),
        required=False,
        help_text="For kind rfq: a draft or open RFQ's id.",
        error_messages={"does_not_exist": "Unknown RFQ {pk_value}."},
    )
    note = serializers.CharField(max_length=BODY_MAX, required=False, allow_blank=True, default="")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        missing: dict[str, list[str]] = {}
        if attrs["kind"] == ConsolidationKind.REQUEST:
            for name in ("title", "department", "cost_centre", "category"):
                if not attrs.get(name):
                    missing[name] = ["Needed for a new request."]
        elif not attrs.get("rfq"):
            missing["rfq"] = ["Needed to consolidate into an RFQ."]
        if missing:
            raise serializers.ValidationError(missing)
        return attrs


# --- Views -------------------------------------------------------------------------------


class NeedListApi(APIView):
    pagination_class = Pagination  # read by the schema generator for the paginated list
    parser_classes = [JSONParser]

    @extend_schema(
        operation_id="planning_needs_list",
        summary="The needs board: open needs by default, soonest needed first",
        parameters=[NeedFilterSerializer],
        responses={200: NeedListSerializer(many=True), **_errors(400, 403)},
        tags=_TAGS,
    )
    def get(self, request: Request) -> Response:
        data = query_filters(request, NeedFilterSerializer)
        wanted = data.get("status", NeedStatus.OPEN)
        filters = NeedFilters(
            status="" if wanted == "any" else wanted,
            department=data.get("department"),
            objective=data.get("objective"),
            category=data.get("category"),
        )
        return paginated_response(self, request, needs_board(filters=filters), NeedListSerializer)

    @extend_schema(
        operation_id="planning_needs_create",
        summary="Post a need (for your department; procurement and admins: any)",
        request=NeedInputSerializer,
        responses={201: NeedSerializer, **_errors(400, 403)},
        tags=_TAGS,
    )
    def post(self, request: Request) -> Response:
        user = _user(request)
        serializer = NeedInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        department = data.get("department") or user.department
        if department is None:
            message = "Say which department has this need."
            raise InvalidInput(message, fields={"department": [message]})
        need = need_create(
            data=NeedInput(
                title=data["title"],
                problem=data["problem"],
                department=department,
                people_affected=data["people_affected"],
                needed_by=data["needed_by"],
                rough_budget=data["rough_budget"],
                objective=data.get("objective"),
                category=data.get("category"),
            ),
            by=user,
        )
        return _need_response(request, need.pk, status_code=status.HTTP_201_CREATED)


class NeedDetailApi(APIView):
    parser_classes = [JSONParser]

    @extend_schema(
        operation_id="planning_needs_retrieve",
        summary="A need with its supports, comments and alternatives",
        parameters=[_NEED_ID],
        responses={200: NeedSerializer, **_errors(403, 404)},
        tags=_TAGS,
    )
    def get(self, request: Request, need_id: int) -> Response:
        return _need_response(request, need_id)


class NeedWithdrawApi(APIView):
    parser_classes = [JSONParser]

    @extend_schema(
        operation_id="planning_needs_withdraw",
        summary="Withdraw an open need (its poster or procurement)",
        parameters=[_NEED_ID],
        request=NeedWithdrawInputSerializer,
        responses={200: NeedSerializer, **_errors(400, 403, 404, 409)},
        tags=_TAGS,
    )
    def post(self, request: Request, need_id: int) -> Response:
        need_get(need_id=need_id)  # 404 before the body is read
        serializer = NeedWithdrawInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        need_withdraw(
            need_id=need_id, by=_user(request), reason=serializer.validated_data["reason"]
        )
        return _need_response(request, need_id)


class NeedSupportApi(APIView):
    parser_classes = [JSONParser]

    @extend_schema(
        operation_id="planning_needs_support",
        summary='"We need this too": your department joins an open need with its own numbers',
        description="One per department; the need's own department cannot (409).",
        parameters=[_NEED_ID],
        request=NeedSupportInputSerializer,
        responses={201: NeedSerializer, **_errors(400, 403, 404, 409)},
        tags=_TAGS,
    )
    def post(self, request: Request, need_id: int) -> Response:
        need_get(need_id=need_id)
        serializer = NeedSupportInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        need_support_add(
            need_id=need_id,
            by=_user(request),
            people_affected=data["people_affected"],
            rough_budget=data["rough_budget"],
            note=data["note"],
            department=data.get("department"),
        )
        return _need_response(request, need_id, status_code=status.HTTP_201_CREATED)


class NeedCommentApi(APIView):
    parser_classes = [JSONParser]

    @extend_schema(
        operation_id="planning_needs_comment",
        summary="Comment on a need, or suggest an alternative (anyone signed in)",
        parameters=[_NEED_ID],
        request=NeedCommentInputSerializer,
        responses={201: NeedCommentOutSerializer, **_errors(400, 403, 404)},
        tags=_TAGS,
    )
    def post(self, request: Request, need_id: int) -> Response:
        need_get(need_id=need_id)
        serializer = NeedCommentInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        comment = need_comment_add(
            need_id=need_id,
            by=_user(request),
            body=serializer.validated_data["body"],
            kind=serializer.validated_data["kind"],
        )
        return Response(NeedCommentOutSerializer(comment).data, status=status.HTTP_201_CREATED)


class ConsolidationCreateApi(APIView):
    parser_classes = [JSONParser]

    @extend_schema(
        operation_id="planning_needs_consolidate",
        summary="Consolidate open needs into a new draft request or a draft/open RFQ (procurement)",
        description="kind request: a new draft purchase request by you, one line per need at "
        "its rough budget with its supporters', needed by the earliest need. kind rfq: an "
        "existing RFQ that is draft or open. All or nothing: 409 (nothing written) for a need "
        "not open, a need without budget (request) or an RFQ past open.",
        request=ConsolidationInputSerializer,
        responses={201: ConsolidationSerializer, **_errors(400, 403, 404, 409)},
        tags=_TAGS,
    )
    def post(self, request: Request) -> Response:
        user = _user(request)
        if not may_consolidate(user):
            # Refused before the body is read: nobody else may consolidate, whatever they send.
            raise NotAllowed("Only procurement consolidates needs.")
        serializer = ConsolidationInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        if data["kind"] == ConsolidationKind.RFQ:
            consolidation = needs_consolidate_into_rfq(
                need_ids=data["needs"], by=user, rfq_id=data["rfq"].pk, note=data["note"]
            )
        else:
            consolidation = needs_consolidate_into_request(
                need_ids=data["needs"],
                by=user,
                target=RequestTarget(
                    title=data["title"],
                    department=data["department"],
                    cost_centre=data["cost_centre"],
                    category=data["category"],
                ),
                note=data["note"],
            )
        return _consolidation_response(
            request, consolidation.pk, status_code=status.HTTP_201_CREATED
        )


class ConsolidationDetailApi(APIView):
    parser_classes = [JSONParser]

    @extend_schema(
        operation_id="planning_needs_consolidation_retrieve",
        summary="A consolidation: the needs it gathered, their departments and totals",
        parameters=[_CONSOLIDATION_ID],
        responses={200: ConsolidationSerializer, **_errors(403, 404)},
        tags=_TAGS,
    )
    def get(self, request: Request, consolidation_id: int) -> Response:
        return _consolidation_response(request, consolidation_id)
