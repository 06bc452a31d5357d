"""Who may do what to which object: every role against every object type and every action.

The table below is the expected answer, written out by hand; the rules live in each app's
rules.py (procurement/permissions.py explains). Each cell is asked at the rule level; the
view action of every object type is also asked over HTTP, of its page and its API endpoint,
so a view that forgets the rule fails here; a write per object type too. The IDOR tests
guess ids (one that does not exist, another department's object) and check the answer is
the same 404 (or, for objects only some roles use at all, the same 403) and names nothing.

docs/security.md ("Who may do what") holds the same table in words.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from analytics.models import SpendAnomaly, SpendImport, SpendSource
from approvals.models import ApprovalStep, Delegation
from approvals.tests.helpers import LINE_MANAGER, policy, submitted
from planning.budgets import budgets_visible_to
from planning.models import Need
from planning.needs import NeedInput, need_create
from planning.tests.helpers import budget, objective
from procurement.models import Role
from procurement.permissions import REGISTERED, allowed
from requests.selectors import purchase_request_visible_to
from sourcing.invoices import invoice_record
from sourcing.models import Award, ChangeOrder, Rfq
from sourcing.order_selectors import po_list
from sourcing.rfqs import rfqs_visible
from sourcing.tests.helpers import issued_po
from tests.factories import CostCentreFactory, PurchaseRequestFactory, UserFactory
from vendors.contracts import ContractInput, contract_create, contracts_visible_to
from vendors.models import Contract, Vendor
from vendors.selectors import vendor_visible_to

pytestmark = pytest.mark.django_db

# --- Who is asking ------------------------------------------------------------------------
# owner: alice, a requester in IT, who raised the requests, the need and (through them) the
# order. colleague: a requester in IT who owns nothing here (but owns the contract).
# line_manager: mark, alice's manager (manager role, IT), approver of her request.
# head: hana, head of IT (manager role), owner of the budget and the objective.
# other_manager: the head of Marketing (manager role). outsider: otto, a requester in
# Marketing. Then one person per role without a department, and an inactive account that
# holds every role and is a superuser: it may do nothing.
ACTORS = (
    "owner",
    "colleague",
    "line_manager",
    "head",
    "other_manager",
    "outsider",
    "procurement",
    "finance",
    "security",
    "legal",
    "admin",
    "inactive",
)
ACTIVE = frozenset(ACTORS) - {"inactive"}
READ_ALL = frozenset({"procurement", "finance", "admin"})
REQUEST_READERS = READ_ALL | {"owner", "line_manager", "head"}
VENDOR_FILE = frozenset({"procurement", "finance", "security", "legal", "admin"})
MANAGERS = frozenset({"line_manager", "head", "other_manager"})
IN_A_DEPARTMENT = frozenset(
    {"owner", "colleague", "line_manager", "head", "other_manager", "outsider"}
)

# (object, permission) -> who may. Everyone else is refused.
EXPECTED: dict[tuple[str, str], frozenset[str]] = {
    # A draft request of alice's.
    ("draft_request", "requests.view_purchaserequest"): REQUEST_READERS,
    ("draft_request", "requests.comment_purchaserequest"): REQUEST_READERS,
    ("draft_request", "requests.change_purchaserequest"): frozenset({"owner"}),
    ("draft_request", "requests.submit_purchaserequest"): frozenset({"owner"}),
    # Nobody decides a draft: no step is open.
    ("draft_request", "requests.decide_purchaserequest"): frozenset(),
    ("draft_request", "requests.return_purchaserequest"): frozenset({"procurement"}),
    ("draft_request", "requests.cancel_purchaserequest"): frozenset(
        {"owner", "procurement", "admin"}
    ),
    ("draft_request", "requests.order_purchaserequest"): frozenset({"procurement"}),
    ("draft_request", "requests.receive_purchaserequest"): frozenset({"owner", "procurement"}),
    ("draft_request", "requests.amend_purchaserequest"): frozenset({"procurement"}),
    # Alice's request submitted to the line-manager route: Mark's step is open.
    ("submitted_request", "requests.view_purchaserequest"): REQUEST_READERS,
    ("submitted_request", "requests.decide_purchaserequest"): frozenset({"line_manager"}),
    ("submitted_request", "requests.return_purchaserequest"): frozenset(
        {"line_manager", "procurement"}
    ),
    ("submitted_request", "requests.cancel_purchaserequest"): frozenset(
        {"owner", "procurement", "admin"}
    ),
    ("submitted_request", "planning.view_budgetfigures"): READ_ALL | {"head", "line_manager"},
    # Mark's step on it.
    ("approval_step", "approvals.view_approvalstep"): REQUEST_READERS,
    ("approval_step", "approvals.decide_approvalstep"): frozenset({"line_manager"}),
    # Mark hands his steps to Hana while he is away.
    ("delegation", "approvals.end_delegation"): frozenset({"line_manager", "admin"}),
    # A vendor, its bank details and a contract with it (owned by the colleague).
    ("vendor", "vendors.view_vendor"): ACTIVE,
    ("vendor", "vendors.view_vendorfile"): VENDOR_FILE,
    ("vendor", "vendors.change_vendor"): frozenset({"procurement", "admin"}),
    ("vendor", "vendors.check_vendor"): frozenset({"procurement", "finance", "legal", "admin"}),
    ("vendor", "vendors.score_assessment"): frozenset({"security", "admin"}),
    ("vendor", "vendors.declare_vendor"): VENDOR_FILE | MANAGERS,
    ("vendor", "vendors.add_vendordocument"): VENDOR_FILE,
    ("bank_details", "vendors.view_bankdetails"): frozenset({"procurement", "finance"}),
    ("bank_details", "vendors.change_bankdetails"): frozenset({"procurement", "finance"}),
    ("contract", "vendors.view_contract"): VENDOR_FILE | {"colleague"},
    ("contract", "vendors.change_contract"): frozenset({"procurement", "admin", "colleague"}),
    # Sourcing: an RFQ for alice's request, a quote, an award waiting for legal's approval,
    # the order, a change to it waiting for finance, an invoice against it.
    ("rfq", "sourcing.view_rfq"): READ_ALL,
    ("rfq", "sourcing.change_rfq"): frozenset({"procurement", "admin"}),
    ("quote", "sourcing.view_quote"): READ_ALL,
    ("award", "sourcing.view_award"): READ_ALL | {"legal"},
    ("award", "sourcing.decide_award"): frozenset({"legal"}),
    ("order", "sourcing.view_purchaseorder"): READ_ALL | {"owner"},
    ("order", "sourcing.change_purchaseorder"): frozenset({"procurement", "admin"}),
    ("order", "sourcing.receive_purchaseorder"): frozenset({"owner", "procurement", "admin"}),
    ("change_order", "sourcing.decide_changeorder"): frozenset({"finance"}),
    ("invoice", "sourcing.view_invoice"): READ_ALL | {"owner"},
    ("invoice", "sourcing.add_invoice"): READ_ALL,
    ("invoice", "sourcing.resolve_invoice"): frozenset({"finance", "admin"}),
    # Spend analytics.
    ("spend", "analytics.view_spend"): READ_ALL | MANAGERS,
    ("cycle_times", "analytics.view_cycletimes"): READ_ALL | MANAGERS,
    ("spend_import", "analytics.view_spendimport"): READ_ALL,
    ("spend_import", "analytics.add_spendimport"): READ_ALL,
    ("payee", "analytics.change_payee"): READ_ALL,
    ("anomaly", "analytics.dismiss_spendanomaly"): frozenset({"procurement", "finance"}),
    # Planning: IT's budget and objective (owned by Hana), alice's need, the forecast.
    ("budget", "planning.view_budget"): READ_ALL | {"head", "line_manager"},
    ("budget", "planning.change_budget"): frozenset({"finance", "admin"}),
    ("objective", "planning.view_objective"): ACTIVE,
    ("objective", "planning.change_objective"): frozenset({"finance", "admin"}),
    ("objective", "planning.view_objectivefigures"): READ_ALL | {"head", "line_manager"},
    ("need", "planning.view_need"): ACTIVE,
    ("need", "planning.add_need"): IN_A_DEPARTMENT | {"procurement", "admin"},
    ("department", "planning.add_need_for_department"): frozenset(
        {"owner", "colleague", "line_manager", "head", "procurement", "admin"}
    ),
    ("need", "planning.change_need"): frozenset({"owner", "procurement", "admin"}),
    ("need", "planning.consolidate_need"): frozenset({"procurement", "admin"}),
    ("forecast", "planning.view_forecast"): READ_ALL | MANAGERS,
}
OBJECT_TYPES = sorted({kind for kind, _perm in EXPECTED})


@dataclass
class World:
    users: dict[str, Any]
    objects: dict[str, Any]
    # Another department's objects, for the IDOR tests.
    marketing_request: Any
    marketing_budget: Any


@pytest.fixture
def world(org) -> World:
    colleague = UserFactory.create(
        username="cole", department=org.department, manager=org.manager, roles=[Role.REQUESTER]
    )
    other_manager = UserFactory.create(
        username="mona", department=org.other_department, roles=[Role.MANAGER]
    )
    org.other_department.head = other_manager
    org.other_department.save()
    inactive = UserFactory.create(
        username="ivy",
        department=org.department,
        is_active=False,
        is_staff=True,
        is_superuser=True,
        roles=list(Role),
    )
    users = {
        "owner": org.requester,
        "colleague": colleague,
        "line_manager": org.manager,
        "head": org.head,
        "other_manager": other_manager,
        "outsider": org.outsider,
        "procurement": org.procurement,
        "finance": org.finance,
        "security": org.security,
        "legal": org.legal,
        "admin": org.admin,
        "inactive": inactive,
    }

    # Sourcing first: it builds an approved request of alice's through the real route.
    po = issued_po(org)
    rfq = Rfq.objects.get(pk=po.award.rfq_id)
    # The award the order came from, as if the policy had asked legal to approve it.
    Award.objects.filter(pk=po.award_id).update(approver_role=Role.LEGAL)
    award = Award.objects.get(pk=po.award_id)
    vendor = Vendor.objects.get(pk=po.vendor_id)
    Vendor.objects.filter(pk=vendor.pk).update(
        bank_account_name="Northwind Hardware Ltd", bank_iban="GB82WEST12345698765432"
    )
    vendor.refresh_from_db()
    invoice = invoice_record(
        po_id=po.pk,
        by=org.finance,
        number="INV-7",
        invoice_date=timezone.localdate(),
        currency="GBP",
        total=Decimal("2300.00"),
        lines={po.lines.get().pk: (Decimal("2"), Decimal("1150.00"))},
    )
    today = timezone.localdate()
    contract = contract_create(
        by=org.procurement,
        data=ContractInput(
            vendor_id=vendor.pk,
            title="Helpdesk SaaS",
            owner_id=org.legal.pk,
            value=Decimal("9000"),
            currency="GBP",
            start_date=today - dt.timedelta(days=30),
            end_date=today + dt.timedelta(days=365),
            notice_period_days=30,
        ),
    )

    # Owned since by the colleague, who holds none of the roles that see every contract (an
    # owner who changed jobs): only the owner rule lets them in.
    Contract.objects.filter(pk=contract.pk).update(owner=colleague)
    contract.refresh_from_db()

    policy(LINE_MANAGER)
    draft = PurchaseRequestFactory.create(
        requester=org.requester, title="Draft docking stations", line_items=1
    )
    pending = submitted(org, title="Pending monitors")
    step = ApprovalStep.objects.get(request=pending)
    marketing_request = PurchaseRequestFactory.create(
        requester=org.outsider,
        department=org.other_department,
        cost_centre=CostCentreFactory.create(
            code="MK-100", name="Campaigns", department=org.other_department
        ),
        title="Marketing secret campaign",
        line_items=1,
    )

    it_budget = budget(org)
    marketing_budget = budget(
        org, cost_centre=marketing_request.cost_centre, owner=other_manager, amount="5000"
    )
    it_objective = objective(org, department=org.department)
    need = need_create(
        data=NeedInput(
            title="Faster laptops for designers",
            problem="Builds take an hour.",
            department=org.department,
            people_affected=12,
            needed_by=today + dt.timedelta(days=60),
            rough_budget=Decimal("20000"),
        ),
        by=org.requester,
    )
    source = SpendSource.objects.create(name="Bank export")
    spend_import = SpendImport.objects.create(source=source, filename="spend.csv", mapping={})

    objects: dict[str, Any] = {
        "draft_request": draft,
        "submitted_request": pending,
        "approval_step": step,
        "delegation": Delegation.objects.create(
            delegator=org.manager,
            delegate=org.head,
            starts_on=today,
            ends_on=today + dt.timedelta(days=7),
        ),
        "vendor": vendor,
        "bank_details": vendor,
        "contract": contract,
        "rfq": rfq,
        "quote": award.quote,
        "award": award,
        "order": po,
        # Asked of the rule only: a change order is decided on its order's page.
        "change_order": ChangeOrder(
            po=po, approver_role=Role.FINANCE, requested_by=org.procurement
        ),
        "invoice": invoice,
        # Spend, payees and findings are filtered per department, not opened one by one.
        "spend": None,
        "spend_import": spend_import,
        "payee": None,
        "anomaly": SpendAnomaly(),
        "budget": it_budget,
        "objective": it_objective,
        "need": need,
        "forecast": None,
        "cycle_times": None,
        "department": org.department,  # IT, where alice, cole, mark and hana work
    }
    return World(users, objects, marketing_request, marketing_budget)


# --- The rules, cell by cell ----------------------------------------------------------------


@pytest.mark.parametrize("kind", OBJECT_TYPES)
def test_each_role_may_do_exactly_what_the_table_says_to_each_object(world, kind):
    obj = world.objects[kind]
    wrong = []
    for (row_kind, perm), may in EXPECTED.items():
        if row_kind != kind:
            continue
        for actor in ACTORS:
            answer = allowed(world.users[actor], perm, obj)
            if answer != (actor in may):
                wrong.append(f"{actor} {'may' if answer else 'may not'} {perm}")
    assert wrong == []


def test_every_registered_permission_is_in_the_table():
    assert sorted(REGISTERED) == sorted({perm for _kind, perm in EXPECTED})


def test_the_security_guide_lists_every_permission_as_registered():
    guide = (Path(settings.BASE_DIR) / "docs" / "security.md").read_text()
    missing = [perm for perm, means in REGISTERED.items() if f"| `{perm}` | {means} |" not in guide]
    assert missing == []


def test_an_unknown_permission_name_is_an_error_not_a_refusal(world):
    with pytest.raises(LookupError):
        allowed(world.users["admin"], "requests.aprove_purchaserequest", None)


def test_lists_show_each_role_exactly_the_objects_it_may_view(world):
    lists = {
        "draft_request": (purchase_request_visible_to, "requests.view_purchaserequest"),
        "submitted_request": (purchase_request_visible_to, "requests.view_purchaserequest"),
        "vendor": (vendor_visible_to, "vendors.view_vendor"),
        "contract": (contracts_visible_to, "vendors.view_contract"),
        "rfq": (rfqs_visible, "sourcing.view_rfq"),
        "order": (lambda user: po_list(by=user), "sourcing.view_purchaseorder"),
        "budget": (budgets_visible_to, "planning.view_budget"),
    }
    wrong = []
    for kind, (visible, perm) in lists.items():
        obj = world.objects[kind]
        for actor, user in world.users.items():
            listed = visible(user).filter(pk=obj.pk).exists()
            if listed != allowed(user, perm, obj):
                wrong.append(f"{kind}: {actor} {'sees' if listed else 'misses'} it in the list")
    assert wrong == []


# --- Over HTTP: the view action of every object type, on its page and its API ----------------


def _page(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@dataclass(frozen=True)
class Endpoint:
    kind: str
    perm: str
    page: str  # with {id}
    api: str
    # What a person who may not view it is answered: 404 for objects only some people may
    # see (their existence is not confirmed), 403 for kinds that whole roles may not open at
    # all (the same 403 for any id, existing or not, so it confirms nothing either).
    denied: int
    # Words on it that nobody refused may read.
    secret: str


ENDPOINTS = [
    Endpoint(
        "draft_request",
        "requests.view_purchaserequest",
        "/requests/{id}/",
        "/api/requests/{id}/",
        404,
        "Draft docking stations",
    ),
    Endpoint(
        "approval_step",
        "approvals.view_approvalstep",
        "/requests/{request_id}/",
        "/api/approvals/requests/{request_id}/route/",
        404,
        "Pending monitors",
    ),
    Endpoint("vendor", "vendors.view_vendor", "/vendors/{id}/", "/api/vendors/{id}/", 404, ""),
    Endpoint(
        "contract",
        "vendors.view_contract",
        "/contracts/{id}/",
        "/api/contracts/{id}/",
        404,
        "Helpdesk SaaS",
    ),
    Endpoint("rfq", "sourcing.view_rfq", "/sourcing/{id}/", "/api/sourcing/{id}/", 404, ""),
    Endpoint(
        "quote",
        "sourcing.view_quote",
        "/sourcing/{rfq_id}/compare/",
        "/api/sourcing/{rfq_id}/evaluation/",
        404,
        "1,150.00",
    ),
    Endpoint(
        "award",
        "sourcing.view_award",
        "/sourcing/awards/{id}/",
        "/api/sourcing/awards/{id}/",
        404,
        "",
    ),
    Endpoint(
        "order",
        "sourcing.view_purchaseorder",
        "/orders/{id}/",
        "/api/orders/{id}/",
        404,
        "",
    ),
    Endpoint(
        "spend_import",
        "analytics.view_spendimport",
        "/analytics/imports/{id}/",
        "/api/analytics/imports/{id}/",
        403,
        "spend.csv",
    ),
    Endpoint(
        "budget",
        "planning.view_budget",
        "/planning/budgets/{id}/",
        "/api/planning/budgets/{id}/",
        404,
        "10,000",
    ),
    Endpoint(
        "objective",
        "planning.view_objective",
        "/planning/objectives/{id}/",
        "/api/planning/objectives/{id}/",
        404,
        "",
    ),
    Endpoint(
        "need",
        "planning.view_need",
        "/planning/needs/{id}/",
        "/api/planning/needs/{id}/",
        404,
        "",
    ),
]


def _url(template: str, obj: Any) -> str:
    return template.format(
        id=obj.pk,
        request_id=getattr(obj, "request_id", None),
        rfq_id=getattr(getattr(obj, "invitation", None), "rfq_id", None),
    )


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda endpoint: endpoint.kind)
def test_pages_and_api_let_in_exactly_those_the_view_rule_lets_in(world, endpoint):
    obj = world.objects[endpoint.kind]
    wrong = []
    for actor in sorted(ACTIVE):
        user = world.users[actor]
        may = actor in EXPECTED[(endpoint.kind, endpoint.perm)]
        for where, client in (("page", _page(user)), ("api", _api(user))):
            url = _url(endpoint.page if where == "page" else endpoint.api, obj)
            response = client.get(url)
            expected = 200 if may else endpoint.denied
            if response.status_code != expected:
                wrong.append(f"{actor} {where} {url}: {response.status_code}, not {expected}")
            elif not may and endpoint.secret and endpoint.secret in response.text:
                wrong.append(f"{actor} {where} {url}: the refusal names {endpoint.secret!r}")
    assert wrong == []


def test_bank_details_show_only_to_those_who_may_see_them(world):
    vendor = world.objects["bank_details"]
    wrong = []
    for actor in sorted(ACTIVE):
        user = world.users[actor]
        may = actor in EXPECTED[("bank_details", "vendors.view_bankdetails")]
        page = _page(user).get(f"/vendors/{vendor.pk}/")
        api = _api(user).get(f"/api/vendors/{vendor.pk}/")
        if (page.status_code, api.status_code) != (200, 200):
            wrong.append(f"{actor}: {page.status_code}, {api.status_code}")
            continue
        # The page masks the IBAN; its last four digits are what it shows.
        if ("5432" in page.text) != may:
            wrong.append(f"{actor} page {'shows' if not may else 'hides'} the bank details")
        if ("bank_iban" in api.json() or "bank_details" in api.json()) != may:
            wrong.append(f"{actor} api {'shows' if not may else 'hides'} the bank details")
    assert wrong == []


def test_an_inactive_account_gets_nothing_over_http(world):
    inactive = world.users["inactive"]
    request = world.objects["draft_request"]
    page = _page(inactive).get(f"/requests/{request.pk}/")
    api = _api(inactive).get(f"/api/requests/{request.pk}/")
    assert page.status_code == 302
    assert page["Location"].startswith("/accounts/login/")
    assert api.status_code in (401, 403, 404)
    assert "Draft docking stations" not in api.text


# --- A write per object type, refused to someone who may not, nothing changed --------------


@pytest.mark.parametrize(
    ("kind", "actor", "method", "url", "body", "status"),
    [
        # Someone who cannot see the request may not learn it exists: 404.
        ("draft_request", "colleague", "post", "/api/requests/{id}/cancel/", {}, 404),
        # Someone who sees it but may not: 403.
        ("draft_request", "finance", "post", "/api/requests/{id}/submit/", {}, 403),
        (
            "approval_step",
            "head",
            "post",
            "/api/approvals/steps/{id}/decide/",
            {"decision": "approve"},
            403,
        ),
        (
            "approval_step",
            "outsider",
            "post",
            "/api/approvals/steps/{id}/decide/",
            {"decision": "approve"},
            404,
        ),
        ("vendor", "finance", "patch", "/api/vendors/{id}/", {"website": "https://x.test"}, 403),
        (
            "bank_details",
            "admin",
            "put",
            "/api/vendors/{id}/bank-details/",
            {"bank_iban": "GB33BUKB20201555555555", "reason": "New bank"},
            403,
        ),
        ("contract", "finance", "patch", "/api/contracts/{id}/", {"title": "Mine now"}, 403),
        ("rfq", "finance", "post", "/api/sourcing/{id}/cancel/", {"reason": "No"}, 403),
        ("award", "procurement", "post", "/api/sourcing/awards/{id}/approve/", {}, 403),
        ("order", "finance", "post", "/api/orders/{id}/cancel/", {"reason": "No"}, 403),
        ("order", "colleague", "post", "/api/orders/{id}/cancel/", {"reason": "No"}, 404),
        (
            "invoice",
            "procurement",
            "post",
            "/api/orders/invoices/{id}/release/",
            {"reason": "Fine"},
            403,
        ),
        (
            "budget",
            "line_manager",
            "post",
            "/api/planning/budgets/{id}/revisions/",
            {"amount": "1", "reason": "Mine"},
            403,
        ),
        (
            "need",
            "colleague",
            "post",
            "/api/planning/needs/{id}/withdraw/",
            {"reason": "Not needed"},
            403,
        ),
    ],
)
def test_a_write_is_refused_to_someone_the_rule_refuses(
    world, kind, actor, method, url, body, status
):
    obj = world.objects[kind]
    perm_rows = [perm for (row_kind, perm) in EXPECTED if row_kind == kind]
    assert perm_rows, kind
    before = type(obj).objects.filter(pk=obj.pk).values().get()
    response = getattr(_api(world.users[actor]), method)(_url(url, obj), body, format="json")
    assert response.status_code == status, response.content
    assert response.json()["code"] == ("not_found" if status == 404 else "permission_denied")
    assert type(obj).objects.filter(pk=obj.pk).values().get() == before


# --- IDOR: guessed ids -----------------------------------------------------------------------

MISSING_ID = 987654321


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda endpoint: endpoint.kind)
def test_a_guessed_id_that_does_not_exist_is_answered_like_one_the_caller_may_not_see(
    world, endpoint
):
    """The same answer for "there is no such object" and "it is not yours": guessing ids
    tells nobody which exist. Asked as the owner (who may not see sourcing or imports) and
    as procurement (who may)."""
    for actor in ("owner", "procurement"):
        user = world.users[actor]
        for template, client in ((endpoint.page, _page(user)), (endpoint.api, _api(user))):
            url = template.format(id=MISSING_ID, request_id=MISSING_ID, rfq_id=MISSING_ID)
            response = client.get(url)
            may_any = allowed(user, endpoint.perm) or endpoint.denied == 404
            assert response.status_code == (404 if may_any else endpoint.denied), (actor, url)


def test_another_departments_request_is_a_404_that_names_nothing(world):
    request = world.marketing_request
    for actor in ("owner", "colleague", "line_manager", "head"):
        user = world.users[actor]
        for url, client in (
            (f"/requests/{request.pk}/", _page(user)),
            (f"/api/requests/{request.pk}/", _api(user)),
            (f"/api/approvals/requests/{request.pk}/route/", _api(user)),
        ):
            response = client.get(url)
            assert response.status_code == 404, (actor, url)
            assert "Marketing secret campaign" not in response.text
        cancel = _api(user).post(f"/api/requests/{request.pk}/cancel/", {}, format="json")
        assert cancel.status_code == 404
    request.refresh_from_db()
    assert request.state == "draft"


def test_another_departments_budget_is_a_404_that_names_nothing(world):
    marketing = world.marketing_budget
    for actor in ("line_manager", "head", "owner"):
        user = world.users[actor]
        for url, client in (
            (f"/planning/budgets/{marketing.pk}/", _page(user)),
            (f"/api/planning/budgets/{marketing.pk}/", _api(user)),
        ):
            response = client.get(url)
            assert response.status_code == 404, (actor, url)
            assert "MK-100" not in response.text
            assert "5,000" not in response.text


def test_needs_and_objectives_are_visible_to_everyone_so_their_ids_hide_nothing(world):
    need = world.objects["need"]
    assert Need.objects.filter(pk=need.pk).exists()
    for actor in ("outsider", "other_manager"):
        assert _api(world.users[actor]).get(f"/api/planning/needs/{need.pk}/").status_code == 200


def test_a_deactivated_requester_no_longer_sees_their_own_request_or_order(world):
    owner = world.users["owner"]
    owner.is_active = False
    owner.save()
    order = world.objects["order"]
    request = world.objects["draft_request"]

    assert not allowed(owner, "sourcing.view_purchaseorder", order)
    assert not po_list(by=owner).filter(pk=order.pk).exists()
    assert not allowed(owner, "requests.view_purchaserequest", request)
    assert not purchase_request_visible_to(owner).filter(pk=request.pk).exists()
