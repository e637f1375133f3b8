from __future__ import annotations

from celery import shared_task

from campaigns import services


@shared_task(name="campaigns.tasks.thank_you_task", acks_late=True)
def thank_you_task(*, purchase_id: int) -> bool:
    """Thank the customer for a purchase; safe to run twice (the message is keyed by purchase)."""
    return services.thank_you_send(purchase_id=purchase_id) is not None


@shared_task(name="campaigns.tasks.thank_you_sweep_task")
def thank_you_sweep_task() -> int:
    """Every few minutes: thank purchases whose event was lost (the broker was down)."""
    missing = services.thank_you_missing()
    for purchase_id in missing:
        thank_you_task.delay(purchase_id=purchase_id)
    return len(missing)
