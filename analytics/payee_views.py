"""Pages for the payee review (map the supplier names of imported spend to vendors) and the
exchange rates, mounted at /analytics/payees/ (namespace "payees").

Thin: each view parses the browser's input, calls one service or selector in
analytics.payees / analytics.fx, and renders. For procurement, finance and admins only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from analytics.fx import exchange_rates_import
from analytics.models import Payee, SpendImport
from analytics.payee_forms import RateFileForm
from analytics.payees import (
    PayeeView,
    VendorIndex,
    payee_map_to_vendor,
    payee_unmap,
    payees_for_review,
    vendor_candidates,
)
from analytics.scope import filter_id, spend_may_import
from procurement.errors import ApplicationError
from procurement.models import ExchangeRate
from vendors.models import Vendor

if TYPE_CHECKING:
    from procurement.models import User

PAGE_SIZE = 25
VENDOR_OPTIONS = 20


def _user(request: HttpRequest) -> User:
    user = cast("User", request.user)
    if not spend_may_import(user):
        raise PermissionDenied("Payees and exchange rates are for procurement, finance and admins.")
    return user


def _int(value: str | None) -> int | None:
    # filter_id: "²" passes str.isdigit() but not int(), and a huge number overflows the database.
    return filter_id(value) if value else None


@login_required
@require_GET
def payee_list_page(request: HttpRequest) -> HttpResponse:
    _user(request)
    view = request.GET.get("view", PayeeView.REVIEW)
    if view not in PayeeView.values:
        view = PayeeView.REVIEW
    import_id = _int(request.GET.get("import"))
    spend_import = SpendImport.objects.filter(pk=import_id).first() if import_id else None
    q = request.GET.get("q", "").strip()[:100]
    payees = payees_for_review(view=view, import_id=import_id, q=q)
    page = Paginator(payees, PAGE_SIZE).get_page(request.GET.get("page"))
    index = VendorIndex()
    rows = []
    candidate_ids: dict[int, list[int]] = {}
    for payee in page.object_list:
        ids = vendor_candidates(payee, index)
        if payee.vendor_id and payee.vendor_id not in ids:
            ids.insert(0, payee.vendor_id)
        candidate_ids[payee.pk] = ids
    vendors = Vendor.objects.in_bulk({i for ids in candidate_ids.values() for i in ids})
    for payee in page.object_list:
        rows.append(
            {
                "payee": payee,
                "spellings": sorted(s.spelling for s in payee.spellings.all()),
                "candidates": [vendors[i] for i in candidate_ids[payee.pk] if i in vendors],
            }
        )
    return render(
        request,
        "analytics/payees.html",
        {
            "page": page,
            "rows": rows,
            "view": view,
            "views": PayeeView.choices,
            "q": q,
            "spend_import": spend_import,
            "import_id": import_id,
            "filtered": bool(q or import_id),
            "here": request.get_full_path(),
        },
    )


@login_required
@require_GET
def vendor_options_fragment(request: HttpRequest) -> HttpResponse:
    """<option>s of the vendors whose name or other name contains ?q= (for the htmx picker)."""
    _user(request)
    q = request.GET.get("q", "").strip()[:100]
    vendors = Vendor.objects.none()
    if q:
        vendors = (
            Vendor.objects.filter(Q(legal_name__icontains=q) | Q(other_names__name__icontains=q))
            .distinct()
            .order_by("legal_name")[:VENDOR_OPTIONS]
        )
    return render(request, "analytics/payees_vendor_options.html", {"vendors": vendors, "q": q})


def _back(request: HttpRequest) -> HttpResponse:
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = reverse("payees:list")
    return redirect(target)


def _payee(pk: int) -> Payee:
    payee = Payee.objects.filter(pk=pk).first()
    if payee is None:
        raise Http404("No such payee.")
    return payee


@login_required
@require_POST
def payee_map_action(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    payee = _payee(pk)
    vendor_id = _int(request.POST.get("vendor"))
    vendor = Vendor.objects.filter(pk=vendor_id).first() if vendor_id else None
    if vendor is None:
        messages.error(request, f"Choose the vendor that {payee.name} is.")
        return _back(request)
    try:
        payee_map_to_vendor(payee=payee, vendor=vendor, user=user)
    except ApplicationError as error:
        messages.error(request, error.message)
        return _back(request)
    messages.success(
        request,
        f"{payee.name} is now {vendor.legal_name}, for its past and future spend.",
    )
    return _back(request)


@login_required
@require_POST
def payee_unmap_action(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    payee = _payee(pk)
    was = payee.vendor
    try:
        payee_unmap(payee=payee, user=user)
    except ApplicationError as error:
        messages.error(request, error.message)
        return _back(request)
    if was is not None:
        messages.success(request, f"{payee.name} is no longer taken for {was.legal_name}.")
    return _back(request)


# --- Exchange rates ---------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def exchange_rates_page(request: HttpRequest) -> HttpResponse:
    _user(request)
    status = 200
    form = RateFileForm()
    if request.method == "POST":
        form = RateFileForm(request.POST, request.FILES)
        if form.is_valid():
            try:
                counts = exchange_rates_import(form.cleaned_data["file"])
            except ApplicationError as error:
                form.add_error("file", error.fields.get("file") or error.message)
            else:
                messages.success(
                    request,
                    f"Imported {counts.total} rates: {counts.created} new, "
                    f"{counts.updated} changed, {counts.unchanged} unchanged.",
                )
                return redirect("payees:exchange-rates")
        status = 400
    currency = request.GET.get("currency", "").strip().upper()[:3]
    rates = ExchangeRate.objects.order_by("currency", "-valid_from")
    if currency:
        rates = rates.filter(currency=currency)
    page = Paginator(rates, 50).get_page(request.GET.get("page"))
    currencies = list(
        ExchangeRate.objects.order_by("currency").values_list("currency", flat=True).distinct()
    )
    return render(
        request,
        "analytics/exchange_rates.html",
        {"form": form, "page": page, "currency": currency, "currencies": currencies},
        status=status,
    )
