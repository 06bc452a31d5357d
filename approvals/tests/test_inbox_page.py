"""The Approvals inbox page: what waits for me, how long it has waited, and the nav link."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.utils import timezone

from approvals.inbox import approval_inbox_count
from approvals.models import ApprovalStep
from approvals.selectors import approval_inbox
from approvals.services import approval_step_decide
from approvals.tests.helpers import FINANCE_ABOVE_5K, LINE_MANAGER, policy, submitted
from procurement.models import Role
from requests.tests.page_helpers import page, text

pytestmark = pytest.mark.django_db

LEGAL = {"name": "Legal review", "approver_kind": "role", "approver_role": Role.LEGAL}


def pending_for(days: int, request) -> None:
    ApprovalStep.objects.filter(request=request, state="pending").update(
        activated_at=timezone.now() - dt.timedelta(days=days, hours=2)
    )


def test_it_lists_the_decisions_waiting_for_me_oldest_first_with_their_age(org):
    policy(LINE_MANAGER)
    recent = submitted(org, title="Monitors")
    old = submitted(org, title="Docking stations", total_lines=2)
    pending_for(1, recent)
    pending_for(3, old)

    response = org.client_for(org.manager).get("/approvals/")

    assert response.status_code == 200
    rows = re.findall(r'<tr class="inbox-item.*?</tr>', page(response), re.S)
    assert len(rows) == 2
    first, second = (" ".join(re.sub(r"<[^>]+>", " ", row).split()) for row in rows)
    assert old.reference in first
    assert "Docking stations" in first
    assert "Alice Asker" in first
    assert "5,000.00 GBP" in first
    assert "Line manager" in first
    assert "3 days" in first
    assert recent.reference in second
    assert "1 day" in second
    assert f'href="/requests/{old.pk}/"' in rows[0]


def test_it_shows_only_my_open_steps(org):
    policy(LINE_MANAGER, FINANCE_ABOVE_5K)
    big = submitted(org, total_lines=3)

    # Finance's step waits for the line manager's stage: nothing for finance yet.
    assert "Nothing is waiting for your decision." in text(
        org.client_for(org.finance).get("/approvals/")
    )
    assert big.reference in text(org.client_for(org.manager).get("/approvals/"))
    assert big.reference not in text(org.client_for(org.head).get("/approvals/"))


def test_it_links_to_a_request_page_that_the_approver_can_open(org):
    # Legal sees no requests of its own accord: being asked to decide one lets it in.
    policy(LEGAL)
    request = submitted(org)
    legal = org.client_for(org.legal)

    assert f'href="/requests/{request.pk}/"' in page(legal.get("/approvals/"))
    response = legal.get(f"/requests/{request.pk}/")
    assert response.status_code == 200
    assert "Approve" in text(response)
    assert org.client_for(org.security).get(f"/requests/{request.pk}/").status_code == 404


def test_it_sends_anonymous_visitors_to_sign_in(client):
    response = client.get("/approvals/")

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_it_shows_the_nav_link_with_a_count_only_to_whoever_has_pending_items(org):
    policy(LINE_MANAGER)
    submitted(org)
    submitted(org)

    manager_page = text(org.client_for(org.manager).get("/requests/"))
    requester_page = text(org.client_for(org.requester).get("/requests/"))

    assert "Approvals (2)" in manager_page
    assert "Approvals (" not in requester_page


@pytest.mark.parametrize("count", [5, 50])
def test_it_shows_5_or_50_items_with_the_same_number_of_queries(
    org, count, django_assert_max_num_queries
):
    policy(LINE_MANAGER)
    for _ in range(count):
        submitted(org)
    client = org.client_for(org.manager)

    # session, user, inbox rows, exchange rates (none needed here), the nav's count.
    with django_assert_max_num_queries(5):
        response = client.get("/approvals/")

    assert response.status_code == 200
    assert page(response).count('<tr class="inbox-item') == count


def test_its_nav_count_is_the_number_of_items_in_the_inbox_as_steps_open_and_close(org):
    # The nav's count is plain SQL (it runs on every page); the inbox is the ORM's query.
    policy(LINE_MANAGER, FINANCE_ABOVE_5K)
    big = submitted(org, total_lines=3)
    submitted(org, title="Small one")
    people = (org.manager, org.finance, org.head, org.requester)

    def counts():
        return [(approval_inbox_count(user=u), approval_inbox(user=u).count()) for u in people]

    # Mark has two; finance's step waits for Mark's stage.
    assert counts() == [(2, 2), (0, 0), (0, 0), (0, 0)]

    line = ApprovalStep.objects.get(request=big, name="Line manager")
    approval_step_decide(step_id=line.pk, by=org.manager, action="approve")
    assert counts() == [(1, 1), (1, 1), (0, 0), (0, 0)]
    assert "Approvals (1)" in page(org.client_for(org.finance).get("/requests/"))

    finance = ApprovalStep.objects.get(request=big, name="Finance")
    approval_step_decide(step_id=finance.pk, by=org.finance, action="reject", comment="No")
    assert counts() == [(1, 1), (0, 0), (0, 0), (0, 0)]
