"""The comparison matrix of a closed RFQ: each current quote priced in the RFQ's currency,
scored per criterion by the formulas shown on the page, weighted and ranked.

Reads only (a selector): the award freezes what it saw (rank and score on the Award), the
page and the API show the same `Evaluation`. Every figure a user reads can be recomputed
from the other figures on the page:

- a score is rounded to the cent once; points = weight x score / 100, rounded to the cent;
  the total score is the sum of the points shown;
- rank: the higher total score first, ties to the lower TCO, then to the earlier quote.

`criterion_score_set` is the one write: an evaluator's score on a custom criterion.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.db import transaction
from django.db.models import Max, Q
from django.utils import timezone

from procurement.errors import Conflict, InvalidInput, NotAllowed, NotFound
from procurement.models import Role, User
from procurement.money import CENT
from procurement.services import audit_record
from sourcing.access import may_source
from sourcing.models import (
    HUNDRED,
    ZERO,
    Criterion,
    CriterionKind,
    CriterionScore,
    Invitation,
    Invoice,
    InvoiceState,
    PoState,
    PurchaseOrder,
    Quote,
    QuoteLine,
    Rfq,
    RfqLine,
    RfqState,
)

ONE = Decimal(1)
# The neutral score of a vendor the platform has no orders or invoices of.
NO_HISTORY_SCORE = Decimal(50)
# Risk tier -> score; a vendor never assessed gets NOT_ASSESSED_SCORE.
RISK_SCORES = {"low": Decimal(100), "medium": Decimal(70), "high": Decimal(40), "critical": ZERO}
NOT_ASSESSED_SCORE = Decimal(30)
# Past performance reads at most this many of a vendor's latest orders and invoices each.
HISTORY_MAX = 200

FORMULAS = {
    CriterionKind.TCO: "TCO score = 100 x lowest TCO / this quote's TCO (the cheapest scores 100).",
    CriterionKind.DELIVERY: (
        "Delivery score = 100 x fastest delivery (days) / this quote's delivery (days); "
        "0 days counts as 1."
    ),
    CriterionKind.RISK: (
        "Risk score by the vendor's risk tier: low 100, medium 70, high 40, critical 0, "
        "not assessed 30."
    ),
    CriterionKind.PERFORMANCE: (
        "Past performance = 100 x (earlier purchase orders received in full by their delivery "
        "date + invoices matched without a hold) / (earlier purchase orders due + invoices "
        "matched or held), from orders outside this RFQ; no history = neutral 50."
    ),
    CriterionKind.CUSTOM: "Scored 0-100 by the evaluators; not yet scored counts as 0.",
}
POINTS_FORMULA = (
    "Points = weight x score / 100; total score = sum of the points; rank by total score, "
    "ties to the lower TCO, then to the earlier quote."
)
PRICES_FORMULA = (
    "Prices are in the RFQ's currency: a quote in another currency is converted at the rate "
    "stored with it (1 quote currency = rate x RFQ currency). TCO over the term = Σ quantity x "
    "unit price x periods paid over the term + implementation + support per year x term in years."
)


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


# --- What the matrix holds ----------------------------------------------------------------


@dataclass
class LinePrice:
    rfq_line: RfqLine
    # As quoted, in the quote's currency.
    quoted_unit_price: Decimal
    # In the RFQ's currency (quoted x the quote's exchange rate, to the cent).
    unit_price: Decimal
    line_total: Decimal  # quantity x unit price (one period)
    note: str = ""


@dataclass
class CriterionResult:
    criterion: Criterion
    raw: str  # the value the score comes from, as the page shows it
    score: Decimal  # 0-100
    points: Decimal  # weight x score / 100
    note: str = ""  # "no history (neutral 50)", "not yet scored", ...
    raw_value: Decimal | None = None


@dataclass
class Column:
    """One vendor's current quote, as the matrix shows it."""

    invitation: Invitation
    quote: Quote
    lines: list[LinePrice]
    lines_total: Decimal  # one period of every line, RFQ currency
    implementation: Decimal  # RFQ currency
    support_over_term: Decimal  # RFQ currency
    tco: Decimal  # over the term, RFQ currency (stored with the quote)
    criteria: list[CriterionResult] = field(default_factory=list)
    total_score: Decimal = ZERO
    rank: int = 0
    above_walk_away: bool = False

    @property
    def vendor(self) -> object:
        return self.invitation.vendor

    @property
    def is_prospect(self) -> bool:
        return self.invitation.is_prospect

    @property
    def converted(self) -> bool:
        return self.quote.currency != self.invitation.rfq.currency

    def line_price(self, rfq_line_id: int) -> LinePrice | None:
        return next((p for p in self.lines if p.rfq_line.pk == rfq_line_id), None)


@dataclass
class Evaluation:
    rfq: Rfq
    lines: list[RfqLine]
    criteria: list[Criterion]
    # Ranked: the first column is rank 1.
    columns: list[Column]
    formulas: list[tuple[str, str]]  # (criterion name, formula text), then points and prices
    target_price: Decimal | None
    walk_away_price: Decimal | None
    best: Column | None  # the lowest TCO
    # "above_walk_away", "negotiate", "within_target", or "" (no quote or no prices set).
    flag: str
    recommendation: str
    walk_away_approver_role: str
    walk_away_approver_label: str
    quotes_required: int
    weights_total: Decimal

    @property
    def top(self) -> Column | None:
        return self.columns[0] if self.columns else None

    @property
    def too_few_quotes(self) -> bool:
        return self.quotes_required > 0 and len(self.columns) < self.quotes_required

    def column_for_quote(self, quote_id: int) -> Column | None:
        return next((c for c in self.columns if c.quote.pk == quote_id), None)

    def column_for_invitation(self, invitation_id: int) -> Column | None:
        return next((c for c in self.columns if c.invitation.pk == invitation_id), None)

    def justification_reasons(self, column: Column) -> list[str]:
        """Why awarding `column` needs a written justification (empty: it does not)."""
        reasons = []
        if column.rank != 1:
            reasons.append(
                f"{column.invitation.vendor} is ranked {column.rank}, not first: say why it wins."
            )
        if column.above_walk_away:
            reasons.append(
                f"Its TCO {column.tco:,} {self.rfq.currency} is above the walk-away price "
                f"{self.walk_away_price:,} {self.rfq.currency}: justify it (it also needs "
                f"approval by {self.walk_away_approver_label})."
            )
        if self.too_few_quotes:
            reasons.append(
                f"Only {len(self.columns)} of the {self.quotes_required} quotes the policy "
                "requires were received: say why awarding now is right."
            )
        return reasons


# --- Helpers other parts of this module share ---------------------------------------------


def walk_away_approver_role() -> str:
    """The role that approves an award above walk-away: the active policy's, else Finance
    (the policy's default)."""
    from approvals.models import ApprovalPolicy

    role = (
        ApprovalPolicy.objects.filter(is_active=True)
        .values_list("walk_away_approver_role", flat=True)
        .first()
    )
    return role or Role.FINANCE


def role_label(role: str) -> str:
    return str(dict(Role.choices).get(role, role))


def current_quotes(rfq: Rfq) -> list[Quote]:
    """The current quote of every invited vendor that has one and has not declined."""
    return list(
        Quote.objects.filter(
            invitation__rfq=rfq, superseded_at__isnull=True, invitation__declined_at__isnull=True
        )
        .select_related("invitation__vendor", "invitation__rfq")
        .prefetch_related("lines")
        .order_by("submitted_at", "id")
    )


def in_rfq_currency(amount: Decimal, quote: Quote) -> Decimal:
    """`amount` of `quote`'s currency in the RFQ's, at the rate stored with the quote."""
    if quote.currency == quote.invitation.rfq.currency:
        return cents(amount)
    return cents(amount * quote.exchange_rate)


def _price_lines(rfq: Rfq, lines: list[RfqLine], quote: Quote) -> Column:
    by_line: dict[int, QuoteLine] = {ql.rfq_line_id: ql for ql in quote.lines.all()}
    priced = []
    for line in lines:
        quote_line = by_line.get(line.pk)
        if quote_line is None:
            # A line added after the quote: shown as missing, not as free.
            priced.append(LinePrice(line, ZERO, ZERO, ZERO, note="not quoted"))
            continue
        unit = in_rfq_currency(quote_line.unit_price, quote)
        priced.append(
            LinePrice(
                line, quote_line.unit_price, unit, cents(line.quantity * unit), quote_line.note
            )
        )
    support = quote.support_cost_per_year * Decimal(rfq.term_months) / Decimal(12)
    return Column(
        invitation=quote.invitation,
        quote=quote,
        lines=priced,
        lines_total=sum((p.line_total for p in priced), ZERO),
        implementation=in_rfq_currency(quote.implementation_cost, quote),
        support_over_term=in_rfq_currency(support, quote),
        tco=quote.tco_in_rfq_currency,
    )


# --- Scores per criterion ------------------------------------------------------------------


@dataclass(frozen=True)
class History:
    orders_due: int
    orders_on_time: int
    invoices: int
    invoices_clean: int

    @property
    def total(self) -> int:
        return self.orders_due + self.invoices

    @property
    def good(self) -> int:
        return self.orders_on_time + self.invoices_clean


def vendor_history(*, vendor_id: int, excluding_rfq_id: int | None, today: dt.date) -> History:
    """The vendor's record on the platform: earlier purchase orders (not of this RFQ) that
    were due, how many were received in full by their delivery date, and its invoices that
    went through the 3-way match, how many matched without ever being held. Bounded to the
    latest HISTORY_MAX orders and invoices."""
    from django.contrib.contenttypes.models import ContentType

    from procurement.models import AuditEntry

    orders = PurchaseOrder.objects.filter(vendor_id=vendor_id, delivery_date__isnull=False).exclude(
        state__in=[PoState.DRAFT, PoState.CANCELLED]
    )
    if excluding_rfq_id is not None:
        orders = orders.exclude(award__rfq_id=excluding_rfq_id)
    orders_due = orders_on_time = 0
    rows = (
        orders.annotate(last_received=Max("receipts__received_on"))
        .order_by("-created_at", "-id")
        .values_list("state", "delivery_date", "last_received")[:HISTORY_MAX]
    )
    for state, delivery_date, last_received in rows:
        complete = state in (PoState.RECEIVED, PoState.CLOSED)
        if not complete and delivery_date >= today:
            continue  # not due yet: neither a success nor a failure
        orders_due += 1
        if complete and last_received is not None and last_received <= delivery_date:
            orders_on_time += 1
    invoices = Invoice.objects.filter(vendor_id=vendor_id).exclude(state=InvoiceState.RECORDED)
    if excluding_rfq_id is not None:
        invoices = invoices.exclude(po__award__rfq_id=excluding_rfq_id)
    invoice_rows = list(
        invoices.order_by("-recorded_at", "-id").values_list("pk", "state", "hold_reasons")[
            :HISTORY_MAX
        ]
    )
    # A held invoice matched later on (after a receipt) was still held once: not clean.
    held_once = set(
        AuditEntry.objects.filter(
            content_type=ContentType.objects.get_for_model(Invoice),
            object_id__in=[pk for pk, _, _ in invoice_rows],
            to_state=InvoiceState.ON_HOLD,
        ).values_list("object_id", flat=True)
    )
    clean = sum(
        1
        for pk, state, reasons in invoice_rows
        if state == InvoiceState.MATCHED and not reasons and pk not in held_once
    )
    return History(orders_due, orders_on_time, len(invoice_rows), clean)


def _score(value: Decimal) -> Decimal:
    return cents(min(max(value, ZERO), HUNDRED))


def _criterion_results(
    rfq: Rfq, criteria: list[Criterion], columns: list[Column], today: dt.date
) -> None:
    if not columns:
        return
    lowest_tco = min(c.tco for c in columns)
    fastest = min(max(c.quote.delivery_days, 1) for c in columns)
    custom_scores = {
        (s.criterion_id, s.invitation_id): s
        for s in CriterionScore.objects.filter(criterion__rfq=rfq)
    }
    histories: dict[int, History] = {}
    if any(c.kind == CriterionKind.PERFORMANCE for c in criteria):
        for column in columns:
            vendor_id = column.invitation.vendor_id
            if vendor_id not in histories:
                histories[vendor_id] = vendor_history(
                    vendor_id=vendor_id, excluding_rfq_id=rfq.pk, today=today
                )
    for column in columns:
        results = []
        for criterion in criteria:
            result = _criterion_result(
                rfq, criterion, column, lowest_tco, fastest, custom_scores, histories
            )
            result.points = cents(criterion.weight * result.score / HUNDRED)
            results.append(result)
        column.criteria = results
        column.total_score = sum((r.points for r in results), ZERO)


def _criterion_result(
    rfq: Rfq,
    criterion: Criterion,
    column: Column,
    lowest_tco: Decimal,
    fastest: int,
    custom_scores: dict[tuple[int, int], CriterionScore],
    histories: dict[int, History],
) -> CriterionResult:
    kind = criterion.kind
    if kind == CriterionKind.TCO:
        return CriterionResult(
            criterion,
            f"{column.tco:,} {rfq.currency}",
            _score(HUNDRED * lowest_tco / column.tco),
            ZERO,
            raw_value=column.tco,
        )
    if kind == CriterionKind.DELIVERY:
        days = column.quote.delivery_days
        return CriterionResult(
            criterion,
            f"{days} day{'s' if days != 1 else ''}",
            _score(HUNDRED * Decimal(fastest) / Decimal(max(days, 1))),
            ZERO,
            raw_value=Decimal(days),
        )
    if kind == CriterionKind.RISK:
        vendor = column.invitation.vendor
        tier = vendor.risk_tier
        if tier in RISK_SCORES:
            return CriterionResult(
                criterion, vendor.get_risk_tier_display(), RISK_SCORES[tier], ZERO
            )
        note = "prospect, not assessed" if column.is_prospect else ""
        return CriterionResult(criterion, "not assessed", NOT_ASSESSED_SCORE, ZERO, note=note)
    if kind == CriterionKind.PERFORMANCE:
        history = histories[column.invitation.vendor_id]
        if not history.total:
            return CriterionResult(
                criterion, "no history", NO_HISTORY_SCORE, ZERO, note="no history (neutral 50)"
            )
        raw = (
            f"{history.orders_on_time} of {history.orders_due} orders on time, "
            f"{history.invoices_clean} of {history.invoices} invoices matched without hold"
        )
        return CriterionResult(
            criterion,
            raw,
            _score(HUNDRED * Decimal(history.good) / Decimal(history.total)),
            ZERO,
            raw_value=Decimal(history.good) / Decimal(history.total),
        )
    scored = custom_scores.get((criterion.pk, column.invitation.pk))
    if scored is None:
        return CriterionResult(criterion, "-", ZERO, ZERO, note="not yet scored")
    return CriterionResult(
        criterion,
        f"{scored.score} by {scored.scored_by}",
        _score(scored.score),
        ZERO,
        note=scored.note,
        raw_value=scored.score,
    )


def _rank(columns: Iterable[Column]) -> list[Column]:
    ranked = sorted(
        columns, key=lambda c: (-c.total_score, c.tco, c.quote.submitted_at, c.quote.pk)
    )
    for position, column in enumerate(ranked, start=1):
        column.rank = position
    return ranked


def _flag(
    best: Column | None, target: Decimal | None, walk_away: Decimal | None, approver: str
) -> tuple[str, str]:
    if best is None or target is None or walk_away is None:
        return "", ""
    if best.tco > walk_away:
        return (
            "above_walk_away",
            "Walk away, re-source (invite other vendors / reopen), or escalate: awarding needs "
            f"a written justification and approval by {approver}.",
        )
    if best.tco > target:
        return (
            "negotiate",
            "The best offer is above the target but within the walk-away price: negotiate "
            "(send counter-offers) before awarding.",
        )
    return "within_target", "The best offer is at or below the target price."


def rfq_evaluation(*, rfq: Rfq) -> Evaluation:
    """The comparison matrix of `rfq`: every current quote (declined vendors excluded) priced
    per line in the RFQ's currency, scored per criterion, weighted, ranked; the best offer
    against the target and walk-away prices with a recommendation. Reads only."""
    today = timezone.localdate()
    lines = list(rfq.lines.select_related("category").order_by("position", "id"))
    criteria = list(rfq.criteria.order_by("position", "id"))
    columns = [_price_lines(rfq, lines, quote) for quote in current_quotes(rfq)]
    _criterion_results(rfq, criteria, columns, today)
    columns = _rank(columns)
    for column in columns:
        column.above_walk_away = (
            rfq.walk_away_price is not None and column.tco > rfq.walk_away_price
        )
    best = min(columns, key=lambda c: (c.tco, c.rank)) if columns else None
    role = walk_away_approver_role()
    label = role_label(role)
    flag, recommendation = _flag(best, rfq.target_price, rfq.walk_away_price, label)
    formulas = [(c.name, FORMULAS[CriterionKind(c.kind)]) for c in criteria]
    formulas += [("Points and rank", POINTS_FORMULA), ("Prices", PRICES_FORMULA)]
    return Evaluation(
        rfq=rfq,
        lines=lines,
        criteria=criteria,
        columns=columns,
        formulas=formulas,
        target_price=rfq.target_price,
        walk_away_price=rfq.walk_away_price,
        best=best,
        flag=flag,
        recommendation=recommendation,
        walk_away_approver_role=role,
        walk_away_approver_label=label,
        quotes_required=rfq.quotes_required,
        weights_total=sum((c.weight for c in criteria), ZERO),
    )


# --- Evaluators' scores --------------------------------------------------------------------


def criterion_score_set(
    *, criterion_id: int, invitation_id: int, by: User, score: Decimal, note: str = ""
) -> CriterionScore:
    """Record (or change) an evaluator's 0-100 score of one vendor on a custom criterion.

    Only while the RFQ is closed for evaluation: the award freezes the ranking. Locks the
    RFQ row, so a score cannot land between the ranking an award reads and the award.
    Audited on the RFQ."""
    if not may_source(by):
        raise NotAllowed("Only procurement scores quotes.")
    note = (note or "").strip()
    if score is None or not (ZERO <= Decimal(score) <= HUNDRED):
        raise InvalidInput(
            "A score is a number from 0 to 100.", fields={"score": ["Give a score from 0 to 100."]}
        )
    if len(note) > 2000:
        raise InvalidInput("The note is too long.", fields={"note": ["At most 2,000 characters."]})
    score = Decimal(score).quantize(CENT, rounding=ROUND_HALF_UP)
    with transaction.atomic():
        criterion = Criterion.objects.filter(pk=criterion_id).first()
        if criterion is None:
            raise NotFound("No such criterion.")
        rfq = Rfq.objects.select_for_update().get(pk=criterion.rfq_id)
        if criterion.kind != CriterionKind.CUSTOM:
            raise InvalidInput(
                f"“{criterion.name}” is computed by its formula; only custom criteria are scored "
                "by the evaluators.",
                fields={"criterion": ["Choose a custom criterion."]},
            )
        invitation = (
            Invitation.objects.select_related("vendor")
            .filter(Q(pk=invitation_id) & Q(rfq=rfq))
            .first()
        )
        if invitation is None:
            raise InvalidInput(
                "That vendor is not invited to this RFQ.",
                fields={"invitation": ["Choose an invited vendor."]},
            )
        if rfq.state != RfqState.CLOSED:
            raise Conflict(
                f"{rfq.reference} is {rfq.get_state_display().lower()}: quotes are scored "
                "while it is closed for evaluation, before the award."
            )
        record, _ = CriterionScore.objects.update_or_create(
            criterion=criterion,
            invitation=invitation,
            defaults={"score": score, "note": note, "scored_by": by},
        )
        audit_record(
            target=rfq,
            actor=by,
            action="criterion_scored",
            comment=f"{criterion.name}: {invitation.vendor} {score}"
            + (f" ({note})" if note else ""),
        )
    return record
