"""Sync the periodic schedule declared in settings into django-celery-beat's tables."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import transaction


def sync_periodic_tasks() -> tuple[int, int]:
    """Create missing periodic tasks; keep staff's timing and switch on existing ones.

    Returns (created, updated). Running it again changes nothing.
    """
    from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

    created = updated = 0
    with transaction.atomic():
        for name, spec in settings.VASTAVUORO_PERIODIC_TASKS.items():
            task = PeriodicTask.objects.filter(name=name).first()
            if task is None:
                task = PeriodicTask(name=name, task=spec["task"], description=spec.get("description", ""))
                if "crontab" in spec:
                    task.crontab, _ = CrontabSchedule.objects.get_or_create(
                        **spec["crontab"], timezone=settings.TIME_ZONE
                    )
                else:
                    task.interval, _ = IntervalSchedule.objects.get_or_create(
                        every=spec["interval_seconds"], period=IntervalSchedule.SECONDS
                    )
                task.kwargs = _kwargs_json(spec)
                task.save()
                created += 1
            elif task.task != spec["task"] or task.kwargs != _kwargs_json(spec):
                task.task = spec["task"]
                task.kwargs = _kwargs_json(spec)
                task.save(update_fields=["task", "kwargs"])
                updated += 1
    return created, updated


def _kwargs_json(spec: dict[str, Any]) -> str:
    import json

    return json.dumps(spec.get("kwargs", {}), sort_keys=True)


def sync_after_migrate(**kwargs: Any) -> None:
    sync_periodic_tasks()
