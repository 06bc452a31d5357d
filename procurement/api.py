"""What every API endpoint shares: pagination, the one JSON error shape, and the small
pieces each API module would otherwise write again (links, filter messages, responses).

Every error body is {"code": "...", "detail": "human message", "errors": {field: [messages]}}.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, cast

from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.db.models import QuerySet
from django.http import Http404
from django.urls import reverse
from django_fsm import ConcurrentTransition, TransitionNotAllowed
from drf_spectacular.utils import OpenApiResponse, inline_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework.views import exception_handler as drf_exception_handler

from procurement.errors import ApplicationError
from procurement.models import User


def signed_in_user(request: Request) -> User:
    # IsAuthenticated (the default permission) has already turned anonymous callers away.
    return cast(User, request.user)


def query_filters(
    request: Request, serializer_class: type[serializers.Serializer]
) -> dict[str, Any]:
    """A list endpoint's query parameters, validated (a 400 naming the bad one otherwise).

    An empty parameter (`?state=`, as a search form sends it) means "no filter".
    """
    given = {name: value for name, value in request.query_params.items() if value != ""}
    filters = serializer_class(data=given)
    filters.is_valid(raise_exception=True)
    return dict(filters.validated_data)


def unknown_choice(what: str, values: Iterable[str]) -> dict[str, Any]:
    """A choice field's `error_messages`: 'Unknown state "x". Use one of: a, b.'"""
    return {"invalid_choice": f'Unknown {what} "{{input}}". Use one of: ' + ", ".join(values) + "."}


def by_code(
    queryset: Any, what: str, *, help_text: str = "", **kwargs: Any
) -> serializers.SlugRelatedField:
    """A related object named by its `code` ("IT-100"), with "Unknown <what>" for a bad one."""
    return serializers.SlugRelatedField(
        slug_field="code",
        queryset=queryset,
        help_text=help_text or f"The {what}'s code.",
        error_messages={"does_not_exist": f'Unknown {what} "{{value}}".'},
        **kwargs,
    )


# Stands for the id while a URL is reversed once per view and response (absolute_url).
_ID_SENTINEL = 2_000_000_017


def absolute_url(request: Request, view_name: str, *args: Any) -> str:
    """The absolute URL of `view_name` with `args`.

    A list answers two URLs per row: reversing and building each one cost about a fifth of
    the requests list API's time (bench/web). For one integer id, the URL is reversed once
    per response with a stand-in id, and each row's id is put in its place.
    """
    if len(args) == 1 and isinstance(args[0], int):
        templates: dict[str, list[str]] = request.__dict__.setdefault("_url_templates", {})
        template = templates.get(view_name)
        if template is None:
            built = str(request.build_absolute_uri(reverse(view_name, args=[_ID_SENTINEL])))
            template = templates[view_name] = built.split(str(_ID_SENTINEL))
        if len(template) == 2:
            return f"{template[0]}{args[0]}{template[1]}"
    return str(request.build_absolute_uri(reverse(view_name, args=args)))


# --- The error body in the OpenAPI schema (exception_handler below builds it) ---

# Built inline because `errors` is also the name of a Serializer attribute.
ERROR_BODY = inline_serializer(
    name="Error",
    fields={
        "code": serializers.CharField(
            help_text="Stable machine-readable code: invalid, conflict..."
        ),
        "detail": serializers.CharField(help_text="One sentence for people."),
        "errors": serializers.DictField(
            child=serializers.ListField(child=serializers.CharField()),
            help_text='Messages per field, e.g. {"line_items[1].quantity": ["..."]}; may be empty.',
        ),
    },
)
ERROR_TEXT = {
    400: "Invalid input (field errors in `errors`), or a malformed body (code `parse_error`).",
    403: "Not authenticated, or not allowed to do this.",
    404: "No such object, or not visible to you.",
    409: "The object is not in a state that allows this.",
    413: "The body is larger than the server accepts (code `too_large`).",
    415: "Unsupported media type.",
    429: "Too many attempts; retry later.",
}


def error_responses(
    *codes: int, texts: Mapping[int, str] | None = None
) -> dict[int, OpenApiResponse]:
    """The schema's error responses for `codes`, described by `texts` where an API has its own words."""
    words = {**ERROR_TEXT, **(texts or {})}
    return {code: OpenApiResponse(ERROR_BODY, description=words[code]) for code in codes}


class Pagination(PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = 100


def object_response(body: Mapping[str, Any], *, status_code: int = status.HTTP_200_OK) -> Response:
    """One object's body; a 201 also names the new object's `url` in `Location`."""
    headers = {"Location": body["url"]} if status_code == status.HTTP_201_CREATED else None
    return Response(body, status=status_code, headers=headers)


def paginated_response(
    view: APIView,
    request: Request,
    rows: Any,
    serializer_class: type[serializers.BaseSerializer],
) -> Response:
    """One page of `rows` (?page=, ?page_size=) in `serializer_class`, with the page links."""
    paginator = Pagination()
    page: list[Any] | None = paginator.paginate_queryset(rows, request, view=view)
    body = serializer_class(page, many=True, context={"request": request}).data
    return paginator.get_paginated_response(body)


class _RowSource:
    """What Django's Paginator needs of a list: a count, and a slice for the page's rows."""

    def __init__(
        self, queryset: QuerySet[Any], rows: Callable[[QuerySet[Any]], list[dict[str, Any]]]
    ) -> None:
        self.queryset = queryset
        self.rows = rows

    @property
    def ordered(self) -> bool:  # read by the Paginator, which warns about an unordered list
        return self.queryset.ordered

    def count(self) -> int:
        return self.queryset.count()

    def __getitem__(self, page: slice) -> list[dict[str, Any]]:
        return self.rows(self.queryset[page])


def paginated_rows(
    view: APIView,
    request: Request,
    queryset: QuerySet[Any],
    rows: Callable[[QuerySet[Any]], list[dict[str, Any]]],
) -> Response:
    """One page of `queryset` as paginated_response answers it, for a list that builds its
    JSON rows itself: `rows` turns the page's slice of `queryset` into them (typically from
    `.values()`, without model instances or a serializer). The count is of `queryset` as it
    is, so the joins `rows` adds for the page are not in the COUNT query."""
    paginator = Pagination()
    page: list[Any] | None = paginator.paginate_queryset(
        cast(Any, _RowSource(queryset, rows)), request, view=view
    )
    return paginator.get_paginated_response(page)


def _flatten(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested errors as {"line_items[1].quantity": ["..."]}: one key per bad field."""
    if isinstance(detail, dict):
        out: dict[str, list[str]] = {}
        for key, value in detail.items():
            if prefix and key == "non_field_errors":
                # About the nested object as a whole ("line_items" is not a list): name the object.
                out.update(_flatten(value, prefix))
            elif isinstance(key, int):
                # DRF 3.18 reports a list's bad items as {index: errors}, not as a list.
                out.update(_flatten(value, f"{prefix}[{key}]"))
            else:
                out.update(_flatten(value, f"{prefix}.{key}" if prefix else str(key)))
        return out
    if isinstance(detail, list) and any(isinstance(item, dict | list) for item in detail):
        out = {}
        for index, item in enumerate(detail):
            out.update(_flatten(item, f"{prefix}[{index}]"))
        return out
    items = detail if isinstance(detail, list) else [detail]
    return {prefix or "non_field_errors": [str(item) for item in items]} if items else {}


def error_response(
    *, status_code: int, code: str, detail: str, errors: dict[str, list[str]] | None = None
) -> Response:
    return Response({"code": code, "detail": detail, "errors": errors or {}}, status=status_code)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, ApplicationError):
        return error_response(
            status_code=exc.status, code=exc.code, detail=exc.message, errors=exc.fields
        )
    if isinstance(exc, ConcurrentTransition):
        return error_response(
            status_code=status.HTTP_409_CONFLICT,
            code="conflict",
            detail="Someone else changed this request at the same time. Reload and try again.",
        )
    if isinstance(exc, TransitionNotAllowed):
        return error_response(
            status_code=status.HTTP_409_CONFLICT, code="conflict", detail=str(exc)
        )
    if isinstance(exc, RequestDataTooBig):
        # Django raises it while DRF reads the body; unhandled, it would become an HTML 400 page.
        return error_response(
            status_code=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
            code="too_large",
            detail="The request body is too large.",
        )
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()

    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        errors = _flatten(exc.detail)
        field, messages = next(iter(errors.items()), ("non_field_errors", ["Invalid input."]))
        # "This field is required." alone does not say which field: name it.
        first = messages[0] if field == "non_field_errors" else f"{field}: {messages[0]}"
        response.data = {"code": "invalid", "detail": first, "errors": errors}
    elif isinstance(exc, exceptions.APIException):
        detail = exc.detail
        message = str(detail if not isinstance(detail, dict | list) else exc.default_detail)
        codes = exc.get_codes()
        response.data = {
            "code": codes if isinstance(codes, str) else exc.default_code,
            "detail": message,
            "errors": {},
        }
    return response
