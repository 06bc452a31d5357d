"""Pages of the approvals app: the inbox of pending decisions, and bulk approval from it.

Deciding one step happens on the request's own page (its Approve/Reject/Return buttons go
through the installed approvals workflow), in the API, or from an email link.
"""

from __future__ import annotations

from typing import cast

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from approvals.forms import BulkApproveForm, DelegationForm
from approvals.inbox import approval_bulk_approve, approval_inbox_items
from approvals.models import Delegation
from approvals.services import delegation_create, delegation_end
from procurement.errors import ApplicationError
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


@login_required
@require_http_methods(["GET", "POST"])
def delegations(request: HttpRequest) -> HttpResponse:
    """Out of office: set a delegate for a date range, and see the ones set."""
    user = _user(request)
    form = DelegationForm(request.POST or None, delegator=user)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                delegation = delegation_create(delegator=user, created_by=user, **form.cleaned_data)
            except ApplicationError as error:
                form.add_error(None, error.message)
            else:
                messages.success(
                    request,
                    f"{delegation.delegate} decides your approvals from {delegation.starts_on:%d %b %Y} "
                    f"to {delegation.ends_on:%d %b %Y}.",
                )
                return redirect("approvals:delegations")
        status = 400
    mine = Delegation.objects.filter(
        delegator=user, ends_on__gte=timezone.localdate()
    ).select_related("delegate")
    for_me = Delegation.objects.filter(
        delegate=user, ends_on__gte=timezone.localdate()
    ).select_related("delegator")
    return render(
        request,
        "approvals/delegations.html",
        {"form": form, "mine": list(mine), "for_me": list(for_me)},
        status=status,
    )


@login_required
@require_POST
def delegation_stop(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        delegation_end(delegation_id=pk, by=_user(request))
    except ApplicationError as error:
        if error.status == 404:
            raise Http404(error.message) from None
        messages.error(request, error.message)
    else:
        messages.success(request, "Delegation ended: new approval steps come to you again.")
    return redirect("approvals:delegations")
