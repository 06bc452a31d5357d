"""The approvals inbox: what waits for a user, how long it has waited, which items are low risk,
and bulk approval of those.

Low risk (may be approved in bulk, from the inbox): the total in the base currency is below
settings.APPROVAL_BULK_MAX_TOTAL and the request is neither software nor processes personal
data. Everything else is decided one at a time, on the request page, the API or an email link.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.db import connections
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.timesince import timesince
from django_fsm import ConcurrentTransition

from approvals.models import ApprovalStep, Decision, StepApprover, StepState
from approvals.selectors import approval_inbox
from approvals.services import approval_step_decide
from procurement.errors import ApplicationError
from procurement.models import ExchangeRate, User
from requests.models import PurchaseRequest

logger = logging.getLogger(__name__)

CENT = Decimal("0.01")


@dataclass(frozen=True)
class InboxItem:
    assignment: StepApprover
    total_in_base: Decimal | None  # None: no exchange rate is known, so it is not low risk
    low_risk: bool
    pending_since: dt.datetime | None
    age: str  # "3 days"

    @property
    def step_id(self) -> int:
        return self.assignment.step_id

    @property
    def request(self) -> PurchaseRequest:
        return self.assignment.step.request


def _sensitive(request: PurchaseRequest) -> bool:
    # The same test the routing rule "software or personal data" applies (approvals.conditions).
    return request.category.code == "software" or request.processes_personal_data


def _totals_in_base(requests: Iterable[PurchaseRequest]) -> dict[int, Decimal | None]:
    """Each request's total in the base currency, with one query for all of them.

    procurement.money.to_base_currency does the same for one amount with one query; the inbox
    converts a whole page, so it loads the rates of the currencies on it at once instead.
    """
    requests = list(requests)
    foreign = {r.currency for r in requests if r.currency != settings.BASE_CURRENCY}
    rates: dict[str, list[tuple[dt.date, Decimal]]] = defaultdict(list)
    if foreign:
        for currency, valid_from, rate in ExchangeRate.objects.filter(
            currency__in=foreign
        ).values_list("currency", "valid_from", "rate"):
            rates[currency].append((valid_from, rate))
    totals: dict[int, Decimal | None] = {}
    for request in requests:
        if request.currency == settings.BASE_CURRENCY:
            totals[request.pk] = request.total
            continue
        # The rate of the day the request was submitted, as routing used (RequestFacts.of).
        on = (request.submitted_at or timezone.now()).date()
        valid = [
            (valid_from, rate) for valid_from, rate in rates[request.currency] if valid_from <= on
        ]
        if not valid:
            totals[request.pk] = None
            continue
        rate = max(valid)[1]
        totals[request.pk] = (request.total * rate).quantize(CENT, rounding=ROUND_HALF_UP)
    return totals


def _age(since: dt.datetime | None, now: dt.datetime) -> str:
    """ "3 days", "5 hours": the largest unit only, which is what an approver scans for."""
    if since is None:
        return ""
    if now - since < dt.timedelta(minutes=1):
        return "under a minute"
    # timesince joins with a no-break space; the API wants a plain one.
    return timesince(since, now, depth=1).replace("\xa0", " ")


def _is_low_risk(request: PurchaseRequest, total_in_base: Decimal | None) -> bool:
    limit = Decimal(settings.APPROVAL_BULK_MAX_TOTAL)
    return total_in_base is not None and total_in_base < limit and not _sensitive(request)


def approval_inbox_rows(*, user: User) -> QuerySet[StepApprover]:
    """approvals.selectors.approval_inbox with everything a row shows loaded in the same query."""
    return approval_inbox(user=user).select_related("step__request__cost_centre")


def inbox_items(
    assignments: Iterable[StepApprover], *, now: dt.datetime | None = None
) -> list[InboxItem]:
    """Rows of the inbox (one page of them, in the API) with their ages and risk.

    One query, for the exchange rates, however many rows.
    """
    now = now or timezone.now()
    assignments = list(assignments)
    totals = _totals_in_base(a.step.request for a in assignments)
    items = []
    for assignment in assignments:
        request = assignment.step.request
        since = assignment.step.activated_at
        items.append(
            InboxItem(
                assignment=assignment,
                total_in_base=totals[request.pk],
                low_risk=_is_low_risk(request, totals[request.pk]),
                pending_since=since,
                age=_age(since, now),
            )
        )
    return items


def approval_inbox_items(*, user: User) -> list[InboxItem]:
    """Everything waiting for `user`, oldest first: two queries however long the list."""
    return inbox_items(approval_inbox_rows(user=user))


def _inbox_count_sql() -> str:
    assignment, step = StepApprover._meta, ApprovalStep._meta
    return (
        f'SELECT COUNT(*) FROM "{assignment.db_table}" a '  # noqa: S608 (the models' own names)
        f'JOIN "{step.db_table}" s ON s."id" = a."step_id" '
        'WHERE a."approver_id" = %s AND a."decision" = %s AND s."state" = %s'
    )


_INBOX_COUNT_SQL = _inbox_count_sql()


def approval_inbox_count(*, user: User) -> int:
    """How many items approval_inbox(user) holds: the navigation's "Approvals (N)".

    Plain SQL because it runs on every signed-in page: through the ORM (a queryset of five
    select_related, cloned and stripped for the COUNT) it cost 1.3 ms of Python per page,
    against 0.14 ms (bench/web). test_inbox_page holds the two equal.
    """
    with connections[StepApprover.objects.db].cursor() as cursor:
        cursor.execute(_INBOX_COUNT_SQL, [user.pk, Decision.PENDING, StepState.PENDING])
        (count,) = cursor.fetchone()
    return int(count)


@dataclass(frozen=True)
class BulkOutcome:
    step_id: int
    reference: str  # "PR-000042", or "" for a step that is not in the caller's inbox
    step_name: str
    approved: bool
    message: str


def approval_bulk_approve(*, by: User, step_ids: Iterable[int]) -> list[BulkOutcome]:
    """Approve each of `step_ids` for `by`, if it is a low-risk item of `by`'s inbox.

    Low risk is decided here, from the database, never from what the form offered: an id forged
    into the POST for a large or sensitive request, or for someone else's step, is refused.
    Each approval is its own transaction (approval_step_decide), so one refusal does not undo
    the others; each is bound to the request version seen here, so a request that changed in
    between is refused rather than approved unseen.
    """
    wanted = list(dict.fromkeys(step_ids))  # once each, in the order given
    items = {item.step_id: item for item in approval_inbox_items(user=by)}
    outcomes = []
    for step_id in wanted:
        item = items.get(step_id)
        if item is None:
            outcomes.append(
                BulkOutcome(
                    step_id=step_id,
                    reference="",
                    step_name="",
                    approved=False,
                    message="This step is not waiting for your decision.",
                )
            )
            continue
        request = item.request
        step_name = item.assignment.step.name
        if not item.low_risk:
            outcomes.append(
                BulkOutcome(
                    step_id=step_id,
                    reference=request.reference,
                    step_name=step_name,
                    approved=False,
                    message="Not low risk: open the request and decide it on its own.",
                )
            )
            continue
        try:
            approval_step_decide(
                step_id=step_id, by=by, action="approve", request_version=request.version
            )
        except (ApplicationError, ConcurrentTransition) as error:
            message = (
                error.message
                if isinstance(error, ApplicationError)
                else "Someone else changed this step at the same time; reload and try again."
            )
            outcomes.append(
                BulkOutcome(
                    step_id=step_id,
                    reference=request.reference,
                    step_name=step_name,
                    approved=False,
                    message=message,
                )
            )
            continue
        logger.info("%s step %s approved in bulk by %s", request.reference, step_id, by.username)
        outcomes.append(
            BulkOutcome(
                step_id=step_id,
                reference=request.reference,
                step_name=step_name,
                approved=True,
                message="Approved.",
            )
        )
    return outcomes
