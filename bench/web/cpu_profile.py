"""Where the benchmark's endpoints spend their time, in-process: CPU per request and queries.

    .venv/bin/python bench/web/run.py --only floor --duration 1 --keep   # leaves the database
    BENCH_WEB_DATABASE_URL=postgres://postgres@127.0.0.1:5432/procurement_bench_web \\
        .venv/bin/python bench/web/cpu_profile.py [--requests 200] [--cprofile list-page]

Serves each endpoint of bench/web/run.py `--requests` times through Django's test client
(the whole middleware stack, DEBUG=0, no network and no gunicorn) on the database a
`run.py --keep` left behind, and prints per endpoint: the median CPU milliseconds per request
(process time, so other work on the machine does not count), median wall milliseconds, queries per
request, PostgreSQL's own CPU per request (when it runs on this machine) and the slowest
query. CPU per request is what bounds requests/s on a loaded
2-core machine far better than a noisy wrk run: 2 cores / CPU per request is the ceiling.
With `--queries NAME`, prints the SQL of that endpoint's last request. With `--cprofile NAME`, prints the 40 most expensive functions of that endpoint
(BENCH_PROFILE_SORT=tottime and BENCH_PROFILE_FILTER=<regex> narrow the listing).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=200, help="requests per endpoint")
    parser.add_argument("--cprofile", default="", help="an endpoint name to profile")
    parser.add_argument("--only", default="", help="comma-separated endpoint names")
    parser.add_argument(
        "--queries", default="", help="an endpoint name whose last request's SQL to print"
    )
    parser.add_argument(
        "--patch",
        type=Path,
        help="a Python file run once Django is set up, to measure a change before making it "
        "(e.g. one that replaces a selector); never used by run.py",
    )
    args = parser.parse_args()
    url = os.environ.get("BENCH_WEB_DATABASE_URL", "")
    if not url:
        raise SystemExit(
            "bench-web profile: set BENCH_WEB_DATABASE_URL to a database run.py --keep left"
        )
    sys.path.insert(0, str(ROOT))
    os.environ.update(
        DJANGO_SETTINGS_MODULE="bench.web.settings",
        DATABASE_URL=url,
        DEBUG="0",
        SECRET_KEY=os.environ.get("SECRET_KEY", "bench-web-profile-" + "x" * 40),
        VAR_DIR=str(ROOT / "var" / "bench-web"),
        ALLOWED_HOSTS="testserver",
    )
    os.environ.pop("CELERY_TASK_ALWAYS_EAGER", None)

    import django

    django.setup()
    if args.patch:
        exec(compile(args.patch.read_text(), str(args.patch), "exec"), {"__name__": "bench_patch"})
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from rest_framework.authtoken.models import Token

    from approvals.models import ApprovalStep, StepState
    from approvals.tokens import decision_token_make
    from procurement.models import User
    from requests.models import PurchaseRequest

    rita = User.objects.get(username="rita")
    maria = User.objects.get(username="maria")
    token = Token.objects.get(user=rita).key
    session = Client()
    session.force_login(rita)
    anonymous = Client()
    api = Client(HTTP_AUTHORIZATION=f"Token {token}")
    ids = list(PurchaseRequest.objects.filter(requester=rita).values_list("id", flat=True))
    pending = list(
        ApprovalStep.objects.filter(
            state=StepState.PENDING, approvers__approver=maria
        ).select_related("request")[: args.requests * 2 + 2]
    )
    links = [
        f"/approvals/email/{decision_token_make(step_id=s.pk, approver_id=maria.pk, request_version=s.request.version)}/"
        for s in pending
    ]
    confirm_links, decide_links = links[: args.requests], links[args.requests :]
    csrf_client = Client(enforce_csrf_checks=False)

    def nth(items: list[str], i: int) -> str:
        return items[i % len(items)]

    def backend_cpu() -> tuple[int, float] | None:
        """(pid, CPU seconds) of this connection's PostgreSQL backend, if it is on this machine.

        The planner's and executor's work is not in this process's CPU time, yet it is on the
        same 2 cores under load: a query that is cheap in Python can still be dear to plan.
        """
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            pid = cursor.fetchone()[0]
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # PostgreSQL on another host
            return None
        # utime and stime, in clock ticks: fields 14 and 15 of proc(5), 12 and 13 after ")".
        return pid, (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    calls: dict[str, Callable[[int], object]] = {
        "floor": lambda i: anonymous.get(f"/bench/floor/{rita.pk}/"),
        "hello": lambda i: anonymous.get("/bench/hello/"),
        "list-api": lambda i: api.get("/api/requests/"),
        "list-page": lambda i: session.get("/requests/"),
        "detail-page": lambda i: session.get(f"/requests/{ids[i % len(ids)]}/"),
        "confirm-page": lambda i: anonymous.get(nth(confirm_links, i)),
        "decide": lambda i: csrf_client.post(
            decide_links[i], {"decision": "approve", "comment": ""}
        ),
    }
    chosen = [name for name in args.only.split(",") if name] or list(calls)
    print(
        f"{'endpoint':14} {'cpu ms':>7} {'wall ms':>8} {'queries':>8} {'db cpu':>7}"
        "  slowest query (ms)"
    )
    print(f"{'':14} {'median':>7} {'median':>8} {'mean':>8} {'mean ms':>7}")
    for name in chosen:
        call = calls[name]
        if name == "decide" and len(decide_links) < args.requests:
            print(f"{name:14} skipped: only {len(decide_links)} pending approvals left")
            continue
        status = getattr(call(0), "status_code", 0)  # warm: templates, connections
        if status != 200:
            raise SystemExit(f"{name} answered {status}")
        # Timed by this process's CPU clock, not the wall clock: waiting for PostgreSQL (its
        # "db cpu", shown apart) would otherwise show as psycopg2's execute().
        profiler = cProfile.Profile(time.process_time) if name == args.cprofile else None
        cpu: list[float] = []
        wall: list[float] = []
        queries = 0
        slowest = (0.0, "")
        db_before = backend_cpu()
        for i in range(1, args.requests):
            with CaptureQueriesContext(connection) as captured:
                started_cpu, started = time.process_time(), time.perf_counter()
                if profiler:
                    profiler.enable()
                response = call(i)
                if profiler:
                    profiler.disable()
                cpu.append(time.process_time() - started_cpu)
                wall.append(time.perf_counter() - started)
            if getattr(response, "status_code", 0) != 200:
                raise SystemExit(f"{name} answered {getattr(response, 'status_code', '?')}")
            queries += len(captured.captured_queries)
            for query in captured.captured_queries:
                if float(query["time"]) * 1000 > slowest[0]:
                    slowest = (float(query["time"]) * 1000, " ".join(query["sql"].split())[:70])
        n = args.requests - 1
        db_after = backend_cpu()
        # Clock ticks are 10 ms, so only the mean over all requests means anything; "-" when
        # the backend is remote or the connection was replaced meanwhile.
        db_ms = (
            f"{(db_after[1] - db_before[1]) * 1000 / n:7.2f}"
            if db_before and db_after and db_before[0] == db_after[0]
            else f"{'-':>7}"
        )
        if name == args.queries:
            for query in captured.captured_queries:
                print(
                    f"  {float(query['time']) * 1000:5.1f} ms  {' '.join(query['sql'].split())[:400]}"
                )
        # Medians: on a shared machine a few requests wait behind other work.
        print(
            f"{name:14} {statistics.median(cpu) * 1000:7.2f} {statistics.median(wall) * 1000:8.2f}"
            f" {queries / n:8.1f} {db_ms}"
            f"  {slowest[0]:.1f}: {slowest[1]}"
        )
        if profiler:
            if os.environ.get("BENCH_PROFILE_DUMP"):  # a file for pstats/snakeviz
                profiler.dump_stats(os.environ["BENCH_PROFILE_DUMP"])
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats(
                os.environ.get("BENCH_PROFILE_SORT", "cumulative")
            ).print_stats(os.environ.get("BENCH_PROFILE_FILTER", ""), 40)
            print(out.getvalue())
    if "decide" in chosen and os.environ.get("REDIS_URL"):
        # The decisions queued emails and no worker runs: drop them, as run.py does.
        from procurement.celery import app

        app.control.purge()


if __name__ == "__main__":
    main()
