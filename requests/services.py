"""Writes to purchase requests. Every state change goes through `purchase_request_transition`."""

from __future__ import annotations

import logging
import operator
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import reduce

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import Q
from django_fsm import ConcurrentTransition, TransitionNotAllowed

from procurement.errors import Conflict, InvalidInput, NotAllowed, NotFound
from procurement.files import delete_files, document_check, files_removed_on_error
from procurement.models import (
    AuditEntry,
    Category,
    CostCentre,
    Department,
    FiscalYear,
    Objective,
    User,
)
from procurement.outbox import enqueue
from procurement.permissions import require
from procurement.prepared import prepared_save
from procurement.services import audit_record
from requests import workflow
from requests.models import (
    Attachment,
    Comment,
    LineItem,
    PurchaseRequest,
    RequestState,
    line_amount,
    vendor_is_orderable,
)
from requests.selectors import purchase_request_visible_to
from requests.tasks import notify_mentions, notify_requester_of_transition
from requests.validators import validate_not_in_past
from vendors.models import Vendor

logger = logging.getLogger(__name__)

MAX_LINE_ITEMS = 200
# PurchaseRequest.total is max_digits=16, decimal_places=2: a total must stay below 10^14.
TOTAL_LIMIT = Decimal(10) ** 14
# What a requester fills in; everything else on a request is computed or set by transitions.
REQUEST_FIELDS = (
    "title",
    "justification",
    "department",
    "cost_centre",
    "category",
    "needed_by",
    "currency",
    "processes_personal_data",
    "vendor",
    "objective",
    "no_objective_reason",
)


@dataclass(frozen=True)
class LineItemInput:
    description: str
    quantity: Decimal
    unit_price: Decimal
    unit: str = "each"
    vendor_sku: str = ""
    vendor_url: str = ""


@dataclass(frozen=True)
class RequestInput:
    title: str
    justification: str
    department: Department
    cost_centre: CostCentre
    category: Category
    needed_by: object  # datetime.date; validated by the model
    currency: str
    line_items: Sequence[LineItemInput] = field(default_factory=list)
    processes_personal_data: bool = False
    vendor: Vendor | None = None
    objective: Objective | None = None
    no_objective_reason: str = ""


def _invalid(error: ValidationError, prefix: str = "") -> InvalidInput:
    fields: dict[str, list[str]] = {}
    if hasattr(error, "error_dict"):
        for name, errors in error.message_dict.items():
            key = name if name != "__all__" else "non_field_errors"
            fields[f"{prefix}{key}"] = list(errors)
    else:
        fields[prefix.rstrip(".") or "non_field_errors"] = list(error.messages)
    first = next(iter(fields.values()))[0]
    return InvalidInput(first, fields=fields)


def _check_request_fields(request: PurchaseRequest, data: RequestInput) -> None:
    errors: dict[str, list[str]] = {}
    if data.cost_centre.department_id != data.department.pk:
        errors["cost_centre"] = [
            f"Cost centre {data.cost_centre.code} does not belong to {data.department}."
        ]
    if not data.cost_centre.is_active:
        errors["cost_centre"] = [f"Cost centre {data.cost_centre.code} is closed."]
    if not data.category.is_active:
        errors["category"] = [f"Category {data.category} is no longer in use."]
    if data.vendor is not None:
        # Read afresh: the caller's instance may predate a block.
        data.vendor.refresh_from_db(fields=["state", "legal_name"])
        if not data.vendor.orderable:
            errors["vendor"] = [_unorderable(data.vendor)]
    objective_error = _objective_error(data.objective, data.department, data.no_objective_reason)
    if objective_error:
        errors.update(objective_error)
    if len(data.line_items) > MAX_LINE_ITEMS:
        errors["line_items"] = [f"A request can have at most {MAX_LINE_ITEMS} line items."]
    if errors:
        raise InvalidInput(next(iter(errors.values()))[0], fields=errors)
    try:
        # "state" is excluded: clean_fields() would assign it, and only transitions may.
        request.full_clean(exclude=["requester", "state"])
    except ValidationError as error:
        raise _invalid(error) from None


def _objective_error(
    objective: Objective | None, department: Department, reason: str
) -> dict[str, list[str]]:
    """What is wrong with the objective a request names (empty when nothing is)."""
    if objective is None:
        return {}
    if reason.strip():
        return {
            "no_objective_reason": [
                "Leave this empty: the request serves an objective. Clear the objective to give "
                "a reason instead."
            ]
        }
    if not objective.serves_department(department.pk):
        return {
            "objective": [
                f'"{objective.name}" is an objective of {objective.department}, not of '
                f"{department}. Choose one of your department's or a company-wide objective."
            ]
        }
    if not objective.is_open:
        return {
            "objective": [
                f'"{objective.name}" is {objective.get_status_display().lower()}; '
                "choose an open objective."
            ]
        }
    return {}


def _submit_checks(request: PurchaseRequest) -> None:
    """What only a submission needs: an objective or a reason, and an open fiscal year."""
    if request.objective_id is None and not request.no_objective_reason.strip():
        message = "Say which business objective this serves, or why it serves none."
        raise InvalidInput(
            message,
            fields={
                "objective": [message],
                "no_objective_reason": ["Give a reason when it serves no objective."],
            },
        )
    if request.objective is not None:
        problem = _objective_error(request.objective, request.department, "")
        if problem:
            raise InvalidInput(next(iter(problem.values()))[0], fields=problem)
    year = FiscalYear.containing(request.needed_by)
    if year is not None and year.is_closed:
        message = (
            f"{year} is closed: nothing more can be requested for it. Choose a date in an "
            "open fiscal year."
        )
        raise InvalidInput(message, fields={"needed_by": [message]})


def _replace_line_items(request: PurchaseRequest, items: Sequence[LineItemInput]) -> None:
    rows = [
        LineItem(
            request=request,
            position=position,
            description=item.description,
            quantity=item.quantity,
            unit=item.unit or "each",
            unit_price=item.unit_price,
            vendor_sku=item.vendor_sku,
            vendor_url=item.vendor_url,
        )
        for position, item in enumerate(items)
    ]
    for index, row in enumerate(rows):
        try:
            row.full_clean(exclude=["request"])
        except ValidationError as error:
            raise _invalid(error, prefix=f"line_items[{index}].") from None
    total = sum((line_amount(r.quantity, r.unit_price) for r in rows), Decimal("0.00"))
    # Each line fits its columns, yet their products can overflow the total's: refuse, not a 500.
    if total >= TOTAL_LIMIT:
        message = "The total of the line items is too large."
        raise InvalidInput(message, fields={"line_items": [message]})
    request.line_items.all().delete()
    LineItem.objects.bulk_create(rows)
    request.total = total


def purchase_request_line_items_replace(
    *, request: PurchaseRequest, items: Sequence[LineItemInput]
) -> None:
    """Validate and replace the line items of a request the caller has locked; sets (does not
    save) its total. For amendments by a higher app (approvals re-approval)."""
    _replace_line_items(request, items)


def purchase_request_create(
    *, requester: User, data: RequestInput, attachments: Sequence[UploadedFile] = ()
) -> PurchaseRequest:
    """Create a draft with its line items and attachments, all or nothing.

    The total is computed here from the line items.
    """
    request = PurchaseRequest(
        requester=requester,
        title=data.title,
        justification=data.justification,
        department=data.department,
        cost_centre=data.cost_centre,
        category=data.category,
        needed_by=data.needed_by,
        currency=data.currency,
        processes_personal_data=data.processes_personal_data,
        vendor=data.vendor,
        objective=data.objective,
        no_objective_reason=data.no_objective_reason.strip(),
    )
    _check_request_fields(request, data)
    with files_removed_on_error() as stored, transaction.atomic():
        request.save()
        _replace_line_items(request, data.line_items)
        request.save(update_fields=["total"])
        for upload in attachments:
            _add_attachment(request=request, by=requester, upload=upload, stored_files=stored)
        audit_record(target=request, actor=requester, action="created", to_state=RequestState.DRAFT)
    return request


def _lock_visible(*, request_id: int, user: User) -> PurchaseRequest:
    # Locked so that an edit and a submit (or two clicks) cannot interleave.
    request = (
        purchase_request_visible_to(user)
        .select_for_update(of=("self",))
        .select_related("requester", "department")
        .filter(pk=request_id)
        .first()
    )
    if request is None:
        raise NotFound("No such purchase request.")
    return request


def _require_editable(request: PurchaseRequest, user: User) -> None:
    require(
        user,
        "requests.change_purchaserequest",
        request,
        message="Only the requester can edit this request.",
    )
    if request.state != RequestState.DRAFT:
        raise Conflict(
            f"{request.reference} is {request.get_state_display().lower()}; "
            "only a draft can be edited."
        )


def purchase_request_update(
    *,
    request_id: int,
    by: User,
    data: RequestInput,
    attachments: Sequence[UploadedFile] = (),
    remove_attachment_ids: Sequence[int] = (),
) -> PurchaseRequest:
    """Replace a draft's fields and line items, under a row lock, all or nothing."""
    with files_removed_on_error() as stored, transaction.atomic():
        request = _lock_visible(request_id=request_id, user=by)
        _require_editable(request, by)
        for name in REQUEST_FIELDS:
            setattr(request, name, getattr(data, name))
        request.no_objective_reason = request.no_objective_reason.strip()
        _check_request_fields(request, data)
        _replace_line_items(request, data.line_items)
        request.version += 1
        request.save()
        if remove_attachment_ids:
            removed = list(request.attachments.filter(pk__in=remove_attachment_ids))
            for attachment in removed:
                attachment.delete()
            # Files go only once the rows are gone for good.
            names = [attachment.file.name for attachment in removed if attachment.file.name]
            transaction.on_commit(lambda: delete_files(names))
        for upload in attachments:
            _add_attachment(request=request, by=by, upload=upload, stored_files=stored)
    return request


def _add_attachment(
    *, request: PurchaseRequest, by: User, upload: UploadedFile, stored_files: list[str]
) -> Attachment:
    name = upload.name or "attachment"
    content_type = document_check(
        upload, field="attachments", limit=settings.ATTACHMENT_MAX_BYTES, noun="attachments"
    )
    if request.attachments.count() >= settings.ATTACHMENTS_PER_REQUEST:
        message = f"A request can have at most {settings.ATTACHMENTS_PER_REQUEST} attachments."
        raise InvalidInput(message, fields={"attachments": [message]})
    attachment = Attachment(
        request=request,
        filename=name[:255],
        content_type=content_type,
        size=upload.size or 0,
        uploaded_by=by,
    )
    attachment.file.save(name, upload, save=False)
    stored_files.append(str(attachment.file.name))
    attachment.save()
    return attachment


def purchase_request_add_attachment(
    *, request_id: int, by: User, upload: UploadedFile
) -> Attachment:
    """Attach a PDF or image to a draft (type sniffed from its bytes, size capped)."""
    with files_removed_on_error() as stored, transaction.atomic():
        request = _lock_visible(request_id=request_id, user=by)
        _require_editable(request, by)
        return _add_attachment(request=request, by=by, upload=upload, stored_files=stored)


# --- Transitions -----------------------------------------------------------


@dataclass(frozen=True)
class Action:
    method: str  # the django-fsm transition on PurchaseRequest
    label: str  # the button
    past: str  # for the timeline and messages
    comment_required: bool = False


ACTIONS: dict[str, Action] = {
    "submit": Action("submit", "Submit", "submitted"),
    "approve": Action("approve", "Approve", "approved"),
    "reject": Action("reject", "Reject", "rejected", comment_required=True),
    "return": Action(
        "return_for_changes", "Return for changes", "returned for changes", comment_required=True
    ),
    "revise": Action("revise", "Edit and resubmit", "reopened for editing"),
    "cancel": Action("cancel", "Cancel request", "cancelled"),
    "order": Action("mark_ordered", "Mark ordered", "marked ordered"),
    "receive": Action("mark_received", "Mark received", "marked received"),
    "close": Action("close", "Close", "closed"),
}

# A state change the requester should hear about by email.
NOTIFY_REQUESTER = {"approve", "reject", "return", "order", "cancel", "auto_approved"}
# The actions that are decisions on the request; with approvals installed, they decide a step.
DECISIONS = frozenset({"approve", "reject", "return"})


def purchase_request_transition(
    *, request_id: int, by: User, action: str, comment: str = ""
) -> PurchaseRequest:
    """Fire one transition for `by`, or raise a clear error and change nothing.

    Locks the row, re-checks visibility (404), permission (403), the current
    state (409) and conditions (400); saves the new state and its audit entry
    in one transaction; queues the requester's email on commit.
    """
    if action not in ACTIONS:
        raise InvalidInput(f"Unknown action {action!r}.")
    spec = ACTIONS[action]
    comment = comment.strip()
    if spec.comment_required and not comment:
        raise InvalidInput(
            f"A comment is required to {spec.label.lower()}.",
            fields={"comment": ["This field is required."]},
        )
    with transaction.atomic():
        request = _lock_visible(request_id=request_id, user=by)
        method = getattr(request, spec.method)
        meta = (
            method._django_fsm
        )  # django-fsm's own checks, taken one at a time to say which failed
        from_state = request.state
        if not meta.has_transition(from_state):
            raise Conflict(
                f"{request.reference} is {request.get_state_display().lower()}; "
                f"it cannot be {spec.past} now."
            )
        if not meta.has_transition_perm(request, from_state, by):
            # A second approver whose step was decided meanwhile hears who decided it (409).
            known = workflow.current().refusal(request, by) if action in DECISIONS else None
            raise known or NotAllowed(_refusal(action, request))
        if not meta.conditions_met(request, from_state):
            if action in ("submit", "order") and not vendor_is_orderable(request):
                assert request.vendor is not None
                raise Conflict(
                    _unorderable(request.vendor), fields={"vendor": [_unorderable(request.vendor)]}
                )
            if action == "submit":
                raise InvalidInput(
                    "Add at least one line item before submitting.",
                    fields={"line_items": ["Add at least one line item."]},
                )
            raise Conflict(f"{request.reference} cannot be {spec.past} now.")
        if action == "submit":
            try:
                validate_not_in_past(request.needed_by)
            except ValidationError as error:
                raise InvalidInput(
                    error.messages[0], fields={"needed_by": error.messages}
                ) from None
            _submit_checks(request)
        flow = workflow.current()
        if action in DECISIONS and flow.may_decide(request, by):
            # An approver's decision: the workflow records it and moves the request when it is final.
            flow.decide(request=request, by=by, action=action, comment=comment)
        else:
            purchase_request_apply(request=request, by=by, action=action, comment=comment)
    logger.info("%s %s by %s", request.reference, spec.past, by.username)
    return request


def purchase_request_apply(
    *,
    request: PurchaseRequest,
    by: User | None,
    action: str,
    comment: str = "",
    transition: str = "",
) -> AuditEntry:
    """Fire a transition on a request the caller has locked and checked; must run in its transaction.

    Saves the new state, appends the audit entry, queues the requester's email on commit
    and tells the installed workflow (which starts or closes the approval route). `action`
    names the entry; `transition` is the model method when it differs from ACTIONS[action].
    `by` is None for the system (an automatic approval). Only the columns the transition
    changes are written: any other change to `request` must be saved before.
    """
    method = getattr(request, transition or ACTIONS[action].method)
    from_state = request.state
    try:
        changed = _fields_changed_by(method, request)  # fires the transition
        # save(update_fields=changed), its UPDATE built once per set of columns, guarded by
        # the state as django-fsm's ConcurrentTransitionMixin guards it.
        prepared_save(request, update_fields=changed, where={"state": from_state})
    except (TransitionNotAllowed, ConcurrentTransition):
        # Another writer moved the state first (the row lock makes this rare; SQLite has none).
        raise Conflict(
            f"{request.reference} was changed by someone else; reload and try again."
        ) from None
    entry = audit_record(
        target=request,
        actor=by,
        action=action,
        from_state=from_state,
        to_state=request.state,
        comment=comment,
    )
    if action in NOTIFY_REQUESTER and (by is None or by.pk != request.requester_id):
        enqueue(notify_requester_of_transition, entry.pk)
    workflow.current().on_transition(request=request, by=by, action=action)
    return entry


def _fields_changed_by(transition: Callable[[], None], request: PurchaseRequest) -> list[str]:
    """Fire `transition` and name the columns it changed (the state; `submit` stamps
    submitted_at too), with updated_at: what the UPDATE then writes, rather than every
    column of the row. Callers hand over a request they locked and read (or saved), so no
    other column can differ from the row; the version column, which an edit bumps, is
    never written back from a stale copy. ~0.3 ms of Python less per transition (and a
    two-column UPDATE for PostgreSQL rather than twenty). The UPDATE is still guarded by the
    old state, as django-fsm's ConcurrentTransitionMixin guards it.
    """
    columns = [field.attname for field in PurchaseRequest._meta.concrete_fields]
    before = [getattr(request, column) for column in columns]
    transition()
    changed = [
        column
        for column, value in zip(columns, before, strict=True)
        if getattr(request, column) != value
    ]
    return [*changed, "updated_at"]


def _unorderable(vendor: Vendor) -> str:
    return (
        f"{vendor.legal_name} is {vendor.get_state_display().lower()}: "
        "nothing can be requested or ordered from it. Choose another vendor."
    )


def _refusal(action: str, request: PurchaseRequest) -> str:
    if action in ("submit", "revise"):
        return f"Only the requester can {ACTIONS[action].label.lower()} {request.reference}."
    if action in ("approve", "reject", "return"):
        return f"You are not an approver of {request.reference}."
    if action == "cancel":
        return f"Only the requester or procurement can cancel {request.reference}."
    return f"You are not allowed to do that to {request.reference}."


def purchase_request_submit(*, request_id: int, by: User) -> PurchaseRequest:
    return purchase_request_transition(request_id=request_id, by=by, action="submit")


def purchase_request_cancel(*, request_id: int, by: User, comment: str = "") -> PurchaseRequest:
    return purchase_request_transition(
        request_id=request_id, by=by, action="cancel", comment=comment
    )


def purchase_request_return(*, request_id: int, by: User, comment: str) -> PurchaseRequest:
    return purchase_request_transition(
        request_id=request_id, by=by, action="return", comment=comment
    )


# --- Comments --------------------------------------------------------------

MENTION = re.compile(r"(?<![\w.@])@([\w.+-]+)")


def comment_create(*, request_id: int, by: User, body: str) -> Comment:
    """Add a comment; each @username of an active user is recorded and emailed (on commit)."""
    body = body.strip()
    if not body:
        raise InvalidInput(
            "A comment cannot be empty.", fields={"body": ["This field is required."]}
        )
    if len(body) > 5000:
        raise InvalidInput(
            "A comment can be at most 5000 characters.",
            fields={"body": ["At most 5000 characters."]},
        )
    request = purchase_request_visible_to(by).filter(pk=request_id).first()
    if request is None:
        raise NotFound("No such purchase request.")
    names = {name.rstrip(".") for name in MENTION.findall(body)}
    mentioned: list[User] = []
    if names:
        same_name = reduce(operator.or_, (Q(username__iexact=name) for name in names))
        mentioned = list(User.objects.filter(same_name, is_active=True).exclude(pk=by.pk))
    with transaction.atomic():
        comment = Comment.objects.create(request=request, author=by, body=body)
        comment.mentions.set(mentioned)
        if mentioned:
            enqueue(notify_mentions, comment.pk)
    return comment
