"""The periodic schedule, declared in code.

`manage.py sync_periodic_tasks` (run after every `migrate`) writes these entries into
django-celery-beat's tables. An entry that exists already keeps the timing and the on/off switch
staff gave it in the admin; only its task path and arguments follow the code.
Each entry: name -> {"task": dotted path, "crontab" or "interval_seconds", optional "kwargs"}.
"""

from __future__ import annotations

from typing import Any

PERIODIC_TASKS: dict[str, dict[str, Any]] = {
    "core: heartbeat": {
        "task": "core.tasks.heartbeat_task",
        "interval_seconds": 60,
        "description": "Liveness tick: beat and a worker are both running.",
    },
}
