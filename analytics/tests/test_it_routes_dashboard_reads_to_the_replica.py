"""With DATABASE_REPLICA_URL set, dashboards read their rollups from the replica, while
imports (their writes, and the reads they make inside their transaction) stay on the primary.

The "replica" alias here is a second connection to the test database, as a real replica is a
copy of the primary; the tests are transactional so that what they write is committed and
visible through it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal

import pytest
from django.db import connections, router, transaction
from django.test.utils import CaptureQueriesContext, override_settings
from django.urls import reverse

from analytics.models import SpendAnomaly, SpendByMonthCategory, SpendCube, SpendLine
from analytics.scope import SpendFilters
from analytics.selectors import spend_by_category
from analytics.services import LineInput, spend_lines_add, spend_source_get_or_create
from procurement.db_router import AnalyticsReplicaRouter

ROUTER = "procurement.db_router.AnalyticsReplicaRouter"
pytestmark = pytest.mark.django_db(
    transaction=True, serialized_rollback=True, databases=["default", "replica"]
)


@pytest.fixture(scope="module", autouse=True)
def _replica_alias(django_db_setup: None) -> Iterator[None]:
    # What settings.py does for DATABASE_REPLICA_URL, pointed at the test database. The
    # connection handler has already read DATABASES, so the alias is added to its copy
    # (override_settings(DATABASES=...) would not reach it); the router is a plain override.
    default = connections["default"].settings_dict
    connections.settings["replica"] = {
        **default,
        "TEST": {**default["TEST"], "MIRROR": "default"},
    }
    with override_settings(DATABASE_ROUTERS=[ROUTER]):
        yield
    for connection in connections.all(initialized_only=True):
        if connection.alias == "replica":
            connection.close()
            del connections["replica"]
    del connections.settings["replica"]


def _tables(context: CaptureQueriesContext) -> str:
    return " ".join(query["sql"] for query in context.captured_queries)


def _add_spend() -> None:
    source = spend_source_get_or_create(name="Card statements", currency="GBP")
    spend_lines_add(
        source=source,
        lines=[
            LineInput(
                date=dt.date(2024, 3, 4),
                amount=Decimal("120.00"),
                supplier="Backcare Solutions Ltd",
                category="Office equipment",
                reference="T-1",
            ),
            LineInput(
                date=dt.date(2024, 3, 9),
                amount=Decimal("80.50"),
                supplier="BACKCARE SOLUTIONS",
                category="Office equipment",
                reference="T-2",
            ),
        ],
    )


def test_it_reads_the_dashboard_rollups_from_the_replica() -> None:
    _add_spend()

    with (
        CaptureQueriesContext(connections["replica"]) as replica,
        CaptureQueriesContext(connections["default"]) as primary,
    ):
        by_category = spend_by_category(filters=SpendFilters())

    assert SpendByMonthCategory._meta.db_table in _tables(replica)
    assert SpendByMonthCategory._meta.db_table not in _tables(primary)
    # The replica is a copy of the primary: the dashboard shows what was imported.
    assert [(row.name, row.amount) for row in by_category.rows] == [
        ("Office equipment", Decimal("200.50"))
    ]


def test_it_writes_an_import_to_the_primary_only() -> None:
    with (
        CaptureQueriesContext(connections["replica"]) as replica,
        CaptureQueriesContext(connections["default"]) as primary,
    ):
        _add_spend()

    # The import reads rollups and findings inside its transaction too: all on the primary.
    assert replica.captured_queries == []
    assert f"INSERT INTO {SpendLine._meta.db_table}" in _tables(primary)
    assert f"INSERT INTO {SpendCube._meta.db_table}" in _tables(primary)
    assert SpendLine.objects.count() == 2


def test_it_reads_from_the_primary_while_a_transaction_is_open() -> None:
    assert router.db_for_read(SpendCube) == "replica"
    assert router.db_for_read(SpendAnomaly) == "replica"
    with transaction.atomic():
        # e.g. dismissing a finding locks its row: the replica has not seen this transaction.
        assert router.db_for_read(SpendCube) == "default"
        assert router.db_for_read(SpendAnomaly) == "default"


def test_it_keeps_lines_writes_and_migrations_on_the_primary() -> None:
    replica_router = AnalyticsReplicaRouter()

    assert router.db_for_read(SpendLine) == "default"
    assert router.db_for_write(SpendCube) == "default"
    assert router.db_for_write(SpendAnomaly) == "default"
    assert replica_router.allow_migrate("default", "analytics") is True
    assert replica_router.allow_migrate("replica", "analytics") is False
    assert replica_router.allow_relation(SpendCube(), SpendLine()) is True


def test_it_serves_the_spend_overview_page_from_the_replica(org) -> None:
    _add_spend()
    client = org.client_for(org.procurement)

    with (
        CaptureQueriesContext(connections["replica"]) as replica,
        CaptureQueriesContext(connections["default"]) as primary,
    ):
        response = client.get(reverse("analytics:overview"))

    assert response.status_code == 200
    assert response.context["summary"].total == Decimal("200.50")
    rollups = [
        model._meta.db_table
        for model in (SpendByMonthCategory, SpendCube)
        if model._meta.db_table in _tables(replica)
    ]
    assert rollups, "the page read no rollup from the replica"
    for table in rollups:
        assert table not in _tables(primary)
