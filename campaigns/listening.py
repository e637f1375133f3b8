"""Answering the customer's give-back: a reward for taking part in a survey (whatever the answer),
and gratitude tasks for staff when a customer gives feedback or refers a friend.

The customers app sends ``feedback_given``; the referrals app sends ``referral_rewarded`` (wired in
``config.wiring``, since campaigns and referrals never import each other). Both reactions are keyed
(the reward by ``feedback:<id>``, a task by rule, customer and occasion), so the event and the sweep
can both run them without acting twice.
"""

from __future__ import annotations

import datetime

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from campaigns.models import GratitudeRule, GratitudeTask
from campaigns.services import thank_you_settings
from customers import outbox
from customers.feedback import feedback_reward_record
from customers.models import Customer, Feedback, MessagePurpose
from loyalty import services as loyalty_services
from loyalty.models import LedgerEntry, PointsAccount


def feedback_key(feedback_id: int) -> str:
    return f"feedback:{feedback_id}"


@transaction.atomic
def feedback_reward_grant(*, feedback_id: int) -> Feedback | None:
    """Give the points for answering a survey, once (keyed by the feedback), record them on the
    answer and thank the customer (a transactional message). Whatever the score: the reward is for
    taking part. Also makes the gratitude tasks the business asked for on feedback. Returns the
    feedback (None when it does not exist)."""
    feedback = Feedback.objects.select_related("customer").filter(pk=feedback_id).first()
    if feedback is None:
        return None
    gratitude_tasks_for_event(
        event=GratitudeRule.Event.FEEDBACK, customer_id=feedback.customer_id, source_key=feedback_key(feedback.pk)
    )
    points = thank_you_settings().feedback_reward_points
    if feedback.reward_entry_id is not None or points <= 0:
        return feedback
    customer = feedback.customer
    if customer.status != Customer.Status.ACTIVE:
        return feedback
    key = feedback_key(feedback.pk)
    entry = loyalty_services.points_earn(
        customer=customer,
        amount=points,
        kind=LedgerEntry.Kind.GIFT,
        reason=_("Thank you for your feedback"),
        idempotency_key=key,
    )
    feedback = feedback_reward_record(feedback=feedback, points=points, ledger_entry_id=entry.pk)
    balance = PointsAccount.objects.filter(customer=customer).values_list("balance", flat=True).first() or 0
    outbox.message_queue(
        customer=customer,
        purpose=MessagePurpose.FEEDBACK_THANKS,
        idempotency_key=key,
        context={"points": points, "balance": balance},
        is_marketing=False,
    )
    return feedback


def feedback_unrewarded(*, now: datetime.datetime | None = None, hours: int = 48, limit: int = 500) -> list[int]:
    """Recent answers without their reward (the event was lost), for the sweep."""
    if thank_you_settings().feedback_reward_points <= 0:
        return []
    now = now or timezone.now()
    recent = Feedback.objects.filter(
        reward_entry_id__isnull=True,
        created_at__gte=now - datetime.timedelta(hours=hours),
        created_at__lte=now - datetime.timedelta(minutes=2),
        customer__status=Customer.Status.ACTIVE,
    )
    return list(recent.order_by("pk").values_list("pk", flat=True)[:limit])


def gratitude_tasks_for_event(*, event: str, customer_id: int, source_key: str) -> list[GratitudeTask]:
    """One task per active rule for ``event`` (feedback, referral), customer and occasion; running it
    again returns the existing tasks."""
    rules = list(GratitudeRule.objects.active().filter(event=event).order_by("pk"))
    today = timezone.localdate()
    tasks = []
    for rule in rules:
        task, _created = GratitudeTask.objects.get_or_create(
            rule=rule,
            customer_id=customer_id,
            purchase=None,
            source_key=source_key,
            defaults={
                "action": rule.action,
                "assignee_id": rule.assignee_id,
                "due_on": today + datetime.timedelta(days=rule.due_in_days),
            },
        )
        tasks.append(task)
    return tasks


def referral_gratitude(*, referral_id: int, referrer_id: int) -> list[GratitudeTask]:
    """A friend referred: thank the referrer in person, as the business chose."""
    with transaction.atomic():
        return gratitude_tasks_for_event(
            event=GratitudeRule.Event.REFERRAL, customer_id=referrer_id, source_key=f"referral:{referral_id}"
        )
