"""The spend import API, mounted at /api/analytics/imports/ (namespace "spend-imports-api").

POST a CSV with its source and column mapping in one multipart request: the file is stored,
the mapping checked against its header row, and the import queued (202). Then poll the
import's URL for its state, progress and report. The rules live in analytics/services.py
and analytics/importing.py, so the API and the pages refuse the same things with the same
messages. Only procurement, finance and admins may import spend.
"""

from __future__ import annotations

import json
from functools import partial
from typing import Any

from django.conf import settings
from django.db import transaction
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    extend_schema_field,
)
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from analytics.models import SpendImport
from analytics.scope import spend_may_import
from analytics.services import (
    spend_import_confirm,
    spend_import_upload,
    spend_source_get_or_create,
)
from procurement.api import (
    Pagination,
    absolute_url,
    error_responses,
    paginated_response,
    signed_in_user,
)
from procurement.errors import InvalidInput, NotAllowed, NotFound
from procurement.files import files_removed_on_error

PROBLEMS_SHOWN = 100

_ERROR_TEXT = {
    400: "Invalid input: a bad file, source or mapping; `errors` names each bad field "
    "(mapping errors as `mapping.<field>`).",
    403: "Not authenticated, or not allowed to import spend (procurement, finance, admins).",
    404: "No such import.",
}
_errors = partial(error_responses, texts=_ERROR_TEXT)


_IMPORT_ID = OpenApiParameter("import_id", int, OpenApiParameter.PATH, description="Import id.")


def _require_importer(request: Request) -> None:
    if not spend_may_import(signed_in_user(request)):
        raise NotAllowed("Only procurement, finance and admins import spend.")


# --- Output ----------------------------------------------------------------------------


class SpendImportSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    filename = serializers.CharField()
    # DRF's metaclass takes declared fields off the class, so "source" shadows nothing.
    source = serializers.CharField(source="source.name")  # type: ignore[assignment]
    # A plain string in the schema: an enum would need an ENUM_NAME_OVERRIDES entry to avoid
    # colliding with the other "state" enums.
    state = serializers.CharField(help_text="queued, running, done or failed.")
    state_label = serializers.CharField(source="get_state_display")
    started = serializers.SerializerMethodField(
        help_text="False while the upload waits for its column mapping (from the web page)."
    )
    progress_percent = serializers.IntegerField()
    file_size = serializers.IntegerField()
    rows_read = serializers.IntegerField()
    rows_imported = serializers.IntegerField()
    rows_already_imported = serializers.IntegerField(
        help_text="Rows whose transaction was already in the ledger for this source."
    )
    rows_bad = serializers.IntegerField()
    rows_blank = serializers.IntegerField()
    total_base_amount = serializers.DecimalField(
        max_digits=18, decimal_places=2, help_text="Sum of the imported lines in base_currency."
    )
    base_currency = serializers.SerializerMethodField()
    error = serializers.CharField(help_text="Why the import failed; empty otherwise.")
    created_by = serializers.CharField(source="created_by.username", default=None)
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    url = serializers.SerializerMethodField()
    web_url = serializers.SerializerMethodField()

    def get_started(self, obj: SpendImport) -> bool:
        return obj.started_at is not None

    def get_base_currency(self, obj: SpendImport) -> str:
        return str(settings.BASE_CURRENCY)

    def get_url(self, obj: SpendImport) -> str:
        return absolute_url(self.context["request"], "spend-imports-api:detail", obj.pk)

    def get_web_url(self, obj: SpendImport) -> str:
        return absolute_url(self.context["request"], "spend_imports:detail", obj.pk)


class ImportProblemSerializer(serializers.Serializer):
    line_number = serializers.IntegerField(help_text="Line of the file, the header being line 1.")
    column = serializers.CharField()
    message = serializers.CharField()


class SpendImportDetailSerializer(SpendImportSerializer):
    mapping = serializers.JSONField(help_text="The column mapping the import used.")
    problems = serializers.SerializerMethodField(
        help_text=f"The first {PROBLEMS_SHOWN} rows not imported, by line number."
    )

    @extend_schema_field(ImportProblemSerializer(many=True))
    def get_problems(self, obj: SpendImport) -> list[dict[str, Any]]:
        problems = obj.problems.all()[:PROBLEMS_SHOWN]
        return list(ImportProblemSerializer(problems, many=True).data)


# --- Input -----------------------------------------------------------------------------


class SpendImportInputSerializer(serializers.Serializer):
    source = serializers.CharField(  # type: ignore[assignment]  # see SpendImportSerializer
        max_length=120,
        help_text="The source's name; a new name creates the source. Its saved mapping is "
        "updated with this one.",
    )
    currency = serializers.CharField(
        max_length=3,
        required=False,
        allow_blank=True,
        default="",
        help_text="A new source's currency (default: the base currency); ignored otherwise.",
    )
    file = serializers.FileField(help_text="The CSV file, with a header row.")
    mapping = serializers.CharField(
        help_text='JSON: {"columns": {"date": "Date paid", "amount": "Net amount", '
        '"supplier": "Supplier name", "reference": "Transaction number", "category": "", '
        '"department": "", "description": "", "currency": "", "quantity": ""}, '
        '"day_first": true}. date, amount and supplier are required; "" = not in the file.'
    )

    def validate_mapping(self, value: str) -> Any:
        try:
            return json.loads(value)
        except ValueError:
            raise serializers.ValidationError("Not valid JSON.") from None


def _mapping_errors(error: InvalidInput) -> InvalidInput:
    """The mapping's field errors named as parts of `mapping`, like the request body has them."""
    fields = {
        key if key == "mapping" else f"mapping.{key}": messages
        for key, messages in error.fields.items()
    }
    return InvalidInput(error.message, fields=fields)


# --- Views -----------------------------------------------------------------------------


class SpendImportListCreateApi(APIView):
    pagination_class = Pagination  # read by the schema generator for the paginated list
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        operation_id="analytics_imports_list",
        summary="Spend imports, newest first",
        responses={200: SpendImportSerializer(many=True), **_errors(403)},
        tags=["analytics"],
    )
    def get(self, request: Request) -> Response:
        _require_importer(request)
        imports = SpendImport.objects.select_related("source", "created_by")
        return paginated_response(self, request, imports, SpendImportSerializer)

    @extend_schema(
        operation_id="analytics_imports_create",
        summary="Import a spend CSV (multipart: source, currency, file, mapping)",
        description=(
            "Stores the file, checks the mapping against its header row and queues the "
            "import. Answers 202 at once; poll `url` until `state` is `done` or `failed`."
        ),
        request={"multipart/form-data": SpendImportInputSerializer},
        responses={202: SpendImportSerializer, **_errors(400, 403, 413, 415)},
        tags=["analytics"],
    )
    def post(self, request: Request) -> Response:
        _require_importer(request)
        serializer = SpendImportInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        user = signed_in_user(request)
        # One transaction: a bad mapping leaves no source, no import and (below) no file.
        with files_removed_on_error() as stored, transaction.atomic():
            source = spend_source_get_or_create(name=data["source"], currency=data["currency"])
            spend_import = spend_import_upload(source=source, upload=data["file"], user=user)
            stored.append(str(spend_import.file.name))
            try:
                spend_import_confirm(spend_import=spend_import, mapping=data["mapping"], user=user)
            except InvalidInput as error:
                raise _mapping_errors(error) from None
        # Where tasks run in-process the import may already be done. (A protected state
        # field cannot be refreshed in place.)
        spend_import = SpendImport.objects.select_related("source", "created_by").get(
            pk=spend_import.pk
        )
        body = SpendImportSerializer(spend_import, context={"request": request}).data
        return Response(body, status=status.HTTP_202_ACCEPTED, headers={"Location": body["url"]})


class SpendImportDetailApi(APIView):
    @extend_schema(
        operation_id="analytics_imports_retrieve",
        summary="A spend import: state, progress, counts and the first problems",
        parameters=[_IMPORT_ID],
        responses={200: SpendImportDetailSerializer, **_errors(403, 404)},
        tags=["analytics"],
    )
    def get(self, request: Request, import_id: int) -> Response:
        _require_importer(request)
        spend_import = (
            SpendImport.objects.select_related("source", "created_by").filter(pk=import_id).first()
        )
        if spend_import is None:
            raise NotFound("No such import.")
        body = SpendImportDetailSerializer(spend_import, context={"request": request}).data
        return Response(body)
