"""The objectives pages: everybody signed in reads them; the list is the report of what each
objective has committed and spent (with CSV and XLSX), shown to those who may see the
figures; finance and admins set objectives, edit them and change their status (audited);
anyone else gets 403 on those forms."""

from __future__ import annotations

import csv
import io
import re
from decimal import Decimal

import pytest

from analytics.tests.test_it_exports_spend import xlsx_sheets
from planning.tests.helpers import objective, this_year
from procurement.models import AuditEntry, FiscalYear, Objective, ObjectiveStatus
from requests.tests.page_helpers import field_error
from sourcing.tests.helpers import approved_request

pytestmark = pytest.mark.django_db


def text(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


def form_data(org, **overrides) -> dict[str, str]:
    data = {
        "name": "Cut printing costs",
        "description": "Half the pages by year end.",
        "fiscal_year": str(this_year().pk),
        "department": str(org.department.pk),
        "owner": str(org.head.pk),
        "status": "active",
    }
    data.update(overrides)
    return data


# --- Reading ---------------------------------------------------------------------------------


def test_every_signed_in_user_reads_the_objectives(org):
    objective(org)
    objective(org, name="Grow in the Nordics", department=org.other_department)

    for user in (org.requester, org.outsider, org.legal):
        page = org.client_for(user).get("/planning/objectives/")
        assert page.status_code == 200
        assert "Move finance workloads to the cloud" in text(page)
        assert "Grow in the Nordics" in text(page)


def test_it_sends_anonymous_visitors_to_log_in(client):
    response = client.get("/planning/objectives/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_it_shows_finance_what_each_objective_committed_and_how_many_requests(org):
    goal = objective(org)
    approved_request(org, objective=goal, no_objective_reason="")

    page = text(org.client_for(org.finance).get("/planning/objectives/"))

    assert "Committed (GBP)" in page
    row = re.search(r"Move finance workloads to the cloud (.*?) Total", page)
    assert row
    assert "Active 1 2,500.00 0.00 2,500.00" in row.group(1)


def test_it_keeps_the_figures_from_a_requester(org):
    goal = objective(org)
    approved_request(org, objective=goal, no_objective_reason="")

    page = text(org.client_for(org.requester).get("/planning/objectives/"))

    assert "Move finance workloads to the cloud" in page
    assert "2,500.00" not in page
    assert "Committed" not in page


def test_a_department_head_sees_the_figures_of_their_departments_objectives_only(org):
    ours = objective(org, name="Replace old laptops", department=org.department, owner=org.finance)
    theirs = objective(org, name="Rebrand", department=org.other_department, owner=org.finance)
    approved_request(org, objective=ours, no_objective_reason="")

    page = text(org.client_for(org.head).get("/planning/objectives/"))

    assert re.search(r"Replace old laptops .*? 1 2,500\.00", page)
    assert re.search(r"Rebrand .*? Not yours to see", page)
    assert theirs.pk


def test_it_filters_by_year_department_and_status(org):
    current = this_year()
    earlier = FiscalYear.objects.create(
        name="FY2001", starts_on="2000-04-01", ends_on="2001-03-31", is_closed=True
    )
    objective(org, name="Cloud", fiscal_year=current)
    objective(org, name="Laptops", fiscal_year=current, department=org.department)
    objective(org, name="Old goal", fiscal_year=earlier, status=ObjectiveStatus.ACHIEVED)
    client = org.client_for(org.finance)

    def names(query: str) -> list[str]:
        page = client.get(f"/planning/objectives/?{query}").content.decode()
        return re.findall(r'href="/planning/objectives/\d+/">([^<]+)</a>', page)

    assert names(f"year={earlier.pk}") == ["Old goal"]
    assert names(f"department={org.department.pk}") == ["Laptops"]
    assert names("department=company") == ["Cloud", "Old goal"]
    assert names("status=achieved") == ["Old goal"]
    assert names("status=active&department=company") == ["Cloud"]


def test_it_says_which_filter_is_wrong(org):
    response = org.client_for(org.finance).get("/planning/objectives/?status=forgotten")

    assert response.status_code == 400
    assert "Select a valid choice" in field_error(response, "id_status")


def test_it_exports_the_report_as_csv_and_xlsx(org):
    goal = objective(org)
    objective(org, name="=HYPERLINK(evil)")
    approved_request(org, objective=goal, no_objective_reason="")
    client = org.client_for(org.finance)

    response = client.get("/planning/objectives/?format=csv")
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0][:6] == ["Objective", "Fiscal year", "Department", "Owner", "Status", "Requests"]
    by_name = {row[0]: row for row in rows[1:]}
    assert by_name["Move finance workloads to the cloud"][5:] == [
        "1",
        "2500.00",
        "0.00",
        "2500.00",
        "0.00",
        "2500.00",
    ]
    assert "'=HYPERLINK(evil)" in by_name  # never run as a formula

    sheet = xlsx_sheets(client.get("/planning/objectives/?format=xlsx"))["Spend per objective"]
    assert sheet[0][0] == "Objective"
    assert [Decimal(row[8]) for row in sheet[1:] if row[0] == goal.name] == [Decimal("2500")]


def test_an_export_for_a_requester_has_no_figures(org):
    goal = objective(org)
    approved_request(org, objective=goal, no_objective_reason="")

    response = org.client_for(org.requester).get("/planning/objectives/?format=csv")

    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[1][:5] == [
        "Move finance workloads to the cloud",
        this_year().name,
        "Company-wide",
        "Hana Head",
        "Active",
    ]
    assert rows[1][5:] == ["", "", "", "", "", ""]


def test_the_objective_page_lists_the_requests_the_reader_may_see(org):
    goal = objective(org)
    request = approved_request(org, objective=goal, no_objective_reason="")

    own = text(org.client_for(org.requester).get(f"/planning/objectives/{goal.pk}/"))
    assert request.reference in own
    assert "Committed and spent" not in own  # figures are not the requester's

    other = text(org.client_for(org.outsider).get(f"/planning/objectives/{goal.pk}/"))
    assert request.reference not in other
    assert "No submitted request you may see serves it yet." in other

    finance = text(org.client_for(org.finance).get(f"/planning/objectives/{goal.pk}/"))
    assert request.reference in finance
    assert "Committed GBP 2,500.00" in finance


def test_an_unknown_objective_is_a_404(org):
    assert org.client_for(org.finance).get("/planning/objectives/999999/").status_code == 404


# --- Setting and changing ----------------------------------------------------------------------


def test_finance_sets_an_objective_and_it_is_audited(org):
    response = org.client_for(org.finance).post("/planning/objectives/new/", form_data(org))

    created = Objective.objects.get(name="Cut printing costs")
    assert response.status_code == 302
    assert response["Location"] == f"/planning/objectives/{created.pk}/"
    assert (created.department, created.owner, created.status) == (
        org.department,
        org.head,
        "active",
    )
    entry = AuditEntry.objects.get(object_id=created.pk, action="objective_created")
    assert entry.actor == org.finance


def test_an_empty_department_makes_it_company_wide(org):
    org.client_for(org.admin).post("/planning/objectives/new/", form_data(org, department=""))

    assert Objective.objects.get(name="Cut printing costs").department is None


@pytest.mark.parametrize("who", ["requester", "manager", "head", "procurement", "outsider"])
def test_only_finance_and_admins_may_set_or_edit_objectives(org, who):
    goal = objective(org)
    client = org.client_for(getattr(org, who))

    assert client.get("/planning/objectives/new/").status_code == 403
    assert client.post("/planning/objectives/new/", form_data(org)).status_code == 403
    assert client.get(f"/planning/objectives/{goal.pk}/edit/").status_code == 403
    assert (
        client.post(f"/planning/objectives/{goal.pk}/status/", {"status": "dropped"}).status_code
        == 403
    )
    assert not Objective.objects.filter(name="Cut printing costs").exists()
    assert Objective.objects.get(pk=goal.pk).status == "active"


def test_it_refuses_a_duplicate_name_in_the_same_year_next_to_the_name(org):
    objective(org, name="Cut printing costs")

    response = org.client_for(org.finance).post(
        "/planning/objectives/new/", form_data(org, name="cut printing  COSTS")
    )

    assert response.status_code == 400
    assert field_error(response, "id_name") == (
        f'There is already an objective "cut printing COSTS" in {this_year().name}.'
    )


def test_it_refuses_a_closed_year_and_a_blank_name_next_to_their_fields(org):
    closed = FiscalYear.objects.create(
        name="FY2001", starts_on="2000-04-01", ends_on="2001-03-31", is_closed=True
    )

    response = org.client_for(org.finance).post(
        "/planning/objectives/new/", form_data(org, name="   ", fiscal_year=str(closed.pk))
    )

    assert response.status_code == 400
    assert field_error(response, "id_name") == "This field is required."
    assert "Select a valid choice" in field_error(response, "id_fiscal_year")
    assert Objective.objects.count() == 0


def test_finance_edits_an_objective_and_the_change_is_audited(org):
    goal = objective(org)

    response = org.client_for(org.finance).post(
        f"/planning/objectives/{goal.pk}/edit/",
        form_data(
            org, name="Move every workload to the cloud", department="", owner=str(org.finance.pk)
        ),
    )

    assert response.status_code == 302
    goal.refresh_from_db()
    assert (goal.name, goal.owner) == ("Move every workload to the cloud", org.finance)
    entry = AuditEntry.objects.get(object_id=goal.pk, action="objective_updated")
    assert entry.comment == "Changed: name, description, owner."


def test_it_keeps_the_department_of_an_objective_requests_already_serve(org):
    goal = objective(org, department=org.department)
    approved_request(org, objective=goal, no_objective_reason="")

    response = org.client_for(org.finance).post(
        f"/planning/objectives/{goal.pk}/edit/",
        form_data(org, name=goal.name, department=str(org.other_department.pk)),
    )

    assert response.status_code == 400
    assert field_error(response, "id_department").startswith(
        "Already named by 1 request: its year and department stay as they are."
    )
    goal.refresh_from_db()
    assert goal.department == org.department


def test_finance_drops_an_objective_and_the_status_change_is_audited(org):
    goal = objective(org)

    response = org.client_for(org.finance).post(
        f"/planning/objectives/{goal.pk}/status/",
        {"status": "dropped", "comment": "Cloud provider contract fell through"},
    )

    assert response.status_code == 302
    goal.refresh_from_db()
    assert goal.status == "dropped"
    entry = AuditEntry.objects.get(object_id=goal.pk, action="objective_status")
    assert (entry.from_state, entry.to_state, entry.actor, entry.comment) == (
        "active",
        "dropped",
        org.finance,
        "Cloud provider contract fell through",
    )
    page = text(org.client_for(org.finance).get(f"/planning/objectives/{goal.pk}/"))
    assert "status active → dropped" in page


def test_it_refuses_a_status_an_objective_already_has(org):
    goal = objective(org)

    response = org.client_for(org.finance).post(
        f"/planning/objectives/{goal.pk}/status/", {"status": "active"}
    )

    assert response.status_code == 400
    assert "is already active" in field_error(response, "id_status")
    assert not AuditEntry.objects.filter(object_id=goal.pk, action="objective_status").exists()


def test_the_status_form_takes_no_get(org):
    goal = objective(org)

    response = org.client_for(org.finance).get(f"/planning/objectives/{goal.pk}/status/")

    assert response.status_code == 405


def test_the_forms_keep_csrf_protection(org):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(org.finance)

    response = client.post("/planning/objectives/new/", form_data(org))

    assert response.status_code == 403
    assert not Objective.objects.exists()
