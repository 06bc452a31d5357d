"""Fiscal years and objectives in the admin: years never overlap (FiscalYear.clean), and a
change to an objective made there is audited like one made on its page."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError

from planning.tests.helpers import objective
from procurement.models import AuditEntry, FiscalYear

pytestmark = pytest.mark.django_db


def fy2027() -> FiscalYear:
    return FiscalYear.objects.create(
        name="FY2027", starts_on=dt.date(2026, 4, 1), ends_on=dt.date(2027, 3, 31)
    )


@pytest.mark.parametrize(
    ("starts_on", "ends_on"),
    [
        (dt.date(2027, 3, 31), dt.date(2028, 3, 30)),  # starts on the last day of FY2027
        (dt.date(2025, 4, 1), dt.date(2026, 4, 1)),  # ends on its first day
        (dt.date(2026, 6, 1), dt.date(2026, 12, 31)),  # inside it
        (dt.date(2026, 1, 1), dt.date(2027, 12, 31)),  # around it
    ],
)
def test_it_refuses_a_year_overlapping_another(db, starts_on, ends_on):
    fy2027()
    year = FiscalYear(name="FY2028", starts_on=starts_on, ends_on=ends_on)

    with pytest.raises(ValidationError, match="FY2028 overlaps FY2027"):
        year.full_clean()


def test_it_takes_the_next_year_starting_the_day_after(db):
    fy2027()
    year = FiscalYear(name="FY2028", starts_on=dt.date(2027, 4, 1), ends_on=dt.date(2028, 3, 31))

    year.full_clean()  # no error


def test_a_year_may_be_saved_again_without_overlapping_itself(db):
    year = fy2027()
    year.is_closed = True

    year.full_clean()  # no error


def test_it_refuses_a_year_ending_before_it_starts(db):
    year = FiscalYear(name="FY2028", starts_on=dt.date(2028, 3, 31), ends_on=dt.date(2027, 4, 1))

    with pytest.raises(ValidationError) as error:
        year.full_clean()

    assert error.value.message_dict["ends_on"] == ["A fiscal year ends after it starts."]


def test_the_admin_refuses_an_overlapping_year_and_says_why(org):
    fy2027()

    response = org.client_for(org.admin).post(
        "/admin/procurement/fiscalyear/add/",
        {"name": "FY2028", "starts_on": "2027-01-01", "ends_on": "2027-12-31"},
    )

    assert response.status_code == 200  # the form again, with the error
    assert "FY2028 overlaps FY2027 (01 Apr 2026 to 31 Mar 2027)" in response.content.decode()
    assert not FiscalYear.objects.filter(name="FY2028").exists()


def test_the_admin_adds_a_year_and_closes_it_audited(org):
    client = org.client_for(org.admin)

    client.post(
        "/admin/procurement/fiscalyear/add/",
        {"name": "FY2028", "starts_on": "2027-04-01", "ends_on": "2028-03-31"},
    )
    year = FiscalYear.objects.get(name="FY2028")
    client.post(
        f"/admin/procurement/fiscalyear/{year.pk}/change/",
        {"name": "FY2028", "starts_on": "2027-04-01", "ends_on": "2028-03-31", "is_closed": "on"},
    )

    year.refresh_from_db()
    assert year.is_closed
    assert AuditEntry.objects.filter(object_id=year.pk, action="fiscal_year_closed").count() == 1


@pytest.mark.parametrize("model", ["fiscalyear", "objective"])
def test_the_admin_lists_years_and_objectives(org, model):
    objective(org)

    assert org.client_for(org.admin).get(f"/admin/procurement/{model}/").status_code == 200
    assert org.client_for(org.finance).get(f"/admin/procurement/{model}/").status_code == 302


def test_a_status_changed_in_the_admin_is_audited(org):
    goal = objective(org)

    response = org.client_for(org.admin).post(
        f"/admin/procurement/objective/{goal.pk}/change/",
        {
            "name": goal.name,
            "description": "",
            "owner": org.head.pk,
            "fiscal_year": goal.fiscal_year_id,
            "department": "",
            "status": "achieved",
        },
    )

    assert response.status_code == 302
    entry = AuditEntry.objects.get(object_id=goal.pk, action="objective_status")
    assert (entry.from_state, entry.to_state, entry.actor) == ("active", "achieved", org.admin)
