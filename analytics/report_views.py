"""Pages for scheduled spend reports: the user's subscriptions, and the POST-only actions
that add, pause, resume and delete them. Thin: parse, call one service, render."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from analytics.models import ReportFrequency
from analytics.reports import (
    report_latest_deliveries,
    report_period_containing,
    report_subscription_choices,
    report_subscription_create,
    report_subscription_delete,
    report_subscription_describe,
    report_subscription_set_active,
    report_subscriptions_of,
)
from analytics.scope import spend_access
from procurement.errors import ApplicationError, NotFound

if TYPE_CHECKING:
    from procurement.models import User


class SubscriptionForm(forms.Form):
    frequency = forms.ChoiceField(choices=ReportFrequency.choices, initial=ReportFrequency.MONTHLY)
    # Which ids the user may pick is the service's rule; the form only parses.
    department = forms.TypedChoiceField(coerce=int, required=False, empty_value=None)
    category = forms.TypedChoiceField(coerce=int, required=False, empty_value=None)
    payee = forms.TypedChoiceField(coerce=int, required=False, empty_value=None, label="Vendor")

    def __init__(self, *args: object, user: User, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        choices = report_subscription_choices(user=user, today=timezone.localdate())
        any_choice = [("", "Any")]
        fields = cast(dict[str, forms.ChoiceField], self.fields)
        fields["department"].choices = any_choice + [
            (d.pk, d.name or "(none named)") for d in choices.departments
        ]
        fields["category"].choices = any_choice + [
            (c.pk, c.name or "(none named)") for c in choices.categories
        ]
        fields["payee"].choices = any_choice + [(p.pk, p.name) for p in choices.payees]


def _user(request: HttpRequest) -> User:
    user = cast("User", request.user)
    if not spend_access(user):
        raise PermissionDenied("Spend reports are for procurement, finance and managers.")
    return user


@login_required
@require_GET
def report_list_page(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    return _render_list(request, user, SubscriptionForm(user=user))


def _render_list(
    request: HttpRequest, user: User, form: SubscriptionForm, status: int = 200
) -> HttpResponse:
    latest = report_latest_deliveries(user)
    today = timezone.localdate()
    rows = [
        {
            "subscription": subscription,
            "scope": report_subscription_describe(subscription),
            "last": latest.get(subscription.pk),
            # The period under way: its report goes out the day after it ends.
            "next_period": report_period_containing(frequency=subscription.frequency, day=today),
        }
        for subscription in report_subscriptions_of(user)
    ]
    return render(
        request,
        "analytics/reports.html",
        {"rows": rows, "form": form, "has_email": bool(user.email)},
        status=status,
    )


@login_required
@require_POST
def report_create_action(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    form = SubscriptionForm(request.POST, user=user)
    if not form.is_valid():
        return _render_list(request, user, form, status=400)
    try:
        report_subscription_create(
            user=user,
            frequency=form.cleaned_data["frequency"],
            department_id=form.cleaned_data["department"],
            category_id=form.cleaned_data["category"],
            payee_id=form.cleaned_data["payee"],
        )
    except ApplicationError as error:
        if not error.fields:
            form.add_error(None, error.message)
        for key, field_messages in error.fields.items():
            form.add_error(key if key in form.fields else None, field_messages)
        return _render_list(request, user, form, status=error.status)
    messages.success(request, "Subscribed. The first report comes after the current period ends.")
    return redirect("reports:list")


def _act(request: HttpRequest, pk: int, *, action: str) -> HttpResponse:
    user = _user(request)
    try:
        if action == "delete":
            report_subscription_delete(subscription_id=pk, user=user)
            messages.success(request, "Report deleted.")
        else:
            report_subscription_set_active(subscription_id=pk, user=user, active=action == "resume")
            messages.success(request, "Report resumed." if action == "resume" else "Report paused.")
    except NotFound:
        raise Http404("No such report subscription.") from None
    return redirect("reports:list")


@login_required
@require_POST
def report_pause_action(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(request, pk, action="pause")


@login_required
@require_POST
def report_resume_action(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(request, pk, action="resume")


@login_required
@require_POST
def report_delete_action(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(request, pk, action="delete")
