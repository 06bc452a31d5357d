"""Pages for purchase requests: list, form, detail, actions, comments and attachment downloads.

Thin by design: each view parses the browser's input, calls one selector or service, and
renders. An ApplicationError's message goes to the page, and its fields to the form fields.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Literal, TypedDict, cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.files.storage import default_storage
from django.core.paginator import Paginator
from django.db import transaction
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import dateformat, timezone
from django.utils.formats import number_format
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from procurement.errors import ApplicationError, NotFound
from procurement.files import private_file_response
from requests import workflow
from requests.forms import (
    LINE_ITEM_ROWS_MAX,
    ActionForm,
    BaseLineItemFormSet,
    CommentForm,
    LineItemForm,
    PurchaseRequestForm,
    line_item_formset,
)
from requests.models import PurchaseRequest, RequestState
from requests.selectors import (
    RequestFilters,
    TimelineEvent,
    purchase_request_available_actions,
    purchase_request_get,
    purchase_request_list,
    purchase_request_list_rows,
    purchase_request_timeline,
)
from requests.services import (
    ACTIONS,
    comment_create,
    purchase_request_create,
    purchase_request_transition,
    purchase_request_update,
)

if TYPE_CHECKING:
    from django.db.models import QuerySet

    from procurement.models import User

PAGE_SIZE = 25


def _user(request: HttpRequest) -> User:
    # @login_required has run: the user is a real account, not AnonymousUser.
    return cast("User", request.user)


def _get_or_404(request: HttpRequest, pk: int) -> PurchaseRequest:
    # A request the user may not see answers exactly like one that does not exist.
    purchase_request = purchase_request_get(user=_user(request), request_id=pk)
    if purchase_request is None:
        raise Http404("No such purchase request.")
    return purchase_request


# --- List -------------------------------------------------------------------


class ListRow(TypedDict):
    """One row of the list page, every cell already a string. A dict, not a dataclass: the
    template's first lookup, row["url"], then succeeds (~0.2 ms of 1 per page of 25)."""

    url: str
    reference: str
    title: str
    state: str
    state_label: str
    total: str
    needed_by: str
    requester: str
    created_iso: str
    created: str


class ListRows:
    """Formats the list page's rows as {% url %}, |date and |floatformat would, for less.

    In the template those were ~175 tags and filters per page of 25, more CPU than the rest of
    the page. What every row shares is worked out once per page: the detail URL (reverse()
    costs ~40 µs, the row's own string ~0.5 µs) and the month names of the active language;
    the total, always two decimals, needs number_format but not |floatformat's rounding
    (8 µs instead of 18). tests/test_pages_list.py checks the text against the filters'.
    """

    _PLACEHOLDER_PK = 2_147_483_647
    _STATE_LABELS: dict[str, str] = dict(RequestState.choices)

    def __init__(self) -> None:
        url = reverse("requests:detail", args=[self._PLACEHOLDER_PK])
        self._url_head, self._url_tail = url.split(str(self._PLACEHOLDER_PK))
        self._months: dict[int, str] = {}

    def day(self, value: dt.date) -> str:
        """As |date:"j M Y": "4 Mar 2026"."""
        month = self._months.get(value.month)
        if month is None:
            month = self._months[value.month] = dateformat.format(value, "M")
        return f"{value.day} {month} {value.year:04d}"

    def row(self, values: dict[str, Any]) -> ListRow:
        """A row of purchase_request_list_rows."""
        pk = values["id"]
        created = timezone.localtime(values["created_at"])
        # User.__str__ without loading the user: the full name, else the username.
        requester = f"{values['requester__first_name']} {values['requester__last_name']}".strip()
        return ListRow(
            url=f"{self._url_head}{pk}{self._url_tail}",
            reference=f"PR-{pk:06d}",
            title=values["title"],
            state=values["state"],
            state_label=self._STATE_LABELS.get(values["state"], values["state"]),
            total=f"{number_format(values['total'], 2, force_grouping=True)} {values['currency']}",
            needed_by=self.day(values["needed_by"]),
            requester=requester or values["requester__username"],
            created_iso=created.isoformat(),  # |date:"c"
            created=self.day(created),
        )


@login_required
@require_GET
def request_list(request: HttpRequest) -> HttpResponse:
    scope: Literal["mine", "all"] = "all" if request.GET.get("scope") == "all" else "mine"
    state = request.GET.get("state", "")
    if state not in RequestState.values:
        state = ""
    # A NUL cannot be searched for, and PostgreSQL refuses it in a query outright.
    q = request.GET.get("q", "").replace("\x00", "").strip()[:200]
    requests = purchase_request_list(
        user=_user(request), filters=RequestFilters(scope=scope, state=state, q=q)
    )
    page = Paginator(requests, PAGE_SIZE).get_page(request.GET.get("page"))
    # The page's slice of the queryset above (the paginator slices what it is given).
    page_requests = cast("QuerySet[PurchaseRequest]", page.object_list)
    rows = ListRows()
    return render(
        request,
        "requests/list.html",
        {
            "page": page,
            "rows": [rows.row(values) for values in purchase_request_list_rows(page_requests)],
            "scope": scope,
            "state": state,
            "q": q,
            "states": RequestState.choices,
            "filtered": bool(state or q),
        },
    )


# --- Create and edit --------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def request_create(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    if request.method == "GET":
        form = PurchaseRequestForm(user=user)
        return _render_form(request, form=form, formset=line_item_formset())
    form = PurchaseRequestForm(request.POST, request.FILES, user=user)
    formset = line_item_formset(data=request.POST)
    if not all([form.is_valid(), formset.is_valid()]):
        return _render_form(request, form=form, formset=formset, status=400)
    submit = request.POST.get("intent") == "submit"
    kept = formset.kept_forms()
    try:
        created = _save(
            lambda: purchase_request_create(
                requester=user,
                data=form.request_input([line.line_item_input() for line in kept]),
                attachments=form.cleaned_data["attachments"],
            ),
            by=user,
            submit=submit,
        )
    except ApplicationError as error:
        _put_errors_on_fields(error, form=form, formset=formset, kept=kept)
        return _render_form(request, form=form, formset=formset, status=400)
    messages.success(
        request, f"{created.reference} {'submitted' if submit else 'saved as a draft'}."
    )
    return redirect("requests:detail", pk=created.pk)


@login_required
@require_http_methods(["GET", "POST"])
def request_edit(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    purchase_request = _get_or_404(request, pk)
    if refusal := _edit_refusal(purchase_request, user):
        messages.error(request, refusal)
        return redirect("requests:detail", pk=pk)
    if request.method == "GET":
        form = PurchaseRequestForm(instance=purchase_request, user=user)
        formset = line_item_formset(request=purchase_request)
        return _render_form(request, form=form, formset=formset, purchase_request=purchase_request)
    form = PurchaseRequestForm(request.POST, request.FILES, instance=purchase_request, user=user)
    formset = line_item_formset(data=request.POST, request=purchase_request)
    if not all([form.is_valid(), formset.is_valid()]):
        return _render_form(
            request, form=form, formset=formset, purchase_request=purchase_request, status=400
        )
    submit = request.POST.get("intent") == "submit"
    kept = formset.kept_forms()
    try:
        _save(
            lambda: purchase_request_update(
                request_id=pk,
                by=user,
                data=form.request_input([line.line_item_input() for line in kept]),
                attachments=form.cleaned_data["attachments"],
                remove_attachment_ids=[a.pk for a in form.cleaned_data["remove_attachments"]],
            ),
            by=user,
            submit=submit,
            known_attachment_ids={a.pk for a in purchase_request.attachments.all()},
        )
    except NotFound:
        raise Http404("No such purchase request.") from None
    except ApplicationError as error:
        # No longer editable (submitted from another tab, say): there is nothing to fix here.
        if error.status in (403, 409):
            messages.error(request, error.message)
            return redirect("requests:detail", pk=pk)
        _put_errors_on_fields(error, form=form, formset=formset, kept=kept)
        return _render_form(
            request, form=form, formset=formset, purchase_request=purchase_request, status=400
        )
    messages.success(request, f"{purchase_request.reference} {'submitted' if submit else 'saved'}.")
    return redirect("requests:detail", pk=pk)


def _edit_refusal(purchase_request: PurchaseRequest, user: User) -> str:
    """Why `user` cannot edit now, or "" if they can. The service checks the same again on save."""
    if purchase_request.requester_id != user.pk:
        return f"Only the requester can edit {purchase_request.reference}."
    if purchase_request.state == RequestState.RETURNED:
        return (
            f"{purchase_request.reference} was returned for changes: "
            "choose “Edit and resubmit” to change it."
        )
    if not purchase_request.is_editable:
        return (
            f"{purchase_request.reference} is {purchase_request.get_state_display().lower()}; "
            "only a draft can be edited."
        )
    return ""


def _save(
    write: Callable[[], PurchaseRequest],
    *,
    by: User,
    submit: bool,
    known_attachment_ids: set[int] | None = None,
) -> PurchaseRequest:
    """Run the create or update service and, for "Save and submit", the submit transition.

    Both happen in one transaction, so a submit that is refused (no line items, say) leaves
    nothing stored: not a half-saved draft either. The service deletes the files it stored
    when it fails itself; files it stored before a failed submit are deleted here, since the
    rows that named them were rolled back.
    """
    new_files: list[str] = []
    try:
        with transaction.atomic():
            saved = write()
            if submit:
                new_files = [
                    attachment.file.name
                    for attachment in saved.attachments.all()
                    if attachment.file.name and attachment.pk not in (known_attachment_ids or set())
                ]
                saved = purchase_request_transition(request_id=saved.pk, by=by, action="submit")
    except BaseException:
        # Re-raised: this only tidies up files whose rows the rollback just removed.
        for name in new_files:
            default_storage.delete(name)
        raise
    return saved


def _put_errors_on_fields(
    error: ApplicationError,
    *,
    form: PurchaseRequestForm,
    formset: BaseLineItemFormSet,
    kept: Sequence[LineItemForm],
) -> None:
    """Show a service's errors next to the fields they name: `line_items[2].quantity` is the
    third saved row's quantity, `line_items` the list as a whole, anything else the form's."""
    if not error.fields:
        form.add_error(None, error.message)
        return
    for key, field_messages in error.fields.items():
        name, _, line_field = key.partition(".")
        if name.startswith("line_items[") and name.endswith("]"):
            index = name[len("line_items[") : -1]
            if index.isdigit() and int(index) < len(kept):
                line = kept[int(index)]
                line.add_error(line_field if line_field in line.fields else None, field_messages)
                continue
        if key == "line_items":
            formset.add_non_form_errors(field_messages)
        elif key in form.fields:
            form.add_error(key, field_messages)
        else:
            form.add_error(None, field_messages)


def _render_form(
    request: HttpRequest,
    *,
    form: PurchaseRequestForm,
    formset: BaseLineItemFormSet,
    purchase_request: PurchaseRequest | None = None,
    status: int = 200,
) -> HttpResponse:
    return render(
        request,
        "requests/form.html",
        {"form": form, "formset": formset, "purchase_request": purchase_request},
        status=status,
    )


@login_required
@require_GET
def line_item_row(request: HttpRequest) -> HttpResponse:
    """One blank line-item row for "Add line" (htmx), numbered by the form's current TOTAL_FORMS.

    The response also replaces TOTAL_FORMS (out of band), so the next click gets the next number.
    """
    raw = request.GET.get("line_items-TOTAL_FORMS", "")
    if not raw.isdecimal() or int(raw) >= LINE_ITEM_ROWS_MAX:  # isdigit() passes "²"
        return HttpResponseBadRequest("No more line items can be added.")
    index = int(raw)
    form = line_item_formset().new_row(index)
    return render(
        request,
        "requests/_line_item_added.html",
        {"line": form, "number": index + 1, "total_forms": index + 1},
    )


# --- Detail, actions and comments ----------------------------------------------


class TimelineEntry(TypedDict):
    """One line of the timeline, formatted here: in the template, two |date filters and the
    lookups through the event cost ~0.1 ms per line (bench/web cpu_profile)."""

    kind: str
    action: str
    actor: str
    verb: str
    text: str
    at_iso: str
    at: str


def _timeline_entry(event: TimelineEvent) -> TimelineEntry:
    at = timezone.localtime(event.at)
    return TimelineEntry(
        kind=event.kind,
        action=event.action,
        actor=str(event.actor) if event.actor is not None else "The system",
        verb=_timeline_verb(event),
        text=event.text,
        at_iso=at.isoformat(),  # |date:"c"
        at=dateformat.format(at, "j M Y, H:i"),
    )


# Audit actions that are not request transitions: the approvals workflow writes them on the
# request's timeline. The audit comment carries the step's name (and the reason).
_TIMELINE_VERBS = {
    "created": "created the request",
    "approval_started": "sent it for approval",
    "auto_approved": "approved it automatically",
    "approved_step": "approved the step",
    "escalated": "escalated the step",
}


def _timeline_verb(event: TimelineEvent) -> str:
    if event.kind == "comment":
        return "commented"
    if event.action in _TIMELINE_VERBS:
        return _TIMELINE_VERBS[event.action]
    action = ACTIONS.get(event.action)
    return action.past if action else event.action.replace("_", " ")


class DetailDates(TypedDict):
    """The request's dates and total as its page shows them, formatted here as |date and
    |floatformat:"2g" would: in the template, those seven filters were ~0.15 ms of each page
    (bench/web). test_pages_detail.py checks the text against the filters'."""

    needed_by_iso: str
    needed_by: str
    total: str
    created_iso: str
    created: str
    submitted_iso: str
    submitted: str


def _detail_dates(purchase_request: PurchaseRequest) -> DetailDates:
    created = timezone.localtime(purchase_request.created_at)
    submitted = purchase_request.submitted_at
    if submitted is not None:
        submitted = timezone.localtime(submitted)
    return DetailDates(
        needed_by_iso=purchase_request.needed_by.isoformat(),  # |date:"Y-m-d"
        needed_by=dateformat.format(purchase_request.needed_by, "j M Y"),
        # The total always has two decimals: no rounding to do, only the grouping.
        total=number_format(purchase_request.total, 2, force_grouping=True),
        created_iso=created.isoformat(),  # |date:"c"
        created=dateformat.format(created, "j M Y, H:i"),
        submitted_iso=submitted.isoformat() if submitted else "",
        submitted=dateformat.format(submitted, "j M Y, H:i") if submitted else "",
    )


@functools.cache
def _blank_comment_field() -> str:
    """The comment box of a blank CommentForm, as includes/field.html renders it.

    The same markup on every page (no value, no error, fixed ids, untranslated strings), and
    rendering its textarea through the form renderer's templates was ~0.4 ms of each detail
    page (bench/web cpu_profile). A form sent back with errors is rendered afresh.
    """
    return render_to_string("includes/field.html", {"field": CommentForm()["body"]})


@login_required
@require_GET
def request_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _render_detail(request, _get_or_404(request, pk))


def _render_detail(
    request: HttpRequest,
    purchase_request: PurchaseRequest,
    *,
    comment_form: CommentForm | None = None,
    status: int = 200,
) -> HttpResponse:
    user = _user(request)
    action_names = purchase_request_available_actions(request=purchase_request, user=user)
    timeline = [
        _timeline_entry(event) for event in purchase_request_timeline(request=purchase_request)
    ]
    # Sections higher apps add (approvals: the route), rendered here in the order registered.
    panels = []
    for panel in workflow.detail_panels():
        rendered = panel(purchase_request, user)
        if rendered is not None:
            template_name, panel_context = rendered
            # With its own context only, not the request's: the context processors (the
            # navigation's permission checks) would run again for every panel (~0.1 ms each).
            # A panel that needs the viewer passes it in its context (`viewer`).
            panels.append(render_to_string(template_name, panel_context))
    return render(
        request,
        "requests/detail.html",
        {
            "purchase_request": purchase_request,
            "dates": _detail_dates(purchase_request),
            "actions": [(name, ACTIONS[name]) for name in action_names],
            "timeline": timeline,
            "comment_form": comment_form,
            "blank_comment_field": _blank_comment_field() if comment_form is None else "",
            "can_edit": not _edit_refusal(purchase_request, user),
            "panels": panels,
        },
        status=status,
    )


@login_required
@require_POST
def request_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    if action not in ACTIONS:
        raise Http404("No such action.")
    form = ActionForm(request.POST)
    if not form.is_valid():
        messages.error(request, f"Comment: {form.errors['comment'][0]}")
        return redirect("requests:detail", pk=pk)
    comment = form.cleaned_data["comment"]
    try:
        changed = purchase_request_transition(
            request_id=pk, by=_user(request), action=action, comment=comment
        )
    except NotFound:
        raise Http404("No such purchase request.") from None
    except ApplicationError as error:
        messages.error(request, error.message)
        return redirect("requests:detail", pk=pk)
    messages.success(request, f"{changed.reference} {ACTIONS[action].past}.")
    if action == "revise":
        return redirect("requests:edit", pk=pk)
    return redirect("requests:detail", pk=pk)


@login_required
@require_POST
def comment_add(request: HttpRequest, pk: int) -> HttpResponse:
    purchase_request = _get_or_404(request, pk)
    form = CommentForm(request.POST)
    if not form.is_valid():
        return _render_detail(request, purchase_request, comment_form=form, status=400)
    try:
        comment_create(request_id=pk, by=_user(request), body=form.cleaned_data["body"])
    except NotFound:
        raise Http404("No such purchase request.") from None
    except ApplicationError as error:
        form.add_error(
            "body" if "body" in error.fields else None, error.fields.get("body", error.message)
        )
        return _render_detail(request, purchase_request, comment_form=form, status=400)
    messages.success(request, "Comment added.")
    return redirect(reverse("requests:detail", args=[pk]) + "#timeline")


# --- Attachments ----------------------------------------------------------------


@login_required
@require_GET
def attachment_download(request: HttpRequest, pk: int, att_pk: int) -> FileResponse:
    """The file, to whoever may see its request; a 404 for everyone else."""
    purchase_request = _get_or_404(request, pk)
    attachment = next((a for a in purchase_request.attachments.all() if a.pk == att_pk), None)
    if attachment is None:
        raise Http404("No such attachment.")
    return private_file_response(
        attachment.file, filename=attachment.filename, content_type=attachment.content_type
    )
