"""The request page shows the whole approval route, its buttons to the right people, and a
timeline that reads well."""

from __future__ import annotations

import re

import pytest

from approvals.models import ApprovalStep
from approvals.selectors import approval_route_table
from approvals.services import approval_step_decide
from approvals.tests.helpers import FINANCE_ABOVE_5K, LINE_MANAGER, policy, submitted
from procurement.models import Role
from requests.models import PurchaseRequest
from requests.services import purchase_request_transition
from requests.tests.page_helpers import flash_messages, page, text
from tests.factories import PurchaseRequestFactory, UserFactory

pytestmark = pytest.mark.django_db


def route_rows(response) -> list[str]:
    rows = re.findall(r'<tr class="route-step.*?</tr>', page(response), re.S)
    return [" ".join(re.sub(r"<[^>]+>", " ", row).split()) for row in rows]


def step_named(request, name) -> ApprovalStep:
    return ApprovalStep.objects.get(request=request, name=name)


def buttons(response) -> list[str]:
    return re.findall(r'<form method="post" action="/requests/\d+/actions/(\w+)/"', page(response))


def test_it_shows_every_step_with_its_stage_mode_state_approvers_and_decisions(org):
    UserFactory.create(username="frank", first_name="Frank", roles=[Role.FINANCE])
    UserFactory.create(username="lena", first_name="Lena", roles=[Role.LEGAL])
    UserFactory.create(username="lou", first_name="Lou", roles=[Role.LEGAL])
    policy(
        LINE_MANAGER,
        {
            "name": "Legal pair",
            "approver_kind": "role",
            "approver_role": Role.LEGAL,
            "mode": "n_of_m",
            "required_approvals": 2,
        },
        FINANCE_ABOVE_5K,
        {
            "name": "All security",
            "approver_kind": "role",
            "approver_role": Role.SECURITY_REVIEWER,
            "mode": "all",
            "stage": 3,
        },
    )
    request = submitted(org, total_lines=3)
    approval_step_decide(
        step_id=step_named(request, "Line manager").pk,
        by=org.manager,
        action="approve",
        comment="Fine by me",
    )

    response = org.client_for(org.requester).get(f"/requests/{request.pk}/")

    assert "Approval route" in text(response)
    line, legal, finance, security = route_rows(response)
    assert line.startswith("1 Line manager one approver Approved by Mark Manager")
    assert "Mark Manager: approved" in line
    assert "Fine by me" in line
    assert legal.startswith("1 Legal pair 2 of 3 Pending since")
    assert "Lee Legal: pending" in legal
    assert finance.startswith("2 Finance any 1 of 2 Waiting for an earlier stage")
    assert "Fiona Finance: pending" in finance
    assert security.startswith("3 All security one approver Waiting")


def test_it_shows_all_of_a_group(org):
    UserFactory.create(username="sue", first_name="Sue", roles=[Role.SECURITY_REVIEWER])
    policy(
        {
            "name": "Security",
            "approver_kind": "role",
            "approver_role": Role.SECURITY_REVIEWER,
            "mode": "all",
        }
    )
    request = submitted(org)

    (security,) = route_rows(org.client_for(org.requester).get(f"/requests/{request.pk}/"))

    assert security.startswith("1 Security all of 2 Pending")


def test_it_shows_a_rejection_with_who_and_why(org):
    policy(LINE_MANAGER)
    request = submitted(org)
    approval_step_decide(
        step_id=step_named(request, "Line manager").pk,
        by=org.manager,
        action="reject",
        comment="Buy refurbished instead",
    )

    (line,) = route_rows(org.client_for(org.requester).get(f"/requests/{request.pk}/"))

    assert line.startswith("1 Line manager one approver Rejected by Mark Manager")
    assert "Buy refurbished instead" in line


def test_it_shows_no_route_before_the_first_submission(org):
    draft = PurchaseRequestFactory.create(
        requester=org.requester, department=org.department, cost_centre=org.cost_centre
    )

    response = org.client_for(org.requester).get(f"/requests/{draft.pk}/")

    assert response.status_code == 200
    assert "Approval route" not in text(response)


def test_it_shows_the_decision_buttons_to_the_current_steps_approvers_only(org):
    policy(LINE_MANAGER, FINANCE_ABOVE_5K)
    request = submitted(org, total_lines=3)
    url = f"/requests/{request.pk}/"

    assert {"approve", "reject", "return"} <= set(buttons(org.client_for(org.manager).get(url)))
    # Finance sees every request, but its stage is not open yet.
    assert not {"approve", "reject"} & set(buttons(org.client_for(org.finance).get(url)))
    assert not {"approve", "reject"} & set(buttons(org.client_for(org.head).get(url)))
    assert not {"approve", "reject"} & set(buttons(org.client_for(org.requester).get(url)))

    approval_step_decide(
        step_id=step_named(request, "Line manager").pk, by=org.manager, action="approve"
    )

    assert {"approve", "reject", "return"} <= set(buttons(org.client_for(org.finance).get(url)))
    assert not {"approve", "reject"} & set(buttons(org.client_for(org.manager).get(url)))


def test_it_decides_the_callers_step_from_the_request_page(org):
    # Legal can neither see other requests nor approve them: only the step it is asked.
    policy(LINE_MANAGER, {"name": "Legal", "approver_kind": "role", "approver_role": Role.LEGAL})
    request = submitted(org)
    legal = org.client_for(org.legal)

    response = legal.post(f"/requests/{request.pk}/actions/approve/", {"comment": "Terms OK"})

    assert response.status_code == 302
    assert flash_messages(response) == [f"{request.reference} approved."]
    assert step_named(request, "Legal").state == "approved"
    assert step_named(request, "Line manager").state == "pending"
    assert PurchaseRequest.objects.get(pk=request.pk).state == "pending_approval"
    _line, legal_row = route_rows(legal.get(f"/requests/{request.pk}/"))
    assert "Lee Legal (you): approved" in legal_row
    assert "Terms OK" in legal_row


def test_it_keeps_requests_hidden_from_people_who_are_not_asked(org):
    policy({"name": "Legal", "approver_kind": "role", "approver_role": Role.LEGAL})
    request = submitted(org)

    assert org.client_for(org.security).get(f"/requests/{request.pk}/").status_code == 404
    assert org.client_for(org.outsider).get(f"/requests/{request.pk}/").status_code == 404
    response = org.client_for(org.security).post(f"/requests/{request.pk}/actions/approve/")
    assert response.status_code == 404
    assert step_named(request, "Legal").state == "pending"


def test_it_tells_the_approval_story_on_the_timeline(org):
    policy(LINE_MANAGER, FINANCE_ABOVE_5K)
    request = submitted(org, total_lines=3)
    approval_step_decide(
        step_id=step_named(request, "Line manager").pk, by=org.manager, action="approve"
    )
    approval_step_decide(
        step_id=step_named(request, "Finance").pk,
        by=org.finance,
        action="return",
        comment="Split it by quarter",
    )

    timeline = text(org.client_for(org.requester).get(f"/requests/{request.pk}/")).split(
        "Timeline", 1
    )[1]

    assert "Alice Asker sent it for approval: Policy: Test policy" in timeline
    assert "Mark Manager approved the step: Line manager" in timeline
    # A return is one entry, the request's own, with the reason; the route shows the step.
    assert "Fiona Finance returned for changes: Split it by quarter" in timeline
    assert "approved_step" not in timeline
    assert "on the step" not in timeline


def test_it_says_when_the_system_approved_a_request_by_itself(org):
    policy(no_match="auto_approve_below_floor", auto_approve_floor=10_000)
    request = submitted(org)

    timeline = text(org.client_for(org.requester).get(f"/requests/{request.pk}/"))

    assert "The system approved it automatically: No approval rule matched" in timeline


@pytest.mark.parametrize("away", [1, 4])
def test_it_loads_a_route_of_delegated_approvers_with_the_same_number_of_queries(
    org, away, django_assert_num_queries
):
    import datetime as dt

    from django.utils import timezone

    from approvals.selectors import approval_route
    from approvals.services import delegation_create

    for n in range(away):
        legal = UserFactory.create(username=f"legal{n}", roles=[Role.LEGAL])
        delegation_create(
            delegator=legal,
            delegate=UserFactory.create(username=f"deputy{n}"),
            starts_on=timezone.localdate(),
            ends_on=timezone.localdate() + dt.timedelta(days=3),
        )
    policy(
        {"name": "All legal", "approver_kind": "role", "approver_role": Role.LEGAL, "mode": "all"}
    )
    request = submitted(org)

    # The steps of the latest round, their approvers (with who each stands in for).
    with django_assert_num_queries(2):
        stand_ins = [
            str(a.on_behalf_of)
            for step in approval_route(request=request)
            for a in step.approvers.all()
            if a.on_behalf_of_id
        ]

    assert len(stand_ins) == away


def test_it_reads_the_route_of_the_page_in_one_query(org, django_assert_num_queries):
    UserFactory.create(username="lena", first_name="Lena", roles=[Role.LEGAL])
    policy(
        LINE_MANAGER,
        {"name": "All legal", "approver_kind": "role", "approver_role": Role.LEGAL, "mode": "all"},
    )
    request = submitted(org)

    # Steps, their approvers and everyone's names: one query, however many of each.
    with django_assert_num_queries(1):
        route = approval_route_table(request=request)

    assert [(step.name, len(step.approvers)) for step in route] == [
        ("Line manager", 1),
        ("All legal", 2),
    ]


def test_it_shows_the_latest_round_only(org):
    policy(LINE_MANAGER)
    request = submitted(org)
    approval_step_decide(
        step_id=step_named(request, "Line manager").pk,
        by=org.manager,
        action="return",
        comment="Add a quote",
    )
    purchase_request_transition(request_id=request.pk, by=org.requester, action="revise")
    purchase_request_transition(request_id=request.pk, by=org.requester, action="submit")

    response = org.client_for(org.requester).get(f"/requests/{request.pk}/")

    assert "Round 2" in text(response)
    (line,) = route_rows(response)
    assert line.startswith("1 Line manager one approver Pending since")


def test_it_asks_once_whether_the_viewer_may_decide(org, django_assert_max_num_queries):
    policy(LINE_MANAGER)
    request = submitted(org)
    client = org.client_for(org.manager)

    # session, user, roles, the request, its lines and attachments, the viewer's open
    # assignment (asked once for approve, reject and return, not three times), audit entries,
    # comments, the route in one query, the budget panel's three, the needs it was gathered
    # from and the nav's "Approvals (N)".
    with django_assert_max_num_queries(14):
        response = client.get(f"/requests/{request.pk}/")

    assert {"approve", "reject", "return"} <= set(buttons(response))
