from __future__ import annotations

from celery import shared_task

from customers import outbox

RETRY_BACKOFF_MAX = 60 * 60


@shared_task(
    name="customers.tasks.message_send_task",
    bind=True,
    acks_late=True,
    autoretry_for=(Exception,),
    retry_backoff=30,
    retry_backoff_max=RETRY_BACKOFF_MAX,
    retry_jitter=True,
    max_retries=8,
)
def message_send_task(self: object, *, message_id: int) -> bool:
    """Send one outbox row. Safe to run twice: the row is claimed with a conditional update, so
    only one run sends it; a failure leaves it pending for the retry (exponential backoff)."""
    return outbox.message_deliver(message_id) is not None


@shared_task(name="customers.tasks.messages_sweep_task")
def messages_sweep_task() -> int:
    """Every few minutes: re-enqueue rows whose enqueue was lost or whose sender died."""
    due = outbox.messages_due()
    for message_id in due:
        message_send_task.delay(message_id=message_id)
    return len(due)
