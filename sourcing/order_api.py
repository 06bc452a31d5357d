"""The REST API of purchase orders, receipts and invoices, mounted at /api/orders/
(namespace "order_api"). See docs/sourcing/orders.md.

One APIView per operation, small input and output serializers; the rules live in
sourcing/orders.py, receipts.py and invoices.py, so the API and the pages refuse the same
things with the same messages. Errors leave through procurement.api.exception_handler as
{"code", "detail", "errors"}.
"""

from __future__ import annotations

from decimal import Decimal
from functools import partial
from typing import Any

from drf_spectacular.utils import (
    OpenApiExample,
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
    paginated_response,
    query_filters,
    signed_in_user,
    unknown_choice,
)
from sourcing.invoices import invoice_record, invoice_reject, invoice_release, invoice_rematch
from sourcing.models import (
    ChangeOrder,
    ChangeOrderState,
    Invoice,
    InvoiceState,
    PoState,
    PurchaseOrder,
    Receipt,
)
from sourcing.order_selectors import (
    po_available_actions,
    po_get,
    po_invoices,
    po_line_statuses,
    po_list,
    po_receipts,
)
from sourcing.orders import (
    ChangeLineInput,
    change_order_decide,
    change_order_request,
    po_cancel,
    po_close,
    po_issue,
)
from sourcing.receipts import receipt_record

_user = signed_in_user

_ERROR_TEXT = {
    400: "Invalid input; `errors` names each bad field (`quantity_<line id>`, `lines[0].unit_price`...).",
    404: "No such purchase order (or change order, invoice), or not visible to you.",
    409: "The order, change or invoice is not in a state that allows this.",
}
_errors = partial(error_responses, texts=_ERROR_TEXT)


# --- Output ----------------------------------------------------------------------------


class OrderVendorSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    legal_name = serializers.CharField()
    state = serializers.CharField()


class PurchaseOrderLineSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="line.pk")
    description = serializers.CharField(source="line.description")
    category = serializers.IntegerField(source="line.category_id")
    unit = serializers.CharField(source="line.unit")
    unit_price = serializers.DecimalField(source="line.unit_price", max_digits=14, decimal_places=2)
    ordered = serializers.DecimalField(max_digits=12, decimal_places=3)
    received = serializers.DecimalField(max_digits=12, decimal_places=3)
    invoiced = serializers.DecimalField(
        max_digits=12, decimal_places=3, help_text="On invoices not rejected."
    )
    amount = serializers.DecimalField(max_digits=16, decimal_places=2)


class ChangeOrderSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    po = serializers.IntegerField(source="po_id")
    number = serializers.IntegerField()
    state = serializers.ChoiceField(choices=ChangeOrderState.choices)
    reason = serializers.CharField()
    lines = serializers.JSONField(help_text="The PO's lines as they are (to be) after it.")
    old_total = serializers.DecimalField(max_digits=16, decimal_places=2)
    new_total = serializers.DecimalField(max_digits=16, decimal_places=2)
    approver_role = serializers.CharField(help_text="Empty when applied within the tolerance.")
    requested_by = serializers.CharField(source="requested_by.username")
    requested_at = serializers.DateTimeField()
    decided_by = serializers.CharField(source="decided_by.username", allow_null=True)
    decided_at = serializers.DateTimeField(allow_null=True)
    decision_comment = serializers.CharField()


class ReceiptLineSerializer(serializers.Serializer):
    line = serializers.IntegerField(source="po_line_id")
    quantity = serializers.DecimalField(max_digits=12, decimal_places=3)


class ReceiptSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    po = serializers.IntegerField(source="po_id")
    received_on = serializers.DateField()
    received_by = serializers.CharField(source="received_by.username")
    recorded_at = serializers.DateTimeField()
    note = serializers.CharField()
    lines = ReceiptLineSerializer(many=True, source="lines.all")


class HoldReasonSerializer(serializers.Serializer):
    line_id = serializers.IntegerField(allow_null=True, help_text="The PO line, if any.")
    code = serializers.CharField(
        help_text="currency, price, not_received, over_received, over_ordered, total, over_po_total"
    )
    message = serializers.CharField()


class InvoiceLineSerializer(serializers.Serializer):
    line = serializers.IntegerField(source="po_line_id")
    quantity = serializers.DecimalField(max_digits=12, decimal_places=3)
    unit_price = serializers.DecimalField(max_digits=14, decimal_places=2)


class InvoiceSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    po = serializers.IntegerField(source="po_id")
    number = serializers.CharField()
    invoice_date = serializers.DateField()
    currency = serializers.CharField()
    total = serializers.DecimalField(max_digits=16, decimal_places=2)
    state = serializers.ChoiceField(choices=InvoiceState.choices)
    hold_reasons = HoldReasonSerializer(many=True)
    recorded_by = serializers.CharField(source="recorded_by.username")
    recorded_at = serializers.DateTimeField()
    resolved_by = serializers.CharField(source="resolved_by.username", allow_null=True)
    resolution = serializers.CharField()
    spend_recorded_at = serializers.DateTimeField(allow_null=True)
    lines = InvoiceLineSerializer(many=True, source="lines.all")


class PurchaseOrderSummarySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.CharField()
    version = serializers.IntegerField()
    state = serializers.ChoiceField(choices=PoState.choices)
    state_label = serializers.CharField(source="get_state_display")
    vendor = OrderVendorSerializer()
    request = serializers.IntegerField(source="request_id")
    award = serializers.IntegerField(source="award_id", allow_null=True)
    contract = serializers.IntegerField(source="contract_id", allow_null=True)
    currency = serializers.CharField()
    total = serializers.DecimalField(max_digits=16, decimal_places=2)
    approved_total = serializers.DecimalField(max_digits=16, decimal_places=2)
    delivery_date = serializers.DateField(allow_null=True)
    created_at = serializers.DateTimeField()
    url = serializers.SerializerMethodField()

    def get_url(self, obj: PurchaseOrder) -> str:
        return absolute_url(self.context["request"], "order_api:detail", obj.pk)


class PurchaseOrderSerializer(PurchaseOrderSummarySerializer):
    contact_email = serializers.EmailField()
    terms = serializers.CharField()
    state_reason = serializers.CharField()
    issued_at = serializers.DateTimeField(allow_null=True)
    acknowledged_at = serializers.DateTimeField(allow_null=True)
    closed_at = serializers.DateTimeField(allow_null=True)
    lines = serializers.SerializerMethodField()
    change_orders = serializers.SerializerMethodField()
    receipts = serializers.SerializerMethodField()
    invoices = serializers.SerializerMethodField()
    available_actions = serializers.SerializerMethodField(
        help_text="What the caller may do now: issue, cancel, close, change, receive, invoice."
    )
    web_url = serializers.SerializerMethodField()
    pdf_url = serializers.SerializerMethodField()

    @extend_schema_field(PurchaseOrderLineSerializer(many=True))
    def get_lines(self, obj: PurchaseOrder) -> list[dict[str, Any]]:
        return list(PurchaseOrderLineSerializer(po_line_statuses(obj), many=True).data)

    @extend_schema_field(ChangeOrderSerializer(many=True))
    def get_change_orders(self, obj: PurchaseOrder) -> list[dict[str, Any]]:
        changes = obj.change_orders.select_related("requested_by", "decided_by").order_by("number")
        return list(ChangeOrderSerializer(changes, many=True).data)

    @extend_schema_field(ReceiptSerializer(many=True))
    def get_receipts(self, obj: PurchaseOrder) -> list[dict[str, Any]]:
        return list(ReceiptSerializer(po_receipts(obj), many=True).data)

    @extend_schema_field(InvoiceSerializer(many=True))
    def get_invoices(self, obj: PurchaseOrder) -> list[dict[str, Any]]:
        return list(InvoiceSerializer(po_invoices(obj), many=True).data)

    def get_available_actions(self, obj: PurchaseOrder) -> list[str]:
        return po_available_actions(po=obj, user=_user(self.context["request"]))

    def get_web_url(self, obj: PurchaseOrder) -> str:
        return absolute_url(self.context["request"], "orders:detail", obj.pk)

    def get_pdf_url(self, obj: PurchaseOrder) -> str:
        return absolute_url(self.context["request"], "orders:pdf", obj.pk)


def _po_response(
    request: Request, po_id: int, *, status_code: int = status.HTTP_200_OK
) -> Response:
    po = po_get(by=_user(request), po_id=po_id)
    return Response(
        PurchaseOrderSerializer(po, context={"request": request}).data, status=status_code
    )


def _require_visible(request: Request, po_id: int) -> PurchaseOrder:
    # Looked up before the body is read: a PO the caller cannot see is a 404 whatever was sent.
    return po_get(by=_user(request), po_id=po_id)


# --- Input -----------------------------------------------------------------------------


class OrderFilterSerializer(serializers.Serializer):
    state = serializers.ChoiceField(
        choices=PoState.choices,
        required=False,
        error_messages=unknown_choice("state", PoState.values),
    )


class OrderReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=5000, help_text="Why; kept in the order's history.")


class ChangeOrderLineInputSerializer(serializers.Serializer):
    line_id = serializers.IntegerField(
        required=False,
        allow_null=True,
        help_text="The PO line this edits; leave out to add a line.",
    )
    description = serializers.CharField(max_length=300)
    category = serializers.IntegerField(help_text="Category id.")
    quantity = serializers.DecimalField(max_digits=12, decimal_places=3)
    unit = serializers.CharField(max_length=20, required=False, default="each")
    unit_price = serializers.DecimalField(max_digits=14, decimal_places=2)


class ChangeOrderInputSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=5000)
    lines = ChangeOrderLineInputSerializer(
        many=True,
        help_text="Every line the PO should have after the change; a line left out is removed.",
    )


class ChangeOrderDecisionSerializer(serializers.Serializer):
    action = serializers.ChoiceField(choices=[("approve", "approve"), ("refuse", "refuse")])
    comment = serializers.CharField(
        max_length=5000,
        required=False,
        allow_blank=True,
        default="",
        help_text="Required to refuse.",
    )


def _no_repeated_lines(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: set[int] = set()
    for row in rows:
        if row["line"] in seen:
            raise serializers.ValidationError(f"Line {row['line']} is listed twice.")
        seen.add(row["line"])
    return rows


class ReceiptLineInputSerializer(serializers.Serializer):
    line = serializers.IntegerField(help_text="PO line id.")
    quantity = serializers.DecimalField(max_digits=12, decimal_places=3)


class ReceiptInputSerializer(serializers.Serializer):
    received_on = serializers.DateField()
    note = serializers.CharField(max_length=5000, required=False, allow_blank=True, default="")
    lines = ReceiptLineInputSerializer(many=True)

    def validate_lines(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return _no_repeated_lines(rows)


class InvoiceLineInputSerializer(serializers.Serializer):
    line = serializers.IntegerField(help_text="PO line id.")
    quantity = serializers.DecimalField(max_digits=12, decimal_places=3)
    unit_price = serializers.DecimalField(max_digits=14, decimal_places=2)


class InvoiceInputSerializer(serializers.Serializer):
    number = serializers.CharField(max_length=60, help_text="The vendor's invoice number.")
    invoice_date = serializers.DateField()
    currency = serializers.CharField(max_length=3)
    total = serializers.DecimalField(max_digits=16, decimal_places=2, help_text="As printed.")
    lines = InvoiceLineInputSerializer(many=True)

    def validate_lines(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return _no_repeated_lines(rows)


_RECEIPT_TOO_MUCH = OpenApiExample(
    "Receiving more than ordered",
    response_only=True,
    status_codes=["400"],
    value={
        "code": "invalid",
        "detail": "Nothing was recorded. “Laptop, 14 inch”: Only 1 of 2 is still to be received.",
        "errors": {"quantity_12": ["Only 1 of 2 is still to be received."]},
    },
)
_INVOICE_DUPLICATE = OpenApiExample(
    "An invoice number the vendor already used",
    response_only=True,
    status_codes=["400"],
    value={
        "code": "invalid",
        "detail": "The invoice was not recorded: Northwind Hardware Ltd already has invoice "
        "INV-1001 (recorded on 03 Mar 2026 against PO-2026-000001).",
        "errors": {
            "number": [
                "Northwind Hardware Ltd already has invoice INV-1001 (recorded on 03 Mar 2026 "
                "against PO-2026-000001)."
            ]
        },
    },
)


# --- Views -----------------------------------------------------------------------------


class OrderListApi(APIView):
    pagination_class = Pagination  # read by the schema generator for the paginated list
    parser_classes = [JSONParser]

    @extend_schema(
        operation_id="orders_list",
        summary="List the purchase orders you can see, newest first",
        parameters=[OrderFilterSerializer],
        responses={200: PurchaseOrderSummarySerializer(many=True), **_errors(400, 403)},
        tags=["orders"],
    )
    def get(self, request: Request) -> Response:
        data = query_filters(request, OrderFilterSerializer)
        pos = po_list(by=_user(request), state=data.get("state", ""))
        return paginated_response(self, request, pos, PurchaseOrderSummarySerializer)


class OrderDetailApi(APIView):
    @extend_schema(
        operation_id="orders_retrieve",
        summary="A purchase order with its lines, changes, receipts and invoices",
        responses={200: PurchaseOrderSerializer, **_errors(403, 404)},
        tags=["orders"],
    )
    def get(self, request: Request, po_id: int) -> Response:
        return _po_response(request, po_id)


class OrderIssueApi(APIView):
    @extend_schema(
        operation_id="orders_issue",
        summary="Issue a draft PO: the vendor is emailed the PDF and the acknowledgement link",
        request=None,
        responses={200: PurchaseOrderSerializer, **_errors(403, 404, 409)},
        tags=["orders"],
    )
    def post(self, request: Request, po_id: int) -> Response:
        _require_visible(request, po_id)
        po_issue(po_id=po_id, by=_user(request))
        return _po_response(request, po_id)


class OrderCancelApi(APIView):
    parser_classes = [JSONParser]

    @extend_schema(
        operation_id="orders_cancel",
        summary="Cancel a PO nothing was received against",
        request=OrderReasonSerializer,
        responses={200: PurchaseOrderSerializer, **_errors(400, 403, 404, 409)},
        tags=["orders"],
    )
    def post(self, request: Request, po_id: int) -> Response:
        _require_visible(request, po_id)
        serializer = OrderReasonSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        po_cancel(po_id=po_id, by=_user(request), reason=serializer.validated_data["reason"])
        return _po_response(request, po_id)


class OrderCloseApi(APIView):
    @extend_schema(
        operation_id="orders_close",
        summary="Close a PO received in full with no invoice on hold",
        request=None,
        responses={200: PurchaseOrderSerializer, **_errors(403, 404, 409)},
        tags=["orders"],
    )
    def post(self, request: Request, po_id: int) -> Response:
        _require_visible(request, po_id)
        po_close(po_id=po_id, by=_user(request))
        return _po_response(request, po_id)


class ChangeOrderCreateApi(APIView):
    parser_classes = [JSONParser]

    @extend_schema(
        operation_id="orders_change_orders_create",
        summary="Change a PO's lines: applied at once within the tolerance, else sent for approval",
        request=ChangeOrderInputSerializer,
        responses={201: ChangeOrderSerializer, **_errors(400, 403, 404, 409)},
        tags=["orders"],
    )
    def post(self, request: Request, po_id: int) -> Response:
        _require_visible(request, po_id)
        serializer = ChangeOrderInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        change = change_order_request(
            po_id=po_id,
            by=_user(request),
            reason=data["reason"],
            lines=[
                ChangeLineInput(
                    line_id=line.get("line_id"),
                    description=line["description"],
                    category_id=line["category"],
                    quantity=line["quantity"],
                    unit=line.get("unit") or "each",
                    unit_price=line["unit_price"],
                )
                for line in data["lines"]
            ],
        )
        return _change_response(change.pk, status_code=status.HTTP_201_CREATED)


def _change_response(change_id: int, *, status_code: int = status.HTTP_200_OK) -> Response:
    change = ChangeOrder.objects.select_related("requested_by", "decided_by").get(pk=change_id)
    return Response(ChangeOrderSerializer(change).data, status=status_code)


class ChangeOrderDecideApi(APIView):
    parser_classes = [JSONParser]

    @extend_schema(
        operation_id="orders_change_orders_decide",
        summary="Approve (apply) or refuse a change awaiting approval",
        request=ChangeOrderDecisionSerializer,
        responses={200: ChangeOrderSerializer, **_errors(400, 403, 404, 409)},
        tags=["orders"],
    )
    def post(self, request: Request, change_order_id: int) -> Response:
        serializer = ChangeOrderDecisionSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        change_order_decide(
            change_order_id=change_order_id,
            by=_user(request),
            action=serializer.validated_data["action"],
            comment=serializer.validated_data["comment"],
        )
        return _change_response(change_order_id)


class ReceiptCreateApi(APIView):
    parser_classes = [JSONParser]

    @extend_schema(
        operation_id="orders_receipts_create",
        summary="Record what arrived against a PO (in full or in part)",
        request=ReceiptInputSerializer,
        responses={201: ReceiptSerializer, **_errors(400, 403, 404, 409)},
        examples=[_RECEIPT_TOO_MUCH],
        tags=["orders"],
    )
    def post(self, request: Request, po_id: int) -> Response:
        _require_visible(request, po_id)
        serializer = ReceiptInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        receipt = receipt_record(
            po_id=po_id,
            by=_user(request),
            received_on=data["received_on"],
            note=data["note"],
            lines={row["line"]: row["quantity"] for row in data["lines"]},
        )
        receipt = Receipt.objects.select_related("received_by").get(pk=receipt.pk)
        return Response(ReceiptSerializer(receipt).data, status=status.HTTP_201_CREATED)


def _invoice_response(invoice_id: int, *, status_code: int = status.HTTP_200_OK) -> Response:
    invoice = Invoice.objects.select_related("recorded_by", "resolved_by").get(pk=invoice_id)
    return Response(InvoiceSerializer(invoice).data, status=status_code)


class InvoiceCreateApi(APIView):
    parser_classes = [JSONParser]

    @extend_schema(
        operation_id="orders_invoices_create",
        summary="Record a vendor's invoice against a PO and match it three ways",
        description="Returns the invoice `matched` (and counted as spend) or `on_hold` with "
        "`hold_reasons`; finance is emailed about a hold.",
        request=InvoiceInputSerializer,
        responses={201: InvoiceSerializer, **_errors(400, 403, 404, 409)},
        examples=[_INVOICE_DUPLICATE],
        tags=["orders"],
    )
    def post(self, request: Request, po_id: int) -> Response:
        _require_visible(request, po_id)
        serializer = InvoiceInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        invoice = invoice_record(
            po_id=po_id,
            by=_user(request),
            number=data["number"],
            invoice_date=data["invoice_date"],
            currency=data["currency"],
            total=data["total"],
            lines={
                row["line"]: (Decimal(row["quantity"]), Decimal(row["unit_price"]))
                for row in data["lines"]
            },
        )
        return _invoice_response(invoice.pk, status_code=status.HTTP_201_CREATED)


class InvoiceReleaseApi(APIView):
    parser_classes = [JSONParser]

    @extend_schema(
        operation_id="orders_invoices_release",
        summary="Release a held invoice for payment (finance): it becomes spend",
        request=OrderReasonSerializer,
        responses={200: InvoiceSerializer, **_errors(400, 403, 404, 409)},
        tags=["orders"],
    )
    def post(self, request: Request, invoice_id: int) -> Response:
        serializer = OrderReasonSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        invoice_release(
            invoice_id=invoice_id, by=_user(request), reason=serializer.validated_data["reason"]
        )
        return _invoice_response(invoice_id)


class InvoiceRejectApi(APIView):
    parser_classes = [JSONParser]

    @extend_schema(
        operation_id="orders_invoices_reject",
        summary="Reject a held invoice (finance)",
        request=OrderReasonSerializer,
        responses={200: InvoiceSerializer, **_errors(400, 403, 404, 409)},
        tags=["orders"],
    )
    def post(self, request: Request, invoice_id: int) -> Response:
        serializer = OrderReasonSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        invoice_reject(
            invoice_id=invoice_id, by=_user(request), reason=serializer.validated_data["reason"]
        )
        return _invoice_response(invoice_id)


class InvoiceRematchApi(APIView):
    @extend_schema(
        operation_id="orders_invoices_rematch",
        summary="Run the 3-way match of a held invoice again",
        request=None,
        responses={200: InvoiceSerializer, **_errors(403, 404, 409)},
        tags=["orders"],
    )
    def post(self, request: Request, invoice_id: int) -> Response:
        invoice_rematch(invoice_id=invoice_id, by=_user(request))
        return _invoice_response(invoice_id)
