"""Posting, editing and withdrawing a need: who may, what is refused, what is audited."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from planning.models import Need, NeedStatus
from planning.needs import NeedInput, need_create, need_update, need_withdraw
from planning.tests.helpers import objective
from planning.tests.test_need_helpers import in_days, post_need
from procurement.errors import Conflict, InvalidInput, NotAllowed
from procurement.models import AuditEntry, ObjectiveStatus

pytestmark = pytest.mark.django_db


def form_data(**changes: object) -> dict[str, object]:
    data: dict[str, object] = {
        "title": "Video calls drop in the meeting rooms",
        "problem": "Remote colleagues cannot hear the room.",
        "people_affected": "12",
        "needed_by": in_days(20).isoformat(),
        "rough_budget": "2500.00",
        "objective": "",
        "category": "",
    }
    data.update(changes)
    return data


def test_it_posts_a_need_for_the_posters_department_from_the_page(org):
    client = org.client_for(org.requester)

    response = client.post(
        reverse("needs:create"), form_data(department=org.department.pk), follow=True
    )

    need = Need.objects.get()
    assert response.redirect_chain[-1][0] == reverse("needs:detail", args=[need.pk])
    assert (need.department, need.created_by, need.status) == (
        org.department,
        org.requester,
        NeedStatus.OPEN,
    )
    assert need.rough_budget == Decimal("2500.00")
    assert "posted to the needs board" in response.content.decode()
    entry = AuditEntry.objects.get(object_id=need.pk, action="need_posted")
    assert entry.actor == org.requester
    assert entry.to_state == NeedStatus.OPEN


def test_it_shows_a_negative_budget_and_a_past_date_next_to_their_fields(org):
    client = org.client_for(org.requester)

    response = client.post(
        reverse("needs:create"),
        form_data(
            department=org.department.pk,
            rough_budget="-5",
            needed_by=in_days(-1).isoformat(),
        ),
    )

    assert response.status_code == 400
    form = response.context["form"]
    assert form.errors["rough_budget"] == [
        "A rough budget cannot be negative (0 when you cannot guess)."
    ]
    assert form.errors["needed_by"] == ["The needed-by date cannot be in the past."]
    assert not Need.objects.exists()


def test_it_refuses_an_objective_of_another_department(org):
    marketing_goal = objective(
        org, name="Launch the spring campaign", department=org.other_department
    )

    with pytest.raises(InvalidInput) as refused:
        post_need(org, by=org.procurement, department=org.department, objective=marketing_goal)

    assert refused.value.fields["objective"] == [
        '"Launch the spring campaign" is an objective of Marketing, not of IT. Choose one of '
        "IT's or a company-wide objective."
    ]
    assert not Need.objects.exists()


def test_it_shows_an_objective_of_another_department_next_to_the_field(org):
    marketing_goal = objective(
        org, name="Launch the spring campaign", department=org.other_department
    )
    client = org.client_for(org.procurement)

    response = client.post(
        reverse("needs:create"),
        form_data(department=org.department.pk, objective=marketing_goal.pk),
    )

    assert response.status_code == 400
    assert (
        "is an objective of Marketing, not of IT" in response.context["form"].errors["objective"][0]
    )


def test_it_takes_an_open_company_wide_objective_and_refuses_a_closed_one(org):
    company = objective(org, name="Hybrid work")
    achieved = objective(org, name="Old goal", status=ObjectiveStatus.ACHIEVED)

    need = post_need(org, objective=company)
    with pytest.raises(InvalidInput, match="achieved; choose an open objective"):
        post_need(org, title="Another", objective=achieved)

    assert need.objective == company


def test_it_refuses_a_need_for_another_department_unless_procurement_posts_it(org):
    with pytest.raises(NotAllowed, match=r"only for your own department \(IT\)"):
        post_need(org, department=org.other_department)

    need = post_need(org, by=org.procurement, department=org.other_department)

    assert need.department == org.other_department


def test_it_refuses_someone_without_a_department(org):
    org.security.department = None
    org.security.save()

    with pytest.raises(NotAllowed, match="belong to no department"):
        post_need(org, by=org.security, department=org.department)
    response = org.client_for(org.security).get(reverse("needs:create"))

    assert response.status_code == 403


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("people_affected", 0, "At least one person must be affected."),
        ("rough_budget", Decimal("1000000000.01"), "at most 1,000,000,000.00 GBP"),
        ("rough_budget", Decimal("10.001"), "in cents at most"),
        ("title", "   ", "Give the need a title."),
        ("problem", "", "Describe the problem"),
    ],
)
def test_it_refuses_bad_numbers_and_empty_text(org, field, value, message):
    data = {
        "title": "Printers",
        "problem": "They jam.",
        "department": org.department,
        "people_affected": 3,
        "needed_by": in_days(10),
        "rough_budget": Decimal("100"),
        field: value,
    }

    with pytest.raises(InvalidInput) as refused:
        need_create(data=NeedInput(**data), by=org.requester)

    assert message in refused.value.fields[field][0]


def test_its_poster_edits_it_and_the_change_of_money_is_audited(org):
    need = post_need(org, budget="1000.00")
    client = org.client_for(org.requester)

    response = client.post(
        reverse("needs:edit", args=[need.pk]),
        form_data(department=org.department.pk, rough_budget="1800.00"),
    )

    assert response.status_code == 302
    need.refresh_from_db()
    assert need.rough_budget == Decimal("1800.00")
    entry = AuditEntry.objects.get(object_id=need.pk, action="need_edited")
    assert "rough budget: 1,800.00 GBP" in entry.comment


def test_someone_else_cannot_edit_or_withdraw_it_but_procurement_can(org):
    need = post_need(org)

    edit_page = org.client_for(org.outsider).get(reverse("needs:edit", args=[need.pk]))
    with pytest.raises(NotAllowed):
        need_withdraw(need_id=need.pk, by=org.manager)
    need_withdraw(need_id=need.pk, by=org.procurement, reason="Covered by the new office")

    assert edit_page.status_code == 403
    need.refresh_from_db()
    assert need.status == NeedStatus.WITHDRAWN
    entry = AuditEntry.objects.get(object_id=need.pk, action="need_withdrawn")
    assert (entry.from_state, entry.to_state) == (NeedStatus.OPEN, NeedStatus.WITHDRAWN)


def test_a_withdrawn_need_cannot_be_edited_or_withdrawn_again(org):
    need = post_need(org)
    client = org.client_for(org.requester)
    client.post(reverse("needs:withdraw", args=[need.pk]), {"reason": ""})

    again = client.post(reverse("needs:withdraw", args=[need.pk]), {"reason": ""})
    with pytest.raises(Conflict, match="withdrawn; only an open need can be edited"):
        need_update(
            need_id=need.pk,
            by=org.requester,
            data=NeedInput(
                title="x",
                problem="y",
                department=org.department,
                people_affected=1,
                needed_by=in_days(3),
                rough_budget=Decimal("1"),
            ),
        )

    assert again.status_code == 409
    assert "only an open need can be withdrawn" in again.content.decode()
    assert AuditEntry.objects.filter(object_id=need.pk, action="need_withdrawn").count() == 1


def test_withdrawing_is_a_post(org):
    need = post_need(org)

    response = org.client_for(org.requester).get(reverse("needs:withdraw", args=[need.pk]))

    assert response.status_code == 405
    need.refresh_from_db()
    assert need.status == NeedStatus.OPEN


def test_the_pages_need_a_signed_in_user(org, client):
    need = post_need(org)

    for url in [reverse("needs:board"), reverse("needs:detail", args=[need.pk])]:
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))
