"""The objective and each budget before and after a request, where decisions are made: the
request page (for its approvers, finance and the department head; the requester sees the
objective only), both parts of the approval email and the email confirmation page."""

from __future__ import annotations

import html
import re
from decimal import Decimal

import pytest
from django.core import mail
from django.test import Client

from approvals.models import ApprovalStep
from approvals.services import approval_step_decide
from approvals.tests.email_helpers import link_path
from approvals.tests.helpers import LINE_MANAGER, policy, submitted
from planning.budgets import budget_revise
from planning.models import Budget, OnExceed
from planning.tests.helpers import budget, objective, this_year
from procurement.models import Category
from requests.models import PurchaseRequest
from tests.factories import PurchaseRequestFactory

pytestmark = pytest.mark.django_db

Panel = tuple[str, str, list[tuple[str, str]], list[str]]


@pytest.fixture(autouse=True)
def _site(settings) -> None:
    settings.SITE_URL = "http://testserver"


def clean(fragment: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def page_panels(content: str) -> list[Panel]:
    """(title, tone, [(label, value)], [notes]) of each panel on a page, as a person reads it."""
    found = []
    for tone, body in re.findall(
        r'<article class="decision-panel tone-(\w+)">(.*?)</article>', content, re.S
    ):
        title = clean(re.search(r"<h3>(.*?)</h3>", body, re.S)[1])  # type: ignore[index]
        rows = [
            (clean(label), clean(value))
            for label, value in re.findall(r"<dt>(.*?)</dt><dd>(.*?)</dd>", body, re.S)
        ]
        notes = [
            clean(note)
            for note in re.findall(r"<p class=\"decision-panel-note\">(.*?)</p>", body, re.S)
        ]
        found.append((title, tone, rows, notes))
    return found


def email_panels_html(content: str) -> list[tuple[str, list[tuple[str, str]]]]:
    found = []
    for body in re.findall(
        r"<table style=\"border-collapse: collapse; margin: 8px 0;.*?</table>", content, re.S
    ):
        title = clean(re.search(r"<th[^>]*>(.*?)</th>", body, re.S)[1])  # type: ignore[index]
        rows = [
            (clean(label), clean(value))
            for label, value in re.findall(
                r"<tr><td>(.*?)</td><td[^>]*>(.*?)</td></tr>", body, re.S
            )
        ]
        found.append((title, rows))
    return found


def text_block(body: str, title: str) -> list[str]:
    """The indented lines under `title:` in the text part of the email."""
    lines = body.splitlines()
    start = lines.index(f"{title}:")
    block = []
    for line in lines[start + 1 :]:
        if not line.startswith("  "):
            break
        block.append(line.strip())
    return block


@pytest.fixture
def scene(org, django_capture_on_commit_callbacks):
    """A 10,000.00 budget of IT-100 owned by Hana with 2,500.00 already committed, and
    Alice's 2,500.00 request serving the cloud objective, waiting for Mark (emailed)."""
    policy(LINE_MANAGER)
    limit = budget(org, "10000")
    first = submitted(org)
    approval_step_decide(
        step_id=ApprovalStep.objects.get(request=first).pk, by=org.manager, action="approve"
    )
    cloud = objective(org, department=org.department)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        request = submitted(org, objective=cloud, no_objective_reason="")
    return limit, request


def objective_panel(org) -> Panel:
    return (
        "Objective",
        "ok",
        [
            ("Serves", "Move finance workloads to the cloud"),
            ("Owner", "Hana Head"),
            ("Period", str(this_year())),
            ("Status", "Active"),
        ],
        [],
    )


def budget_rows(remaining: str = "5,000.00 GBP") -> list[tuple[str, str]]:
    return [
        ("Budget", "10,000.00 GBP"),
        ("Consumed before this request", "2,500.00 GBP"),
        ("This request", "2,500.00 GBP"),
        ("Remaining after", remaining),
        ("Owner", "Hana Head"),
    ]


@pytest.mark.parametrize("who", ["manager", "finance", "head"])
def test_it_shows_the_objective_and_the_budget_before_and_after_to_those_who_decide(
    org, scene, who
) -> None:
    limit, request = scene

    response = org.client_for(getattr(org, who)).get(f"/requests/{request.pk}/")

    assert response.status_code == 200
    assert page_panels(response.content.decode()) == [
        objective_panel(org),
        (f"Budget {limit}", "ok", budget_rows(), []),
    ]


def test_it_shows_the_requester_the_objective_but_not_the_budget(org, scene) -> None:
    _limit, request = scene

    response = org.client_for(org.requester).get(f"/requests/{request.pk}/")

    content = response.content.decode()
    assert page_panels(content) == [objective_panel(org)]
    assert '<h2 id="decision-panels-heading">Objective</h2>' in content
    assert "10,000.00" not in content
    assert "Consumed before" not in content


def test_it_shows_someone_outside_the_department_nothing(org, scene) -> None:
    _limit, request = scene
    assert org.client_for(org.outsider).get(f"/requests/{request.pk}/").status_code == 404


def test_it_puts_the_same_figures_and_the_objective_in_both_parts_of_the_email(org, scene) -> None:
    limit, _request = scene

    [message] = mail.outbox
    assert isinstance(message, mail.EmailMultiAlternatives)
    assert message.to == ["mark@example.com"]
    [(content, mimetype)] = message.alternatives
    assert mimetype == "text/html"

    assert text_block(str(message.body), "Objective") == [
        "Serves: Move finance workloads to the cloud",
        "Owner: Hana Head",
        f"Period: {this_year()}",
        "Status: Active",
    ]
    assert text_block(str(message.body), f"Budget {limit}") == [
        f"{label}: {value}" for label, value in budget_rows()
    ]
    assert email_panels_html(str(content)) == [
        ("Objective", objective_panel(org)[2]),
        (f"Budget {limit}", budget_rows()),
    ]


def test_it_shows_the_figures_on_the_email_confirmation_page(org, scene) -> None:
    limit, request = scene
    step = ApprovalStep.objects.get(request=request)

    response = Client().get(link_path(step, org.manager, decision="approve"))

    assert response.status_code == 200
    assert page_panels(response.content.decode()) == [
        objective_panel(org),
        (f"Budget {limit}", "ok", budget_rows(), []),
    ]


def test_it_marks_a_request_that_would_go_over_the_budget(org, scene) -> None:
    limit, request = scene
    budget_revise(budget_id=limit.pk, by=org.finance, amount=Decimal("4000"), reason="Mid-year cut")
    limit = Budget.objects.get(pk=limit.pk)

    response = org.client_for(org.manager).get(f"/requests/{request.pk}/")

    [_objective, over] = page_panels(response.content.decode())
    assert over == (
        f"Budget {limit}",
        "over",
        [
            ("Budget", "4,000.00 GBP"),
            ("Consumed before this request", "2,500.00 GBP"),
            ("This request", "2,500.00 GBP"),
            ("Remaining after", "-1,000.00 GBP"),
            ("Owner", "Hana Head"),
        ],
        ["Over budget by 1,000.00 GBP. The budget says: Warn: allow it, and show the approver."],
    )


def test_it_says_when_no_budget_is_set(org) -> None:
    year = this_year()
    policy(LINE_MANAGER)
    request = submitted(org, no_objective_reason="Broken laptop")

    response = org.client_for(org.manager).get(f"/requests/{request.pk}/")

    assert page_panels(response.content.decode()) == [
        ("Objective", "warn", [("Serves", "No objective")], ["Reason given: Broken laptop"]),
        ("Budget", "warn", [], [f"No budget is set for cost centre IT-100 in {year}."]),
    ]


def test_it_says_no_budget_is_set_when_the_cost_centres_budgets_are_for_other_purchases(
    org,
) -> None:
    year = this_year()
    policy(LINE_MANAGER)
    other = Category.objects.exclude(code="hardware").order_by("code").first()
    budget(org, "3000", category=other)  # the cost centre has a budget, not for hardware
    request = submitted(org, no_objective_reason="Broken laptop")
    assert request.category.code == "hardware"

    response = org.client_for(org.manager).get(f"/requests/{request.pk}/")

    assert page_panels(response.content.decode())[1:] == [
        ("Budget", "warn", [], [f"No budget is set for cost centre IT-100 in {year}."]),
    ]


def test_it_shows_every_budget_in_scope(org) -> None:
    policy(LINE_MANAGER)
    whole = budget(org, "10000")
    hardware = budget(
        org, "3000", category=Category.objects.get(code="hardware"), on_exceed=OnExceed.STOP
    )
    request = submitted(org)

    response = org.client_for(org.finance).get(f"/requests/{request.pk}/")

    panels = page_panels(response.content.decode())
    assert [(title, rows[3]) for title, _tone, rows, _notes in panels[1:]] == [
        (f"Budget {whole}", ("Remaining after", "7,500.00 GBP")),
        (f"Budget {hardware}", ("Remaining after", "500.00 GBP")),
    ]


def test_it_shows_the_requester_nothing_on_a_draft(org) -> None:
    budget(org, "10000")
    draft = PurchaseRequestFactory.create(requester=org.requester, cost_centre=org.cost_centre)

    response = org.client_for(org.requester).get(f"/requests/{draft.pk}/")

    assert page_panels(response.content.decode()) == []
    assert PurchaseRequest.objects.get(pk=draft.pk).state == "draft"
