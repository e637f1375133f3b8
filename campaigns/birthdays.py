"""Birthday rewards: a gift per tier on (or N days before) the customer's local birthday, once per
customer and year, to every member; the greeting only within consent (the outbox decides).

A birthday is a local date: in the customer's time zone when known, else the programme's. A 29
February birthday is celebrated on 28 February in common years. A birth date set or changed in
the last 30 days earns nothing yet, so a birthday cannot be moved to collect a second gift.
"""

from __future__ import annotations

import calendar
import datetime
import logging
import zoneinfo
from collections.abc import Iterable
from functools import reduce
from operator import or_

from django.db import IntegrityError, transaction
from django.db.models import Case, DateField, Exists, OuterRef, Q, QuerySet, Value, When
from django.utils import timezone

from campaigns.gifts import gift_grant_and_announce
from campaigns.models import BirthdayGift, BirthdayReward, BirthdaySettings
from customers.models import Customer, MessagePurpose
from loyalty.models import LedgerEntry, PointsAccount, Reward

logger = logging.getLogger(__name__)

BIRTH_DATE_SETTLE_DAYS = 30


def birthday_settings() -> BirthdaySettings:
    return BirthdaySettings.objects.get_or_create(pk=1)[0]


def birthday_key(customer_id: int, year: int) -> str:
    return f"birthday:{customer_id}:{year}"


def birthday_in_year(birth_date: datetime.date, year: int) -> datetime.date:
    """The day a birthday is celebrated in ``year``: 29 February falls on 28 February in common years."""
    if (birth_date.month, birth_date.day) == (2, 29) and not calendar.isleap(year):
        return datetime.date(year, 2, 28)
    return birth_date.replace(year=year)


def _born_on(day: datetime.date) -> Q:
    """Customers whose birthday is celebrated on ``day``."""
    condition = Q(birth_date__month=day.month, birth_date__day=day.day)
    if (day.month, day.day) == (2, 28) and not calendar.isleap(day.year):
        condition |= Q(birth_date__month=2, birth_date__day=29)
    return condition


def _time_zone_groups() -> dict[str, Q]:
    """Each time zone in use, with the customers who live by it: an empty or unknown time zone is
    the programme's. One query (the distinct time zones)."""
    programme = timezone.get_default_timezone_name()
    groups = {programme: Q(time_zone="") | Q(time_zone=programme)}
    known = zoneinfo.available_timezones()
    names = (
        Customer.objects.filter(birth_date__isnull=False)
        .exclude(time_zone="")
        .exclude(time_zone=programme)
        .values_list("time_zone", flat=True)
        .distinct()
    )
    for name in names:
        if name in known:
            groups[name] = Q(time_zone=name)
        else:
            groups[programme] |= Q(time_zone=name)
    return groups


def _nobody() -> QuerySet[Customer]:
    return Customer.objects.none().annotate(birthday_on=Value(None, output_field=DateField()))


def birthdays_due(*, now: datetime.datetime | None = None) -> QuerySet[Customer]:
    """Active customers to reward now, annotated with ``birthday_on`` (the birthday celebrated).

    Due: in the customer's time zone the local hour has reached ``send_hour`` and the local date
    plus ``days_ahead`` is their birthday (29 February -> 28 February in common years); the birth
    date was set over 30 days ago (never recorded counts as long ago); not yet rewarded that year.
    Every hour from ``send_hour`` to midnight finds whoever an earlier run missed. One query over
    customers (plus one for the time zones in use); empty when the automation is off.
    """
    now = now or timezone.now()
    config = birthday_settings()
    if not config.is_enabled:
        return _nobody()
    branches = []
    for name, lives_there in _time_zone_groups().items():
        local = now.astimezone(zoneinfo.ZoneInfo(name))
        if local.hour < config.send_hour:
            continue
        day = local.date() + datetime.timedelta(days=config.days_ahead)
        rewarded = BirthdayReward.objects.filter(customer=OuterRef("pk"), year=day.year)
        branches.append((Q(lives_there, _born_on(day), ~Exists(rewarded)), day))
    if not branches:
        return _nobody()
    settled = now - datetime.timedelta(days=BIRTH_DATE_SETTLE_DAYS)
    return (
        Customer.objects.active()
        .filter(birth_date__isnull=False)
        .filter(Q(birth_date_changed_at__isnull=True) | Q(birth_date_changed_at__lte=settled))
        .filter(reduce(or_, (condition for condition, _day in branches)))
        .annotate(
            birthday_on=Case(
                *(When(condition, then=Value(day)) for condition, day in branches), output_field=DateField()
            )
        )
        .order_by("pk")
    )


def birthdays_due_list(*, now: datetime.datetime | None = None) -> list[tuple[int, int]]:
    """``(customer id, year of the birthday)`` of each customer ``birthdays_due`` finds, in pk order."""
    due = birthdays_due(now=now).values_list("pk", "birthday_on")  # type: ignore[misc]  # annotation
    return [(customer_id, day.year) for customer_id, day in due]


def _gift_for(customer: Customer, config: BirthdaySettings) -> tuple[int, Reward | None]:
    """The gift of the customer's tier, or the default gift for a tier without one (or no tier)."""
    tier_id = PointsAccount.objects.filter(customer=customer).values_list("tier_id", flat=True).first()
    gift = BirthdayGift.objects.select_related("reward").filter(tier_id=tier_id).first() if tier_id else None
    if gift is not None:
        return gift.points, gift.reward
    return config.gift_points, config.gift_reward


@transaction.atomic
def birthday_reward_grant(
    *, customer: Customer, year: int, now: datetime.datetime | None = None
) -> BirthdayReward | None:
    """Reward the customer's birthday of ``year``: the tier's gift (points and/or a voucher), then
    the greeting through the outbox (marketing: sent only within consent and the cap; the gift is
    granted whatever the outbox decides).

    The ``BirthdayReward`` row (unique per customer and year) is written first: a second call, or a
    parallel worker, hits the constraint (on PostgreSQL it waits for the first to commit) and
    returns None having written nothing. Also None when the automation is off, the customer is not
    active, has no birth date, or set it within the last 30 days. Points, voucher and message are
    keyed ``birthday:<customer>:<year>`` as well.
    """
    now = now or timezone.now()
    config = birthday_settings()
    if not config.is_enabled:
        return None
    customer = Customer.objects.get(pk=customer.pk)
    if customer.status != Customer.Status.ACTIVE or customer.birth_date is None:
        return None
    changed_at = customer.birth_date_changed_at
    if changed_at is not None and changed_at > now - datetime.timedelta(days=BIRTH_DATE_SETTLE_DAYS):
        return None
    points, reward = _gift_for(customer, config)
    try:
        with transaction.atomic():
            granted = BirthdayReward.objects.create(
                customer=customer, year=year, birthday=birthday_in_year(customer.birth_date, year), points=points
            )
    except IntegrityError:
        return None  # rewarded already, by an earlier run or a parallel worker
    return gift_grant_and_announce(
        record=granted,
        customer=customer,
        points=points,
        reward=reward,
        kind=LedgerEntry.Kind.BIRTHDAY,
        reason=f"Birthday gift {year}",
        purpose=MessagePurpose.BIRTHDAY,
        idempotency_key=birthday_key(customer.pk, year),
    )


def birthdays_grant(*, due: Iterable[tuple[int, int]], now: datetime.datetime | None = None) -> int:
    """Reward a batch of ``(customer id, year)`` pairs, each in its own transaction; returns how
    many were rewarded by this call. A failure is logged and skipped: the next hourly run finds
    that customer again."""
    due = list(due)
    customers = Customer.objects.in_bulk([customer_id for customer_id, _year in due])
    rewarded = 0
    for customer_id, year in due:
        customer = customers.get(customer_id)
        if customer is None:
            continue
        try:
            rewarded += birthday_reward_grant(customer=customer, year=year, now=now) is not None
        except Exception:
            logger.exception("campaigns: the birthday reward of customer %s failed; the next run retries", customer_id)
    return rewarded
