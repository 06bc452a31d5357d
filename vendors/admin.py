"""Admin: configuration (vendor types and their checklists, questionnaire templates) and a
read-mostly view of records. Vendor states, checks, bank details and contracts change
through the app's pages and API, where the services enforce the rules and the audit trail.
"""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from vendors.models import (
    ChecklistItem,
    Contract,
    SanctionsList,
    SanctionsMatch,
    Vendor,
    VendorType,
)


class ChecklistItemInline(admin.TabularInline):
    model = ChecklistItem
    extra = 0


@admin.register(VendorType)
class VendorTypeAdmin(admin.ModelAdmin):
    list_display = ["name", "code", "requires_security_assessment"]
    prepopulated_fields = {"code": ("name",)}
    inlines = [ChecklistItemInline]


class ReadOnlyAdmin(admin.ModelAdmin):
    """Shown for looking up; changed only through the services (pages, API, commands)."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Vendor)
class VendorAdmin(ReadOnlyAdmin):
    list_display = ["legal_name", "country", "state", "risk_tier", "owner"]
    list_filter = ["state", "risk_tier", "vendor_type"]
    search_fields = ["legal_name", "registration_number", "tax_number"]
    exclude = [
        "bank_account_name",
        "bank_iban",
        "bank_bic",
        "bank_account_number",
        "bank_routing_code",
    ]


@admin.register(Contract)
class ContractAdmin(ReadOnlyAdmin):
    list_display = ["title", "vendor", "state", "end_date", "notice_deadline", "owner"]
    list_filter = ["state"]
    search_fields = ["title", "vendor__legal_name"]


@admin.register(SanctionsList)
class SanctionsListAdmin(ReadOnlyAdmin):
    list_display = ["source", "imported_at", "entry_count", "file_name"]


@admin.register(SanctionsMatch)
class SanctionsMatchAdmin(ReadOnlyAdmin):
    list_display = ["vendor", "listed_name", "source", "score", "status"]
    list_filter = ["status", "source"]


# Questionnaire templates (versioned) are registered in vendors/admin_questionnaires.py.
from vendors import admin_questionnaires  # noqa: E402,F401
