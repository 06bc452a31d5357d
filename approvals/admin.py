from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.http import HttpRequest

from approvals.models import (
    ApprovalPolicy,
    ApprovalRule,
    ApprovalStep,
    ApprovedTotal,
    Delegation,
    StepApprover,
)
from approvals.services import delegation_create, delegation_validate
from procurement.errors import InvalidInput
from procurement.models import User


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
                    "vendor_risk_tier_at_least",
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
    readonly_fields = [
        "approver",
        "on_behalf_of",
        "decision",
        "decided_at",
        "comment",
        "reminders_sent",
    ]

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


class DelegationForm(forms.ModelForm):
    class Meta:
        model = Delegation
        fields = ["delegator", "delegate", "starts_on", "ends_on", "reason"]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        people = [data.get(name) for name in ("delegator", "delegate", "starts_on", "ends_on")]
        if all(people):
            try:
                delegation_validate(
                    delegator=data["delegator"],
                    delegate=data["delegate"],
                    starts_on=data["starts_on"],
                    ends_on=data["ends_on"],
                )
            except InvalidInput as error:
                raise ValidationError(
                    {
                        name: messages
                        for name, messages in error.fields.items()
                        if name in self.fields
                    }
                    or error.message
                ) from None
        return data


@admin.register(Delegation)
class DelegationAdmin(admin.ModelAdmin):
    """Added through delegation_create (cycles refused, pending steps moved); then read-only.

    Deleting one ends it; steps it already moved stay with the delegate.
    """

    form = DelegationForm
    list_display = ["delegator", "delegate", "starts_on", "ends_on", "reason", "created_by"]
    list_filter = ["starts_on"]
    search_fields = ["delegator__username", "delegate__username", "reason"]
    autocomplete_fields = ["delegator", "delegate"]
    date_hierarchy = "starts_on"

    def get_readonly_fields(self, request: HttpRequest, obj: Delegation | None = None) -> list[str]:
        if obj is None:
            return []
        return ["delegator", "delegate", "starts_on", "ends_on", "reason", "created_by"]

    def save_model(
        self, request: HttpRequest, obj: Delegation, form: forms.ModelForm, change: bool
    ) -> None:
        if change:
            return  # read-only once made
        created = delegation_create(
            delegator=obj.delegator,
            delegate=obj.delegate,
            starts_on=obj.starts_on,
            ends_on=obj.ends_on,
            reason=obj.reason,
            created_by=request.user if isinstance(request.user, User) else None,
        )
        obj.pk = created.pk
        obj.created_by = created.created_by
        obj.created_at = created.created_at


@admin.register(ApprovedTotal)
class ApprovedTotalAdmin(admin.ModelAdmin):
    """What each request was approved at: the base of the re-approval tolerance."""

    list_display = ["request", "total", "approved_at"]
    readonly_fields = ["request", "total", "approved_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object | None = None) -> bool:
        return False
