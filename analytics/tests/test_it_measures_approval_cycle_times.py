"""Approval cycle times: median and p90 hours to decision per step and per approver, and the
slowest steps, checked against an independent computation over steps decided through the
approvals services."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import statistics

import pytest
from django.urls import reverse
from django.utils import timezone

from analytics.cycle_times import CycleFilters, approval_cycle_times, cycle_filters_for
from approvals.models import ApprovalStep, StepApprover
from approvals.services import approval_step_decide
from approvals.tests.helpers import FINANCE_ABOVE_5K, LINE_MANAGER, policy, submitted
from procurement.errors import NotAllowed

pytestmark = pytest.mark.django_db

# Hours each decision took, in the order the requests are made.
LINE_MANAGER_HOURS = [2.0, 5.5, 7.0, 30.0, 50.0]
FINANCE_HOURS = [1.0, 4.0, 10.0]  # the first three requests are over 5,000
OPEN_FOR_HOURS = 200.0


def p90(values: list[float]) -> float:
    return statistics.quantiles(values, n=10, method="inclusive")[8]


def decide(step: ApprovalStep, by, *, activated: dt.datetime, hours: float) -> None:
    """Decide through the service, then put the step on the clock the test wants."""
    approval_step_decide(step_id=step.pk, by=by, action="approve")
    decided = activated + dt.timedelta(hours=hours)
    ApprovalStep.objects.filter(pk=step.pk).update(activated_at=activated, decided_at=decided)
    StepApprover.objects.filter(step=step, approver=by).update(decided_at=decided)


@pytest.fixture
def steps(org):
    policy(LINE_MANAGER, FINANCE_ABOVE_5K)
    start = timezone.now() - dt.timedelta(days=20)
    for number, hours in enumerate(LINE_MANAGER_HOURS):
        request = submitted(org, total_lines=3 if number < len(FINANCE_HOURS) else 1)
        activated = start + dt.timedelta(days=number)
        decide(
            ApprovalStep.objects.get(request=request, name="Line manager"),
            org.manager,
            activated=activated,
            hours=hours,
        )
        if number < len(FINANCE_HOURS):
            decide(
                ApprovalStep.objects.get(request=request, name="Finance"),
                org.finance,
                activated=activated + dt.timedelta(hours=hours),
                hours=FINANCE_HOURS[number],
            )
    waiting = submitted(org, title="Still waiting")
    ApprovalStep.objects.filter(request=waiting).update(
        activated_at=timezone.now() - dt.timedelta(hours=OPEN_FOR_HOURS)
    )
    return waiting


def test_it_computes_median_and_p90_per_step_and_per_approver(org, steps) -> None:
    figures = approval_cycle_times(filters=cycle_filters_for(org.finance))

    by_step = {f.label: (f.decisions, f.median_hours, f.p90_hours) for f in figures.by_step}
    assert by_step["Line manager"] == pytest.approx(
        (5, statistics.median(LINE_MANAGER_HOURS), p90(LINE_MANAGER_HOURS))
    )
    assert by_step["Finance"] == pytest.approx(
        (3, statistics.median(FINANCE_HOURS), p90(FINANCE_HOURS))
    )
    by_approver = {f.label: (f.decisions, f.median_hours, f.p90_hours) for f in figures.by_approver}
    assert by_approver == {
        "Mark Manager": pytest.approx(
            (5, statistics.median(LINE_MANAGER_HOURS), p90(LINE_MANAGER_HOURS))
        ),
        "Fiona Finance": pytest.approx((3, statistics.median(FINANCE_HOURS), p90(FINANCE_HOURS))),
    }
    assert (figures.decided_steps, figures.open_steps) == (8, 1)


def test_it_lists_the_slowest_steps_open_or_decided(org, steps) -> None:
    figures = approval_cycle_times(filters=cycle_filters_for(org.procurement))

    slowest = [(b.step, b.is_open, round(b.hours)) for b in figures.bottlenecks]
    every = sorted(
        [("Line manager", False, h) for h in LINE_MANAGER_HOURS]
        + [("Finance", False, h) for h in FINANCE_HOURS]
        + [("Line manager", True, OPEN_FOR_HOURS)],
        key=lambda s: -s[2],
    )
    assert slowest == [(name, is_open, round(hours)) for name, is_open, hours in every]
    assert figures.bottlenecks[0].title == "Still waiting"
    assert figures.bottlenecks[0].people == "Mark Manager"


def test_it_filters_by_period_and_department(org, steps) -> None:
    filters = cycle_filters_for(
        org.finance, CycleFilters(department_ids=frozenset({org.other_department.pk}))
    )
    assert approval_cycle_times(filters=filters).by_step == []

    next_month = (timezone.now().date().replace(day=1) + dt.timedelta(days=32)).replace(day=1)
    later = cycle_filters_for(org.finance, CycleFilters(month_from=next_month))
    figures = approval_cycle_times(filters=later)
    assert (figures.decided_steps, figures.open_steps) == (0, 0)


def test_it_shows_a_manager_only_their_departments_requests(org, steps) -> None:
    head_of_other = org.outsider
    other = submitted(org, requester=org.requester, department=org.other_department)
    approval_step_decide(
        step_id=ApprovalStep.objects.get(request=other, name="Line manager").pk,
        by=org.manager,
        action="approve",
    )

    everyone = approval_cycle_times(filters=cycle_filters_for(org.finance))
    mine = approval_cycle_times(filters=cycle_filters_for(org.manager))
    assert everyone.decided_steps == mine.decided_steps + 1
    with pytest.raises(NotAllowed):
        cycle_filters_for(head_of_other)


def test_it_shows_the_page_with_its_chart_data_and_exports(org, steps) -> None:
    client = org.client_for(org.finance)
    page = client.get(reverse("anomalies:cycle-times"))
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="cycle-times-data"' in html
    assert "analytics/cycle_times.js" in html
    # No inline code: every script either loads a file or is JSON data.
    for attributes, body in re.findall(r"<script([^>]*)>(.*?)</script>", html, re.S):
        assert "src=" in attributes or 'type="application/json"' in attributes, body

    response = client.get(reverse("anomalies:cycle-times"), {"export": "csv"})
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == ["Step", "Decisions", "Median hours", "P90 hours"]
    assert [
        "Line manager",
        "5",
        str(round(statistics.median(LINE_MANAGER_HOURS), 1)),
        str(round(p90(LINE_MANAGER_HOURS), 1)),
    ] in rows

    assert client.get(reverse("anomalies:cycle-times"), {"export": "xlsx"})[
        "Content-Type"
    ].startswith("application/vnd.openxmlformats")
    assert client.get(reverse("anomalies:cycle-times"), {"to": "nope"}).status_code == 400
    assert org.client_for(org.requester).get(reverse("anomalies:cycle-times")).status_code == 403
