"""The budget pages: the list of the budgets a user may see with what each has consumed
(and a badge when over, or when set below what was consumed), a budget's page with its
consumption broken down, its months and versions, and finance's form to set one. Bad input
comes back next to its field; others get 403 on the forms and 404 on budgets they may not
see."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.utils import timezone

from analytics.services import LineInput, spend_lines_add, spend_source_get_or_create
from planning.budgets import budget_consumption, budget_consumption_detail, budget_revise
from planning.models import Budget, BudgetRevision
from planning.tests.helpers import budget, objective, this_year
from procurement.models import AuditEntry, Category, FiscalYear
from requests.tests.page_helpers import field_error
from sourcing.invoices import invoice_record
from sourcing.receipts import receipt_record
from sourcing.tests.helpers import approved_request, issued_po
from tests.factories import CostCentreFactory

pytestmark = pytest.mark.django_db


def text(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


def imported_spend(amount: str, *, cost_centre: str = "IT-100") -> None:
    spend_lines_add(
        source=spend_source_get_or_create(name="Ledger", currency="GBP"),
        lines=[
            LineInput(
                date=timezone.localdate(),
                amount=Decimal(amount),
                supplier="Office Supplies Ltd",
                reference=f"L-{amount}",
                department=cost_centre,
            )
        ],
    )


def form_data(org, **overrides) -> dict[str, str]:
    data = {
        "fiscal_year": str(this_year().pk),
        "cost_centre": str(org.cost_centre.pk),
        "category": "",
        "objective": "",
        "owner": str(org.head.pk),
        "amount": "12000.00",
        "on_exceed": "approval",
        "extra_approver": "finance",
        "reason": "Planned with IT",
    }
    for number in range(1, 13):
        data[f"month_{number}"] = ""
    data.update(overrides)
    return data


def months(*amounts: str) -> dict[str, str]:
    return {f"month_{number}": amount for number, amount in enumerate(amounts, start=1)}


# --- List ---------------------------------------------------------------------------------------


def test_it_lists_each_budget_with_what_it_has_consumed(org):
    budget(org, "10000")
    approved_request(org)  # 2,500.00 committed
    imported_spend("1000.00")

    page = text(org.client_for(org.finance).get("/planning/budgets/"))

    assert f"IT-100 {this_year().name} Hana Head 10,000.00 2,500.00 1,000.00 6,500.00" in page
    assert "Over" not in page


def test_it_marks_a_budget_that_is_over(org):
    budget(org, "2000")
    approved_request(org)

    page = text(org.client_for(org.finance).get("/planning/budgets/"))

    assert "IT-100 Over" in page
    assert "-500.00" in page


def test_it_marks_a_budget_whose_current_version_was_set_below_what_was_consumed(org):
    set_ = budget(org, "10000")
    approved_request(org)
    budget_revise(budget_id=set_.pk, by=org.finance, amount=Decimal("1000"), reason="Cut")

    page = text(org.client_for(org.finance).get("/planning/budgets/"))

    assert "Set below consumed" in page


def test_it_filters_by_fiscal_year(org):
    budget(org, "10000")
    older = FiscalYear.objects.create(name="FY2001", starts_on="2000-04-01", ends_on="2001-03-31")
    budget(org, "500", fiscal_year=older)
    client = org.client_for(org.finance)

    assert "10,000.00" not in text(client.get(f"/planning/budgets/?year={older.pk}"))
    assert "500.00" in text(client.get(f"/planning/budgets/?year={older.pk}"))
    assert client.get("/planning/budgets/?year=abc").status_code == 400


def test_a_requester_sees_no_budgets_and_a_department_head_their_departments(org):
    budget(org, "10000")
    marketing = CostCentreFactory.create(code="MKT-1", department=org.other_department)
    budget(org, "777", cost_centre=marketing, owner=org.finance)

    assert "There are no budgets for you to see." in text(
        org.client_for(org.requester).get("/planning/budgets/")
    )
    head = text(org.client_for(org.head).get("/planning/budgets/"))
    assert "IT-100" in head
    assert "MKT-1" not in head
    assert "MKT-1" in text(org.client_for(org.procurement).get("/planning/budgets/"))
    assert "New budget" not in head


# --- Detail -------------------------------------------------------------------------------------


def test_the_budget_page_breaks_the_consumption_down(org):
    set_ = budget(org, "10000")
    committed = approved_request(org)
    po = issued_po(org)  # its request is on an order: the order's 2,300.00 counts instead
    line = po.lines.get()
    receipt_record(
        po_id=po.pk,
        by=org.requester,
        received_on=timezone.localdate(),
        lines={line.pk: Decimal("1")},
    )
    invoice = invoice_record(
        po_id=po.pk,
        by=org.procurement,
        number="INV-77",
        invoice_date=timezone.localdate(),
        currency="GBP",
        total=Decimal("1150.00"),
        lines={line.pk: (Decimal("1"), Decimal("1150.00"))},
    )
    imported_spend("400.00")

    page = text(org.client_for(org.head).get(f"/planning/budgets/{set_.pk}/"))

    consumption = budget_consumption(budget=set_)
    assert consumption.consumed == Decimal("2500.00") + Decimal("1150.00") * 2 + Decimal("400.00")
    assert "Committed: approved requests not on an order (1) 2,500.00" in page
    assert "Committed: open orders, not yet invoiced (1 order) 1,150.00" in page
    assert "Actual: matched or released invoices (1) 1,150.00" in page
    assert "Actual: imported spend (1 line) 400.00" in page
    assert "Consumed 5,200.00" in page
    assert committed.reference in page
    assert po.number in page
    assert "2,300.00 1,150.00 1,150.00" in page
    assert invoice.number in page


def test_the_breakdown_adds_up_to_the_budget_check_figures(org):
    set_ = budget(org, "10000")
    narrowed = budget(org, "3000", category=Category.objects.get(code="hardware"))
    approved_request(org)
    issued_po(org)
    imported_spend("250.00")

    for each in (set_, narrowed):
        detail = budget_consumption_detail(budget=each)
        assert detail.consumption == budget_consumption(budget=each)
        assert sum(row.amount for row in detail.side.requests) == (
            detail.consumption.committed_requests
        )


def test_the_budget_page_spreads_the_months_evenly_and_lists_its_versions(org):
    set_ = budget(org, "1000")
    budget_revise(budget_id=set_.pk, by=org.finance, amount=Decimal("1200"), reason="New hires")

    page = text(org.client_for(org.finance).get(f"/planning/budgets/{set_.pk}/"))

    start = this_year().starts_on
    assert f"{start:%b %Y} 100.00 100.00" in page
    assert "1,200.00" in page
    assert "Cumulative" in page
    assert re.search(
        r"v2 1,200\.00 Fiona Finance .*? New hires 0\.00 v1 1,000\.00 Fiona Finance", page
    )


@pytest.mark.parametrize("who", ["requester", "outsider", "manager_elsewhere"])
def test_a_budget_is_a_404_for_those_who_may_not_see_it(org, who):
    set_ = budget(org, "10000")
    if who == "manager_elsewhere":
        from tests.factories import UserFactory

        user = UserFactory.create(department=org.other_department, roles=["manager"])
    else:
        user = getattr(org, who)
    client = org.client_for(user)

    assert client.get(f"/planning/budgets/{set_.pk}/").status_code == 404
    assert client.get(f"/planning/budgets/{set_.pk}/revise/").status_code == 404
    assert client.post(f"/planning/budgets/{set_.pk}/revise/", {}).status_code == 404


def test_the_owner_and_the_manager_of_the_department_see_the_budget(org):
    set_ = budget(org, "10000", owner=org.finance)

    assert org.client_for(org.head).get(f"/planning/budgets/{set_.pk}/").status_code == 200
    assert org.client_for(org.manager).get(f"/planning/budgets/{set_.pk}/").status_code == 200


# --- Setting one ---------------------------------------------------------------------------------


def test_finance_sets_a_budget_with_monthly_phasing(org):
    phasing = months(*(["1000.00"] * 11 + ["1000.00"]))

    response = org.client_for(org.finance).post("/planning/budgets/new/", form_data(org, **phasing))

    created = Budget.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/planning/budgets/{created.pk}/"
    assert (created.amount, created.on_exceed, created.extra_approver, created.owner) == (
        Decimal("12000.00"),
        "approval",
        "finance",
        org.head,
    )
    assert created.phasing == ["1000.00"] * 12
    assert BudgetRevision.objects.get(budget=created).reason == "Planned with IT"
    assert AuditEntry.objects.filter(object_id=created.pk, action="budget_set").exists()


def test_an_admin_sets_one_narrowed_to_a_category_and_objective(org):
    goal = objective(org, department=org.department)
    software = Category.objects.get(code="software")

    org.client_for(org.admin).post(
        "/planning/budgets/new/",
        form_data(org, category=str(software.pk), objective=str(goal.pk)),
    )

    created = Budget.objects.get()
    assert (created.category, created.objective) == (software, goal)


@pytest.mark.parametrize("who", ["requester", "manager", "head", "procurement", "outsider"])
def test_only_finance_and_admins_may_open_the_budget_forms(org, who):
    set_ = budget(org, "10000")
    client = org.client_for(getattr(org, who))

    assert client.get("/planning/budgets/new/").status_code == 403
    assert client.post("/planning/budgets/new/", form_data(org)).status_code == 403
    if who in ("manager", "head", "procurement"):  # they see the budget, and may not revise it
        assert client.get(f"/planning/budgets/{set_.pk}/revise/").status_code == 403
        assert client.post(f"/planning/budgets/{set_.pk}/revise/", {}).status_code == 403
    assert Budget.objects.count() == 1


def test_it_refuses_a_negative_amount_next_to_the_amount(org):
    response = org.client_for(org.finance).post(
        "/planning/budgets/new/", form_data(org, amount="-5")
    )

    assert response.status_code == 400
    assert field_error(response, "id_amount") == "A budget cannot be negative."
    assert not Budget.objects.exists()


def test_it_refuses_months_that_do_not_add_up_above_the_months(org):
    response = org.client_for(org.finance).post(
        "/planning/budgets/new/", form_data(org, **months(*(["900.00"] * 12)))
    )

    assert response.status_code == 400
    assert re.search(
        r'<small class="field-error" id="phasing_error">The months add up to 10,800.00, not the '
        r"budget&#x27;s 12,000.00.</small>",
        response.content.decode(),
    )
    assert 'aria-describedby="phasing_error"' in response.content.decode()
    assert not Budget.objects.exists()


def test_it_refuses_some_months_without_the_others(org):
    response = org.client_for(org.finance).post(
        "/planning/budgets/new/", form_data(org, month_1="1000.00")
    )

    assert response.status_code == 400
    assert "Give all twelve months, or none to spread the budget evenly." in text(response)


def test_it_refuses_a_closed_year_next_to_the_year(org):
    closed = FiscalYear.objects.create(
        name="FY2001", starts_on="2000-04-01", ends_on="2001-03-31", is_closed=True
    )

    response = org.client_for(org.finance).post(
        "/planning/budgets/new/", form_data(org, fiscal_year=str(closed.pk))
    )

    assert response.status_code == 400
    assert field_error(response, "id_fiscal_year") == "FY2001 is closed; its budgets are final."


def test_it_refuses_an_objective_of_another_department_next_to_the_objective(org):
    theirs = objective(org, name="Rebrand", department=org.other_department)

    response = org.client_for(org.finance).post(
        "/planning/budgets/new/", form_data(org, objective=str(theirs.pk))
    )

    assert response.status_code == 400
    assert field_error(response, "id_objective").startswith(
        '"Rebrand" is an objective of Marketing, not of IT'
    )


def test_it_refuses_an_objective_of_another_year(org):
    older = FiscalYear.objects.create(name="FY2001", starts_on="2000-04-01", ends_on="2001-03-31")
    old_goal = objective(org, name="Old goal", fiscal_year=older)

    response = org.client_for(org.finance).post(
        "/planning/budgets/new/", form_data(org, objective=str(old_goal.pk))
    )

    assert response.status_code == 400
    assert "is an objective of FY2001" in field_error(response, "id_objective")


def test_it_refuses_a_second_budget_for_the_same_scope_and_year(org):
    budget(org, "10000")

    response = org.client_for(org.finance).post("/planning/budgets/new/", form_data(org))

    assert response.status_code == 400
    assert field_error(response, "id_cost_centre").startswith(
        f"There is already a budget for IT-100 in {this_year().name}"
    )
    assert Budget.objects.count() == 1


def test_a_budget_for_one_category_does_not_overlap_the_whole_cost_centre(org):
    budget(org, "10000")
    software = Category.objects.get(code="software")

    response = org.client_for(org.finance).post(
        "/planning/budgets/new/", form_data(org, category=str(software.pk))
    )

    assert response.status_code == 302
    assert Budget.objects.count() == 2
