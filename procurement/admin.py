from __future__ import annotations

from typing import cast

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db import transaction
from django.forms import ModelForm
from django.http import HttpRequest

from procurement.models import (
    AuditEntry,
    Category,
    CostCentre,
    Department,
    ExchangeRate,
    FiscalYear,
    Objective,
    User,
    UserRole,
)
from procurement.services import audit_record


class CostCentreInline(admin.TabularInline):
    model = CostCentre
    extra = 0


@admin.register(Department)
class DepartmentAdmin(admin.ModelAdmin):
    list_display = ["name", "code", "head"]
    search_fields = ["name", "code"]
    autocomplete_fields = ["head"]
    inlines = [CostCentreInline]


@admin.register(CostCentre)
class CostCentreAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "department", "is_active"]
    list_filter = ["department", "is_active"]
    search_fields = ["code", "name"]


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ["name", "code", "is_active"]
    prepopulated_fields = {"code": ["name"]}


@admin.register(ExchangeRate)
class ExchangeRateAdmin(admin.ModelAdmin):
    list_display = ["currency", "rate", "valid_from"]
    list_filter = ["currency"]


# --- Fiscal years and objectives (planning) ---------------------------------------------


@admin.register(FiscalYear)
class FiscalYearAdmin(admin.ModelAdmin):
    """Years are set here; FiscalYear.clean() refuses one overlapping another. Closing a
    year makes its budgets final and refuses requests needed in it."""

    list_display = ["name", "starts_on", "ends_on", "is_closed"]
    list_filter = ["is_closed"]
    search_fields = ["name"]

    def save_model(
        self, request: HttpRequest, obj: FiscalYear, form: ModelForm, change: bool
    ) -> None:
        with transaction.atomic():
            was_closed = (
                FiscalYear.objects.filter(pk=obj.pk).values_list("is_closed", flat=True).first()
                if change
                else None
            )
            super().save_model(request, obj, form, change)
            if was_closed is not None and was_closed != obj.is_closed:
                audit_record(
                    target=obj,
                    actor=cast(User, request.user),
                    action="fiscal_year_closed" if obj.is_closed else "fiscal_year_reopened",
                )


@admin.register(Objective)
class ObjectiveAdmin(admin.ModelAdmin):
    """The same records as /planning/objectives/; a change here is audited like one there."""

    list_display = ["name", "fiscal_year", "department", "owner", "status"]
    list_filter = ["fiscal_year", "status", "department"]
    search_fields = ["name", "description"]
    autocomplete_fields = ["owner"]

    def save_model(
        self, request: HttpRequest, obj: Objective, form: ModelForm, change: bool
    ) -> None:
        with transaction.atomic():
            before = (
                Objective.objects.filter(pk=obj.pk).values_list("status", flat=True).first()
                if change
                else None
            )
            super().save_model(request, obj, form, change)
            actor = cast(User, request.user)  # a staff account: the admin requires one
            if not change:
                audit_record(
                    target=obj,
                    actor=actor,
                    action="objective_created",
                    to_state=obj.status,
                )
                return
            changed = [name for name in form.changed_data if name != "status"]
            if changed:
                audit_record(
                    target=obj,
                    actor=actor,
                    action="objective_updated",
                    comment="Changed in the admin: " + ", ".join(changed) + ".",
                )
            if before is not None and before != obj.status:
                audit_record(
                    target=obj,
                    actor=actor,
                    action="objective_status",
                    from_state=before,
                    to_state=obj.status,
                    comment="Changed in the admin.",
                )


class UserRoleInline(admin.TabularInline):
    model = UserRole
    extra = 1


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = [
        "username",
        "email",
        "first_name",
        "last_name",
        "department",
        "manager",
        "is_active",
    ]
    list_filter = ["roles__role", "department", "is_active", "is_staff"]
    autocomplete_fields = ["manager", "department"]
    inlines = [UserRoleInline]
    fieldsets = (
        *(DjangoUserAdmin.fieldsets or ()),
        ("Organisation", {"fields": ("department", "manager")}),
    )


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    """Read-only: the audit trail is append-only, even for admins."""

    list_display = [
        "created_at",
        "content_type",
        "object_id",
        "action",
        "from_state",
        "to_state",
        "actor",
    ]
    list_filter = ["content_type", "action"]
    search_fields = ["comment"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object | None = None) -> bool:
        return False
