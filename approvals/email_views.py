"""The page an emailed Approve/Reject link opens. No login needed.

A GET or HEAD only shows the page and never changes anything: mail scanners fetch links
and some run the page's scripts. Only the POST of the page's own form (Django's CSRF check
applies as everywhere) decides, as the approver the token names, that one step, through
approvals.services.approval_step_decide, which re-checks everything under row locks.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods
from django_fsm import ConcurrentTransition, TransitionNotAllowed

from approvals import gates
from approvals.selectors import approval_steps_approved
from approvals.services import approval_step_decide
from approvals.tokens import (
    LINK_DECISIONS,
    DeadLink,
    LiveLink,
    decision_link_check,
    signin_url,
)
from procurement.errors import Conflict, InvalidInput, NotAllowed, NotFound
from procurement.secret_links import secret_link_page
from requests.selectors import purchase_request_line_items

# The page with the form may not say "no-referrer": browsers then send `Origin: null` with
# its POST, which Django's CSRF check rightly refuses. "strict-origin" still never sends
# the path (the token), only the scheme and host.
FORM_REFERRER_POLICY = "strict-origin"


class EmailDecisionForm(forms.Form):
    decision = forms.ChoiceField(choices=[(d, d) for d in LINK_DECISIONS])
    comment = forms.CharField(required=False, max_length=5000, strip=True)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if cleaned.get("decision") == "reject" and not cleaned.get("comment"):
            self.add_error("comment", "A reason is required.")
        return cleaned


@secret_link_page
@require_http_methods(["GET", "HEAD", "POST"])
def decision_confirm(request: HttpRequest, token: str) -> HttpResponse:
    # A POST's page shows the request as the decision leaves it, not the link's copy.
    link = decision_link_check(token=token, deciding=request.method == "POST")
    if isinstance(link, DeadLink):
        return _dead(request, link)
    if request.user.is_authenticated and request.user.pk != link.approver.pk:
        # Someone signed in as another person would otherwise decide as the approver
        # while believing they act as themselves.
        return _page(request, "approvals/email_wrong_person.html", link, status=403)
    if link.needs_signin():
        refused = request.method == "POST"
        return _page(
            request,
            "approvals/email_signin.html",
            link,
            status=403 if refused else 200,
            limit=link.signin_above,
            base_currency=settings.BASE_CURRENCY,
            refused=refused,
        )
    if request.method == "POST":
        return _decide(request, link)
    preselect = request.GET.get("decision", "")
    form = EmailDecisionForm(initial={"decision": preselect})
    return _confirm(request, link, form, preselect=preselect)


def _decide(request: HttpRequest, link: LiveLink) -> HttpResponse:
    form = EmailDecisionForm(request.POST)
    if not form.is_valid():
        return _confirm(request, link, form, status=400, preselect=request.POST.get("decision"))
    action = form.cleaned_data["decision"]
    try:
        decided = approval_step_decide(
            step_id=link.step.pk,
            by=link.approver,
            action=action,
            comment=form.cleaned_data["comment"],
            request_version=link.request_version,
        )
    except (Conflict, ConcurrentTransition, TransitionNotAllowed) as error:
        # Someone decided between this page and the press of the button (409 in the API).
        message = getattr(error, "message", "Someone else decided this step first.")
        return _page(
            request, "approvals/email_already_decided.html", link, status=409, message=message
        )
    except InvalidInput as error:
        for field, messages in error.fields.items():
            form.add_error(field if field in form.fields else None, messages)
        if not error.fields:
            form.add_error(None, error.message)
        return _confirm(request, link, form, status=400, preselect=action)
    except (NotAllowed, NotFound) as error:
        return _dead(
            request,
            DeadLink(
                reason=error.message,
                status=403 if isinstance(error, NotAllowed) else 410,
                request=link.request,
            ),
        )
    verb = {"approve": "approved", "reject": "rejected"}[action]
    # The request as the decision left it (its new state), read under its lock by the service.
    return _page(request, "approvals/email_decided.html", link, verb=verb, pr=decided.request)


def _confirm(
    request: HttpRequest,
    link: LiveLink,
    form: EmailDecisionForm,
    *,
    status: int = 200,
    preselect: str | None = "",
) -> HttpResponse:
    response = _page(
        request,
        "approvals/email_confirm.html",
        link,
        status=status,
        form=form,
        preselect=preselect,
        lines=purchase_request_line_items(request_id=link.request.pk),
        approved_so_far=approval_steps_approved(step=link.step),
        decision_panels=gates.decision_panels(link.request),
    )
    response["Referrer-Policy"] = FORM_REFERRER_POLICY
    return response


def _page(
    request: HttpRequest, template: str, link: LiveLink, *, status: int = 200, **context: Any
) -> HttpResponse:
    context = {
        "pr": link.request,
        "step": link.step,
        "assignment": link.assignment,
        "approver": link.approver,
        "signin_url": signin_url(request=link.request),
        **context,
    }
    return render(request, template, context, status=status)


def _dead(request: HttpRequest, link: DeadLink) -> HttpResponse:
    context = {
        "reason": link.reason,
        "pr": link.request,
        "signin_url": signin_url(request=link.request),
    }
    return render(request, "approvals/email_link_dead.html", context, status=link.status)
