"""Demo data for a local install: departments, one user per role, two sample requests.

Idempotent: running it again changes nothing. Refuses to run without DEBUG,
because every demo user shares one published password.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from procurement.models import Category, CostCentre, Department, Role, User, UserRole
from requests.models import PurchaseRequest
from requests.services import (
    LineItemInput,
    RequestInput,
    purchase_request_create,
    purchase_request_transition,
)

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
            created_requests = self._sample_requests(users["alice"], departments["it"])
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo data ready: {len(departments)} departments, {len(users)} users "
                f"({', '.join(users)}), {created_requests} new sample requests. "
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

    def _sample_requests(self, requester: User, department: Department) -> int:
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
