"""Who sees which request: the rule every page and endpoint goes through."""

from __future__ import annotations

import pytest

from requests.selectors import (
    RequestFilters,
    purchase_request_available_actions,
    purchase_request_get,
    purchase_request_list,
    purchase_request_visible_to,
)
from requests.services import comment_create
from requests.tests.helpers import draft_for, request_in_state
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def visible(user):
    return set(purchase_request_visible_to(user).values_list("pk", flat=True))


def test_it_shows_requesters_only_their_own_requests(org):
    mine = draft_for(org)
    theirs = draft_for(org, requester=org.outsider, department=org.other_department)

    assert visible(org.requester) == {mine.pk}
    assert visible(org.outsider) == {theirs.pk}


def test_it_shows_line_managers_and_department_heads_their_people_s_requests(org):
    mine = draft_for(org)
    draft_for(org, requester=org.outsider, department=org.other_department)

    assert visible(org.manager) == {mine.pk}
    assert visible(org.head) == {mine.pk}


@pytest.mark.parametrize("who", ["procurement", "finance", "admin"])
def test_it_shows_everything_to_procurement_finance_and_admins(org, who):
    mine = draft_for(org)
    theirs = draft_for(org, requester=org.outsider, department=org.other_department)

    assert visible(getattr(org, who)) == {mine.pk, theirs.pk}


@pytest.mark.parametrize("who", ["security", "legal", "outsider"])
def test_it_hides_requests_from_everyone_else(org, who):
    mine = draft_for(org)
    assert mine.pk not in visible(getattr(org, who))
    assert purchase_request_get(user=getattr(org, who), request_id=mine.pk) is None


def test_it_shows_a_request_to_a_colleague_mentioned_on_it(org):
    request = draft_for(org)
    comment_create(
        request_id=request.pk, by=org.requester, body="@lee can you check the licence terms?"
    )

    assert request.pk in visible(org.legal)
    assert request.pk not in visible(org.security)


def test_it_hides_everything_from_deactivated_users(org):
    request = draft_for(org)
    org.requester.is_active = False
    org.requester.save()
    assert request.pk not in visible(org.requester)


def test_it_filters_the_list(org):
    submitted = request_in_state(org, "submitted")
    draft = draft_for(org, title="Headsets for support")
    someone = UserFactory(username="bob", manager=org.manager, department=org.department)
    theirs = draft_for(org, requester=someone)

    def listed(**filters):
        return [
            r.pk for r in purchase_request_list(user=org.manager, filters=RequestFilters(**filters))
        ]

    assert set(listed()) == {submitted.pk, draft.pk, theirs.pk}
    assert listed(state="submitted") == [submitted.pk]
    assert listed(q="headsets") == [draft.pk]
    assert listed(q=submitted.reference) == [submitted.pk]
    assert listed(scope="mine") == []
    assert listed(department="marketing") == []


def test_it_offers_each_user_only_the_actions_they_may_take(org):
    request = request_in_state(org, "submitted")

    assert purchase_request_available_actions(request=request, user=org.requester) == ["cancel"]
    assert purchase_request_available_actions(request=request, user=org.manager) == [
        "approve",
        "reject",
        "return",
    ]
    assert purchase_request_available_actions(request=request, user=org.procurement) == [
        "return",
        "cancel",
    ]


def test_it_lets_a_user_see_more_as_soon_as_they_gain_a_report_or_a_department(org):
    # Which arms apply is asked afresh on every call, never remembered on the user.
    theirs = draft_for(org, requester=org.outsider, department=org.other_department)
    colleague = UserFactory(username="kim", department=org.other_department)
    assert theirs.pk not in visible(colleague)

    org.outsider.manager = colleague
    org.outsider.save(update_fields=["manager"])
    assert theirs.pk in visible(colleague)

    org.outsider.manager = None
    org.outsider.save(update_fields=["manager"])
    org.other_department.head = colleague
    org.other_department.save(update_fields=["head"])
    assert theirs.pk in visible(colleague)


def test_it_asks_only_the_requester_column_for_someone_with_nothing_else_to_see(org):
    # Staff who manage no one, head nothing, are mentioned nowhere and approve nothing are
    # most users: their lists must be a plain index read, not an OR of subqueries that makes
    # PostgreSQL read every request (docs/benchmarks.md, "Web under load").
    plain = str(purchase_request_visible_to(org.requester).query)
    assert "SELECT" not in plain.split("WHERE", 1)[1]

    manager = str(purchase_request_visible_to(org.manager).query)
    assert "manager_id" in manager.split("WHERE", 1)[1]
