"""Finance maps the departments that spend files name to our departments and cost centres, on
/analytics/payees/departments/, so managers see that spend and budgets count it."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from analytics.models import SpendByMonthDepartment, SpendDepartment
from analytics.scope import spend_scope_department_ids
from analytics.services import LineInput, spend_lines_add, spend_source_get_or_create
from analytics.spend_departments import spend_department_map, spend_department_unmap
from conftest import Org
from planning.budgets import budget_consumption
from planning.tests.helpers import budget
from procurement.errors import InvalidInput, NotAllowed
from procurement.models import AuditEntry, CostCentre
from tests.factories import CostCentreFactory

pytestmark = pytest.mark.django_db

LIST = reverse("payees:departments")


def _map_url(spend_department: SpendDepartment) -> str:
    return reverse("payees:department-map", args=[spend_department.pk])


def _unmap_url(spend_department: SpendDepartment) -> str:
    return reverse("payees:department-unmap", args=[spend_department.pk])


@pytest.fixture
def ledger(org: Org) -> dict[str, SpendDepartment]:
    """This month's spend from a council ledger: three lines for "Information Technology"
    (which matches nothing of ours; one spelt differently), one for "IT-100" (a cost centre's code, mapped at import)
    and one naming no department."""
    today = timezone.localdate()
    source = spend_source_get_or_create(name="Council ledger", currency="GBP")
    spend_lines_add(
        source=source,
        lines=[
            LineInput(
                today, Decimal("100.00"), "Dell", reference="a", department="Information Technology"
            ),
            LineInput(
                today, Decimal("250.50"), "Dell", reference="b", department="Information Technology"
            ),
            LineInput(today, Decimal("70.00"), "Adobe", reference="d", department="IT-100"),
            LineInput(today, Decimal("5.00"), "Tesco", reference="e"),
        ],
    )
    # A later file writes it differently: the same spend department.
    spend_lines_add(
        source=source,
        lines=[
            LineInput(
                today,
                Decimal("49.50"),
                "Adobe",
                reference="c",
                department="INFORMATION  technology",
            ),
        ],
    )
    return {
        "information technology": SpendDepartment.objects.get(key="information technology"),
        "it-100": SpendDepartment.objects.get(key="it-100"),
        "": SpendDepartment.objects.get(key=""),
    }


def _marketing_cost_centre(org: Org) -> CostCentre:
    return CostCentreFactory.create(
        code="MK-100", name="Campaigns", department=org.other_department
    )


def _rollup_rows() -> list[tuple[object, ...]]:
    return sorted(
        SpendByMonthDepartment.objects.values_list("month", "department_id", "amount", "lines")
    )


# --- The list -----------------------------------------------------------------------------


def test_it_lists_the_departments_to_map_with_their_lines_and_spend(
    org: Org, ledger: dict[str, SpendDepartment]
) -> None:
    response = org.client_for(org.finance).get(LIST)

    assert response.status_code == 200
    rows = {row["sd"].name: row["sd"] for row in response.context["rows"]}
    # The cost centre's code was mapped at import, and the lines that named none are not
    # for review: only the name that matched nothing is left.
    assert list(rows) == ["Information Technology"]
    it = rows["Information Technology"]
    assert (it.line_count, it.total) == (3, Decimal("400.00"))
    assert it.department is None
    body = response.content.decode()
    assert "Information Technology" in body
    assert "400.00" in body
    assert 'action="' + _map_url(ledger["information technology"]) + '"' in body
    assert "IT-100 IT operations" in body  # offered as a cost centre


def test_it_lists_every_department_with_where_it_is_mapped(
    org: Org, ledger: dict[str, SpendDepartment]
) -> None:
    response = org.client_for(org.admin).get(LIST, {"view": "all"})

    assert response.status_code == 200
    rows = {row["sd"].name: row for row in response.context["rows"]}
    assert set(rows) == {"Information Technology", "IT-100", "(no department)"}
    it_100 = rows["IT-100"]["sd"]
    assert (it_100.department, it_100.cost_centre) == (org.department, org.cost_centre)
    assert (it_100.line_count, it_100.total) == (1, Decimal("70.00"))
    # The lines that named no department have nothing to map.
    assert rows["(no department)"]["mappable"] is False
    assert _map_url(ledger[""]) not in response.content.decode()


def test_it_finds_a_department_by_name_and_lists_the_mapped_ones(
    org: Org, ledger: dict[str, SpendDepartment]
) -> None:
    client = org.client_for(org.finance)

    found = client.get(LIST, {"view": "all", "q": "informa"})
    mapped = client.get(LIST, {"view": "mapped"})

    assert [row["sd"].name for row in found.context["rows"]] == ["Information Technology"]
    assert [row["sd"].name for row in mapped.context["rows"]] == ["IT-100"]


def test_the_payees_page_links_to_the_departments_page(org: Org) -> None:
    response = org.client_for(org.finance).get(reverse("payees:list"))

    assert f'href="{LIST}"' in response.content.decode()


# --- Mapping and unmapping ----------------------------------------------------------------


def test_it_maps_a_department_to_a_cost_centre_and_takes_the_cost_centres_department(
    org: Org, ledger: dict[str, SpendDepartment]
) -> None:
    it = ledger["information technology"]
    client = org.client_for(org.finance)

    response = client.post(
        _map_url(it), {"department": "", "cost_centre": org.cost_centre.pk, "view": "review"}
    )

    assert response.status_code == 302
    assert response["Location"] == LIST
    it.refresh_from_db()
    assert (it.department, it.cost_centre) == (org.department, org.cost_centre)
    entry = AuditEntry.objects.get(object_id=it.pk, action="spend_department_mapped")
    assert entry.actor == org.finance
    assert (entry.from_state, entry.to_state) == ("unmapped", "IT-100")
    assert "IT / IT-100 IT operations" in entry.comment
    page = client.get(LIST)
    assert "Information Technology is now IT-100 IT operations (IT)" in page.content.decode()
    # Mapped to a cost centre: no longer on the list to review.
    assert page.context["rows"] == []


def test_it_maps_a_department_and_its_cost_centre_chosen_together(
    org: Org, ledger: dict[str, SpendDepartment]
) -> None:
    it = ledger["information technology"]

    response = org.client_for(org.admin).post(
        _map_url(it),
        {
            "department": org.department.pk,
            "cost_centre": org.cost_centre.pk,
            "view": "all",
            "q": "inf",
        },
    )

    assert response.status_code == 302
    assert response["Location"] == f"{LIST}?view=all&q=inf"
    it.refresh_from_db()
    assert (it.department, it.cost_centre) == (org.department, org.cost_centre)


def test_it_maps_a_department_without_a_cost_centre(
    org: Org, ledger: dict[str, SpendDepartment]
) -> None:
    it = ledger["information technology"]

    org.client_for(org.procurement).post(_map_url(it), {"department": org.department.pk})

    it.refresh_from_db()
    assert (it.department, it.cost_centre) == (org.department, None)
    # Still on the review list: no budget counts its lines until it has a cost centre.
    page = org.client_for(org.finance).get(LIST)
    assert [row["sd"].name for row in page.context["rows"]] == ["Information Technology"]
    assert "no budget counts it" in page.content.decode()


def test_it_moves_a_mapping_and_records_what_it_was(
    org: Org, ledger: dict[str, SpendDepartment]
) -> None:
    it_100 = ledger["it-100"]
    marketing = _marketing_cost_centre(org)

    org.client_for(org.finance).post(_map_url(it_100), {"cost_centre": marketing.pk})

    it_100.refresh_from_db()
    assert (it_100.department, it_100.cost_centre) == (org.other_department, marketing)
    entry = AuditEntry.objects.get(object_id=it_100.pk, action="spend_department_mapped")
    assert (entry.from_state, entry.to_state) == ("IT-100", "MK-100")
    assert "(was IT / IT-100 IT operations)" in entry.comment


def test_mapping_to_what_it_already_is_writes_no_audit_entry(
    org: Org, ledger: dict[str, SpendDepartment]
) -> None:
    spend_department_map(
        spend_department=ledger["it-100"], user=org.finance, cost_centre=org.cost_centre
    )

    assert not AuditEntry.objects.filter(action="spend_department_mapped").exists()


def test_it_unmaps_a_department(org: Org, ledger: dict[str, SpendDepartment]) -> None:
    it_100 = ledger["it-100"]

    response = org.client_for(org.finance).post(_unmap_url(it_100), {"view": "mapped"})

    assert response.status_code == 302
    assert response["Location"] == f"{LIST}?view=mapped"
    it_100.refresh_from_db()
    assert (it_100.department, it_100.cost_centre) == (None, None)
    entry = AuditEntry.objects.get(object_id=it_100.pk, action="spend_department_unmapped")
    assert (entry.actor, entry.from_state, entry.to_state) == (org.finance, "IT-100", "unmapped")
    # Unmapping again changes nothing and records nothing.
    spend_department_unmap(spend_department=it_100, user=org.finance)
    assert AuditEntry.objects.filter(action="spend_department_unmapped").count() == 1


def test_it_leaves_the_rollups_as_they_are_since_they_key_on_the_spend_department(
    org: Org, ledger: dict[str, SpendDepartment]
) -> None:
    before = _rollup_rows()

    spend_department_map(
        spend_department=ledger["information technology"],
        user=org.finance,
        cost_centre=org.cost_centre,
    )
    spend_department_unmap(spend_department=ledger["it-100"], user=org.finance)

    assert _rollup_rows() == before


# --- What a mapping changes elsewhere -----------------------------------------------------


def test_the_cost_centres_budget_counts_the_lines_once_mapped(
    org: Org, ledger: dict[str, SpendDepartment]
) -> None:
    it_budget = budget(org, "10000")
    # Only the line that named the cost centre's code reaches the budget.
    assert budget_consumption(budget=it_budget).actual_spend == Decimal("70.00")

    org.client_for(org.finance).post(
        _map_url(ledger["information technology"]), {"cost_centre": org.cost_centre.pk}
    )

    assert budget_consumption(budget=it_budget).actual_spend == Decimal("470.00")

    org.client_for(org.finance).post(_unmap_url(ledger["information technology"]))

    assert budget_consumption(budget=it_budget).actual_spend == Decimal("70.00")


def test_the_departments_managers_see_the_spend_once_mapped(
    org: Org, ledger: dict[str, SpendDepartment]
) -> None:
    it = ledger["information technology"]
    assert it.pk not in (spend_scope_department_ids(org.manager) or set())

    org.client_for(org.finance).post(_map_url(it), {"department": org.department.pk})

    assert it.pk in (spend_scope_department_ids(org.manager) or set())
    assert it.pk not in (spend_scope_department_ids(org.outsider) or set())


# --- Bad input ----------------------------------------------------------------------------


def test_it_refuses_a_cost_centre_of_another_department_next_to_the_field(
    org: Org, ledger: dict[str, SpendDepartment]
) -> None:
    it = ledger["information technology"]
    marketing = _marketing_cost_centre(org)

    response = org.client_for(org.finance).post(
        _map_url(it), {"department": org.department.pk, "cost_centre": marketing.pk}
    )

    assert response.status_code == 400
    body = response.content.decode()
    assert "Cost centre MK-100 belongs to Marketing, not IT." in body
    assert f'id="sd-{it.pk}-cost-centre-error"' in body
    assert 'aria-invalid="true"' in body
    # The choice is kept, to correct it.
    row = next(r for r in response.context["rows"] if r["sd"].pk == it.pk)
    assert (row["department_id"], row["cost_centre_id"]) == (org.department.pk, marketing.pk)
    it.refresh_from_db()
    assert (it.department, it.cost_centre) == (None, None)
    assert not AuditEntry.objects.filter(object_id=it.pk).exists()


def test_it_asks_for_a_department_or_a_cost_centre(
    org: Org, ledger: dict[str, SpendDepartment]
) -> None:
    it = ledger["information technology"]

    response = org.client_for(org.finance).post(_map_url(it), {"department": "", "cost_centre": ""})

    assert response.status_code == 400
    assert response.context["errors"] == {
        "department": ["Choose a department, a cost centre, or both."]
    }
    assert f'id="sd-{it.pk}-department-error"' in response.content.decode()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("department", "999999", "Choose one of the departments listed."),
        ("department", "abc", "Choose one of the departments listed."),
        ("cost_centre", "999999", "Choose one of the cost centres listed."),
        ("cost_centre", "9" * 30, "Choose one of the cost centres listed."),
    ],
)
def test_it_refuses_a_department_or_cost_centre_that_does_not_exist(
    org: Org, ledger: dict[str, SpendDepartment], field: str, value: str, message: str
) -> None:
    it = ledger["information technology"]

    response = org.client_for(org.finance).post(_map_url(it), {field: value})

    assert response.status_code == 400
    assert response.context["errors"] == {field: [message]}
    it.refresh_from_db()
    assert it.department is None


def test_it_does_not_map_the_lines_that_named_no_department(
    org: Org, ledger: dict[str, SpendDepartment]
) -> None:
    none = ledger[""]

    response = org.client_for(org.finance).post(_map_url(none), {"department": org.department.pk})

    assert response.status_code == 400
    assert "These lines name no department to map." in response.content.decode()
    none.refresh_from_db()
    assert none.department is None
    with pytest.raises(InvalidInput):
        spend_department_map(spend_department=none, user=org.finance, department=org.department)


@pytest.mark.parametrize("pk", [999999, 10**25])
def test_it_answers_404_for_a_spend_department_that_does_not_exist(
    org: Org, ledger: dict[str, SpendDepartment], pk: int
) -> None:
    client = org.client_for(org.finance)

    mapped = client.post(
        reverse("payees:department-map", args=[pk]), {"department": org.department.pk}
    )
    unmapped = client.post(reverse("payees:department-unmap", args=[pk]))

    assert (mapped.status_code, unmapped.status_code) == (404, 404)
    assert not AuditEntry.objects.exists()


# --- Who may, and how ---------------------------------------------------------------------


@pytest.mark.parametrize("who", ["requester", "manager", "head", "outsider", "security", "legal"])
def test_only_procurement_finance_and_admins_see_or_map_spend_departments(
    org: Org, ledger: dict[str, SpendDepartment], who: str
) -> None:
    client = org.client_for(getattr(org, who))
    it_100 = ledger["it-100"]

    assert client.get(LIST).status_code == 403
    assert client.post(_map_url(it_100), {"department": org.other_department.pk}).status_code == 403
    assert client.post(_unmap_url(it_100)).status_code == 403
    it_100.refresh_from_db()
    assert (it_100.department, it_100.cost_centre) == (org.department, org.cost_centre)
    assert not AuditEntry.objects.filter(object_id=it_100.pk).exists()


def test_the_services_refuse_anyone_else(org: Org, ledger: dict[str, SpendDepartment]) -> None:
    with pytest.raises(NotAllowed):
        spend_department_map(
            spend_department=ledger["information technology"],
            user=org.manager,
            department=org.department,
        )
    with pytest.raises(NotAllowed):
        spend_department_unmap(spend_department=ledger["it-100"], user=org.requester)


@pytest.mark.parametrize("who", ["procurement", "finance", "admin"])
def test_procurement_finance_and_admins_open_the_page(org: Org, who: str) -> None:
    response = org.client_for(getattr(org, who)).get(LIST)

    assert response.status_code == 200
    assert "Departments of spend files" in response.content.decode()


def test_it_sends_a_visitor_who_is_not_signed_in_to_log_in(
    org: Org, ledger: dict[str, SpendDepartment]
) -> None:
    client = Client()

    assert client.get(LIST).status_code == 302
    assert client.post(_map_url(ledger["it-100"]), {"department": ""}).status_code == 302
    assert "/login" in client.get(LIST)["Location"]


def test_it_changes_nothing_on_get(org: Org, ledger: dict[str, SpendDepartment]) -> None:
    client = org.client_for(org.finance)
    it_100 = ledger["it-100"]

    assert client.get(_map_url(it_100), {"department": org.other_department.pk}).status_code == 405
    assert client.get(_unmap_url(it_100)).status_code == 405
    it_100.refresh_from_db()
    assert it_100.department == org.department


def test_it_refuses_a_post_without_the_csrf_token(
    org: Org, ledger: dict[str, SpendDepartment]
) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(org.finance)
    it = ledger["information technology"]

    response = client.post(_map_url(it), {"cost_centre": org.cost_centre.pk})

    assert response.status_code == 403
    it.refresh_from_db()
    assert it.department is None
    # The page's forms carry the token.
    assert "csrfmiddlewaretoken" in client.get(LIST).content.decode()
