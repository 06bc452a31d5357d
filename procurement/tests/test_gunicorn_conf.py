"""procurement/gunicorn_conf.py: a web worker freezes its long-lived objects, never garbage.

A real gunicorn loading these hooks: tests/test_it_runs_behind_a_load_balancer.py.
"""

from __future__ import annotations

import gc
import logging
import re
import weakref
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from procurement import gunicorn_conf


@dataclass
class FakeWorker:
    """What the hooks use of a gunicorn worker: its request count and its logger."""

    nr: int = 0
    log: logging.Logger = field(default_factory=lambda: logging.getLogger("gunicorn.error"))


class Node:
    def __init__(self) -> None:
        self.other: Node | None = None


@pytest.fixture(autouse=True)
def unfrozen() -> Iterator[None]:
    """The test process must not keep what a test froze (the rest of the suite collects)."""
    gc.unfreeze()
    yield
    gc.unfreeze()


def garbage_cycle() -> weakref.ref[Node]:
    """Two objects that only refer to each other: only the cyclic collector frees them."""
    a, b = Node(), Node()
    a.other, b.other = b, a
    return weakref.ref(a)


def test_a_loaded_worker_frees_its_garbage_then_freezes_what_is_alive(
    caplog: pytest.LogCaptureFixture,
) -> None:
    dead = garbage_cycle()
    alive = Node()
    assert dead() is not None  # not freed by reference counting

    with caplog.at_level(logging.INFO, logger="gunicorn.error"):
        gunicorn_conf.post_worker_init(FakeWorker())

    # Collected first, so garbage is never frozen (frozen, it would never be freed).
    assert dead() is None
    assert gc.get_freeze_count() > 1000
    # What is frozen is what the collector no longer walks.
    assert not any(obj is alive for obj in gc.get_objects())
    [line] = [r.getMessage() for r in caplog.records]
    assert re.fullmatch(r"gc: \d+ objects frozen once the application was loaded", line), line


def test_a_worker_freezes_again_after_its_first_requests_only(
    caplog: pytest.LogCaptureFixture,
) -> None:
    worker = FakeWorker()
    gunicorn_conf.post_worker_init(worker)
    caplog.clear()
    built = Node()  # by the first requests: a template, a compiled query...

    def frozen(obj: object) -> bool:
        return not any(tracked is obj for tracked in gc.get_objects())

    with caplog.at_level(logging.INFO, logger="gunicorn.error"):
        for worker.nr in range(1, 10):
            gunicorn_conf.post_request(worker, None, {}, None)
        assert not frozen(built)  # not yet
        worker.nr = 10
        gunicorn_conf.post_request(worker, None, {}, None)
        assert frozen(built)

        for worker.nr in range(11, 2001):
            gunicorn_conf.post_request(worker, None, {}, None)

    assert [r.getMessage().split(" objects frozen ")[1] for r in caplog.records] == [
        "after 10 requests",
        "after 100 requests",
        "after 1000 requests",
    ]
