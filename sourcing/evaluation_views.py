"""Pages of the evaluation part: the comparison matrix of a closed RFQ (scores, benchmarks,
negotiation, award) and the approval page of an award above walk-away.

Thin: each view parses the browser's input, calls one service or selector (scoring.py,
benchmarks.py, negotiation.py, awards.py) and renders. Every state change is a POST with
CSRF; a service's field errors go back next to the fields, other refusals become a message.
People who may not see sourcing get a 404.
"""

from __future__ import annotations

import re
from typing import Any, cast

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from procurement.errors import ApplicationError, NotFound
from procurement.models import User
from sourcing.access import may_see_sourcing, may_source
from sourcing.awards import (
    award_approve,
    award_get,
    award_make,
    award_may_decide,
    award_refuse,
)
from sourcing.benchmarks import rfq_benchmarks
from sourcing.evaluation_forms import AwardForm, CounterOfferForm, CriterionScoreForm, DecisionForm
from sourcing.models import (
    Award,
    AwardState,
    CounterOfferState,
    CriterionKind,
    Rfq,
    RfqState,
)
from sourcing.negotiation import counter_offer_send, counter_offer_withdraw, negotiation_history
from sourcing.scoring import Evaluation, criterion_score_set, rfq_evaluation, role_label

SEALED_STATES = (RfqState.DRAFT, RfqState.OPEN)


def _user(request: HttpRequest) -> User:
    # @login_required has run: the user is a real account.
    return cast(User, request.user)


def _errors_to_form(error: ApplicationError, form: forms.Form) -> None:
    """A service's field errors next to the fields they name; the rest at the top."""
    if not error.fields:
        form.add_error(None, error.message)
        return
    for key, field_messages in error.fields.items():
        form.add_error(key if key in form.fields else None, field_messages)


def _rfq_or_404(request: HttpRequest, rfq_id: int) -> Rfq:
    if not may_see_sourcing(_user(request)):
        raise Http404("No such RFQ.")
    rfq = Rfq.objects.select_related("request").filter(pk=rfq_id).first()
    if rfq is None:
        raise Http404("No such RFQ.")
    return rfq


def _sealed(rfq: Rfq) -> bool:
    # A cancelled RFQ shows its quotes only if it had closed (its deadline had passed).
    return rfq.state in SEALED_STATES or (rfq.state == RfqState.CANCELLED and not rfq.closed_at)


def _refusal_page(request: HttpRequest, rfq: Rfq) -> HttpResponse | None:
    """The 409 page when the quotes may not be shown yet: sealed until the deadline, or the
    target and walk-away prices not set (they must be set before anyone sees a quote)."""
    if _sealed(rfq):
        return render(
            request, "sourcing/evaluation/sealed.html", {"rfq": rfq, "reason": "sealed"}, status=409
        )
    if rfq.target_price is None or rfq.walk_away_price is None:
        return render(
            request, "sourcing/evaluation/sealed.html", {"rfq": rfq, "reason": "prices"}, status=409
        )
    return None


def _score_forms(
    evaluation: Evaluation, bound: CriterionScoreForm | None
) -> dict[tuple[int, int], CriterionScoreForm]:
    forms_by_cell = {}
    names: dict[tuple[int, int], str] = {}
    for criterion in evaluation.criteria:
        if criterion.kind != CriterionKind.CUSTOM:
            continue
        for column in evaluation.columns:
            key = (criterion.pk, column.invitation.pk)
            names[key] = f"{column.invitation.vendor} on {criterion.name}"
            result = next(r for r in column.criteria if r.criterion.pk == criterion.pk)
            initial: dict[str, object] = {
                "criterion": criterion.pk,
                "invitation": column.invitation.pk,
            }
            if result.raw_value is not None:
                initial["score"] = result.raw_value
                initial["note"] = result.note
            forms_by_cell[key] = CriterionScoreForm(
                initial=initial, prefix=f"score-{criterion.pk}-{column.invitation.pk}"
            )
    if bound is not None and bound.is_bound:
        bound_key = (
            bound.data.get(bound.add_prefix("criterion")),
            bound.data.get(bound.add_prefix("invitation")),
        )
        for cell in forms_by_cell:
            if (str(cell[0]), str(cell[1])) == bound_key:
                forms_by_cell[cell] = bound
    # The inputs sit in a cell of the scrolling matrix: named by aria-label, as a visually
    # hidden label there would widen a phone's page (see rfq_forms.TableFormSet).
    for key, form in forms_by_cell.items():
        form.fields["score"].widget.attrs["aria-label"] = f"Score of {names[key]} (0 to 100)"
        form.fields["note"].widget.attrs["aria-label"] = f"Note on the score of {names[key]}"
    return forms_by_cell


def _render_compare(
    request: HttpRequest,
    rfq: Rfq,
    *,
    score_form: CriterionScoreForm | None = None,
    counter_form: tuple[int, CounterOfferForm] | None = None,
    award_form: AwardForm | None = None,
    status: int = 200,
) -> HttpResponse:
    user = _user(request)
    evaluation = rfq_evaluation(rfq=rfq)
    benchmarks = rfq_benchmarks(rfq=rfq)
    columns = evaluation.columns
    can_act = may_source(user) and rfq.state == RfqState.CLOSED
    score_forms = _score_forms(evaluation, score_form) if can_act else {}
    vendors = []
    for column in columns:
        invitation = column.invitation
        form = None
        if can_act:
            if counter_form is not None and counter_form[0] == invitation.pk:
                form = counter_form[1]
            else:
                form = CounterOfferForm(prefix=f"co-{invitation.pk}")
        vendors.append(
            {
                "column": column,
                "history": negotiation_history(invitation=invitation),
                "open_counter_offer": invitation.counter_offers.filter(
                    state=CounterOfferState.OPEN
                ).first(),
                "form": form,
                "justification_reasons": evaluation.justification_reasons(column),
            }
        )
    criteria_rows = []
    for index, criterion in enumerate(evaluation.criteria):
        cells = []
        for column in columns:
            result = column.criteria[index]
            cells.append(
                {
                    "result": result,
                    "form": score_forms.get((criterion.pk, column.invitation.pk)),
                    "column": column,
                }
            )
        criteria_rows.append((criterion, cells))
    awards = list(rfq.awards.select_related("quote__invitation__vendor", "awarded_by"))
    live_award = next((a for a in awards if a.state != AwardState.REFUSED), None)
    return render(
        request,
        "sourcing/evaluation/compare.html",
        {
            "rfq": rfq,
            "evaluation": evaluation,
            "columns": columns,
            "line_rows": [
                (line, [column.lines[index] for column in columns])
                for index, line in enumerate(evaluation.lines)
            ],
            "criteria_rows": criteria_rows,
            "benchmarks": benchmarks,
            "vendors": vendors,
            "can_act": can_act,
            "award_form": award_form
            or (AwardForm(evaluation=evaluation) if can_act and columns else None),
            "awards": awards,
            "live_award": live_award,
            "approver_label": evaluation.walk_away_approver_label,
            "now": timezone.now(),
        },
        status=status,
    )


@login_required
@require_GET
def compare(request: HttpRequest, rfq_id: int) -> HttpResponse:
    rfq = _rfq_or_404(request, rfq_id)
    return _refusal_page(request, rfq) or _render_compare(request, rfq)


def _after_refusal(request: HttpRequest, rfq: Rfq, error: ApplicationError) -> HttpResponse:
    messages.error(request, error.message)
    return redirect("evaluation:compare", rfq_id=rfq.pk)


@login_required
@require_POST
def score(request: HttpRequest, rfq_id: int) -> HttpResponse:
    rfq = _rfq_or_404(request, rfq_id)
    refusal = _refusal_page(request, rfq)
    if refusal:
        return refusal
    # Each cell's form has its own prefix (unique ids for the labels); the form names it.
    prefix = request.POST.get("prefix", "")
    if not re.fullmatch(r"score-[0-9]{1,18}-[0-9]{1,18}", prefix):
        prefix = ""
    form = CriterionScoreForm(request.POST, prefix=prefix or None)
    if not form.is_valid():
        return _render_compare(request, rfq, score_form=form, status=400)
    data = form.cleaned_data
    if not rfq.criteria.filter(pk=data["criterion"]).exists():
        raise Http404("No such criterion.")
    try:
        criterion_score_set(
            criterion_id=data["criterion"],
            invitation_id=data["invitation"],
            by=_user(request),
            score=data["score"],
            note=data["note"],
        )
    except ApplicationError as error:
        if error.status == 400:
            _errors_to_form(error, form)
            return _render_compare(request, rfq, score_form=form, status=400)
        return _after_refusal(request, rfq, error)
    messages.success(request, "Score saved.")
    return redirect("evaluation:compare", rfq_id=rfq.pk)


@login_required
@require_POST
def counter_offer(request: HttpRequest, rfq_id: int, invitation_id: int) -> HttpResponse:
    rfq = _rfq_or_404(request, rfq_id)
    refusal = _refusal_page(request, rfq)
    if refusal:
        return refusal
    invitation = rfq.invitations.select_related("vendor").filter(pk=invitation_id).first()
    if invitation is None:
        raise Http404("No such invitation.")
    form = CounterOfferForm(request.POST, prefix=f"co-{invitation.pk}")
    if not form.is_valid():
        return _render_compare(request, rfq, counter_form=(invitation.pk, form), status=400)
    data = form.cleaned_data
    try:
        sent = counter_offer_send(
            invitation_id=invitation.pk,
            by=_user(request),
            proposed_tco=data["proposed_tco"],
            message=data["message"],
            respond_by=data["respond_by"],
        )
    except ApplicationError as error:
        if error.status == 400:
            _errors_to_form(error, form)
            return _render_compare(request, rfq, counter_form=(invitation.pk, form), status=400)
        return _after_refusal(request, rfq, error)
    messages.success(
        request, f"Counter-offer (round {sent.round}) sent to {invitation.vendor} by email."
    )
    return redirect("evaluation:compare", rfq_id=rfq.pk)


@login_required
@require_POST
def counter_offer_withdraw_page(
    request: HttpRequest, rfq_id: int, counter_offer_id: int
) -> HttpResponse:
    rfq = _rfq_or_404(request, rfq_id)
    if not rfq.invitations.filter(counter_offers__pk=counter_offer_id).exists():
        raise Http404("No such counter-offer.")
    try:
        withdrawn = counter_offer_withdraw(counter_offer_id=counter_offer_id, by=_user(request))
    except ApplicationError as error:
        return _after_refusal(request, rfq, error)
    messages.success(request, f"Round {withdrawn.round} withdrawn.")
    return redirect("evaluation:compare", rfq_id=rfq.pk)


@login_required
@require_POST
def award(request: HttpRequest, rfq_id: int) -> HttpResponse:
    rfq = _rfq_or_404(request, rfq_id)
    refusal = _refusal_page(request, rfq)
    if refusal:
        return refusal
    form = AwardForm(request.POST, evaluation=rfq_evaluation(rfq=rfq))
    if not form.is_valid():
        return _render_compare(request, rfq, award_form=form, status=400)
    try:
        made = award_make(
            rfq_id=rfq.pk,
            by=_user(request),
            quote_id=form.cleaned_data["quote"],
            justification=form.cleaned_data["justification"],
        )
    except ApplicationError as error:
        if error.status == 400:
            _errors_to_form(error, form)
            return _render_compare(request, rfq, award_form=form, status=400)
        return _after_refusal(request, rfq, error)
    vendor = made.quote.invitation.vendor
    if made.state == AwardState.PENDING_APPROVAL:
        messages.warning(
            request,
            f"Award to {vendor} recorded. It is above the walk-away price: it takes effect once "
            f"a {role_label(made.approver_role)} holder approves it.",
        )
        return redirect("evaluation:award-detail", award_id=made.pk)
    messages.success(
        request, f"Awarded to {vendor}. The vendors are told by email; a draft PO was created."
    )
    return redirect("evaluation:compare", rfq_id=rfq.pk)


# --- The approval of an award above walk-away -------------------------------------------


def _award_or_404(request: HttpRequest, award_id: int) -> Award:
    found = award_get(award_id=award_id, user=_user(request))
    if found is None:
        raise Http404("No such award.")
    return found


def _render_award(
    request: HttpRequest, found: Award, *, form: DecisionForm | None = None, status: int = 200
) -> HttpResponse:
    user = _user(request)
    rfq = found.rfq
    return render(
        request,
        "sourcing/evaluation/award.html",
        {
            "award": found,
            "rfq": rfq,
            "vendor": found.quote.invitation.vendor,
            "quote": found.quote,
            "role": role_label(found.approver_role) if found.approver_role else "",
            "can_decide": award_may_decide(user, found),
            "is_awarder": found.awarded_by_id == user.pk,
            "may_see_matrix": may_see_sourcing(user),
            "form": form or DecisionForm(),
        },
        status=status,
    )


@login_required
@require_GET
def award_detail(request: HttpRequest, award_id: int) -> HttpResponse:
    return _render_award(request, _award_or_404(request, award_id))


@login_required
@require_POST
def award_decide(request: HttpRequest, award_id: int, decision: str) -> HttpResponse:
    found = _award_or_404(request, award_id)
    form = DecisionForm(request.POST)
    if not form.is_valid():
        return _render_award(request, found, form=form, status=400)
    comment = form.cleaned_data["comment"]
    decide: Any = award_approve if decision == "approve" else award_refuse
    try:
        decide(award_id=found.pk, by=_user(request), comment=comment)
    except NotFound:
        raise Http404("No such award.") from None
    except ApplicationError as error:
        if error.status == 400:
            _errors_to_form(error, form)
            return _render_award(request, found, form=form, status=400)
        messages.error(request, error.message)
        return redirect("evaluation:award-detail", award_id=found.pk)
    if decision == "approve":
        messages.success(request, "Award approved: the RFQ is awarded and a draft PO created.")
    else:
        messages.success(request, "Award refused: the RFQ is back to evaluation.")
    return redirect("evaluation:award-detail", award_id=found.pk)
