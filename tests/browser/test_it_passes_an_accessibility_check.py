"""axe-core on the main pages, each as the person who uses it, on the demo data (the same
`seed_demo` a new install gets): no serious or critical violation of WCAG 2.2 A/AA or axe's
best practices. Every page is checked before the test fails, so one run lists them all.

The whole journey (test_it_runs_the_whole_journey.py) runs the same check on the pages it
passes through, with what it filled in on them.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import pytest
from django.core.management import call_command
from playwright.sync_api import BrowserContext, Page

from approvals.models import ApprovalStep, StepState
from approvals.tokens import decision_url
from planning.models import Budget, Need
from procurement.models import User
from requests.models import PurchaseRequest, RequestState
from sourcing.models import PurchaseOrder, Rfq
from tests.browser.accessibility import axe_violations, describe
from tests.browser.helpers import BROWSER_DB
from vendors.models import Vendor

pytestmark = [pytest.mark.browser, pytest.mark.django_db(**BROWSER_DB)]


@dataclass(frozen=True)
class Visit:
    name: str
    user: str | None  # a demo user's name; None: signed in as nobody
    url: str
    heading: str  # the page's <h1> has this text: it is the page meant, not an error page


def main_pages() -> list[Visit]:
    """The pages people spend their day on, found in the demo data."""
    pending = PurchaseRequest.objects.get(
        requester__username="alice", state=RequestState.PENDING_APPROVAL
    )
    step = ApprovalStep.objects.get(request=pending, state=StepState.PENDING)
    mark = User.objects.get(username="mark")
    rfq = Rfq.objects.get(title="Monitors for the design team")
    po = PurchaseOrder.objects.order_by("pk").first()
    assert po is not None
    vendor = Vendor.objects.get(legal_name="Northwind Hardware Ltd")
    budget = Budget.objects.filter(cost_centre__code="IT-100").order_by("pk").first()
    assert budget is not None
    need = Need.objects.order_by("pk").first()
    assert need is not None
    email_link = decision_url(
        step_id=step.pk,
        approver_id=mark.pk,
        request_version=pending.version,
        decision="approve",
    )
    return [
        Visit("login", None, "/accounts/login/", "Log in"),
        Visit("requests list", "alice", "/requests/", "My requests"),
        Visit("new request form", "alice", "/requests/new/", "New purchase request"),
        Visit("request detail (requester)", "alice", f"/requests/{pending.pk}/", pending.title),
        Visit("request detail (approver)", "mark", f"/requests/{pending.pk}/", pending.title),
        Visit("approval inbox", "mark", "/approvals/", "Approvals"),
        Visit(
            "email confirmation page",
            None,
            email_link,
            f"Approve or reject {pending.reference}?",
        ),
        Visit("vendors list", "pat", "/vendors/", "Vendors"),
        Visit("vendor detail", "pat", f"/vendors/{vendor.pk}/", vendor.legal_name),
        Visit("RFQ list", "pat", "/sourcing/", "Requests for quotation"),
        Visit("RFQ page", "pat", f"/sourcing/{rfq.pk}/", rfq.title),
        Visit("purchase orders list", "pat", "/orders/", "Purchase orders"),
        Visit("purchase order page", "pat", f"/orders/{po.pk}/", po.request.title),
        Visit("spend dashboard", "fiona", "/analytics/", "Spend overview"),
        Visit("budgets", "fiona", "/planning/budgets/", "Budgets"),
        Visit("budget detail", "fiona", f"/planning/budgets/{budget.pk}/", "Budget IT-100"),
        Visit("needs board", "alice", "/planning/needs/", "Needs"),
        Visit("need detail", "alice", f"/planning/needs/{need.pk}/", need.title),
    ]


def test_it_finds_no_serious_or_critical_violation_on_the_main_pages(
    settings, live_server, context: BrowserContext, page: Page, log_in_as
):
    settings.DEBUG = True  # seed_demo refuses to run without it (its password is public)
    call_command("seed_demo", stdout=io.StringIO())
    settings.DEBUG = False
    settings.SITE_URL = live_server.url

    found: list[str] = []
    for visit in main_pages():
        context.clear_cookies()
        if visit.user:
            log_in_as(User.objects.get(username=visit.user))
        response = page.goto(visit.url)
        assert response is not None
        heading = page.locator("h1").first.text_content() or ""
        if response.status != 200 or visit.heading not in heading:
            found.append(
                f"- {visit.name} ({visit.url}): answered {response.status} with the heading "
                f"{heading.strip()!r}, not the page meant ({visit.heading!r})"
            )
            continue
        violations = axe_violations(page)
        if violations:
            found.append(describe(violations, where=f"{visit.name} ({visit.url})"))
    assert not found, (
        "Pages that fail the accessibility check (a serious or critical axe-core violation, "
        "or not the page meant):\n" + "\n".join(found)
    )


def test_it_names_the_rule_the_place_and_the_help_page_of_a_violation(page: Page):
    """The check can fail, on a real page under its real Content-Security-Policy: with the
    login form's labels taken away and its button emptied (as a careless template edit
    would), axe reports each with its rule, impact, selector and help page."""
    page.goto("/accounts/login/")
    assert axe_violations(page) == []
    page.evaluate(
        """() => {
            document.querySelectorAll("label").forEach(label => label.remove());
            document.querySelector("button[type=submit]").replaceChildren();
        }"""
    )
    violations = axe_violations(page)
    by_rule: dict[str, Any] = {violation["id"]: violation for violation in violations}
    assert set(by_rule) >= {"label", "button-name"}
    assert by_rule["label"]["impact"] == "critical"
    report = describe(violations, where="login")
    assert "- login: label (critical): Form elements must have labels" in report
    assert "#id_username" in report
    assert "https://dequeuniversity.com/rules/axe/" in report
