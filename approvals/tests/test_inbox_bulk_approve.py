"""Bulk approval from the inbox: low-risk items only, each reported, forged ids refused."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.test import Client

from approvals.models import ApprovalStep, StepApprover
from approvals.tests.helpers import LINE_MANAGER, policy, submitted
from procurement.models import Category, ExchangeRate
from requests.models import PurchaseRequest
from requests.tests.page_helpers import flash_messages, page

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _bulk_limit(settings):
    # One line (2,500.00 GBP) is under the limit, two lines are not.
    settings.APPROVAL_BULK_MAX_TOTAL = 3000


def step_of(request) -> ApprovalStep:
    return ApprovalStep.objects.get(request=request, state__in=["pending", "approved"])


def state_of(request) -> str:
    return PurchaseRequest.objects.get(pk=request.pk).state


def checkboxes(response) -> set[int]:
    return {int(value) for value in re.findall(r'name="steps" value="(\d+)"', page(response))}


def bulk(client: Client, *step_ids: int):
    return client.post("/approvals/bulk-approve/", {"steps": [str(i) for i in step_ids]})


def test_it_offers_bulk_approval_only_for_low_risk_items(org):
    policy(LINE_MANAGER)
    small = submitted(org)
    large = submitted(org, total_lines=2)
    software = submitted(org, category=Category.objects.get(code="software"))
    personal = submitted(org, processes_personal_data=True)

    response = org.client_for(org.manager).get("/approvals/")

    assert checkboxes(response) == {step_of(small).pk}
    assert "Approve selected" in page(response)
    for request in (large, software, personal):
        assert request.reference in page(response)


def test_it_offers_no_bulk_approval_when_nothing_is_low_risk(org):
    policy(LINE_MANAGER)
    submitted(org, total_lines=2)

    response = org.client_for(org.manager).get("/approvals/")

    assert checkboxes(response) == set()
    assert "Approve selected" not in page(response)


def test_it_approves_the_selected_items_and_reports_each(org):
    policy(LINE_MANAGER)
    first, second = submitted(org), submitted(org)
    client = org.client_for(org.manager)

    response = bulk(client, step_of(first).pk, step_of(second).pk)

    assert response.status_code == 302
    assert response["Location"] == "/approvals/"
    assert state_of(first) == state_of(second) == "approved"
    assert flash_messages(response) == [
        f"{first.reference} (Line manager): approved.",
        f"{second.reference} (Line manager): approved.",
    ]
    assert step_of(first).decided_by == org.manager


def test_it_never_approves_a_forged_high_risk_item(org):
    policy(LINE_MANAGER)
    small = submitted(org)
    large = submitted(org, total_lines=2)
    personal = submitted(org, processes_personal_data=True)
    client = org.client_for(org.manager)

    response = bulk(client, step_of(large).pk, step_of(small).pk, step_of(personal).pk)

    assert state_of(small) == "approved"
    assert state_of(large) == state_of(personal) == "pending_approval"
    assert step_of(large).state == "pending"
    assert flash_messages(response) == [
        f"{large.reference} (Line manager): Not low risk: open the request and decide it on "
        "its own.",
        f"{small.reference} (Line manager): approved.",
        f"{personal.reference} (Line manager): Not low risk: open the request and decide it on "
        "its own.",
    ]


def test_it_refuses_someone_elses_step_and_ids_that_do_not_exist(org):
    policy(LINE_MANAGER)
    mine = submitted(org)
    client = org.client_for(org.head)  # sees the request, but is not its approver

    response = bulk(client, step_of(mine).pk, 999_999)

    assert state_of(mine) == "pending_approval"
    assert flash_messages(response) == [
        f"Step {step_of(mine).pk}: This step is not waiting for your decision.",
        "Step 999999: This step is not waiting for your decision.",
    ]


def test_it_reports_what_the_service_refuses_and_still_approves_the_rest(org):
    # Two parallel steps for the same person: one person may decide only one of them.
    policy(
        LINE_MANAGER,
        {"name": "Named approver", "approver_kind": "user", "approver_user": org.manager},
    )
    request = submitted(org)
    line, named = ApprovalStep.objects.filter(request=request).order_by("position")

    response = bulk(org.client_for(org.manager), line.pk, named.pk)

    line.refresh_from_db()
    named.refresh_from_db()
    assert (line.state, named.state) == ("approved", "pending")
    assert flash_messages(response) == [
        f"{request.reference} (Line manager): approved.",
        f"{request.reference} (Named approver): You already decided another step of this "
        "request; someone else must decide this one.",
    ]


def test_it_converts_other_currencies_before_judging_the_risk(org):
    policy(LINE_MANAGER)
    ExchangeRate.objects.create(
        currency="USD", rate=Decimal("0.80"), valid_from=dt.date(2020, 1, 1)
    )
    ExchangeRate.objects.create(
        currency="CHF", rate=Decimal("1.50"), valid_from=dt.date(2020, 1, 1)
    )
    cheap = submitted(org, currency="USD")  # 2,500 USD = 2,000 GBP
    dear = submitted(org, currency="CHF")  # 2,500 CHF = 3,750 GBP

    response = org.client_for(org.manager).get("/approvals/")

    assert checkboxes(response) == {step_of(cheap).pk}
    assert dear.reference in page(response)


def test_it_treats_an_item_whose_rate_is_unknown_as_not_low_risk(org):
    policy(LINE_MANAGER)
    ExchangeRate.objects.create(
        currency="USD", rate=Decimal("0.80"), valid_from=dt.date(2020, 1, 1)
    )
    request = submitted(org, currency="USD")
    ExchangeRate.objects.all().delete()
    client = org.client_for(org.manager)

    assert checkboxes(client.get("/approvals/")) == set()
    bulk(client, step_of(request).pk)
    assert state_of(request) == "pending_approval"


def test_it_asks_to_tick_something_first(org):
    response = org.client_for(org.manager).post("/approvals/bulk-approve/", {})

    assert response.status_code == 302
    assert flash_messages(response) == ["Tick the items to approve first."]


def test_it_refuses_ids_that_are_not_numbers(org):
    response = org.client_for(org.manager).post("/approvals/bulk-approve/", {"steps": ["1", "x"]})

    assert flash_messages(response) == ["That is not a list of approval steps."]


def test_it_changes_nothing_on_a_get_or_without_the_csrf_token(org):
    policy(LINE_MANAGER)
    request = submitted(org)
    step_id = step_of(request).pk
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(org.manager)

    assert (
        org.client_for(org.manager).get(f"/approvals/bulk-approve/?steps={step_id}").status_code
        == 405
    )
    assert strict.post("/approvals/bulk-approve/", {"steps": [str(step_id)]}).status_code == 403
    assert state_of(request) == "pending_approval"
    assert StepApprover.objects.get(step_id=step_id).decision == "pending"
