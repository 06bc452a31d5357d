"""Publish the tasks the outbox kept while the broker was down (procurement/outbox.py).

Runs as a process of its own beside web, worker and beat (Procfile, docker-compose.yml):
neither the worker nor beat can do it, since both stop when Redis does. It polls the
TaskOutbox table every second; rows are locked while they are published, so running two
relays is safe (on PostgreSQL) but never needed.

Each pass also chains the audit entries that wait (procurement/audit_chain.py): a busy web
process chains at most every AUDIT_CHAIN_SEAL_INTERVAL_MS, and the entries of its last
commits before a quiet spell would otherwise wait for the next state change.
"""

from __future__ import annotations

import datetime as dt
import logging
import signal
import threading
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError, close_old_connections, connection

from procurement.audit_chain import audit_chain_seal
from procurement.outbox import RELAY_MIN_AGE, Published, outbox_purge, outbox_relay

logger = logging.getLogger("procurement.outbox")

PURGE_EVERY_SECONDS = 3600


class Command(BaseCommand):
    help = "Publish the Celery tasks the outbox holds, whenever the broker answers."
    _chaining_failed = False

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--interval", type=float, default=1.0, help="Seconds between two polls (default 1)."
        )
        parser.add_argument(
            "--min-age",
            type=float,
            default=RELAY_MIN_AGE.total_seconds(),
            help="Leave rows younger than this many seconds to the process that wrote them.",
        )
        parser.add_argument(
            "--once",
            action="store_true",
            help="Publish what is pending and exit; fail if the broker did not take it all.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        min_age = dt.timedelta(seconds=options["min_age"])
        if options["once"]:
            result = self._relay(min_age)
            self._chain_audit_entries()
            self.stdout.write(f"published {result.count} task(s)")
            if result.broker_error:
                raise CommandError(f"the broker refused: {result.broker_error}")
            return

        stopping = threading.Event()
        # honcho and docker stop with SIGTERM (Ctrl-C is SIGINT): finish the pass, then exit.
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stopping.set())
        logger.info("relay_outbox: polling every %s s", options["interval"])
        failing = ""
        last_purge = 0.0
        while not stopping.is_set():
            result = self._relay(min_age)
            self._chain_audit_entries()
            if result.count:
                logger.info("relay_outbox: published %s task(s)", result.count)
            # Say it when the broker goes away and when it is back, not every second between.
            if result.broker_error and not failing:
                logger.warning("relay_outbox: tasks wait: %s", result.broker_error)
            elif failing and not result.broker_error:
                logger.info("relay_outbox: publishing again")
            failing = result.broker_error
            if time.monotonic() - last_purge > PURGE_EVERY_SECONDS:
                last_purge = time.monotonic()
                self._purge()
            stopping.wait(options["interval"])

    def _relay(self, min_age: dt.timedelta) -> Published:
        # A long-lived process: drop a connection PostgreSQL closed (restart, idle timeout)
        # before using it, as Django does at the start of each request.
        self._close_old_connections()
        try:
            return outbox_relay(min_age=min_age)
        except DatabaseError as exc:
            # The database restarting must not stop the relay: it tries again next poll.
            self._close_old_connections()
            return Published(0, f"database: {exc}")

    def _chain_audit_entries(self) -> None:
        try:
            chained = audit_chain_seal()
        except DatabaseError:
            # The next pass tries again (the database restarting, as for the outbox). Said
            # once when it starts failing, not every second until the database is back.
            if not self._chaining_failed:
                logger.exception("relay_outbox: could not chain the audit entries that wait")
            self._chaining_failed = True
            self._close_old_connections()
            return
        if self._chaining_failed:
            logger.info("relay_outbox: chaining audit entries again")
        self._chaining_failed = False
        if chained:
            logger.debug("relay_outbox: chained %s audit entries", chained)

    def _close_old_connections(self) -> None:
        # Never inside a transaction (call_command from a test): that would close it.
        if not connection.in_atomic_block:
            close_old_connections()

    def _purge(self) -> None:
        try:
            purged = outbox_purge()
        except DatabaseError:
            logger.exception("relay_outbox: could not purge published rows")
            return
        if purged:
            logger.info("relay_outbox: deleted %s published row(s)", purged)
