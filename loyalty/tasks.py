"""Scheduled loyalty jobs. Each is set-based and safe to run twice or at the same time."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from loyalty import services


@shared_task(name="loyalty.tasks.points_expire_task")
def points_expire_task() -> int:
    """Nightly: expire lots past their date. Returns the points expired."""
    return services.points_expire_all()


@shared_task(name="loyalty.tasks.tiers_evaluate_task")
def tiers_evaluate_task() -> dict[str, Any]:
    """Nightly: upgrades missed, grace periods, downgrades after grace."""
    result = services.tiers_evaluate_all()
    return {
        "upgraded": result.upgraded,
        "downgraded": result.downgraded,
        "grace_started": result.grace_started,
        "grace_ended": result.grace_ended,
    }


@shared_task(name="loyalty.tasks.vouchers_expire_task")
def vouchers_expire_task() -> int:
    """Nightly: mark vouchers past their date as expired."""
    return services.vouchers_expire_due()


@shared_task(name="loyalty.tasks.pending_points_release_task")
def pending_points_release_task() -> int:
    """Hourly: credit pending points whose return window has passed."""
    return services.pending_points_release_due()
