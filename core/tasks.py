from __future__ import annotations

import socket

from celery import shared_task
from django.utils import timezone


@shared_task(name="core.tasks.heartbeat_task")
def heartbeat_task() -> str:
    """Beat's liveness tick: shows in worker logs that beat and a worker are both running."""
    return timezone.now().isoformat()


@shared_task(name="core.tasks.ping_task")
def ping_task(payload: str) -> dict[str, str]:
    """Echo ``payload`` with the worker's host name; used to prove a worker is consuming."""
    return {"payload": payload, "host": socket.gethostname()}
