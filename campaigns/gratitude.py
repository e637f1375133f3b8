"""Gratitude tasks: events the business chose (a first purchase, the Nth, a big order) become a
personal gesture for a staff member to make (a call, a handwritten note, a small gift in person)."""

from __future__ import annotations

import datetime
from collections.abc import Iterable

from django.db import transaction
from django.db.models import BooleanField, Case, Count, Exists, OuterRef, Q, QuerySet, Subquery, Value, When
from django.db.models.functions import Coalesce
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


# --- The sweep: tasks whose event was lost --------------------------------------------------------

GRATITUDE_SWEEP_HOURS = 48
GRATITUDE_SWEEP_GRACE = datetime.timedelta(minutes=2)


def _rule_condition(rule: GratitudeRule) -> Q:
    """``_rule_matches`` in SQL, over purchases annotated by ``_with_rule_matches``."""
    if rule.event == GratitudeRule.Event.FIRST_PURCHASE:
        return Q(gratitude_ordinal=1)
    if rule.event == GratitudeRule.Event.NTH_PURCHASE and rule.purchase_number is not None:
        return Q(gratitude_ordinal=rule.purchase_number)
    if rule.event == GratitudeRule.Event.BIG_ORDER and rule.min_amount is not None:
        return Q(amount__gte=rule.min_amount)
    return Q(pk__in=[])


def _missing_flag(rule: GratitudeRule) -> str:
    return f"gratitude_missing_{rule.pk}"


def _with_rule_matches(purchases: QuerySet[Purchase], rules: list[GratitudeRule]) -> QuerySet[Purchase]:
    """``purchases`` annotated, for each rule, with whether the rule matches and has no task yet
    (``gratitude_missing_<rule id>``), and filtered to those missing at least one task. The ordinal
    is counted as ``purchase_ordinal`` counts it (ties broken by id). Still one query."""
    earlier = (
        Purchase.objects.filter(customer_id=OuterRef("customer_id"))
        .filter(
            Q(occurred_at__lt=OuterRef("occurred_at")) | Q(occurred_at=OuterRef("occurred_at"), pk__lt=OuterRef("pk"))
        )
        .order_by()
        .values("customer_id")
        .annotate(count=Count("pk"))
        .values("count")
    )
    annotated = purchases.annotate(gratitude_ordinal=Coalesce(Subquery(earlier), 0) + 1)
    flags = {}
    for rule in rules:
        has_task = GratitudeTask.objects.filter(rule_id=rule.pk, purchase_id=OuterRef("pk"))
        flags[_missing_flag(rule)] = Case(
            When(_rule_condition(rule) & ~Exists(has_task), then=Value(True)),
            default=Value(False),
            output_field=BooleanField(),
        )
    annotated = annotated.annotate(**flags)
    any_missing = Q()
    for name in flags:
        any_missing |= Q(**{name: True})
    return annotated.filter(any_missing)


def gratitude_missing(
    *, now: datetime.datetime | None = None, hours: int = GRATITUDE_SWEEP_HOURS, limit: int = 1000
) -> list[int]:
    """Purchases made and recorded in the last ``hours`` that an active rule matches but that have
    no task for that rule: their event was lost (broker down, worker killed). Purchases of the last
    two minutes are left to their event; past purchases recorded now with events muted (demo data,
    an import of history) are left alone. Ids in pk order, at most ``limit`` (the next sweep finds
    the rest). Two queries (the active rules, then the purchases), however many purchases there are."""
    now = now or timezone.now()
    rules = list(GratitudeRule.objects.active().order_by("pk"))
    if not rules:
        return []
    since = now - datetime.timedelta(hours=hours)
    recent = Purchase.objects.filter(
        created_at__gte=since, created_at__lte=now - GRATITUDE_SWEEP_GRACE, occurred_at__gte=since
    )
    return list(_with_rule_matches(recent, rules).order_by("pk").values_list("pk", flat=True)[:limit])


@transaction.atomic
def gratitude_tasks_for_purchases(*, purchase_ids: Iterable[int], today: datetime.date | None = None) -> int:
    """Make the missing gratitude tasks of a batch of purchases under the active rules, as
    ``gratitude_tasks_for_purchase`` makes them one by one (same rules, action, assignee and due
    date from ``today``), in three queries whatever the batch size. Returns how many missing tasks
    it found and inserted (a parallel run may have written some of them in the meantime).

    Safe to run twice or beside the event's task: a purchase that has its task already is not
    selected, and the insert skips a row that a parallel run wrote meanwhile (the unique rule,
    customer and purchase), so no task is ever made twice.
    """
    ids = list(purchase_ids)
    rules = list(GratitudeRule.objects.active().order_by("pk"))
    if not ids or not rules:
        return 0
    today = today or timezone.localdate()
    rows = _with_rule_matches(Purchase.objects.filter(pk__in=ids), rules).values(
        "pk", "customer_id", *(_missing_flag(rule) for rule in rules)
    )
    tasks = [
        GratitudeTask(
            rule=rule,
            customer_id=row["customer_id"],
            purchase_id=row["pk"],
            action=rule.action,
            assignee_id=rule.assignee_id,
            due_on=today + datetime.timedelta(days=rule.due_in_days),
        )
        for row in rows.order_by("pk")
        for rule in rules
        if row[_missing_flag(rule)]
    ]
    # ON CONFLICT DO NOTHING: a task written by a parallel run in the meantime stays as it is.
    GratitudeTask.objects.bulk_create(tasks, ignore_conflicts=True)
    return len(tasks)
