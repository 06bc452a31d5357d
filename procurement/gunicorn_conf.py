"""gunicorn settings that travel with the code: `gunicorn -c python:procurement.gunicorn_conf`.

The Dockerfile, bench/web and fuzz start gunicorn with this module; command-line options
(bind address, workers, log files) still come from each of them.

Why: Python's cyclic garbage collector. A web worker holds about 200,000 objects once it has
served its first requests: Django, the apps, compiled templates and URL patterns, prepared
queries. Every full (generation 2) collection walks all of them. Measured under bench/web's
load on the 2-core development VM: each worker ran two or three full collections a minute,
each one 75-250 ms, and the request that triggered it waited that long (docs/benchmarks.md,
"Results, seventh pass"; docs/operations.md, "Web workers and garbage collection"). Nearly
all of those objects live as long as the worker, so walking them finds nothing. gc.freeze() moves every object alive to a permanent generation
that collections skip.

The worker freezes once the application is loaded, and again after its first requests, which
build most of what is built lazily (templates, URL resolvers, compiled queries). Each freeze
runs a full collection first, so that only live objects are frozen, never garbage. After
the last one, a full collection walks only what was made since (about 20,000 objects in the
benchmark): 0.4-15 ms.

Frozen objects are still freed when nothing refers to them; what freezing gives up is only
the collection of reference cycles among objects that were alive at a freeze. That memory is
bounded by what was alive then.
"""

from __future__ import annotations

import gc
from typing import Any

# After how many requests a worker freezes again: by then the pages and API calls it serves
# most have built their templates and queries. A worker restarted by gunicorn starts over.
FREEZE_AFTER_REQUESTS = frozenset({10, 100, 1000})


def gc_freeze(worker: Any, when: str) -> None:
    gc.collect()
    gc.freeze()
    # One line per freeze, four in a worker's life: says the hooks are loaded, and how much
    # a full collection no longer walks.
    worker.log.info("gc: %d objects frozen %s", gc.get_freeze_count(), when)


def post_worker_init(worker: Any) -> None:
    """gunicorn hook: the worker has loaded procurement.wsgi (Django is set up)."""
    gc_freeze(worker, "once the application was loaded")


def post_request(worker: Any, req: Any, environ: Any, resp: Any) -> None:
    """gunicorn hook, once the response is sent. `worker.nr` counts the requests the worker
    has taken, this one included (in a gthread worker, threads may skip a count: one freeze
    fewer, no harm)."""
    if worker.nr in FREEZE_AFTER_REQUESTS:
        gc_freeze(worker, f"after {worker.nr} requests")
