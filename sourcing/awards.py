"""The award: procurement picks the winning quote of a closed RFQ; above the walk-away price
the award waits for an extra approval by the policy's role; once approved the RFQ is
awarded, the saving recorded, the vendors told and the draft purchase order created, all in
one transaction (emails on commit).

Every service locks the RFQ row first (then the award), re-checks who may act, moves state
only through the models' transitions, and audits on the RFQ and the award in the same
transaction.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from procurement.errors import Conflict, InvalidInput, NotAllowed, NotFound
from procurement.models import Role, User
from procurement.money import to_base_currency
from procurement.outbox import enqueue
from procurement.permissions import allowed
from procurement.services import audit_record, email_send_once
from requests.models import RequestState
from sourcing.access import may_source
from sourcing.benchmarks import benchmark_median_total, rfq_benchmarks
from sourcing.models import (
    Award,
    AwardState,
    Invitation,
    Quote,
    Rfq,
    RfqState,
    Saving,
    SavingsBaseline,
)
from sourcing.negotiation import counter_offers_withdraw_for_award
from sourcing.scoring import in_rfq_currency, rfq_evaluation, role_label

COMMENT_MAX = 5000
JUSTIFICATION_MAX = 10_000


def _purchase_order_create(*, award_id: int, by: User) -> None:
    """Helper C's service creates the draft PO from the approved award (imported here so
    each part loads alone; a test may replace this one function)."""
    from sourcing.orders import po_create_from_award

    po_create_from_award(award_id=award_id, by=by)


def _money(amount: Decimal, currency: str) -> str:
    return f"{amount:,.2f} {currency}"


def _lock_rfq(rfq_id: int) -> Rfq:
    rfq = Rfq.objects.select_for_update().select_related("request").filter(pk=rfq_id).first()
    if rfq is None:
        raise NotFound("No such RFQ.")
    return rfq


def _check_orderable(rfq: Rfq, quote: Quote) -> None:
    request = rfq.request
    if request.state != RequestState.APPROVED:
        raise Conflict(
            f"Request {request.reference} is {request.get_state_display().lower()}, not "
            "approved: an RFQ opened before approval cannot be awarded until the request is "
            "approved."
        )
    vendor = quote.invitation.vendor
    if not vendor.orderable:
        raise Conflict(
            f"{vendor} is {vendor.get_state_display().lower()}: nothing may be ordered from it."
        )


def award_make(*, rfq_id: int, by: User, quote_id: int, justification: str = "") -> Award:
    """Award `rfq_id` to one of its current quotes.

    Refused unless: `by` may source; the RFQ is closed for evaluation; the quote is a current
    quote of this RFQ; the request is approved and the vendor orderable (409). A written
    justification is required (400 naming `justification`) when the quote is not ranked
    first, when its TCO is above walk-away, or when fewer quotes came in than the policy
    requires. Open counter-offers are withdrawn (audited). The rank and score are frozen on
    the award. Above walk-away the award waits for approval by the policy's
    walk_away_approver_role (its holders emailed on commit); otherwise it is approved at once
    and completed (see `_award_complete`). One transaction, the RFQ row locked."""
    if not may_source(by):
        raise NotAllowed("Only procurement awards RFQs.")
    justification = (justification or "").strip()
    if len(justification) > JUSTIFICATION_MAX:
        raise InvalidInput(
            "The justification is too long.",
            fields={"justification": [f"At most {JUSTIFICATION_MAX:,} characters."]},
        )
    with transaction.atomic():
        rfq = _lock_rfq(rfq_id)
        if rfq.state != RfqState.CLOSED:
            raise Conflict(
                f"{rfq.reference} is {rfq.get_state_display().lower()}: only an RFQ closed for "
                "evaluation can be awarded."
            )
        if rfq.walk_away_price is None or rfq.target_price is None:
            # The pages and the API refuse to show quotes then; the service refuses too, or an
            # award could skip the walk-away check (and its extra approval) altogether.
            raise Conflict(
                f"{rfq.reference} has no target and walk-away prices: they are set before "
                "quotes are seen, and an award is checked against them."
            )
        quote = (
            Quote.objects.select_related("invitation__vendor")
            .filter(
                pk=quote_id,
                invitation__rfq=rfq,
                superseded_at__isnull=True,
                invitation__declined_at__isnull=True,
            )
            .first()
        )
        if quote is None:
            raise InvalidInput(
                "That is not a current quote of this RFQ.",
                fields={"quote": ["Choose one of the current quotes."]},
            )
        _check_orderable(rfq, quote)
        evaluation = rfq_evaluation(rfq=rfq)
        column = evaluation.column_for_quote(quote.pk)
        assert column is not None  # a current quote of a vendor who did not decline
        reasons = evaluation.justification_reasons(column)
        if reasons and not justification:
            raise InvalidInput(
                "A written justification is required: " + " ".join(reasons),
                fields={"justification": reasons},
            )
        counter_offers_withdraw_for_award(rfq=rfq, by=by)
        pending = column.above_walk_away
        award = Award.objects.create(
            rfq=rfq,
            quote=quote,
            justification=justification,
            rank=column.rank,
            score=column.total_score,
            above_walk_away=column.above_walk_away,
            approver_role=evaluation.walk_away_approver_role if pending else "",
            state=AwardState.PENDING_APPROVAL if pending else AwardState.APPROVED,
            awarded_by=by,
        )
        summary = (
            f"To {quote.invitation.vendor}, rank {column.rank} ({column.total_score} points), "
            f"TCO {_money(quote.tco_in_rfq_currency, rfq.currency)}"
        )
        audit_record(
            target=award,
            actor=by,
            action="award_made",
            to_state=award.state,
            comment=summary + (f". Justification: {justification}" if justification else ""),
        )
        if pending:
            rfq.await_award_approval()
            rfq.save()
            audit_record(
                target=rfq,
                actor=by,
                action="award_pending_approval",
                from_state=RfqState.CLOSED,
                to_state=RfqState.AWARD_PENDING,
                comment=f"{summary}: above the walk-away price "
                f"{_money(rfq.walk_away_price or Decimal(0), rfq.currency)}, needs approval by "
                f"{role_label(award.approver_role)}. Justification: {justification}",
            )
            from sourcing.evaluation_tasks import notify_award_approval_needed

            enqueue(notify_award_approval_needed, award.pk)
        else:
            _award_complete(award=award, rfq=rfq, by=by, summary=summary)
    return award


def _award_complete(*, award: Award, rfq: Rfq, by: User, summary: str) -> None:
    """The approved award takes effect, inside the caller's transaction (RFQ locked): the
    RFQ is awarded, the saving recorded, the draft PO created (by the awarder, or the
    approver of an award above walk-away) and the winner and the losing vendors emailed on
    commit."""
    from_state = rfq.state
    rfq.mark_awarded()
    rfq.save()
    audit_record(
        target=rfq,
        actor=by,
        action="awarded",
        from_state=from_state,
        to_state=RfqState.AWARDED,
        comment=summary,
    )
    saving_record(award=award)
    _purchase_order_create(award_id=award.pk, by=by)
    from sourcing.evaluation_tasks import notify_award_outcome

    enqueue(notify_award_outcome, award.pk)


def _lock_award(award_id: int) -> tuple[Award, Rfq]:
    rfq_id = Award.objects.filter(pk=award_id).values_list("rfq_id", flat=True).first()
    if rfq_id is None:
        raise NotFound("No such award.")
    rfq = _lock_rfq(rfq_id)
    award = (
        Award.objects.select_for_update()
        .select_related("quote__invitation__vendor", "awarded_by")
        .get(pk=award_id)
    )
    return award, rfq


def _check_decider(award: Award, by: User) -> None:
    if not allowed(by, "sourcing.decide_award", award):
        raise NotAllowed(
            f"Only a holder of the {role_label(award.approver_role)} role other than "
            f"{award.awarded_by}, who made the award, may decide it."
        )


def _check_pending(award: Award) -> None:
    if award.state != AwardState.PENDING_APPROVAL:
        raise Conflict(f"This award was already decided: {award.get_state_display().lower()}.")


def award_approve(*, award_id: int, by: User, comment: str = "") -> Award:
    """Approve an award above walk-away: `by` must hold the award's approver role and not be
    the awarder (403 saying who may). The award takes effect as in `award_make` (RFQ awarded,
    saving, PO, emails). One transaction, the RFQ and the award locked."""
    comment = (comment or "").strip()[:COMMENT_MAX]
    with transaction.atomic():
        award, rfq = _lock_award(award_id)
        _check_decider(award, by)
        _check_pending(award)
        _check_orderable(rfq, award.quote)
        award.approve()
        award.decided_by = by
        award.decision_comment = comment
        award.save()
        audit_record(
            target=award,
            actor=by,
            action="award_approved",
            from_state=AwardState.PENDING_APPROVAL,
            to_state=AwardState.APPROVED,
            comment=comment,
        )
        quote = award.quote
        summary = (
            f"To {quote.invitation.vendor}, approved by {by} above walk-away, TCO "
            f"{_money(quote.tco_in_rfq_currency, rfq.currency)}"
        )
        _award_complete(award=award, rfq=rfq, by=by, summary=summary)
    return award


def award_refuse(*, award_id: int, by: User, comment: str) -> Award:
    """Refuse an award above walk-away (a comment is required): the RFQ goes back to closed
    for evaluation, so procurement may negotiate, re-source or award again."""
    comment = (comment or "").strip()
    if not comment:
        raise InvalidInput(
            "Say why the award is refused.", fields={"comment": ["Say why you refuse it."]}
        )
    if len(comment) > COMMENT_MAX:
        raise InvalidInput(
            "The comment is too long.", fields={"comment": [f"At most {COMMENT_MAX:,} characters."]}
        )
    with transaction.atomic():
        award, rfq = _lock_award(award_id)
        _check_decider(award, by)
        _check_pending(award)
        award.refuse()
        award.decided_by = by
        award.decision_comment = comment
        award.save()
        audit_record(
            target=award,
            actor=by,
            action="award_refused",
            from_state=AwardState.PENDING_APPROVAL,
            to_state=AwardState.REFUSED,
            comment=comment,
        )
        rfq.award_refused()
        rfq.save()
        audit_record(
            target=rfq,
            actor=by,
            action="award_refused",
            from_state=RfqState.AWARD_PENDING,
            to_state=RfqState.CLOSED,
            comment=f"Award to {award.quote.invitation.vendor} refused: {comment}",
        )
    return award


# --- Savings ----------------------------------------------------------------------------


def saving_record(*, award: Award) -> Saving:
    """What the approved `award` saved, recorded once (idempotent per award).

    Baseline by settings.SOURCING_SAVINGS_BASELINE: "first_quote" = the winning vendor's
    first quote (revision 1) TCO; "benchmark" = Σ benchmark median unit price x quantity x
    periods over the term + the final quote's implementation and support over the term,
    falling back to the first quote (and recorded so) when a line has no benchmark. Final =
    the awarded quote's TCO. Amounts in the RFQ's currency and, at the award date's rate,
    in the base currency (a missing rate is a 400: never guessed)."""
    existing = Saving.objects.filter(award=award).first()
    if existing is not None:
        return existing
    quote = Quote.objects.select_related("invitation__vendor", "invitation__rfq__request").get(
        pk=award.quote_id
    )
    rfq = quote.invitation.rfq
    first = (
        Quote.objects.filter(invitation_id=quote.invitation_id)
        .order_by("revision")
        .values_list("tco_in_rfq_currency", flat=True)
        .first()
    )
    final = quote.tco_in_rfq_currency
    kind = SavingsBaseline.FIRST_QUOTE
    baseline = first if first is not None else final
    if settings.SOURCING_SAVINGS_BASELINE == SavingsBaseline.BENCHMARK:
        median_total = benchmark_median_total(rfq=rfq, benchmarks=rfq_benchmarks(rfq=rfq))
        if median_total is not None:
            support = quote.support_cost_per_year * Decimal(rfq.term_months) / Decimal(12)
            baseline = (
                median_total
                + in_rfq_currency(quote.implementation_cost, quote)
                + in_rfq_currency(support, quote)
            )
            kind = SavingsBaseline.BENCHMARK
    on = timezone.localdate(award.awarded_at) if award.awarded_at else timezone.localdate()
    baseline_base = to_base_currency(baseline, rfq.currency, on=on)
    final_base = to_base_currency(final, rfq.currency, on=on)
    request = rfq.request
    return Saving.objects.create(
        award=award,
        baseline_kind=kind,
        currency=rfq.currency,
        baseline_amount=baseline,
        final_amount=final,
        baseline_base=baseline_base,
        final_base=final_base,
        saved_base=baseline_base - final_base,
        category=request.category,
        department=request.department,
        vendor=quote.invitation.vendor,
        recorded_on=timezone.localdate(),
    )


# --- Reading awards -----------------------------------------------------------------------


def award_may_view(user: User, award: Award) -> bool:
    return allowed(user, "sourcing.view_award", award)


def award_may_decide(user: User, award: Award) -> bool:
    return award.state == AwardState.PENDING_APPROVAL and allowed(
        user, "sourcing.decide_award", award
    )


def award_get(*, award_id: int, user: User) -> Award | None:
    """The award if `user` may see it (sourcing readers, holders of its approver role)."""
    award = (
        Award.objects.select_related(
            "rfq__request", "quote__invitation__vendor", "awarded_by", "decided_by"
        )
        .filter(pk=award_id)
        .first()
    )
    if award is None or not award_may_view(user, award):
        return None
    return award


def award_pending_for_rfq(*, rfq: Rfq) -> Award | None:
    return rfq.awards.filter(state=AwardState.PENDING_APPROVAL).first()


def award_url(award: Award) -> str:
    return settings.SITE_URL + reverse("evaluation:award-detail", args=[award.pk])


# --- Emails -------------------------------------------------------------------------------


def _role_holders(role: str, *, excluding_id: int) -> list[User]:
    holders = Q(roles__role=role)
    if role == Role.ADMIN:
        holders |= Q(is_superuser=True)
    return list(
        User.objects.filter(holders, is_active=True)
        .exclude(pk=excluding_id)
        .exclude(email="")
        .distinct()
        .order_by("pk")
    )


def award_approval_needed_emails(*, award_id: int) -> int:
    """Ask every active holder of the approver role (but the awarder) to decide the award,
    once per person. Returns how many were sent."""
    award = Award.objects.select_related(
        "rfq__request", "quote__invitation__vendor", "awarded_by"
    ).get(pk=award_id)
    if award.state != AwardState.PENDING_APPROVAL:
        return 0  # decided before the worker got here
    sent = 0
    for person in _role_holders(award.approver_role, excluding_id=award.awarded_by_id):
        sent += email_send_once(
            key=f"award-approval-needed:{award.pk}:{person.pk}",
            to=person.email,
            template="award_approval_needed",
            context={
                "recipient": person,
                "award": award,
                "rfq": award.rfq,
                "vendor": award.quote.invitation.vendor,
                "quote": award.quote,
                "role": role_label(award.approver_role),
                "url": award_url(award),
            },
        )
    return sent


def award_outcome_emails(*, award_id: int) -> int:
    """Tell the winner it is awarded (a purchase order follows) and every other vendor that
    quoted (and did not decline) that it is not, without anyone's prices. Once each."""
    award = Award.objects.select_related("rfq", "quote__invitation__vendor").get(pk=award_id)
    if award.state != AwardState.APPROVED:
        return 0
    rfq = award.rfq
    winner = award.quote.invitation
    sent = int(
        email_send_once(
            key=f"rfq-awarded:{award.pk}",
            to=winner.contact_email,
            template="rfq_awarded",
            context={
                "rfq": rfq,
                "invitation": winner,
                "vendor": winner.vendor,
                "quote": award.quote,
            },
        )
    )
    losers = (
        Invitation.objects.filter(rfq=rfq, declined_at__isnull=True, quotes__isnull=False)
        .exclude(pk=winner.pk)
        .select_related("vendor")
        .distinct()
        .order_by("pk")
    )
    for invitation in losers:
        sent += email_send_once(
            key=f"rfq-not-awarded:{award.pk}:{invitation.pk}",
            to=invitation.contact_email,
            template="rfq_not_awarded",
            context={"rfq": rfq, "invitation": invitation, "vendor": invitation.vendor},
        )
    return sent
