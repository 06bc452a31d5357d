"""The REST API for contracts, mounted at /api/contracts/ (namespace "contracts-api").

One APIView per operation, small input and output serializers; the rules live in
vendors/contracts.py, so the API and the pages refuse the same things with the same
messages. Errors leave through procurement.api.exception_handler as {"code", "detail", "errors"}.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    extend_schema,
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
from procurement.errors import NotFound
from vendors.contracts import (
    CONTRACT_ACTIONS,
    MAX_RENEWAL_MONTHS,
    ContractInput,
    contract_available_actions,
    contract_create,
    contract_get,
    contract_list,
    contract_renew,
    contract_transition,
    contract_update,
)
from vendors.models import Contract, ContractState

_user = signed_in_user


_ERROR_TEXT = {
    400: "Invalid input; `errors` names each bad field.",
    404: "No such contract, or not visible to you.",
    409: "The contract (or its vendor) is not in a state that allows this.",
}
_errors = partial(error_responses, texts=_ERROR_TEXT)


_CONTRACT_ID = OpenApiParameter(
    "contract_id", int, OpenApiParameter.PATH, description="Contract id."
)


# --- Output ----------------------------------------------------------------------------


class ContractVendorSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    legal_name = serializers.CharField()
    state = serializers.CharField()


class ContractOwnerSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    name = serializers.CharField(source="__str__")


class ContractSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()
    vendor = ContractVendorSerializer()
    owner = ContractOwnerSerializer()
    state = serializers.ChoiceField(choices=ContractState.choices)
    state_label = serializers.CharField(source="get_state_display")
    state_reason = serializers.CharField()
    value = serializers.DecimalField(max_digits=16, decimal_places=2)
    currency = serializers.CharField()
    start_date = serializers.DateField()
    end_date = serializers.DateField()
    notice_period_days = serializers.IntegerField()
    notice_deadline = serializers.DateField(
        help_text="end_date - notice_period_days: the day a decision to renew or leave is due."
    )
    auto_renew = serializers.BooleanField()
    renewal_term_months = serializers.IntegerField()
    renewal_terms = serializers.CharField()
    renewed_from = serializers.IntegerField(source="renewed_from_id", allow_null=True)
    created_at = serializers.DateTimeField()
    available_actions = serializers.SerializerMethodField(
        help_text="What the caller may do now: POST /api/contracts/{id}/{action}/."
    )
    url = serializers.SerializerMethodField()
    web_url = serializers.SerializerMethodField()

    def get_available_actions(self, obj: Contract) -> list[str]:
        return contract_available_actions(contract=obj, user=_user(self.context["request"]))

    def get_url(self, obj: Contract) -> str:
        return absolute_url(self.context["request"], "contracts-api:detail", obj.pk)

    def get_web_url(self, obj: Contract) -> str:
        return absolute_url(self.context["request"], "contracts:detail", obj.pk)


def _contract_response(
    request: Request, contract_id: int, *, status_code: int = status.HTTP_200_OK
) -> Response:
    contract = contract_get(user=_user(request), contract_id=contract_id)
    if contract is None:
        raise NotFound("No such contract.")
    body = ContractSerializer(contract, context={"request": request}).data
    return object_response(body, status_code=status_code)


def _require_visible(request: Request, contract_id: int) -> Contract:
    # Looked up before the body is read: a contract the caller cannot see is a 404 whatever was sent.
    contract = contract_get(user=_user(request), contract_id=contract_id)
    if contract is None:
        raise NotFound("No such contract.")
    return contract


# --- Input -----------------------------------------------------------------------------


class ContractInputSerializer(serializers.Serializer):
    vendor = serializers.IntegerField(help_text="The vendor's id.")
    title = serializers.CharField(max_length=200)
    owner = serializers.IntegerField(
        help_text="User id of the person who decides on renewal and gets the reminders."
    )
    value = serializers.DecimalField(max_digits=16, decimal_places=2, min_value=0)
    currency = serializers.CharField(max_length=3, help_text="One of settings.CURRENCIES.")
    start_date = serializers.DateField()
    end_date = serializers.DateField()
    notice_period_days = serializers.IntegerField(min_value=0, default=30)
    auto_renew = serializers.BooleanField(default=False)
    renewal_term_months = serializers.IntegerField(
        min_value=1, max_value=MAX_RENEWAL_MONTHS, default=12
    )
    renewal_terms = serializers.CharField(
        max_length=5000, allow_blank=True, required=False, default=""
    )


def _contract_input(data: dict[str, Any], *, current: Contract | None = None) -> ContractInput:
    def value(name: str, attr: str | None = None) -> Any:
        if name in data:
            return data[name]
        assert current is not None  # a create has every required field
        return getattr(current, attr or name)

    return ContractInput(
        vendor_id=value("vendor", "vendor_id"),
        title=value("title"),
        owner_id=value("owner", "owner_id"),
        value=value("value"),
        currency=value("currency"),
        start_date=value("start_date"),
        end_date=value("end_date"),
        auto_renew=value("auto_renew"),
        notice_period_days=value("notice_period_days"),
        renewal_term_months=value("renewal_term_months"),
        renewal_terms=value("renewal_terms") if current else data.get("renewal_terms", ""),
    )


# The largest id the database holds (a 64-bit key): a larger filter value was a 500.
MAX_ID = 2**63 - 1


class ContractFilterSerializer(serializers.Serializer):
    vendor = serializers.IntegerField(
        required=False, min_value=1, max_value=MAX_ID, help_text="Only this vendor's contracts."
    )
    state = serializers.ChoiceField(
        choices=ContractState.choices,
        required=False,
        error_messages=unknown_choice("state", ContractState.values),
    )
    due_within = serializers.IntegerField(
        required=False,
        min_value=0,
        max_value=3660,
        help_text="Live contracts whose notice deadline is at most this many days away "
        "(overdue ones included).",
    )
    q = serializers.CharField(
        required=False, max_length=200, help_text="Words in the title or vendor."
    )


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=5000, help_text="Why; kept in the history.")


class RenewSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=5000, help_text="Why; kept in the history.")
    new_end_date = serializers.DateField(
        required=False, help_text="The renewal's end date. Or give `months`."
    )
    months = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_RENEWAL_MONTHS,
        help_text="Length of the renewal; neither given: the contract's renewal term.",
    )
    value = serializers.DecimalField(
        max_digits=16,
        decimal_places=2,
        min_value=0,
        required=False,
        help_text="Default: unchanged.",
    )
    renewal_terms = serializers.CharField(
        max_length=5000, required=False, allow_blank=True, help_text="Default: unchanged."
    )


_CREATE_EXAMPLE = OpenApiExample(
    "A three-year SaaS subscription",
    request_only=True,
    value={
        "vendor": 7,
        "title": "Ticketing SaaS subscription",
        "owner": 3,
        "value": "36000.00",
        "currency": "GBP",
        "start_date": "2030-01-01",
        "end_date": "2032-12-31",
        "notice_period_days": 90,
        "auto_renew": True,
        "renewal_term_months": 12,
    },
)
_INVALID_EXAMPLE = OpenApiExample(
    "Notice period longer than the term",
    response_only=True,
    status_codes=["400"],
    value={
        "code": "invalid",
        "detail": "The notice period (400 days) must be shorter than the term (364 days).",
        "errors": {
            "notice_period_days": [
                "The notice period (400 days) must be shorter than the term (364 days)."
            ]
        },
    },
)


# --- Views -----------------------------------------------------------------------------


class ContractListCreateApi(APIView):
    parser_classes = [JSONParser]
    pagination_class = Pagination

    @extend_schema(
        operation_id="contracts_list",
        summary="List the contracts you can see, by notice deadline",
        parameters=[ContractFilterSerializer],
        responses={200: ContractSerializer(many=True), **_errors(400, 403)},
        tags=["contracts"],
    )
    def get(self, request: Request) -> Response:
        user = _user(request)
        data = query_filters(request, ContractFilterSerializer)
        contracts = contract_list(
            user=user,
            vendor_id=data.get("vendor"),
            state=data.get("state", ""),
            due_within=data.get("due_within"),
            q=data.get("q", ""),
        )
        return paginated_response(self, request, contracts, ContractSerializer)

    @extend_schema(
        operation_id="contracts_create",
        summary="Record a draft contract (procurement)",
        request=ContractInputSerializer,
        responses={201: ContractSerializer, **_errors(400, 403)},
        examples=[_CREATE_EXAMPLE, _INVALID_EXAMPLE],
        tags=["contracts"],
    )
    def post(self, request: Request) -> Response:
        serializer = ContractInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        contract = contract_create(
            by=_user(request), data=_contract_input(serializer.validated_data)
        )
        return _contract_response(request, contract.pk, status_code=status.HTTP_201_CREATED)


class ContractDetailApi(APIView):
    parser_classes = [JSONParser]

    @extend_schema(
        operation_id="contracts_retrieve",
        summary="A contract",
        parameters=[_CONTRACT_ID],
        responses={200: ContractSerializer, **_errors(403, 404)},
        tags=["contracts"],
    )
    def get(self, request: Request, contract_id: int) -> Response:
        return _contract_response(request, contract_id)

    @extend_schema(
        operation_id="contracts_partial_update",
        summary="Change some terms of a draft or live contract",
        description="Fields left out keep their values; the notice deadline follows the dates.",
        parameters=[_CONTRACT_ID],
        request=ContractInputSerializer,
        responses={200: ContractSerializer, **_errors(400, 403, 404, 409)},
        tags=["contracts"],
    )
    def patch(self, request: Request, contract_id: int) -> Response:
        current = _require_visible(request, contract_id)
        # Partial: the fields left out are neither required nor defaulted.
        serializer = ContractInputSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        contract_update(
            contract_id=contract_id,
            by=_user(request),
            data=_contract_input(serializer.validated_data, current=current),
        )
        return _contract_response(request, contract_id)


class ContractTransitionApi(APIView):
    parser_classes = [JSONParser]

    @extend_schema(
        operation_id="contracts_transition",
        summary="Activate a draft, or terminate a contract",
        parameters=[
            _CONTRACT_ID,
            OpenApiParameter("action", str, OpenApiParameter.PATH, enum=list(CONTRACT_ACTIONS)),
        ],
        request=ReasonSerializer,
        responses={200: ContractSerializer, **_errors(400, 403, 404, 409)},
        tags=["contracts"],
    )
    def post(self, request: Request, contract_id: int, action: str) -> Response:
        _require_visible(request, contract_id)
        serializer = ReasonSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        contract_transition(
            contract_id=contract_id,
            by=_user(request),
            action=action,
            reason=serializer.validated_data["reason"],
        )
        return _contract_response(request, contract_id)


class ContractRenewApi(APIView):
    parser_classes = [JSONParser]

    @extend_schema(
        operation_id="contracts_renew",
        summary="Renew a live contract: returns the new contract (201)",
        description=(
            "The renewal starts the day after the current end date; the old contract becomes "
            "`renewed`. Give `new_end_date` or `months` (neither: the renewal term)."
        ),
        parameters=[_CONTRACT_ID],
        request=RenewSerializer,
        responses={201: ContractSerializer, **_errors(400, 403, 404, 409)},
        tags=["contracts"],
    )
    def post(self, request: Request, contract_id: int) -> Response:
        _require_visible(request, contract_id)
        serializer = RenewSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        successor = contract_renew(
            contract_id=contract_id,
            by=_user(request),
            reason=data["reason"],
            new_end_date=data.get("new_end_date"),
            months=data.get("months"),
            value=data.get("value"),
            renewal_terms=data.get("renewal_terms"),
        )
        return _contract_response(request, successor.pk, status_code=status.HTTP_201_CREATED)
