"""Pages of the approvals app: the inbox of pending decisions, and bulk approval from it.

Deciding one step happens on the request's own page (its Approve/Reject/Return buttons go
through the installed approvals workflow), in the API, or from an email link.
"""

from __future__ import annotations

from typing import cast

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from approvals.forms import BulkApproveForm
from approvals.inbox import approval_bulk_approve, approval_inbox_items
from procurement.models import User


def _user(request: HttpRequest) -> User:
    # @login_required has run: the user is a real account, not AnonymousUser.
    return cast(User, request.user)


@login_required
@require_GET
def inbox(request: HttpRequest) -> HttpResponse:
    items = approval_inbox_items(user=_user(request))
    return render(
        request,
        "approvals/inbox.html",
        {
            "items": items,
            "any_low_risk": any(item.low_risk for item in items),
            "bulk_max_total": settings.APPROVAL_BULK_MAX_TOTAL,
            "base_currency": settings.BASE_CURRENCY,
        },
    )


@login_required
@require_POST
def bulk_approve(request: HttpRequest) -> HttpResponse:
    form = BulkApproveForm(request.POST)
    if not form.is_valid():
        messages.error(request, str(form.errors["steps"][0]))
        return redirect("approvals:inbox")
    outcomes = approval_bulk_approve(by=_user(request), step_ids=form.cleaned_data["steps"])
    # One line per item, so the approver sees which ones went through and why others did not.
    for outcome in outcomes:
        what = (
            f"{outcome.reference} ({outcome.step_name})"
            if outcome.reference
            else f"Step {outcome.step_id}"
        )
        if outcome.approved:
            messages.success(request, f"{what}: approved.")
        else:
            messages.error(request, f"{what}: {outcome.message}")
    return redirect("approvals:inbox")
