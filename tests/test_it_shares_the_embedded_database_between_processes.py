"""`make run` has web, worker and beat write to one SQLite file. Two processes that each read
then write in a transaction must both succeed: the second waits for the first, instead of
failing with "database is locked" (what happened when two sanctions screenings overlapped)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from django.conf import settings

WRITER = """
import sys
import time
import django
django.setup()
from django.db import connection, transaction
with transaction.atomic():
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM screening")  # a read first, as services do
        time.sleep(0.5)  # long enough for the other process to read too
        cursor.execute("INSERT INTO screening VALUES (1)")
sys.stdout.write("ok")
"""


def test_it_lets_two_processes_read_then_write_the_same_sqlite_file(tmp_path: Path):
    env = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    env.update(VAR_DIR=str(tmp_path), DJANGO_SETTINGS_MODULE="procurement.settings")
    setup = "import django; django.setup(); from django.db import connection; "
    subprocess.run(
        [sys.executable, "-c", setup + "connection.cursor().execute('CREATE TABLE screening (n)')"],
        cwd=settings.BASE_DIR,
        env=env,
        check=True,
        timeout=60,
    )

    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER],
            cwd=settings.BASE_DIR,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    results = [writer.communicate(timeout=60) for writer in writers]

    for (out, err), writer in zip(results, writers, strict=True):
        assert writer.returncode == 0, err
        assert out.strip() == "ok"
