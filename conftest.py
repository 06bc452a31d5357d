"""Fixtures every test may use: an organisation with one user of each role."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from importlib import import_module
from pathlib import Path

import pytest
from django.apps import apps as django_apps
from django.contrib.contenttypes.models import ContentType
from django.test import Client
from pytest_django.fixtures import Settings
from pytest_django.plugin import DjangoDbBlocker

from procurement.celery import app as celery_app
from procurement.models import Category, CostCentre, Department, Role, User
from tests.factories import (
    DEFAULT_CATEGORIES,
    DEMO_PASSWORD,
    CostCentreFactory,
    DepartmentFactory,
    UserFactory,
)

# Shared fixtures that live in their own module: smtp_server (a real SMTP server on loopback).
pytest_plugins = ["tests.smtp"]


@pytest.fixture(scope="session")
def django_db_modify_db_settings(
    django_db_modify_db_settings_parallel_suffix: None, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """On SQLite the test database is a file, not memory, so that the real Celery
    worker, relay and beat of tests/processes.py can open it too."""
    from django.db import connections

    settings_dict = connections["default"].settings_dict
    if settings_dict["ENGINE"] == "django.db.backends.sqlite3":
        settings_dict["TEST"]["NAME"] = str(tmp_path_factory.mktemp("db") / "test.sqlite3")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every transactional test must restore the database it flushes (serialized_rollback).

    A transactional test without it flushes and then re-creates the content types under new
    ids (post_migrate); the next test that does restore the serialized database then fails
    at setup on a duplicate content type, far from the test at fault. Refuse it here, naming
    the test.
    """
    offenders = []
    for item in items:
        marker = item.get_closest_marker("django_db")
        if marker is None:
            continue
        transactional = marker.kwargs.get("transaction") or (marker.args and marker.args[0])
        if transactional and not marker.kwargs.get("serialized_rollback"):
            offenders.append(item.nodeid)
    if offenders:
        raise pytest.UsageError(
            "Transactional tests must also ask for serialized_rollback=True "
            "(see conftest.py): " + ", ".join(offenders)
        )


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: None, django_db_blocker: DjangoDbBlocker) -> None:
    """On PostgreSQL the audit table refuses TRUNCATE (procurement/migrations/0005), and
    TRUNCATE is how transactional tests flush the test database: allow it in the test
    database only, for every session that connects to it from now on."""
    from django.db import connections

    with django_db_blocker.unblock():
        for connection in connections.all():
            if connection.vendor != "postgresql" or connection.settings_dict["TEST"].get("MIRROR"):
                continue
            with connection.cursor() as cursor:
                cursor.execute("SELECT current_database()")
                [name] = cursor.fetchone()
                cursor.execute(
                    f"ALTER DATABASE {connection.ops.quote_name(name)} "
                    "SET procurement.audit_allow_truncate = on"
                )
                cursor.execute("SET procurement.audit_allow_truncate = on")


@pytest.fixture(autouse=True)
def _isolated_files(settings: Settings, tmp_path: Path) -> None:
    # Real password hashing costs ~0.3 s per user; the org fixture makes eleven.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.EMAIL_OUTBOX_DIR = tmp_path / "mail"
    # The manifest storage needs collectstatic; tests serve static files from the finders.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture(autouse=True)
def _fresh_content_types() -> None:
    # A transactional test's flush recreates content types under new ids; the manager's
    # cache would hand the next test a stale id (audit entries then fail their foreign key).
    ContentType.objects.clear_cache()


@pytest.fixture(autouse=True)
def _eager_celery() -> Iterator[None]:
    """Tasks run in-process in unit tests; tests/processes.py runs real workers."""
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = previous


@dataclass
class Org:
    department: Department
    cost_centre: CostCentre
    other_department: Department
    requester: User
    manager: User
    head: User
    procurement: User
    finance: User
    security: User
    legal: User
    admin: User
    outsider: User  # a requester in another department: may see nothing of the others

    def client_for(self, user: User) -> Client:
        client = Client()
        client.force_login(user)
        return client


@pytest.fixture
def org(db: None) -> Org:
    # Transactional tests (live server, real worker) flush the tables, and with them the
    # categories that migration 0002 seeds; put them back.
    for code, name in DEFAULT_CATEGORIES:
        Category.objects.get_or_create(code=code, defaults={"name": name})
    # ...and the vendor types with their checklists (seeding is idempotent).
    import_module("vendors.migrations.0002_vendor_types").seed(django_apps, None)
    department = DepartmentFactory.create(code="it", name="IT")
    other = DepartmentFactory.create(code="marketing", name="Marketing")
    head = UserFactory.create(
        username="hana",
        first_name="Hana",
        last_name="Head",
        department=department,
        roles=[Role.MANAGER],
    )
    department.head = head
    department.save()
    manager = UserFactory.create(
        username="mark",
        first_name="Mark",
        last_name="Manager",
        department=department,
        manager=head,
        roles=[Role.MANAGER],
    )
    requester = UserFactory.create(
        username="alice",
        first_name="Alice",
        last_name="Asker",
        department=department,
        manager=manager,
        roles=[Role.REQUESTER],
    )
    return Org(
        department=department,
        cost_centre=CostCentreFactory.create(
            code="IT-100", name="IT operations", department=department
        ),
        other_department=other,
        requester=requester,
        manager=manager,
        head=head,
        procurement=UserFactory.create(
            username="pat", first_name="Pat", last_name="Buyer", roles=[Role.PROCUREMENT]
        ),
        finance=UserFactory.create(
            username="fiona", first_name="Fiona", last_name="Finance", roles=[Role.FINANCE]
        ),
        security=UserFactory.create(
            username="sam", first_name="Sam", last_name="Secure", roles=[Role.SECURITY_REVIEWER]
        ),
        legal=UserFactory.create(
            username="lee", first_name="Lee", last_name="Legal", roles=[Role.LEGAL]
        ),
        admin=UserFactory.create(
            username="ada",
            first_name="Ada",
            last_name="Admin",
            is_staff=True,
            is_superuser=True,
            roles=[Role.ADMIN],
        ),
        outsider=UserFactory.create(
            username="otto",
            first_name="Otto",
            last_name="Outsider",
            department=other,
            roles=[Role.REQUESTER],
        ),
    )


@pytest.fixture
def password() -> str:
    return DEMO_PASSWORD
