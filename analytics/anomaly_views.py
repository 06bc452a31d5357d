"""Pages for findings in the spend (duplicates, split purchases, spend with vendors that are
not approved) and for approval cycle times.

Thin by design: parse the filters, narrow them to the user's scope, call the selectors, and
render the page or hand the same tables to the CSV/XLSX export.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from analytics.anomalies import (
    AnomalyStatus,
    VendorSpend,
    anomaly_dismiss,
    anomaly_lines_rows,
    anomaly_list,
    anomaly_may_dismiss,
    anomaly_summary,
    spend_with_unapproved_vendors,
    split_band_percent,
    split_thresholds,
    split_window_days,
)
from analytics.cycle_times import (
    approval_cycle_times,
    cycle_filters_for,
    cycle_filters_parse,
    cycle_times_chart,
    cycle_times_departments,
    cycle_times_tables,
)
from analytics.exports import Table, table_response
from analytics.models import AnomalyKind, SpendAnomaly
from analytics.scope import SpendFilters, filter_id, spend_filters_for, spend_filters_parse
from analytics.selectors import spend_filter_choices
from procurement.errors import ApplicationError, InvalidInput, NotAllowed

if TYPE_CHECKING:
    from procurement.models import User

PAGE_SIZE = 20
VENDOR_ROWS = 50
EXPORT_FORMATS = ("csv", "xlsx")
# The section a CSV export holds (a CSV file is one table); XLSX holds all three.
SECTIONS = ("duplicates", "splits", "vendors")
FILTER_NAMES = ("from", "to", "department", "category", "vendor", "payee")
LINE_HEADER = [
    "Finding",
    "Kind",
    "Detail",
    "Payee",
    "Status",
    "Date",
    "Amount",
    "Currency",
    "Base amount",
    "Reference",
    "Department",
    "Category",
    "Source",
    "Description",
]


def _user(request: HttpRequest) -> User:
    return cast("User", request.user)


def _params(query: QueryDict) -> dict[str, list[str]]:
    return {key: query.getlist(key) for key in query}


def _spend_filters(user: User, query: QueryDict) -> tuple[SpendFilters, dict[str, list[str]]]:
    """The user's filters within their scope, and the field errors of a bad query string
    (then the filters are the scope alone)."""
    try:
        scope = spend_filters_for(user)
    except NotAllowed as error:
        raise PermissionDenied(error.message) from None
    try:
        return spend_filters_for(user, spend_filters_parse(_params(query))), {}
    except InvalidInput as error:
        return scope, error.fields or {"from": [error.message]}


def _choices(filters: SpendFilters) -> dict[str, object]:
    # The dashboards' choices: within a manager's scope, only the departments, categories and
    # vendors with spend there, so no other department's names show up in a menu.
    choices = spend_filter_choices(scope_department_ids=filters.scope_department_ids)
    return {
        "departments": choices.departments,
        "categories": choices.categories,
        "vendors": choices.vendors,
    }


def _selected(query: QueryDict, name: str) -> set[int]:
    selected = (filter_id(v) for value in query.getlist(name) for v in value.split(","))
    return {value_id for value_id in selected if value_id is not None}


def _vendor_table(rows: list[VendorSpend]) -> Table:
    return Table(
        title="Vendors not approved",
        header=["Payee", "Vendor", "Status", "Amount", "Lines", "First month", "Last month"],
        rows=[
            [r.payee, r.vendor, r.status, r.amount, r.lines, r.first_month, r.last_month]
            for r in rows
        ],
    )


def _export(
    query: QueryDict,
    file_format: str,
    *,
    duplicates: object,
    splits: object,
    vendor_rows: list[VendorSpend],
) -> HttpResponse:
    tables = {
        "duplicates": Table(
            title="Duplicate payments",
            header=LINE_HEADER,
            rows=anomaly_lines_rows(duplicates),  # type: ignore[arg-type]
        ),
        "splits": Table(
            title="Split purchases",
            header=LINE_HEADER,
            rows=anomaly_lines_rows(splits),  # type: ignore[arg-type]
        ),
        "vendors": _vendor_table(vendor_rows),
    }
    first = query.get("section", "duplicates")
    if first not in SECTIONS:
        first = "duplicates"
    ordered = [tables[first], *(t for name, t in tables.items() if name != first)]
    return table_response(ordered, file_format=file_format, filename=f"spend-anomalies-{first}")


def _render_list(
    request: HttpRequest,
    *,
    query: QueryDict,
    here: str,
    dismiss_errors: dict[int, list[str]] | None = None,
    status: int = 200,
) -> HttpResponse:
    """The page for the filters in `query`; `here` is its address, where a dismissal returns."""
    user = _user(request)
    filters, errors = _spend_filters(user, query)
    state = query.get("status", AnomalyStatus.OPEN)
    if state not in dict(AnomalyStatus.CHOICES):
        state = AnomalyStatus.OPEN
    duplicates = anomaly_list(filters=filters, kind=AnomalyKind.DUPLICATE_PAYMENT, status=state)
    splits = anomaly_list(filters=filters, kind=AnomalyKind.SPLIT_PURCHASE, status=state)
    vendor_rows = spend_with_unapproved_vendors(filters=filters)
    file_format = query.get("export", "")
    if file_format in EXPORT_FORMATS and not errors:
        return _export(
            query,
            file_format,
            duplicates=duplicates.iterator(chunk_size=500),
            splits=splits.iterator(chunk_size=500),
            vendor_rows=vendor_rows,
        )
    return render(
        request,
        "analytics/anomalies.html",
        {
            "errors": errors,
            "values": {
                "from": query.get("from", ""),
                "to": query.get("to", ""),
                "department": _selected(query, "department"),
                "category": _selected(query, "category"),
                "vendor": _selected(query, "vendor"),
            },
            "status": state,
            "statuses": AnomalyStatus.CHOICES,
            "filtered": any(query.get(k) for k in FILTER_NAMES),
            **_choices(filters),
            # The counts first, with links down: a year of findings is a long page.
            "summary": anomaly_summary(filters) if not errors else {},
            "duplicates": Paginator(duplicates, PAGE_SIZE).get_page(query.get("duplicates_page")),
            "splits": Paginator(splits, PAGE_SIZE).get_page(query.get("splits_page")),
            "vendor_rows": vendor_rows[:VENDOR_ROWS],
            "vendor_rows_more": max(0, len(vendor_rows) - VENDOR_ROWS),
            "may_dismiss": anomaly_may_dismiss(user),
            "dismiss_errors": dismiss_errors or {},
            "here": here,
            "base_currency": settings.BASE_CURRENCY,
            "split_window_days": split_window_days(),
            "split_band_percent": split_band_percent(),
            "split_thresholds": [f"{t:,}" for t in split_thresholds()],
        },
        status=status if not errors else 400,
    )


@login_required
@require_GET
def anomaly_list_page(request: HttpRequest) -> HttpResponse:
    return _render_list(request, query=request.GET, here=request.get_full_path())


@login_required
@require_POST
def anomaly_dismiss_action(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    # Who may act before whether it exists: a guessed id tells nothing to anyone else.
    if not anomaly_may_dismiss(user):
        raise PermissionDenied("Only procurement and finance dismiss findings.")
    anomaly = SpendAnomaly.objects.filter(pk=pk).first()
    if anomaly is None:
        raise Http404("No such finding.")
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        back, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        back = reverse("anomalies:list")
    try:
        anomaly_dismiss(anomaly=anomaly, user=user, reason=request.POST.get("reason", ""))
    except NotAllowed as error:
        raise PermissionDenied(error.message) from None
    except InvalidInput as error:
        # Show the list the form was on, with the error next to that finding's reason field.
        return _render_list(
            request,
            query=QueryDict(urlsplit(back).query),
            here=back,
            dismiss_errors={anomaly.pk: error.fields.get("reason", [error.message])},
            status=400,
        )
    except ApplicationError as error:
        messages.error(request, error.message)
        return redirect(back)
    messages.success(request, "Finding dismissed.")
    return redirect(back)


# --- Approval cycle times --------------------------------------------------------------


@login_required
@require_GET
def cycle_times_page(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    errors: dict[str, list[str]] = {}
    try:
        filters = cycle_filters_for(user)
    except NotAllowed as error:
        raise PermissionDenied(error.message) from None
    try:
        filters = cycle_filters_for(user, cycle_filters_parse(_params(request.GET)))
    except InvalidInput as error:
        errors = error.fields or {"from": [error.message]}
    figures = approval_cycle_times(filters=filters)
    file_format = request.GET.get("export", "")
    if file_format in EXPORT_FORMATS and not errors:
        return table_response(
            cycle_times_tables(figures), file_format=file_format, filename="approval-cycle-times"
        )
    return render(
        request,
        "analytics/cycle_times.html",
        {
            "errors": errors,
            "values": {
                "from": request.GET.get("from", ""),
                "to": request.GET.get("to", ""),
                "department": _selected(request.GET, "department"),
            },
            "filtered": any(request.GET.get(k) for k in ("from", "to", "department")),
            "departments": cycle_times_departments(user).order_by("name").values_list("pk", "name"),
            "figures": figures,
            "chart": cycle_times_chart(figures),
        },
        status=400 if errors else 200,
    )
