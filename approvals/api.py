"""The REST API of approvals: the caller's inbox, a request's route, and deciding a step.

Same style as requests/api.py: one APIView per URL, small serializers, one service or selector
per method, and every error in the one JSON shape (procurement.api.exception_handler).
"""

from __future__ import annotations

from functools import partial
from typing import Any

from django.db.models import Prefetch
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
)
from rest_framework import serializers
from rest_framework.parsers import JSONParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from approvals.inbox import InboxItem, approval_inbox_rows, inbox_items
from approvals.models import ApprovalStep, Decision, Mode, StepApprover, StepState
from approvals.route_panel import step_mode_label
from approvals.selectors import approval_route
from approvals.services import (
    DECISION_OF_ACTION,
    approval_step_decide,
    purchase_request_amend_approved,
)
from procurement.api import ERROR_BODY, Pagination, error_responses, signed_in_user
from procurement.errors import NotFound
from procurement.models import User
from procurement.permissions import require
from requests.api import (
    LineItemInputSerializer,
    PersonSerializer,
    PurchaseRequestRowSerializer,
    line_inputs,
)
from requests.selectors import purchase_request_get
from requests.services import MAX_LINE_ITEMS

_user = signed_in_user


_ERROR_TEXT = {
    400: "Invalid input: an unknown decision, or no reason for a rejection or a return.",
    403: "Not authenticated, or not an approver of this step (or not allowed to decide it).",
    404: "No such request or step, or not visible to you.",
    409: 'The step is no longer pending: "already decided by X", or waiting for an earlier stage.',
}
_errors = partial(error_responses, texts=_ERROR_TEXT)


# --- Output serializers ----------------------------------------------------


class StepApproverSerializer(serializers.Serializer):
    approver = PersonSerializer()
    on_behalf_of = PersonSerializer(
        allow_null=True, help_text="Set when the approver decides as someone's delegate."
    )
    decision = serializers.ChoiceField(choices=Decision.choices)
    decision_label = serializers.CharField(source="get_decision_display")
    decided_at = serializers.DateTimeField(allow_null=True)
    comment = serializers.CharField(help_text="The approver's note or reason; may be empty.")


class ApprovalStepSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    request_id = serializers.IntegerField()
    round = serializers.IntegerField(
        help_text="1 for the first submission, 2 after a resubmission..."
    )
    stage = serializers.IntegerField(
        help_text="Stages run in order; steps of one stage in parallel."
    )
    name = serializers.CharField()
    mode = serializers.ChoiceField(choices=Mode.choices)
    mode_label = serializers.SerializerMethodField(
        help_text='How many must approve: "one approver", "any 1 of 3", "2 of 3", "all of 3".'
    )
    required_approvals = serializers.IntegerField()
    state = serializers.ChoiceField(choices=StepState.choices)
    state_label = serializers.CharField(source="get_state_display")
    activated_at = serializers.DateTimeField(
        allow_null=True, help_text="When the step became pending."
    )
    decided_at = serializers.DateTimeField(allow_null=True)
    decided_by = PersonSerializer(allow_null=True)
    approvers = StepApproverSerializer(many=True, source="approvers.all")

    @extend_schema_field(serializers.CharField())
    def get_mode_label(self, obj: ApprovalStep) -> str:
        return step_mode_label(obj)


class RouteSerializer(serializers.Serializer):
    request_id = serializers.IntegerField()
    reference = serializers.CharField(help_text="PR-000042")
    round = serializers.IntegerField(
        allow_null=True, help_text="The round shown; null before the first submission."
    )
    steps = ApprovalStepSerializer(many=True, help_text="In order: by stage, then position.")


class InboxItemSerializer(serializers.Serializer):
    step_id = serializers.IntegerField()
    step_name = serializers.CharField(source="assignment.step.name")
    stage = serializers.IntegerField(source="assignment.step.stage")
    pending_since = serializers.DateTimeField(allow_null=True)
    age = serializers.CharField(help_text='How long it has waited, e.g. "3 days".')
    low_risk = serializers.BooleanField(
        help_text="Below APPROVAL_BULK_MAX_TOTAL in the base currency and neither software nor "
        "personal data: the inbox page offers it for bulk approval."
    )
    request = PurchaseRequestRowSerializer()


# --- Input serializers -----------------------------------------------------


class DecideInputSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(
        choices=list(DECISION_OF_ACTION),
        help_text="approve, reject, or return (changes requested: back to the requester).",
    )
    comment = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=5000,
        help_text="Required to reject or return: the requester reads it.",
    )


# --- Endpoints -------------------------------------------------------------


class ApprovalInboxApi(APIView):
    pagination_class = Pagination  # read by the schema generator for the paginated list

    @extend_schema(
        operation_id="approvals_inbox_list",
        summary="The approval steps waiting for your decision, oldest first",
        responses={200: InboxItemSerializer(many=True), **_errors(403)},
        tags=["approvals"],
    )
    def get(self, request: Request) -> Response:
        paginator = Pagination()
        page = paginator.paginate_queryset(
            approval_inbox_rows(user=_user(request)), request, view=self
        )
        items: list[InboxItem] = inbox_items(page or [])
        rows = InboxItemSerializer(items, many=True, context={"request": request}).data
        return paginator.get_paginated_response(rows)


class ApprovalRouteApi(APIView):
    @extend_schema(
        operation_id="approvals_route_retrieve",
        summary="A request's approval route: every step, its approvers and their decisions",
        description="The latest round. Empty `steps` before the request is first submitted.",
        parameters=[
            OpenApiParameter(
                "request_id", int, OpenApiParameter.PATH, description="Purchase request id."
            )
        ],
        responses={200: RouteSerializer, **_errors(403, 404)},
        tags=["approvals"],
    )
    def get(self, request: Request, request_id: int) -> Response:
        purchase_request = purchase_request_get(user=_user(request), request_id=request_id)
        if purchase_request is None:
            raise NotFound("No such purchase request.")
        steps = approval_route(request=purchase_request)
        body: dict[str, Any] = {
            "request_id": purchase_request.pk,
            "reference": purchase_request.reference,
            "round": steps[0].round if steps else None,
            "steps": steps,
        }
        return Response(RouteSerializer(body).data)


class ApprovalStepDecideApi(APIView):
    parser_classes = [JSONParser]

    @extend_schema(
        operation_id="approvals_step_decide",
        summary="Approve, reject or return an approval step you are asked to decide",
        description=(
            "Locks the step and re-checks who may act. When two people decide the same step at "
            'once, one wins and the other gets 409 "already decided by X". `reject` and `return` '
            "need a `comment`."
        ),
        parameters=[
            OpenApiParameter("step_id", int, OpenApiParameter.PATH, description="Approval step id.")
        ],
        request=DecideInputSerializer,
        responses={200: ApprovalStepSerializer, **_errors(400, 403, 404, 409)},
        examples=[
            OpenApiExample("Approve", value={"decision": "approve"}, request_only=True),
            OpenApiExample(
                "Reject",
                value={"decision": "reject", "comment": "No budget left this quarter."},
                request_only=True,
            ),
        ],
        tags=["approvals"],
    )
    def post(self, request: Request, step_id: int) -> Response:
        user = _user(request)
        _require_visible_step(user, step_id)
        serializer = DecideInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        approval_step_decide(
            step_id=step_id,
            by=user,
            action=serializer.validated_data["decision"],
            comment=serializer.validated_data.get("comment", ""),
        )
        step = _step_with_approvers(step_id)
        return Response(ApprovalStepSerializer(step).data)


def _require_visible_step(user: User, step_id: int) -> None:
    # A step of a request the caller cannot see does not exist for them (as in the requests
    # API): 404 whatever the body, never a 403 that would confirm it is there.
    step = ApprovalStep.objects.select_related("request").filter(pk=step_id).first()
    if step is None:
        raise NotFound("No such approval step.")
    require(user, "approvals.view_approvalstep", step, message="No such approval step.", hide=True)


def _step_with_approvers(step_id: int) -> ApprovalStep:
    # Loaded as approvals.selectors.approval_route loads a route's steps.
    approvers = StepApprover.objects.select_related("approver", "on_behalf_of").order_by("id")
    return (
        ApprovalStep.objects.select_related("decided_by")
        .prefetch_related(Prefetch("approvers", queryset=approvers))
        .get(pk=step_id)
    )


class AmendInputSerializer(serializers.Serializer):
    line_items: serializers.ListSerializer[Any] = serializers.ListSerializer(
        child=LineItemInputSerializer(), min_length=1, max_length=MAX_LINE_ITEMS
    )
    comment = serializers.CharField(help_text="Why the approved request changes (required).")


class ApprovedRequestAmendApi(APIView):
    parser_classes = [JSONParser]

    @extend_schema(
        operation_id="approvals_request_amend",
        summary="Procurement amends the line items of an approved request",
        description=(
            "Replaces the line items. If the new total is more than "
            "APPROVAL_REAPPROVAL_TOLERANCE_PERCENT above the approved total, the request goes "
            "back to `pending_approval` with a new route; otherwise it stays `approved`. "
            "The request's version goes up either way. A higher total is also checked "
            "against the budgets in scope: a budget that stops overruns refuses it (409, "
            "nothing changes); one that asks for an extra approval sends the request back to "
            "`pending_approval` even within the tolerance."
        ),
        parameters=[
            OpenApiParameter(
                "request_id", int, OpenApiParameter.PATH, description="Purchase request id."
            )
        ],
        request=AmendInputSerializer,
        responses={
            200: PurchaseRequestRowSerializer,
            **{
                code: OpenApiResponse(ERROR_BODY, description=text)
                for code, text in {
                    400: "No line items, a bad line, or no reason.",
                    403: "Not procurement.",
                    404: "No such request, or not visible to you.",
                    409: "The request is not approved, or the new total would take a "
                    "budget that stops overruns over its limit.",
                }.items()
            },
        },
        tags=["approvals"],
    )
    def post(self, request: Request, request_id: int) -> Response:
        user = _user(request)
        if purchase_request_get(user=user, request_id=request_id) is None:
            raise NotFound("No such purchase request.")
        serializer = AmendInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        purchase_request_amend_approved(
            request_id=request_id,
            by=user,
            line_items=line_inputs(serializer.validated_data["line_items"]),
            comment=serializer.validated_data["comment"],
        )
        amended = purchase_request_get(user=user, request_id=request_id)
        return Response(PurchaseRequestRowSerializer(amended, context={"request": request}).data)
