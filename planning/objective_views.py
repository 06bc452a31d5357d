"""Pages of business objectives under /planning/objectives/: the list, which is also the
report of commitments and spend per objective (with CSV and XLSX downloads), an
objective's page with the requests serving it, and the forms finance uses to set them.

Thin: each view parses the browser's input, calls one service or selector from
planning/objectives.py and renders. Everybody signed in reads objectives; the money figures
show only to those planning.objectives.may_see_objective_figures lets see them. The forms
are finance's and admins' (403 for anyone else). Every change is a POST.
"""

from __future__ import annotations

from typing import Any, cast

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from analytics.exports import Table, table_response
from planning.objective_forms import ObjectiveFilterForm, ObjectiveForm, ObjectiveStatusForm
from planning.objectives import (
    ObjectiveFilters,
    ObjectiveRow,
    may_manage_objectives,
    may_see_objective_figures,
    objective_budgets,
    objective_create,
    objective_get,
    objective_history,
    objective_list,
    objective_report,
    objective_requests,
    objective_spend,
    objective_status_set,
    objective_update,
)
from procurement.errors import ApplicationError, NotFound
from procurement.models import Objective, User

EXPORT_FORMATS = ("csv", "xlsx")


def _user(request: HttpRequest) -> User:
    # @login_required has run: the user is a real account.
    return cast(User, request.user)


def _get_or_404(objective_id: int) -> Objective:
    try:
        return objective_get(objective_id=objective_id)
    except NotFound:
        raise Http404("No such objective.") from None


def _require_manager(request: HttpRequest) -> None:
    if not may_manage_objectives(_user(request)):
        raise PermissionDenied("Only finance sets objectives.")


def _errors_to_form(error: ApplicationError, form: Any) -> None:
    """A service's field errors next to the fields they name; the rest at the top."""
    placed = False
    for key, field_messages in error.fields.items():
        if key in form.fields:
            form.add_error(key, field_messages)
            placed = True
    if not placed or any(key not in form.fields for key in error.fields):
        form.add_error(None, error.message)


# --- The list and its report ------------------------------------------------------------------


def _table(rows: list[ObjectiveRow]) -> Table:
    currency = settings.BASE_CURRENCY
    body = []
    for row in rows:
        objective, spend = row.objective, row.spend
        body.append(
            [
                objective.name,
                objective.fiscal_year.name,
                objective.department.name if objective.department else "Company-wide",
                str(objective.owner),
                objective.get_status_display(),
                spend.requests if spend else None,
                spend.committed_requests if spend else None,
                spend.committed_orders if spend else None,
                spend.committed if spend else None,
                spend.actual if spend else None,
                spend.total if spend else None,
            ]
        )
    return Table(
        title="Spend per objective",
        header=[
            "Objective",
            "Fiscal year",
            "Department",
            "Owner",
            "Status",
            "Requests",
            f"Committed: requests ({currency})",
            f"Committed: orders ({currency})",
            f"Committed ({currency})",
            f"Actual ({currency})",
            f"Committed and actual ({currency})",
        ],
        rows=body,
    )


@login_required
@require_GET
def objective_list_page(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    form = ObjectiveFilterForm(request.GET or None)
    context: dict[str, Any] = {
        "form": form,
        "filtered": form.filtered,
        "currency": settings.BASE_CURRENCY,
        "can_manage": may_manage_objectives(user),
    }
    if form.is_bound and not form.is_valid():
        return render(
            request, "planning/objectives/list.html", {**context, "invalid": True}, status=400
        )
    data = form.cleaned_data if form.is_bound else {}
    year = data.get("year")
    filters = ObjectiveFilters(
        fiscal_year_id=year.pk if year else None,
        department=form.department_value() if form.is_bound else None,
        status=data.get("status") or "",
    )
    rows = objective_report(user=user, objectives=objective_list(filters=filters))
    file_format = request.GET.get("format", "")
    if file_format in EXPORT_FORMATS:
        return table_response(
            [_table(rows)], file_format=file_format, filename="spend-per-objective"
        )
    shown = [row.spend for row in rows if row.spend is not None]
    totals = {
        "requests": sum(spend.requests for spend in shown),
        "committed": sum(spend.committed for spend in shown),
        "actual": sum(spend.actual for spend in shown),
        "total": sum(spend.total for spend in shown),
    }
    return render(
        request,
        "planning/objectives/list.html",
        {
            **context,
            "rows": rows,
            "any_figures": bool(shown),
            "all_figures": len(shown) == len(rows),
            "totals": totals,
        },
    )


# --- One objective ----------------------------------------------------------------------------


def _render_detail(
    request: HttpRequest,
    objective: Objective,
    *,
    status_form: ObjectiveStatusForm | None = None,
    status: int = 200,
) -> HttpResponse:
    user = _user(request)
    can_manage = may_manage_objectives(user)
    figures = may_see_objective_figures(user, objective)
    return render(
        request,
        "planning/objectives/detail.html",
        {
            "objective": objective,
            "currency": settings.BASE_CURRENCY,
            "can_manage": can_manage,
            "spend": objective_spend(objective=objective) if figures else None,
            "requests_": objective_requests(objective=objective, user=user)[:200],
            "budgets": objective_budgets(objective=objective, user=user),
            "history": objective_history(objective=objective) if can_manage else [],
            "status_form": status_form
            or (ObjectiveStatusForm(initial={"status": objective.status}) if can_manage else None),
        },
        status=status,
    )


@login_required
@require_GET
def objective_detail_page(request: HttpRequest, objective_id: int) -> HttpResponse:
    return _render_detail(request, _get_or_404(objective_id))


@login_required
@require_POST
def objective_status_page(request: HttpRequest, objective_id: int) -> HttpResponse:
    _require_manager(request)
    objective = _get_or_404(objective_id)
    form = ObjectiveStatusForm(request.POST)
    if not form.is_valid():
        return _render_detail(request, objective, status_form=form, status=400)
    try:
        objective = objective_status_set(
            objective_id=objective.pk,
            by=_user(request),
            status=form.cleaned_data["status"],
            comment=form.cleaned_data["comment"],
        )
    except NotFound:
        raise Http404("No such objective.") from None
    except ApplicationError as error:
        _errors_to_form(error, form)
        return _render_detail(request, objective, status_form=form, status=error.status)
    messages.success(
        request, f"“{objective.name}” is now {objective.get_status_display().lower()}."
    )
    return redirect("objectives:detail", objective_id=objective.pk)


# --- Forms ------------------------------------------------------------------------------------


def _render_form(
    request: HttpRequest,
    form: ObjectiveForm,
    objective: Objective | None = None,
    *,
    status: int = 200,
) -> HttpResponse:
    return render(
        request,
        "planning/objectives/form.html",
        {"form": form, "objective": objective},
        status=status,
    )


@login_required
@require_http_methods(["GET", "POST"])
def objective_create_page(request: HttpRequest) -> HttpResponse:
    _require_manager(request)
    if request.method == "GET":
        return _render_form(request, ObjectiveForm(initial={"owner": _user(request).pk}))
    form = ObjectiveForm(request.POST)
    if not form.is_valid():
        return _render_form(request, form, status=400)
    try:
        objective = objective_create(data=form.objective_input(), by=_user(request))
    except ApplicationError as error:
        _errors_to_form(error, form)
        return _render_form(request, form, status=error.status)
    messages.success(request, f"Objective “{objective.name}” set.")
    return redirect("objectives:detail", objective_id=objective.pk)


@login_required
@require_http_methods(["GET", "POST"])
def objective_edit_page(request: HttpRequest, objective_id: int) -> HttpResponse:
    _require_manager(request)
    objective = _get_or_404(objective_id)
    if request.method == "GET":
        return _render_form(request, ObjectiveForm(objective=objective), objective)
    form = ObjectiveForm(request.POST, objective=objective)
    if not form.is_valid():
        return _render_form(request, form, objective, status=400)
    try:
        objective_update(objective_id=objective.pk, by=_user(request), data=form.objective_input())
    except NotFound:
        raise Http404("No such objective.") from None
    except ApplicationError as error:
        _errors_to_form(error, form)
        return _render_form(request, form, objective, status=error.status)
    messages.success(request, "Objective saved.")
    return redirect("objectives:detail", objective_id=objective.pk)
