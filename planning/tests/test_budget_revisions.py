"""Revising a budget from its page: a new version, every earlier one kept; a version below
what is already consumed is allowed and flagged; a closed year's budgets are final."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from planning.models import BudgetRevision
from planning.tests.helpers import budget, this_year
from procurement.models import AuditEntry, FiscalYear
from requests.tests.page_helpers import field_error
from sourcing.tests.helpers import approved_request

pytestmark = pytest.mark.django_db


def text(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


def revise_data(org, **overrides) -> dict[str, str]:
    data = {
        "amount": "15000.00",
        "on_exceed": "stop",
        "extra_approver": "owner",
        "owner": str(org.head.pk),
        "reason": "Two more engineers",
    }
    for number in range(1, 13):
        data[f"month_{number}"] = ""
    data.update(overrides)
    return data


def test_finance_revises_a_budget_and_the_old_version_is_kept(org):
    set_ = budget(org, "10000")

    response = org.client_for(org.finance).post(
        f"/planning/budgets/{set_.pk}/revise/", revise_data(org, owner=str(org.finance.pk))
    )

    assert response.status_code == 302
    set_.refresh_from_db()
    assert (set_.version, set_.amount, set_.on_exceed, set_.owner) == (
        2,
        Decimal("15000.00"),
        "stop",
        org.finance,
    )
    versions = list(
        BudgetRevision.objects.filter(budget=set_).values_list("version", "amount", "reason")
    )
    assert versions == [
        (2, Decimal("15000.00"), "Two more engineers"),
        (1, Decimal("10000.00"), "Set"),
    ]
    entry = AuditEntry.objects.get(object_id=set_.pk, action="budget_revised")
    assert entry.actor == org.finance
    assert entry.comment == "v2: 15,000.00 GBP. Two more engineers"


def test_a_version_below_what_was_consumed_is_allowed_and_flagged(org):
    set_ = budget(org, "10000")
    approved_request(org)  # 2,500.00 consumed
    client = org.client_for(org.finance)

    response = client.post(
        f"/planning/budgets/{set_.pk}/revise/", revise_data(org, amount="2000.00"), follow=True
    )

    assert "below the 2,500.00 GBP already consumed" in text(response)
    revision = BudgetRevision.objects.get(budget=set_, version=2)
    assert (revision.below_consumed, revision.consumed_then) == (True, Decimal("2500.00"))
    assert (
        "(below the 2,500.00 GBP already consumed)"
        in AuditEntry.objects.get(object_id=set_.pk, action="budget_revised").comment
    )
    page = text(client.get(f"/planning/budgets/{set_.pk}/"))
    assert "v2 Below consumed 2,000.00" in page
    assert "Over" in page


def test_it_needs_a_reason_next_to_the_reason(org):
    set_ = budget(org, "10000")

    response = org.client_for(org.finance).post(
        f"/planning/budgets/{set_.pk}/revise/", revise_data(org, reason="")
    )

    assert response.status_code == 400
    assert field_error(response, "id_reason") == "This field is required."
    set_.refresh_from_db()
    assert set_.version == 1


def test_it_refuses_a_negative_amount_next_to_the_amount(org):
    set_ = budget(org, "10000")

    response = org.client_for(org.finance).post(
        f"/planning/budgets/{set_.pk}/revise/", revise_data(org, amount="-1.00")
    )

    assert response.status_code == 400
    assert field_error(response, "id_amount") == "A budget cannot be negative."


def test_it_keeps_the_phasing_given_and_labels_the_months(org):
    set_ = budget(org, "1200")
    phasing = {f"month_{n}": "100.00" for n in range(1, 12)}
    phasing["month_12"] = "4100.00"
    client = org.client_for(org.finance)

    client.post(
        f"/planning/budgets/{set_.pk}/revise/", revise_data(org, amount="5200.00", **phasing)
    )

    set_.refresh_from_db()
    assert set_.phasing == ["100.00"] * 11 + ["4100.00"]
    form = client.get(f"/planning/budgets/{set_.pk}/revise/").content.decode()
    first = this_year().starts_on
    assert f'<label for="id_month_1">{first:%b %Y}</label>' in form
    assert re.search(r'name="month_12"[^>]*value="4100.00"', form)


def test_it_refuses_months_not_adding_up_to_the_new_amount(org):
    set_ = budget(org, "1200")

    response = org.client_for(org.finance).post(
        f"/planning/budgets/{set_.pk}/revise/",
        revise_data(org, amount="1300.00", **{f"month_{n}": "100.00" for n in range(1, 13)}),
    )

    assert response.status_code == 400
    assert "The months add up to 1,200.00, not the budget" in text(response)


def test_a_closed_years_budget_is_final(org):
    set_ = budget(org, "10000")
    FiscalYear.objects.filter(pk=set_.fiscal_year_id).update(is_closed=True)

    response = org.client_for(org.finance).post(
        f"/planning/budgets/{set_.pk}/revise/", revise_data(org)
    )

    assert response.status_code == 409
    assert f"{set_.fiscal_year.name} is closed; its budgets are final." in text(response)
    set_.refresh_from_db()
    assert set_.version == 1
    assert "Revise" not in text(org.client_for(org.finance).get(f"/planning/budgets/{set_.pk}/"))


def test_an_unknown_budget_is_a_404(org):
    assert org.client_for(org.finance).get("/planning/budgets/999999/revise/").status_code == 404
