from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from approvals.models import ApprovalPolicy, ApprovalRule, ApprovalStep, StepApprover


class ApprovalRuleInline(admin.StackedInline):
    model = ApprovalRule
    extra = 0
    autocomplete_fields = ["approver_user"]
    fieldsets = (
        (None, {"fields": ("position", "name")}),
        (
            "When (every condition that is set must hold)",
            {
                "fields": (
                    "min_total",
                    "category",
                    "department",
                    "cost_centre",
                    "software_or_personal_data",
                    "vendor_not_approved",
                )
            },
        ),
        (
            "Then add a step",
            {
                "fields": (
                    "approver_kind",
                    "approver_role",
                    "approver_user",
                    "mode",
                    "required_approvals",
                    "stage",
                    "sla_hours",
                    "on_overdue",
                )
            },
        ),
    )


@admin.register(ApprovalPolicy)
class ApprovalPolicyAdmin(admin.ModelAdmin):
    """Edits apply to requests submitted afterwards; routes in flight are frozen copies."""

    list_display = ["name", "is_active", "no_match", "auto_approve_floor", "updated_at"]
    inlines = [ApprovalRuleInline]


class StepApproverInline(admin.TabularInline):
    model = StepApprover
    extra = 0
    can_delete = False
    readonly_fields = ["approver", "decision", "decided_at", "comment"]

    def has_add_permission(self, request: HttpRequest, obj: object | None = None) -> bool:
        return False


@admin.register(ApprovalStep)
class ApprovalStepAdmin(admin.ModelAdmin):
    """Read-only: a route changes only through decisions."""

    list_display = ["request", "round", "stage", "name", "state", "activated_at", "decided_by"]
    list_filter = ["state"]
    inlines = [StepApproverInline]
    readonly_fields = [field.name for field in ApprovalStep._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object | None = None) -> bool:
        return False
