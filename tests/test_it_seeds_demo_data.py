"""`manage.py seed_demo` gives a local install something to click through, once."""

from __future__ import annotations

import io
import os
import subprocess
import sys

import pytest
from django.conf import settings as django_settings
from django.core.management import CommandError, call_command
from django.db.models import Model

from analytics.models import AnomalyKind, Payee, SpendAnomaly, SpendImport, SpendLine
from planning.budgets import budget_consumption
from planning.models import Budget, BudgetRevision, Need, NeedSupport
from procurement.models import (
    AuditEntry,
    CostCentre,
    Department,
    FiscalYear,
    Objective,
    Role,
    User,
    UserRole,
)
from requests.models import LineItem, PurchaseRequest, RequestState
from sourcing.models import Invoice, PurchaseOrder, Quote, Rfq, Saving
from vendors.models import Assessment, Contract, SanctionsEntry, SanctionsMatch, Vendor

SEEDED: list[type[Model]] = [
    Department,
    CostCentre,
    User,
    UserRole,
    PurchaseRequest,
    LineItem,
    AuditEntry,
    Vendor,
    Contract,
    Assessment,
    SanctionsEntry,
    SanctionsMatch,
    SpendImport,
    SpendLine,
    Payee,
    SpendAnomaly,
    Rfq,
    Quote,
    PurchaseOrder,
    Invoice,
    Saving,
    FiscalYear,
    Objective,
    Budget,
    BudgetRevision,
    Need,
    NeedSupport,
]


def _counts() -> dict[str, int]:
    return {model.__name__: model._default_manager.count() for model in SEEDED}


@pytest.mark.django_db
def test_it_creates_departments_one_user_per_role_and_sample_requests(settings) -> None:
    settings.DEBUG = True

    call_command("seed_demo")

    assert set(Department.objects.values_list("name", flat=True)) >= {
        "IT",
        "Finance",
        "Legal",
        "Operations",
        "Marketing",
    }
    assert all(department.cost_centres.exists() for department in Department.objects.all())
    assert set(UserRole.objects.values_list("role", flat=True)) == set(Role.values)
    alice = User.objects.get(username="alice")
    mark = User.objects.get(username="mark")
    assert alice.manager == mark
    assert alice.department is not None
    assert alice.department.head == mark
    assert alice.email == "alice@example.com"
    assert alice.check_password("correct-horse-battery-staple")
    ada = User.objects.get(username="ada")
    assert ada.is_staff
    assert ada.is_superuser
    samples = PurchaseRequest.objects.filter(
        requester=alice, title__in=["Laptops for three new engineers", "Design tool licences"]
    )
    states = set(samples.values_list("state", flat=True))
    assert states == {RequestState.DRAFT, RequestState.PENDING_APPROVAL}
    # Made through the services, so the history is there too (the sourcing demo's two
    # requests were submitted and approved as well).
    assert AuditEntry.objects.filter(action="submit").count() == 3


@pytest.mark.django_db
def test_it_gives_the_spend_pages_something_to_show(settings) -> None:
    settings.DEBUG = True

    call_command("seed_demo")

    # The IT manager sees IT's spend: the demo departments map to the platform's own.
    mark = User.objects.get(username="mark")
    it_spend = SpendLine.objects.filter(department__department=mark.department)
    assert it_spend.count() > 50
    # "Northwind Hardware Ltd" and "NORTHWIND HARDWARE LIMITED" are one payee, the vendor's.
    northwind = Payee.objects.get(vendor__legal_name="Northwind Hardware Ltd")
    assert northwind.spellings.count() == 2
    # "AMAZON", "Amazon" and "AMZ EVAQ8" are one payee, not yet a vendor.
    assert Payee.objects.get(key="amazon").spellings.count() == 3
    kinds = set(SpendAnomaly.objects.values_list("kind", flat=True))
    assert kinds == {AnomalyKind.DUPLICATE_PAYMENT, AnomalyKind.SPLIT_PURCHASE}


@pytest.mark.django_db
def test_it_gives_the_sourcing_pages_something_to_show(settings) -> None:
    """One RFQ closed with two quotes waiting to be compared, one taken all the way to a
    matched invoice, made through the services as procurement and the vendors would."""
    settings.DEBUG = True

    call_command("seed_demo")

    waiting = Rfq.objects.get(title="Monitors for the design team")
    assert waiting.state == "closed"
    assert Quote.objects.filter(invitation__rfq=waiting, superseded_at=None).count() == 2
    assert waiting.invitations.filter(is_prospect=True).count() == 1
    done = Rfq.objects.get(title="Docking stations for hot desks")
    assert done.state == "awarded"
    po = PurchaseOrder.objects.get(award__rfq=done)
    assert (po.number, po.state) == (f"PO-{po.created_at.year}-000001", "received")
    invoice = Invoice.objects.get(po=po)
    assert invoice.state == "matched"
    assert SpendLine.objects.filter(
        payee__vendor=po.vendor, reference__startswith=po.number
    ).exists()
    # The revision (176.50 from 182.00 a dock, ten docks) is the saving on the first quote.
    assert Saving.objects.get(award__rfq=done).saved_base == 55


@pytest.mark.django_db
def test_it_gives_the_planning_pages_something_to_show(settings) -> None:
    """A fiscal year holding today, objectives, budgets that the demo's approved requests and
    orders already draw on, and open needs from two departments."""
    settings.DEBUG = True

    call_command("seed_demo", stdout=io.StringIO())

    from django.utils import timezone

    year = FiscalYear.containing(timezone.localdate())
    assert year is not None
    assert not year.is_closed
    assert Objective.objects.filter(fiscal_year=year).count() >= 2
    it_budget = Budget.objects.get(fiscal_year=year, cost_centre__code="IT-100", category=None)
    assert budget_consumption(budget=it_budget).consumed > 0
    needs = Need.objects.filter(status="open")
    assert needs.values("department").distinct().count() == 2
    assert NeedSupport.objects.filter(need__in=needs).exists()


@pytest.mark.django_db
def test_it_changes_nothing_the_second_time(settings) -> None:
    settings.DEBUG = True
    call_command("seed_demo")
    first = _counts()

    call_command("seed_demo")

    assert _counts() == first


@pytest.mark.django_db
def test_it_refuses_to_run_without_debug(settings) -> None:
    settings.DEBUG = False

    with pytest.raises(CommandError, match="DEBUG"):
        call_command("seed_demo")

    assert not User.objects.exists()


def test_it_exits_with_an_error_from_the_command_line_without_debug(tmp_path) -> None:
    env = {key: value for key, value in os.environ.items() if key not in {"DEBUG", "DATABASE_URL"}}
    env.update(VAR_DIR=str(tmp_path / "var"), DEBUG="0")

    result = subprocess.run(
        [sys.executable, "manage.py", "seed_demo"],
        cwd=django_settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode != 0
    assert "runs only with DEBUG=1" in result.stderr


@pytest.mark.django_db
def test_it_seeds_an_active_approval_policy_and_routes_the_sample_request(settings):
    from approvals.models import ApprovalPolicy, ApprovalStep

    settings.DEBUG = True
    call_command("seed_demo", stdout=io.StringIO())

    policy = ApprovalPolicy.objects.get(is_active=True)
    assert list(policy.rules.values_list("name", flat=True)) == [
        "Line manager",
        "Finance review",
        "Security review",
        "New vendor review",
        "Security review of a high-risk vendor",
        "Department head",
    ]
    # The submitted sample (3 laptops and docks, 4,917.00 GBP) waits for mark alone.
    steps = ApprovalStep.objects.filter(request__title="Laptops for three new engineers")
    assert [(s.name, s.state) for s in steps] == [("Line manager", "pending")]


@pytest.mark.django_db
def test_it_seeds_vendors_in_the_states_a_buyer_meets(settings):
    settings.DEBUG = True
    call_command("seed_demo", stdout=io.StringIO())

    states = dict(Vendor.objects.values_list("legal_name", "state"))
    assert states == {
        "Northwind Hardware Ltd": "approved",
        "Cloudberry Analytics GmbH": "under_review",
        "Kestrel Global Trading LLC": "under_review",
        # Invited to quote while still a prospect (flagged so on the RFQ).
        "Fabrikam Displays Ltd": "prospect",
    }
    # The renewal pipeline has something in it, and the sanctions review something to judge.
    contract = Contract.objects.get()
    assert (contract.vendor.legal_name, contract.state) == ("Northwind Hardware Ltd", "active")
    assert SanctionsMatch.objects.filter(
        vendor__legal_name="Kestrel Global Trading LLC", status="possible"
    ).exists()
    assert Assessment.objects.get().vendor.legal_name == "Cloudberry Analytics GmbH"
    request = PurchaseRequest.objects.get(title="Laptops for three new engineers")
    assert request.vendor is not None
    assert request.vendor.legal_name == "Northwind Hardware Ltd"
