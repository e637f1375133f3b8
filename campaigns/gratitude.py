"""Gratitude tasks: events the business chose (a first purchase, the Nth, a big order) become a
personal gesture for a staff member to make (a call, a handwritten note, a small gift in person)."""

from __future__ import annotations

import datetime

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from campaigns.models import GratitudeRule, GratitudeTask
from core.errors import Conflict, DomainError
from customers.models import User
from loyalty.models import Purchase


class GratitudeTaskClosed(Conflict):
    code = "gratitude_task_closed"
    default_message = _("This gratitude task is already closed.")


class GratitudeStatusInvalid(DomainError):
    code = "gratitude_status_invalid"
    default_message = _("A gratitude task can only be closed as done or skipped.")


def purchase_ordinal(purchase: Purchase) -> int:
    """The purchase's place among its customer's purchases by ``occurred_at`` (1 = first); ties
    are broken by id, so two receipts at the same second still count as two."""
    earlier = Purchase.objects.filter(customer_id=purchase.customer_id).filter(
        Q(occurred_at__lt=purchase.occurred_at) | Q(occurred_at=purchase.occurred_at, pk__lt=purchase.pk)
    )
    return earlier.count() + 1


def _rule_matches(rule: GratitudeRule, purchase: Purchase, ordinal: int) -> bool:
    if rule.event == GratitudeRule.Event.FIRST_PURCHASE:
        return ordinal == 1
    if rule.event == GratitudeRule.Event.NTH_PURCHASE:
        return rule.purchase_number is not None and ordinal == rule.purchase_number
    if rule.event == GratitudeRule.Event.BIG_ORDER:
        return rule.min_amount is not None and purchase.amount >= rule.min_amount
    return False


@transaction.atomic
def gratitude_tasks_for_purchase(*, purchase_id: int, today: datetime.date | None = None) -> list[GratitudeTask]:
    """Make the gratitude tasks a recorded purchase calls for under the active rules.

    One task per rule, customer and purchase (a unique constraint): running this again, or on two
    workers at once, returns the existing tasks and creates none. An unknown purchase or no
    matching rule gives an empty list. The task copies the rule's action and assignee, so editing
    the rule later does not rewrite tasks already given out.
    """
    purchase = Purchase.objects.filter(pk=purchase_id).first()
    if purchase is None:
        return []
    rules = list(GratitudeRule.objects.active().order_by("pk"))
    if not rules:
        return []
    today = today or timezone.localdate()
    ordinal = purchase_ordinal(purchase)
    tasks = []
    for rule in rules:
        if not _rule_matches(rule, purchase, ordinal):
            continue
        # get_or_create inserts in a savepoint and re-reads on IntegrityError: safe against a
        # parallel run of the same purchase.
        task, _created = GratitudeTask.objects.get_or_create(
            rule=rule,
            customer_id=purchase.customer_id,
            purchase=purchase,
            defaults={
                "action": rule.action,
                "assignee_id": rule.assignee_id,
                "due_on": today + datetime.timedelta(days=rule.due_in_days),
            },
        )
        tasks.append(task)
    return tasks


@transaction.atomic
def gratitude_task_close(*, task: GratitudeTask, by: User, status: str, note: str = "") -> GratitudeTask:
    """Close an open task as done or skipped, recording who and when.

    The flip is a conditional update on the open status, so of two staff closing the same task
    only one wins; the other (and any later attempt) gets ``GratitudeTaskClosed`` and nothing
    changes. Raises ``GratitudeStatusInvalid`` for a status other than done or skipped.
    """
    if status not in (GratitudeTask.Status.DONE, GratitudeTask.Status.SKIPPED):
        raise GratitudeStatusInvalid(status=status)
    now = timezone.now()
    fields = {"status": status, "outcome_note": note, "done_by": by, "done_at": now}
    updated = GratitudeTask.objects.filter(pk=task.pk, status=GratitudeTask.Status.OPEN).update(**fields)
    if not updated:
        raise GratitudeTaskClosed(task_id=task.pk)
    for name, value in fields.items():
        setattr(task, name, value)
    return task
