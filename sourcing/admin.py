"""Admin: the reference data procurement and finance keep (match tolerances, contract prices).
RFQs, quotes, orders and invoices change only through their pages and services, so the admin
shows them read-only."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import Q, QuerySet
from django.http import HttpRequest

from sourcing.models import (
    ContractPrice,
    Invoice,
    MatchTolerance,
    PurchaseOrder,
    Quote,
    Rfq,
    RfqState,
)


@admin.register(MatchTolerance)
class MatchToleranceAdmin(admin.ModelAdmin):
    list_display = ["vendor", "category", "price_percent", "quantity_percent"]
    autocomplete_fields = ["vendor"]


@admin.register(ContractPrice)
class ContractPriceAdmin(admin.ModelAdmin):
    list_display = ["description", "contract", "category", "unit", "unit_price"]
    list_filter = ["category"]
    search_fields = ["description", "contract__title", "contract__vendor__legal_name"]
    raw_id_fields = ["contract"]


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Rfq)
class RfqAdmin(ReadOnlyAdmin):
    list_display = ["reference", "title", "state", "deadline", "currency"]
    list_filter = ["state"]
    search_fields = ["title"]


@admin.register(Quote)
class QuoteAdmin(ReadOnlyAdmin):
    """Only the quotes of RFQs that were closed: a sealed quote's amounts are shown to nobody
    before the close, staff included (the same rule as sourcing.rfqs.rfq_is_sealed)."""

    list_display = ["invitation", "revision", "currency", "tco", "submitted_at", "superseded_at"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Quote]:
        sealed = Q(invitation__rfq__state__in=[RfqState.DRAFT, RfqState.OPEN]) | Q(
            invitation__rfq__state=RfqState.CANCELLED, invitation__rfq__closed_at__isnull=True
        )
        return super().get_queryset(request).exclude(sealed)


@admin.register(PurchaseOrder)
class PurchaseOrderAdmin(ReadOnlyAdmin):
    list_display = ["number", "vendor", "state", "currency", "total", "issued_at"]
    list_filter = ["state"]
    search_fields = ["number", "vendor__legal_name"]


@admin.register(Invoice)
class InvoiceAdmin(ReadOnlyAdmin):
    list_display = ["number", "vendor", "po", "state", "currency", "total", "invoice_date"]
    list_filter = ["state"]
    search_fields = ["number", "vendor__legal_name"]
