"""Pages for spend imports, mounted at /analytics/imports/ (namespace "spend_imports"):
the list of past imports, the upload, the column mapping with its preview, and the import's
page (a progress bar while it runs, the report when it is done).

Thin: each view parses the browser's input, calls one service from analytics/services.py
or one function of analytics/importing.py, and renders. Only people who may import spend
(procurement, finance, admins) see these pages; everyone else gets a 403.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Count, Sum
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from analytics import importing
from analytics.import_forms import MAPPED_FIELDS, MappingForm, UploadForm
from analytics.models import ImportState, Payee, PayeeMatch, SpendImport
from analytics.scope import spend_may_import
from analytics.services import (
    spend_import_confirm,
    spend_import_delete,
    spend_import_path,
    spend_import_upload,
    spend_source_get_or_create,
)
from procurement.errors import ApplicationError
from procurement.files import files_removed_on_error

if TYPE_CHECKING:
    from django import forms

    from procurement.models import User

PAGE_SIZE = 25
PROBLEMS_PAGE_SIZE = 50
NEW_PAYEES_SHOWN = 20
PREVIEW_ROWS = 20


def _user(request: HttpRequest) -> User:
    # @login_required has run: the user is a real account.
    return cast("User", request.user)


def _require_importer(request: HttpRequest) -> None:
    if not spend_may_import(_user(request)):
        raise PermissionDenied("Only procurement, finance and admins import spend.")


def _get_or_404(pk: int) -> SpendImport:
    spend_import = SpendImport.objects.select_related("source", "created_by").filter(pk=pk).first()
    if spend_import is None:
        raise Http404("No such import.")
    return spend_import


def _awaiting_mapping(spend_import: SpendImport) -> bool:
    # Uploaded but not confirmed: the columns are still to be mapped.
    return spend_import.state == ImportState.QUEUED and spend_import.started_at is None


def _in_progress(spend_import: SpendImport) -> bool:
    return spend_import.state == ImportState.RUNNING or (
        spend_import.state == ImportState.QUEUED and spend_import.started_at is not None
    )


def _errors_to_form(error: ApplicationError, form: forms.Form) -> None:
    """A service's field errors next to the fields they name; the rest at the top."""
    if not error.fields:
        form.add_error(None, error.message)
        return
    for key, field_messages in error.fields.items():
        form.add_error(key if key in form.fields else None, field_messages)


# --- List and upload -------------------------------------------------------------------------


@login_required
@require_GET
def spend_import_list_page(request: HttpRequest) -> HttpResponse:
    _require_importer(request)
    imports = SpendImport.objects.select_related("source", "created_by")
    page = Paginator(imports, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "analytics/imports/list.html", {"page": page})


@login_required
@require_http_methods(["GET", "POST"])
def spend_import_new_page(request: HttpRequest) -> HttpResponse:
    _require_importer(request)
    if request.method == "GET":
        return render(request, "analytics/imports/new.html", {"form": UploadForm()})
    form = UploadForm(request.POST, request.FILES)
    if not form.is_valid():
        return render(request, "analytics/imports/new.html", {"form": form}, status=400)
    data = form.cleaned_data
    try:
        # One transaction: a refused file leaves no source, no import and (below) no file.
        with files_removed_on_error() as stored, transaction.atomic():
            source = data["source"] or spend_source_get_or_create(
                name=data["new_source"], currency=data["currency"]
            )
            spend_import = spend_import_upload(
                source=source, upload=data["file"], user=_user(request)
            )
            stored.append(str(spend_import.file.name))
    except ApplicationError as error:
        if "source" in error.fields:
            error.fields["new_source"] = error.fields.pop("source")
        _errors_to_form(error, form)
        return render(request, "analytics/imports/new.html", {"form": form}, status=error.status)
    return redirect("spend_imports:map", pk=spend_import.pk)


# --- Mapping and preview -------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def spend_import_map_page(request: HttpRequest, pk: int) -> HttpResponse:
    _require_importer(request)
    spend_import = _get_or_404(pk)
    if not _awaiting_mapping(spend_import):
        messages.info(request, "This import has already been started.")
        return redirect("spend_imports:detail", pk=pk)
    path = spend_import_path(spend_import)
    try:
        headers = importing.file_headers(path)
    except (ApplicationError, OSError):
        messages.error(request, "The uploaded file cannot be read any more; upload it again.")
        return redirect("spend_imports:detail", pk=pk)
    context: dict[str, object] = {"spend_import": spend_import, "headers": headers}
    if request.method == "GET":
        saved = spend_import.source.mapping or None
        initial = MappingForm.initial_for(importing.mapping_suggest(headers, saved=saved))
        form = MappingForm(initial=initial, headers=headers)
        return render(request, "analytics/imports/map.html", {**context, "form": form})
    form = MappingForm(request.POST, headers=headers)
    if not form.is_valid():
        return render(request, "analytics/imports/map.html", {**context, "form": form}, status=400)
    if request.POST.get("action") == "preview":
        rows = importing.preview_rows(path, form.mapping, limit=PREVIEW_ROWS)
        mapped = [
            (name, label) for name, label, *_ in MAPPED_FIELDS if form.mapping["columns"].get(name)
        ]
        preview = [(row, [row.values.get(name, "") for name, _ in mapped]) for row in rows]
        return render(
            request,
            "analytics/imports/map.html",
            {**context, "form": form, "preview": preview, "preview_columns": mapped},
        )
    try:
        spend_import_confirm(spend_import=spend_import, mapping=form.mapping, user=_user(request))
    except ApplicationError as error:
        if error.status == 409:
            messages.info(request, error.message)
            return redirect("spend_imports:detail", pk=pk)
        _errors_to_form(error, form)
        return render(
            request, "analytics/imports/map.html", {**context, "form": form}, status=error.status
        )
    return redirect("spend_imports:detail", pk=pk)


# --- The import's page -----------------------------------------------------------------------


def _new_payees(spend_import: SpendImport) -> tuple[list[Any], int]:
    """Supplier names this import brought in that match no vendor yet: the ones to review,
    largest spend first."""
    if spend_import.started_at is None:
        return [], 0
    payees = Payee.objects.filter(
        lines__spend_import=spend_import,
        match=PayeeMatch.UNMATCHED,
        created_at__gte=spend_import.started_at,
    )
    if spend_import.finished_at:
        payees = payees.filter(created_at__lte=spend_import.finished_at)
    # After the filter, the sums count this import's lines only.
    payees = payees.annotate(import_lines=Count("lines"), import_amount=Sum("lines__base_amount"))
    shown = list(payees.order_by("-import_amount", "name")[:NEW_PAYEES_SHOWN])
    return shown, payees.count()


def _payees_url() -> str | None:
    # The payee review pages are built alongside; link to them once they exist.
    try:
        return reverse("payees:list")
    except NoReverseMatch:
        return None


@login_required
@require_GET
def spend_import_detail_page(request: HttpRequest, pk: int) -> HttpResponse:
    _require_importer(request)
    spend_import = _get_or_404(pk)
    context: dict[str, object] = {
        "spend_import": spend_import,
        "awaiting_mapping": _awaiting_mapping(spend_import),
        "in_progress": _in_progress(spend_import),
        # Not while queued or running: the task would find its import gone.
        "may_delete": not _in_progress(spend_import),
        "base_currency": settings.BASE_CURRENCY,
    }
    if spend_import.state == ImportState.DONE:
        new_payees, new_payee_count = _new_payees(spend_import)
        problems = Paginator(spend_import.problems.all(), PROBLEMS_PAGE_SIZE)
        context.update(
            problems=problems.get_page(request.GET.get("page")),
            new_payees=new_payees,
            new_payee_count=new_payee_count,
            payees_url=_payees_url(),
        )
    return render(request, "analytics/imports/detail.html", context)


@login_required
@require_GET
def spend_import_progress_fragment(request: HttpRequest, pk: int) -> HttpResponse:
    """The progress bar alone, polled by htmx every second while the import runs."""
    _require_importer(request)
    spend_import = _get_or_404(pk)
    in_progress = _in_progress(spend_import)
    response = render(
        request,
        "analytics/imports/_progress.html",
        {"spend_import": spend_import, "in_progress": in_progress},
    )
    if not in_progress and request.headers.get("HX-Request"):
        # Finished: reload the whole page, which now shows the report instead of the bar.
        response["HX-Refresh"] = "true"
    return response


@login_required
@require_POST
def spend_import_delete_action(request: HttpRequest, pk: int) -> HttpResponse:
    _require_importer(request)
    spend_import = _get_or_404(pk)
    filename = spend_import.filename
    try:
        spend_import_delete(spend_import=spend_import, user=_user(request))
    except ApplicationError as error:
        messages.error(request, error.message)
        return redirect("spend_imports:detail", pk=pk)
    messages.success(request, f"The import of {filename} and its spend lines were deleted.")
    return redirect("spend_imports:list")
