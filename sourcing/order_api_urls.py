"""The orders API, mounted at /api/orders/ (namespace "order_api"). See docs/sourcing/orders.md."""

from __future__ import annotations

from django.urls import URLPattern, path

from sourcing import order_api as api

app_name = "order_api"

urlpatterns: list[URLPattern] = [
    path("", api.OrderListApi.as_view(), name="list"),
    path("<int:po_id>/", api.OrderDetailApi.as_view(), name="detail"),
    path("<int:po_id>/issue/", api.OrderIssueApi.as_view(), name="issue"),
    path("<int:po_id>/cancel/", api.OrderCancelApi.as_view(), name="cancel"),
    path("<int:po_id>/close/", api.OrderCloseApi.as_view(), name="close"),
    path("<int:po_id>/change-orders/", api.ChangeOrderCreateApi.as_view(), name="change-create"),
    path(
        "change-orders/<int:change_order_id>/decide/",
        api.ChangeOrderDecideApi.as_view(),
        name="change-decide",
    ),
    path("<int:po_id>/receipts/", api.ReceiptCreateApi.as_view(), name="receipt-create"),
    path("<int:po_id>/invoices/", api.InvoiceCreateApi.as_view(), name="invoice-create"),
    path(
        "invoices/<int:invoice_id>/release/",
        api.InvoiceReleaseApi.as_view(),
        name="invoice-release",
    ),
    path(
        "invoices/<int:invoice_id>/reject/", api.InvoiceRejectApi.as_view(), name="invoice-reject"
    ),
    path(
        "invoices/<int:invoice_id>/rematch/",
        api.InvoiceRematchApi.as_view(),
        name="invoice-rematch",
    ),
]
