from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from procurement.models import WorkerHeartbeat


@shared_task
def worker_heartbeat() -> None:
    """Scheduled by beat every minute; /healthz reports how long ago a worker ran it."""
    WorkerHeartbeat.objects.update_or_create(name="worker", defaults={"seen_at": timezone.now()})
