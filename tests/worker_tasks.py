"""A task for tests/test_it_redelivers_a_task_after_a_worker_is_killed.py only: the worker of
that test loads it with `-I tests.worker_tasks`; the platform never does.

It sends the real "approval needed" email (keyed, through email_send_once) and then hangs
until the test lets it finish, so that the test can kill the worker at the worst moment: the
email is out, the task is not acknowledged.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from celery import shared_task

from approvals.emails import send_step_pending_emails

NAME = "tests.email_the_approver_then_hang"


@shared_task(name=NAME)
def email_the_approver_then_hang(step_id: int, marks: str) -> int:
    """Each run leaves `started-<pid>` (and, once let go, `finished-<pid>`) under `marks`;
    it is let go when `marks/finish` exists."""
    folder = Path(marks)
    (folder / f"started-{os.getpid()}").touch()
    sent = send_step_pending_emails(step_id=step_id)
    (folder / f"emailed-{os.getpid()}").touch()
    while not (folder / "finish").exists():
        time.sleep(0.1)  # waiting to be let go (or killed), not timing anything
    (folder / f"finished-{os.getpid()}").touch()
    return sent
