"""What a budget has consumed never drifts: after every kind of change to requests, orders,
invoices and imported spend, budget_consumption() equals both the figures a person would
work out by hand and an independent count written here as plain loops over every object.

Three budgets watch the same cost centre (IT-100) this year: the whole cost centre, its
hardware, and the requests serving one objective. Everything is in GBP, the base currency.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from django.utils import timezone

from analytics.models import SpendCategory, SpendDepartment, SpendLine, SpendSource
from analytics.services import (
    spend_import_from_path,
    spend_import_run,
    spend_source_get_or_create,
)
from approvals.models import ApprovalStep
from approvals.services import approval_step_decide
from approvals.tests.helpers import submitted
from planning.budgets import budget_consumption
from planning.models import Budget
from planning.tests.helpers import budget, objective, this_year
from procurement.models import Category, Objective
from requests.models import PurchaseRequest
from requests.services import purchase_request_transition
from sourcing.invoices import invoice_record, invoice_release
from sourcing.models import Invoice, PurchaseOrder
from sourcing.orders import (
    ChangeLineInput,
    change_order_request,
    po_cancel,
    po_create_from_award,
    po_issue,
)
from sourcing.receipts import receipt_record
from sourcing.tests.helpers import (
    approved_request,
    awarded_po,
    closed_rfq_with_two_quotes,
    make_award,
)
from tests.factories import CostCentreFactory

pytestmark = pytest.mark.django_db

ZERO = Decimal("0")
COMMITTING = {"approved", "ordered", "received"}
OPEN_ORDER = {"draft", "issued", "acknowledged", "partially_received", "received"}
PAYABLE = {"matched", "released"}
Figures = tuple[Decimal, Decimal, Decimal, Decimal]


@pytest.fixture
def budgets(org) -> dict[str, Budget]:
    return {
        "whole": budget(org, "50000"),
        "hardware": budget(org, "30000", category=Category.objects.get(code="hardware")),
        "cloud": budget(org, "10000", objective=cloud(org)),
    }


def cloud(org) -> Objective:
    found = Objective.objects.filter(name="Move finance workloads to the cloud").first()
    return found or objective(org, department=org.department)


def computed(limit: Budget) -> Figures:
    consumption = budget_consumption(budget=Budget.objects.get(pk=limit.pk))
    return (
        consumption.committed_requests,
        consumption.committed_orders,
        consumption.actual_invoices,
        consumption.actual_spend,
    )


def counted_by_hand(limit: Budget) -> Figures:
    """The same four figures from plain loops over every request, order, invoice and spend
    line in the database, following the rules as docs/planning/budget-check.md states them."""
    year = limit.fiscal_year

    def in_scope(request: PurchaseRequest) -> bool:
        return (
            request.cost_centre_id == limit.cost_centre_id
            and year.starts_on <= request.needed_by <= year.ends_on
            and limit.category_id in (None, request.category_id)
            and limit.objective_id in (None, request.objective_id)
        )

    requests = [request for request in PurchaseRequest.objects.all() if in_scope(request)]
    orders = list(PurchaseOrder.objects.all())
    invoices = list(Invoice.objects.all())
    committed_requests = committed_orders = actual_invoices = actual_spend = ZERO
    for request in requests:
        assert request.currency == "GBP"
        live = [o for o in orders if o.request_id == request.pk and o.state != "cancelled"]
        if request.state in COMMITTING and not live:
            committed_requests += request.total
        for order in live:
            invoiced = ZERO
            for invoice in invoices:
                if invoice.po_id == order.pk and invoice.state in PAYABLE:
                    for line in invoice.lines.all():
                        invoiced += line.quantity * line.unit_price
            actual_invoices += invoiced
            if order.state in OPEN_ORDER:
                committed_orders += max(order.total - invoiced, ZERO)
    if limit.objective_id is None:  # imported spend names no objective
        for line in SpendLine.objects.all():
            department = SpendDepartment.objects.get(pk=line.department_id)
            category = SpendCategory.objects.get(pk=line.category_id)
            source = SpendSource.objects.get(pk=line.source_id)
            if (
                department.cost_centre_id == limit.cost_centre_id
                and year.starts_on <= line.date <= year.ends_on
                and limit.category_id in (None, category.category_id)
                and source.name != "Purchase orders"  # those are the invoices above
            ):
                actual_spend += line.base_amount
    return (
        committed_requests.quantize(Decimal("0.01")),
        committed_orders.quantize(Decimal("0.01")),
        actual_invoices.quantize(Decimal("0.01")),
        actual_spend.quantize(Decimal("0.01")),
    )


def check(budgets: dict[str, Budget], **expected: tuple[str, str, str, str]) -> None:
    """Each budget's (committed requests, committed orders, invoiced, imported spend)."""
    for name, figures in expected.items():
        limit = budgets[name]
        want = tuple(Decimal(value) for value in figures)
        assert computed(limit) == want, name
        assert counted_by_hand(limit) == want, name
    consumption = budget_consumption(budget=budgets["whole"])
    assert consumption.consumed == consumption.committed + consumption.actual
    assert consumption.available == Decimal("50000") - consumption.consumed


NOTHING = ("0", "0", "0", "0")


def change_lines(po: PurchaseOrder, unit_price: str) -> list[ChangeLineInput]:
    [line] = po.lines.all()
    return [
        ChangeLineInput(
            line_id=line.pk,
            description=line.description,
            category_id=line.category_id,
            quantity=line.quantity,
            unit_price=Decimal(unit_price),
        )
    ]


def invoice(org, po: PurchaseOrder, number: str) -> Invoice:
    return invoice_record(
        po_id=po.pk,
        by=org.procurement,
        number=number,
        invoice_date=timezone.localdate(),
        currency="GBP",
        total=Decimal("1100.00"),
        lines={po.lines.get().pk: (Decimal("1"), Decimal("1100.00"))},
    )


def test_it_counts_an_approved_request_until_it_is_cancelled(org, budgets) -> None:
    check(budgets, whole=NOTHING, hardware=NOTHING, cloud=NOTHING)

    approved_request(org)
    check(
        budgets,
        whole=("2500", "0", "0", "0"),
        hardware=("2500", "0", "0", "0"),
        cloud=NOTHING,
    )

    serving = approved_request(org, objective=cloud(org), no_objective_reason="")
    check(
        budgets,
        whole=("5000", "0", "0", "0"),
        hardware=("5000", "0", "0", "0"),
        cloud=("2500", "0", "0", "0"),
    )

    purchase_request_transition(request_id=serving.pk, by=org.requester, action="cancel")
    check(
        budgets,
        whole=("2500", "0", "0", "0"),
        hardware=("2500", "0", "0", "0"),
        cloud=NOTHING,
    )


def test_it_counts_nothing_until_a_request_is_approved(org, budgets) -> None:
    request = submitted(org)  # pending approval
    check(budgets, whole=NOTHING, hardware=NOTHING)
    step = ApprovalStep.objects.get(request=request)
    approval_step_decide(step_id=step.pk, by=org.manager, action="reject", comment="No.")
    check(budgets, whole=NOTHING, hardware=NOTHING)


def test_it_follows_an_order_from_draft_to_invoiced(org, budgets) -> None:
    rfq, northwind, _contoso = closed_rfq_with_two_quotes(org)  # its request: 2,500 approved
    check(budgets, whole=("2500", "0", "0", "0"), hardware=("2500", "0", "0", "0"))

    # A draft PO for 2 x 1,150.00 takes the request's place.
    po = po_create_from_award(award_id=make_award(org, rfq, northwind).pk, by=org.procurement)
    check(budgets, whole=("0", "2300", "0", "0"), hardware=("0", "2300", "0", "0"))

    po = po_issue(po_id=po.pk, by=org.procurement)
    assert PurchaseRequest.objects.get(pk=po.request_id).state == "ordered"
    check(budgets, whole=("0", "2300", "0", "0"), hardware=("0", "2300", "0", "0"))

    change_order_request(
        po_id=po.pk, by=org.procurement, lines=change_lines(po, "1200.00"), reason="Price rise"
    )
    check(budgets, whole=("0", "2400", "0", "0"), hardware=("0", "2400", "0", "0"))

    change_order_request(
        po_id=po.pk, by=org.procurement, lines=change_lines(po, "1100.00"), reason="Discount"
    )
    check(budgets, whole=("0", "2200", "0", "0"), hardware=("0", "2200", "0", "0"))

    receipt_record(
        po_id=po.pk,
        by=org.requester,
        received_on=timezone.localdate(),
        lines={po.lines.get().pk: Decimal("1")},
    )
    check(budgets, whole=("0", "2200", "0", "0"), hardware=("0", "2200", "0", "0"))

    assert invoice(org, po, "INV-1").state == "matched"  # actual up, the PO's remainder down
    check(budgets, whole=("0", "1100", "1100", "0"), hardware=("0", "1100", "1100", "0"))

    held = invoice(org, po, "INV-2")  # the second laptop has not arrived yet
    assert held.state == "on_hold"
    check(budgets, whole=("0", "1100", "1100", "0"), hardware=("0", "1100", "1100", "0"))

    invoice_release(invoice_id=held.pk, by=org.finance, reason="It arrived; receipt to follow")
    check(budgets, whole=("0", "0", "2200", "0"), hardware=("0", "0", "2200", "0"), cloud=NOTHING)


def test_it_gives_a_cancelled_orders_money_back_to_its_request(org, budgets) -> None:
    po = awarded_po(org)
    check(budgets, whole=("0", "2300", "0", "0"), hardware=("0", "2300", "0", "0"))

    po_cancel(po_id=po.pk, by=org.procurement, reason="Vendor cannot deliver")

    # The request is still approved: procurement may order it elsewhere.
    check(budgets, whole=("2500", "0", "0", "0"), hardware=("2500", "0", "0", "0"))


def import_spend(tmp_path: Path, rows: list[tuple[dt.date, str, str, str]]) -> None:
    """A small ledger file (date, amount, category, cost centre), imported as analytics does."""
    path = tmp_path / "ledger.csv"
    lines = ["Date,Amount,Supplier,Reference,Expense type,Cost centre"]
    for number, (day, amount, category, cost_centre) in enumerate(rows, start=1):
        lines.append(f"{day:%d/%m/%Y},{amount},Acme Ltd,T{number},{category},{cost_centre}")
    path.write_text("\n".join(lines) + "\n")
    mapping = {
        "columns": {
            "date": "Date",
            "amount": "Amount",
            "supplier": "Supplier",
            "reference": "Reference",
            "category": "Expense type",
            "department": "Cost centre",
        },
        "day_first": True,
    }
    source = spend_source_get_or_create(name="Finance ledger", currency="GBP")
    spend_import = spend_import_from_path(source=source, path=path, mapping=mapping)
    assert spend_import_run(spend_import_id=spend_import.pk).state == "done"


def test_it_counts_imported_spend_of_the_cost_centre_in_the_year(org, budgets, tmp_path) -> None:
    CostCentreFactory.create(code="IT-200", department=org.department)
    today = timezone.localdate()
    before_the_year = this_year().starts_on - dt.timedelta(days=1)

    import_spend(
        tmp_path,
        [
            (today, "300.00", "Hardware", "IT-100"),
            (today, "45.50", "Travel", "IT-100"),
            (today, "999.00", "Hardware", "IT-200"),  # another cost centre
            (before_the_year, "777.00", "Hardware", "IT-100"),  # last year
        ],
    )

    check(
        budgets,
        whole=("0", "0", "0", "345.50"),
        hardware=("0", "0", "0", "300.00"),
        cloud=NOTHING,  # spend names no objective
    )


def test_it_counts_an_invoice_once_though_it_is_spend_too(org, budgets) -> None:
    po = po_issue(po_id=awarded_po(org).pk, by=org.procurement)
    receipt_record(
        po_id=po.pk,
        by=org.requester,
        received_on=timezone.localdate(),
        lines={po.lines.get().pk: Decimal("1")},
    )
    invoice(org, po, "INV-1")
    # The invoice became spend under the request's department; map that department to the
    # cost centre, as an admin would, so the spend query could see those lines.
    SpendDepartment.objects.filter(department=org.department).update(cost_centre=org.cost_centre)
    from_orders = SpendLine.objects.filter(
        source__name="Purchase orders", department__cost_centre=org.cost_centre
    )
    assert [line.base_amount for line in from_orders] == [Decimal("1100.00")]

    check(budgets, whole=("0", "1200", "1100", "0"), hardware=("0", "1200", "1100", "0"))


def test_it_leaves_out_requests_of_another_cost_centre_year_or_category(org, budgets) -> None:
    year = this_year()
    projects = CostCentreFactory.create(code="IT-200", department=org.department)

    approved_request(org, cost_centre=projects)
    approved_request(org, needed_by=year.ends_on + dt.timedelta(days=1))
    check(budgets, whole=NOTHING, hardware=NOTHING, cloud=NOTHING)

    approved_request(org, category=Category.objects.get(code="software"))
    check(budgets, whole=("2500", "0", "0", "0"), hardware=NOTHING, cloud=NOTHING)

    approved_request(
        org,
        category=Category.objects.get(code="software"),
        objective=cloud(org),
        no_objective_reason="",
    )
    check(
        budgets,
        whole=("5000", "0", "0", "0"),
        hardware=NOTHING,
        cloud=("2500", "0", "0", "0"),
    )
