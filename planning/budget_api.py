"""The REST API for objectives and budgets, mounted at /api/planning/ (URL names
"planning-..."; the needs API shares the prefix). See docs/planning/objectives.md and
docs/planning/budgets.md.

One APIView per operation, small input and output serializers; the rules live in
planning/objectives.py and planning/budgets.py, so the API and the pages refuse the same
things with the same messages. Errors leave through procurement.api.exception_handler as
{"code", "detail", "errors"}.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from django.db.models import QuerySet
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

from planning.budgets import (
    BudgetInput,
    Consumption,
    budget_consumption,
    budget_create,
    budget_months,
    budget_objective_year_error,
    budget_revise,
    budgets_visible_to,
)
from planning.models import Budget, ExtraApprover, OnExceed
from planning.objectives import (
    COMPANY_WIDE,
    ObjectiveFilters,
    ObjectiveInput,
    ObjectiveSpend,
    objective_budgets,
    objective_create,
    objective_get,
    objective_list,
    objective_report,
    objective_requests,
)
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
from procurement.errors import InvalidInput, NotAllowed, NotFound
from procurement.models import (
    Category,
    CostCentre,
    Department,
    FiscalYear,
    Objective,
    ObjectiveStatus,
    User,
)
from procurement.permissions import allowed

_user = signed_in_user

_ERROR_TEXT = {
    400: "Invalid input; `errors` names each bad field.",
    403: "Not authenticated, or not allowed to do this (only finance and admins set "
    "objectives and budgets).",
    404: "No such objective or budget, or not visible to you.",
    409: "The budget's fiscal year is closed: its budgets are final.",
}
_OBJECTIVE_TAGS = ["planning: objectives"]
_BUDGET_TAGS = ["planning: budgets"]
_errors = partial(error_responses, texts=_ERROR_TEXT)


_OBJECTIVE_ID = OpenApiParameter(
    "objective_id", int, OpenApiParameter.PATH, description="Objective id."
)
_BUDGET_ID = OpenApiParameter("budget_id", int, OpenApiParameter.PATH, description="Budget id.")


# --- Shared output pieces ----------------------------------------------------------------------


class FiscalYearOutSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField(help_text="FY2027")
    starts_on = serializers.DateField()
    ends_on = serializers.DateField()
    is_closed = serializers.BooleanField()


class PersonOutSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    name = serializers.CharField(source="get_full_name")


class DepartmentOutSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    code = serializers.CharField()
    name = serializers.CharField()


class CodeNameOutSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()


# --- Objectives: output ------------------------------------------------------------------------


class ObjectiveFiguresSerializer(serializers.Serializer):
    requests = serializers.IntegerField(help_text="Submitted requests naming it (drafts aside).")
    committed_requests = serializers.DecimalField(
        max_digits=16, decimal_places=2, help_text="Approved requests on no live order."
    )
    committed_orders = serializers.DecimalField(
        max_digits=16, decimal_places=2, help_text="What open orders have not yet invoiced."
    )
    committed = serializers.DecimalField(max_digits=16, decimal_places=2)
    actual = serializers.DecimalField(
        max_digits=16, decimal_places=2, help_text="Matched or released invoices."
    )
    total = serializers.DecimalField(
        max_digits=16, decimal_places=2, help_text="committed + actual."
    )


def _figures(spend: ObjectiveSpend | None) -> dict[str, Any] | None:
    if spend is None:
        return None
    return dict(
        ObjectiveFiguresSerializer(
            {
                "requests": spend.requests,
                "committed_requests": spend.committed_requests,
                "committed_orders": spend.committed_orders,
                "committed": spend.committed,
                "actual": spend.actual,
                "total": spend.total,
            }
        ).data
    )


class ObjectiveOutSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    description = serializers.CharField()
    fiscal_year = FiscalYearOutSerializer()
    department = DepartmentOutSerializer(allow_null=True, help_text="Null: company-wide.")
    owner = PersonOutSerializer()
    status = serializers.ChoiceField(choices=ObjectiveStatus.choices)
    status_label = serializers.CharField(source="get_status_display")
    is_open = serializers.BooleanField(help_text="Requests may name it (planned or active).")
    figures = serializers.SerializerMethodField(
        help_text="In the base currency; null when you may not see this objective's figures."
    )
    url = serializers.SerializerMethodField()
    web_url = serializers.SerializerMethodField()

    @extend_schema_field(ObjectiveFiguresSerializer(allow_null=True))
    def get_figures(self, obj: Objective) -> dict[str, Any] | None:
        return _figures(self.context["spend"].get(obj.pk))

    def get_url(self, obj: Objective) -> str:
        return absolute_url(self.context["request"], "planning-objective-detail", obj.pk)

    def get_web_url(self, obj: Objective) -> str:
        return absolute_url(self.context["request"], "objectives:detail", obj.pk)


class ObjectiveRequestOutSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    reference = serializers.CharField()
    title = serializers.CharField()
    state = serializers.CharField()
    department = serializers.CharField(source="department.code")
    cost_centre = serializers.CharField(source="cost_centre.code")
    needed_by = serializers.DateField()
    currency = serializers.CharField()
    total = serializers.DecimalField(max_digits=16, decimal_places=2)


class ObjectiveDetailOutSerializer(ObjectiveOutSerializer):
    requests = serializers.SerializerMethodField(
        help_text="The submitted requests serving it that you may see, newest first."
    )
    budgets = serializers.SerializerMethodField(
        help_text="Ids of the budgets narrowed to it that you may see."
    )

    @extend_schema_field(ObjectiveRequestOutSerializer(many=True))
    def get_requests(self, obj: Objective) -> list[dict[str, Any]]:
        rows = objective_requests(objective=obj, user=_user(self.context["request"]))[:200]
        return list(ObjectiveRequestOutSerializer(rows, many=True).data)

    @extend_schema_field(serializers.ListField(child=serializers.IntegerField()))
    def get_budgets(self, obj: Objective) -> list[int]:
        budgets = objective_budgets(objective=obj, user=_user(self.context["request"]))
        return list(budgets.values_list("pk", flat=True))


def _objective_response(
    request: Request, objective: Objective, *, status_code: int = status.HTTP_200_OK
) -> Response:
    [row] = objective_report(user=_user(request), objectives=[objective])
    body = ObjectiveDetailOutSerializer(
        objective, context={"request": request, "spend": {objective.pk: row.spend}}
    ).data
    return object_response(body, status_code=status_code)


# --- Objectives: input -------------------------------------------------------------------------


class ObjectiveFilterSerializer(serializers.Serializer):
    fiscal_year = serializers.SlugRelatedField(
        slug_field="name",
        queryset=FiscalYear.objects.all(),
        required=False,
        help_text="A fiscal year's name, e.g. FY2027.",
        error_messages={"does_not_exist": 'Unknown fiscal year "{value}".'},
    )
    department = serializers.CharField(
        required=False,
        help_text=f'A department\'s code, or "{COMPANY_WIDE}" for company-wide objectives only.',
    )
    status = serializers.ChoiceField(
        choices=ObjectiveStatus.choices,
        required=False,
        error_messages=unknown_choice("status", ObjectiveStatus.values),
    )

    def validate_department(self, value: str) -> int | str:
        if value == COMPANY_WIDE:
            return value
        department = Department.objects.filter(code=value).first()
        if department is None:
            raise serializers.ValidationError(f'Unknown department "{value}".')
        return department.pk


class ObjectiveInSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(
        max_length=5000, required=False, allow_blank=True, default=""
    )
    fiscal_year = serializers.SlugRelatedField(
        slug_field="name",
        queryset=FiscalYear.objects.all(),
        help_text="The fiscal year's name, e.g. FY2027; an open one.",
        error_messages={"does_not_exist": 'Unknown fiscal year "{value}".'},
    )
    department = serializers.SlugRelatedField(
        slug_field="code",
        queryset=Department.objects.all(),
        allow_null=True,
        required=False,
        default=None,
        help_text="A department's code; null (or left out): company-wide.",
        error_messages={"does_not_exist": 'Unknown department "{value}".'},
    )
    owner = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.filter(is_active=True),
        help_text="The owner's user id.",
        error_messages={"does_not_exist": "Unknown or inactive user {pk_value}."},
    )
    status = serializers.ChoiceField(
        choices=ObjectiveStatus.choices,
        default=ObjectiveStatus.ACTIVE,
        required=False,
        help_text="planned or active (the default): achieved and dropped come later.",
    )


# --- Objectives: views -------------------------------------------------------------------------


class ObjectiveListApi(APIView):
    pagination_class = Pagination  # read by the schema generator for the paginated list
    parser_classes = [JSONParser]

    @extend_schema(
        operation_id="planning_objectives_list",
        summary="List the business objectives (everybody signed in reads them)",
        description="With each objective's figures (committed and actual spend, requests) "
        "where you may see them: finance, procurement and admins on all, the owner on "
        "theirs, a department's head and managers on their department's; null otherwise.",
        parameters=[ObjectiveFilterSerializer],
        responses={200: ObjectiveOutSerializer(many=True), **_errors(400, 403)},
        tags=_OBJECTIVE_TAGS,
    )
    def get(self, request: Request) -> Response:
        data = query_filters(request, ObjectiveFilterSerializer)
        year = data.get("fiscal_year")
        objectives = objective_list(
            filters=ObjectiveFilters(
                fiscal_year_id=year.pk if year else None,
                department=data.get("department"),
                status=data.get("status", ""),
            )
        )
        paginator = Pagination()
        page = paginator.paginate_queryset(objectives, request, view=self)
        rows = objective_report(user=_user(request), objectives=page or [])
        spend = {row.objective.pk: row.spend for row in rows}
        body = ObjectiveOutSerializer(
            [row.objective for row in rows], many=True, context={"request": request, "spend": spend}
        ).data
        return paginator.get_paginated_response(body)

    @extend_schema(
        operation_id="planning_objectives_create",
        summary="Set a business objective (finance, admin)",
        request=ObjectiveInSerializer,
        responses={201: ObjectiveDetailOutSerializer, **_errors(400, 403)},
        examples=[
            OpenApiExample(
                "A duplicate name",
                response_only=True,
                status_codes=["400"],
                value={
                    "code": "invalid",
                    "detail": 'There is already an objective "Move finance workloads to the '
                    'cloud" in FY2027.',
                    "errors": {
                        "name": [
                            'There is already an objective "Move finance workloads to the '
                            'cloud" in FY2027.'
                        ]
                    },
                },
            )
        ],
        tags=_OBJECTIVE_TAGS,
    )
    def post(self, request: Request) -> Response:
        _require_manager(request, "objectives")
        serializer = ObjectiveInSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        objective = objective_create(
            data=ObjectiveInput(
                name=data["name"],
                description=data["description"],
                fiscal_year=data["fiscal_year"],
                department=data["department"],
                owner=data["owner"],
                status=data["status"],
            ),
            by=_user(request),
        )
        return _objective_response(
            request, objective_get(objective_id=objective.pk), status_code=status.HTTP_201_CREATED
        )


class ObjectiveDetailApi(APIView):
    parser_classes = [JSONParser]

    @extend_schema(
        operation_id="planning_objectives_retrieve",
        summary="A business objective with its figures, its requests and budgets",
        parameters=[_OBJECTIVE_ID],
        responses={200: ObjectiveDetailOutSerializer, **_errors(403, 404)},
        tags=_OBJECTIVE_TAGS,
    )
    def get(self, request: Request, objective_id: int) -> Response:
        return _objective_response(request, objective_get(objective_id=objective_id))


# --- Budgets: output ---------------------------------------------------------------------------


class ConsumptionOutSerializer(serializers.Serializer):
    committed_requests = serializers.DecimalField(
        max_digits=16, decimal_places=2, help_text="Approved requests on no live order."
    )
    committed_orders = serializers.DecimalField(
        max_digits=16, decimal_places=2, help_text="What open orders have not yet invoiced."
    )
    actual_invoices = serializers.DecimalField(
        max_digits=16, decimal_places=2, help_text="Matched or released invoices."
    )
    actual_spend = serializers.DecimalField(
        max_digits=16,
        decimal_places=2,
        help_text="Imported spend (not for a budget narrowed to an objective).",
    )
    committed = serializers.DecimalField(max_digits=16, decimal_places=2)
    actual = serializers.DecimalField(max_digits=16, decimal_places=2)
    consumed = serializers.DecimalField(
        max_digits=16, decimal_places=2, help_text="committed + actual."
    )
    available = serializers.DecimalField(
        max_digits=16, decimal_places=2, help_text="amount - consumed; may be negative."
    )
    over = serializers.BooleanField(help_text="available < 0.")


def _consumption(consumption: Consumption) -> dict[str, Any]:
    return dict(
        ConsumptionOutSerializer(
            {
                "committed_requests": consumption.committed_requests,
                "committed_orders": consumption.committed_orders,
                "actual_invoices": consumption.actual_invoices,
                "actual_spend": consumption.actual_spend,
                "committed": consumption.committed,
                "actual": consumption.actual,
                "consumed": consumption.consumed,
                "available": consumption.available,
                "over": consumption.over,
            }
        ).data
    )


class ObjectiveRefOutSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class BudgetMonthOutSerializer(serializers.Serializer):
    month = serializers.DateField(help_text="The first day of the month.")
    amount = serializers.DecimalField(max_digits=16, decimal_places=2)


class BudgetOutSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    scope = serializers.CharField(source="scope_label", help_text="IT-100 · Software")
    fiscal_year = FiscalYearOutSerializer()
    cost_centre = CodeNameOutSerializer()
    category = CodeNameOutSerializer(allow_null=True, help_text="Null: every category.")
    objective = ObjectiveRefOutSerializer(
        allow_null=True, help_text="Null: whatever the requests serve."
    )
    owner = PersonOutSerializer()
    amount = serializers.DecimalField(
        max_digits=16, decimal_places=2, help_text="In the base currency."
    )
    phased = serializers.SerializerMethodField(
        help_text="Whether monthly amounts were set; if not, `months` spreads it evenly."
    )
    months = serializers.SerializerMethodField()
    on_exceed = serializers.ChoiceField(choices=OnExceed.choices)
    extra_approver = serializers.ChoiceField(choices=ExtraApprover.choices)
    version = serializers.IntegerField()
    below_consumed = serializers.SerializerMethodField(
        help_text="The current version was set below what was consumed then."
    )
    consumption = serializers.SerializerMethodField(help_text="Counted live, now.")
    url = serializers.SerializerMethodField()
    web_url = serializers.SerializerMethodField()

    def get_phased(self, obj: Budget) -> bool:
        return bool(obj.phasing)

    @extend_schema_field(BudgetMonthOutSerializer(many=True))
    def get_months(self, obj: Budget) -> list[dict[str, Any]]:
        rows = [{"month": month, "amount": amount} for month, amount in budget_months(obj)]
        return list(BudgetMonthOutSerializer(rows, many=True).data)

    def get_below_consumed(self, obj: Budget) -> bool:
        current = next((r for r in obj.revisions.all() if r.version == obj.version), None)
        return bool(current and current.below_consumed)

    @extend_schema_field(ConsumptionOutSerializer)
    def get_consumption(self, obj: Budget) -> dict[str, Any]:
        return _consumption(budget_consumption(budget=obj))

    def get_url(self, obj: Budget) -> str:
        return absolute_url(self.context["request"], "planning-budget-detail", obj.pk)

    def get_web_url(self, obj: Budget) -> str:
        return absolute_url(self.context["request"], "budgets:detail", obj.pk)


class BudgetRevisionOutSerializer(serializers.Serializer):
    version = serializers.IntegerField()
    amount = serializers.DecimalField(max_digits=16, decimal_places=2)
    phasing = serializers.ListField(
        child=serializers.DecimalField(max_digits=16, decimal_places=2),
        help_text="Empty: spread evenly.",
    )
    on_exceed = serializers.ChoiceField(choices=OnExceed.choices)
    owner = serializers.CharField(source="owner.username")
    reason = serializers.CharField()
    consumed_then = serializers.DecimalField(
        max_digits=16, decimal_places=2, help_text="What was consumed when this version was set."
    )
    below_consumed = serializers.BooleanField()
    created_by = serializers.CharField(source="created_by.username")
    created_at = serializers.DateTimeField()


class BudgetDetailOutSerializer(BudgetOutSerializer):
    revisions = serializers.SerializerMethodField(help_text="Every version, newest first.")

    @extend_schema_field(BudgetRevisionOutSerializer(many=True))
    def get_revisions(self, obj: Budget) -> list[dict[str, Any]]:
        rows = sorted(obj.revisions.all(), key=lambda revision: -revision.version)
        return list(BudgetRevisionOutSerializer(rows, many=True).data)


def _require_manager(request: Request, what: str) -> None:
    # Before the body is read: someone who may not do this hears so, whatever they sent.
    if not allowed(_user(request), "planning.change_budget"):
        raise NotAllowed(f"Only finance sets {what}.")


def _budgets(request: Request) -> QuerySet[Budget]:
    return budgets_visible_to(_user(request)).prefetch_related(
        "revisions__owner", "revisions__created_by"
    )


def _budget_get(request: Request, budget_id: int) -> Budget:
    budget = _budgets(request).filter(pk=budget_id).first()
    if budget is None:
        raise NotFound("No such budget.")
    return budget


def _budget_response(
    request: Request, budget_id: int, *, status_code: int = status.HTTP_200_OK
) -> Response:
    budget = _budget_get(request, budget_id)
    body = BudgetDetailOutSerializer(budget, context={"request": request}).data
    return object_response(body, status_code=status_code)


# --- Budgets: input ----------------------------------------------------------------------------


class BudgetFilterSerializer(serializers.Serializer):
    fiscal_year = serializers.SlugRelatedField(
        slug_field="name",
        queryset=FiscalYear.objects.all(),
        required=False,
        help_text="A fiscal year's name, e.g. FY2027.",
        error_messages={"does_not_exist": 'Unknown fiscal year "{value}".'},
    )


_PHASING = serializers.ListField(
    child=serializers.DecimalField(max_digits=17, decimal_places=2),
    required=False,
    default=list,
    max_length=12,
    help_text="Twelve monthly amounts from the year's first month, adding up to the amount; "
    "empty (or left out): spread evenly.",
)


class BudgetInSerializer(serializers.Serializer):
    fiscal_year = serializers.SlugRelatedField(
        slug_field="name",
        queryset=FiscalYear.objects.all(),
        help_text="The fiscal year's name, e.g. FY2027; an open one.",
        error_messages={"does_not_exist": 'Unknown fiscal year "{value}".'},
    )
    cost_centre = serializers.SlugRelatedField(
        slug_field="code",
        queryset=CostCentre.objects.filter(is_active=True),
        help_text="An active cost centre's code.",
        error_messages={"does_not_exist": 'Unknown or closed cost centre "{value}".'},
    )
    category = serializers.SlugRelatedField(
        slug_field="code",
        queryset=Category.objects.all(),
        allow_null=True,
        required=False,
        default=None,
        help_text="A category's code; null (or left out): every category.",
        error_messages={"does_not_exist": 'Unknown category "{value}".'},
    )
    objective = serializers.PrimaryKeyRelatedField(
        queryset=Objective.objects.select_related("fiscal_year", "department"),
        allow_null=True,
        required=False,
        default=None,
        help_text="An objective's id; null (or left out): whatever the requests serve.",
        error_messages={"does_not_exist": "Unknown objective {pk_value}."},
    )
    owner = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.filter(is_active=True),
        help_text="The budget owner's user id.",
        error_messages={"does_not_exist": "Unknown or inactive user {pk_value}."},
    )
    amount = serializers.DecimalField(
        max_digits=17, decimal_places=2, help_text="For the year, in the base currency."
    )
    phasing = _PHASING
    on_exceed = serializers.ChoiceField(choices=OnExceed.choices, default=OnExceed.WARN)
    extra_approver = serializers.ChoiceField(
        choices=ExtraApprover.choices, default=ExtraApprover.OWNER
    )
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class BudgetReviseInSerializer(serializers.Serializer):
    amount = serializers.DecimalField(
        max_digits=17, decimal_places=2, help_text="The new amount for the year."
    )
    reason = serializers.CharField(max_length=500, help_text="Why it changes; kept.")
    phasing = _PHASING
    on_exceed = serializers.ChoiceField(
        choices=OnExceed.choices, required=False, help_text="Left out: unchanged."
    )
    extra_approver = serializers.ChoiceField(
        choices=ExtraApprover.choices, required=False, help_text="Left out: unchanged."
    )
    owner = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.filter(is_active=True),
        required=False,
        help_text="The new owner's user id; left out: unchanged.",
        error_messages={"does_not_exist": "Unknown or inactive user {pk_value}."},
    )


_OVER_EXAMPLE = OpenApiExample(
    "Months not adding up",
    response_only=True,
    status_codes=["400"],
    value={
        "code": "invalid",
        "detail": "The months add up to 11,000.00, not the budget's 12,000.00.",
        "errors": {"phasing": ["The months add up to 11,000.00, not the budget's 12,000.00."]},
    },
)


# --- Budgets: views ----------------------------------------------------------------------------


class BudgetListApi(APIView):
    pagination_class = Pagination  # read by the schema generator for the paginated list
    parser_classes = [JSONParser]

    @extend_schema(
        operation_id="planning_budgets_list",
        summary="List the budgets you may see, with what each has consumed",
        description="Finance, procurement and admins see every budget; a budget's owner "
        "theirs; a department's head and managers their department's.",
        parameters=[BudgetFilterSerializer],
        responses={200: BudgetOutSerializer(many=True), **_errors(400, 403)},
        tags=_BUDGET_TAGS,
    )
    def get(self, request: Request) -> Response:
        data = query_filters(request, BudgetFilterSerializer)
        budgets = _budgets(request)
        if data.get("fiscal_year"):
            budgets = budgets.filter(fiscal_year=data["fiscal_year"])
        return paginated_response(self, request, budgets, BudgetOutSerializer)

    @extend_schema(
        operation_id="planning_budgets_create",
        summary="Set a budget (finance, admin): version 1",
        description="400 for a negative amount, phasing that does not add up, a closed year, "
        "an objective of another department or year, or a second budget for the same scope "
        "and year.",
        request=BudgetInSerializer,
        responses={201: BudgetDetailOutSerializer, **_errors(400, 403)},
        examples=[_OVER_EXAMPLE],
        tags=_BUDGET_TAGS,
    )
    def post(self, request: Request) -> Response:
        _require_manager(request, "budgets")
        serializer = BudgetInSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        budget_input = BudgetInput(
            fiscal_year=data["fiscal_year"],
            cost_centre=data["cost_centre"],
            owner=data["owner"],
            amount=data["amount"],
            category=data["category"],
            objective=data["objective"],
            phasing=list(data["phasing"]),
            on_exceed=data["on_exceed"],
            extra_approver=data["extra_approver"],
        )
        year_error = budget_objective_year_error(budget_input)
        if year_error:
            raise InvalidInput(next(iter(year_error.values()))[0], fields=year_error)
        budget = budget_create(data=budget_input, by=_user(request), reason=data["reason"])
        return _budget_response(request, budget.pk, status_code=status.HTTP_201_CREATED)


class BudgetDetailApi(APIView):
    parser_classes = [JSONParser]

    @extend_schema(
        operation_id="planning_budgets_retrieve",
        summary="A budget with its consumption, months and every version",
        parameters=[_BUDGET_ID],
        responses={200: BudgetDetailOutSerializer, **_errors(403, 404)},
        tags=_BUDGET_TAGS,
    )
    def get(self, request: Request, budget_id: int) -> Response:
        return _budget_response(request, budget_id)


class BudgetReviseApi(APIView):
    parser_classes = [JSONParser]

    @extend_schema(
        operation_id="planning_budgets_revise",
        summary="Revise a budget (finance, admin): a new version, the old one kept",
        description="A version below what is already consumed is allowed, and flagged "
        "(`below_consumed`). Answers with the budget.",
        parameters=[_BUDGET_ID],
        request=BudgetReviseInSerializer,
        responses={201: BudgetDetailOutSerializer, **_errors(400, 403, 404, 409)},
        examples=[_OVER_EXAMPLE],
        tags=_BUDGET_TAGS,
    )
    def post(self, request: Request, budget_id: int) -> Response:
        # Looked up before the body is read: a budget the caller cannot see is a 404.
        _budget_get(request, budget_id)
        _require_manager(request, "budgets")
        serializer = BudgetReviseInSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        budget_revise(
            budget_id=budget_id,
            by=_user(request),
            amount=data["amount"],
            reason=data["reason"],
            phasing=list(data["phasing"]),
            on_exceed=data.get("on_exceed"),
            extra_approver=data.get("extra_approver"),
            owner=data.get("owner"),
        )
        return _budget_response(request, budget_id, status_code=status.HTTP_201_CREATED)
