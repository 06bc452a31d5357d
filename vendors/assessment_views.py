"""Pages for security assessments: send, review list, detail with scoring, evidence downloads,
and the public page where a vendor's contact answers by a signed link.

Thin: parse, call one service or selector from vendors/assessments.py, render. The answer
page needs no login; its token is a credential, so those responses are never cached or
indexed and never send the address on as a Referer.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import UploadedFile
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from procurement.errors import ApplicationError, InvalidInput, NotFound
from procurement.files import human_size, private_file_response
from procurement.secret_links import secret_link_page
from vendors.assessments import (
    AssessmentLinkDead,
    answer_key,
    assessment_answers_save,
    assessment_cancel,
    assessment_from_token,
    assessment_get,
    assessment_reopen,
    assessment_resend,
    assessment_score,
    assessment_score_preview,
    assessments_awaiting_review,
    questionnaire_templates_active,
)
from vendors.assessments import assessment_send as send_service
from vendors.models import (
    AnswerType,
    Assessment,
    AssessmentState,
    QuestionnaireTemplate,
    RiskTier,
    Vendor,
    VendorState,
)
from vendors.selectors import (
    vendor_may_manage,
    vendor_may_score_assessments,
    vendor_may_see_file,
)

if TYPE_CHECKING:
    from procurement.models import User


# The answer form's page may not say "no-referrer": browsers then send `Origin: null` with
# its POST, which Django's CSRF check rightly refuses. "strict-origin" still never sends
# the path (the token), only the scheme and host. Every other response says "no-referrer".
FORM_REFERRER_POLICY = "strict-origin"


def _user(request: HttpRequest) -> User:
    # @login_required has run: the user is a real account.
    return cast("User", request.user)


def _posted_text(request: HttpRequest, key: str) -> str:
    """A POSTed text without NUL characters, which PostgreSQL refuses in text (a 500).

    These pages read a few fields straight from the POST instead of through a Django form,
    whose fields refuse NUL themselves. Nobody types a NUL; dropping it loses nothing.
    """
    return str(request.POST.get(key, "")).replace("\x00", "")


def _whole_number(raw: str, *, digits: int) -> int | None:
    """`raw` as a number if it is 1 to `digits` ASCII digits, else None.

    Not str.isdigit(): it accepts "²", which int() refuses, and a value of thousands of
    digits, which int() refuses too; both were 500s.
    """
    return int(raw) if re.fullmatch(rf"[0-9]{{1,{digits}}}", raw) else None


def _vendor_url(vendor_id: int) -> str | None:
    # The vendor pages are another part of the app; link to them once their route exists.
    try:
        return reverse("vendors:detail", args=[vendor_id])
    except NoReverseMatch:
        return None


def _get_or_404(request: HttpRequest, assessment_id: int) -> Assessment:
    assessment = assessment_get(user=_user(request), assessment_id=assessment_id)
    if assessment is None:
        raise Http404("No such assessment.")
    return assessment


# --- Sending ---------------------------------------------------------------------------------


class SendForm(forms.Form):
    vendor = forms.ModelChoiceField(
        queryset=Vendor.objects.exclude(state__in=[VendorState.BLOCKED, VendorState.OFFBOARDED]),
        empty_label="Choose a vendor",
    )
    template = forms.ModelChoiceField(
        label="Questionnaire", queryset=QuestionnaireTemplate.objects.none(), empty_label=None
    )
    contact_name = forms.CharField(label="Contact name", max_length=120)
    contact_email = forms.EmailField(
        label="Contact email",
        max_length=254,
        help_text="The link is sent here. Whoever has it can answer for the vendor.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        template_field = cast(forms.ModelChoiceField, self.fields["template"])
        template_field.queryset = questionnaire_templates_active()


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def assessment_send(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    if not vendor_may_manage(user):
        raise PermissionDenied("Only procurement can send security questionnaires.")
    if request.method == "POST":
        form = SendForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                assessment = send_service(
                    vendor_id=data["vendor"].pk,
                    by=user,
                    template_id=data["template"].pk,
                    contact_name=data["contact_name"],
                    contact_email=data["contact_email"],
                )
            except ApplicationError as error:
                _errors_to_form(form, error)
            else:
                messages.success(
                    request,
                    f"Questionnaire sent to {assessment.contact_email}. "
                    f"The link works until {assessment.expires_at:%d %B %Y}.",
                )
                return redirect("assessments:detail", assessment_id=assessment.pk)
        return _render_send(request, form, status=400)
    initial: dict[str, Any] = {}
    vendor_id = _whole_number(request.GET.get("vendor", ""), digits=18)
    vendor = Vendor.objects.filter(pk=vendor_id).first() if vendor_id is not None else None
    if vendor is not None:
        initial["vendor"] = vendor.pk
        contact = vendor.contacts.first()  # the primary contact first (model ordering)
        if contact is not None:
            initial.update(contact_name=contact.name, contact_email=contact.email)
    return _render_send(request, SendForm(initial=initial), vendor=vendor)


def _render_send(
    request: HttpRequest, form: SendForm, *, vendor: Vendor | None = None, status: int = 200
) -> HttpResponse:
    context = {
        "form": form,
        "vendor": vendor,
        "link_days": settings.VENDOR_QUESTIONNAIRE_LINK_DAYS,
    }
    return render(request, "vendors/assessments/send.html", context, status=status)


def _errors_to_form(form: forms.Form, error: ApplicationError) -> None:
    if not error.fields:
        form.add_error(None, error.message)
    for field, field_messages in error.fields.items():
        form.add_error(field if field in form.fields else None, field_messages)


# --- Review list and detail ------------------------------------------------------------------


@login_required
@require_GET
def review_list(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    if not vendor_may_see_file(user):
        raise PermissionDenied("Only people who may see vendor files see assessments.")
    return render(
        request,
        "vendors/assessments/review_list.html",
        {
            "assessments": assessments_awaiting_review(user=user),
            "can_score": vendor_may_score_assessments(user),
        },
    )


def _render_detail(
    request: HttpRequest,
    assessment: Assessment,
    *,
    status: int = 200,
    errors: dict[str, list[str]] | None = None,
    message: str = "",
    posted: dict[str, str] | None = None,
) -> HttpResponse:
    user = _user(request)
    preview = assessment_score_preview(assessment)
    values = posted or {}
    rows: list[dict[str, Any]] = [
        {
            "row": row,
            "score_name": f"score_{row.question.pk}",
            "reason_name": f"reason_{row.question.pk}",
            "score_value": values.get(
                f"score_{row.question.pk}", "" if row.reviewer is None else str(row.reviewer)
            ),
            "reason_value": values.get(
                f"reason_{row.question.pk}", row.answer.override_reason if row.answer else ""
            ),
            "score_errors": (errors or {}).get(f"score_{row.question.pk}", []),
            "reason_errors": (errors or {}).get(f"reason_{row.question.pk}", []),
        }
        for row in preview.answers
    ]
    sections: list[tuple[str, list[dict[str, Any]]]] = []
    for row in rows:
        title = row["row"].question.section.title
        if not sections or sections[-1][0] != title:
            sections.append((title, []))
        sections[-1][1].append(row)
    context = {
        "assessment": assessment,
        "vendor": assessment.vendor,
        "vendor_url": _vendor_url(assessment.vendor_id),
        "preview": preview,
        "sections": sections,
        "can_score": vendor_may_score_assessments(user)
        and assessment.state == AssessmentState.SUBMITTED,
        "can_manage": vendor_may_manage(user),
        "can_resend": vendor_may_manage(user)
        and assessment.state in (AssessmentState.SENT, AssessmentState.IN_PROGRESS),
        "can_cancel": vendor_may_manage(user)
        and assessment.state
        in (AssessmentState.SENT, AssessmentState.IN_PROGRESS, AssessmentState.SUBMITTED),
        "can_reopen": (vendor_may_manage(user) or vendor_may_score_assessments(user))
        and assessment.state in (AssessmentState.SUBMITTED, AssessmentState.SCORED),
        "tiers": RiskTier.choices,
        "tier_override": values.get("tier_override", ""),
        "tier_override_reason": values.get("tier_override_reason", ""),
        "errors": errors or {},
        "message": message,
    }
    return render(request, "vendors/assessments/detail.html", context, status=status)


@login_required
@require_GET
def assessment_detail(request: HttpRequest, assessment_id: int) -> HttpResponse:
    return _render_detail(request, _get_or_404(request, assessment_id))


@login_required
@require_POST
def assessment_score_view(request: HttpRequest, assessment_id: int) -> HttpResponse:
    assessment = _get_or_404(request, assessment_id)
    posted = {
        key: _posted_text(request, key) for key in request.POST if key != "csrfmiddlewaretoken"
    }
    errors: dict[str, list[str]] = {}
    overrides: dict[int, tuple[int | None, str]] = {}
    for row in assessment_score_preview(assessment).answers:
        if row.answer is None:
            continue
        question_id = row.question.pk
        raw = posted.get(f"score_{question_id}", "").strip()
        reason = posted.get(f"reason_{question_id}", "")
        score = _whole_number(raw, digits=3)
        if raw == "":
            overrides[question_id] = (None, "")
        elif score is not None and score <= 100:
            overrides[question_id] = (score, reason)
        else:
            errors[f"score_{question_id}"] = ["Enter a whole number from 0 to 100."]
    if errors:
        return _render_detail(
            request,
            assessment,
            status=400,
            errors=errors,
            message="Some scores need correcting; nothing was saved.",
            posted=posted,
        )
    try:
        scored = assessment_score(
            assessment_id=assessment.pk,
            by=_user(request),
            overrides=overrides,
            tier_override=posted.get("tier_override", ""),
            tier_override_reason=posted.get("tier_override_reason", ""),
        )
    except NotFound:
        raise Http404("No such assessment.") from None
    except InvalidInput as error:
        return _render_detail(
            request,
            assessment,
            status=400,
            errors=error.fields,
            message=error.message,
            posted=posted,
        )
    except ApplicationError as error:
        messages.error(request, error.message)
        return redirect("assessments:detail", assessment_id=assessment.pk)
    messages.success(
        request,
        f"Scored {scored.score}: {scored.get_risk_tier_display().lower()} risk. "
        f"{scored.vendor.legal_name} is next assessed by {scored.vendor.next_assessment_due:%d %B %Y}.",
    )
    return redirect("assessments:detail", assessment_id=assessment.pk)


def _action(
    request: HttpRequest, assessment_id: int, run: Callable[[Assessment], str]
) -> HttpResponse:
    """Run a POSTed action on a visible assessment; its message, or the refusal, on the detail."""
    assessment = _get_or_404(request, assessment_id)
    try:
        messages.success(request, run(assessment))
    except NotFound:
        raise Http404("No such assessment.") from None
    except ApplicationError as error:
        messages.error(request, error.message)
    return redirect("assessments:detail", assessment_id=assessment.pk)


@login_required
@require_POST
def assessment_resend_view(request: HttpRequest, assessment_id: int) -> HttpResponse:
    def run(assessment: Assessment) -> str:
        resent = assessment_resend(assessment_id=assessment.pk, by=_user(request))
        return f"A new link was sent to {resent.contact_email}; earlier links no longer work."

    return _action(request, assessment_id, run)


@login_required
@require_POST
def assessment_cancel_view(request: HttpRequest, assessment_id: int) -> HttpResponse:
    def run(assessment: Assessment) -> str:
        assessment_cancel(
            assessment_id=assessment.pk, by=_user(request), reason=_posted_text(request, "reason")
        )
        return "Questionnaire cancelled; its link no longer works."

    return _action(request, assessment_id, run)


@login_required
@require_POST
def assessment_reopen_view(request: HttpRequest, assessment_id: int) -> HttpResponse:
    def run(assessment: Assessment) -> str:
        reopened = assessment_reopen(
            assessment_id=assessment.pk, by=_user(request), reason=_posted_text(request, "reason")
        )
        return f"Returned to the vendor: a new link was sent to {reopened.contact_email}."

    return _action(request, assessment_id, run)


@login_required
@require_GET
def evidence_download(request: HttpRequest, assessment_id: int, answer_id: int) -> FileResponse:
    """An answer's evidence file, to whoever may see the vendor's file; a 404 for everyone else."""
    assessment = _get_or_404(request, assessment_id)
    answer = assessment.answers.select_related("evidence").filter(pk=answer_id).first()
    if answer is None or answer.evidence is None:
        raise Http404("No such evidence.")
    document = answer.evidence
    # Sniffed on upload, but it came from outside: always a download, never guessed or run.
    return private_file_response(
        document.file, filename=document.filename, content_type=document.content_type
    )


# --- The vendor's answer page (no login) -------------------------------------------------------


def _dead(request: HttpRequest, error: AssessmentLinkDead) -> HttpResponse:
    return render(
        request,
        "vendors/assessments/link_dead.html",
        {"error": error, "assessment": error.assessment},
        status=error.status,
    )


def _questionnaire(
    request: HttpRequest,
    assessment: Assessment,
    *,
    status: int = 200,
    error: ApplicationError | None = None,
    posted: dict[str, str] | None = None,
    files_posted: set[str] | None = None,
) -> HttpResponse:
    answers = {
        answer.question_id: answer for answer in assessment.answers.select_related("evidence")
    }
    field_errors = error.fields if error is not None else {}
    sections = []
    for section in assessment.template.sections.prefetch_related("questions"):
        rows = []
        for question in section.questions.all():
            key = answer_key(question.pk)
            answer = answers.get(question.pk)
            saved = answer.value if answer is not None else ""
            rows.append(
                {
                    "question": question,
                    "key": key,
                    "value": posted.get(key, saved) if posted is not None else saved,
                    "evidence": answer.evidence if answer is not None else None,
                    "errors": field_errors.get(key, []),
                    "file_dropped": key in (files_posted or set()),
                    "labels": [str(choice["label"]) for choice in question.choices],
                }
            )
        sections.append({"section": section, "rows": rows})
    response = render(
        request,
        "vendors/assessments/respond.html",
        {
            "assessment": assessment,
            "vendor": assessment.vendor,
            "sections": sections,
            "error": error,
            "max_size": human_size(settings.VENDOR_DOCUMENT_MAX_BYTES),
        },
        status=status,
    )
    response["Referrer-Policy"] = FORM_REFERRER_POLICY
    return response


@secret_link_page
@require_http_methods(["GET", "HEAD", "POST"])
def respond(request: HttpRequest, token: str) -> HttpResponse:
    try:
        assessment = assessment_from_token(token)
    except AssessmentLinkDead as error:
        return _dead(request, error)
    if request.method != "POST":
        return _questionnaire(request, assessment)
    intent = request.POST.get("intent", "save")
    answers: dict[int, str] = {}
    files: dict[int, UploadedFile] = {}
    for section in assessment.template.sections.prefetch_related("questions"):
        for question in section.questions.all():
            key = answer_key(question.pk)
            if question.answer_type == AnswerType.FILE:
                upload = request.FILES.get(key)
                if upload is not None:
                    files[question.pk] = upload
            else:
                # Every field is on the page: one left empty (or a radio left unchosen) clears.
                answers[question.pk] = request.POST.get(key, "")
    try:
        saved = assessment_answers_save(
            assessment=assessment, answers=answers, files=files, submit=intent == "submit"
        )
    except AssessmentLinkDead as error:
        return _dead(request, error)
    except ApplicationError as error:
        posted = {answer_key(question_id): value for question_id, value in answers.items()}
        return _questionnaire(
            request,
            assessment,
            status=400 if isinstance(error, InvalidInput) else error.status,
            error=error,
            posted=posted,
            files_posted={answer_key(question_id) for question_id in files},
        )
    if saved.state == AssessmentState.SUBMITTED:
        return render(request, "vendors/assessments/respond_done.html", {"assessment": saved})
    messages.success(
        request,
        f"Your answers are saved. Come back with the same link to finish; "
        f"it works until {saved.expires_at:%d %B %Y}.",
    )
    return redirect(request.path)
