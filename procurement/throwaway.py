"""What the commands that run the platform against a throwaway database share: making that
database, finding a free port, and stopping the server's whole process group.

Used by `fuzz/run.py` (schemathesis) and `bench/web/run.py` (the load benchmark), which
both migrate a database of their own and start gunicorn on it.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
from urllib.parse import urlsplit


def postgres_recreate(url: str, *, create: bool = True) -> str:
    """Drop the PostgreSQL database `url` names and, with `create`, make it again, empty.
    Returns its name. FORCE: a server left over from an interrupted run may still be
    connected to it."""
    import psycopg2  # type: ignore[import-untyped]
    from psycopg2 import sql

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    try:
        connection = psycopg2.connect(
            dbname="postgres",
            user=parts.username or "postgres",
            password=parts.password or None,
            host=parts.hostname or "127.0.0.1",
            port=parts.port or 5432,
        )
    except psycopg2.OperationalError as error:
        raise SystemExit(f"cannot reach PostgreSQL for {url!r}: {error}".strip()) from None
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        if create:
            cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    connection.close()
    return name


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def process_group_stop(process: subprocess.Popen[bytes], *, timeout: float = 30) -> None:
    """Stop a server started with start_new_session=True: gunicorn's master and its workers."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
