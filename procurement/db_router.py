"""Send the dashboards' rollup reads to a read replica.

Active only when `DATABASE_REPLICA_URL` is set (procurement/settings.py adds the "replica"
alias and this router then); docs/scaling.md explains when to turn it on. What goes where:

- reads of the rollups and anomaly findings (`ROUTED_TO_REPLICA`) go to "replica": they are
  what every dashboard, export and report reads, and they may be a replication lag behind;
- every other read, and every write, goes to "default" (the primary);
- a read made while the primary has a transaction open goes to the primary too, whatever
  the model: an import reads the rollups and findings it is writing (and locks them with
  select_for_update), and the replica has not seen that transaction yet. This also keeps
  tests, which run inside a transaction, on one database;
- migrations run on the primary only: the replica gets its schema by replication.
"""

from __future__ import annotations

from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import Model

REPLICA_DB_ALIAS = "replica"
# "app_label.ModelName" of the models whose reads may be served a little late.
ROUTED_TO_REPLICA = frozenset(
    {
        "analytics.SpendByMonthCategory",
        "analytics.SpendByMonthPayee",
        "analytics.SpendByMonthDepartment",
        "analytics.SpendCube",
        "analytics.SpendAnomaly",
    }
)


def _label(model: type[Model]) -> str:
    return f"{model._meta.app_label}.{model._meta.object_name}"


class AnalyticsReplicaRouter:
    def db_for_read(self, model: type[Model], **hints: Any) -> str:
        if (
            _label(model) in ROUTED_TO_REPLICA
            and REPLICA_DB_ALIAS in connections
            and not connections[DEFAULT_DB_ALIAS].in_atomic_block
        ):
            return REPLICA_DB_ALIAS
        return DEFAULT_DB_ALIAS

    def db_for_write(self, model: type[Model], **hints: Any) -> str:
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1: Model, obj2: Model, **hints: Any) -> bool:
        # The replica is a copy of the primary: a rollup read there may point at a category
        # read here.
        return True

    def allow_migrate(
        self, db: str, app_label: str, model_name: str | None = None, **hints: Any
    ) -> bool:
        return db == DEFAULT_DB_ALIAS
