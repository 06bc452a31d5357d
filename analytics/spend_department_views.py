"""The page where finance maps the departments of spend files to our departments and cost
centres, mounted at /analytics/payees/departments/ (namespace "payees").

Thin: each view parses the browser's input, calls one service or selector in
analytics.spend_departments, and renders. For procurement, finance and admins only (the
people who map payees).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from analytics.models import SpendDepartment
from analytics.scope import ID_MAX_DIGITS, filter_id, spend_may_import
from analytics.spend_departments import (
    NO_DEPARTMENT_KEY,
    SpendDepartmentView,
    spend_department_map,
    spend_department_unmap,
    spend_departments_for_review,
)
from procurement.errors import InvalidInput, NotAllowed
from procurement.models import CostCentre, Department

if TYPE_CHECKING:
    from procurement.models import User

PAGE_SIZE = 50


class SpendDepartmentMapForm(forms.Form):
    """Parses the ids; the rules between them are spend_department_map's."""

    department = forms.ModelChoiceField(
        queryset=Department.objects.all(),
        required=False,
        error_messages={"invalid_choice": "Choose one of the departments listed."},
    )
    cost_centre = forms.ModelChoiceField(
        queryset=CostCentre.objects.select_related("department"),
        required=False,
        error_messages={"invalid_choice": "Choose one of the cost centres listed."},
    )


def _user(request: HttpRequest) -> User:
    user = cast("User", request.user)
    if not spend_may_import(user):
        raise PermissionDenied("Mapping spend departments is for procurement, finance and admins.")
    return user


def _spend_department(pk: int) -> SpendDepartment:
    # A number longer than a bigint cannot be a row: 404, not an overflow in the database.
    found = SpendDepartment.objects.filter(pk=pk).first() if len(str(pk)) <= ID_MAX_DIGITS else None
    if found is None:
        raise Http404("No such spend department.")
    return found


def _listing(params: QueryDict) -> dict[str, str]:
    """The list's filter (view, search, page) from a query string or a posted form."""
    view = params.get("view", SpendDepartmentView.REVIEW)
    if view not in SpendDepartmentView.values:
        view = SpendDepartmentView.REVIEW
    return {
        "view": view,
        "q": params.get("q", "").strip()[:100],
        "page": params.get("page", "")[:10],
    }


def _list_url(listing: dict[str, str]) -> str:
    query = {
        k: v
        for k, v in listing.items()
        if v and not (k == "view" and v == SpendDepartmentView.REVIEW)
    }
    url = reverse("payees:departments")
    return f"{url}?{urlencode(query)}" if query else url


def _chosen_id(value: str | None) -> int | None:
    return filter_id(value) if value else None


def _render_list(
    request: HttpRequest,
    listing: dict[str, str],
    *,
    failed: SpendDepartment | None = None,
    errors: dict[str, list[str]] | None = None,
    status: int = 200,
) -> HttpResponse:
    spend_departments = spend_departments_for_review(view=listing["view"], q=listing["q"])
    page = Paginator(spend_departments, PAGE_SIZE).get_page(listing["page"])
    rows: list[dict[str, Any]] = []
    for spend_department in page.object_list:
        row: dict[str, Any] = {
            "sd": spend_department,
            "mappable": spend_department.key != NO_DEPARTMENT_KEY,
            "department_id": spend_department.department_id,
            "cost_centre_id": spend_department.cost_centre_id,
            "errors": {},
        }
        if failed is not None and spend_department.pk == failed.pk:
            # Keep what the user chose, with the errors next to the fields.
            row["department_id"] = _chosen_id(request.POST.get("department"))
            row["cost_centre_id"] = _chosen_id(request.POST.get("cost_centre"))
            row["errors"] = errors or {}
        rows.append(row)
    cost_centres = list(CostCentre.objects.select_related("department").order_by("code"))
    departments = [
        {
            "department": department,
            "cost_centres": [c for c in cost_centres if c.department_id == department.pk],
        }
        for department in Department.objects.order_by("name")
    ]
    return render(
        request,
        "analytics/spend_departments.html",
        {
            "page": page,
            "rows": rows,
            "departments": departments,
            "view": listing["view"],
            "views": SpendDepartmentView.choices,
            "q": listing["q"],
            "listing": listing,
            "filtered": bool(listing["q"]),
            "failed": failed,
            "errors": errors or {},
        },
        status=status,
    )


@login_required
@require_GET
def spend_department_list_page(request: HttpRequest) -> HttpResponse:
    _user(request)
    return _render_list(request, _listing(request.GET))


@login_required
@require_POST
def spend_department_map_action(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    spend_department = _spend_department(pk)
    listing = _listing(request.POST)
    form = SpendDepartmentMapForm(request.POST)
    if form.is_valid():
        try:
            mapped = spend_department_map(
                spend_department=spend_department,
                user=user,
                department=form.cleaned_data["department"],
                cost_centre=form.cleaned_data["cost_centre"],
            )
        except NotAllowed as error:
            raise PermissionDenied(error.message) from error
        except InvalidInput as error:
            for field, field_errors in (error.fields or {"department": [error.message]}).items():
                for message in field_errors:
                    form.add_error(field if field in form.fields else None, message)
        else:
            target = (
                f"{mapped.cost_centre.code} {mapped.cost_centre.name} ({mapped.department})"
                if mapped.cost_centre
                else str(mapped.department)
            )
            messages.success(
                request, f"{mapped.name} is now {target}, for its past and future spend."
            )
            return redirect(_list_url(listing))
    errors = {field: [str(e) for e in field_errors] for field, field_errors in form.errors.items()}
    return _render_list(request, listing, failed=spend_department, errors=errors, status=400)


@login_required
@require_POST
def spend_department_unmap_action(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    spend_department = _spend_department(pk)
    listing = _listing(request.POST)
    was = spend_department.department
    spend_department_unmap(spend_department=spend_department, user=user)
    if was is not None:
        messages.success(
            request, f"{spend_department.name} is no longer taken for {was.name}'s spend."
        )
    return redirect(_list_url(listing))
