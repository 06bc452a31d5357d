"""The needs board: open needs by default, filters, totals with the supporters, pages."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from planning.needs import need_withdraw
from planning.tests.helpers import objective
from planning.tests.test_need_helpers import post_need, support

pytestmark = pytest.mark.django_db


def titles(response) -> list[str]:
    return [need.title for need in response.context["page"].object_list]


def test_every_signed_in_user_sees_open_needs_soonest_first(org):
    later = post_need(org, title="Printers jam", days=40)
    sooner = post_need(org, title="Rooms too hot", days=10)
    gone = post_need(org, title="Withdrawn one", days=5)
    need_withdraw(need_id=gone.pk, by=org.requester)

    response = org.client_for(org.outsider).get(reverse("needs:board"))

    assert response.status_code == 200
    assert titles(response) == [sooner.title, later.title]


def test_each_row_adds_up_the_departments_people_and_budget_of_those_who_need_it_too(org):
    need = post_need(org, people=10, budget="1000.00")
    support(org, need, people=5, budget="500.00")

    response = org.client_for(org.requester).get(reverse("needs:board"))

    row = response.context["page"].object_list[0]
    assert (row.total_people, row.total_budget) == (15, 1500)
    html = response.content.decode()
    assert re.search(r"IT<span class=\"need-also\">, Marketing</span>", html)
    assert "1,500.00 GBP" in html


def test_it_filters_by_status_department_objective_and_category(org):
    goal = objective(org, name="Hybrid work")
    it_need = post_need(org, title="IT hardware", category="hardware", objective=goal)
    marketing_need = post_need(
        org, by=org.outsider, title="Marketing software", category="software"
    )
    shared = post_need(org, title="Shared by Marketing", category="hardware")
    support(org, shared)
    withdrawn = post_need(org, title="Withdrawn", category="hardware")
    need_withdraw(need_id=withdrawn.pk, by=org.requester)
    client = org.client_for(org.requester)

    def board(**query: str) -> list[str]:
        return titles(client.get(reverse("needs:board"), query))

    assert board(department="marketing") == [marketing_need.title, shared.title]
    assert board(objective=str(goal.pk)) == [it_need.title]
    assert board(category="hardware") == [it_need.title, shared.title]
    assert board(status="withdrawn") == [withdrawn.title]
    assert len(board(status="any")) == 4
    # Unknown values mean no filter, not an error page.
    assert len(board(department="nope", objective="x", status="bogus")) == 3


def test_it_pages_the_board(org):
    for number in range(27):
        post_need(org, title=f"Need {number:02d}")

    client = org.client_for(org.requester)
    first = client.get(reverse("needs:board"))
    second = client.get(reverse("needs:board"), {"page": "2"})

    assert len(first.context["page"].object_list) == 25
    assert len(second.context["page"].object_list) == 2
    assert "Page 1 of 2" in first.content.decode()


def test_only_procurement_gets_checkboxes_to_consolidate(org):
    post_need(org)

    requester_page = org.client_for(org.requester).get(reverse("needs:board")).content.decode()
    procurement_page = org.client_for(org.procurement).get(reverse("needs:board")).content.decode()

    assert 'name="needs"' not in requester_page
    assert 'name="needs"' in procurement_page
    assert reverse("needs:consolidate") in procurement_page


def test_the_need_page_shows_the_problem_supports_and_comments(org):
    need = post_need(org, people=10, budget="1000.00")
    support(org, need, people=5, budget="500.00")
    client = org.client_for(org.outsider)
    client.post(
        reverse("needs:comment", args=[need.pk]),
        {"comment-kind": "alternative", "comment-body": "A shared licence would do."},
    )

    response = client.get(reverse("needs:detail", args=[need.pk]))

    html = response.content.decode()
    assert response.status_code == 200
    assert "Remote colleagues cannot hear the room." in html
    assert "Same in our rooms." in html
    assert "suggested an alternative" in html
    assert "A shared licence would do." in html
    assert "1,500.00 GBP" in html
    # Marketing already joined: Otto is not offered "we need this too" again.
    assert 'id="support-form"' not in html


def test_an_unknown_need_is_a_404(org):
    response = org.client_for(org.requester).get(reverse("needs:detail", args=[999]))

    assert response.status_code == 404
