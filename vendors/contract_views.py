"""Pages for contracts: the renewal pipeline, the list, the form, the detail with its
actions, documents and linked requests.

Thin: each view parses the browser's input, calls one service or selector from
vendors/contracts.py, and renders. People who may not see contracts get a 404.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from procurement.errors import ApplicationError, NotFound
from procurement.files import private_file_response
from procurement.models import ROLES_SEEING_ALL_REQUESTS
from vendors.contract_forms import (
    ContractForm,
    DocumentForm,
    LinkRequestForm,
    ReasonForm,
    RenewForm,
)
from vendors.contracts import (
    CONTRACT_ACTIONS,
    contract_available_actions,
    contract_create,
    contract_document_add,
    contract_get,
    contract_history,
    contract_link_request,
    contract_list,
    contract_may_manage,
    contract_may_view,
    contract_pipeline,
    contract_renew,
    contract_transition,
    contract_unlink_request,
    contract_update,
)
from vendors.models import Contract, ContractState, Vendor
from vendors.selectors import vendor_may_manage

if TYPE_CHECKING:
    from django import forms

    from procurement.models import User

PAGE_SIZE = 25
PIPELINE_WINDOWS = (30, 90, 180)
# How the contract's audit actions read in its history.
HISTORY_VERBS = {
    "created": "recorded the contract",
    "edited": "edited the terms",
    "activate": "activated it",
    "terminate": "terminated it",
    "renewed": "renewed it",
    "auto_renewed": "renewed it automatically",
    "expired": "marked it expired",
    "entered_notice_window": "moved it into its notice window",
    "document_added": "added a document",
    "request_linked": "linked a purchase request",
    "request_unlinked": "unlinked a purchase request",
}


def _user(request: HttpRequest) -> User:
    # @login_required has run: the user is a real account.
    return cast("User", request.user)


def _get_or_404(request: HttpRequest, pk: int) -> Contract:
    # A contract the user may not see answers exactly like one that does not exist.
    contract = contract_get(user=_user(request), contract_id=pk)
    if contract is None:
        raise Http404("No such contract.")
    return contract


def _require_contract_reader(request: HttpRequest) -> None:
    # Requesters and managers see no contract pages at all (an owner still sees their own).
    user = _user(request)
    if not contract_may_view(user) and not Contract.objects.filter(owner=user).exists():
        raise Http404("No such page.")


def _errors_to_form(error: ApplicationError, form: forms.Form) -> None:
    """A service's field errors next to the fields they name; the rest at the top."""
    if not error.fields:
        form.add_error(None, error.message)
        return
    for key, field_messages in error.fields.items():
        form.add_error(key if key in form.fields else None, field_messages)


# --- Pipeline and list -------------------------------------------------------------------


@login_required
@require_GET
def contract_pipeline_page(request: HttpRequest) -> HttpResponse:
    _require_contract_reader(request)
    # Compared as text: int() of a thousands-digit "days" raises (a 500).
    windows = {str(window): window for window in PIPELINE_WINDOWS}
    days = windows.get(request.GET.get("days", ""), 90)
    today = timezone.localdate()
    items = contract_pipeline(user=_user(request), days=days, today=today)
    return render(
        request,
        "vendors/contracts/pipeline.html",
        {
            "items": items,
            "overdue": [item for item in items if item.overdue],
            "upcoming": [item for item in items if not item.overdue],
            "days": days,
            "windows": PIPELINE_WINDOWS,
            "today": today,
            "can_create": vendor_may_manage(_user(request)),
        },
    )


@login_required
@require_GET
def contract_list_page(request: HttpRequest) -> HttpResponse:
    _require_contract_reader(request)
    state = request.GET.get("state", "")
    if state not in ContractState.values:
        state = ""
    q = request.GET.get("q", "").replace("\x00", "").strip()[:200]
    contracts = contract_list(user=_user(request), state=state, q=q)
    page = Paginator(contracts, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "vendors/contracts/list.html",
        {
            "page": page,
            "state": state,
            "q": q,
            "states": ContractState.choices,
            "filtered": bool(state or q),
            "can_create": vendor_may_manage(_user(request)),
        },
    )


# --- Create and edit -----------------------------------------------------------------------


def _render_form(
    request: HttpRequest, form: ContractForm, contract: Contract | None = None, status: int = 200
) -> HttpResponse:
    return render(
        request,
        "vendors/contracts/form.html",
        {"form": form, "contract": contract},
        status=status,
    )


@login_required
@require_http_methods(["GET", "POST"])
def contract_create_page(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    if not vendor_may_manage(user):
        if contract_may_view(user):
            messages.error(request, "Only procurement can add contracts.")
            return redirect("contracts:pipeline")
        raise Http404("No such page.")
    if request.method == "GET":
        initial = {}
        vendor_id = request.GET.get("vendor", "")
        # At most 18 ASCII digits: int() of a thousands-digit value raises (a 500).
        if re.fullmatch(r"[0-9]{1,18}", vendor_id) and Vendor.objects.filter(pk=vendor_id).exists():
            initial["vendor"] = int(vendor_id)
        initial["owner"] = user.pk
        return _render_form(request, ContractForm(initial=initial))
    form = ContractForm(request.POST)
    if not form.is_valid():
        return _render_form(request, form, status=400)
    try:
        contract = contract_create(by=user, data=form.contract_input())
    except ApplicationError as error:
        _errors_to_form(error, form)
        return _render_form(request, form, status=400)
    messages.success(request, f"Contract “{contract.title}” saved as a draft.")
    return redirect("contracts:detail", pk=contract.pk)


@login_required
@require_http_methods(["GET", "POST"])
def contract_edit_page(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    contract = _get_or_404(request, pk)
    if not contract_may_manage(user, contract):
        messages.error(request, "Only procurement or the contract's owner can edit it.")
        return redirect("contracts:detail", pk=pk)
    if request.method == "GET":
        return _render_form(request, ContractForm.for_contract(contract), contract)
    form = ContractForm(request.POST, contract=contract)
    if not form.is_valid():
        return _render_form(request, form, contract, status=400)
    try:
        contract_update(contract_id=pk, by=user, data=form.contract_input())
    except NotFound:
        raise Http404("No such contract.") from None
    except ApplicationError as error:
        if error.status in (403, 409):
            messages.error(request, error.message)
            return redirect("contracts:detail", pk=pk)
        _errors_to_form(error, form)
        return _render_form(request, form, contract, status=400)
    messages.success(request, "Contract saved.")
    return redirect("contracts:detail", pk=pk)


# --- Detail and actions --------------------------------------------------------------------


def _render_detail(
    request: HttpRequest,
    contract: Contract,
    *,
    document_form: DocumentForm | None = None,
    link_form: LinkRequestForm | None = None,
    status: int = 200,
) -> HttpResponse:
    user = _user(request)
    today = timezone.localdate()
    return render(
        request,
        "vendors/contracts/detail.html",
        {
            "contract": contract,
            "actions": contract_available_actions(contract=contract, user=user),
            "can_manage": contract_may_manage(user, contract),
            "editable": contract.state
            in (ContractState.DRAFT, ContractState.ACTIVE, ContractState.EXPIRING),
            "days_left": (contract.notice_deadline - today).days,
            "history": [
                (entry, HISTORY_VERBS.get(entry.action, entry.action.replace("_", " ")))
                for entry in contract_history(contract)
            ],
            "documents": contract.documents.select_related("uploaded_by"),
            **_linked_requests(contract, user=user),
            "predecessor": contract.renewed_from,
            "successor": Contract.objects.filter(renewed_from=contract).first(),
            "document_form": document_form or DocumentForm(),
            "link_form": link_form or LinkRequestForm(),
        },
        status=status,
    )


def _linked_requests(contract: Contract, *, user: User) -> dict[str, object]:
    """The requests under the contract that `user` may read, and how many others there are.

    Security, legal and a contract's owner see contracts but not everyone's requests
    (requests/selectors.py decides who does, and this app may not import it): they get their
    own requests here and a count of the rest, never the others' titles and totals.
    """
    requests = contract.purchase_requests.select_related("requester").order_by("-created_at")
    if user.has_role(*ROLES_SEEING_ALL_REQUESTS):
        return {"linked_requests": requests, "other_requests": 0}
    own = requests.filter(requester=user)
    return {"linked_requests": own, "other_requests": requests.count() - own.count()}


@login_required
@require_GET
def contract_detail_page(request: HttpRequest, pk: int) -> HttpResponse:
    return _render_detail(request, _get_or_404(request, pk))


@login_required
@require_POST
def contract_action_page(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    if action not in CONTRACT_ACTIONS:
        raise Http404("No such action.")
    _get_or_404(request, pk)
    form = ReasonForm(request.POST)
    if not form.is_valid():
        messages.error(request, f"Reason: {form.errors['reason'][0]}")
        return redirect("contracts:detail", pk=pk)
    try:
        contract_transition(
            contract_id=pk, by=_user(request), action=action, reason=form.cleaned_data["reason"]
        )
    except NotFound:
        raise Http404("No such contract.") from None
    except ApplicationError as error:
        messages.error(request, error.message)
        return redirect("contracts:detail", pk=pk)
    messages.success(request, f"Contract {CONTRACT_ACTIONS[action].past}.")
    return redirect("contracts:detail", pk=pk)


@login_required
@require_http_methods(["GET", "POST"])
def contract_renew_page(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    contract = _get_or_404(request, pk)
    if "renew" not in contract_available_actions(contract=contract, user=user):
        messages.error(request, "This contract cannot be renewed by you now.")
        return redirect("contracts:detail", pk=pk)
    if request.method == "GET":
        form = RenewForm()
        return render(request, "vendors/contracts/renew.html", {"contract": contract, "form": form})
    form = RenewForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            successor = contract_renew(
                contract_id=pk,
                by=user,
                reason=data["reason"],
                new_end_date=data["new_end_date"],
                months=data["months"],
                value=data["value"],
                renewal_terms=data["renewal_terms"] or None,
            )
        except NotFound:
            raise Http404("No such contract.") from None
        except ApplicationError as error:
            if error.status in (403, 409):
                messages.error(request, error.message)
                return redirect("contracts:detail", pk=pk)
            _errors_to_form(error, form)
        else:
            messages.success(
                request,
                f"Contract renewed until {successor.end_date:%d %b %Y}: this is the new term.",
            )
            return redirect("contracts:detail", pk=successor.pk)
    return render(
        request, "vendors/contracts/renew.html", {"contract": contract, "form": form}, status=400
    )


# --- Documents and linked requests ------------------------------------------------------


@login_required
@require_POST
def contract_document_upload(request: HttpRequest, pk: int) -> HttpResponse:
    contract = _get_or_404(request, pk)
    form = DocumentForm(request.POST, request.FILES)
    if not form.is_valid():
        return _render_detail(request, contract, document_form=form, status=400)
    try:
        document = contract_document_add(
            contract_id=pk,
            by=_user(request),
            title=form.cleaned_data["title"],
            upload=form.cleaned_data["file"],
        )
    except NotFound:
        raise Http404("No such contract.") from None
    except ApplicationError as error:
        _errors_to_form(error, form)
        return _render_detail(request, contract, document_form=form, status=400)
    messages.success(request, f"{document.filename} added.")
    return redirect("contracts:detail", pk=pk)


@login_required
@require_GET
def contract_document_download(request: HttpRequest, pk: int, doc_pk: int) -> FileResponse:
    """The file, to whoever may see its contract; a 404 for everyone else."""
    contract = _get_or_404(request, pk)
    document = contract.documents.filter(pk=doc_pk).first()
    if document is None:
        raise Http404("No such document.")
    return private_file_response(
        document.file, filename=document.filename, content_type=document.content_type
    )


@login_required
@require_POST
def contract_request_link(request: HttpRequest, pk: int) -> HttpResponse:
    contract = _get_or_404(request, pk)
    form = LinkRequestForm(request.POST)
    if not form.is_valid():
        return _render_detail(request, contract, link_form=form, status=400)
    try:
        contract_link_request(
            contract_id=pk, request_id=form.cleaned_data["request"], by=_user(request)
        )
    except NotFound:
        raise Http404("No such contract.") from None
    except ApplicationError as error:
        _errors_to_form(error, form)
        return _render_detail(request, contract, link_form=form, status=400)
    messages.success(request, "Request linked to this contract.")
    return redirect("contracts:detail", pk=pk)


@login_required
@require_POST
def contract_request_unlink(request: HttpRequest, pk: int, request_id: int) -> HttpResponse:
    _get_or_404(request, pk)
    try:
        contract_unlink_request(contract_id=pk, request_id=request_id, by=_user(request))
    except NotFound:
        raise Http404("That request is not linked to this contract.") from None
    except ApplicationError as error:
        messages.error(request, error.message)
        return redirect("contracts:detail", pk=pk)
    messages.success(request, "Request unlinked.")
    return redirect("contracts:detail", pk=pk)
