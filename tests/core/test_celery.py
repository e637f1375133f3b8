from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from celery import Celery, current_app
from django.conf import settings
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from core.schedule import sync_periodic_tasks

ROOT = Path(__file__).resolve().parents[2]


def test_celery_is_json_only_with_late_acks_and_time_limits():
    conf = current_app.conf
    assert conf.accept_content == ["json"]
    assert conf.task_serializer == "json"
    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert 0 < conf.task_soft_time_limit < conf.task_time_limit


def test_redis_visibility_timeout_exceeds_the_longest_countdown(settings):
    assert settings.CELERY_MAX_COUNTDOWN > 0
    if not settings.CELERY_BROKER_URL.startswith("filesystem://"):
        assert settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"] > settings.CELERY_MAX_COUNTDOWN


def test_every_scheduled_task_is_a_registered_task():
    current_app.loader.import_default_modules()
    for spec in settings.VASTAVUORO_PERIODIC_TASKS.values():
        assert spec["task"] in current_app.tasks


@pytest.mark.django_db
def test_schedule_sync_creates_missing_tasks_and_keeps_staff_changes():
    PeriodicTask.objects.all().delete()

    assert sync_periodic_tasks() == (len(settings.VASTAVUORO_PERIODIC_TASKS), 0)
    task = PeriodicTask.objects.get(name="core: heartbeat")
    assert task.task == "core.tasks.heartbeat_task"
    assert task.enabled is True

    # Staff pause the task and re-time it in the admin; a later sync keeps both.
    task.enabled = False
    task.interval = IntervalSchedule.objects.create(every=600, period=IntervalSchedule.SECONDS)
    task.save()
    assert sync_periodic_tasks() == (0, 0)
    task.refresh_from_db()
    assert (task.enabled, task.interval.every) == (False, 600)


@pytest.mark.redis
def test_a_real_worker_on_redis_runs_a_task(tmp_path):
    redis_url = os.environ["TEST_REDIS_URL"]
    env = {
        **os.environ,
        "CELERY_BROKER_URL": redis_url,
        "CELERY_RESULT_BACKEND": redis_url,
        "DJANGO_ENV": "test",
        "VAR_DIR": str(tmp_path),
    }
    env.pop("DATABASE_URL", None)  # the ping task needs no database; keep the worker off the test DB
    queue = f"test-{uuid.uuid4().hex[:8]}"
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--pool=solo",
            "--concurrency=1",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "-Q",
            queue,
            "--loglevel=WARNING",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    client = Celery("test-client", broker=redis_url, backend=redis_url)
    client.conf.update(accept_content=["json"], task_serializer="json", result_serializer="json")
    try:
        result = client.send_task("core.tasks.ping_task", args=["kiitos"], queue=queue)
        value = result.get(timeout=60)
    finally:
        worker.terminate()
        output = worker.communicate(timeout=30)[0].decode(errors="replace")
        result.forget()
    assert value["payload"] == "kiitos", output
    assert value["host"]


def test_a_message_lease_outlives_the_longest_task(settings):
    # A worker still sending must never lose its row to another worker.
    assert settings.MESSAGE_LEASE_SECONDS > settings.CELERY_TASK_TIME_LIMIT
