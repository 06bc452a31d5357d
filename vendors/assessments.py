"""Security assessments: questionnaires sent to a vendor contact by a signed link, answered
without an account, scored by a security reviewer into the vendor's risk tier.

Services (writes) and selectors (reads) live together here, as the one home of the
assessment rules. Every service checks who may act, validates before writing, writes in
one transaction with its audit entry on the vendor, and queues emails on commit.

A link carries the assessment id and its `link_nonce`, signed with SECRET_KEY under its
own salt. It works until `expires_at`, while the assessment waits for answers, and only
while the nonce is the current one: a resend rotates the nonce and so kills older links.
"""

from __future__ import annotations

import calendar
import datetime as dt
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from uuid import uuid4

from django.conf import settings
from django.core import signing
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import Q, QuerySet
from django.urls import reverse
from django.utils import timezone
from django_fsm import ConcurrentTransition, TransitionNotAllowed

from procurement.errors import Conflict, InvalidInput, NotAllowed, NotFound
from procurement.files import delete_files, document_check, files_removed_on_error
from procurement.models import User
from procurement.outbox import enqueue
from procurement.services import audit_record, email_send_once
from vendors.models import (
    Answer,
    AnswerType,
    Assessment,
    AssessmentState,
    Question,
    QuestionnaireTemplate,
    RiskTier,
    Vendor,
    VendorDocument,
    VendorState,
)
from vendors.selectors import (
    vendor_may_manage,
    vendor_may_score_assessments,
    vendor_may_see_file,
)

logger = logging.getLogger(__name__)

LINK_SALT = "vendors.assessment-link.v1"
TEXT_ANSWER_MAX_CHARS = 5000
REASON_MAX_CHARS = 5000

# Score (0-100) at or above which each tier starts, best first; below the last: critical.
# A vendor answering "yes" to four in five weighted controls is low risk; fewer than
# two in five is critical. Months until the next assessment follow the tier
# (settings.VENDOR_REASSESSMENT_MONTHS).
TIER_THRESHOLDS: tuple[tuple[Decimal, str], ...] = (
    (Decimal(80), RiskTier.LOW),
    (Decimal(60), RiskTier.MEDIUM),
    (Decimal(40), RiskTier.HIGH),
)

OPEN_STATES = (AssessmentState.SENT, AssessmentState.IN_PROGRESS)
DONE_STATES = (AssessmentState.SUBMITTED, AssessmentState.SCORED)
# A vendor in these states is not asked anything any more.
UNASSESSABLE_VENDOR_STATES = (VendorState.BLOCKED, VendorState.OFFBOARDED)

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def answer_key(question_id: int) -> str:
    """The field name of a question's answer: in the form, in the API and in error `fields`."""
    return f"q{question_id}"


# --- Choices of a choice question --------------------------------------------------------


def question_choices_errors(*, answer_type: str, choices: Any) -> list[str]:
    """What is wrong with a question's `choices`, one sentence each; empty when fine."""
    if answer_type != AnswerType.CHOICE:
        return ["Only choice questions have choices; leave it as []."] if choices else []
    if not isinstance(choices, list) or len(choices) < 2:
        return ['A choice question needs at least two choices: [{"label": "...", "score": 0-100}].']
    errors: list[str] = []
    labels: set[str] = set()
    for number, choice in enumerate(choices, start=1):
        if not isinstance(choice, dict) or set(choice) != {"label", "score"}:
            errors.append(f'Choice {number} must be {{"label": "...", "score": 0-100}}.')
            continue
        label, score = choice["label"], choice["score"]
        if not isinstance(label, str) or not label.strip():
            errors.append(f"Choice {number} needs a label.")
        elif label in labels:
            errors.append(f'Choice {number}: "{label}" is listed twice.')
        else:
            labels.add(label)
        if isinstance(score, bool) or not isinstance(score, int) or not 0 <= score <= 100:
            errors.append(f"Choice {number}: the score must be a whole number from 0 to 100.")
    return errors


# --- Signed links ------------------------------------------------------------------------


def assessment_link_token(assessment: Assessment) -> str:
    return signing.dumps(
        {"a": assessment.pk, "n": assessment.link_nonce.hex}, salt=LINK_SALT, compress=True
    )


def assessment_link_make(assessment: Assessment) -> str:
    """The absolute address (under SITE_URL) where the contact answers the questionnaire."""
    token = assessment_link_token(assessment)
    return settings.SITE_URL + reverse("assessments:respond", args=[token])


class AssessmentLinkDead(Conflict):
    """A questionnaire link that answers nothing now (a Conflict, with its own status).

    `reason` is a stable code:

    invalid (tampered with, cut short, unknown: 404), expired, replaced (a newer link
    was sent), submitted, cancelled (410). `assessment` is set only for genuine links,
    so a forged one learns nothing.
    """

    code = "link_dead"

    def __init__(
        self, message: str, *, reason: str, status: int, assessment: Assessment | None = None
    ) -> None:
        super().__init__(message)
        self.reason = reason
        self.status = status
        self.assessment = assessment


def _link_invalid() -> AssessmentLinkDead:
    return AssessmentLinkDead(
        "This link was changed or cut short: it is not one we sent.", reason="invalid", status=404
    )


def _link_problem(
    assessment: Assessment, *, nonce: str, now: dt.datetime, signature_expired: bool = False
) -> AssessmentLinkDead | None:
    """Why a genuine link to `assessment` answers nothing now, or None while it works."""
    if assessment.state == AssessmentState.CANCELLED:
        return AssessmentLinkDead(
            "This questionnaire was cancelled; nothing more is needed from you.",
            reason="cancelled",
            status=410,
            assessment=assessment,
        )
    if assessment.state in DONE_STATES:
        when = timezone.localtime(assessment.submitted_at) if assessment.submitted_at else None
        on = f" on {when:%d %B %Y}" if when else ""
        return AssessmentLinkDead(
            f"This questionnaire was already submitted{on}; thank you. It can no longer be changed.",
            reason="submitted",
            status=410,
            assessment=assessment,
        )
    if nonce != assessment.link_nonce.hex:
        return AssessmentLinkDead(
            "A newer link was sent for this questionnaire: use the one in the latest email.",
            reason="replaced",
            status=410,
            assessment=assessment,
        )
    if signature_expired or assessment.expires_at <= now:
        return AssessmentLinkDead(
            "This link has expired. Ask your contact to send you a new one; "
            "your saved answers are kept.",
            reason="expired",
            status=410,
            assessment=assessment,
        )
    return None


def _token_contents(token: str, *, max_age: int | None) -> tuple[int, str]:
    data = signing.loads(token, salt=LINK_SALT, max_age=max_age)
    if not isinstance(data, dict):
        raise ValueError("not an assessment link")
    return int(data["a"]), str(data["n"])


def assessment_from_token(token: str) -> Assessment:
    """The assessment a live link answers, or AssessmentLinkDead saying why not.

    Reads only. The signature, its age (VENDOR_QUESTIONNAIRE_LINK_DAYS), `expires_at`,
    the nonce and the state are all checked; assessment_answers_save checks them again
    under a row lock.
    """
    max_age = int(settings.VENDOR_QUESTIONNAIRE_LINK_DAYS) * 24 * 3600
    signature_expired = False
    try:
        assessment_id, nonce = _token_contents(token, max_age=max_age)
    except signing.SignatureExpired:
        # Genuine but old: still find the assessment, to say "submitted" rather than "expired".
        signature_expired = True
        try:
            assessment_id, nonce = _token_contents(token, max_age=None)
        except (signing.BadSignature, KeyError, TypeError, ValueError):
            raise _link_invalid() from None
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        raise _link_invalid() from None
    assessment = (
        Assessment.objects.select_related("vendor", "template", "sent_by")
        .filter(pk=assessment_id)
        .first()
    )
    if assessment is None:
        raise _link_invalid()
    problem = _link_problem(
        assessment, nonce=nonce, now=timezone.now(), signature_expired=signature_expired
    )
    if problem is not None:
        raise problem
    return assessment


# --- Emails --------------------------------------------------------------------------------


def assessment_url(assessment_id: int) -> str:
    return settings.SITE_URL + reverse("assessments:detail", args=[assessment_id])


def assessment_email_link(*, assessment_id: int) -> bool:
    """Email the contact the questionnaire's current link (once per link)."""
    assessment = Assessment.objects.select_related("vendor", "template", "sent_by").get(
        pk=assessment_id
    )
    if assessment.state not in OPEN_STATES:
        return False
    return email_send_once(
        key=f"vendor-questionnaire:{assessment.pk}:{assessment.link_nonce.hex}",
        to=assessment.contact_email,
        template="vendor_questionnaire",
        context={
            "assessment": assessment,
            "vendor": assessment.vendor,
            "url": assessment_link_make(assessment),
            "expires_at": assessment.expires_at,
        },
    )


def assessment_email_submitted(*, assessment_id: int) -> bool:
    """Tell the vendor's owner that the contact submitted the questionnaire (once per submission)."""
    assessment = Assessment.objects.select_related("vendor__owner", "template").get(
        pk=assessment_id
    )
    owner = assessment.vendor.owner
    if not owner.email or not owner.is_active or assessment.submitted_at is None:
        return False
    return email_send_once(
        key=f"vendor-questionnaire-submitted:{assessment.pk}:{assessment.submitted_at.isoformat()}",
        to=owner.email,
        template="vendor_questionnaire_submitted",
        context={
            "assessment": assessment,
            "vendor": assessment.vendor,
            "owner": owner,
            "url": assessment_url(assessment.pk),
        },
    )


def _queue_link_email(assessment_id: int) -> None:
    from vendors.tasks import notify_assessment_link

    enqueue(notify_assessment_link, assessment_id)


# --- Sending, resending, cancelling, reopening ---------------------------------------------


def _clean_contact(contact_name: str, contact_email: str) -> tuple[str, str]:
    errors: dict[str, list[str]] = {}
    contact_name = " ".join(contact_name.split())
    contact_email = contact_email.strip()
    if not contact_name:
        errors["contact_name"] = ["Give the name of the person who will answer."]
    elif len(contact_name) > 120:
        errors["contact_name"] = ["At most 120 characters."]
    if not _EMAIL.fullmatch(contact_email) or len(contact_email) > 254:
        errors["contact_email"] = ["Enter a valid email address."]
    if errors:
        raise InvalidInput(next(iter(errors.values()))[0], fields=errors)
    return contact_name, contact_email


def _expiry(now: dt.datetime) -> dt.datetime:
    return now + dt.timedelta(days=int(settings.VENDOR_QUESTIONNAIRE_LINK_DAYS))


def assessment_send(
    *, vendor_id: int, by: User, template_id: int, contact_name: str, contact_email: str
) -> Assessment:
    """Send a questionnaire to a vendor contact. Procurement only.

    Locks the vendor (a vendor being blocked meanwhile is not asked anything), creates the
    assessment with a link valid for VENDOR_QUESTIONNAIRE_LINK_DAYS, audits on the vendor
    and emails the contact the link on commit.
    """
    if not vendor_may_manage(by):
        raise NotAllowed("Only procurement can send security questionnaires.")
    contact_name, contact_email = _clean_contact(contact_name, contact_email)
    template = QuestionnaireTemplate.objects.filter(pk=template_id, is_active=True).first()
    if template is None:
        raise InvalidInput(
            "Choose one of the active questionnaires.",
            fields={"template": ["Choose one of the active questionnaires."]},
        )
    if not Question.objects.filter(section__template=template).exists():
        raise InvalidInput(
            f"{template} has no questions yet.", fields={"template": ["It has no questions."]}
        )
    with transaction.atomic():
        vendor = Vendor.objects.select_for_update().filter(pk=vendor_id).first()
        if vendor is None:
            raise NotFound("No such vendor.")
        if vendor.state in UNASSESSABLE_VENDOR_STATES:
            raise Conflict(
                f"{vendor.legal_name} is {vendor.get_state_display().lower()}: "
                "it is not sent questionnaires."
            )
        assessment = Assessment.objects.create(
            vendor=vendor,
            template=template,
            contact_name=contact_name,
            contact_email=contact_email,
            sent_by=by,
            expires_at=_expiry(timezone.now()),
        )
        audit_record(
            target=vendor,
            actor=by,
            action="assessment_sent",
            comment=f"{template} sent to {contact_name} <{contact_email}>.",
        )
        _queue_link_email(assessment.pk)
    logger.info("assessment %s sent for vendor %s by %s", assessment.pk, vendor.pk, by.username)
    return assessment


def _lock_assessment(assessment_id: int) -> Assessment:
    # Locked: the contact saving answers, a resend and a reviewer must not interleave.
    assessment = (
        Assessment.objects.select_for_update()
        .select_related("vendor", "template")
        .filter(pk=assessment_id)
        .first()
    )
    if assessment is None:
        raise NotFound("No such assessment.")
    return assessment


def _require_visible(by: User, assessment_id: int) -> None:
    # An assessment the user may not see answers exactly like one that does not exist.
    if not vendor_may_see_file(by) or not Assessment.objects.filter(pk=assessment_id).exists():
        raise NotFound("No such assessment.")


def assessment_resend(*, assessment_id: int, by: User) -> Assessment:
    """Send the contact a fresh link (new nonce, new expiry): every earlier link stops working.

    Procurement only; for an assessment still waiting for answers. Emails on commit.
    """
    _require_visible(by, assessment_id)
    if not vendor_may_manage(by):
        raise NotAllowed("Only procurement can resend questionnaires.")
    with transaction.atomic():
        assessment = _lock_assessment(assessment_id)
        if assessment.state not in OPEN_STATES:
            raise Conflict(
                f"This questionnaire is {assessment.get_state_display().lower()}; "
                "only one waiting for answers can be resent."
            )
        if assessment.vendor.state in UNASSESSABLE_VENDOR_STATES:
            raise Conflict(f"{assessment.vendor.legal_name} is not sent questionnaires any more.")
        assessment.link_nonce = uuid4()
        assessment.expires_at = _expiry(timezone.now())
        assessment.save(update_fields=["link_nonce", "expires_at"])
        audit_record(
            target=assessment.vendor,
            actor=by,
            action="assessment_resent",
            comment=f"{assessment.template} link sent again to {assessment.contact_email}; "
            "earlier links no longer work.",
        )
        _queue_link_email(assessment.pk)
    return assessment


def _transition(assessment: Assessment, method: str) -> None:
    try:
        getattr(assessment, method)()
        assessment.save()
    except (TransitionNotAllowed, ConcurrentTransition):
        raise Conflict(
            "This questionnaire was changed by someone else; reload and try again."
        ) from None


def _without_nul(text: str) -> str:
    # PostgreSQL text cannot hold NUL: dropped here, for every caller (pages and API).
    return text.replace("\x00", "").strip()


def _clean_reason(reason: str, *, field: str = "reason") -> str:
    reason = _without_nul(reason)
    if not reason:
        raise InvalidInput(
            "Give a reason: it is kept in the vendor's history.",
            fields={field: ["This field is required."]},
        )
    if len(reason) > REASON_MAX_CHARS:
        raise InvalidInput(
            f"The reason may have at most {REASON_MAX_CHARS} characters.",
            fields={field: [f"At most {REASON_MAX_CHARS} characters."]},
        )
    return reason


def assessment_cancel(*, assessment_id: int, by: User, reason: str) -> Assessment:
    """Cancel an assessment not yet scored: its links stop working. Procurement only."""
    _require_visible(by, assessment_id)
    if not vendor_may_manage(by):
        raise NotAllowed("Only procurement can cancel questionnaires.")
    reason = _clean_reason(reason)
    with transaction.atomic():
        assessment = _lock_assessment(assessment_id)
        if assessment.state not in (*OPEN_STATES, AssessmentState.SUBMITTED):
            raise Conflict(
                f"This questionnaire is {assessment.get_state_display().lower()}; "
                "it can no longer be cancelled."
            )
        from_state = assessment.state
        _transition(assessment, "cancel")
        audit_record(
            target=assessment.vendor,
            actor=by,
            action="assessment_cancelled",
            from_state=from_state,
            to_state=assessment.state,
            comment=f"{assessment.template}: {reason}",
        )
    return assessment


def assessment_reopen(*, assessment_id: int, by: User, reason: str) -> Assessment:
    """Return a submitted or scored assessment to the vendor, with a fresh link.

    Security reviewers and procurement. The answers stay; the score is cleared until the
    reviewer scores the new submission (the vendor keeps its current tier meanwhile).
    """
    _require_visible(by, assessment_id)
    if not (vendor_may_score_assessments(by) or vendor_may_manage(by)):
        raise NotAllowed("Only security reviewers and procurement can reopen a questionnaire.")
    reason = _clean_reason(reason)
    with transaction.atomic():
        assessment = _lock_assessment(assessment_id)
        if assessment.state not in DONE_STATES:
            raise Conflict(
                f"This questionnaire is {assessment.get_state_display().lower()}; "
                "only a submitted or scored one can be reopened."
            )
        if assessment.vendor.state in UNASSESSABLE_VENDOR_STATES:
            raise Conflict(f"{assessment.vendor.legal_name} is not sent questionnaires any more.")
        from_state = assessment.state
        assessment.link_nonce = uuid4()
        assessment.expires_at = _expiry(timezone.now())
        assessment.score = None
        assessment.computed_tier = ""
        assessment.risk_tier = ""
        assessment.tier_override_reason = ""
        assessment.scored_by = None
        assessment.scored_at = None
        _transition(assessment, "reopen")
        audit_record(
            target=assessment.vendor,
            actor=by,
            action="assessment_reopened",
            from_state=from_state,
            to_state=assessment.state,
            comment=f"{assessment.template}: {reason}",
        )
        _queue_link_email(assessment.pk)
    return assessment


# --- Answering -----------------------------------------------------------------------------


def _is_answered(question: Question, answer: Answer | None) -> bool:
    if answer is None:
        return False
    if question.answer_type == AnswerType.FILE:
        return answer.evidence_id is not None
    return bool(answer.value)


def _clean_value(question: Question, raw: str) -> tuple[str, str]:
    """(clean value, error); a blank value clears the answer."""
    value = raw.replace("\x00", "").strip()  # PostgreSQL refuses NUL in text
    if question.answer_type == AnswerType.FILE:
        return "", ("Upload a file (PDF or image) to answer this question." if value else "")
    if not value:
        return "", ""
    if question.answer_type == AnswerType.YES_NO:
        value = value.lower()
        return value, ("" if value in ("yes", "no") else "Answer yes or no.")
    if question.answer_type == AnswerType.CHOICE:
        labels = [str(choice["label"]) for choice in question.choices]
        if value not in labels:
            return value, "Choose one of: " + "; ".join(labels) + "."
        return value, ""
    if len(value) > TEXT_ANSWER_MAX_CHARS:
        return value, f"At most {TEXT_ANSWER_MAX_CHARS} characters (this has {len(value)})."
    return value, ""


def _store_evidence(
    *, assessment: Assessment, question: Question, upload: UploadedFile, content_type: str
) -> VendorDocument:
    name = upload.name or "evidence"
    document = VendorDocument(
        vendor=assessment.vendor,
        kind=VendorDocument.Kind.EVIDENCE,
        title=f"Questionnaire evidence: {question.text}"[:200],
        filename=name[:255],
        content_type=content_type,
        size=upload.size or 0,
        uploaded_by=None,  # uploaded by the vendor's contact, who has no account
    )
    document.file.save(name, upload, save=False)
    return document


def assessment_answers_save(
    *,
    assessment: Assessment,
    answers: Mapping[int, str],
    files: Mapping[int, UploadedFile],
    submit: bool,
) -> Assessment:
    """Save the contact's answers (keyed by question id), and submit them if `submit`.

    A blank value clears an answer; questions left out keep theirs. Every value and file
    is checked before anything is written; errors are keyed `q<question id>`. Submitting
    needs every required question answered. All or nothing: one transaction under the
    assessment's row lock, files stored in it deleted if it fails. The link is checked
    again under the lock (a resend or a cancel may have come in between). On submit the
    vendor's owner is emailed on commit.
    """
    questions = {
        question.pk: question
        for question in Question.objects.filter(section__template_id=assessment.template_id)
    }
    errors: dict[str, list[str]] = {}
    cleaned: dict[int, str] = {}
    for question_id, raw in answers.items():
        question = questions.get(question_id)
        if question is None:
            errors[answer_key(question_id)] = ["Not a question of this questionnaire."]
            continue
        value, error = _clean_value(question, raw)
        if error:
            errors[answer_key(question_id)] = [error]
        elif question.answer_type != AnswerType.FILE:
            cleaned[question_id] = value
    uploads: dict[int, tuple[UploadedFile, str]] = {}
    for question_id, upload in files.items():
        question = questions.get(question_id)
        key = answer_key(question_id)
        if question is None or question.answer_type != AnswerType.FILE:
            errors[key] = ["This question does not take a file."]
            continue
        try:
            content_type = document_check(
                upload, field=key, limit=settings.VENDOR_DOCUMENT_MAX_BYTES
            )
        except InvalidInput as error:
            errors.update(error.fields)
            continue
        uploads[question_id] = (upload, content_type)
    if errors:
        count = len(errors)
        raise InvalidInput(
            f"{count} answer{'s need' if count > 1 else ' needs'} correcting; nothing was saved.",
            fields=errors,
        )

    with files_removed_on_error() as stored, transaction.atomic():
        locked = _lock_assessment(assessment.pk)
        problem = _link_problem(locked, nonce=assessment.link_nonce.hex, now=timezone.now())
        if problem is not None:
            raise problem
        existing = {answer.question_id: answer for answer in locked.answers.all()}
        replaced: list[VendorDocument] = []
        for question_id, value in cleaned.items():
            answer = existing.get(question_id)
            if not value:
                if answer is not None:
                    answer.delete()
                    del existing[question_id]
                continue
            if answer is None:
                answer = Answer(assessment=locked, question_id=question_id)
            elif answer.value == value:
                continue
            _answer_changed(answer)
            answer.value = value
            answer.save()
            existing[question_id] = answer
        for question_id, (upload, content_type) in uploads.items():
            document = _store_evidence(
                assessment=locked,
                question=questions[question_id],
                upload=upload,
                content_type=content_type,
            )
            stored.append(str(document.file.name))
            document.save()
            answer = existing.get(question_id) or Answer(assessment=locked, question_id=question_id)
            if answer.evidence is not None:
                replaced.append(answer.evidence)
            _answer_changed(answer)
            answer.evidence = document
            answer.save()
            existing[question_id] = answer
        replaced_files = [str(document.file.name) for document in replaced]
        for document in replaced:
            document.delete()
        if replaced_files:
            transaction.on_commit(lambda: delete_files(replaced_files))

        from_state = locked.state
        if submit:
            missing = [
                question
                for question in questions.values()
                if question.required and not _is_answered(question, existing.get(question.pk))
            ]
            if missing:
                count = len(missing)
                raise InvalidInput(
                    f"{count} required question{'s are' if count > 1 else ' is'} not answered "
                    "yet; nothing was saved. Answer them, or save and continue later.",
                    fields={
                        answer_key(question.pk): ["Answer this question before you submit."]
                        for question in missing
                    },
                )
            locked.submitted_at = timezone.now()
            _transition(locked, "submit")
            audit_record(
                target=locked.vendor,
                actor=None,
                action="assessment_submitted",
                from_state=from_state,
                to_state=locked.state,
                comment=f"{locked.template} submitted by {locked.contact_name} "
                f"<{locked.contact_email}>.",
            )
            assessment_id = locked.pk
            from vendors.tasks import notify_assessment_submitted

            enqueue(notify_assessment_submitted, assessment_id)
        elif locked.state == AssessmentState.SENT:
            _transition(locked, "start")
            audit_record(
                target=locked.vendor,
                actor=None,
                action="assessment_started",
                from_state=from_state,
                to_state=locked.state,
                comment=f"{locked.contact_name} started answering {locked.template}.",
            )
    return locked


def _answer_changed(answer: Answer) -> None:
    # A reviewer's score was for the old answer (before a reopen): it no longer applies.
    answer.reviewer_score = None
    answer.override_reason = ""
    answer.reviewed_by = None


# --- Scoring -------------------------------------------------------------------------------


@dataclass(frozen=True)
class AnswerScore:
    """One question of an assessment with its answer and what it scores.

    `automatic`: from the answer alone (None for text, and for no answer). `effective`:
    what counts, the reviewer's score when there is one. `counted`: whether it is in the
    total (answered or required). `needs_review`: a text answer nobody has scored yet,
    which counts 0 until a reviewer does.
    """

    question: Question
    answer: Answer | None
    automatic: int | None
    reviewer: int | None
    effective: int
    counted: bool
    needs_review: bool

    @property
    def key(self) -> str:
        return answer_key(self.question.pk)


@dataclass(frozen=True)
class ScorePreview:
    answers: list[AnswerScore]
    score: Decimal
    tier: str
    # The weights the score divides by: 0 when no counted question carries weight, and
    # then the score (0) says nothing about the vendor.
    total_weight: int = 0

    @property
    def needs_review(self) -> list[AnswerScore]:
        return [row for row in self.answers if row.needs_review]


def automatic_score(question: Question, answer: Answer | None) -> int | None:
    """0-100 from the answer alone; None when a person must judge it (text) or it is unanswered.

    Questions are phrased so that "yes" is the good answer.
    """
    if not _is_answered(question, answer):
        return None
    assert answer is not None
    if question.answer_type == AnswerType.YES_NO:
        return 100 if answer.value == "yes" else 0
    if question.answer_type == AnswerType.CHOICE:
        scores = {str(c["label"]): int(c["score"]) for c in question.choices}
        return scores.get(answer.value, 0)
    if question.answer_type == AnswerType.FILE:
        return 100
    return None


def tier_for_score(score: Decimal) -> str:
    for threshold, tier in TIER_THRESHOLDS:
        if score >= threshold:
            return tier
    return RiskTier.CRITICAL


def assessment_score_preview(
    assessment: Assessment, *, overrides: Mapping[int, int | None] | None = None
) -> ScorePreview:
    """Each question's automatic and effective score, and the total and tier they make.

    `overrides` (question id -> reviewer score, None to drop one) shows what a reviewer's
    pending changes would give. Total = sum(weight x score) / sum(weight) over the
    questions answered or required, to one decimal.
    """
    questions = Question.objects.filter(section__template_id=assessment.template_id).select_related(
        "section"
    )
    answers = {
        answer.question_id: answer
        for answer in assessment.answers.select_related("evidence", "reviewed_by")
    }
    rows: list[AnswerScore] = []
    weighted = 0
    weights = 0
    for question in questions.order_by("section__position", "section_id", "position", "id"):
        answer = answers.get(question.pk)
        automatic = automatic_score(question, answer)
        reviewer = answer.reviewer_score if answer is not None else None
        if overrides is not None and question.pk in overrides:
            reviewer = overrides[question.pk]
        answered = _is_answered(question, answer)
        effective = reviewer if reviewer is not None else (automatic or 0)
        counted = answered or question.required
        if counted:
            weighted += question.weight * effective
            weights += question.weight
        rows.append(
            AnswerScore(
                question=question,
                answer=answer,
                automatic=automatic,
                reviewer=reviewer,
                effective=effective,
                counted=counted,
                needs_review=answered and automatic is None and reviewer is None,
            )
        )
    total = (Decimal(weighted) / Decimal(weights)) if weights else Decimal(0)
    score = total.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    return ScorePreview(answers=rows, score=score, tier=tier_for_score(score), total_weight=weights)


def months_later(day: dt.date, months: int) -> dt.date:
    """`day` plus whole months; the 31st becomes the last day of a shorter month."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return day.replace(
        year=year, month=month, day=min(day.day, calendar.monthrange(year, month)[1])
    )


def assessment_score(
    *,
    assessment_id: int,
    by: User,
    overrides: Mapping[int, tuple[int | None, str]],
    tier_override: str = "",
    tier_override_reason: str = "",
) -> Assessment:
    """Score a submitted assessment and set the vendor's risk tier from it.

    Security reviewers and admins only. `overrides`: question id -> (reviewer score 0-100,
    reason), or (None, "") to drop an earlier override; questions left out keep theirs.
    Every override and a tier that differs from the computed one need a reason. Locks the
    assessment and the vendor; writes the score, tiers and the vendor's risk_tier,
    risk_assessed_at and next_assessment_due (VENDOR_REASSESSMENT_MONTHS by tier) with
    one audit entry on the vendor that carries the reasons.
    """
    _require_visible(by, assessment_id)
    if not vendor_may_score_assessments(by):
        raise NotAllowed("Only security reviewers can score assessments.")
    tier_override = tier_override.strip()
    tier_override_reason = _without_nul(tier_override_reason)
    errors: dict[str, list[str]] = {}
    if tier_override and tier_override not in RiskTier.values:
        errors["tier_override"] = ["Choose low, medium, high or critical."]
    if len(tier_override_reason) > REASON_MAX_CHARS:
        errors["tier_override_reason"] = [f"At most {REASON_MAX_CHARS} characters."]

    with transaction.atomic():
        assessment = _lock_assessment(assessment_id)
        if assessment.state != AssessmentState.SUBMITTED:
            raise Conflict(
                f"This questionnaire is {assessment.get_state_display().lower()}; only a "
                "submitted one can be scored (reopen a scored one to have it answered again)."
            )
        answers = {answer.question_id: answer for answer in assessment.answers.all()}
        questions = {
            q.pk: q for q in Question.objects.filter(section__template_id=assessment.template_id)
        }
        scores: dict[int, int | None] = {}
        for question_id, (score, reason) in overrides.items():
            reason = _without_nul(reason)
            answer = answers.get(question_id)
            if question_id not in questions:
                errors[f"score_{question_id}"] = ["Not a question of this questionnaire."]
            elif answer is None or not _is_answered(questions[question_id], answer):
                if score is not None:
                    errors[f"score_{question_id}"] = ["This question was not answered."]
            elif score is not None and (isinstance(score, bool) or not 0 <= score <= 100):
                errors[f"score_{question_id}"] = ["A score is a whole number from 0 to 100."]
            elif score is not None and not reason:
                errors[f"reason_{question_id}"] = ["Say why you score this answer yourself."]
            elif len(reason) > REASON_MAX_CHARS:
                errors[f"reason_{question_id}"] = [f"At most {REASON_MAX_CHARS} characters."]
            else:
                scores[question_id] = score
        preview = assessment_score_preview(assessment, overrides=scores)
        if not preview.total_weight:
            # Nothing weighed: the score would be 0 and the vendor "critical" for no reason.
            raise Conflict(
                "No answered or required question of this questionnaire carries any weight, "
                "so it cannot give a score: give its questions weights first.",
                fields={"template": ["Every counted question has weight 0."]},
            )
        overridden = bool(tier_override) and tier_override != preview.tier
        if overridden and not tier_override_reason and "tier_override" not in errors:
            errors["tier_override_reason"] = ["Say why the tier differs from the computed one."]
        if errors:
            raise InvalidInput(next(iter(errors.values()))[0], fields=errors)

        notes: list[str] = []
        for question_id, score in scores.items():
            answer = answers[question_id]
            reason = _without_nul(overrides[question_id][1]) if score is not None else ""
            if answer.reviewer_score == score and answer.override_reason == reason:
                continue
            answer.reviewer_score = score
            answer.override_reason = reason
            answer.reviewed_by = by if score is not None else None
            answer.save(update_fields=["reviewer_score", "override_reason", "reviewed_by"])
            if score is not None:
                notes.append(f'"{questions[question_id].text}" scored {score}: {reason}')
        tier = tier_override if overridden else preview.tier
        now = timezone.now()
        assessment.score = preview.score
        assessment.computed_tier = preview.tier
        assessment.risk_tier = tier
        assessment.tier_override_reason = tier_override_reason if overridden else ""
        assessment.scored_by = by
        assessment.scored_at = now
        _transition(assessment, "mark_scored")

        vendor = Vendor.objects.select_for_update().get(pk=assessment.vendor_id)
        vendor.risk_tier = tier
        vendor.risk_assessed_at = now
        months = int(settings.VENDOR_REASSESSMENT_MONTHS[tier])
        vendor.next_assessment_due = months_later(timezone.localdate(now), months)
        vendor.save(update_fields=["risk_tier", "risk_assessed_at", "next_assessment_due"])
        assessment.vendor = vendor

        summary = f"{assessment.template} scored {preview.score}: {RiskTier(tier).label} risk"
        if overridden:
            summary += (
                f" (computed {RiskTier(preview.tier).label.lower()}, "
                f"overridden: {tier_override_reason})"
            )
        audit_record(
            target=vendor,
            actor=by,
            action="assessment_scored",
            comment=". ".join([summary, *notes]) + ".",
        )
    logger.info("assessment %s scored %s by %s", assessment.pk, preview.score, by.username)
    return assessment


# --- Selectors -----------------------------------------------------------------------------


def questionnaire_templates_active() -> QuerySet[QuestionnaireTemplate]:
    return QuestionnaireTemplate.objects.filter(
        is_active=True, sections__questions__isnull=False
    ).distinct()


def assessment_list(
    *, user: User, vendor_id: int | None = None, state: str = ""
) -> QuerySet[Assessment]:
    """Assessments `user` may see (those who may see vendor files see all), newest first."""
    if not vendor_may_see_file(user):
        return Assessment.objects.none()
    assessments = Assessment.objects.select_related("vendor", "template", "sent_by", "scored_by")
    if vendor_id is not None:
        assessments = assessments.filter(vendor_id=vendor_id)
    if state:
        assessments = assessments.filter(state=state)
    return assessments


def assessment_get(*, user: User, assessment_id: int) -> Assessment | None:
    return assessment_list(user=user).filter(pk=assessment_id).first()


def assessments_awaiting_review(*, user: User) -> QuerySet[Assessment]:
    """Submitted assessments, oldest submission first (the one waiting longest on top)."""
    return assessment_list(user=user, state=AssessmentState.SUBMITTED).order_by(
        "submitted_at", "id"
    )


def assessments_due_for_reassessment(on: dt.date) -> QuerySet[Vendor]:
    """Vendors whose next assessment is due on or before `on`, and who have no questionnaire
    out or waiting for review already; blocked and offboarded vendors are left alone."""
    underway = Q(
        assessments__state__in=[
            AssessmentState.SENT,
            AssessmentState.IN_PROGRESS,
            AssessmentState.SUBMITTED,
        ]
    )
    return (
        Vendor.objects.filter(next_assessment_due__lte=on)
        .exclude(state__in=UNASSESSABLE_VENDOR_STATES)
        .exclude(pk__in=Vendor.objects.filter(underway).values("pk"))
        .select_related("owner")
        .order_by("next_assessment_due", "legal_name")
    )
