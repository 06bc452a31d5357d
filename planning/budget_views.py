"""Pages of budgets under /planning/budgets/: the list of the budgets a user may see with
what each has consumed, a budget's page (consumption broken down, monthly phasing,
versions), and the forms finance uses to set and revise them.

Thin: each view parses the browser's input, calls one service or selector from
planning/budgets.py and renders. A budget the user may not see is a 404
(budgets_visible_to); the forms are finance's and admins' (403 for anyone else). A refused
form comes back with its errors next to the fields (400).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, cast

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import OuterRef, QuerySet, Subquery
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from planning.budget_forms import BudgetFilterForm, BudgetForm, BudgetReviseForm, PhasedForm
from planning.budgets import (
    budget_consumption,
    budget_consumption_detail,
    budget_create,
    budget_months,
    budget_objective_year_error,
    budget_revise,
    budgets_visible_to,
)
from planning.models import Budget, BudgetRevision
from procurement.errors import ApplicationError, InvalidInput, NotFound
from procurement.models import FiscalYear, User
from procurement.permissions import allowed
from requests.selectors import purchase_request_visible_to
from sourcing.access import may_see_sourcing

PAGE_SIZE = 25


def _user(request: HttpRequest) -> User:
    # @login_required has run: the user is a real account.
    return cast(User, request.user)


def _may_manage(user: User) -> bool:
    return allowed(user, "planning.change_budget")


def _require_manager(request: HttpRequest) -> None:
    if not _may_manage(_user(request)):
        raise PermissionDenied("Only finance sets budgets.")


def _visible(user: User) -> QuerySet[Budget]:
    """The budgets `user` may see, each with whether its current version was set below what
    was consumed then (the flag of its latest revision)."""
    current = BudgetRevision.objects.filter(budget=OuterRef("pk"), version=OuterRef("version"))
    return budgets_visible_to(user).annotate(
        below_consumed=Subquery(current.values("below_consumed")[:1])
    )


def _get_or_404(request: HttpRequest, budget_id: int) -> Budget:
    budget = _visible(_user(request)).filter(pk=budget_id).first()
    if budget is None:
        raise Http404("No such budget.")
    return budget


def _errors_to_form(error: ApplicationError, form: PhasedForm) -> None:
    """A service's field errors next to the fields they name, phasing above the months; the
    rest at the top."""
    placed = False
    for key, field_messages in error.fields.items():
        if key == "phasing":
            for message in field_messages:
                form.add_phasing_error(message)
            placed = True
        elif key in form.fields:
            form.add_error(key, field_messages)
            placed = True
    if not placed or any(key not in form.fields and key != "phasing" for key in error.fields):
        form.add_error(None, error.message)


# --- List and detail ----------------------------------------------------------------------------


@login_required
@require_GET
def budget_list_page(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    form = BudgetFilterForm(request.GET or None)
    context: dict[str, Any] = {
        "form": form,
        "filtered": form.filtered,
        "currency": settings.BASE_CURRENCY,
        "can_manage": _may_manage(user),
    }
    if form.is_bound and not form.is_valid():
        return render(
            request, "planning/budgets/list.html", {**context, "invalid": True}, status=400
        )
    budgets = _visible(user)
    year = form.cleaned_data.get("year") if form.is_bound else None
    if year is not None:
        budgets = budgets.filter(fiscal_year=year)
    page = Paginator(budgets, PAGE_SIZE).get_page(request.GET.get("page"))
    rows = [(budget, budget_consumption(budget=budget)) for budget in page.object_list]
    return render(request, "planning/budgets/list.html", {**context, "page": page, "rows": rows})


@login_required
@require_GET
def budget_detail_page(request: HttpRequest, budget_id: int) -> HttpResponse:
    user = _user(request)
    budget = _get_or_404(request, budget_id)
    detail = budget_consumption_detail(budget=budget)
    # Who sees a budget (its owner, a manager of its department) may not see every request
    # that consumes it: their amounts count, their titles and links are not shown.
    request_ids = {row.request.pk for row in detail.side.requests}
    request_ids |= {row.order.request_id for row in detail.side.orders}
    visible_requests = set(
        purchase_request_visible_to(user).filter(pk__in=request_ids).values_list("pk", flat=True)
    )
    months = budget_months(budget)
    cumulative = []
    running = Decimal("0.00")
    for month, amount in months:
        running += amount
        cumulative.append((month, amount, running))
    return render(
        request,
        "planning/budgets/detail.html",
        {
            "budget": budget,
            "currency": settings.BASE_CURRENCY,
            "can_manage": _may_manage(user) and not budget.fiscal_year.is_closed,
            "detail": detail,
            "visible_requests": visible_requests,
            "sees_orders": may_see_sourcing(user),
            "consumption": detail.consumption,
            "months": cumulative,
            "revisions": budget.revisions.select_related("owner", "created_by").order_by(
                "-version"
            ),
        },
    )


# --- Forms --------------------------------------------------------------------------------------


def _render_create(request: HttpRequest, form: BudgetForm, *, status: int = 200) -> HttpResponse:
    return render(
        request,
        "planning/budgets/form.html",
        {"form": form, "currency": settings.BASE_CURRENCY},
        status=status,
    )


@login_required
@require_http_methods(["GET", "POST"])
def budget_create_page(request: HttpRequest) -> HttpResponse:
    _require_manager(request)
    if request.method == "GET":
        year = FiscalYear.containing(timezone.localdate())
        initial = {"owner": _user(request).pk, "fiscal_year": year.pk if year else None}
        return _render_create(request, BudgetForm(initial=initial))
    form = BudgetForm(request.POST)
    if not form.is_valid():
        return _render_create(request, form, status=400)
    data = form.budget_input()
    try:
        year_error = budget_objective_year_error(data)
        if year_error:
            raise InvalidInput(next(iter(year_error.values()))[0], fields=year_error)
        budget = budget_create(data=data, by=_user(request), reason=form.cleaned_data["reason"])
    except ApplicationError as error:
        _errors_to_form(error, form)
        return _render_create(request, form, status=error.status)
    messages.success(
        request, f"Budget {budget} set: {budget.amount:,.2f} {settings.BASE_CURRENCY}."
    )
    return redirect("budgets:detail", budget_id=budget.pk)


@login_required
@require_http_methods(["GET", "POST"])
def budget_revise_page(request: HttpRequest, budget_id: int) -> HttpResponse:
    budget = _get_or_404(request, budget_id)
    _require_manager(request)
    context: dict[str, Any] = {"budget": budget, "currency": settings.BASE_CURRENCY}
    if request.method == "GET":
        form = BudgetReviseForm(budget=budget)
        return render(request, "planning/budgets/revise.html", {**context, "form": form})
    form = BudgetReviseForm(request.POST, budget=budget)
    if not form.is_valid():
        return render(
            request, "planning/budgets/revise.html", {**context, "form": form}, status=400
        )
    data = form.cleaned_data
    try:
        revision = budget_revise(
            budget_id=budget.pk,
            by=_user(request),
            amount=data["amount"],
            reason=data["reason"],
            phasing=form.phasing(),
            on_exceed=data["on_exceed"],
            extra_approver=data["extra_approver"],
            owner=data["owner"],
        )
    except NotFound:
        raise Http404("No such budget.") from None
    except ApplicationError as error:
        _errors_to_form(error, form)
        return render(
            request, "planning/budgets/revise.html", {**context, "form": form}, status=error.status
        )
    text = f"Budget {budget} is now version {revision.version}: {revision.amount:,.2f} {settings.BASE_CURRENCY}."
    if revision.below_consumed:
        messages.warning(
            request,
            f"{text} That is below the {revision.consumed_then:,.2f} {settings.BASE_CURRENCY} "
            "already consumed: the budget is over from now on.",
        )
    else:
        messages.success(request, text)
    return redirect("budgets:detail", budget_id=budget.pk)
