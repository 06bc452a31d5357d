"""Order pages, mounted at /orders/ (namespace "orders")."""

from __future__ import annotations

from django.urls import URLPattern, path

from sourcing import order_views as views

app_name = "orders"

urlpatterns: list[URLPattern] = [
    path("", views.po_list_page, name="list"),
    path("invoices/on-hold/", views.invoices_on_hold_page, name="on-hold"),
    path("<int:po_id>/", views.po_detail, name="detail"),
    path("<int:po_id>/pdf/", views.po_pdf_download, name="pdf"),
    path("<int:po_id>/issue/", views.po_issue_view, name="issue"),
    path("<int:po_id>/cancel/", views.po_cancel_view, name="cancel"),
    path("<int:po_id>/close/", views.po_close_view, name="close"),
    path("<int:po_id>/changes/", views.change_order_create, name="change"),
    path(
        "<int:po_id>/changes/<int:change_id>/decide/",
        views.change_order_decide_view,
        name="change-decide",
    ),
    path("<int:po_id>/receipts/", views.receipt_create, name="receipt"),
    path("<int:po_id>/invoices/", views.invoice_create, name="invoice"),
    path(
        "<int:po_id>/invoices/<int:invoice_id>/<str:action>/",
        views.invoice_action,
        name="invoice-action",
    ),
]
