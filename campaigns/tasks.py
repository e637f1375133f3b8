from __future__ import annotations

from celery import shared_task

from campaigns import birthdays, gratitude, services, win_back


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


BATCH_SIZE = 200


@shared_task(name="campaigns.tasks.birthdays_task")
def birthdays_task() -> int:
    """Hourly: find the customers whose birthday is due now (their local hour has reached the send
    hour) and fan them out in batches of ``BATCH_SIZE``. Safe to run twice or on two workers: each
    birthday is rewarded once per year by its unique row; a lost batch is found again next hour."""
    due = [[customer_id, year] for customer_id, year in birthdays.birthdays_due_list()]
    for start in range(0, len(due), BATCH_SIZE):
        birthdays_batch_task.delay(due=due[start : start + BATCH_SIZE])
    return len(due)


@shared_task(name="campaigns.tasks.birthdays_batch_task", acks_late=True)
def birthdays_batch_task(*, due: list[list[int]]) -> int:
    """Reward a batch of ``[customer id, year]`` pairs; returns how many this run rewarded."""
    return birthdays.birthdays_grant(due=[(customer_id, year) for customer_id, year in due])


@shared_task(name="campaigns.tasks.win_back_task")
def win_back_task() -> int:
    """Daily: find the lapsed customers without an offer for their lapse and fan them out in batches.
    Safe to run twice: each lapse gets one offer by its unique row."""
    lapsed = list(win_back.customers_lapsed().values_list("pk", flat=True))
    for start in range(0, len(lapsed), BATCH_SIZE):
        win_back_batch_task.delay(customer_ids=lapsed[start : start + BATCH_SIZE])
    return len(lapsed)


@shared_task(name="campaigns.tasks.win_back_batch_task", acks_late=True)
def win_back_batch_task(*, customer_ids: list[int]) -> int:
    """Make the win-back offers of a batch of customers; returns how many this run made."""
    return win_back.win_back_offers_make(customer_ids=customer_ids)


@shared_task(name="campaigns.tasks.gratitude_task_for_purchase_task", acks_late=True)
def gratitude_task_for_purchase_task(*, purchase_id: int) -> int:
    """Make the gratitude tasks a purchase calls for; safe to run twice (one task per rule,
    customer and purchase). Returns how many tasks the purchase has under the active rules."""
    return len(gratitude.gratitude_tasks_for_purchase(purchase_id=purchase_id))
