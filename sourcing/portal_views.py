"""The vendor's quote page, opened by a signed link without an account: the RFQ, the quote
form (a revision starts from the current quote), the TCO explained, the vendor's own
revisions, the answered Q&A, a question form, declining to quote, and an open
counter-offer with its reply.

Thin: parse, call one service from sourcing/quotes.py, render. The token is a credential:
every response goes through secret_link_page (never cached, indexed or sent on as a
Referer), forms post back to the page's own address, so the token is written nowhere in the
page, and a dead link is a clear page (404 tampered, 410 expired, replaced, cancelled or
awarded), never a stack trace.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from procurement.errors import ApplicationError, InvalidInput
from procurement.files import human_size
from procurement.secret_links import secret_link_page
from sourcing.models import Invitation, Quote
from sourcing.quotes import (
    QuoteLinkDead,
    counter_offer_decline,
    invitation_decline,
    invitation_from_token,
    invitation_questions,
    invitation_quotes,
    price_key,
    question_ask,
    quote_submit,
    quote_tco_explain,
    quote_window,
)
from sourcing.rfq_forms import CounterDeclineForm, DeclineForm, QuestionForm, QuoteForm

# The form's page may not say "no-referrer": browsers then send `Origin: null` with its POST,
# which Django's CSRF check rightly refuses. "strict-origin" never sends the path (the token).
FORM_REFERRER_POLICY = "strict-origin"


def _dead(request: HttpRequest, error: QuoteLinkDead) -> HttpResponse:
    return render(
        request,
        "sourcing/portal/link_dead.html",
        {"error": error, "invitation": error.invitation},
        status=error.status,
    )


def _current(quotes: list[Quote]) -> Quote | None:
    return next((quote for quote in quotes if quote.superseded_at is None), None)


def _render(
    request: HttpRequest,
    invitation: Invitation,
    *,
    status: int = 200,
    quote_form: QuoteForm | None = None,
    question_form: QuestionForm | None = None,
    decline_form: DeclineForm | None = None,
    counter_form: CounterDeclineForm | None = None,
    error: ApplicationError | None = None,
) -> HttpResponse:
    rfq = invitation.rfq
    window = quote_window(invitation)
    quotes = invitation_quotes(invitation)
    current = _current(quotes)
    if not window.accepts:
        response = render(
            request,
            "sourcing/portal/closed.html",
            {"rfq": rfq, "invitation": invitation, "window": window, "current": current},
            status=status,
        )
        response["Referrer-Policy"] = FORM_REFERRER_POLICY
        return response
    lines = list(rfq.lines.all())
    form = quote_form or QuoteForm(
        initial=QuoteForm.initial_from(current, rfq_currency=rfq.currency),
        lines=lines,
        rfq_currency=rfq.currency,
    )
    context: dict[str, Any] = {
        "rfq": rfq,
        "invitation": invitation,
        "vendor": invitation.vendor,
        "window": window,
        "counter_offer": window.counter_offer,
        "quotes": quotes,
        "current": current,
        "form": form,
        "question_form": question_form or QuestionForm(),
        "decline_form": decline_form or DeclineForm(),
        "counter_form": counter_form or CounterDeclineForm(),
        "questions": invitation_questions(invitation),
        "tco": _explain(invitation, form),
        "error": error,
        "time_left": rfq.deadline - timezone.now(),
        "max_size": human_size(settings.QUOTE_ATTACHMENT_MAX_BYTES),
    }
    response = render(request, "sourcing/portal/quote.html", context, status=status)
    response["Referrer-Policy"] = FORM_REFERRER_POLICY
    return response


def _number(raw: Any) -> Decimal | None:
    text = str(raw or "").strip().replace(",", "")[:30]
    if not text:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def _explain(invitation: Invitation, form: QuoteForm) -> Any:
    """The TCO of what the form holds now (posted values, or the prefilled ones)."""
    rfq = invitation.rfq

    def value(name: str) -> Any:
        if form.is_bound:
            return form.data.get(name)
        return form.initial.get(name)

    prices = {line.pk: _number(value(price_key(line.pk))) for line in form.lines}
    currency = str(value("currency") or rfq.currency)
    if currency not in settings.CURRENCIES:
        currency = rfq.currency
    return quote_tco_explain(
        rfq=rfq,
        prices={key: price for key, price in prices.items() if price is None or price > 0},
        implementation_cost=_number(value("implementation_cost")),
        support_cost_per_year=_number(value("support_cost_per_year")),
        currency=currency,
    )


def _form_errors(form: Any, error: ApplicationError) -> None:
    placed = False
    for key, field_messages in error.fields.items():
        if key in form.fields:
            form.add_error(key, field_messages)
            placed = True
    if not placed:
        form.add_error(None, error.message)


@secret_link_page
@require_http_methods(["GET", "HEAD", "POST"])
def quote_page(request: HttpRequest, token: str) -> HttpResponse:
    try:
        invitation = invitation_from_token(token)
    except QuoteLinkDead as error:
        return _dead(request, error)
    if request.method != "POST":
        return _render(request, invitation)
    intent = request.POST.get("intent", "quote")
    try:
        if intent == "ask":
            return _ask(request, invitation)
        if intent == "decline":
            return _decline(request, invitation)
        if intent == "decline_counter":
            return _decline_counter(request, invitation)
        return _quote(request, invitation)
    except QuoteLinkDead as error:
        return _dead(request, error)


def _quote(request: HttpRequest, invitation: Invitation) -> HttpResponse:
    rfq = invitation.rfq
    form = QuoteForm(
        request.POST, request.FILES, lines=list(rfq.lines.all()), rfq_currency=rfq.currency
    )
    if not form.is_valid():
        return _render(request, invitation, status=400, quote_form=form)
    try:
        quote = quote_submit(
            invitation_id=invitation.pk, data=form.quote_input(), attachments=form.uploads()
        )
    except InvalidInput as error:
        _form_errors(form, error)
        return _render(request, invitation, status=400, quote_form=form, error=error)
    except ApplicationError as error:
        messages.error(request, error.message)
        return redirect(request.path)
    if quote.in_reply_to_id:
        # An answer to a counter-offer comes after the deadline: no further revision is taken.
        after = "It answers our counter-offer. A receipt was emailed to you; we will tell you "
        after += "the outcome by email."
    else:
        after = "A receipt was emailed to you. You can revise it until the deadline."
    messages.success(
        request,
        f"Revision {quote.revision} received: TCO {quote.tco:,.2f} {quote.currency}. {after}",
    )
    return redirect(request.path)


def _ask(request: HttpRequest, invitation: Invitation) -> HttpResponse:
    form = QuestionForm(request.POST)
    if form.is_valid():
        try:
            question_ask(invitation_id=invitation.pk, text=form.cleaned_data["text"])
        except InvalidInput as error:
            _form_errors(form, error)
        except ApplicationError as error:
            messages.error(request, error.message)
            return redirect(request.path)
        else:
            messages.success(
                request, "Question sent. The answer will be shown here and emailed to you."
            )
            return redirect(request.path + "#questions")
    return _render(request, invitation, status=400, question_form=form)


def _decline(request: HttpRequest, invitation: Invitation) -> HttpResponse:
    form = DeclineForm(request.POST)
    if form.is_valid():
        try:
            invitation_decline(invitation_id=invitation.pk, reason=form.cleaned_data["reason"])
        except InvalidInput as error:
            _form_errors(form, error)
        except ApplicationError as error:
            messages.error(request, error.message)
            return redirect(request.path)
        else:
            messages.success(request, "You declined to quote. Thank you for telling us.")
            return redirect(request.path)
    return _render(request, invitation, status=400, decline_form=form)


def _decline_counter(request: HttpRequest, invitation: Invitation) -> HttpResponse:
    form = CounterDeclineForm(request.POST)
    counter_offer_id = str(request.POST.get("counter_offer", ""))
    if form.is_valid() and counter_offer_id.isascii() and counter_offer_id.isdigit():
        try:
            counter_offer_decline(
                invitation_id=invitation.pk,
                counter_offer_id=int(counter_offer_id[:18]),
                message=form.cleaned_data["message"],
            )
        except InvalidInput as error:
            _form_errors(form, error)
        except ApplicationError as error:
            messages.error(request, error.message)
            return redirect(request.path)
        else:
            messages.success(request, "Counter-offer declined: your current quote stands.")
            return redirect(request.path)
    elif form.is_valid():
        form.add_error(None, "This counter-offer is no longer open; reload the page.")
    return _render(request, invitation, status=400, counter_form=form)


@secret_link_page
@require_POST
def quote_tco_preview(request: HttpRequest, token: str) -> HttpResponse:
    """The TCO of the form as typed, explained (htmx, as the vendor types). Writes nothing."""
    try:
        invitation = invitation_from_token(token)
    except QuoteLinkDead as error:
        return _dead(request, error)
    rfq = invitation.rfq
    form = QuoteForm(request.POST, lines=list(rfq.lines.all()), rfq_currency=rfq.currency)
    return render(request, "sourcing/portal/_tco.html", {"tco": _explain(invitation, form)})
