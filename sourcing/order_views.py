"""Pages of purchase orders: the list, the detail with its actions (issue, cancel, close,
change orders, receipts, invoices), the PDF, and finance's queue of invoices on hold.

Thin: parse, call one service or selector, render. A PO the user may not see is a 404.
Every state change is a POST with CSRF; a refusal (403, 409) comes back as a message on the
PO's page, bad input (400) as errors next to the fields of the form it came from.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from procurement.errors import ApplicationError, NotFound
from procurement.permissions import allowed
from sourcing.access import may_resolve_invoices, may_see_sourcing, may_source
from sourcing.invoices import invoice_record, invoice_reject, invoice_release, invoice_rematch
from sourcing.models import ChangeOrderState, Invoice, InvoiceState, PoState, PurchaseOrder
from sourcing.order_forms import (
    CancelForm,
    ChangeOrderForm,
    DecisionForm,
    InvoiceForm,
    ReasonForm,
    ReceiptForm,
    errors_to_form,
)
from sourcing.order_selectors import (
    invoices_on_hold,
    po_available_actions,
    po_change_orders,
    po_get,
    po_history,
    po_invoices,
    po_line_statuses,
    po_list,
    po_receipts,
)
from sourcing.orders import (
    change_order_decide,
    change_order_request,
    change_order_tolerance_limit,
    po_cancel,
    po_close,
    po_issue,
)
from sourcing.pdf import po_pdf
from sourcing.receipts import receipt_record

if TYPE_CHECKING:
    from procurement.models import User

PAGE_SIZE = 25
INVOICE_ACTIONS = ("release", "reject", "rematch")
OPENABLE_FORMS = ("change", "receipt", "invoice")


def _user(request: HttpRequest) -> User:
    # @login_required has run: the user is a real account.
    return cast("User", request.user)


def _get_or_404(request: HttpRequest, po_id: int) -> PurchaseOrder:
    try:
        return po_get(by=_user(request), po_id=po_id)
    except NotFound:
        raise Http404("No such purchase order.") from None


def _refused(request: HttpRequest, po_id: int, error: ApplicationError) -> HttpResponse:
    if isinstance(error, NotFound):
        raise Http404(error.message)
    messages.error(request, error.message)
    return redirect("orders:detail", po_id=po_id)


# --- List ------------------------------------------------------------------------------------


@login_required
@require_GET
def po_list_page(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    state = request.GET.get("state", "")
    if state not in PoState.values:
        state = ""
    page = Paginator(po_list(by=user, state=state), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "sourcing/orders/list.html",
        {
            "page": page,
            "state": state,
            "states": PoState.choices,
            "can_see_all": may_see_sourcing(user),
            "can_resolve": may_resolve_invoices(user),
        },
    )


# --- Detail ----------------------------------------------------------------------------------


def _render_detail(
    request: HttpRequest,
    po: PurchaseOrder,
    *,
    forms: dict[str, Any] | None = None,
    status: int = 200,
    open_form: str = "",
) -> HttpResponse:
    user = _user(request)
    statuses = po_line_statuses(po)
    actions = po_available_actions(po=po, user=user)
    forms = forms or {}
    po_lines = [row.line for row in statuses]
    changes = list(po_change_orders(po))
    context = {
        "po": po,
        "statuses": statuses,
        "actions": actions,
        "history": po_history(po),
        "changes": [
            (
                change,
                change.state == ChangeOrderState.PENDING_APPROVAL
                and allowed(user, "sourcing.decide_changeorder", change),
            )
            for change in changes
        ],
        "tolerance_limit": change_order_tolerance_limit(po),
        "receipts": po_receipts(po),
        "invoices": list(po_invoices(po)),
        "can_resolve": may_resolve_invoices(user),
        "can_rematch": may_source(user) or may_resolve_invoices(user),
        "cancel_form": forms.get("cancel") or CancelForm(),
        "change_form": forms.get("change") or ChangeOrderForm(po_lines=po_lines),
        "receipt_form": forms.get("receipt") or ReceiptForm(statuses=statuses),
        "invoice_form": forms.get("invoice")
        or InvoiceForm(po_lines=po_lines, currency=po.currency),
        "open_form": next(iter(forms), open_form),
    }
    return render(request, "sourcing/orders/detail.html", context, status=status)


@login_required
@require_GET
def po_detail(request: HttpRequest, po_id: int) -> HttpResponse:
    # The links of the Actions panel (`?open=receipt#receipts`) open the form they lead to,
    # without JavaScript.
    wanted = request.GET.get("open", "")
    return _render_detail(
        request, _get_or_404(request, po_id), open_form=wanted if wanted in OPENABLE_FORMS else ""
    )


@login_required
@require_GET
def po_pdf_download(request: HttpRequest, po_id: int) -> HttpResponse:
    """The PO as the vendor gets it (read-only, so a GET)."""
    po = _get_or_404(request, po_id)
    response = HttpResponse(po_pdf(po), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{po.number}.pdf"'
    response["Cache-Control"] = "private, no-store"
    return response


# --- Actions on the PO -----------------------------------------------------------------------


@login_required
@require_POST
def po_issue_view(request: HttpRequest, po_id: int) -> HttpResponse:
    _get_or_404(request, po_id)
    try:
        po = po_issue(po_id=po_id, by=_user(request))
    except ApplicationError as error:
        return _refused(request, po_id, error)
    messages.success(request, f"{po.number} issued: it is on its way to {po.contact_email}.")
    return redirect("orders:detail", po_id=po_id)


@login_required
@require_POST
def po_cancel_view(request: HttpRequest, po_id: int) -> HttpResponse:
    po = _get_or_404(request, po_id)
    form = CancelForm(request.POST)
    if not form.is_valid():
        return _render_detail(request, po, forms={"cancel": form}, status=400)
    try:
        po_cancel(po_id=po_id, by=_user(request), reason=form.cleaned_data["reason"])
    except ApplicationError as error:
        if error.status == 400:
            errors_to_form(form, error)
            return _render_detail(request, po, forms={"cancel": form}, status=400)
        return _refused(request, po_id, error)
    messages.success(request, f"{po.number} cancelled.")
    return redirect("orders:detail", po_id=po_id)


@login_required
@require_POST
def po_close_view(request: HttpRequest, po_id: int) -> HttpResponse:
    po = _get_or_404(request, po_id)
    try:
        po_close(po_id=po_id, by=_user(request))
    except ApplicationError as error:
        return _refused(request, po_id, error)
    messages.success(request, f"{po.number} closed.")
    return redirect("orders:detail", po_id=po_id)


# --- Change orders ---------------------------------------------------------------------------


@login_required
@require_POST
def change_order_create(request: HttpRequest, po_id: int) -> HttpResponse:
    po = _get_or_404(request, po_id)
    form = ChangeOrderForm(request.POST, po_lines=list(po.lines.all()))
    if not form.is_valid():
        return _render_detail(request, po, forms={"change": form}, status=400)
    try:
        change = change_order_request(
            po_id=po_id, by=_user(request), lines=form.lines(), reason=form.cleaned_data["reason"]
        )
    except ApplicationError as error:
        if error.status == 400:
            errors_to_form(form, error, names=form.error_names)
            return _render_detail(request, po, forms={"change": form}, status=400)
        return _refused(request, po_id, error)
    if change.state == ChangeOrderState.APPLIED:
        messages.success(
            request,
            f"Change {change.number} applied: {po.number} now totals "
            f"{change.new_total:,.2f} {po.currency}."
            + (" The vendor is sent the new version." if po.state != PoState.DRAFT else ""),
        )
    else:
        messages.success(
            request,
            f"Change {change.number} goes beyond the tolerance: it waits for "
            f"{change.get_approver_role_display().lower()} approval, who have been emailed.",
        )
    return redirect("orders:detail", po_id=po_id)


@login_required
@require_POST
def change_order_decide_view(request: HttpRequest, po_id: int, change_id: int) -> HttpResponse:
    _get_or_404(request, po_id)
    if not PurchaseOrder.objects.filter(pk=po_id, change_orders__pk=change_id).exists():
        raise Http404("No such change order.")
    form = DecisionForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose approve or refuse.")
        return redirect("orders:detail", po_id=po_id)
    action = form.cleaned_data["action"]
    try:
        change = change_order_decide(
            change_order_id=change_id,
            by=_user(request),
            action=action,
            comment=form.cleaned_data["comment"],
        )
    except ApplicationError as error:
        return _refused(request, po_id, error)
    messages.success(
        request,
        f"Change {change.number} {'approved and applied' if action == 'approve' else 'refused'}.",
    )
    return redirect("orders:detail", po_id=po_id)


# --- Receipts and invoices -------------------------------------------------------------------


@login_required
@require_POST
def receipt_create(request: HttpRequest, po_id: int) -> HttpResponse:
    po = _get_or_404(request, po_id)
    form = ReceiptForm(request.POST, statuses=po_line_statuses(po))
    if not form.is_valid():
        return _render_detail(request, po, forms={"receipt": form}, status=400)
    try:
        receipt_record(
            po_id=po_id,
            by=_user(request),
            received_on=form.cleaned_data["received_on"],
            lines=form.lines(),
            note=form.cleaned_data["note"],
        )
    except ApplicationError as error:
        if error.status == 400:
            errors_to_form(form, error)
            return _render_detail(request, po, forms={"receipt": form}, status=400)
        return _refused(request, po_id, error)
    messages.success(request, "Receipt recorded.")
    return redirect("orders:detail", po_id=po_id)


@login_required
@require_POST
def invoice_create(request: HttpRequest, po_id: int) -> HttpResponse:
    po = _get_or_404(request, po_id)
    form = InvoiceForm(request.POST, po_lines=list(po.lines.all()), currency=po.currency)
    if not form.is_valid():
        return _render_detail(request, po, forms={"invoice": form}, status=400)
    data = form.cleaned_data
    try:
        invoice = invoice_record(
            po_id=po_id,
            by=_user(request),
            number=data["number"],
            invoice_date=data["invoice_date"],
            currency=data["currency"],
            total=data["total"],
            lines=form.lines(),
        )
    except ApplicationError as error:
        if error.status == 400:
            errors_to_form(form, error)
            return _render_detail(request, po, forms={"invoice": form}, status=400)
        return _refused(request, po_id, error)
    if invoice.state == InvoiceState.MATCHED:
        messages.success(request, f"Invoice {invoice.number} matches the order and the receipts.")
    else:
        messages.warning(
            request,
            f"Invoice {invoice.number} is on hold: "
            + "; ".join(reason["message"] for reason in invoice.hold_reasons)
            + ". Finance has been told.",
        )
    return redirect("orders:detail", po_id=po_id)


@login_required
@require_POST
def invoice_action(request: HttpRequest, po_id: int, invoice_id: int, action: str) -> HttpResponse:
    if action not in INVOICE_ACTIONS:
        raise Http404("No such action.")
    _get_or_404(request, po_id)
    if not Invoice.objects.filter(pk=invoice_id, po_id=po_id).exists():
        raise Http404("No such invoice.")
    user = _user(request)
    try:
        if action == "rematch":
            invoice = invoice_rematch(invoice_id=invoice_id, by=user)
        else:
            form = ReasonForm(request.POST)
            if not form.is_valid():
                messages.error(request, f"Say why the invoice is {action}d.")
                return redirect("orders:detail", po_id=po_id)
            service = invoice_release if action == "release" else invoice_reject
            invoice = service(invoice_id=invoice_id, by=user, reason=form.cleaned_data["reason"])
    except ApplicationError as error:
        return _refused(request, po_id, error)
    if invoice.state == InvoiceState.ON_HOLD:
        messages.warning(request, f"Invoice {invoice.number} still does not match.")
    else:
        messages.success(
            request, f"Invoice {invoice.number} {invoice.get_state_display().lower()}."
        )
    if request.POST.get("next") == "queue":
        return redirect("orders:on-hold")
    return redirect("orders:detail", po_id=po_id)


# --- Finance's queue -------------------------------------------------------------------------


@login_required
@require_GET
def invoices_on_hold_page(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    if not may_see_sourcing(user):
        raise Http404("No such page.")
    return render(
        request,
        "sourcing/orders/on_hold.html",
        {"invoices": invoices_on_hold(by=user), "can_resolve": may_resolve_invoices(user)},
    )
