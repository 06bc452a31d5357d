"""Pages of the needs board, mounted at /planning/needs/ (namespace "needs").

Thin: each view parses the browser's input, calls one service or selector of
planning/needs.py and renders. Every signed-in user sees every need; every change is a
POST. A refused form comes back with the service's errors next to its fields, with the
error's status (400, 403, 409).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from analytics.scope import filter_id
from planning.models import ConsolidationKind, Need, NeedStatus
from planning.need_forms import (
    CommentForm,
    ConsolidationForm,
    NeedForm,
    SupportForm,
    WithdrawForm,
)
from planning.needs import (
    NeedFilters,
    consolidation_get,
    consolidation_needs,
    consolidation_target_visible,
    consolidation_totals,
    may_change_need,
    may_consolidate,
    may_manage_needs,
    may_post_need,
    need_comment_add,
    need_create,
    need_get,
    need_reference,
    need_support_add,
    need_update,
    need_withdraw,
    needs_board,
    needs_consolidate_into_request,
    needs_consolidate_into_rfq,
)
from procurement.errors import ApplicationError, NotFound
from procurement.models import Category, Department, Objective
from procurement.permissions import allowed

if TYPE_CHECKING:
    from django import forms

    from procurement.models import User

PAGE_SIZE = 25


def _user(request: HttpRequest) -> User:
    # @login_required has run: the user is a real account.
    return cast("User", request.user)


def _need_or_404(need_id: int) -> Need:
    try:
        return need_get(need_id=need_id)
    except NotFound:
        raise Http404("No such need.") from None


def _errors_to_form(error: ApplicationError, form: forms.Form) -> None:
    """A service's field errors next to the fields they name; the rest at the top."""
    placed = False
    for key, field_messages in error.fields.items():
        if key in form.fields:
            form.add_error(key, field_messages)
            placed = True
    if not placed or any(key not in form.fields for key in error.fields):
        form.add_error(None, error.message)


def _render(
    request: HttpRequest, template: str, context: dict[str, Any], status: int = 200
) -> HttpResponse:
    return render(
        request,
        template,
        {**context, "base_currency": settings.BASE_CURRENCY},
        status=status,
    )


def _may_post(user: User) -> bool:
    return may_post_need(user)


# --- Board ---------------------------------------------------------------------------------


def _board_filters(request: HttpRequest) -> tuple[NeedFilters, dict[str, str]]:
    """The filters from the query string; an unknown value means "no filter"."""
    raw = {name: request.GET.get(name, "") for name in ("status", "department", "objective")}
    raw["category"] = request.GET.get("category", "")
    status = raw["status"] or NeedStatus.OPEN
    if status == "any":
        status = ""
    elif status not in NeedStatus.values:
        status = NeedStatus.OPEN
    department = Department.objects.filter(code=raw["department"]).first()
    # filter_id, not str.isdigit: "²" is a digit to isdigit() and not to int(), and a
    # 5,000-digit id is too long for int() (both were a 500).
    objective_id = filter_id(raw["objective"])
    objective = (
        Objective.objects.filter(pk=objective_id).first() if objective_id is not None else None
    )
    category = Category.objects.filter(code=raw["category"]).first()
    filters = NeedFilters(
        status=status, department=department, objective=objective, category=category
    )
    shown = {
        "status": status or "any",
        "department": department.code if department else "",
        "objective": str(objective.pk) if objective else "",
        "category": category.code if category else "",
    }
    return filters, shown


@login_required
@require_GET
def need_board(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    filters, shown = _board_filters(request)
    page = Paginator(needs_board(filters=filters), PAGE_SIZE).get_page(request.GET.get("page"))
    return _render(
        request,
        "planning/needs/board.html",
        {
            "page": page,
            "shown": shown,
            "filtered": shown
            != {"status": "open", "department": "", "objective": "", "category": ""},
            "statuses": NeedStatus.choices,
            "departments": Department.objects.all(),
            "objectives": Objective.objects.select_related("fiscal_year").order_by(
                "fiscal_year__starts_on", "name"
            ),
            "categories": Category.objects.all(),
            "can_consolidate": may_consolidate(user),
            "can_post": _may_post(user),
        },
    )


# --- Post and edit -------------------------------------------------------------------------


def _render_form(
    request: HttpRequest, form: NeedForm, *, need: Need | None = None, status: int = 200
) -> HttpResponse:
    return _render(request, "planning/needs/form.html", {"form": form, "need": need}, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def need_create_view(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    if not _may_post(user):
        raise PermissionDenied("You belong to no department, so you cannot post a need.")
    if request.method == "GET":
        return _render_form(request, NeedForm(user=user))
    form = NeedForm(request.POST, user=user)
    if not form.is_valid():
        return _render_form(request, form, status=400)
    try:
        need = need_create(data=form.need_input(), by=user)
    except ApplicationError as error:
        _errors_to_form(error, form)
        return _render_form(request, form, status=error.status)
    messages.success(request, f"{need_reference(need)} posted to the needs board.")
    return redirect("needs:detail", need_id=need.pk)


@login_required
@require_http_methods(["GET", "POST"])
def need_edit_view(request: HttpRequest, need_id: int) -> HttpResponse:
    user = _user(request)
    need = _need_or_404(need_id)
    if not allowed(user, "planning.change_need", need):
        raise PermissionDenied("Only the person who posted this need, or procurement, can edit it.")
    if need.status != NeedStatus.OPEN:
        messages.error(
            request,
            f"{need_reference(need)} is {need.get_status_display().lower()}; "
            "only an open need can be edited.",
        )
        return redirect("needs:detail", need_id=need.pk)
    if request.method == "GET":
        return _render_form(request, NeedForm(user=user, need=need), need=need)
    form = NeedForm(request.POST, user=user, need=need)
    if not form.is_valid():
        return _render_form(request, form, need=need, status=400)
    try:
        need_update(need_id=need.pk, by=user, data=form.need_input())
    except ApplicationError as error:
        _errors_to_form(error, form)
        return _render_form(request, form, need=need, status=error.status)
    messages.success(request, f"{need_reference(need)} saved.")
    return redirect("needs:detail", need_id=need.pk)


# --- The need's page -----------------------------------------------------------------------


def _render_detail(
    request: HttpRequest,
    need: Need,
    *,
    status: int = 200,
    support_form: SupportForm | None = None,
    comment_form: CommentForm | None = None,
    withdraw_form: WithdrawForm | None = None,
) -> HttpResponse:
    user = _user(request)
    supported_by_mine = user.department_id is not None and (
        user.department_id == need.department_id
        or any(s.department_id == user.department_id for s in need.supports.all())
    )
    consolidation = need.consolidation
    context: dict[str, Any] = {
        "need": need,
        "reference": need_reference(need),
        "supports": list(need.supports.all()),
        "comments": list(need.comments.all()),
        "can_change": may_change_need(need, user),
        # A refused support comes back with its form, to say why.
        "can_support": support_form is not None
        or (
            need.status == NeedStatus.OPEN
            and (
                may_manage_needs(user) or (user.department_id is not None and not supported_by_mine)
            )
        ),
        "support_form": support_form or SupportForm(user=user),
        "comment_form": comment_form or CommentForm(),
        "withdraw_form": withdraw_form or WithdrawForm(),
        "consolidation": consolidation,
        "target_visible": consolidation is not None
        and consolidation_target_visible(consolidation=consolidation, user=user),
        "is_request": consolidation is not None and consolidation.kind == ConsolidationKind.REQUEST,
    }
    return _render(request, "planning/needs/detail.html", context, status=status)


@login_required
@require_GET
def need_detail(request: HttpRequest, need_id: int) -> HttpResponse:
    return _render_detail(request, _need_or_404(need_id))


@login_required
@require_POST
def need_support_view(request: HttpRequest, need_id: int) -> HttpResponse:
    user = _user(request)
    need = _need_or_404(need_id)
    form = SupportForm(request.POST, user=user)
    if not form.is_valid():
        return _render_detail(request, need, status=400, support_form=form)
    try:
        support = need_support_add(
            need_id=need.pk,
            by=user,
            people_affected=form.cleaned_data["people_affected"],
            rough_budget=form.cleaned_data["rough_budget"],
            note=form.cleaned_data["note"],
            department=form.cleaned_data.get("department"),
        )
    except ApplicationError as error:
        _errors_to_form(error, form)
        return _render_detail(request, need, status=error.status, support_form=form)
    messages.success(request, f"Noted: {support.department} needs this too.")
    return redirect("needs:detail", need_id=need.pk)


@login_required
@require_POST
def need_comment_view(request: HttpRequest, need_id: int) -> HttpResponse:
    need = _need_or_404(need_id)
    form = CommentForm(request.POST)
    if not form.is_valid():
        return _render_detail(request, need, status=400, comment_form=form)
    try:
        comment = need_comment_add(
            need_id=need.pk,
            by=_user(request),
            body=form.cleaned_data["body"],
            kind=form.cleaned_data["kind"],
        )
    except ApplicationError as error:
        _errors_to_form(error, form)
        return _render_detail(request, need, status=error.status, comment_form=form)
    messages.success(request, f"{comment.get_kind_display()} added.")
    return redirect(reverse("needs:detail", args=[need.pk]) + "#comments")


@login_required
@require_POST
def need_withdraw_view(request: HttpRequest, need_id: int) -> HttpResponse:
    need = _need_or_404(need_id)
    form = WithdrawForm(request.POST)
    if not form.is_valid():
        return _render_detail(request, need, status=400, withdraw_form=form)
    try:
        need_withdraw(need_id=need.pk, by=_user(request), reason=form.cleaned_data["reason"])
    except ApplicationError as error:
        messages.error(request, error.message)
        return _render_detail(request, _need_or_404(need_id), status=error.status)
    messages.success(request, f"{need_reference(need)} withdrawn.")
    return redirect("needs:detail", need_id=need.pk)


# --- Consolidation -------------------------------------------------------------------------


def _render_consolidate(
    request: HttpRequest, form: ConsolidationForm, need_ids: list[int], *, status: int = 200
) -> HttpResponse:
    needs = needs_board(filters=NeedFilters(status="")).filter(pk__in=need_ids)
    selected = list(needs)
    return _render(
        request,
        "planning/needs/consolidate.html",
        {"form": form, "needs": selected, "totals": consolidation_totals(selected)},
        status=status,
    )


def _selected_ids(values: list[str]) -> list[int]:
    # Ids too long for the database ("needs=99…9") or not ASCII digits are ignored: they
    # name no need, and int() or SQLite would fail on them.
    ids = (filter_id(value) for value in values)
    return sorted({pk for pk in ids if pk is not None})


@login_required
@require_http_methods(["GET", "POST"])
def consolidate_view(request: HttpRequest) -> HttpResponse:
    """GET ?needs=1&needs=2, or the board's POST of its checkboxes (no `kind` yet): the form.
    A POST with a `kind`: consolidate."""
    user = _user(request)
    if not may_consolidate(user):
        raise PermissionDenied("Only procurement consolidates needs.")
    source = request.POST if request.method == "POST" else request.GET
    need_ids = _selected_ids(source.getlist("needs"))
    if request.method == "GET" or "kind" not in request.POST:
        if not need_ids:
            messages.error(request, "Choose at least one need on the board to consolidate.")
            return redirect("needs:board")
        form = ConsolidationForm(initial={"needs": need_ids, "kind": "request"})
        return _render_consolidate(request, form, need_ids)
    form = ConsolidationForm(request.POST)
    if not form.is_valid():
        return _render_consolidate(request, form, need_ids, status=400)
    try:
        if form.cleaned_data["kind"] == "rfq":
            consolidation = needs_consolidate_into_rfq(
                need_ids=form.need_ids(),
                by=user,
                rfq_id=form.cleaned_data["rfq"].pk,
                note=form.cleaned_data["note"],
            )
        else:
            consolidation = needs_consolidate_into_request(
                need_ids=form.need_ids(),
                by=user,
                target=form.request_target(),
                note=form.cleaned_data["note"],
            )
    except ApplicationError as error:
        _errors_to_form(error, form)
        return _render_consolidate(request, form, need_ids, status=error.status)
    messages.success(request, "Needs consolidated.")
    return redirect("needs:consolidation", consolidation_id=consolidation.pk)


@login_required
@require_GET
def consolidation_detail(request: HttpRequest, consolidation_id: int) -> HttpResponse:
    try:
        consolidation = consolidation_get(consolidation_id=consolidation_id)
    except NotFound:
        raise Http404("No such consolidation.") from None
    needs = consolidation_needs(consolidation)
    return _render(
        request,
        "planning/needs/consolidation.html",
        {
            "consolidation": consolidation,
            "needs": needs,
            "totals": consolidation_totals(needs),
            "target_visible": consolidation_target_visible(
                consolidation=consolidation, user=_user(request)
            ),
            "is_request": consolidation.kind == ConsolidationKind.REQUEST,
        },
    )
