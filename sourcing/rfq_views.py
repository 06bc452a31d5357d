"""Pages of RFQs for procurement: the list, opening one from a request, and the RFQ page with
its settings, lines, criteria, prices, invitations, Q&A, quotes received and history.

Thin: each view parses the browser's input, calls one service or selector from
sourcing/rfqs.py and renders. People who may not see sourcing get a 404; every state change
is a POST. A refused form comes back with its errors next to the fields (400); a refused
action (403, 409) comes back as a message on the RFQ page.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from procurement.errors import ApplicationError, InvalidInput, NotFound
from procurement.files import private_file_response
from sourcing.access import may_see_sourcing, may_source
from sourcing.models import QuoteAttachment, Rfq, RfqState
from sourcing.rfq_forms import (
    AnswerForm,
    ClarificationForm,
    InviteForm,
    PricesForm,
    ReasonForm,
    ReopenForm,
    RfqSettingsForm,
    criterion_formset,
    rfq_line_formset,
)
from sourcing.rfqs import (
    HUNDRED,
    clarification_publish,
    invitation_remove,
    invitation_resend,
    percent,
    question_answer,
    rfq_available_actions,
    rfq_cancel,
    rfq_close,
    rfq_create_from_request,
    rfq_criteria_save,
    rfq_get,
    rfq_history,
    rfq_invite,
    rfq_is_sealed,
    rfq_lines_save,
    rfq_open,
    rfq_open_blockers,
    rfq_prices_editable,
    rfq_prices_set,
    rfq_quote_receipts,
    rfq_reopen,
    rfq_update,
    rfq_weights_total,
    rfqs_visible,
)

if TYPE_CHECKING:
    from django import forms

    from procurement.models import User

PAGE_SIZE = 25


def _user(request: HttpRequest) -> User:
    # @login_required has run: the user is a real account.
    return cast("User", request.user)


def _get_or_404(request: HttpRequest, rfq_id: int) -> Rfq:
    try:
        return rfq_get(_user(request), rfq_id)
    except NotFound:
        raise Http404("No such RFQ.") from None


def _errors_to_form(error: ApplicationError, form: forms.Form) -> None:
    """A service's field errors next to the fields they name; the rest at the top."""
    if not error.fields:
        form.add_error(None, error.message)
        return
    placed = False
    for key, field_messages in error.fields.items():
        if key in form.fields:
            form.add_error(key, field_messages)
            placed = True
    if not placed or any(key not in form.fields for key in error.fields):
        form.add_error(None, error.message)


# --- List ------------------------------------------------------------------------------------


@login_required
@require_GET
def rfq_list(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    if not may_see_sourcing(user):
        raise Http404("No such page.")
    state = request.GET.get("state", "")
    if state not in RfqState.values:
        state = ""
    rfqs = rfqs_visible(user)
    if state:
        rfqs = rfqs.filter(state=state)
    page = Paginator(rfqs, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "sourcing/rfqs/list.html",
        {"page": page, "state": state, "states": RfqState.choices, "now": timezone.now()},
    )


@login_required
@require_POST
def rfq_create_from_request_view(request: HttpRequest, request_id: int) -> HttpResponse:
    try:
        rfq = rfq_create_from_request(request_id=request_id, by=_user(request))
    except NotFound:
        raise Http404("No such purchase request.") from None
    except ApplicationError as error:
        messages.error(request, error.message)
        return redirect("requests:detail", pk=request_id)
    messages.success(
        request,
        f"{rfq.reference} drafted from the request: check the lines, criteria, deadline and "
        "prices, invite vendors, then open it.",
    )
    return redirect("rfqs:detail", rfq_id=rfq.pk)


# --- Detail ----------------------------------------------------------------------------------


def _render_detail(
    request: HttpRequest,
    rfq: Rfq,
    *,
    status: int = 200,
    bound: dict[str, Any] | None = None,
    section_errors: dict[str, list[str]] | None = None,
) -> HttpResponse:
    user = _user(request)
    bound = bound or {}
    can_manage = may_source(user)
    sealed = rfq_is_sealed(rfq)
    questions = list(rfq.questions.select_related("asked_by__vendor", "answered_by"))
    answer_forms = {
        question.pk: bound.get(f"answer_{question.pk}") or AnswerForm(prefix=f"q{question.pk}")
        for question in questions
        if question.answered_at is None
    }
    current_quotes = []
    if not sealed:
        for invitation in rfq.invitations.filter(declined_at__isnull=True).select_related("vendor"):
            quote = (
                invitation.quotes.filter(superseded_at__isnull=True)
                .prefetch_related("attachments")
                .first()
            )
            if quote is not None:
                current_quotes.append((invitation, quote))
    weights_total = rfq_weights_total(rfq)
    context = {
        "rfq": rfq,
        "request_": rfq.request,
        "can_manage": can_manage,
        "is_draft": rfq.state == RfqState.DRAFT,
        "is_open": rfq.state == RfqState.OPEN,
        "sealed": sealed,
        "deadline_passed": rfq.deadline <= timezone.now(),
        "actions": rfq_available_actions(rfq, user),
        "blockers": rfq_open_blockers(rfq) if rfq.state == RfqState.DRAFT else {},
        "lines": list(rfq.lines.select_related("category")),
        "criteria": list(rfq.criteria.all()),
        "weights_total": weights_total,
        "weights_total_text": percent(weights_total),
        "weights_ok": weights_total == HUNDRED,
        "invitations": list(rfq.invitations.select_related("vendor", "invited_by")),
        "receipts": rfq_quote_receipts(rfq),
        "current_quotes": current_quotes,
        "questions": [(q, answer_forms.get(q.pk)) for q in questions],
        "history": rfq_history(rfq),
        "section_errors": section_errors or {},
        "prices_editable": rfq_prices_editable(rfq),
    }
    if can_manage:
        context.update(
            settings_form=bound.get("settings") or RfqSettingsForm(rfq=rfq),
            line_formset=bound.get("lines") or rfq_line_formset(rfq),
            criterion_formset=bound.get("criteria") or criterion_formset(rfq),
            prices_form=bound.get("prices")
            or PricesForm(
                initial={"target_price": rfq.target_price, "walk_away_price": rfq.walk_away_price}
            ),
            invite_form=bound.get("invite") or InviteForm(rfq=rfq),
            reopen_form=bound.get("reopen") or ReopenForm(),
            cancel_form=bound.get("cancel") or ReasonForm(prefix="cancel"),
            clarification_form=bound.get("clarification") or ClarificationForm(),
        )
    return render(request, "sourcing/rfqs/detail.html", context, status=status)


@login_required
@require_GET
def rfq_detail(request: HttpRequest, rfq_id: int) -> HttpResponse:
    return _render_detail(request, _get_or_404(request, rfq_id))


def _submit(
    request: HttpRequest,
    rfq: Rfq,
    *,
    name: str,
    form: forms.Form,
    call: Callable[[], str],
    anchor: str = "",
) -> HttpResponse:
    """Run a form's service call; its errors next to its fields (400), a refusal as a message."""
    if not form.is_valid():
        return _render_detail(request, rfq, status=400, bound={name: form})
    try:
        message = call()
    except NotFound:
        raise Http404("No such RFQ.") from None
    except InvalidInput as error:
        _errors_to_form(error, form)
        return _render_detail(request, rfq, status=400, bound={name: form})
    except ApplicationError as error:
        messages.error(request, error.message)
        return redirect(_detail_url(rfq.pk, anchor))
    messages.success(request, message)
    return redirect(_detail_url(rfq.pk, anchor))


def _detail_url(rfq_id: int, anchor: str = "") -> str:
    from django.urls import reverse

    return reverse("rfqs:detail", args=[rfq_id]) + (f"#{anchor}" if anchor else "")


def _action(
    request: HttpRequest, rfq_id: int, run: Callable[[Rfq], str], *, anchor: str = ""
) -> HttpResponse:
    """A POSTed action without a form of its own: its message, or the refusal, on the page."""
    rfq = _get_or_404(request, rfq_id)
    try:
        messages.success(request, run(rfq))
    except NotFound:
        raise Http404("Not found.") from None
    except ApplicationError as error:
        messages.error(request, error.message)
    return redirect(_detail_url(rfq.pk, anchor))


@login_required
@require_POST
def rfq_settings_save(request: HttpRequest, rfq_id: int) -> HttpResponse:
    rfq = _get_or_404(request, rfq_id)
    form = RfqSettingsForm(request.POST, rfq=rfq)

    def call() -> str:
        data = form.cleaned_data
        rfq_update(
            rfq_id=rfq.pk,
            by=_user(request),
            title=data["title"],
            instructions=data["instructions"],
            deadline=data["deadline"],
            term_months=data["term_months"],
            currency=data["currency"],
        )
        return "RFQ saved."

    return _submit(request, rfq, name="settings", form=form, call=call, anchor="settings")


def _formset_errors(
    formset: Any, error: InvalidInput, *, prefix: str, indices: list[int]
) -> list[str]:
    """Put `lines[2].quantity`-style errors on the formset's forms; the rest are returned."""
    rest: list[str] = []
    for key, field_messages in error.fields.items():
        if key.startswith(prefix + "[") and "]." in key:
            index_text, field_name = key[len(prefix) + 1 :].split("].", 1)
            try:
                form = formset.forms[indices[int(index_text)]]
            except (ValueError, IndexError):
                rest.extend(field_messages)
                continue
            form.add_error(field_name if field_name in form.fields else None, field_messages)
        else:
            rest.extend(field_messages)
    return rest or ([] if error.fields else [error.message])


def _kept_forms(formset: Any) -> list[int]:
    """Indices of the formset's forms that are filled in and not ticked for deletion."""
    return [
        index
        for index, form in enumerate(formset.forms)
        if form.has_changed() or form.initial
        if not getattr(form, "cleaned_data", {}).get("DELETE")
    ]


@login_required
@require_POST
def rfq_lines_save_view(request: HttpRequest, rfq_id: int) -> HttpResponse:
    rfq = _get_or_404(request, rfq_id)
    formset = rfq_line_formset(rfq, request.POST)
    if not formset.is_valid():
        return _render_detail(request, rfq, status=400, bound={"lines": formset})
    indices = _kept_forms(formset)
    lines = [formset.forms[index].line_input() for index in indices]
    try:
        rfq_lines_save(rfq_id=rfq.pk, by=_user(request), lines=lines)
    except NotFound:
        raise Http404("No such RFQ.") from None
    except InvalidInput as error:
        rest = _formset_errors(formset, error, prefix="lines", indices=indices)
        return _render_detail(
            request, rfq, status=400, bound={"lines": formset}, section_errors={"lines": rest}
        )
    except ApplicationError as error:
        messages.error(request, error.message)
        return redirect(_detail_url(rfq.pk, "lines"))
    messages.success(request, f"{len(lines)} line{'s' if len(lines) != 1 else ''} saved.")
    return redirect(_detail_url(rfq.pk, "lines"))


@login_required
@require_POST
def rfq_criteria_save_view(request: HttpRequest, rfq_id: int) -> HttpResponse:
    rfq = _get_or_404(request, rfq_id)
    formset = criterion_formset(rfq, request.POST)
    if not formset.is_valid():
        return _render_detail(request, rfq, status=400, bound={"criteria": formset})
    indices = _kept_forms(formset)
    criteria = [formset.forms[index].criterion_input() for index in indices]
    try:
        rfq_criteria_save(rfq_id=rfq.pk, by=_user(request), criteria=criteria)
    except NotFound:
        raise Http404("No such RFQ.") from None
    except InvalidInput as error:
        rest = _formset_errors(formset, error, prefix="criteria", indices=indices)
        return _render_detail(
            request,
            rfq,
            status=400,
            bound={"criteria": formset},
            section_errors={"criteria": rest},
        )
    except ApplicationError as error:
        messages.error(request, error.message)
        return redirect(_detail_url(rfq.pk, "criteria"))
    messages.success(request, "Criteria saved.")
    return redirect(_detail_url(rfq.pk, "criteria"))


@login_required
@require_POST
def rfq_criteria_sum(request: HttpRequest, rfq_id: int) -> HttpResponse:
    """The running sum of the weights typed so far (htmx, as the buyer types)."""
    rfq = _get_or_404(request, rfq_id)
    total = Decimal(0)
    try:
        count = min(int(request.POST.get("criteria-TOTAL_FORMS", "0")), 50)
    except ValueError:
        count = 0
    for index in range(count):
        if request.POST.get(f"criteria-{index}-DELETE"):
            continue
        raw = request.POST.get(f"criteria-{index}-weight", "").strip()[:20]
        try:
            weight = Decimal(raw) if raw else Decimal(0)
        except InvalidOperation:
            continue
        # A weight is 0-100 (the form says so on save): anything else ("9e999999") is left
        # out here rather than summed, which would overflow or print a billion digits.
        if weight.is_finite() and 0 <= weight <= HUNDRED:
            total += weight
    return render(
        request,
        "sourcing/rfqs/_criteria_sum.html",
        {"rfq": rfq, "weights_total_text": percent(total), "weights_ok": total == HUNDRED},
    )


@login_required
@require_POST
def rfq_prices_save(request: HttpRequest, rfq_id: int) -> HttpResponse:
    rfq = _get_or_404(request, rfq_id)
    form = PricesForm(request.POST)

    def call() -> str:
        rfq_prices_set(
            rfq_id=rfq.pk,
            by=_user(request),
            target_price=form.cleaned_data["target_price"],
            walk_away_price=form.cleaned_data["walk_away_price"],
        )
        return "Target and walk-away prices set."

    return _submit(request, rfq, name="prices", form=form, call=call, anchor="prices")


@login_required
@require_POST
def rfq_invite_view(request: HttpRequest, rfq_id: int) -> HttpResponse:
    rfq = _get_or_404(request, rfq_id)
    form = InviteForm(request.POST, rfq=rfq)

    def call() -> str:
        data = form.cleaned_data
        invitation = rfq_invite(
            rfq_id=rfq.pk,
            by=_user(request),
            vendor_id=data["vendor"].pk,
            contact_name=data["contact_name"],
            contact_email=data["contact_email"],
        )
        sent = " The quote link was emailed." if rfq.state == RfqState.OPEN else ""
        return f"{invitation.vendor.legal_name} invited ({invitation.contact_email}).{sent}"

    return _submit(request, rfq, name="invite", form=form, call=call, anchor="invitations")


@login_required
@require_POST
def invitation_resend_view(request: HttpRequest, rfq_id: int, invitation_id: int) -> HttpResponse:
    def run(rfq: Rfq) -> str:
        if not rfq.invitations.filter(pk=invitation_id).exists():
            raise NotFound("No such invitation.")
        invitation = invitation_resend(invitation_id=invitation_id, by=_user(request))
        return f"A new link was sent to {invitation.contact_email}; earlier links no longer work."

    return _action(request, rfq_id, run, anchor="invitations")


@login_required
@require_POST
def invitation_remove_view(request: HttpRequest, rfq_id: int, invitation_id: int) -> HttpResponse:
    def run(rfq: Rfq) -> str:
        if not rfq.invitations.filter(pk=invitation_id).exists():
            raise NotFound("No such invitation.")
        invitation_remove(invitation_id=invitation_id, by=_user(request))
        return "Invitation removed."

    return _action(request, rfq_id, run, anchor="invitations")


@login_required
@require_POST
def rfq_open_view(request: HttpRequest, rfq_id: int) -> HttpResponse:
    def run(rfq: Rfq) -> str:
        opened = rfq_open(rfq_id=rfq.pk, by=_user(request))
        count = opened.invitations.count()
        return (
            f"{opened.reference} is open for quotes until the deadline; the "
            f"{count} invited vendor{'s were' if count != 1 else ' was'} emailed a link."
        )

    return _action(request, rfq_id, run)


@login_required
@require_POST
def rfq_close_view(request: HttpRequest, rfq_id: int) -> HttpResponse:
    def run(rfq: Rfq) -> str:
        rfq_close(rfq_id=rfq.pk, by=_user(request))
        return "RFQ closed: no more quotes are accepted, and the quotes are unsealed."

    return _action(request, rfq_id, run)


@login_required
@require_POST
def rfq_reopen_view(request: HttpRequest, rfq_id: int) -> HttpResponse:
    rfq = _get_or_404(request, rfq_id)
    form = ReopenForm(request.POST)

    def call() -> str:
        rfq_reopen(
            rfq_id=rfq.pk,
            by=_user(request),
            deadline=form.cleaned_data["deadline"],
            reason=form.cleaned_data["reason"],
        )
        return "RFQ reopened; the invited vendors were emailed the new deadline."

    return _submit(request, rfq, name="reopen", form=form, call=call)


@login_required
@require_POST
def rfq_cancel_view(request: HttpRequest, rfq_id: int) -> HttpResponse:
    rfq = _get_or_404(request, rfq_id)
    form = ReasonForm(request.POST, prefix="cancel")

    def call() -> str:
        rfq_cancel(rfq_id=rfq.pk, by=_user(request), reason=form.cleaned_data["reason"])
        return "RFQ cancelled; its quote links no longer work."

    return _submit(request, rfq, name="cancel", form=form, call=call)


@login_required
@require_POST
def question_answer_view(request: HttpRequest, rfq_id: int, question_id: int) -> HttpResponse:
    rfq = _get_or_404(request, rfq_id)
    if not rfq.questions.filter(pk=question_id).exists():
        raise Http404("No such question.")
    form = AnswerForm(request.POST, prefix=f"q{question_id}")

    def call() -> str:
        question_answer(
            question_id=question_id, by=_user(request), answer=form.cleaned_data["answer"]
        )
        return "Answer published to every invited vendor, without who asked."

    return _submit(
        request, rfq, name=f"answer_{question_id}", form=form, call=call, anchor="questions"
    )


@login_required
@require_POST
def clarification_publish_view(request: HttpRequest, rfq_id: int) -> HttpResponse:
    rfq = _get_or_404(request, rfq_id)
    form = ClarificationForm(request.POST)

    def call() -> str:
        clarification_publish(
            rfq_id=rfq.pk,
            by=_user(request),
            text=form.cleaned_data["text"],
            answer=form.cleaned_data["answer"],
        )
        return "Clarification published."

    return _submit(request, rfq, name="clarification", form=form, call=call, anchor="questions")


@login_required
@require_GET
def quote_attachment_download(
    request: HttpRequest, rfq_id: int, attachment_id: int
) -> FileResponse:
    """A quote's attachment, once the RFQ is closed (sealed until then: a 404)."""
    rfq = _get_or_404(request, rfq_id)
    if rfq_is_sealed(rfq):
        raise Http404("Quotes are sealed until the deadline.")
    attachment = QuoteAttachment.objects.filter(
        pk=attachment_id, quote__invitation__rfq=rfq
    ).first()
    if attachment is None:
        raise Http404("No such attachment.")
    return private_file_response(
        attachment.file, filename=attachment.filename, content_type=attachment.content_type
    )
