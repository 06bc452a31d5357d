"""Demo data for a local install: departments, one user per role, an approval policy,
demo exchange rates, the sample sanctions lists, vendors in several states (one with a
possible sanctions match, one with a questionnaire out), a contract coming up for renewal,
two sample requests, eighteen months of made-up spend for the analytics pages (with a
likely duplicate payment and a split purchase among it), two RFQs, and the planning demo
(a fiscal year, objectives, budgets and needs).

It lives in the highest app it touches (planning), as cross-app use cases do.

Idempotent: running it again changes nothing. Refuses to run without DEBUG,
because every demo user shares one published password.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from analytics.services import LineInput, spend_lines_add, spend_source_get_or_create
from approvals.models import ApprovalPolicy, ApprovalRule, ApproverKind, Mode, NoMatch
from planning.demo import seed_planning
from planning.needs_demo import seed_needs
from procurement.models import Category, CostCentre, Department, ExchangeRate, Role, User, UserRole
from requests.models import PurchaseRequest
from requests.services import (
    LineItemInput,
    RequestInput,
    purchase_request_create,
    purchase_request_transition,
)
from vendors.assessments import assessment_send, questionnaire_templates_active
from vendors.contracts import ContractInput, contract_create, contract_transition
from vendors.models import CheckStatus, RiskTier, SanctionsList, Vendor, VendorState, VendorType
from vendors.sanctions import sanctions_list_import, vendor_sanctions_screen
from vendors.services import (
    ContactInput,
    VendorInput,
    conflict_declare,
    due_diligence_check_record,
    vendor_create,
    vendor_transition,
)

# Approximate, for the demo only: GBP per unit of each currency.
DEMO_RATES_TO_GBP = {
    "GBP": Decimal("1"),
    "EUR": Decimal("0.85"),
    "USD": Decimal("0.78"),
    "CHF": Decimal("0.89"),
    "SEK": Decimal("0.073"),
    "NOK": Decimal("0.072"),
    "DKK": Decimal("0.114"),
    "PLN": Decimal("0.197"),
    "CAD": Decimal("0.57"),
    "AUD": Decimal("0.51"),
    "JPY": Decimal("0.0052"),
    "INR": Decimal("0.0093"),
}

# Local only: README.md publishes it, which is why the command needs DEBUG.
DEMO_PASSWORD = "correct-horse-battery-staple"

DEPARTMENTS = [
    # code, name, [(cost centre code, cost centre name)]
    ("it", "IT", [("IT-100", "IT operations"), ("IT-200", "Infrastructure")]),
    ("finance", "Finance", [("FIN-100", "Finance")]),
    ("legal", "Legal", [("LEG-100", "Legal")]),
    ("operations", "Operations", [("OPS-100", "Operations and facilities")]),
    ("marketing", "Marketing", [("MKT-100", "Marketing")]),
]


@dataclass(frozen=True)
class DemoUser:
    username: str
    first_name: str
    last_name: str
    roles: list[str]
    department: str
    manager: str = ""
    heads: str = ""  # code of the department this user is head of
    superuser: bool = False


# Ordered so that each manager exists before the people who report to them.
USERS = [
    DemoUser("mark", "Mark", "Manager", [Role.MANAGER], "it", heads="it"),
    DemoUser("alice", "Alice", "Asker", [Role.REQUESTER], "it", manager="mark"),
    DemoUser("pat", "Pat", "Buyer", [Role.PROCUREMENT], "operations"),
    DemoUser("fiona", "Fiona", "Finance", [Role.FINANCE], "finance"),
    DemoUser("sam", "Sam", "Secure", [Role.SECURITY_REVIEWER], "it"),
    DemoUser("lee", "Lee", "Legal", [Role.LEGAL], "legal"),
    DemoUser("ada", "Ada", "Admin", [Role.ADMIN], "it", superuser=True),
    DemoUser("otto", "Otto", "Outsider", [Role.REQUESTER], "marketing"),
]


class Command(BaseCommand):
    help = (
        "Create demo departments, users (one per role) and sample requests. DEBUG only; idempotent."
    )

    def handle(self, *args: object, **options: object) -> None:
        if not settings.DEBUG:
            raise CommandError(
                "seed_demo creates users with a published password and runs only with DEBUG=1."
            )
        with transaction.atomic():
            departments = self._departments()
            users = self._users(departments)
            self._exchange_rates()
            self._approval_policy()
            vendors = self._vendors(users["pat"])
            created_requests = self._sample_requests(
                users["alice"], departments["it"], vendors["Northwind Hardware Ltd"]
            )
            spend_lines = self._spend(users["pat"])
            rfqs = self._sourcing(users, vendors)
            # Planning last: budgets are shown against the requests, orders and spend above.
            planning = seed_planning(now=timezone.now())
            needs = seed_needs(now=timezone.now())
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo data ready: {len(departments)} departments, {len(users)} users "
                f"({', '.join(users)}), {len(vendors)} vendors, "
                f"{created_requests} new sample requests, {spend_lines} new spend lines, "
                f"{rfqs} new RFQs, {planning['objectives']} new objectives, "
                f"{planning['budgets']} new budgets, {needs} new needs. "
                f"Password for every demo user: {DEMO_PASSWORD}"
            )
        )

    def _departments(self) -> dict[str, Department]:
        departments = {}
        for code, name, cost_centres in DEPARTMENTS:
            department, _ = Department.objects.get_or_create(code=code, defaults={"name": name})
            for cc_code, cc_name in cost_centres:
                CostCentre.objects.get_or_create(
                    code=cc_code, defaults={"name": cc_name, "department": department}
                )
            departments[code] = department
        return departments

    def _users(self, departments: dict[str, Department]) -> dict[str, User]:
        users: dict[str, User] = {}
        for spec in USERS:
            user, created = User.objects.get_or_create(
                username=spec.username,
                defaults={
                    "first_name": spec.first_name,
                    "last_name": spec.last_name,
                    "email": f"{spec.username}@example.com",
                    "department": departments[spec.department],
                    "manager": users.get(spec.manager),
                    "is_staff": spec.superuser,
                    "is_superuser": spec.superuser,
                },
            )
            if created:
                # Hashing is slow on purpose; only new users need it.
                user.set_password(DEMO_PASSWORD)
                user.save(update_fields=["password"])
            for role in spec.roles:
                UserRole.objects.get_or_create(user=user, role=role)
            if spec.heads:
                Department.objects.filter(code=spec.heads, head__isnull=True).update(head=user)
            users[spec.username] = user
        return users

    def _exchange_rates(self) -> None:
        """Rough demo rates to the base currency, so a request in any currency can be submitted."""
        for currency in settings.CURRENCIES:
            if currency != settings.BASE_CURRENCY:
                rate = DEMO_RATES_TO_GBP.get(currency, Decimal("1"))
                if settings.BASE_CURRENCY != "GBP":
                    rate = rate / DEMO_RATES_TO_GBP.get(settings.BASE_CURRENCY, Decimal("1"))
                ExchangeRate.objects.get_or_create(
                    currency=currency, valid_from=dt.date(2020, 1, 1), defaults={"rate": rate}
                )

    def _approval_policy(self) -> None:
        """A policy a real IT team might start from; edit it in the admin."""
        if ApprovalPolicy.objects.exists():
            return
        policy = ApprovalPolicy.objects.create(
            name="Standard IT purchasing",
            is_active=True,
            no_match=NoMatch.LINE_MANAGER,
            one_decision_per_person=True,
        )
        rules = [
            {
                "name": "Line manager",
                "approver_kind": ApproverKind.LINE_MANAGER,
                "mode": Mode.ONE,
                "stage": 1,
            },
            {
                "name": "Finance review",
                "approver_kind": ApproverKind.ROLE,
                "approver_role": Role.FINANCE,
                "mode": Mode.ANY,
                "stage": 2,
                "min_total": Decimal("5000"),
            },
            {
                "name": "Security review",
                "approver_kind": ApproverKind.ROLE,
                "approver_role": Role.SECURITY_REVIEWER,
                "mode": Mode.ANY,
                "stage": 2,
                "software_or_personal_data": True,
            },
            {
                "name": "New vendor review",
                "approver_kind": ApproverKind.ROLE,
                "approver_role": Role.PROCUREMENT,
                "mode": Mode.ANY,
                "stage": 2,
                "vendor_not_approved": True,
            },
            {
                "name": "Security review of a high-risk vendor",
                "approver_kind": ApproverKind.ROLE,
                "approver_role": Role.SECURITY_REVIEWER,
                "mode": Mode.ANY,
                "stage": 2,
                "vendor_risk_tier_at_least": RiskTier.HIGH,
            },
            {
                "name": "Department head",
                "approver_kind": ApproverKind.DEPARTMENT_HEAD,
                "mode": Mode.ONE,
                "stage": 3,
                "min_total": Decimal("25000"),
            },
        ]
        for position, fields in enumerate(rules):
            ApprovalRule.objects.create(policy=policy, position=position, **fields)

    def _vendors(self, buyer: User) -> dict[str, Vendor]:
        """Vendors made through the services, as procurement would: one approved with a
        contract due for renewal, one under review with a questionnaire out, one whose name
        resembles a party on the sample sanctions lists."""
        samples = Path(settings.BASE_DIR) / "vendors" / "sample_data" / "sanctions"
        if not SanctionsList.objects.exists():
            sanctions_list_import(source="uk", path=samples / "ConList.csv")
            sanctions_list_import(source="eu", path=samples / "eu_consolidated.xml")
            sanctions_list_import(
                source="ofac", path=samples / "sdn.csv", aliases_path=samples / "alt.csv"
            )
        vendors: dict[str, Vendor] = {}
        for name, type_code, country, tax_number, personal in [
            ("Northwind Hardware Ltd", "hardware", "GB", "GB980780684", False),
            ("Cloudberry Analytics GmbH", "saas", "DE", "DE136695976", True),
            ("Kestrel Global Trading LLC", "other", "US", "", False),
        ]:
            existing = Vendor.objects.filter(legal_name=name).first()
            if existing is not None:
                vendors[name] = existing
                continue
            vendor = vendor_create(
                by=buyer,
                not_a_duplicate=True,
                data=VendorInput(
                    legal_name=name,
                    country=country,
                    tax_number=tax_number,
                    vendor_type_id=VendorType.objects.get(code=type_code).pk,
                    owner_id=buyer.pk,
                    processes_personal_data=personal,
                    contacts=[
                        ContactInput(
                            name="Sales desk",
                            email=f"sales@{name.split()[0].lower()}.example",
                            is_primary=True,
                        )
                    ],
                ),
            )
            vendors[name] = vendor
            vendor_transition(
                vendor_id=vendor.pk, by=buyer, action="start_review", reason="Demo supplier"
            )
            # The sanctions check follows the screening, run here rather than by the worker.
            vendor_sanctions_screen(vendor_id=vendor.pk)
        # Read afresh: the transitions above moved the rows, not these instances.
        vendors = {name: Vendor.objects.get(pk=vendor.pk) for name, vendor in vendors.items()}
        northwind = vendors["Northwind Hardware Ltd"]
        if northwind.state == VendorState.UNDER_REVIEW:
            conflict_declare(vendor_id=northwind.pk, by=buyer, has_conflict=False)
            for check in northwind.checks.exclude(status=CheckStatus.PASSED):
                due_diligence_check_record(
                    check_id=check.pk, by=buyer, status=CheckStatus.PASSED, outcome="Demo: checked."
                )
            vendor_transition(
                vendor_id=northwind.pk, by=buyer, action="approve", reason="Demo: all checks passed"
            )
            today = timezone.localdate()
            contract = contract_create(
                by=buyer,
                data=ContractInput(
                    vendor_id=northwind.pk,
                    title="Laptop and peripherals supply",
                    owner_id=buyer.pk,
                    value=Decimal("120000.00"),
                    currency=settings.BASE_CURRENCY,
                    start_date=today - dt.timedelta(days=300),
                    end_date=today + dt.timedelta(days=65),
                    notice_period_days=30,
                    renewal_terms="Renews for 12 months at list price minus 12%.",
                ),
            )
            contract_transition(
                contract_id=contract.pk, by=buyer, action="activate", reason="Signed"
            )
        cloudberry = vendors["Cloudberry Analytics GmbH"]
        if not cloudberry.assessments.exists():
            assessment_send(
                vendor_id=cloudberry.pk,
                by=buyer,
                template_id=questionnaire_templates_active().values_list("pk", flat=True)[0],
                contact_name="Sales desk",
                contact_email="sales@cloudberry.example",
            )
        return vendors

    def _sample_requests(self, requester: User, department: Department, vendor: Vendor) -> int:
        """Made through the services, as a person would: a draft and a submitted request."""
        cost_centre = CostCentre.objects.get(code="IT-100")
        needed_by = timezone.localdate() + dt.timedelta(days=30)
        samples = [
            (
                RequestInput(
                    title="Laptops for three new engineers",
                    justification="Three engineers join the platform team next month.",
                    department=department,
                    cost_centre=cost_centre,
                    category=Category.objects.get(code="hardware"),
                    needed_by=needed_by,
                    currency=settings.BASE_CURRENCY,
                    no_objective_reason="Day-to-day running of the team",
                    vendor=vendor,
                    line_items=[
                        LineItemInput("14-inch laptop, 32 GB", Decimal("3"), Decimal("1450.00")),
                        LineItemInput("USB-C dock", Decimal("3"), Decimal("189.00")),
                    ],
                ),
                True,
            ),
            (
                RequestInput(
                    title="Design tool licences",
                    justification="The team's current licences expire at the end of the quarter.",
                    department=department,
                    cost_centre=cost_centre,
                    category=Category.objects.get(code="software"),
                    needed_by=needed_by,
                    currency=settings.BASE_CURRENCY,
                    no_objective_reason="Day-to-day running of the team",
                    line_items=[LineItemInput("Annual seat", Decimal("5"), Decimal("144.00"))],
                ),
                False,
            ),
        ]
        created = 0
        for data, submit in samples:
            if PurchaseRequest.objects.filter(requester=requester, title=data.title).exists():
                continue
            request = purchase_request_create(requester=requester, data=data)
            if submit:
                purchase_request_transition(request_id=request.pk, by=requester, action="submit")
            created += 1
        return created

    def _spend(self, buyer: User) -> int:
        """Made-up spend over the last eighteen months, the same on every run (so a second run
        adds nothing): monthly invoices from the demo vendors and a few suppliers spelled the
        way card statements spell them."""
        source = spend_source_get_or_create(name="Demo ledger")
        if source.lines.exists():
            return 0
        rng = random.Random(20261126)  # noqa: S311 (demo data, not security)
        today = timezone.localdate()
        first = (today.replace(day=1) - dt.timedelta(days=540)).replace(day=1)
        suppliers = [
            # supplier as written, category, department, typical amount
            ("Northwind Hardware Ltd", "Hardware", "IT", 4200),
            ("NORTHWIND HARDWARE LIMITED", "Hardware", "Operations", 1800),
            ("Cloudberry Analytics GmbH", "Software", "Finance", 2600),
            ("Kestrel Global Trading LLC", "Services", "Operations", 3100),
            ("AMAZON", "Hardware", "Marketing", 450),
            ("Amazon", "Hardware", "IT", 380),
            ("AMZ EVAQ8", "Hardware", "Operations", 220),
            ("DELL PRODUCTS", "Hardware", "IT", 6900),
            ("ADOBE CREATIVE CLOUD", "Software", "Marketing", 640),
            ("PAYPAL *RACINGBINOC", "Services", "Marketing", 310),
            ("Microsoft Ireland Operations Ltd", "Software", "IT", 9800),
        ]
        lines: list[LineInput] = []
        month = first
        number = 0
        while month <= today:
            for supplier, category, department, typical in suppliers:
                for _ in range(rng.randint(1, 3)):
                    day = month + dt.timedelta(days=rng.randint(0, 27))
                    if day > today:
                        continue
                    number += 1
                    amount = Decimal(typical * rng.uniform(0.6, 1.4)).quantize(Decimal("0.01"))
                    lines.append(
                        LineInput(
                            date=day,
                            amount=amount,
                            supplier=supplier,
                            reference=f"DEMO-{number:05d}",
                            category=category,
                            department=department,
                            description=f"{category} from {supplier.title()}",
                        )
                    )
            month = (month + dt.timedelta(days=32)).replace(day=1)
        # Findings for the anomalies page: a payment entered twice, and three just under 5,000.
        paid = today - dt.timedelta(days=20)
        for reference in ("DEMO-DUP-1", "DEMO-DUP-2"):
            lines.append(
                LineInput(
                    date=paid,
                    amount=Decimal("2480.00"),
                    supplier="DELL PRODUCTS",
                    reference=reference,
                    category="Hardware",
                    department="IT",
                )
            )
        for offset, reference in enumerate(("DEMO-SPLIT-1", "DEMO-SPLIT-2", "DEMO-SPLIT-3")):
            lines.append(
                LineInput(
                    date=paid + dt.timedelta(days=offset),
                    amount=Decimal("4950.00"),
                    supplier="Kestrel Global Trading LLC",
                    reference=reference,
                    category="Services",
                    department="Operations",
                )
            )
        return spend_lines_add(
            source=source, lines=lines, label="demo spend", user=buyer
        ).rows_imported

    # --- Sourcing ---------------------------------------------------------------------

    def _approved(self, requester: User, data: RequestInput) -> PurchaseRequest:
        """A request submitted and approved on every step of its route, as its approvers would."""
        from approvals.models import ApprovalStep, Decision, StepState
        from approvals.services import approval_step_decide

        request = purchase_request_create(requester=requester, data=data)
        purchase_request_transition(request_id=request.pk, by=requester, action="submit")
        while step := (
            ApprovalStep.objects.filter(request=request, state=StepState.PENDING)
            .order_by("stage", "position", "id")
            .first()
        ):
            assignment = step.approvers.filter(decision=Decision.PENDING).first()
            if assignment is None:
                break
            approval_step_decide(
                step_id=step.pk, by=assignment.approver, action="approve", comment="Demo"
            )
        return PurchaseRequest.objects.get(pk=request.pk)

    def _sourcing(self, users: dict[str, User], vendors: dict[str, Vendor]) -> int:
        """Two RFQs made through the services, as procurement and the vendors would: one
        closed with two quotes waiting to be compared and awarded, and one taken all the way
        to a matched invoice (a purchase order, a receipt, spend in analytics and a saving)."""
        from sourcing.awards import award_make
        from sourcing.invoices import invoice_record
        from sourcing.orders import po_issue
        from sourcing.quotes import QuoteInput, quote_submit
        from sourcing.receipts import receipt_record
        from sourcing.rfqs import (
            rfq_close,
            rfq_create_from_request,
            rfq_invite,
            rfq_open,
            rfq_prices_set,
        )

        alice, pat, fiona = users["alice"], users["pat"], users["fiona"]
        northwind = vendors["Northwind Hardware Ltd"]
        if PurchaseRequest.objects.filter(title="Monitors for the design team").exists():
            return 0
        fabrikam = Vendor.objects.filter(legal_name="Fabrikam Displays Ltd").first()
        if fabrikam is None:
            fabrikam = vendor_create(
                by=pat,
                data=VendorInput(
                    legal_name="Fabrikam Displays Ltd",
                    country="GB",
                    vendor_type_id=VendorType.objects.get(code="hardware").pk,
                    owner_id=pat.pk,
                    contacts=[
                        ContactInput(
                            name="Bids team", email="bids@fabrikam.example", is_primary=True
                        )
                    ],
                ),
                not_a_duplicate=True,
            )
        department = alice.department
        assert department is not None
        cost_centre = CostCentre.objects.get(code="IT-100")
        hardware = Category.objects.get(code="hardware")
        needed_by = timezone.localdate() + dt.timedelta(days=45)
        valid_until = timezone.localdate() + dt.timedelta(days=60)

        def request_for(title: str, lines: list[LineItemInput]) -> PurchaseRequest:
            return self._approved(
                alice,
                RequestInput(
                    title=title,
                    justification="Demo: the design team moves to 4K work.",
                    department=department,
                    cost_centre=cost_centre,
                    category=hardware,
                    needed_by=needed_by,
                    currency=settings.BASE_CURRENCY,
                    no_objective_reason="Day-to-day running of the team",
                    line_items=lines,
                ),
            )

        def quote(invitation_id: int, rfq_lines: list, prices: list[str], days: int) -> None:
            quote_submit(
                invitation_id=invitation_id,
                data=QuoteInput(
                    currency=settings.BASE_CURRENCY,
                    delivery_days=days,
                    valid_until=valid_until,
                    terms="30 days net.",
                    prices={
                        line.pk: Decimal(price)
                        for line, price in zip(rfq_lines, prices, strict=True)
                    },
                ),
            )

        # 1. Closed, two quotes in, ready to compare (one vendor is still a prospect).
        request = request_for(
            "Monitors for the design team",
            [
                LineItemInput("27-inch 4K monitor", Decimal("4"), Decimal("420.00")),
                LineItemInput("Monitor arm", Decimal("4"), Decimal("85.00")),
            ],
        )
        rfq = rfq_create_from_request(request_id=request.pk, by=pat)
        rfq_prices_set(
            rfq_id=rfq.pk,
            by=pat,
            target_price=Decimal("1850.00"),
            walk_away_price=Decimal("2100.00"),
        )
        first = rfq_invite(rfq_id=rfq.pk, by=pat, vendor_id=northwind.pk)
        second = rfq_invite(rfq_id=rfq.pk, by=pat, vendor_id=fabrikam.pk)
        rfq_open(rfq_id=rfq.pk, by=pat)
        lines = list(rfq.lines.order_by("position", "id"))
        quote(first.pk, lines, ["405.00", "79.00"], 7)
        quote(second.pk, lines, ["389.00", "92.00"], 12)
        rfq_close(rfq_id=rfq.pk, by=pat)

        # 2. Awarded, ordered, received and invoiced.
        request = request_for(
            "Docking stations for hot desks",
            [LineItemInput("USB-C docking station", Decimal("10"), Decimal("189.00"))],
        )
        rfq = rfq_create_from_request(request_id=request.pk, by=pat)
        rfq_prices_set(
            rfq_id=rfq.pk,
            by=pat,
            target_price=Decimal("1750.00"),
            walk_away_price=Decimal("1950.00"),
        )
        invitation = rfq_invite(rfq_id=rfq.pk, by=pat, vendor_id=northwind.pk)
        rfq_open(rfq_id=rfq.pk, by=pat)
        lines = list(rfq.lines.order_by("position", "id"))
        quote(invitation.pk, lines, ["182.00"], 5)
        quote(invitation.pk, lines, ["176.50"], 5)  # a revision: the saving against the first
        rfq_close(rfq_id=rfq.pk, by=pat)
        winning = invitation.quotes.get(superseded_at__isnull=True)
        award = award_make(rfq_id=rfq.pk, by=pat, quote_id=winning.pk)
        po = po_issue(po_id=award.purchase_order.pk, by=pat)
        po_line = po.lines.get()
        receipt_record(
            po_id=po.pk,
            by=alice,
            received_on=timezone.localdate(),
            lines={po_line.pk: Decimal("10")},
        )
        invoice_record(
            po_id=po.pk,
            by=fiona,
            number="NW-INV-1042",
            invoice_date=timezone.localdate(),
            currency=po.currency,
            total=po.total,
            lines={po_line.pk: (Decimal("10"), po_line.unit_price)},
        )
        return 2
