"""The comparison matrix: every quote scored per criterion by the formulas the page shows,
weighted, ranked; prices in the RFQ's currency. The expected figures are computed here from
the formulas, independently of sourcing.scoring."""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

import pytest
from django.utils import timezone

from procurement.errors import Conflict, InvalidInput, NotAllowed
from procurement.models import AuditEntry
from sourcing.models import (
    CriterionKind,
    CriterionScore,
    Invoice,
    InvoiceState,
    PoState,
    PurchaseOrder,
    Quote,
    Receipt,
    Rfq,
    RfqState,
)
from sourcing.scoring import criterion_score_set, rfq_evaluation
from sourcing.tests.helpers import (
    closed_rfq_with_two_quotes,
    invite,
    make_quote,
    make_rfq,
    vendor,
)
from vendors.models import Vendor

CENT = Decimal("0.01")


def r2(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def expected_points(weight: str, score: Decimal) -> Decimal:
    return r2(Decimal(weight) * r2(score) / 100)


def close(rfq: Rfq) -> Rfq:
    Rfq.objects.filter(pk=rfq.pk).update(
        state=RfqState.CLOSED,
        deadline=timezone.now() - dt.timedelta(minutes=1),
        closed_at=timezone.now(),
    )
    return Rfq.objects.get(pk=rfq.pk)


def three_quotes(org):
    """Northwind 1,150 a laptop in 10 days (risk low), Contoso 1,200 in 5 days (medium),
    Fabrikam, a prospect never assessed, 1,100 in 20 days; 2 laptops each."""
    rfq = make_rfq(org)
    northwind = vendor(org, "Northwind Hardware Ltd")
    contoso = vendor(org, "Contoso Devices Ltd")
    fabrikam = vendor(org, "Fabrikam Prospects Ltd", approved=False)
    Vendor.objects.filter(pk=northwind.pk).update(risk_tier="low")
    Vendor.objects.filter(pk=contoso.pk).update(risk_tier="medium")
    quotes = {
        "Northwind": make_quote(invite(org, rfq, northwind), ["1150.00"], delivery_days=10),
        "Contoso": make_quote(invite(org, rfq, contoso), ["1200.00"], delivery_days=5),
        "Fabrikam": make_quote(invite(org, rfq, fabrikam), ["1100.00"], delivery_days=20),
    }
    return close(rfq), quotes


def by_vendor(evaluation):
    return {str(column.invitation.vendor).split()[0]: column for column in evaluation.columns}


def test_it_scores_each_criterion_by_its_formula_and_ranks_by_total(org):
    rfq, _ = three_quotes(org)

    columns = by_vendor(rfq_evaluation(rfq=rfq))

    tco = {
        "Northwind": Decimal("2300.00"),
        "Contoso": Decimal("2400.00"),
        "Fabrikam": Decimal("2200.00"),
    }
    days = {"Northwind": 10, "Contoso": 5, "Fabrikam": 20}
    risk = {"Northwind": Decimal(100), "Contoso": Decimal(70), "Fabrikam": Decimal(30)}
    totals = {}
    for name, column in columns.items():
        tco_score = Decimal(100) * min(tco.values()) / tco[name]
        delivery_score = Decimal(100) * min(days.values()) / days[name]
        points = [
            expected_points("50", tco_score),
            expected_points("20", delivery_score),
            expected_points("15", risk[name]),
            expected_points("10", Decimal(50)),  # no history: neutral
            expected_points("5", Decimal(0)),  # not yet scored
        ]
        assert column.tco == tco[name]
        assert [result.score for result in column.criteria] == [
            r2(tco_score),
            r2(delivery_score),
            risk[name],
            Decimal(50),
            Decimal(0),
        ]
        assert [result.points for result in column.criteria] == points
        assert column.total_score == sum(points)
        totals[name] = sum(points)
    expected_order = sorted(totals, key=lambda name: -totals[name])
    assert [str(c.invitation.vendor).split()[0] for c in rfq_evaluation(rfq=rfq).columns] == (
        expected_order
    )
    assert [columns[name].rank for name in expected_order] == [1, 2, 3]


def test_it_explains_neutral_and_missing_scores_and_flags_prospects(org):
    rfq, _ = three_quotes(org)

    columns = by_vendor(rfq_evaluation(rfq=rfq))

    fabrikam = columns["Fabrikam"]
    assert fabrikam.is_prospect
    notes = {result.criterion.kind: result.note for result in fabrikam.criteria}
    assert notes[CriterionKind.PERFORMANCE] == "no history (neutral 50)"
    assert notes[CriterionKind.CUSTOM] == "not yet scored"
    assert notes[CriterionKind.RISK] == "prospect, not assessed"
    assert not columns["Northwind"].is_prospect


def test_it_shows_the_formula_of_every_criterion(org):
    rfq, _ = three_quotes(org)

    formulas = dict(rfq_evaluation(rfq=rfq).formulas)

    assert "100 x lowest TCO / this quote's TCO" in formulas["Total cost of ownership"]
    assert "0 days counts as 1" in formulas["Delivery time"]
    assert (
        "low 100, medium 70, high 40, critical 0, not assessed 30" in formulas["Vendor risk tier"]
    )
    assert "no history = neutral 50" in formulas["Past performance"]
    assert "not yet scored counts as 0" in formulas["Quality of the proposal"]
    assert "weight x score / 100" in formulas["Points and rank"]


def test_it_reranks_when_a_vendor_revises_its_quote(org):
    rfq, quotes = three_quotes(org)
    assert by_vendor(rfq_evaluation(rfq=rfq))["Northwind"].rank == 2

    make_quote(quotes["Northwind"].invitation, ["1000.00"], delivery_days=10)

    columns = by_vendor(rfq_evaluation(rfq=rfq))
    northwind = columns["Northwind"]
    assert northwind.quote.revision == 2
    assert northwind.tco == Decimal("2000.00")
    assert northwind.rank == 1
    # Every TCO score is now measured against Northwind's 2,000.00.
    assert columns["Contoso"].criteria[0].score == r2(Decimal(100) * 2000 / 2400)
    assert len(columns) == 3  # the superseded revision is history, not a column


def test_it_converts_a_quote_in_another_currency_at_its_stored_rate(org):
    rfq = make_rfq(org)
    euro = make_quote(invite(org, rfq, vendor(org, "Euro Laptops GmbH")), ["1400.00"])
    Quote.objects.filter(pk=euro.pk).update(
        currency="EUR",
        exchange_rate=Decimal("0.85"),
        implementation_cost=Decimal("100.00"),
        tco=Decimal("2900.00"),
        tco_in_rfq_currency=Decimal("2465.00"),
    )
    make_quote(invite(org, rfq, vendor(org, "Northwind Hardware Ltd")), ["1150.00"])
    rfq = close(rfq)

    column = by_vendor(rfq_evaluation(rfq=rfq))["Euro"]

    assert column.converted
    assert column.lines[0].quoted_unit_price == Decimal("1400.00")
    assert column.lines[0].unit_price == r2(Decimal("1400.00") * Decimal("0.85"))
    assert column.lines[0].line_total == r2(2 * r2(Decimal("1400.00") * Decimal("0.85")))
    assert column.implementation == r2(Decimal("100.00") * Decimal("0.85"))
    assert column.tco == Decimal("2465.00")


def test_it_leaves_out_vendors_who_declined(org):
    rfq, northwind, contoso = closed_rfq_with_two_quotes(org)
    contoso.invitation.declined_at = timezone.now()
    contoso.invitation.save()

    evaluation = rfq_evaluation(rfq=rfq)

    assert [c.invitation.pk for c in evaluation.columns] == [northwind.invitation_id]


def test_it_breaks_a_tie_by_the_lower_tco_then_the_earlier_quote(org):
    rfq = make_rfq(
        org,
        criteria=[
            (CriterionKind.DELIVERY, "Delivery time", Decimal("100")),
            (CriterionKind.TCO, "Total cost of ownership", Decimal("0")),
        ],
    )
    first = make_quote(invite(org, rfq, vendor(org, "First Ltd")), ["1200.00"])
    cheaper = make_quote(invite(org, rfq, vendor(org, "Cheaper Ltd")), ["1100.00"])
    same = make_quote(invite(org, rfq, vendor(org, "Same Ltd")), ["1200.00"])
    rfq = close(rfq)

    ranked = [c.quote.pk for c in rfq_evaluation(rfq=rfq).columns]

    assert ranked == [cheaper.pk, first.pk, same.pk]


def test_it_flags_the_best_offer_above_walk_away_and_recommends_what_to_do(org):
    rfq, _, _ = closed_rfq_with_two_quotes(org)
    Rfq.objects.filter(pk=rfq.pk).update(
        target_price=Decimal("1800"), walk_away_price=Decimal("2000")
    )
    rfq.refresh_from_db()

    evaluation = rfq_evaluation(rfq=rfq)

    assert evaluation.flag == "above_walk_away"
    assert evaluation.recommendation == (
        "Walk away, re-source (invite other vendors / reopen), or escalate: awarding needs a "
        "written justification and approval by Finance."
    )
    assert all(column.above_walk_away for column in evaluation.columns)


def test_it_recommends_negotiating_between_target_and_walk_away(org):
    rfq, _, _ = closed_rfq_with_two_quotes(org)
    Rfq.objects.filter(pk=rfq.pk).update(
        target_price=Decimal("2000"), walk_away_price=Decimal("2500")
    )
    rfq.refresh_from_db()

    evaluation = rfq_evaluation(rfq=rfq)

    assert evaluation.flag == "negotiate"
    assert "negotiate" in evaluation.recommendation
    assert evaluation.best is not None
    assert evaluation.best.tco == Decimal("2300.00")


def test_it_scores_past_performance_from_earlier_orders_and_invoices(org):
    rfq, northwind, _ = closed_rfq_with_two_quotes(org)
    # Two earlier orders, both received in full by their delivery date, and one invoice that
    # was put on hold: (2 + 0) / (2 + 1).
    earlier = closed_rfq_with_two_quotes(org)[0]
    vendor_record = northwind.invitation.vendor
    today = timezone.localdate()
    for number in (1, 2):
        po = PurchaseOrder.objects.create(
            number=f"PO-TEST-{number}",
            year=today.year,
            sequence=9000 + number,
            request=earlier.request,
            vendor=vendor_record,
            contact_email="sales@northwind.example",
            currency="GBP",
            total=Decimal("100"),
            approved_total=Decimal("100"),
            delivery_date=today - dt.timedelta(days=10),
            state=PoState.RECEIVED,
            created_by=org.procurement,
        )
        Receipt.objects.create(
            po=po, received_by=org.procurement, received_on=today - dt.timedelta(days=12)
        )
    Invoice.objects.create(
        po=po,
        vendor=vendor_record,
        number="INV-1",
        invoice_date=today,
        currency="GBP",
        total=Decimal("100"),
        hold_reasons=[{"line_id": None, "code": "price", "message": "Above tolerance"}],
        state=InvoiceState.ON_HOLD,
        recorded_by=org.finance,
    )

    columns = by_vendor(rfq_evaluation(rfq=rfq))

    performance = columns["Northwind"].criteria[3]
    assert performance.score == r2(Decimal(100) * 2 / 3)
    assert performance.raw == "2 of 2 orders on time, 0 of 1 invoices matched without hold"
    assert columns["Contoso"].criteria[3].note == "no history (neutral 50)"


def test_it_records_an_evaluators_score_on_a_custom_criterion(org):
    rfq, northwind, _ = closed_rfq_with_two_quotes(org)
    quality = rfq.criteria.get(kind=CriterionKind.CUSTOM)

    criterion_score_set(
        criterion_id=quality.pk,
        invitation_id=northwind.invitation_id,
        by=org.procurement,
        score=Decimal("80"),
        note="Clear plan",
    )

    result = by_vendor(rfq_evaluation(rfq=rfq))["Northwind"].criteria[4]
    assert result.score == Decimal("80.00")
    assert result.points == r2(Decimal(quality.weight) * 80 / 100)
    assert result.note == "Clear plan"
    assert AuditEntry.objects.filter(object_id=rfq.pk, action="criterion_scored").exists()


@pytest.mark.parametrize("score", ["-1", "100.01", "250"])
def test_it_refuses_a_score_outside_0_to_100(org, score):
    rfq, northwind, _ = closed_rfq_with_two_quotes(org)
    quality = rfq.criteria.get(kind=CriterionKind.CUSTOM)

    with pytest.raises(InvalidInput) as error:
        criterion_score_set(
            criterion_id=quality.pk,
            invitation_id=northwind.invitation_id,
            by=org.procurement,
            score=Decimal(score),
        )

    assert "score" in error.value.fields
    assert not CriterionScore.objects.exists()


def test_it_refuses_to_score_a_computed_criterion_or_by_someone_outside_procurement(org):
    rfq, northwind, _ = closed_rfq_with_two_quotes(org)
    tco = rfq.criteria.get(kind=CriterionKind.TCO)
    quality = rfq.criteria.get(kind=CriterionKind.CUSTOM)

    with pytest.raises(InvalidInput) as error:
        criterion_score_set(
            criterion_id=tco.pk,
            invitation_id=northwind.invitation_id,
            by=org.procurement,
            score=Decimal(50),
        )
    assert "criterion" in error.value.fields
    with pytest.raises(NotAllowed):
        criterion_score_set(
            criterion_id=quality.pk,
            invitation_id=northwind.invitation_id,
            by=org.finance,
            score=Decimal(50),
        )


def test_it_refuses_scores_once_the_rfq_is_awarded(org):
    rfq, northwind, _ = closed_rfq_with_two_quotes(org)
    Rfq.objects.filter(pk=rfq.pk).update(state=RfqState.AWARDED)
    quality = rfq.criteria.get(kind=CriterionKind.CUSTOM)

    with pytest.raises(Conflict):
        criterion_score_set(
            criterion_id=quality.pk,
            invitation_id=northwind.invitation_id,
            by=org.procurement,
            score=Decimal(50),
        )
