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
    "customers: sweep the outbox": {
        "task": "customers.tasks.messages_sweep_task",
        "interval_seconds": 120,
        "description": "Send messages whose enqueue was lost (broker down) or whose sender died.",
    },
    "campaigns: thank-you sweep": {
        "task": "campaigns.tasks.thank_you_sweep_task",
        "interval_seconds": 300,
        "description": "Thank purchases whose thank-you event was lost (broker down, worker killed).",
    },
    "campaigns: gratitude sweep": {
        "task": "campaigns.tasks.gratitude_sweep_task",
        "interval_seconds": 600,
        "description": "Make the gratitude tasks of recent purchases whose event was lost (broker down, worker died).",
    },
    "campaigns: contest entries sweep": {
        "task": "campaigns.tasks.contest_entries_sweep_task",
        "interval_seconds": 600,
        "description": "Enter the purchases of open contests whose purchase event was lost (broker down).",
    },
    "campaigns: expire contest wins": {
        "task": "campaigns.tasks.contest_wins_expire_task",
        "crontab": {"minute": "35"},
        "description": "Hourly: contest wins not accepted by their date expire.",
    },
    "campaigns: default gift choices": {
        "task": "campaigns.tasks.gift_choices_default_task",
        "crontab": {"minute": "25"},
        "description": "Hourly: recipients who did not choose their gift by the deadline get their preferred kind.",
    },
    "campaigns: launch, resume and finish campaigns": {
        "task": "campaigns.tasks.campaigns_sweep_task",
        "interval_seconds": 300,
        "description": "Launch scheduled campaigns, re-send lost gift batches, complete special days that ended.",
    },
    "referrals: sweep": {
        "task": "referrals.tasks.referrals_sweep_task",
        "interval_seconds": 300,
        "description": "Qualify and reward referrals whose purchase event was lost, take back rewards whose refund "
        "event was lost, close pending referrals whose qualifying window has passed.",
    },
    "campaigns: feedback reward sweep": {
        "task": "campaigns.tasks.feedback_sweep_task",
        "interval_seconds": 300,
        "description": "Reward survey answers whose event was lost.",
    },
    "loyalty: expire points": {
        "task": "loyalty.tasks.points_expire_task",
        "crontab": {"minute": "10", "hour": "2"},
        "description": "Nightly: expire earned points past their date, oldest lots first.",
    },
    "loyalty: expire vouchers": {
        "task": "loyalty.tasks.vouchers_expire_task",
        "crontab": {"minute": "20", "hour": "2"},
        "description": "Nightly: mark unused vouchers past their date as expired.",
    },
    "loyalty: evaluate tiers": {
        "task": "loyalty.tasks.tiers_evaluate_task",
        "crontab": {"minute": "40", "hour": "2"},
        "description": "Nightly: tier upgrades missed, downgrade grace periods, downgrades.",
    },
    "loyalty: release pending points": {
        "task": "loyalty.tasks.pending_points_release_task",
        "crontab": {"minute": "5"},
        "description": "Hourly: credit pending points whose return window has passed.",
    },
    "customers: refresh segments": {
        "task": "customers.tasks.segments_refresh_task",
        "crontab": {"minute": "15"},
        "description": "Hourly: re-materialise the members of every active dynamic segment.",
    },
    "campaigns: birthday rewards": {
        "task": "campaigns.tasks.birthdays_task",
        "crontab": {"minute": "20"},
        "description": "Hourly: birthday gifts and greetings for customers whose local send hour has come.",
    },
    "campaigns: win-back offers": {
        "task": "campaigns.tasks.win_back_task",
        "crontab": {"minute": "30", "hour": "10"},
        "description": "Daily: a give-first offer to customers with no purchase in N days, once per lapse.",
    },
}
