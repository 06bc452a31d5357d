"""factory_boy factories. States other than draft are reached through the services, never set."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import factory
from django.utils import timezone

from procurement.models import Category, CostCentre, Department, Role, User, UserRole
from requests.models import LineItem, PurchaseRequest
from vendors.models import Vendor, VendorType

DEMO_PASSWORD = "correct-horse-battery-staple"
# As seeded by procurement/migrations/0002 (a migration keeps its own copy, frozen in time).
DEFAULT_CATEGORIES = [
    ("hardware", "Hardware"),
    ("software", "Software / SaaS"),
    ("services", "Services"),
    ("cloud", "Cloud"),
    ("telecom", "Telecom"),
    ("other", "Other"),
]


class DepartmentFactory(factory.django.DjangoModelFactory[Department]):
    class Meta:
        model = Department
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"dept-{n}")
    name = factory.Sequence(lambda n: f"Department {n}")


class CostCentreFactory(factory.django.DjangoModelFactory[CostCentre]):
    class Meta:
        model = CostCentre

    code = factory.Sequence(lambda n: f"CC{n:04d}")
    name = factory.Sequence(lambda n: f"Cost centre {n}")
    department = factory.SubFactory(DepartmentFactory)


class UserFactory(factory.django.DjangoModelFactory[User]):
    class Meta:
        model = User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.PostGenerationMethodCall("set_password", DEMO_PASSWORD)

    @factory.post_generation
    def roles(user: User, create: bool, extracted: list[str] | None, **kwargs: object) -> None:
        if create:
            user.save()
            for role in extracted or [Role.REQUESTER]:
                UserRole.objects.get_or_create(user=user, role=role)


def category(code: str = "hardware") -> Category:
    return Category.objects.get(code=code)


class PurchaseRequestFactory(factory.django.DjangoModelFactory[PurchaseRequest]):
    """A draft. Pass line_items=N for N priced lines (default 1); the total is recomputed."""

    class Meta:
        model = PurchaseRequest
        skip_postgeneration_save = True

    title = factory.Sequence(lambda n: f"Laptops for the new starters #{n}")
    justification = "Three new engineers start next month."
    requester = factory.SubFactory(UserFactory)
    department = factory.LazyAttribute(
        lambda o: o.requester.department or DepartmentFactory.create()
    )
    cost_centre = factory.LazyAttribute(lambda o: CostCentreFactory.create(department=o.department))
    category = factory.LazyFunction(lambda: Category.objects.get(code="hardware"))
    needed_by = factory.LazyFunction(lambda: timezone.localdate() + dt.timedelta(days=30))
    currency = "GBP"
    # Every submitted request names an objective or says why none; most tests need neither.
    no_objective_reason = "Keeps the team working"

    @factory.post_generation
    def line_items(
        request: PurchaseRequest, create: bool, extracted: int | None, **kwargs: object
    ) -> None:
        if not create:
            return
        count = 1 if extracted is None else extracted
        for position in range(count):
            LineItem.objects.create(
                request=request,
                position=position,
                description=f"Laptop model {position + 1}",
                quantity=Decimal("2"),
                unit="each",
                unit_price=Decimal("1250.00"),
            )
        request.total = Decimal("2500.00") * count
        request.save(update_fields=["total"])


# --- Vendors ---------------------------------------------------------------------------


def vendor_type(code: str = "hardware") -> VendorType:
    """One of the types vendors/migrations/0002 seeds (hardware needs no security assessment)."""
    return VendorType.objects.get(code=code)


def vendor_create(
    *,
    by: User,
    legal_name: str = "Northwind Hardware Ltd",
    country: str = "GB",
    type_code: str = "hardware",
    not_a_duplicate: bool = True,
    **fields: Any,
) -> Vendor:
    """A prospect vendor, created through the service (so names are normalised)."""
    from vendors.services import VendorInput
    from vendors.services import vendor_create as create

    data = VendorInput(
        legal_name=legal_name,
        country=country,
        vendor_type_id=vendor_type(type_code).pk,
        owner_id=by.pk,
        **fields,
    )
    return create(by=by, data=data, not_a_duplicate=not_a_duplicate)


def vendor_approved(*, by: User, **kwargs: Any) -> Vendor:
    """A vendor taken to approved the way procurement does it: review, every check passed
    (with the owner's conflict declaration), then approval. Its type must not need a
    security assessment (the default, hardware, does not)."""
    from vendors.services import conflict_declare, due_diligence_check_record, vendor_transition

    vendor = vendor_create(by=by, **kwargs)
    vendor_transition(vendor_id=vendor.pk, by=by, action="start_review", reason="New supplier")
    conflict_declare(vendor_id=vendor.pk, by=by, has_conflict=False)
    for check in vendor.checks.all():
        due_diligence_check_record(check_id=check.pk, by=by, status="passed", outcome="Checked.")
    return vendor_transition(
        vendor_id=vendor.pk, by=by, action="approve", reason="All checks passed"
    )
