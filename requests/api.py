"""The REST API for purchase requests.

One APIView per URL; each method parses with a small input serializer, calls
one service or selector, and renders with a small output serializer. Business
rules stay in requests.services / requests.selectors, so the API and the pages
refuse the same things with the same messages. Every error leaves through
procurement.api.exception_handler as {"code", "detail", "errors"}.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from django.contrib.auth import authenticate
from django.contrib.auth.decorators import login_required
from django.db.models import QuerySet
from django.http import HttpRequest, JsonResponse
from django.urls import NoReverseMatch, Resolver404, resolve, reverse
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    extend_schema,
    extend_schema_field,
    inline_serializer,
)
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework import serializers, status
from rest_framework.authtoken.models import Token
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from procurement.api import (
    Pagination,
    absolute_url,
    by_code,
    error_responses,
    object_response,
    paginated_rows,
    query_filters,
    signed_in_user,
    unknown_choice,
)
from procurement.errors import InvalidInput, NotFound
from procurement.models import Category, CostCentre, Department, Objective
from procurement.two_factor import two_factor_check_api_login
from requests.models import Attachment, Comment, LineItem, PurchaseRequest, RequestState
from requests.selectors import (
    RequestFilters,
    TimelineEvent,
    purchase_request_available_actions,
    purchase_request_get,
    purchase_request_list,
    purchase_request_timeline,
    purchase_request_visible_to,
)
from requests.services import (
    ACTIONS,
    MAX_LINE_ITEMS,
    REQUEST_FIELDS,
    LineItemInput,
    RequestInput,
    comment_create,
    purchase_request_add_attachment,
    purchase_request_create,
    purchase_request_transition,
    purchase_request_update,
)
from vendors.models import Vendor

_user = signed_in_user


def _attachment_path(attachment: Attachment) -> str:
    # The download page belongs to the pages app; until its route exists the URL is still right.
    try:
        return reverse("requests:attachment", args=[attachment.request_id, attachment.pk])
    except NoReverseMatch:
        return f"/requests/{attachment.request_id}/attachments/{attachment.pk}/"


# --- Errors (documentation only: procurement.api.exception_handler builds them) ---


_ERROR_TEXT = {
    404: "No such purchase request, or not visible to you.",
    409: "The request is not in a state that allows this.",
}
_errors = partial(error_responses, texts=_ERROR_TEXT)


_REQUEST_ID = OpenApiParameter(
    "request_id", int, OpenApiParameter.PATH, description="Purchase request id."
)


# --- Authentication --------------------------------------------------------


class TokenRequestSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=128, trim_whitespace=False, write_only=True)
    otp = serializers.CharField(
        max_length=12,
        required=False,
        allow_blank=True,
        write_only=True,
        help_text="The current code from the user's authenticator app; required for users "
        "who have two-factor authentication on.",
    )


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField()


class TokenObtainApi(APIView):
    """Exchange a username and password for an API token (the same one on every call)."""

    # The credentials in the body are the authentication here; a session is not needed or used.
    authentication_classes: list[type] = []
    permission_classes: list[type] = []
    parser_classes = [JSONParser, FormParser, MultiPartParser]  # curl -d / -F work too
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "token"

    @extend_schema(
        operation_id="auth_token_create",
        summary="Get an API token",
        request=TokenRequestSerializer,
        responses={
            200: TokenSerializer,
            **error_responses(
                400,
                403,
                429,
                texts={
                    400: "Wrong credentials (code `invalid`), or the account uses two-factor "
                    "authentication and `otp` is missing (code `otp_required`) or wrong.",
                    403: "The user's role requires two-factor authentication and they have not "
                    "set it up (code `two_factor_required`).",
                    429: "Too many attempts from this address (code `throttled`), or too many "
                    "failed logins for this username from it (code `locked_out`).",
                },
            ),
        },
        auth=[],
        tags=["auth"],
    )
    def post(self, request: Request) -> Response:
        serializer = TokenRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = authenticate(
            request._request,
            username=serializer.validated_data["username"],
            password=serializer.validated_data["password"],
        )
        if user is None:  # wrong password, unknown user or deactivated account: one answer
            raise InvalidInput("Unable to log in with the username and password given.")
        # A token is a second way in: it takes the two-factor code where a login would.
        two_factor_check_api_login(
            request=request._request, user=user, code=serializer.validated_data.get("otp", "")
        )
        token, _ = Token.objects.get_or_create(user=user)
        return Response(TokenSerializer({"token": token.key}).data)


# --- Schema and docs -------------------------------------------------------


class SchemaApi(SpectacularAPIView):
    """The OpenAPI 3 document (YAML by default, JSON with ?format=json), for signed-in callers."""

    permission_classes = [IsAuthenticated]

    def handle_exception(self, exc: Exception) -> Response:
        response = super().handle_exception(exc)
        # The schema renderers would write the error as YAML; errors are JSON everywhere.
        self.request.accepted_renderer = JSONRenderer()
        self.request.accepted_media_type = "application/json"
        return response


# Swagger UI from drf-spectacular-sidecar's static files (no CDN); a browser page, so an
# anonymous visitor is sent to the login page rather than shown a JSON error. The split view
# serves its start-up script from this same URL (?script) instead of inline, for the CSP.
docs_view = login_required(
    SpectacularSwaggerSplitView.as_view(url_name="api:schema", permission_classes=[IsAuthenticated])
)


# It changes nothing, so it needs no CSRF check; with one, a POST to a mistyped URL got the
# HTML CSRF page (or a 500 from it) instead of this JSON 404.
@csrf_exempt
def api_not_found(request: HttpRequest, unmatched: str = "") -> JsonResponse:
    """Unknown paths under /api/ answer in the API's error shape instead of an HTML page."""
    detail = "No such API endpoint."
    if not request.path.endswith("/"):
        try:
            match = resolve(request.path + "/")
        except Resolver404:
            match = None
        if match is not None and match.func is not api_not_found:
            detail = f"No such API endpoint. Did you mean {request.path}/ ?"
    return JsonResponse({"code": "not_found", "detail": detail, "errors": {}}, status=404)


# --- Output serializers ----------------------------------------------------


class PersonSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    name = serializers.CharField(source="__str__", help_text="Full name, or the username.")


class CodeNameSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()


class VendorRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    legal_name = serializers.CharField()
    state = serializers.CharField(help_text="Anything but approved adds a vendor review step.")


class ObjectiveRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    fiscal_year = serializers.CharField(source="fiscal_year.name")


class PurchaseRequestRowSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    reference = serializers.CharField(help_text="PR-000042")
    title = serializers.CharField()
    state = serializers.ChoiceField(choices=RequestState.choices)
    state_label = serializers.CharField(source="get_state_display")
    requester = PersonSerializer()
    department = CodeNameSerializer()
    cost_centre = CodeNameSerializer()
    category = CodeNameSerializer()
    needed_by = serializers.DateField()
    currency = serializers.CharField()
    processes_personal_data = serializers.BooleanField()
    vendor = VendorRefSerializer(allow_null=True)
    objective = ObjectiveRefSerializer(
        allow_null=True, help_text="The business objective it serves; null with a reason."
    )
    no_objective_reason = serializers.CharField(
        help_text="Why it serves no objective (empty when it serves one)."
    )
    version = serializers.IntegerField(help_text="Goes up by one on every edit.")
    total = serializers.DecimalField(
        max_digits=16,
        decimal_places=2,
        help_text="Sum of the line amounts, computed by the server.",
    )
    created_at = serializers.DateTimeField()
    submitted_at = serializers.DateTimeField(allow_null=True)
    url = serializers.SerializerMethodField(help_text="This request in the API.")
    web_url = serializers.SerializerMethodField(help_text="This request's page.")

    def get_url(self, obj: PurchaseRequest) -> str:
        return absolute_url(self.context["request"], "api:request-detail", obj.pk)

    def get_web_url(self, obj: PurchaseRequest) -> str:
        return absolute_url(self.context["request"], "requests:detail", obj.pk)


# --- The list's rows, read as plain values -----------------------------------
#
# The list API built each row with PurchaseRequestRowSerializer from five model instances,
# DRF going field by field and Django building 125 objects per 25-row page. Reading the page
# with .values() and building each row here took it from 13.5 to 8.5 ms of CPU per request
# (bench/web cpu_profile). The serializer stays as the documented shape (the schema), and
# test_api_list_rows checks that both answer the same JSON.

# The row serializer's own fields, for the values DRF formats (time zone, decimal places).
_ROW_FIELDS = PurchaseRequestRowSerializer().fields
_STATE_LABELS = dict(RequestState.choices)
_ROW_COLUMNS = (
    "id",
    "title",
    "state",
    "requester_id",
    "requester__username",
    "requester__first_name",
    "requester__last_name",
    "department__code",
    "department__name",
    "cost_centre__code",
    "cost_centre__name",
    "category__code",
    "category__name",
    "needed_by",
    "currency",
    "processes_personal_data",
    "vendor_id",
    "objective_id",
    "no_objective_reason",
    "version",
    "total",
    "created_at",
    "submitted_at",
)


def _vendor_refs(ids: set[int]) -> dict[int, dict[str, Any]]:
    """VendorRefSerializer's body of each vendor in `ids`; no query for none."""
    if not ids:
        return {}
    vendors = Vendor.objects.filter(pk__in=ids).values("id", "legal_name", "state")
    return {vendor["id"]: vendor for vendor in vendors}


def _objective_refs(ids: set[int]) -> dict[int, dict[str, Any]]:
    """ObjectiveRefSerializer's body of each objective in `ids`; no query for none."""
    if not ids:
        return {}
    objectives = Objective.objects.filter(pk__in=ids).values("id", "name", "fiscal_year__name")
    return {
        objective["id"]: {
            "id": objective["id"],
            "name": objective["name"],
            "fiscal_year": objective["fiscal_year__name"],
        }
        for objective in objectives
    }


def _request_rows(request: Request, page: QuerySet[PurchaseRequest]) -> list[dict[str, Any]]:
    """One page of the list, as PurchaseRequestRowSerializer would answer it."""
    values = list(page.prefetch_related(None).values(*_ROW_COLUMNS))
    # Most requests name no vendor or objective: these are read apart, and only when a row
    # names one (as the prefetch of purchase_request_list does).
    vendors = _vendor_refs({row["vendor_id"] for row in values if row["vendor_id"]})
    objectives = _objective_refs({row["objective_id"] for row in values if row["objective_id"]})
    needed_by = _ROW_FIELDS["needed_by"].to_representation
    total = _ROW_FIELDS["total"].to_representation
    moment = _ROW_FIELDS["created_at"].to_representation
    return [
        {
            "id": row["id"],
            "reference": f"PR-{row['id']:06d}",  # PurchaseRequest.reference
            "title": row["title"],
            "state": row["state"],
            "state_label": str(_STATE_LABELS.get(row["state"], row["state"])),
            "requester": {
                "id": row["requester_id"],
                "username": row["requester__username"],
                # str(user): User.__str__ is AbstractUser.get_full_name(), or the username.
                "name": f"{row['requester__first_name']} {row['requester__last_name']}".strip()
                or row["requester__username"],
            },
            "department": {"code": row["department__code"], "name": row["department__name"]},
            "cost_centre": {"code": row["cost_centre__code"], "name": row["cost_centre__name"]},
            "category": {"code": row["category__code"], "name": row["category__name"]},
            "needed_by": needed_by(row["needed_by"]),
            "currency": row["currency"],
            "processes_personal_data": row["processes_personal_data"],
            "vendor": vendors.get(row["vendor_id"]),
            "objective": objectives.get(row["objective_id"]),
            "no_objective_reason": row["no_objective_reason"],
            "version": row["version"],
            "total": total(row["total"]),
            "created_at": moment(row["created_at"]),
            "submitted_at": None if row["submitted_at"] is None else moment(row["submitted_at"]),
            "url": absolute_url(request, "api:request-detail", row["id"]),
            "web_url": absolute_url(request, "requests:detail", row["id"]),
        }
        for row in values
    ]


class LineItemSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    position = serializers.IntegerField()
    description = serializers.CharField()
    quantity = serializers.DecimalField(max_digits=12, decimal_places=3)
    unit = serializers.CharField()
    unit_price = serializers.DecimalField(max_digits=14, decimal_places=2)
    amount = serializers.DecimalField(
        max_digits=16, decimal_places=2, help_text="quantity x unit_price, rounded half up."
    )
    vendor_sku = serializers.CharField()
    vendor_url = serializers.CharField()


class AttachmentSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    filename = serializers.CharField()
    content_type = serializers.CharField(help_text="Sniffed from the file's bytes.")
    size = serializers.IntegerField(help_text="Bytes.")
    uploaded_at = serializers.DateTimeField()
    url = serializers.SerializerMethodField(help_text="Download link (a signed-in page).")

    def get_url(self, obj: Attachment) -> str:
        return self.context["request"].build_absolute_uri(_attachment_path(obj))


# For the schema only (the detail builds these as dicts); inline as `label` is a Field attribute.
AVAILABLE_ACTION = inline_serializer(
    name="AvailableAction",
    fields={
        "action": serializers.ChoiceField(choices=list(ACTIONS)),
        "label": serializers.CharField(help_text="For a button."),
        "comment_required": serializers.BooleanField(),
    },
    many=True,
)


class TimelineEventSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=["transition", "comment"])
    at = serializers.DateTimeField()
    actor = PersonSerializer(allow_null=True)
    text = serializers.CharField(help_text="The comment, or the note given with a transition.")
    action = serializers.CharField(help_text="For transitions: created, submit, approve...")
    from_state = serializers.CharField()
    to_state = serializers.CharField()


class PurchaseRequestDetailSerializer(PurchaseRequestRowSerializer):
    justification = serializers.CharField()
    updated_at = serializers.DateTimeField()
    line_items = LineItemSerializer(many=True)
    attachments = AttachmentSerializer(many=True)
    available_actions = serializers.SerializerMethodField(
        help_text="What the caller may do now: POST /api/requests/{id}/{action}/."
    )
    timeline = serializers.SerializerMethodField(
        help_text="State changes and comments, oldest first."
    )

    @extend_schema_field(AVAILABLE_ACTION)
    def get_available_actions(self, obj: PurchaseRequest) -> list[dict[str, Any]]:
        user = _user(self.context["request"])
        names = purchase_request_available_actions(request=obj, user=user)
        return [
            {
                "action": name,
                "label": ACTIONS[name].label,
                "comment_required": ACTIONS[name].comment_required,
            }
            for name in names
        ]

    @extend_schema_field(TimelineEventSerializer(many=True))
    def get_timeline(self, obj: PurchaseRequest) -> list[dict[str, Any]]:
        events: list[TimelineEvent] = purchase_request_timeline(request=obj)
        return list(TimelineEventSerializer(events, many=True).data)


class CommentSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    author = PersonSerializer()
    body = serializers.CharField()
    mentions = serializers.SerializerMethodField(help_text="Usernames @mentioned (and emailed).")
    created_at = serializers.DateTimeField()

    def get_mentions(self, obj: Comment) -> list[str]:
        return [user.username for user in obj.mentions.all()]


def _get_or_404(request: Request, request_id: int) -> PurchaseRequest:
    purchase_request = purchase_request_get(user=_user(request), request_id=request_id)
    if purchase_request is None:
        raise NotFound("No such purchase request.")
    return purchase_request


def _require_visible(request: Request, request_id: int) -> None:
    # Checked before the body is read, so that a request the caller cannot see is a 404
    # whatever was sent, and not a 400 about a missing comment or file.
    if not purchase_request_visible_to(_user(request)).filter(pk=request_id).exists():
        raise NotFound("No such purchase request.")


def _detail_response(
    request: Request, request_id: int, *, status_code: int = status.HTTP_200_OK
) -> Response:
    purchase_request = _get_or_404(request, request_id)
    body = PurchaseRequestDetailSerializer(purchase_request, context={"request": request}).data
    return object_response(body, status_code=status_code)


# --- Input serializers -----------------------------------------------------


class LineItemInputSerializer(serializers.ModelSerializer):
    """Field rules (positive quantity and price, digits, URL) come from the LineItem model."""

    class Meta:
        model = LineItem
        fields = ["description", "quantity", "unit", "unit_price", "vendor_sku", "vendor_url"]
        # DRF turns the model's MinValueValidator into min_value and drops its message: keep ours.
        extra_kwargs = {
            "quantity": {"error_messages": {"min_value": "Quantity must be greater than zero."}},
            "unit_price": {
                "error_messages": {"min_value": "Unit price must be greater than zero."}
            },
        }


class PurchaseRequestInputSerializer(serializers.ModelSerializer):
    """Create a draft. `total` and `state` are not inputs: anything sent for them is ignored.

    Field rules (currency, needed-by not in the past, lengths) come from the model.
    """

    department = by_code(Department.objects.all(), "department")
    cost_centre = by_code(CostCentre.objects.all(), "cost centre")
    category = by_code(Category.objects.all(), "category")
    vendor = serializers.PrimaryKeyRelatedField(
        queryset=Vendor.objects.all(),
        allow_null=True,
        required=False,
        help_text="The vendor's id, or null when procurement is to choose.",
        error_messages={"does_not_exist": "Unknown vendor {pk_value}."},
    )
    objective = serializers.PrimaryKeyRelatedField(
        queryset=Objective.objects.all(),
        allow_null=True,
        required=False,
        help_text="The id of the business objective it serves. Null (or left out) with a "
        "no_objective_reason instead; one of the two is needed to submit.",
        error_messages={"does_not_exist": "Unknown objective {pk_value}."},
    )
    line_items: serializers.ListSerializer[LineItem] = serializers.ListSerializer(
        child=LineItemInputSerializer(), required=False, max_length=MAX_LINE_ITEMS
    )

    class Meta:
        model = PurchaseRequest
        fields = [*REQUEST_FIELDS, "line_items"]


class PurchaseRequestReplaceSerializer(PurchaseRequestInputSerializer):
    """PUT: every field, and the full list of line items (which replaces the current ones)."""

    line_items = serializers.ListSerializer(
        child=LineItemInputSerializer(), max_length=MAX_LINE_ITEMS
    )


class DraftChangesSerializer(PurchaseRequestInputSerializer):
    """PATCH: any of the fields; those left out keep their values.

    Not DRF's partial mode, which would also let each line leave out its description or
    price: a line that is sent is a whole line, since `line_items` replaces them all.
    """

    department = by_code(Department.objects.all(), "department", required=False)
    cost_centre = by_code(CostCentre.objects.all(), "cost centre", required=False)
    category = by_code(Category.objects.all(), "category", required=False)

    class Meta(PurchaseRequestInputSerializer.Meta):
        extra_kwargs = {name: {"required": False} for name in REQUEST_FIELDS}


def line_inputs(lines: list[dict[str, Any]]) -> list[LineItemInput]:
    return [LineItemInput(**line) for line in lines]


def _request_input(data: dict[str, Any], *, current: PurchaseRequest | None = None) -> RequestInput:
    """The service's input from validated data.

    For a PATCH, the fields left out keep `current`'s values (and its lines, unless given).
    """

    def value(name: str) -> Any:
        if name in data:
            return data[name]
        if current is not None:
            return getattr(current, name)
        return PurchaseRequest._meta.get_field(name).get_default()  # optional on create

    values = {name: value(name) for name in REQUEST_FIELDS}
    if "line_items" in data:
        lines = line_inputs(data["line_items"])
    elif current is not None:
        lines = [
            LineItemInput(
                description=line.description,
                quantity=line.quantity,
                unit_price=line.unit_price,
                unit=line.unit,
                vendor_sku=line.vendor_sku,
                vendor_url=line.vendor_url,
            )
            for line in current.line_items.all()
        ]
    else:
        lines = []
    return RequestInput(**values, line_items=lines)


class RequestListFilterSerializer(serializers.Serializer):
    scope = serializers.ChoiceField(
        choices=["mine", "all"],
        default="all",
        help_text="mine: requests you raised; all: every request you may see.",
    )
    state = serializers.ChoiceField(
        choices=RequestState.choices,
        required=False,
        error_messages=unknown_choice("state", RequestState.values),
    )
    category = by_code(Category.objects.all(), "category", required=False)
    department = by_code(Department.objects.all(), "department", required=False)
    q = serializers.CharField(
        required=False,
        max_length=200,
        help_text="Words in the title, or a reference such as PR-000042.",
    )
    created_from = serializers.DateField(required=False, help_text="YYYY-MM-DD, inclusive.")
    created_to = serializers.DateField(required=False, help_text="YYYY-MM-DD, inclusive.")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        start, end = attrs.get("created_from"), attrs.get("created_to")
        if start and end and start > end:
            raise serializers.ValidationError(
                {"created_to": ["created_to is before created_from."]}
            )
        return attrs


class TransitionInputSerializer(serializers.Serializer):
    comment = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=5000,
        help_text="Why. Required to reject or return.",
    )


class CommentInputSerializer(serializers.Serializer):
    body = serializers.CharField(max_length=5000, help_text="@username mentions are emailed.")


class AttachmentUploadSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="A PDF or an image (PNG, JPEG, GIF, WebP).")


_CREATE_EXAMPLE = OpenApiExample(
    "A draft with one line",
    request_only=True,
    value={
        "title": "Laptops for the new starters",
        "justification": "Three engineers start next month.",
        "department": "it",
        "cost_centre": "IT-100",
        "category": "hardware",
        "needed_by": "2030-01-31",
        "currency": "GBP",
        "line_items": [
            {
                "description": "14-inch laptop",
                "quantity": "3",
                "unit": "each",
                "unit_price": "1250.00",
            }
        ],
    },
)
_INVALID_EXAMPLE = OpenApiExample(
    "Invalid line item",
    response_only=True,
    status_codes=["400"],
    value={
        "code": "invalid",
        "detail": "line_items[0].quantity: Quantity must be greater than zero.",
        "errors": {"line_items[0].quantity": ["Quantity must be greater than zero."]},
    },
)


# --- Purchase requests -----------------------------------------------------


class PurchaseRequestListCreateApi(APIView):
    parser_classes = [JSONParser]
    pagination_class = Pagination  # read by the schema generator for the paginated list

    @extend_schema(
        operation_id="requests_list",
        summary="List the purchase requests you can see",
        parameters=[RequestListFilterSerializer],
        responses={200: PurchaseRequestRowSerializer(many=True), **_errors(400, 403)},
        tags=["requests"],
    )
    def get(self, request: Request) -> Response:
        data = query_filters(request, RequestListFilterSerializer)
        requests = purchase_request_list(
            user=_user(request),
            filters=RequestFilters(
                scope=data["scope"],
                state=data.get("state", ""),
                category=data["category"].code if data.get("category") else "",
                department=data["department"].code if data.get("department") else "",
                q=data.get("q", ""),
                created_from=data.get("created_from"),
                created_to=data.get("created_to"),
            ),
        )
        return paginated_rows(self, request, requests, partial(_request_rows, request))

    @extend_schema(
        operation_id="requests_create",
        summary="Create a draft",
        description=(
            "The total is computed from the line items; `total` or `state` in the body are ignored."
        ),
        request=PurchaseRequestInputSerializer,
        responses={201: PurchaseRequestDetailSerializer, **_errors(400, 403, 413)},
        examples=[_CREATE_EXAMPLE, _INVALID_EXAMPLE],
        tags=["requests"],
    )
    def post(self, request: Request) -> Response:
        serializer = PurchaseRequestInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        created = purchase_request_create(
            requester=_user(request), data=_request_input(serializer.validated_data)
        )
        return _detail_response(request, created.pk, status_code=status.HTTP_201_CREATED)


class PurchaseRequestDetailApi(APIView):
    parser_classes = [JSONParser]

    @extend_schema(
        operation_id="requests_retrieve",
        summary="A purchase request with its lines, attachments, your actions and its timeline",
        parameters=[_REQUEST_ID],
        responses={200: PurchaseRequestDetailSerializer, **_errors(403, 404)},
        tags=["requests"],
    )
    def get(self, request: Request, request_id: int) -> Response:
        return _detail_response(request, request_id)

    @extend_schema(
        operation_id="requests_replace",
        summary="Replace a draft (every field, and all its line items)",
        parameters=[_REQUEST_ID],
        request=PurchaseRequestReplaceSerializer,
        responses={200: PurchaseRequestDetailSerializer, **_errors(400, 403, 404, 409, 413)},
        tags=["requests"],
    )
    def put(self, request: Request, request_id: int) -> Response:
        return self._update(request, request_id, partial=False)

    @extend_schema(
        operation_id="requests_partial_update",
        summary="Change some fields of a draft",
        description=(
            "Fields left out keep their values; `line_items`, when present, replaces every line."
        ),
        parameters=[_REQUEST_ID],
        request=DraftChangesSerializer,
        responses={200: PurchaseRequestDetailSerializer, **_errors(400, 403, 404, 409, 413)},
        tags=["requests"],
    )
    def patch(self, request: Request, request_id: int) -> Response:
        return self._update(request, request_id, partial=True)

    def _update(self, request: Request, request_id: int, *, partial: bool) -> Response:
        # Looked up before the body is read: a request the caller cannot see is a 404 whatever
        # was sent. A PATCH also needs its current values.
        current = _get_or_404(request, request_id)
        input_class = DraftChangesSerializer if partial else PurchaseRequestReplaceSerializer
        serializer = input_class(data=request.data)
        serializer.is_valid(raise_exception=True)
        purchase_request_update(
            request_id=request_id,
            by=_user(request),
            data=_request_input(serializer.validated_data, current=current if partial else None),
        )
        return _detail_response(request, request_id)


class PurchaseRequestTransitionApi(APIView):
    parser_classes = [JSONParser]

    @extend_schema(
        operation_id="requests_transition",
        summary="Move a request on (submit, approve, reject, return, revise, cancel, ...)",
        description=(
            "Who may do what follows the request's state machine; `available_actions` in the "
            "detail lists the caller's options. `reject` and `return` need a comment."
        ),
        parameters=[
            _REQUEST_ID,
            OpenApiParameter("action", str, OpenApiParameter.PATH, enum=list(ACTIONS)),
        ],
        request=TransitionInputSerializer,
        responses={200: PurchaseRequestDetailSerializer, **_errors(400, 403, 404, 409)},
        tags=["requests"],
    )
    def post(self, request: Request, request_id: int, action: str) -> Response:
        _require_visible(request, request_id)
        serializer = TransitionInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        purchase_request_transition(
            request_id=request_id,
            by=_user(request),
            action=action,
            comment=serializer.validated_data.get("comment", ""),
        )
        return _detail_response(request, request_id)


class PurchaseRequestCommentsApi(APIView):
    parser_classes = [JSONParser]
    pagination_class = Pagination

    @extend_schema(
        operation_id="requests_comments_list",
        summary="Comments on a request, oldest first",
        parameters=[_REQUEST_ID],
        responses={200: CommentSerializer(many=True), **_errors(403, 404)},
        tags=["comments"],
    )
    def get(self, request: Request, request_id: int) -> Response:
        _require_visible(request, request_id)
        comments = (
            Comment.objects.filter(request_id=request_id)
            .select_related("author")
            .prefetch_related("mentions")
        )
        paginator = Pagination()
        page = paginator.paginate_queryset(
            comments.order_by("created_at", "id"), request, view=self
        )
        return paginator.get_paginated_response(CommentSerializer(page, many=True).data)

    @extend_schema(
        operation_id="requests_comments_create",
        summary="Comment on a request (@username mentions are emailed)",
        parameters=[_REQUEST_ID],
        request=CommentInputSerializer,
        responses={201: CommentSerializer, **_errors(400, 403, 404)},
        tags=["comments"],
    )
    def post(self, request: Request, request_id: int) -> Response:
        _require_visible(request, request_id)
        serializer = CommentInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        comment: Comment = comment_create(
            request_id=request_id, by=_user(request), body=serializer.validated_data["body"]
        )
        return Response(CommentSerializer(comment).data, status=status.HTTP_201_CREATED)


class PurchaseRequestAttachmentsApi(APIView):
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        operation_id="requests_attachments_create",
        summary="Attach a PDF or image to a draft (multipart field `file`)",
        parameters=[_REQUEST_ID],
        request={"multipart/form-data": AttachmentUploadSerializer},
        responses={201: AttachmentSerializer, **_errors(400, 403, 404, 409, 415)},
        tags=["requests"],
    )
    def post(self, request: Request, request_id: int) -> Response:
        _require_visible(request, request_id)
        serializer = AttachmentUploadSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            attachment = purchase_request_add_attachment(
                request_id=request_id, by=_user(request), upload=serializer.validated_data["file"]
            )
        except InvalidInput as error:
            # The service names the page form's field; here the upload is the `file` part.
            if "attachments" in error.fields:
                error.fields["file"] = error.fields.pop("attachments")
            raise
        return Response(
            AttachmentSerializer(attachment, context={"request": request}).data,
            status=status.HTTP_201_CREATED,
        )
