"""The spend API, mounted at /api/analytics/ (namespace "analytics-api").

Read-only figures for the same views as the pages, with the same filters as query parameters:
from/to (YYYY-MM), department, category, payee, vendor (ids, repeated or comma-separated).
One APIView per operation; each narrows the filters to the caller (a manager sees their
departments only: another department's id just selects nothing), calls one selector of
analytics.selectors and renders with a small output serializer. Amounts are decimal strings
in the base currency.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from analytics.scope import SpendFilters, spend_access, spend_filters_for, spend_filters_parse
from analytics.selectors import (
    ContractRow,
    SpendBreakdown,
    spend_by_category,
    spend_by_department,
    spend_by_vendor,
    spend_on_contract,
    spend_over_time,
)
from procurement.api import error_responses, query_filters, signed_in_user
from procurement.errors import NotAllowed

VENDOR_LIMIT_DEFAULT = 50
VENDOR_LIMIT_MAX = 500


def _ids_parameter(name: str, what: str) -> OpenApiParameter:
    return OpenApiParameter(
        name,
        str,
        OpenApiParameter.QUERY,
        required=False,
        description=f"Only spend of these {what} (ids, comma-separated or repeated).",
    )


FILTER_PARAMETERS = [
    OpenApiParameter(
        "from", str, OpenApiParameter.QUERY, required=False, description="First month, YYYY-MM."
    ),
    OpenApiParameter(
        "to", str, OpenApiParameter.QUERY, required=False, description="Last month, YYYY-MM."
    ),
    _ids_parameter("department", "spend departments"),
    _ids_parameter("category", "spend categories"),
    _ids_parameter("payee", "payees (suppliers as the files spell them)"),
    _ids_parameter("vendor", "vendors (all the payees mapped to them)"),
]
_ERRORS = error_responses(
    400,
    403,
    texts={
        400: "A bad filter: `errors` names it (from, to, department, category, payee, vendor).",
        403: "Not authenticated, or no access to spend (procurement, finance and managers).",
    },
)


def _filters(request: Request) -> SpendFilters:
    """The query's filters narrowed to the caller: 403 before 400, so a caller without
    access learns nothing from the parameters."""
    user = signed_in_user(request)
    if not spend_access(user):
        raise NotAllowed("Spend analytics are for procurement, finance and managers.")
    return spend_filters_for(user, spend_filters_parse(dict(request.query_params.lists())))


# --- Serializers -------------------------------------------------------------------------


def _money(**kwargs: Any) -> serializers.DecimalField:
    return serializers.DecimalField(max_digits=18, decimal_places=2, **kwargs)


def _share(
    help_text: str = "Percent of the total; null when the total is not positive.",
) -> serializers.DecimalField:
    return serializers.DecimalField(
        max_digits=5, decimal_places=1, allow_null=True, help_text=help_text
    )


# A month is written YYYY-MM, which is not an OpenAPI "date": say so, or clients that
# validate responses (schemathesis does) reject every month.
@extend_schema_field({"type": "string", "pattern": r"^\d{4}-\d{2}$", "example": "2025-05"})
class MonthField(serializers.DateField):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(format="%Y-%m", **kwargs)


class MonthSpendSerializer(serializers.Serializer):
    month = MonthField(help_text="YYYY-MM.")
    amount = _money()
    lines = serializers.IntegerField()


class SpendOverTimeSerializer(serializers.Serializer):
    currency = serializers.CharField(help_text="The base currency of every amount.")
    total = _money()
    lines = serializers.IntegerField()
    rows = MonthSpendSerializer(
        many=True, help_text="Every month from the first to the last with spend."
    )


class SpendRowSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text="Filter on it with the parameter of the same name.")
    name = serializers.CharField()
    amount = _money()
    lines = serializers.IntegerField()
    share = _share()


class SpendBreakdownSerializer(serializers.Serializer):
    currency = serializers.CharField(help_text="The base currency of every amount.")
    total = _money()
    lines = serializers.IntegerField()
    rows = SpendRowSerializer(many=True, help_text="Largest first.")


class VendorRowSerializer(serializers.Serializer):
    vendor_id = serializers.IntegerField(allow_null=True, help_text="Null for an unmatched payee.")
    payee_id = serializers.IntegerField(
        allow_null=True, help_text="The payee not mapped to a vendor yet; null for a vendor."
    )
    name = serializers.CharField()
    matched = serializers.BooleanField(help_text="Whether the spend is mapped to a vendor record.")
    amount = _money()
    lines = serializers.IntegerField()
    share = _share()


class VendorSpendSerializer(serializers.Serializer):
    currency = serializers.CharField(help_text="The base currency of every amount.")
    total = _money()
    lines = serializers.IntegerField()
    vendors = serializers.IntegerField(help_text="Vendors (and unmatched payees) paid.")
    top10_share = _share(help_text="Share of the 10 largest vendors in the total, percent.")
    rows = VendorRowSerializer(many=True, help_text="The largest first, at most `limit`.")


class VendorQuerySerializer(serializers.Serializer):
    limit = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=VENDOR_LIMIT_MAX,
        default=VENDOR_LIMIT_DEFAULT,
        help_text=f"How many vendors to list (1-{VENDOR_LIMIT_MAX}).",
    )


class ContractRowSerializer(serializers.Serializer):
    on_contract = _money()
    off_contract = _money()
    off_contract_share = _share()


class ContractMonthSerializer(ContractRowSerializer):
    month = MonthField(help_text="YYYY-MM.")


class ContractCategorySerializer(ContractRowSerializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class ContractSpendSerializer(serializers.Serializer):
    currency = serializers.CharField(help_text="The base currency of every amount.")
    on_contract = _money()
    off_contract = _money()
    off_contract_share = _share()
    months = ContractMonthSerializer(many=True)
    categories = ContractCategorySerializer(many=True, help_text="Largest off-contract first.")


# --- Views -------------------------------------------------------------------------------


def _breakdown_body(breakdown: SpendBreakdown) -> dict[str, Any]:
    return {
        "currency": settings.BASE_CURRENCY,
        "total": breakdown.total,
        "lines": breakdown.lines,
        "rows": breakdown.rows,
    }


class SpendOverTimeApi(APIView):
    @extend_schema(
        operation_id="analytics_spend_over_time",
        summary="Spend per month",
        parameters=FILTER_PARAMETERS,
        responses={200: SpendOverTimeSerializer, **_ERRORS},
        tags=["analytics"],
    )
    def get(self, request: Request) -> Response:
        over_time = spend_over_time(filters=_filters(request))
        body = {
            "currency": settings.BASE_CURRENCY,
            "total": over_time.total,
            "lines": over_time.lines,
            "rows": over_time.months,
        }
        return Response(SpendOverTimeSerializer(body).data)


class SpendByCategoryApi(APIView):
    @extend_schema(
        operation_id="analytics_spend_by_category",
        summary="Spend per category, largest first",
        parameters=FILTER_PARAMETERS,
        responses={200: SpendBreakdownSerializer, **_ERRORS},
        tags=["analytics"],
    )
    def get(self, request: Request) -> Response:
        breakdown = spend_by_category(filters=_filters(request))
        return Response(SpendBreakdownSerializer(_breakdown_body(breakdown)).data)


class SpendByDepartmentApi(APIView):
    @extend_schema(
        operation_id="analytics_spend_by_department",
        summary="Spend per department, largest first",
        parameters=FILTER_PARAMETERS,
        responses={200: SpendBreakdownSerializer, **_ERRORS},
        tags=["analytics"],
    )
    def get(self, request: Request) -> Response:
        breakdown = spend_by_department(filters=_filters(request))
        return Response(SpendBreakdownSerializer(_breakdown_body(breakdown)).data)


class SpendByVendorApi(APIView):
    @extend_schema(
        operation_id="analytics_spend_by_vendor",
        summary="Top vendors and the share of the top 10",
        description=(
            "Payees mapped to a vendor count as that vendor; a payee not mapped yet is listed "
            "on its own with `matched: false`."
        ),
        parameters=[*FILTER_PARAMETERS, VendorQuerySerializer],
        responses={200: VendorSpendSerializer, **_ERRORS},
        tags=["analytics"],
    )
    def get(self, request: Request) -> Response:
        filters = _filters(request)
        limit = query_filters(request, VendorQuerySerializer)["limit"]
        spend = spend_by_vendor(filters=filters, limit=limit)
        body = {
            "currency": settings.BASE_CURRENCY,
            "total": spend.total,
            "lines": spend.lines,
            "vendors": spend.groups,
            "top10_share": spend.top_share,
            "rows": [
                {
                    "vendor_id": row.id if row.matched else None,
                    "payee_id": None if row.matched else row.id,
                    "name": row.name,
                    "matched": row.matched,
                    "amount": row.amount,
                    "lines": row.lines,
                    "share": row.share,
                }
                for row in spend.rows
            ],
        }
        return Response(VendorSpendSerializer(body).data)


def _contract_row(row: ContractRow) -> dict[str, Any]:
    return {
        "month": row.month,
        "id": row.id,
        "name": row.name,
        "on_contract": row.on_contract,
        "off_contract": row.off_contract,
        "off_contract_share": row.off_contract_share,
    }


class SpendContractApi(APIView):
    @extend_schema(
        operation_id="analytics_spend_contract",
        summary='On- and off-contract ("maverick") spend per month and per category',
        parameters=FILTER_PARAMETERS,
        responses={200: ContractSpendSerializer, **_ERRORS},
        tags=["analytics"],
    )
    def get(self, request: Request) -> Response:
        spend = spend_on_contract(filters=_filters(request))
        body = {
            "currency": settings.BASE_CURRENCY,
            "on_contract": spend.on_contract,
            "off_contract": spend.off_contract,
            "off_contract_share": spend.off_contract_share,
            "months": [_contract_row(r) for r in spend.months],
            "categories": [_contract_row(r) for r in spend.categories],
        }
        return Response(ContractSpendSerializer(body).data)
