"""Tasks go to four queues (settings.CELERY_TASK_ROUTES) so that a large spend import or a
report never holds up an approval email: email, reports, imports, and default for the rest.
Every queue has a worker in the Procfile and in docker-compose.yml."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
import yaml
from django.conf import settings

from analytics.models import ImportState, SpendImport
from analytics.services import spend_import_from_path, spend_source_get_or_create
from analytics.tasks import spend_import_task
from procurement.celery import app as celery_app
from requests.services import comment_create
from tests.factories import PurchaseRequestFactory
from tests.processes import private_broker, queue_length, real_worker

QUEUES = {"default", "email", "reports", "imports"}
PROJECT_APPS = (
    "procurement",
    "vendors",
    "requests",
    "approvals",
    "analytics",
    "sourcing",
    "planning",
)

# Every task of the project and its queue. A new task needs its line here: decide whether it
# sends mail (email), builds a report (reports), is an import's batch work (imports), or is
# short (default), and route it in settings.CELERY_TASK_ROUTES unless default fits.
EXPECTED = {
    # Mail and only mail: one queue that nothing slow shares.
    "approvals.tasks.notify_step_pending": "email",
    "approvals.tasks.notify_step_escalated": "email",
    "approvals.tasks.send_reminder_digest": "email",
    "requests.tasks.notify_mentions": "email",
    "requests.tasks.notify_requester_of_transition": "email",
    "vendors.tasks.notify_bank_details_changed": "email",
    "vendors.tasks.notify_vendor_back_under_review": "email",
    "vendors.tasks.notify_assessment_link": "email",
    "vendors.tasks.notify_assessment_submitted": "email",
    "vendors.tasks.send_vendor_reminders": "email",
    "sourcing.rfq_tasks.notify_rfq_invitation": "email",
    "sourcing.rfq_tasks.notify_rfq_deadline_changed": "email",
    "sourcing.rfq_tasks.notify_rfq_cancelled": "email",
    "sourcing.rfq_tasks.notify_rfq_closed": "email",
    "sourcing.rfq_tasks.notify_rfq_answer_published": "email",
    "sourcing.rfq_tasks.notify_quote_received": "email",
    "sourcing.rfq_tasks.notify_question_asked": "email",
    "sourcing.order_tasks.send_purchase_order": "email",
    "sourcing.order_tasks.notify_change_order_approvers": "email",
    "sourcing.order_tasks.notify_invoice_on_hold": "email",
    "sourcing.evaluation_tasks.notify_counter_offer": "email",
    "sourcing.evaluation_tasks.notify_award_approval_needed": "email",
    "sourcing.evaluation_tasks.notify_award_outcome": "email",
    # Spend reports aggregate a whole period before they are mailed.
    "analytics.tasks.send_due_spend_reports": "reports",
    "analytics.tasks.send_spend_report": "reports",
    # Batch work of an import: minutes for a large file.
    "analytics.tasks.spend_import_task": "imports",
    "analytics.tasks.scan_spend_import_findings": "imports",
    "vendors.tasks.rescreen_all_vendors": "imports",
    # Moves spend lines between partitions: batch work on the spend table.
    "analytics.tasks.keep_spend_line_partitions": "imports",
    # Short work: the beat scans (they queue their mail as email tasks) and single updates.
    "procurement.tasks.worker_heartbeat": "default",
    "approvals.tasks.send_due_reminders": "default",
    "approvals.tasks.escalate_overdue_steps": "default",
    "approvals.tasks.expire_stale_steps": "default",
    "approvals.tasks.start_due_delegations": "default",
    "vendors.tasks.screen_vendor": "default",
    "vendors.tasks.update_contract_states": "default",
    "analytics.tasks.scan_missed_spend_findings": "default",
    "sourcing.rfq_tasks.close_due_rfqs": "default",
    "sourcing.evaluation_tasks.expire_due_counter_offers": "default",
}


def _registered_tasks() -> set[str]:
    celery_app.loader.import_default_modules()
    return set(celery_app.tasks)


def _queue_of(task_name: str) -> str:
    queue: str = celery_app.amqp.router.route({}, task_name)["queue"].name
    return queue


def _is_project_task(name: str) -> bool:
    # Tasks defined by test modules (only for a test) are not the project's.
    return name.startswith(PROJECT_APPS) and ".tests." not in name


def test_it_declares_the_four_queues() -> None:
    assert {queue.name for queue in settings.CELERY_TASK_QUEUES} == QUEUES
    assert settings.CELERY_TASK_DEFAULT_QUEUE == "default"


@pytest.mark.parametrize(("task_name", "queue"), sorted(EXPECTED.items()))
def test_it_sends_each_task_to_its_queue(task_name: str, queue: str) -> None:
    assert task_name in _registered_tasks(), f"{task_name} is no longer a task: update EXPECTED"
    assert _queue_of(task_name) == queue


def test_it_has_decided_the_queue_of_every_task() -> None:
    undecided = sorted(
        name for name in _registered_tasks() if _is_project_task(name) and name not in EXPECTED
    )

    assert not undecided, f"new tasks: choose their queue in EXPECTED and settings: {undecided}"


def test_it_sends_no_task_to_a_queue_without_workers() -> None:
    # Celery's own tasks included: an unknown queue would be created silently and never read.
    stray = {name: _queue_of(name) for name in _registered_tasks() if _queue_of(name) not in QUEUES}

    assert not stray


def _consumed_queues(command: list[str]) -> set[str]:
    """The queues a `celery worker` command line consumes (-Q a,b; all declared without -Q)."""
    if "-Q" not in command:
        return set(QUEUES)
    return set(command[command.index("-Q") + 1].split(","))


def test_it_runs_one_development_worker_for_every_queue() -> None:
    procfile = (Path(settings.BASE_DIR) / "Procfile").read_text()
    workers = [
        shlex.split(line.partition(":")[2])
        for line in procfile.splitlines()
        if " worker" in line.partition(":")[2]
    ]

    assert len(workers) == 1
    assert _consumed_queues(workers[0]) == QUEUES


def test_it_gives_email_its_own_worker_in_production() -> None:
    compose = yaml.safe_load((Path(settings.BASE_DIR) / "docker-compose.yml").read_text())
    workers = {
        name: _consumed_queues(service["command"])
        for name, service in compose["services"].items()
        if "worker" in (service.get("command") or [])
    }

    assert set().union(*workers.values()) == QUEUES, workers
    [email_worker] = [queues for queues in workers.values() if "email" in queues]
    assert email_worker == {"email"}
    [import_worker] = [queues for queues in workers.values() if "imports" in queues]
    assert "default" not in import_worker


@pytest.mark.integration
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_it_sends_an_email_while_a_large_import_waits_for_its_worker(org, tmp_path: Path) -> None:
    spend_file = tmp_path / "spend.csv"
    spend_file.write_text("Date,Amount,Supplier\n2025-01-06,120.00,Acme Ltd\n")
    spend_import = spend_import_from_path(
        source=spend_source_get_or_create(name="Ledger"),
        path=spend_file,
        mapping={"columns": {"date": "Date", "amount": "Amount", "supplier": "Supplier"}},
    )
    purchase_request = PurchaseRequestFactory.create(
        requester=org.requester, department=org.department, cost_centre=org.cost_centre
    )
    var_dir = tmp_path / "worker"
    outbox = var_dir / "mail"

    with (
        private_broker(var_dir) as broker,
        real_worker(var_dir=var_dir, broker=broker, queues=["email"]) as worker,
    ):
        # The import is queued first: with one shared queue the email would wait behind it.
        spend_import_task.delay(spend_import.pk)
        comment_create(
            request_id=purchase_request.pk, by=org.requester, body="@mark could you approve this?"
        )

        worker.wait_until("the mention email", lambda: any(outbox.glob("*.eml")))
        waiting = queue_length("imports")

    [message] = outbox.glob("*.eml")
    assert "To: mark@example.com" in message.read_text()
    assert SpendImport.objects.get(pk=spend_import.pk).state == ImportState.QUEUED
    assert waiting == 1
    assert "spend_import_task[" not in worker.log_text()  # never received by this worker
