"""Demo: thank-you messages go out at once, so the tour shows one in var/mail/ within a minute;
birthday gifts grow with the tier (Gold adds a coffee voucher); win-back after 90 quiet days.

And a month of automation history, as if the automations had run for the last 30 days: the
thank-yous of that month's purchases, the birthdays that fell in it, the win-back offers and the
gratitude tasks, made by the real services at their past moments, their messages recorded as sent
then (``customers.outbox.message_record_past``): nothing of it is mailed today. Idempotent: a
second load finds every moment handled and adds nothing.
"""

from __future__ import annotations

import datetime
import math
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import Count, OuterRef, Q, Subquery
from django.utils import timezone

from campaigns import birthdays, win_back
from campaigns.gratitude import gratitude_task_close, gratitude_tasks_for_purchases
from campaigns.models import (
    BirthdayGift,
    BirthdayReward,
    BirthdaySettings,
    GratitudeAction,
    GratitudeRule,
    GratitudeTask,
    ThankYouSettings,
    WinBackOffer,
    WinBackSettings,
)
from campaigns.services import THANK_YOU_PURPOSES, thank_you_key, thank_you_send, thank_you_settings
from core.events import events_muted
from customers.models import Customer, Message, User
from customers.outbox import message_record_past
from loyalty.models import Purchase, Reward, Tier

# tier name -> birthday points, and whether a free coffee voucher comes with them
BIRTHDAY_GIFTS = {"Bronze": (100, False), "Silver": (200, False), "Gold": (300, True)}


def demo_campaigns_load() -> str:
    ThankYouSettings.objects.get_or_create(
        pk=1, defaults={"delay_minutes": 0, "gift_points": 50, "gift_min_amount": Decimal("100.00")}
    )
    _birthdays_and_win_back_load()
    _gratitude_rules_load()
    return (
        "Campaigns: thank-you messages go out right after each purchase (see var/mail/); "
        "birthday gifts per tier and win-back offers are on; first purchases and big orders "
        "make gratitude tasks for the demo staff user."
    )


def _birthdays_and_win_back_load() -> None:
    """Birthday settings with a gift per tier (existing gifts, perhaps edited, stay as they are)."""
    config, _created = BirthdaySettings.objects.get_or_create(pk=1, defaults={"send_hour": 9, "gift_points": 100})
    coffee = Reward.objects.filter(name="A coffee on us (stamp card)").first()
    for tier in Tier.objects.filter(name__in=BIRTHDAY_GIFTS):
        points, with_coffee = BIRTHDAY_GIFTS[tier.name]
        BirthdayGift.objects.get_or_create(
            tier=tier, defaults={"settings": config, "points": points, "reward": coffee if with_coffee else None}
        )
    WinBackSettings.objects.get_or_create(pk=1, defaults={"inactive_days": 90, "gift_points": 150})


def _gratitude_rules_load() -> None:
    """Two gratitude rules for the demo staff user (existing rules, perhaps edited, stay as they are)."""
    staff = User.objects.filter(username=settings.DEMO_STAFF_EMAIL).first()
    GratitudeRule.objects.get_or_create(
        name="Welcome note",
        defaults={
            "event": GratitudeRule.Event.FIRST_PURCHASE,
            "action": GratitudeAction.HANDWRITTEN_NOTE,
            "assignee": staff,
            "due_in_days": 3,
        },
    )
    GratitudeRule.objects.get_or_create(
        name="Thank-you call for a big order",
        defaults={
            "event": GratitudeRule.Event.BIG_ORDER,
            "min_amount": Decimal("50.00"),  # a café's big order: about one visit in four
            "action": GratitudeAction.CALL,
            "assignee": staff,
            "due_in_days": 2,
        },
    )


# --- A month of automation history ------------------------------------------------------------------

HISTORY_DAYS = 30
WIN_BACK_TIME = datetime.time(10, 30)  # the daily win-back run (config/schedule.py)
TASK_NOTES = {
    GratitudeTask.Status.DONE: [
        "Called: delighted, will bring a friend next time.",
        "Handwritten card posted with a coffee sample.",
        "Thanked in person at the counter.",
        "Left a voicemail, then a text; replied with thanks.",
    ],
    GratitudeTask.Status.SKIPPED: ["No answer twice.", "Customer asked not to be called."],
}


@dataclass
class _Replayed:
    """What one replay of the month wrote, and when (campaigns' own rows get the moment back)."""

    rewards: list[tuple[BirthdayReward, datetime.datetime]] = field(default_factory=list)
    offers: list[tuple[WinBackOffer, datetime.datetime]] = field(default_factory=list)


def demo_history_load(*, today: datetime.date | None = None) -> str:
    """The 30 days before ``today`` as the automations would have lived them, built through their
    services with ``now`` set to each moment, events muted (no webhook, no reaction today). Today
    is left to the live automations, so a second load the same day finds the same month, all of it
    handled, and adds nothing. Runs after every demo step that records purchases."""
    today = today or timezone.localdate()
    now = _local(today, datetime.time(0))
    start = now - datetime.timedelta(days=HISTORY_DAYS)
    with events_muted():
        replayed = _automations_replay(start=start, now=now)
        _gratitude_history(start=start, now=now)
    for reward, at in replayed.rewards:
        reward.created_at = at
    for offer, at in replayed.offers:
        offer.created_at = at
    BirthdayReward.objects.bulk_update([reward for reward, _at in replayed.rewards], ["created_at"])
    WinBackOffer.objects.bulk_update([offer for offer, _at in replayed.offers], ["created_at"])
    return _history_summary(start=start)


def _local(day: datetime.date, at: datetime.time) -> datetime.datetime:
    return datetime.datetime.combine(day, at, tzinfo=timezone.get_default_timezone())


def _automations_replay(*, start: datetime.datetime, now: datetime.datetime) -> _Replayed:
    """Every moment of the month in time order (a thank-you after each purchase, the hourly
    birthday run at the send hour, the daily win-back run), so each decision sees the history
    before it: the thank-you cooldown, the frequency cap, a customer already rewarded."""
    replayed = _Replayed()
    delay = datetime.timedelta(minutes=thank_you_settings().delay_minutes)
    moments: list[tuple[datetime.datetime, int, Callable[[datetime.datetime], None]]] = []
    thanked = Message.objects.filter(idempotency_key__startswith="thank-you:").values_list("idempotency_key", flat=True)
    done = set(thanked)
    purchases = Purchase.objects.filter(occurred_at__gte=start - delay, occurred_at__lt=now - delay).order_by(
        "occurred_at", "pk"
    )
    for purchase_id, occurred_at in purchases.values_list("pk", "occurred_at"):
        if thank_you_key(purchase_id) not in done:
            moments.append((occurred_at + delay, purchase_id, _thank_you(purchase_id)))
    send_hour = datetime.time(birthdays.birthday_settings().send_hour)
    first_day = timezone.localdate(start)
    for offset in range(HISTORY_DAYS):
        day = first_day + datetime.timedelta(days=offset)
        moments.append((_local(day, send_hour), 0, _birthdays(replayed)))
        moments.append((_local(day, WIN_BACK_TIME), 0, _win_back(replayed)))
    for at, _order, replay in sorted(moments, key=lambda moment: (moment[0], moment[1])):
        replay(at)
    return replayed


def _thank_you(purchase_id: int) -> Callable[[datetime.datetime], None]:
    def replay(at: datetime.datetime) -> None:
        with transaction.atomic():
            message = thank_you_send(purchase_id=purchase_id, now=at)
            if message is not None:
                message_record_past(message=message, at=at)

    return replay


def _birthdays(replayed: _Replayed) -> Callable[[datetime.datetime], None]:
    def replay(at: datetime.datetime) -> None:
        due = birthdays.birthdays_due_list(now=at)
        customers = Customer.objects.in_bulk([customer_id for customer_id, _year in due])
        for customer_id, year in due:
            with transaction.atomic():
                reward = birthdays.birthday_reward_grant(customer=customers[customer_id], year=year, now=at)
                if reward is not None and reward.message is not None:
                    message_record_past(message=reward.message, at=at)
            if reward is not None:
                replayed.rewards.append((reward, at))

    return replay


def _win_back(replayed: _Replayed) -> Callable[[datetime.datetime], None]:
    def replay(at: datetime.datetime) -> None:
        for customer in win_back.customers_lapsed(now=at):
            with transaction.atomic():
                offer = win_back.win_back_offer_make(customer=customer, now=at)
                if offer is not None and offer.message is not None:
                    message_record_past(message=offer.message, at=at)
            if offer is not None:
                replayed.offers.append((offer, at))

    return replay


def _gratitude_history(*, start: datetime.datetime, now: datetime.datetime) -> None:
    """The gratitude tasks of the month's purchases, made day by day (set-based, as the sweep
    makes them) and dated back to their purchase. Of those past due, the demo staff user closed
    the older three quarters on their due day (one in four skipped) and is behind on the rest;
    tasks not yet due are open. Only tasks made by this load are closed: a second load closes
    nothing."""
    made_since = timezone.now()
    by_day: dict[datetime.date, list[int]] = defaultdict(list)
    for purchase_id, occurred_at in Purchase.objects.filter(occurred_at__gte=start, occurred_at__lt=now).values_list(
        "pk", "occurred_at"
    ):
        by_day[timezone.localdate(occurred_at)].append(purchase_id)
    for day in sorted(by_day):
        gratitude_tasks_for_purchases(purchase_ids=by_day[day], today=day)
    made = list(GratitudeTask.objects.filter(created_at__gte=made_since).values_list("pk", flat=True))
    GratitudeTask.objects.filter(pk__in=made).update(
        created_at=Subquery(Purchase.objects.filter(pk=OuterRef("purchase_id")).values("occurred_at")[:1])
    )
    staff = User.objects.filter(username=settings.DEMO_STAFF_EMAIL).first()
    if staff is None:
        return
    past_due = list(
        GratitudeTask.objects.filter(pk__in=made, due_on__lt=timezone.localdate(now)).order_by("due_on", "pk")
    )
    behind = math.ceil(len(past_due) / 4)  # staff are a few days behind: the latest quarter is still open
    closed = past_due[: len(past_due) - behind]
    for index, task in enumerate(closed):
        status = GratitudeTask.Status.SKIPPED if index % 4 == 1 else GratitudeTask.Status.DONE
        notes = TASK_NOTES[status]
        gratitude_task_close(task=task, by=staff, status=status, note=notes[index % len(notes)])
        task.done_at = _local(task.due_on, datetime.time(14))
    GratitudeTask.objects.bulk_update(closed, ["done_at"])


def _history_summary(*, start: datetime.datetime) -> str:
    thank_yous = Message.objects.filter(purpose__in=THANK_YOU_PURPOSES, created_at__gte=start).aggregate(
        sent=Count("pk", filter=Q(status=Message.Status.SENT)),
        not_sent=Count("pk", filter=Q(status=Message.Status.SUPPRESSED)),
    )
    tasks = GratitudeTask.objects.filter(created_at__gte=start).aggregate(
        **{status: Count("pk", filter=Q(status=status)) for status in GratitudeTask.Status.values}
    )
    return (
        f"Campaign history, the last {HISTORY_DAYS} days: {thank_yous['sent']} thank-yous sent and "
        f"{thank_yous['not_sent']} not sent (no consent, or too many messages that week), "
        f"{BirthdayReward.objects.filter(birthday__gte=timezone.localdate(start)).count()} birthday rewards, "
        f"{WinBackOffer.objects.filter(created_at__gte=start).count()} win-back offers, gratitude tasks "
        f"{tasks['done']} done, {tasks['skipped']} skipped, {tasks['open']} open."
    )


# After loyalty (10), the gift campaigns (25) and referrals (30): the month covers their purchases too.
