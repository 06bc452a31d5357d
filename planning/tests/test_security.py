"""The planning app under hostile or careless input, and who sees which figures.

What planning/tests/test_*.py of each feature already cover is not repeated here: this file
holds the review's findings (docs/planning/security.md), each with the test that failed
before its fix, and the checks that stand guard over the rules every page must keep (sign
in, no change on GET, CSRF, escaped text, formula-proof downloads, one writer at a time).
"""

from __future__ import annotations

import csv
import io
import threading
from collections.abc import Callable
from decimal import Decimal
from functools import partial
from typing import Any

import pytest
from django.db import OperationalError, connections
from django.test import Client
from django.urls import reverse

from approvals.models import ApprovalStep, StepState
from approvals.services import approval_step_decide
from approvals.tests.helpers import LINE_MANAGER, policy, submitted
from planning.budgets import BudgetInput, budget_create, budget_revise
from planning.models import BudgetRevision, Consolidation, Need, NeedStatus, NeedSupport
from planning.needs import RequestTarget, need_support_add, needs_consolidate_into_request
from planning.tests.helpers import budget, objective, this_year
from planning.tests.test_need_helpers import post_need
from procurement.errors import ApplicationError, Conflict, InvalidInput
from procurement.models import AuditEntry, Category, Role
from requests.models import PurchaseRequest, RequestState
from requests.tests.page_helpers import flash_messages
from sourcing.tests.helpers import awarded_po
from tests.factories import PurchaseRequestFactory, UserFactory

pytestmark = pytest.mark.django_db

NOT_AN_ID = ["²", "9" * 25, "9" * 5000]


def text(response: Any) -> str:
    return str(response.content.decode())


# --- Bad input: a 400 or an ignored filter, never a 500 ------------------------------------


@pytest.mark.parametrize("value", NOT_AN_ID)
def test_the_needs_board_ignores_an_objective_filter_that_is_no_id(org, value) -> None:
    post_need(org, title="Video calls drop")

    response = org.client_for(org.requester).get(reverse("needs:board"), {"objective": value})

    assert response.status_code == 200
    assert "Video calls drop" in text(response)


def test_the_consolidation_form_ignores_need_ids_that_are_no_ids(org) -> None:
    need = post_need(org, title="Video calls drop")
    client = org.client_for(org.procurement)

    nothing = client.get(reverse("needs:consolidate"), {"needs": NOT_AN_ID})
    one = client.get(reverse("needs:consolidate"), {"needs": [*NOT_AN_ID, str(need.pk)]})

    assert nothing.status_code == 302
    assert flash_messages(nothing) == ["Choose at least one need on the board to consolidate."]
    assert one.status_code == 200
    assert "Video calls drop" in text(one)


def test_the_consolidation_form_refuses_a_need_id_beyond_a_bigint(org) -> None:
    need = post_need(org, title="Video calls drop")

    response = org.client_for(org.procurement).post(
        reverse("needs:consolidate"),
        {
            "needs": [str(need.pk), "9" * 25],
            "kind": "request",
            "title": "Video kits",
            "department": org.department.pk,
            "cost_centre": org.cost_centre.pk,
            "category": Category.objects.get(code="hardware").pk,
        },
    )

    assert response.status_code == 400
    assert f"Unknown need {'9' * 25}." in text(response)
    assert Need.objects.get(pk=need.pk).status == NeedStatus.OPEN
    assert not Consolidation.objects.exists()


def test_the_consolidation_api_refuses_a_need_id_beyond_a_bigint(org) -> None:
    need = post_need(org)

    response = org.client_for(org.procurement).post(
        "/api/planning/needs/consolidations/",
        {
            "needs": [need.pk, 10**30],
            "kind": "request",
            "title": "Video kits",
            "department": "it",
            "cost_centre": "IT-100",
            "category": "hardware",
        },
        content_type="application/json",
    )

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert list(body["errors"]) == ["needs[1]"]
    assert not Consolidation.objects.exists()


@pytest.mark.parametrize(
    ("amount", "phasing", "field", "message"),
    [
        ("NaN", [], "amount", "Give the amount as a number."),
        ("Infinity", [], "amount", "Give the amount as a number."),
        ("-Infinity", [], "amount", "Give the amount as a number."),
        ("1200", ["NaN"] + ["100"] * 11, "phasing", "Give each month as a number."),
        ("1200", ["Infinity"] + ["100"] * 11, "phasing", "Give each month as a number."),
        ("0.06", ["0.005"] * 12, "phasing", "Give each month in cents at most."),
        ("1200", ["1E+400"] + ["100"] * 11, "phasing", "Give each month in cents at most."),
    ],
)
def test_the_budget_services_refuse_what_is_no_amount_in_cents(
    org, amount, phasing, field, message
) -> None:
    """The forms and the API refuse these already; the services must too, with a 400
    rather than decimal.InvalidOperation (NaN < 0 raises), for any other caller."""
    year = this_year()
    existing = budget(org, "1200")
    months = [Decimal(month) for month in phasing]
    data = BudgetInput(
        fiscal_year=year,
        cost_centre=org.cost_centre,
        owner=org.head,
        amount=Decimal(amount),
        category=Category.objects.get(code="software"),
        phasing=months,
    )

    with pytest.raises(InvalidInput) as created:
        budget_create(data=data, by=org.finance)
    with pytest.raises(InvalidInput) as revised:
        budget_revise(
            budget_id=existing.pk,
            by=org.finance,
            amount=Decimal(amount),
            reason="Test",
            phasing=months,
        )

    assert created.value.fields == {field: [message]}
    assert revised.value.fields == {field: [message]}
    assert BudgetRevision.objects.filter(budget=existing).count() == 1


# --- Budget figures: for those who decide or manage money, not for the requester ----------


def test_a_stop_budget_refuses_the_requester_without_giving_its_figures_away(org) -> None:
    """The refusal used to read "budget 2,000.00 GBP, consumed 0.00 GBP, ... over by 500.00
    GBP" to a requester, who may see no budget anywhere else (pages, API, panels)."""
    policy(LINE_MANAGER)
    limit = budget(org, "2000", on_exceed="stop")
    first = PurchaseRequestFactory.create(requester=org.requester, cost_centre=org.cost_centre)
    second = PurchaseRequestFactory.create(requester=org.requester, cost_centre=org.cost_centre)
    client = org.client_for(org.requester)

    page = client.post(f"/requests/{first.pk}/actions/submit/")
    api = client.post(f"/api/requests/{second.pk}/submit/", {}, content_type="application/json")

    [message] = flash_messages(page)
    for told in (message, api.json()["detail"]):
        assert f"would take the budget {limit} over its limit" in told
        assert "Ask finance to revise it, or lower the request." in told
        for figure in ("2,000.00", "2,500.00", "500.00", "consumed"):
            assert figure not in told


def test_a_requester_who_may_see_the_budget_is_told_its_figures(org) -> None:
    """Mark manages IT, so he sees IT's budgets on their pages: his own refused request
    says what the budget holds."""
    policy(LINE_MANAGER)
    budget(org, "2000", on_exceed="stop")

    with pytest.raises(InvalidInput) as refused:
        submitted(org, requester=org.manager)

    assert "budget 2,000.00 GBP, consumed 0.00 GBP, this request 2,500.00 GBP" in (
        refused.value.message
    )
    assert "over by 500.00 GBP" in refused.value.message


def test_the_requests_timeline_names_a_warn_budget_without_its_figures(org) -> None:
    """The warning on the request's timeline (page and API) used to say "by 1,500.00 GBP":
    with the request's total, what the budget had left."""
    policy(LINE_MANAGER)
    limit = budget(org, "1000", on_exceed="warn")
    request = submitted(org)
    step = ApprovalStep.objects.get(request=request, state=StepState.PENDING)
    approval_step_decide(step_id=step.pk, by=org.manager, action="approve")
    client = org.client_for(org.requester)

    page = text(client.get(reverse("requests:detail", args=[request.pk])))
    timeline = client.get(f"/api/requests/{request.pk}/").json()["timeline"]

    assert f"Submitted over budget {limit}." in page
    assert f"Approved over budget {limit}." in page
    assert "1,500.00" not in page
    assert "1,000.00" not in page
    assert not any("1,500.00" in str(event) for event in timeline)
    # The figure is kept on the budget's own trail, for finance and auditors.
    assert list(
        AuditEntry.objects.filter(
            content_type__model="budget", object_id=limit.pk, action="budget_warning"
        ).values_list("comment", flat=True)
    ) == [
        f"{request.reference} submitted over it by 1,500.00 GBP.",
        f"{request.reference} approved over it by 1,500.00 GBP.",
    ]


def _bobs_request(org) -> PurchaseRequest:
    """Bob (IT, reporting to Hana, not to Mark) asks for something Mark may not open."""
    bob = UserFactory.create(
        username="bob",
        first_name="Bob",
        last_name="Builder",
        department=org.department,
        manager=org.head,
        roles=[Role.REQUESTER],
    )
    request = submitted(org, requester=bob, title="Severance laptops for the reorganisation")
    step = ApprovalStep.objects.get(request=request, state=StepState.PENDING)
    approval_step_decide(step_id=step.pk, by=org.head, action="approve")
    return PurchaseRequest.objects.get(pk=request.pk)


def test_the_budget_page_shows_only_the_requests_its_reader_may_open(org) -> None:
    """A manager of the department sees its budgets, and used to see the title of every
    request on them, with links to orders only procurement and finance open."""
    policy(LINE_MANAGER)
    limit = budget(org, "100000")
    order = awarded_po(org)  # Alice's request, approved by Mark, on a draft order
    bobs = _bobs_request(org)
    url = reverse("budgets:detail", args=[limit.pk])

    for_mark = text(org.client_for(org.manager).get(url))
    for_hana = text(org.client_for(org.head).get(url))
    for_pat = text(org.client_for(org.procurement).get(url))

    assert bobs.reference in for_mark  # counted, and said so
    assert bobs.title not in for_mark
    assert reverse("requests:detail", args=[bobs.pk]) not in for_mark
    assert reverse("requests:detail", args=[order.request_id]) in for_mark  # Mark approved it
    assert reverse("orders:detail", args=[order.pk]) not in for_mark
    assert "125,000.00" not in for_mark
    for page in (for_hana, for_pat):  # the head sees her department's; procurement, all
        assert bobs.title in page
        assert reverse("requests:detail", args=[bobs.pk]) in page
    assert reverse("orders:detail", args=[order.pk]) in for_pat


def test_the_forecast_names_a_manager_only_the_requests_they_may_open(org) -> None:
    policy(LINE_MANAGER)
    bobs = _bobs_request(org)

    for_mark = org.client_for(org.manager).get(reverse("forecast:export", args=["csv"]))
    for_fiona = org.client_for(org.finance).get(reverse("forecast:export", args=["csv"]))

    def references(response: Any) -> list[str]:
        rows = list(csv.DictReader(io.StringIO(text(response))))
        return [row["Reference"] for row in rows if row["Source"].startswith("Approved")]

    assert references(for_mark) == [bobs.reference]  # the amount counts; no title
    assert references(for_fiona) == [f"{bobs.reference} {bobs.title}"]
    page = text(org.client_for(org.manager).get(reverse("forecast:overview")))
    assert bobs.title not in page


# --- Sign in, no change on GET, CSRF -------------------------------------------------------


PAGES = [
    ("budgets:list", []),
    ("budgets:create", []),
    ("budgets:detail", [1]),
    ("budgets:revise", [1]),
    ("objectives:list", []),
    ("objectives:create", []),
    ("objectives:detail", [1]),
    ("objectives:edit", [1]),
    ("objectives:status", [1]),
    ("needs:board", []),
    ("needs:create", []),
    ("needs:consolidate", []),
    ("needs:consolidation", [1]),
    ("needs:detail", [1]),
    ("needs:edit", [1]),
    ("needs:withdraw", [1]),
    ("needs:support", [1]),
    ("needs:comment", [1]),
    ("forecast:overview", []),
    ("forecast:export", ["csv"]),
]
APIS = [
    "/api/planning/objectives/",
    "/api/planning/objectives/1/",
    "/api/planning/budgets/",
    "/api/planning/budgets/1/",
    "/api/planning/budgets/1/revisions/",
    "/api/planning/needs/",
    "/api/planning/needs/1/",
    "/api/planning/needs/1/withdraw/",
    "/api/planning/needs/1/supports/",
    "/api/planning/needs/1/comments/",
    "/api/planning/needs/consolidations/",
    "/api/planning/needs/consolidations/1/",
    "/api/planning/forecast/",
]


@pytest.mark.parametrize(("name", "args"), PAGES)
def test_every_planning_page_asks_to_sign_in_first(client: Client, name, args) -> None:
    url = reverse(name, args=args)
    for response in (client.get(url), client.post(url)):
        # A POST without a CSRF token is refused before it reaches the view: 403.
        assert response.status_code in (302, 403, 405)
        if response.status_code == 302:
            assert response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize("url", APIS)
def test_every_planning_api_refuses_anonymous_callers(client: Client, url) -> None:
    for response in (client.get(url), client.post(url, {}, content_type="application/json")):
        assert response.status_code in (403, 405)
        assert response.json()["code"] in ("not_authenticated", "method_not_allowed")


@pytest.mark.parametrize(
    "name",
    ["needs:withdraw", "needs:support", "needs:comment", "objectives:status"],
)
def test_a_change_is_never_made_by_a_get(org, name) -> None:
    need = post_need(org)
    target = need.pk if name.startswith("needs:") else objective(org).pk

    response = org.client_for(org.admin).get(reverse(name, args=[target]))

    assert response.status_code == 405
    assert Need.objects.get(pk=need.pk).status == NeedStatus.OPEN
    assert not NeedSupport.objects.exists()


def test_a_page_form_without_its_csrf_token_is_refused(org) -> None:
    need = post_need(org)
    client = Client(enforce_csrf_checks=True)
    client.force_login(org.requester)

    response = client.post(reverse("needs:withdraw", args=[need.pk]), {"reason": "x"})

    assert response.status_code == 403
    assert Need.objects.get(pk=need.pk).status == NeedStatus.OPEN


def test_the_api_with_a_session_needs_the_csrf_token_too(org) -> None:
    need = post_need(org)
    client = Client(enforce_csrf_checks=True)
    client.force_login(org.requester)

    response = client.post(
        f"/api/planning/needs/{need.pk}/withdraw/", {}, content_type="application/json"
    )

    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]
    assert Need.objects.get(pk=need.pk).status == NeedStatus.OPEN


# --- Escaped text, formula-proof downloads -------------------------------------------------


def test_what_people_type_is_shown_as_text_on_the_pages(org) -> None:
    script = '<script>alert("x")</script>'
    need = post_need(org, title=f"Rooms {script}")
    objective(org, name=f"Cloud {script}", department=org.department)
    client = org.client_for(org.outsider)

    for url in (
        reverse("needs:board"),
        reverse("needs:detail", args=[need.pk]),
        reverse("objectives:list"),
    ):
        page = text(client.get(url))
        assert script not in page
        assert "&lt;script&gt;" in page


def test_the_downloads_keep_a_formula_as_text(org) -> None:
    """Objective names and need titles are typed by people: a cell starting with = + - @
    must not run in a spreadsheet (analytics.exports, which both downloads use)."""
    objective(org, name='=HYPERLINK("http://evil.example","x")', department=org.department)
    post_need(org, title="@SUM(1+1)")

    objectives = org.client_for(org.finance).get(
        reverse("objectives:list"), {"format": "csv", "year": this_year().pk}
    )
    forecast = org.client_for(org.finance).get(reverse("forecast:export", args=["csv"]))

    names = [row["Objective"] for row in csv.DictReader(io.StringIO(text(objectives)))]
    references = [row["Reference"] for row in csv.DictReader(io.StringIO(text(forecast)))]
    assert names == ['\'=HYPERLINK("http://evil.example","x")']
    assert [reference for reference in references if "SUM" in reference] == [
        f"Need #{Need.objects.get().pk} @SUM(1+1)"
    ]  # not at the start of the cell: nothing to neutralise


# --- One writer at a time ------------------------------------------------------------------


def _at_once(calls: list[Callable[[], object]]) -> list[object]:
    """Run `calls` at the same moment, each on its own database connection; each outcome is
    its return value or the ApplicationError / OperationalError it raised."""
    barrier = threading.Barrier(len(calls), timeout=30)
    outcomes: list[object] = [None] * len(calls)

    def run(index: int, call: Callable[[], object]) -> None:
        try:
            barrier.wait()
            outcomes[index] = call()
        except (ApplicationError, OperationalError) as error:
            outcomes[index] = error
        finally:
            connections.close_all()  # this thread's own connection

    threads = [threading.Thread(target=run, args=(index, call)) for index, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    return outcomes


def _locked_out(outcome: object) -> bool:
    # Only SQLite may refuse a writer outright instead of making it wait: it locks the file.
    return (
        isinstance(outcome, OperationalError)
        and connections["default"].vendor == "sqlite"
        and "locked" in str(outcome)
    )


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_finance_users_revising_at_once_make_consecutive_versions(org) -> None:
    frank = UserFactory.create(username="frank", roles=[Role.FINANCE])
    limit = budget(org, "1000")

    outcomes = _at_once(
        [
            lambda: budget_revise(
                budget_id=limit.pk, by=org.finance, amount=Decimal("2000"), reason="Fiona"
            ),
            lambda: budget_revise(
                budget_id=limit.pk, by=frank, amount=Decimal("3000"), reason="Frank"
            ),
        ]
    )

    revised = [o for o in outcomes if isinstance(o, BudgetRevision)]
    assert len(revised) == 2 or (len(revised) == 1 and any(map(_locked_out, outcomes))), outcomes
    versions = list(
        BudgetRevision.objects.filter(budget=limit)
        .order_by("version")
        .values_list("version", "amount")
    )
    assert [version for version, _ in versions] == list(range(1, len(revised) + 2))
    limit.refresh_from_db()
    assert (limit.version, limit.amount) == versions[-1]  # the budget is its last version


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_same_need_consolidated_twice_at_once_goes_into_one_request(org) -> None:
    priya = UserFactory.create(username="priya", roles=[Role.PROCUREMENT])
    need = post_need(org, title="Video calls drop")
    target = RequestTarget(
        title="Video kits",
        department=org.department,
        cost_centre=org.cost_centre,
        category=Category.objects.get(code="hardware"),
    )

    outcomes = _at_once(
        [
            lambda: needs_consolidate_into_request(
                need_ids=[need.pk], by=org.procurement, target=target
            ),
            lambda: needs_consolidate_into_request(need_ids=[need.pk], by=priya, target=target),
        ]
    )

    won = [o for o in outcomes if isinstance(o, Consolidation)]
    lost = [o for o in outcomes if not isinstance(o, Consolidation)]
    assert len(won) == 1, outcomes  # and so one lost
    assert isinstance(lost[0], Conflict) or _locked_out(lost[0]), lost
    assert Consolidation.objects.count() == 1
    assert PurchaseRequest.objects.filter(state=RequestState.DRAFT).count() == 1  # no orphan
    assert Need.objects.get(pk=need.pk).consolidation_id == won[0].pk


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_we_need_this_too_twice_at_once_joins_the_department_once(org) -> None:
    olga = UserFactory.create(
        username="olga", department=org.other_department, roles=[Role.REQUESTER]
    )
    need = post_need(org, title="Video calls drop")

    outcomes = _at_once(
        [
            partial(
                need_support_add,
                need_id=need.pk,
                by=person,
                people_affected=3,
                rough_budget=Decimal("100"),
            )
            for person in (org.outsider, olga)
        ]
    )

    joined = [o for o in outcomes if isinstance(o, NeedSupport)]
    refused = [o for o in outcomes if not isinstance(o, NeedSupport)]
    assert len(joined) == 1, outcomes  # and so one was refused
    assert isinstance(refused[0], Conflict) or _locked_out(refused[0]), refused
    assert NeedSupport.objects.filter(need=need).count() == 1
    assert AuditEntry.objects.filter(object_id=need.pk, action="need_supported").count() == 1
