"""Load benchmark of the web server: gunicorn on PostgreSQL, driven by wrk on loopback.

    .venv/bin/python bench/web/run.py [--duration 20] [--connections 16] [--markdown]

1. Recreates a throwaway PostgreSQL database (BENCH_WEB_DATABASE_URL; else the database of
   DATABASE_URL with `_bench_web` appended, as fuzz/run.py does; else
   postgres://postgres@127.0.0.1:5432/procurement_bench_web), migrates it, collects the
   static files and seeds it (bench/web/seed.py: a requester with hundreds of requests, a
   manager with thousands of pending approvals, a session and an API token).
2. Starts gunicorn with production settings (DEBUG=0, persistent database connections, the
   full middleware stack, an access log) plus the floor view (bench/web/settings.py).
3. Runs wrk against each endpoint in turn for `--duration` seconds at `--connections`
   connections, after a short warm-up, and prints a table: requests/s, p50, p99, errors,
   ratio to the floor's requests/s, and whether each meets issue #8's targets (at least
   half the floor's throughput, p99 under 100 ms, no errors).
4. Stops the server, drops the database (unless --keep) and exits 1 if a target failed.

Tasks the pages queue (emails after a decision) go to REDIS_URL when it is set, as in
production; no worker runs during the benchmark, and the queues are purged at the end.
Method and results: docs/benchmarks.md, "Web under load".
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
VAR = ROOT / "var" / "bench-web"
PROJECT_BIN = Path(sys.executable).parent
LUA = HERE / "endpoint.lua"

sys.path.insert(0, str(ROOT))
from procurement import throwaway  # noqa: E402
from procurement.throwaway import free_port, process_group_stop  # noqa: E402

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/procurement_bench_web"

# Issue #8's targets.
MIN_RATIO_TO_FLOOR = 0.5
MAX_P99_MS = 100.0

WRK_MISSING = """bench/web needs wrk (https://github.com/wg/wrk), which is not on PATH. Install it:
  Debian/Ubuntu:  sudo apt-get install -y wrk
  Fedora:         sudo dnf install -y wrk
  macOS:          brew install wrk
then run this command again."""


def log(message: str) -> None:
    print(f"bench-web: {message}", file=sys.stderr, flush=True)


@dataclass
class Endpoint:
    name: str
    label: str
    method: str = "GET"
    paths: list[str] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    body: str = ""
    once: bool = False  # each path may be sent only once (a decision)
    expect: str = ""  # a text the response must contain (checked once before the run)
    targets: bool = True  # judged against the floor's throughput
    informative: bool = False  # shown, never judged (the no-database view)


@dataclass
class Result:
    endpoint: Endpoint
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    error_detail: str
    load_before: float
    load_after: float
    requests: int
    pool_exhausted: bool


# --- Database, seed and server ------------------------------------------------


def database_url() -> str:
    url = os.environ.get("BENCH_WEB_DATABASE_URL", "")
    base = os.environ.get("DATABASE_URL", "")
    if not url and base.startswith(("postgres://", "postgresql://")):
        parts = urlsplit(base)
        url = urlunsplit(parts._replace(path=f"{parts.path.rstrip('/')}_bench_web"))
    url = url or DEFAULT_DATABASE_URL
    if not url.startswith(("postgres://", "postgresql://")):
        raise SystemExit(
            f"bench-web: BENCH_WEB_DATABASE_URL must name a PostgreSQL database, not {url!r}: "
            "the benchmark measures the production database."
        )
    return url


def postgres_recreate(url: str, *, drop_only: bool = False) -> None:
    try:
        throwaway.postgres_recreate(url, create=not drop_only)
    except SystemExit as error:
        raise SystemExit(f"bench-web: {error}") from None


def server_environment(url: str) -> dict[str, str]:
    env = dict(os.environ)
    for name in (
        "SECRET_KEY",
        "EMAIL_HOST",
        "DATABASE_REPLICA_URL",
        "OTP_REQUIRED_ROLES",
        "CELERY_TASK_ALWAYS_EAGER",
    ):
        env.pop(name, None)
    env.update(
        DJANGO_SETTINGS_MODULE="bench.web.settings",
        DATABASE_URL=url,
        VAR_DIR=str(VAR),
        DEBUG="0",
        # One key for the seed (which signs the email links) and the server (which checks them).
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="127.0.0.1,localhost",
        # TLS ends at the reverse proxy in production; wrk speaks plain HTTP to gunicorn.
        SECURE_SSL_REDIRECT="0",
        PYTHONUNBUFFERED="1",
    )
    return env


def run_checked(command: list[str], env: dict[str, str], what: str) -> None:
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        print(result.stdout[-4000:], result.stderr[-4000:], sep="\n", file=sys.stderr)
        raise SystemExit(f"bench-web: {what} failed (exit {result.returncode}); output above")


def server_start(
    env: dict[str, str], port: int, *, workers: int, threads: int
) -> subprocess.Popen[bytes]:
    command = [
        str(PROJECT_BIN / "gunicorn"),
        "procurement.wsgi:application",
        # As the Dockerfile runs it: its hooks freeze the worker's long-lived objects (gc).
        "--config",
        "python:procurement.gunicorn_conf",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--timeout",
        "60",
        # As the Dockerfile runs it: one access log line per request (through the project's
        # JSON logging), here into var/bench-web/server.log with everything else.
        "--access-logfile",
        "-",
        "--error-logfile",
        "-",
    ]
    if threads > 1:
        command += ["--worker-class", "gthread", "--threads", str(threads)]
    handle = (VAR / "server.log").open("ab")
    return subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
    )


def wait_until_up(base: str, server: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(
                f"bench-web: gunicorn exited with {server.returncode}; see {VAR / 'server.log'}"
            )
        try:
            with urllib.request.urlopen(f"{base}/bench/hello/", timeout=5):
                return
        except OSError:
            time.sleep(0.3)
    raise SystemExit(f"bench-web: the server did not answer on {base} within {timeout:.0f} s")


def broker_purge(env: dict[str, str]) -> None:
    """Drop the tasks the run queued (no worker ran): they name rows of a dropped database."""
    if not env.get("REDIS_URL"):
        return
    subprocess.run(
        [str(PROJECT_BIN / "celery"), "-A", "procurement", "purge", "-f"],
        cwd=ROOT,
        env={**env, "DJANGO_SETTINGS_MODULE": "procurement.settings"},
        capture_output=True,
        check=False,
    )


# --- Endpoints ---------------------------------------------------------------


def csrf_pair(base: str, confirm_path: str) -> tuple[str, str]:
    """The CSRF cookie and form token a browser gets with the confirmation page."""
    with urllib.request.urlopen(base + confirm_path, timeout=30) as response:
        page = response.read().decode()
        cookies = response.headers.get_all("Set-Cookie") or []
    cookie = next((c.split(";")[0] for c in cookies if c.startswith("csrftoken=")), "")
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    if not cookie or not match:
        raise SystemExit("bench-web: the confirmation page gave no CSRF cookie and token")
    return cookie, match.group(1)


ENDPOINT_NAMES = (
    "floor",
    "hello",
    "list-api",
    "list-page",
    "detail-page",
    "confirm-page",
    "decide",
)


def endpoints(fixture: dict[str, object], base: str) -> list[Endpoint]:
    detail_ids = list(fixture["detail_ids"])  # type: ignore[call-overload]
    confirm = list(fixture["confirm_paths"])  # type: ignore[call-overload]
    decide = list(fixture["decide_paths"])  # type: ignore[call-overload]
    session = {"Cookie": str(fixture["session_cookie"])}
    cookie, token = csrf_pair(base, confirm[0])
    return [
        Endpoint(
            "floor",
            "floor: 25 rows, one raw SQL query, no auth",
            paths=[f"/bench/floor/{fixture['list_user_id']}/"],
            expect='"results"',
            targets=False,
        ),
        Endpoint(
            "hello",
            "(for reference) constant JSON, no database",
            paths=["/bench/hello/"],
            expect="hello",
            targets=False,
            informative=True,
        ),
        Endpoint(
            "list-api",
            "GET /api/requests/ (25 a page, token)",
            paths=["/api/requests/"],
            headers={"Authorization": f"Token {fixture['api_token']}"},
            expect='"results"',
        ),
        Endpoint(
            "list-page",
            "GET /requests/ (list page, session)",
            paths=["/requests/"],
            headers=session,
            expect="<table",
        ),
        Endpoint(
            "detail-page",
            "GET /requests/<id>/ (detail page)",
            paths=[f"/requests/{pk}/" for pk in detail_ids],
            headers=session,
            expect="PR-",
        ),
        Endpoint(
            "confirm-page",
            "GET /approvals/email/<token>/ (confirmation)",
            paths=confirm,
            expect="csrfmiddlewaretoken",
        ),
        Endpoint(
            "decide",
            "POST /approvals/email/<token>/ (approve)",
            method="POST",
            paths=decide,
            headers={"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"},
            body=f"csrfmiddlewaretoken={token}&decision=approve&comment=",
            once=True,
            expect="approved",
        ),
    ]


def sanity_check(base: str, endpoint: Endpoint, path: str) -> None:
    """One request before the load: a wrong status says more here than an error count."""
    request = urllib.request.Request(
        base + path,
        data=endpoint.body.encode() if endpoint.method == "POST" else None,
        headers=endpoint.headers,
        method=endpoint.method,
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            text = response.read().decode(errors="replace")
            status = response.status
    except urllib.error.HTTPError as error:
        text = error.read().decode(errors="replace")
        status = error.code
    if status != 200 or endpoint.expect not in text:
        raise SystemExit(
            f"bench-web: {endpoint.method} {path} ({endpoint.name}) answered {status} "
            f"without {endpoint.expect!r}; the first 600 characters:\n{text[:600]}"
        )


def wrk_run(
    base: str,
    endpoint: Endpoint,
    paths: list[str],
    *,
    duration: float,
    connections: int,
    threads: int,
) -> dict[str, float]:
    paths_file = VAR / f"paths-{endpoint.name}.txt"
    paths_file.write_text("\n".join(paths) + "\n")
    env = {
        **os.environ,
        "BENCH_PATHS": str(paths_file),
        "BENCH_THREADS": str(threads),
        "BENCH_ONCE": "1" if endpoint.once else "0",
        "BENCH_METHOD": endpoint.method,
        "BENCH_HEADERS": "\n".join(f"{k}: {v}" for k, v in endpoint.headers.items()),
        "BENCH_BODY": endpoint.body,
    }
    command = [
        "wrk",
        "--threads",
        str(threads),
        "--connections",
        str(connections),
        "--duration",
        f"{max(1, round(duration))}s",
        "--timeout",
        "10s",
        "--script",
        str(LUA),
        base + paths[0],
    ]
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    line = next((ln for ln in result.stdout.splitlines() if ln.startswith("{")), "")
    if result.returncode != 0 or not line:
        raise SystemExit(
            f"bench-web: wrk failed on {endpoint.name}:\n{result.stdout}{result.stderr}"
        )
    return dict(json.loads(line))


def measure(
    base: str,
    endpoint: Endpoint,
    paths: list[str],
    *,
    duration: float,
    connections: int,
    threads: int,
) -> Result:
    load_before = os.getloadavg()[0]
    raw = wrk_run(
        base, endpoint, paths, duration=duration, connections=connections, threads=threads
    )
    load_after = os.getloadavg()[0]
    kinds = ("connect", "read", "write", "timeout", "status")
    errors = int(sum(raw[kind] for kind in kinds))
    detail = ", ".join(f"{raw[kind]:.0f} {kind}" for kind in kinds if raw[kind])
    # wrk's script flags a thread that ran out of links, but not always: a thread whose last
    # link goes out as the run ends, or that stops while the other still sends, goes
    # unflagged. Then the run silently measures the pool, not the server (a fast VM sent all
    # 6,000 links in 18 s of 20, and "299 requests/s" was 6,000 / 20). So a run that used all
    # but what its connections could still have had in flight also counts as out of links.
    exhausted = bool(raw["pool_exhausted_threads"]) or (
        endpoint.once and raw["requests"] + 2 * connections >= len(paths)
    )
    if exhausted:
        detail = (detail + ", " if detail else "") + "ran out of pending approvals"
    return Result(
        endpoint=endpoint,
        rps=raw["requests"] / (raw["duration_us"] / 1e6),
        p50_ms=raw["p50_us"] / 1000,
        p99_ms=raw["p99_us"] / 1000,
        errors=errors,
        error_detail=detail,
        load_before=load_before,
        load_after=load_after,
        requests=int(raw["requests"]),
        pool_exhausted=exhausted,
    )


# --- Report ------------------------------------------------------------------


def verdicts(result: Result, floor_rps: float) -> tuple[str, list[str]]:
    """The ratio column and what failed (empty: every target met)."""
    ratio = result.rps / floor_rps if floor_rps else 0.0
    failed: list[str] = []
    if result.endpoint.informative:
        return f"{ratio:.2f}x", failed
    if result.endpoint.targets and ratio < MIN_RATIO_TO_FLOOR:
        failed.append(f"throughput {ratio:.0%} of floor")
    if result.p99_ms >= MAX_P99_MS:
        failed.append(f"p99 {result.p99_ms:.0f} ms")
    if result.errors or result.pool_exhausted:
        failed.append(f"{result.errors} errors")
    return (f"{ratio:.2f}x" if result.endpoint.targets else "1.00x (floor)"), failed


def table(results: list[Result], *, markdown: bool) -> tuple[str, bool]:
    floor_rps = next(r.rps for r in results if r.endpoint.name == "floor")
    header = ["endpoint", "req/s", "p50 ms", "p99 ms", "errors", "vs floor", "targets", "load"]
    rows = []
    all_met = True
    for result in results:
        ratio, failed = verdicts(result, floor_rps)
        if result.endpoint.informative:
            verdict = "-"
        elif failed:
            verdict = "FAIL: " + "; ".join(failed)
            all_met = False
        else:
            verdict = "met"
        errors = f"{result.errors}" + (f" ({result.error_detail})" if result.error_detail else "")
        rows.append(
            [
                result.endpoint.label,
                f"{result.rps:,.0f}",
                f"{result.p50_ms:.1f}",
                f"{result.p99_ms:.1f}",
                errors,
                ratio,
                verdict,
                f"{result.load_before:.2f}/{result.load_after:.2f}",
            ]
        )
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(row) + " |" for row in rows]
        return "\n".join(lines), all_met
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(header))]
    lines += ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)) for row in rows]
    return "\n".join(lines), all_met


# --- Main --------------------------------------------------------------------


def _web_concurrency() -> int:
    """gunicorn's own default: WEB_CONCURRENCY (deploy/production.env.example sets 3)."""
    raw = os.environ.get("WEB_CONCURRENCY", "3")
    if not raw.isdecimal() or int(raw) < 1:
        raise SystemExit(f"bench-web: WEB_CONCURRENCY must be a whole number from 1, not {raw!r}")
    return int(raw)


def sweep_configs(text: str) -> list[tuple[int, int]]:
    configs = []
    for item in text.split(","):
        match = re.fullmatch(r"\s*(\d+)x(\d+)\s*", item)
        if not match or int(match.group(1)) < 1 or int(match.group(2)) < 1:
            raise SystemExit(
                f"bench-web: --sweep takes WORKERSxTHREADS pairs such as 2x1,4x1,2x4, not {item!r}"
            )
        configs.append((int(match.group(1)), int(match.group(2))))
    return configs


def serve_and_measure(
    args: argparse.Namespace,
    fixture: dict[str, object],
    chosen: set[str],
    warmup_decisions: list[str],
    *,
    workers: int,
    threads: int,
) -> list[Result]:
    """Start gunicorn with `workers` x `threads`, measure the chosen endpoints, stop it."""
    env = args.env
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = server_start(env, port, workers=workers, threads=threads)
    results: list[Result] = []
    try:
        wait_until_up(base, server)
        todo = [e for e in endpoints(fixture, base) if not chosen or e.name in chosen | {"floor"}]
        for endpoint in todo:
            path = warmup_decisions.pop() if endpoint.once else endpoint.paths[0]
            sanity_check(base, endpoint, path)
        log(
            f"gunicorn {workers} workers x {threads} threads; wrk {args.wrk_threads} "
            f"threads, {args.connections} connections, {args.duration:.0f} s each"
        )
        for endpoint in todo:
            if args.warmup:
                warm = warmup_decisions if endpoint.once else endpoint.paths
                wrk_run(
                    base,
                    endpoint,
                    warm,
                    duration=args.warmup,
                    connections=args.connections,
                    threads=args.wrk_threads,
                )
            result = measure(
                base,
                endpoint,
                endpoint.paths,
                duration=args.duration,
                connections=args.connections,
                threads=args.wrk_threads,
            )
            log(
                f"{endpoint.name}: {result.rps:,.0f} req/s, p99 {result.p99_ms:.1f} ms, "
                f"{result.errors} errors (load {result.load_before:.2f})"
            )
            results.append(result)
    finally:
        process_group_stop(server)
    return results


def sweep_table(rows: list[tuple[str, list[Result]]], *, markdown: bool) -> str:
    """requests/s and p99 of each endpoint for each workers x threads."""
    names = [result.endpoint.name for result in rows[0][1]]
    header = ["workers x threads", *names, "load"]
    lines = []
    for config, results in rows:
        cells = [f"{r.rps:,.0f}/s, p99 {r.p99_ms:.0f} ms" for r in results]
        load = f"{results[0].load_before:.2f}-{results[-1].load_after:.2f}"
        lines.append([config, *cells, load])
    if markdown:
        out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        return "\n".join(out + ["| " + " | ".join(line) + " |" for line in lines])
    widths = [max(len(row[i]) for row in [header, *lines]) for i in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)) for row in [header, *lines]
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=20, help="seconds per endpoint")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections")
    parser.add_argument("--wrk-threads", type=int, default=2, help="wrk threads")
    parser.add_argument(
        "--workers",
        type=int,
        default=_web_concurrency(),
        help="gunicorn worker processes (default WEB_CONCURRENCY, else 3 as in "
        "deploy/production.env.example)",
    )
    parser.add_argument(
        "--threads", type=int, default=1, help="threads per worker (>1: gthread workers)"
    )
    parser.add_argument("--warmup", type=float, default=2, help="seconds of warm-up per endpoint")
    parser.add_argument("--requests", type=int, default=400, help="the list user's requests")
    parser.add_argument(
        "--decisions",
        type=int,
        default=10000,
        help="pending approvals for the decision POSTs (each decides one once)",
    )
    parser.add_argument(
        "--only", default="", help="comma-separated endpoint names to run (the floor always runs)"
    )
    parser.add_argument(
        "--sweep",
        default="",
        help="compare gunicorn sizes instead: WORKERSxTHREADS pairs, e.g. 2x1,3x1,4x1,6x1,2x4 "
        "(GET endpoints only; prints requests/s and p99 per size)",
    )
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()
    if args.connections < 1 or args.duration < 1 or args.workers < 1 or args.threads < 1:
        parser.error("--connections, --duration, --workers and --threads must be at least 1")
    if args.wrk_threads < 1 or args.wrk_threads > args.connections:
        parser.error("--wrk-threads must be between 1 and --connections")
    unknown = {name for name in args.only.split(",") if name} - set(ENDPOINT_NAMES)
    if unknown:
        parser.error(
            f"--only: unknown endpoint {', '.join(sorted(unknown))}; choose from {', '.join(ENDPOINT_NAMES)}"
        )
    if args.sweep:
        sweep_configs(args.sweep)  # a typo fails before minutes of seeding
    if shutil.which("wrk") is None:
        print(WRK_MISSING, file=sys.stderr)
        return 2

    os.chdir(ROOT)
    if VAR.exists():
        shutil.rmtree(VAR)
    VAR.mkdir(parents=True)
    url = database_url()
    env = server_environment(url)
    args.env = env
    log(f"database {urlsplit(url).path.lstrip('/')}: recreating, migrating, seeding")
    postgres_recreate(url)
    python = sys.executable
    run_checked([python, "manage.py", "migrate", "--noinput", "-v0"], env, "migrate")
    run_checked([python, "manage.py", "collectstatic", "--noinput", "-v0"], env, "collectstatic")
    fixture_file = VAR / "fixture.json"
    run_checked(
        [
            python,
            str(HERE / "seed.py"),
            "--out",
            str(fixture_file),
            "--requests",
            str(args.requests),
            "--decisions",
            str(args.decisions),
        ],
        env,
        "seeding",
    )
    fixture = json.loads(fixture_file.read_text())

    configs = sweep_configs(args.sweep) if args.sweep else [(args.workers, args.threads)]
    chosen = {name for name in args.only.split(",") if name}
    if args.sweep:
        chosen = (chosen or set(ENDPOINT_NAMES)) - {"decide"}  # a sweep would spend the pool
    warmup_decisions = list(fixture["warmup_decide_paths"])
    sweep_rows: list[tuple[str, list[Result]]] = []
    try:
        for workers, threads in configs:
            results = serve_and_measure(
                args, fixture, chosen, warmup_decisions, workers=workers, threads=threads
            )
            sweep_rows.append((f"{workers}x{threads}", results))
    finally:
        broker_purge(env)
        if not args.keep:
            postgres_recreate(url, drop_only=True)

    if args.sweep:
        print(sweep_table(sweep_rows, markdown=args.markdown))
        return 0
    results = sweep_rows[0][1]
    text, all_met = table(results, markdown=args.markdown)
    cpu = os.cpu_count()
    print(
        f"bench/web: gunicorn {args.workers} workers x {args.threads} threads, wrk "
        f"{args.wrk_threads} threads x {args.connections} connections, {args.duration:.0f} s "
        f"per endpoint, {cpu} CPUs; load average before/after each run in the last column"
    )
    print(text)
    print("all targets met" if all_met else "some targets failed (see the targets column)")
    return 0 if all_met else 1


if __name__ == "__main__":
    sys.exit(main())
