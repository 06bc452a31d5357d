"""Pages for vendors: the list, the add/edit form with "did you mean ...?", the one-screen
vendor page, and the POST-only actions on it.

Thin by design: each view parses the browser's input, calls one selector or service, and
renders. An ApplicationError's message goes to the page, and its fields to the form fields.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from procurement.errors import ApplicationError, NotFound
from procurement.files import private_file_response
from procurement.models import ROLES_SEEING_ALL_REQUESTS, AuditEntry
from vendors.forms import (
    BankDetailsForm,
    BaseContactFormSet,
    CheckRecordForm,
    DeclarationForm,
    DocumentForm,
    SanctionsReviewForm,
    TransitionForm,
    VendorForm,
    contact_formset,
)
from vendors.models import (
    CheckStatus,
    DueDiligenceCheck,
    SanctionsMatch,
    Vendor,
    VendorDocument,
    VendorState,
)
from vendors.sanctions import (
    sanctions_list_label,
    sanctions_lists_summary,
    sanctions_match_review,
)
from vendors.selectors import (
    vendor_approval_blockers,
    vendor_list,
    vendor_may_add_documents,
    vendor_may_declare,
    vendor_may_manage,
    vendor_may_record_checks,
    vendor_may_see_bank_details,
    vendor_may_see_file,
    vendor_visible_to,
)
from vendors.services import (
    VENDOR_ACTIONS,
    PossibleDuplicate,
    conflict_declare,
    due_diligence_check_record,
    vendor_bank_details_change,
    vendor_create,
    vendor_document_add,
    vendor_transition,
    vendor_update,
)

if TYPE_CHECKING:
    from procurement.models import User

PAGE_SIZE = 25

# Button labels of the lifecycle moves, in the order the page shows them.
ACTION_LABELS = {
    "start_review": "Start review",
    "approve": "Approve",
    "return_to_review": "Return to review",
    "suspend": "Suspend",
    "block": "Block",
    "offboard": "Offboard",
}
# The words of the vendor's own audit actions; checks are "check_<kind>".
HISTORY_VERBS = {
    "created": "added the vendor",
    "edited": "edited the record",
    "start_review": "started the review",
    "approve": "approved the vendor",
    "suspend": "suspended the vendor",
    "return_to_review": "returned the vendor to review",
    "block": "blocked the vendor",
    "offboard": "offboarded the vendor",
    "bank_details_changed": "changed the bank details",
    "conflict_declared": "declared their interests",
    "document_added": "added a document",
    "sanctions_screened": "screened the vendor against the sanctions lists",
    "sanctions_match_cleared": "cleared a possible sanctions match",
    "sanctions_match_confirmed": "confirmed a sanctions match",
}


def _user(request: HttpRequest) -> User:
    # @login_required has run: the user is a real account, not AnonymousUser.
    return cast("User", request.user)


def _get_or_404(request: HttpRequest, pk: int) -> Vendor:
    vendor = (
        vendor_visible_to(_user(request))
        .select_related("owner", "vendor_type")
        .filter(pk=pk)
        .first()
    )
    if vendor is None:
        raise Http404("No such vendor.")
    return vendor


def _put_errors_on_fields(error: ApplicationError, form: forms.Form) -> None:
    """A service's field errors next to the fields they name; the rest at the top of the form."""
    if not error.fields:
        form.add_error(None, error.message)
    for key, field_messages in error.fields.items():
        form.add_error(key if key in form.fields else None, field_messages)


# --- List ------------------------------------------------------------------------------


@login_required
@require_GET
def vendor_list_page(request: HttpRequest) -> HttpResponse:
    state = request.GET.get("state", "")
    if state not in VendorState.values:
        state = ""
    # A NUL cannot be searched for, and PostgreSQL refuses it in a query outright.
    q = request.GET.get("q", "").replace("\x00", "").strip()[:200]
    vendors = vendor_list(user=_user(request), q=q, state=state)
    page = Paginator(vendors, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "vendors/list.html",
        {
            "page": page,
            "q": q,
            "state": state,
            "states": VendorState.choices,
            "filtered": bool(q or state),
            "may_add": vendor_may_manage(_user(request)),
        },
    )


# --- Create and edit -------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def vendor_create_page(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    if not vendor_may_manage(user):
        raise PermissionDenied("Only procurement can add vendors.")
    if request.method == "GET":
        form = VendorForm(initial={"owner": user.pk})
        return _render_form(request, form=form, formset=contact_formset())
    form = VendorForm(request.POST)
    formset = contact_formset(data=request.POST)
    if not all([form.is_valid(), formset.is_valid()]):
        return _render_form(request, form=form, formset=formset, status=400)
    try:
        vendor = vendor_create(
            by=user,
            data=form.vendor_input(formset.contact_inputs()),
            not_a_duplicate=form.cleaned_data["not_a_duplicate"],
        )
    except ApplicationError as error:
        return _render_form_error(request, error, form=form, formset=formset)
    messages.success(request, f"{vendor.legal_name} added as a prospect.")
    return redirect("vendors:detail", pk=vendor.pk)


@login_required
@require_http_methods(["GET", "POST"])
def vendor_edit_page(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    vendor = _get_or_404(request, pk)
    if not vendor_may_manage(user):
        raise PermissionDenied("Only procurement can edit vendors.")
    if vendor.state == VendorState.OFFBOARDED:
        messages.error(request, f"{vendor.legal_name} is offboarded; it can no longer be edited.")
        return redirect("vendors:detail", pk=pk)
    if request.method == "GET":
        form = VendorForm(initial=VendorForm.initial_for(vendor), vendor=vendor)
        formset = contact_formset(vendor=vendor)
        return _render_form(request, form=form, formset=formset, vendor=vendor)
    form = VendorForm(request.POST, vendor=vendor)
    formset = contact_formset(data=request.POST, vendor=vendor)
    if not all([form.is_valid(), formset.is_valid()]):
        return _render_form(request, form=form, formset=formset, vendor=vendor, status=400)
    try:
        vendor_update(
            vendor_id=pk,
            by=user,
            data=form.vendor_input(formset.contact_inputs()),
            not_a_duplicate=form.cleaned_data["not_a_duplicate"],
        )
    except NotFound:
        raise Http404("No such vendor.") from None
    except ApplicationError as error:
        if error.status in (403, 409) and not isinstance(error, PossibleDuplicate):
            # Offboarded meanwhile, say: there is nothing to fix in the form.
            messages.error(request, error.message)
            return redirect("vendors:detail", pk=pk)
        return _render_form_error(request, error, form=form, formset=formset, vendor=vendor)
    messages.success(request, f"{form.cleaned_data['legal_name']} saved.")
    return redirect("vendors:detail", pk=pk)


def _render_form_error(
    request: HttpRequest,
    error: ApplicationError,
    *,
    form: VendorForm,
    formset: BaseContactFormSet,
    vendor: Vendor | None = None,
) -> HttpResponse:
    if isinstance(error, PossibleDuplicate):
        # "Did you mean ...?": the box lists them; ticking not_a_duplicate answers it.
        return _render_form(
            request,
            form=form,
            formset=formset,
            vendor=vendor,
            candidates=error.candidates,
            status=error.status,
        )
    for key, field_messages in error.fields.items():
        if key == "contacts":
            formset.add_non_form_errors(field_messages)
        else:
            form.add_error(key if key in form.fields else None, field_messages)
    if not error.fields:
        form.add_error(None, error.message)
    return _render_form(request, form=form, formset=formset, vendor=vendor, status=error.status)


def _render_form(
    request: HttpRequest,
    *,
    form: VendorForm,
    formset: BaseContactFormSet,
    vendor: Vendor | None = None,
    candidates: list[Any] | None = None,
    status: int = 200,
) -> HttpResponse:
    return render(
        request,
        "vendors/form.html",
        {"form": form, "formset": formset, "vendor": vendor, "candidates": candidates or []},
        status=status,
    )


# --- The vendor page -------------------------------------------------------------------


@dataclass(frozen=True)
class CheckRow:
    check: DueDiligenceCheck
    form: forms.Form | None


@dataclass(frozen=True)
class DocumentRow:
    document: VendorDocument
    days_left: int | None
    warn: bool


@dataclass(frozen=True)
class HistoryRow:
    entry: AuditEntry
    verb: str
    from_label: str
    to_label: str
    # The entry's comment as this viewer may read it (see _history).
    comment: str


# Audit entries keep raw values; the vendor's states and its checks' statuses read better.
_STATE_LABELS = {**dict(CheckStatus.choices), **dict(VendorState.choices)}


def _history_verb(action: str) -> str:
    if action in HISTORY_VERBS:
        return HISTORY_VERBS[action]
    if action.startswith("check_"):
        return f"recorded the {action.removeprefix('check_').replace('_', ' ')} check"
    return action.replace("_", " ")


def _available_actions(vendor: Vendor) -> list[tuple[str, str]]:
    """The moves the vendor's state allows. Approval is offered even while something blocks
    it: the box above says what, and the service refuses with the same list."""
    return [
        (name, label)
        for name, label in ACTION_LABELS.items()
        if getattr(vendor, VENDOR_ACTIONS[name][0])._django_fsm.has_transition(vendor.state)
    ]


def _masked(value: str) -> str:
    value = value.replace(" ", "")
    return "•" * max(len(value) - 4, 0) + value[-4:]


def _bank_details_masked(vendor: Vendor) -> list[tuple[str, str]]:
    """The current details as label/value pairs, account numbers masked to the last four."""
    rows = [
        ("Account name", vendor.bank_account_name),
        ("IBAN", _masked(vendor.bank_iban)),
        ("BIC / SWIFT", vendor.bank_bic),
        ("Account number", _masked(vendor.bank_account_number)),
        ("Sort code / routing number", _masked(vendor.bank_routing_code)),
    ]
    return [(label, value) for label, value in rows if value]


def _document_rows(vendor: Vendor) -> list[DocumentRow]:
    today = timezone.localdate()
    rows = []
    for document in vendor.documents.select_related("uploaded_by"):
        days_left = (document.expires_on - today).days if document.expires_on else None
        warn = days_left is not None and days_left <= settings.VENDOR_CERTIFICATE_WARNING_DAYS
        rows.append(DocumentRow(document=document, days_left=days_left, warn=warn))
    return rows


# Entries whose comment only the bank-detail roles may read: a bank change's reason says
# how the new account was verified, and often names it.
BANK_ONLY_COMMENTS = {"bank_details_changed"}


def _history(vendor: Vendor, *, may_bank: bool) -> list[HistoryRow]:
    entries = (
        AuditEntry.objects.filter(
            content_type=ContentType.objects.get_for_model(Vendor), object_id=vendor.pk
        )
        .select_related("actor")
        .order_by("-created_at", "-id")
    )
    return [
        HistoryRow(
            entry=entry,
            verb=_history_verb(entry.action),
            from_label=_STATE_LABELS.get(entry.from_state, entry.from_state),
            to_label=_STATE_LABELS.get(entry.to_state, entry.to_state),
            comment="" if entry.action in BANK_ONLY_COMMENTS and not may_bank else entry.comment,
        )
        for entry in entries
    ]


def _render_detail(
    request: HttpRequest,
    vendor: Vendor,
    *,
    bound: dict[str, forms.Form] | None = None,
    status: int = 200,
) -> HttpResponse:
    """The vendor page. `bound` holds forms posted with errors, by their key on the page
    ("declare", "document", "bank", "check-<id>"), shown instead of blank ones."""
    user = _user(request)
    bound = bound or {}
    may_see_file = vendor_may_see_file(user)
    # Managers choose vendors too, so they declare their interests, from the summary.
    may_declare = vendor_may_declare(user)
    context: dict[str, Any] = {
        "vendor": vendor,
        "may_see_file": may_see_file,
        "categories": list(vendor.categories.all()),
        "declare_form": (bound.get("declare") or DeclarationForm()) if may_declare else None,
        "my_declaration": vendor.declarations.filter(person=user).first(),
        "reassessment_overdue": bool(
            vendor.next_assessment_due and vendor.next_assessment_due < timezone.localdate()
        ),
    }
    if may_see_file:
        context |= _file_context(vendor, user=user, bound=bound)
    return render(request, "vendors/detail.html", context, status=status)


def _file_context(vendor: Vendor, *, user: User, bound: dict[str, forms.Form]) -> dict[str, Any]:
    """The vendor's file, for the roles that may see it; forms only for those who may act."""
    open_file = vendor.state != VendorState.OFFBOARDED
    may_record = vendor_may_record_checks(user) and open_file
    may_manage = vendor_may_manage(user)
    may_upload = open_file and vendor_may_add_documents(user)
    reviewing = vendor.state in (VendorState.UNDER_REVIEW, VendorState.SUSPENDED)
    context: dict[str, Any] = {
        "may_manage": may_manage,
        "may_review_matches": may_record,
        "actions": _available_actions(vendor) if may_manage else [],
        "blockers": vendor_approval_blockers(vendor) if reviewing else [],
        "check_rows": [
            CheckRow(check=check, form=_check_form(check, bound) if may_record else None)
            for check in vendor.checks.select_related("checked_by", "evidence")
        ],
        "declarations": vendor.declarations.select_related("person"),
        "matches": vendor.sanctions_matches.select_related("reviewed_by"),
        "screened_against": [sanctions_list_label(lst) for lst in sanctions_lists_summary()],
        "assessments": vendor.assessments.select_related("template"),
        "document_rows": _document_rows(vendor),
        "document_form": (bound.get("document") or DocumentForm()) if may_upload else None,
        "contracts": vendor.contracts.all(),
        **_purchase_requests(vendor, user=user),
        "history": _history(vendor, may_bank=vendor_may_see_bank_details(user)),
        "contacts": vendor.contacts.all(),
        "other_names": vendor.other_names.all(),
        "may_bank": vendor_may_see_bank_details(user),
    }
    if context["may_bank"]:
        context |= {
            "bank_details": _bank_details_masked(vendor),
            "bank_changes": vendor.bank_changes.select_related("changed_by"),
            "bank_form": (bound.get("bank") or BankDetailsForm()) if open_file else None,
        }
    return context


def _purchase_requests(vendor: Vendor, *, user: User) -> dict[str, Any]:
    """The requests naming the vendor that `user` may read, and how many others there are.

    Security and legal see the vendor's file but not everyone's requests (requests/selectors.py
    decides who does, and this app may not import it): they get their own requests here and
    a count of the rest, never the others' titles and totals.
    """
    requests = vendor.purchase_requests.order_by("-created_at")
    if user.has_role(*ROLES_SEEING_ALL_REQUESTS):
        return {"purchase_requests": requests, "other_requests": 0}
    own = requests.filter(requester=user)
    return {"purchase_requests": own, "other_requests": requests.count() - own.count()}


def _check_form(check: DueDiligenceCheck, bound: dict[str, forms.Form]) -> forms.Form:
    # Each check has its own form on the page: ids are prefixed so labels stay unique.
    return bound.get(f"check-{check.pk}") or CheckRecordForm(auto_id=f"check-{check.pk}-%s")


@login_required
@require_GET
def vendor_detail_page(request: HttpRequest, pk: int) -> HttpResponse:
    return _render_detail(request, _get_or_404(request, pk))


@login_required
@require_GET
def vendor_document_download(request: HttpRequest, pk: int, document_pk: int) -> FileResponse:
    """The file, to whoever may see the vendor's file; a 404 for everyone else."""
    vendor = _get_or_404(request, pk)
    if not vendor_may_see_file(_user(request)):
        raise Http404("No such document.")
    document = vendor.documents.filter(pk=document_pk).first()
    if document is None:
        raise Http404("No such document.")
    return private_file_response(
        document.file, filename=document.filename, content_type=document.content_type
    )


# --- Actions (POST only; redirect back on success) --------------------------------------


def _act(
    request: HttpRequest,
    vendor: Vendor,
    *,
    key: str,
    form: forms.Form,
    call: Callable[[], object],
    done: str,
    anchor: str,
) -> HttpResponse:
    """Run one service with a valid form; on refusal show the page again with the form's errors."""
    if form.is_valid():
        try:
            call()
        except NotFound:
            raise Http404("Not found.") from None
        except ApplicationError as error:
            messages.error(request, error.message)
            _put_errors_on_fields(error, form)
            return _render_detail(request, vendor, bound={key: form}, status=error.status)
        messages.success(request, done)
        return redirect(reverse("vendors:detail", args=[vendor.pk]) + f"#{anchor}")
    return _render_detail(request, vendor, bound={key: form}, status=400)


@login_required
@require_POST
def vendor_transition_action(request: HttpRequest, pk: int) -> HttpResponse:
    vendor = _get_or_404(request, pk)
    form = TransitionForm(request.POST)
    if not form.is_valid():
        problem = "Give a reason: it is kept in the vendor's history."
        if "action" in form.errors:
            problem = "Choose one of the actions on the page."
        messages.error(request, problem)
        return redirect("vendors:detail", pk=pk)
    action = form.cleaned_data["action"]
    try:
        vendor_transition(
            vendor_id=pk, by=_user(request), action=action, reason=form.cleaned_data["reason"]
        )
    except NotFound:
        raise Http404("No such vendor.") from None
    except ApplicationError as error:
        messages.error(request, error.message)
        return redirect("vendors:detail", pk=pk)
    messages.success(request, f"{vendor.legal_name} {VENDOR_ACTIONS[action][1]}.")
    return redirect("vendors:detail", pk=pk)


@login_required
@require_POST
def check_record_action(request: HttpRequest, pk: int, check_pk: int) -> HttpResponse:
    vendor = _get_or_404(request, pk)
    if not vendor.checks.filter(pk=check_pk).exists():
        raise Http404("No such check.")
    form = CheckRecordForm(request.POST, request.FILES, auto_id=f"check-{check_pk}-%s")
    return _act(
        request,
        vendor,
        key=f"check-{check_pk}",
        form=form,
        call=lambda: due_diligence_check_record(
            check_id=check_pk,
            by=_user(request),
            status=form.cleaned_data["status"],
            outcome=form.cleaned_data["outcome"],
            evidence=form.cleaned_data["evidence"],
        ),
        done="Check recorded.",
        anchor="due-diligence",
    )


@login_required
@require_POST
def declare_action(request: HttpRequest, pk: int) -> HttpResponse:
    vendor = _get_or_404(request, pk)
    form = DeclarationForm(request.POST)
    return _act(
        request,
        vendor,
        key="declare",
        form=form,
        call=lambda: conflict_declare(
            vendor_id=pk,
            by=_user(request),
            has_conflict=form.cleaned_data["has_conflict"],
            details=form.cleaned_data["details"],
        ),
        done="Your declaration is recorded.",
        anchor="declarations",
    )


@login_required
@require_POST
def document_upload_action(request: HttpRequest, pk: int) -> HttpResponse:
    vendor = _get_or_404(request, pk)
    form = DocumentForm(request.POST, request.FILES)
    return _act(
        request,
        vendor,
        key="document",
        form=form,
        call=lambda: vendor_document_add(
            vendor_id=pk,
            by=_user(request),
            kind=form.cleaned_data["kind"],
            title=form.cleaned_data["title"],
            upload=form.upload,
            issued_on=form.dates[0],
            expires_on=form.dates[1],
        ),
        done="Document added.",
        anchor="documents",
    )


@login_required
@require_POST
def bank_details_action(request: HttpRequest, pk: int) -> HttpResponse:
    vendor = _get_or_404(request, pk)
    form = BankDetailsForm(request.POST)
    return _act(
        request,
        vendor,
        key="bank",
        form=form,
        call=lambda: vendor_bank_details_change(
            vendor_id=pk,
            by=_user(request),
            details=form.details(),
            reason=form.cleaned_data["reason"],
        ),
        done="Bank details changed. The change is in the vendor's history.",
        anchor="bank-details",
    )


@login_required
@require_POST
def sanctions_review_action(request: HttpRequest, pk: int) -> HttpResponse:
    vendor = _get_or_404(request, pk)
    form = SanctionsReviewForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose clear or confirm, and give a reason.")
        return redirect(reverse("vendors:detail", args=[pk]) + "#sanctions")
    match_id = form.cleaned_data["match_id"]
    if not SanctionsMatch.objects.filter(pk=match_id, vendor=vendor).exists():
        raise Http404("No such sanctions match.")
    try:
        match = sanctions_match_review(
            match_id=match_id,
            by=_user(request),
            decision=form.cleaned_data["decision"],
            reason=form.cleaned_data["reason"],
        )
    except NotFound:
        raise Http404("No such sanctions match.") from None
    except ApplicationError as error:
        messages.error(request, error.message)
        return redirect(reverse("vendors:detail", args=[pk]) + "#sanctions")
    messages.success(
        request, f"Match with {match.listed_name}: {match.get_status_display().lower()}."
    )
    return redirect(reverse("vendors:detail", args=[pk]) + "#sanctions")
