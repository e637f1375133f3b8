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


@shared_task(name="campaigns.tasks.campaign_launch_task", acks_late=True)
def campaign_launch_task(*, campaign_id: int, by_id: int | None = None) -> int:
    """Launch a campaign and fan its treated recipients out in batches; returns the batch count.
    Safe to repeat: a campaign already running is not launched again (the sweep resumes it)."""
    from campaigns import launch
    from campaigns.models import Campaign
    from customers.models import User

    if not Campaign.objects.filter(pk=campaign_id, status__in=("draft", "scheduled")).exists():
        return 0
    by = User.objects.filter(pk=by_id).first() if by_id else None
    batches = launch.campaign_launch(campaign_id=campaign_id, by=by)
    campaign_batches_enqueue(campaign_id, batches)
    return len(batches)


def campaign_batches_enqueue(campaign_id: int, batches: list[list[int]]) -> None:
    for recipient_ids in batches:
        campaign_batch_task.delay(campaign_id=campaign_id, recipient_ids=recipient_ids)


@shared_task(name="campaigns.tasks.campaign_batch_task", acks_late=True)
def campaign_batch_task(*, campaign_id: int, recipient_ids: list[int]) -> int:
    """Give one batch's gifts; safe to run twice (only pending recipients are taken)."""
    from campaigns import launch

    return launch.campaign_batch_give(campaign_id=campaign_id, recipient_ids=recipient_ids).given


@shared_task(name="campaigns.tasks.campaigns_sweep_task")
def campaigns_sweep_task() -> int:
    """Every few minutes: launch scheduled campaigns whose start has come, resume running ones whose
    batches were lost (broker down, worker killed), and complete special days that have ended."""
    from campaigns import launch

    due = launch.campaigns_due_launch()
    for campaign_id in due:
        campaign_launch_task.delay(campaign_id=campaign_id)
    stalled = launch.campaigns_stalled()
    for campaign_id, batches in stalled:
        campaign_batches_enqueue(campaign_id, batches)
    launch.campaigns_finish_due()
    return len(due) + len(stalled)


@shared_task(name="campaigns.tasks.gratitude_sweep_task")
def gratitude_sweep_task() -> int:
    """Every few minutes: find the recent purchases an active gratitude rule matches but that have
    no task for it (their event was lost: broker down, worker killed) and fan them out in batches
    of ``BATCH_SIZE``. Safe to run twice or on two workers: a task exists once per rule, customer
    and purchase."""
    missing = gratitude.gratitude_missing()
    for start in range(0, len(missing), BATCH_SIZE):
        gratitude_batch_task.delay(purchase_ids=missing[start : start + BATCH_SIZE])
    return len(missing)


@shared_task(name="campaigns.tasks.gratitude_batch_task", acks_late=True)
def gratitude_batch_task(*, purchase_ids: list[int]) -> int:
    """Make the missing gratitude tasks of a batch of purchases; returns how many this run made."""
    return gratitude.gratitude_tasks_for_purchases(purchase_ids=purchase_ids)


@shared_task(name="campaigns.tasks.contest_entries_for_purchase_task", acks_late=True)
def contest_entries_for_purchase_task(*, purchase_id: int) -> int:
    """Enter a purchase in the running contests; safe to run twice (one entry per contest and
    purchase). Returns how many contests the purchase holds entries in."""
    from campaigns import contests

    return len(contests.contest_entries_for_purchase(purchase_id=purchase_id))


@shared_task(name="campaigns.tasks.contest_entries_sweep_task")
def contest_entries_sweep_task() -> int:
    """Every few minutes: enter the purchases of open contests whose event was lost."""
    from campaigns import contests

    missing = contests.contest_purchases_without_entries()
    for purchase_id in missing:
        contest_entries_for_purchase_task.delay(purchase_id=purchase_id)
    return len(missing)


@shared_task(name="campaigns.tasks.contest_wins_expire_task")
def contest_wins_expire_task() -> int:
    """Hourly: expire the contest wins not accepted by their date; safe to run twice."""
    from campaigns import contests

    return contests.contest_wins_expire()


@shared_task(name="campaigns.tasks.gift_choices_default_task")
def gift_choices_default_task() -> int:
    """Hourly: give the recipients who did not choose by the deadline their preferred gift (else the
    campaign's first option), in batches of ``BATCH_SIZE``. Safe to run twice: a recipient is
    given once, under a lock; a lost batch is found again next hour."""
    from campaigns import choices

    due = [[recipient_id, option_id] for recipient_id, option_id in choices.gift_choices_default_due()]
    for start in range(0, len(due), BATCH_SIZE):
        gift_choices_default_batch_task.delay(pairs=due[start : start + BATCH_SIZE])
    return len(due)


@shared_task(name="campaigns.tasks.gift_choices_default_batch_task", acks_late=True)
def gift_choices_default_batch_task(*, pairs: list[list[int]]) -> int:
    """Give a batch of ``[recipient id, option id]`` their default gift; returns how many this run gave."""
    from campaigns import choices

    return choices.gift_choices_default_give(pairs=[(recipient_id, option_id) for recipient_id, option_id in pairs])


@shared_task(name="campaigns.tasks.feedback_reward_task", acks_late=True)
def feedback_reward_task(*, feedback_id: int) -> bool:
    """Reward an answered survey (once, by its key) and make its gratitude tasks."""
    from campaigns import listening

    return listening.feedback_reward_grant(feedback_id=feedback_id) is not None


@shared_task(name="campaigns.tasks.referral_gratitude_task", acks_late=True)
def referral_gratitude_task(*, referral_id: int, referrer_id: int) -> int:
    """Make the gratitude tasks for a rewarded referral; safe to run twice."""
    from campaigns import listening

    return len(listening.referral_gratitude(referral_id=referral_id, referrer_id=referrer_id))


@shared_task(name="campaigns.tasks.feedback_sweep_task")
def feedback_sweep_task() -> int:
    """Every few minutes: reward answers whose event was lost."""
    from campaigns import listening

    missing = listening.feedback_unrewarded()
    for feedback_id in missing:
        feedback_reward_task.delay(feedback_id=feedback_id)
    return len(missing)
