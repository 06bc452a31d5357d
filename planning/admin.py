"""Admin: budgets and needs, read-only. A budget changes only through
planning.budgets.budget_revise (the budget pages and API), which keeps every version and the
audit trail; needs change through their board. Fiscal years and objectives are in the
procurement admin."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from planning.models import Budget, BudgetRevision, Consolidation, Need


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


REVISION_FIELDS = [
    "version",
    "amount",
    "on_exceed",
    "owner",
    "reason",
    "consumed_then",
    "below_consumed",
    "created_by",
    "created_at",
]


class BudgetRevisionInline(admin.TabularInline):
    model = BudgetRevision
    extra = 0
    fields = tuple(REVISION_FIELDS)
    readonly_fields = tuple(REVISION_FIELDS)
    ordering = ["-version"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Budget)
class BudgetAdmin(ReadOnlyAdmin):
    list_display = [
        "__str__",
        "fiscal_year",
        "cost_centre",
        "category",
        "objective",
        "owner",
        "amount",
        "on_exceed",
        "version",
    ]
    list_filter = ["fiscal_year", "on_exceed", "cost_centre"]
    search_fields = ["cost_centre__code", "objective__name"]
    list_select_related = ["fiscal_year", "cost_centre", "category", "objective", "owner"]
    inlines = [BudgetRevisionInline]


@admin.register(Need)
class NeedAdmin(ReadOnlyAdmin):
    list_display = ["title", "department", "objective", "status", "needed_by", "rough_budget"]
    list_filter = ["status", "department"]
    search_fields = ["title", "problem"]


@admin.register(Consolidation)
class ConsolidationAdmin(ReadOnlyAdmin):
    list_display = ["__str__", "kind", "purchase_request", "rfq", "created_by", "created_at"]
    list_filter = ["kind"]
