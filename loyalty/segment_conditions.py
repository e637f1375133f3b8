"""The segment conditions over loyalty data, registered in ``customers.segments`` from
``LoyaltyConfig.ready()``. Each builds an ``Exists`` over loyalty rows correlated with the
customer, so a segment that mixes them with customer conditions stays one SQL query.

A customer without a points account has 0 points and no tier; one who never bought anything has
no "days since last purchase" (a lapse needs a purchase) and no purchases in any window.
"""

from __future__ import annotations

import datetime
from decimal import Decimal

from django.db.models import Count, DecimalField, Exists, ExpressionWrapper, F, OuterRef, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from customers.segments import AmountInDays, CountInDays, segment_condition_register
from loyalty.models import PointsAccount, Purchase


def tier_is(value: int | str) -> Exists:
    """In the tier with this rank (a number) or this name (any case)."""
    accounts = PointsAccount.objects.filter(customer=OuterRef("pk"))
    if isinstance(value, int):
        return Exists(accounts.filter(tier__rank=value))
    return Exists(accounts.filter(tier__name__iexact=value))


def tier_at_least(rank: int) -> Exists:
    return Exists(PointsAccount.objects.filter(customer=OuterRef("pk"), tier__rank__gte=rank))


def points_balance_at_least(points: int) -> Q | Exists:
    if points <= 0:
        return Q(pk__isnull=False)  # everyone: a customer without an account has 0 points
    return Exists(PointsAccount.objects.filter(customer=OuterRef("pk"), balance__gte=points))


def points_balance_at_most(points: int) -> Q:
    # Customers without an account have 0 points, so "at most" is "no account above it".
    return ~Q(Exists(PointsAccount.objects.filter(customer=OuterRef("pk"), balance__gt=points)))


def days_since_last_purchase_at_least(days: int) -> Q:
    cutoff = timezone.now() - datetime.timedelta(days=days)
    purchases = Purchase.objects.filter(customer=OuterRef("pk"))
    return Q(Exists(purchases.filter(occurred_at__lte=cutoff))) & ~Q(Exists(purchases.filter(occurred_at__gt=cutoff)))


def purchase_count_in_days_at_least(value: CountInDays) -> Exists:
    since = timezone.now() - datetime.timedelta(days=value.days)
    counted = (
        Purchase.objects.filter(customer=OuterRef("pk"), occurred_at__gte=since)
        .order_by()
        .values("customer")
        .annotate(purchases=Count("pk"))
        .filter(purchases__gte=value.count)
    )
    return Exists(counted)


def spend_in_days_at_least(value: AmountInDays) -> Exists:
    """Spend net of refunds, in the programme's currency, in the last ``days`` days."""
    since = timezone.now() - datetime.timedelta(days=value.days)
    net = ExpressionWrapper(
        F("amount") - F("refunded_amount"), output_field=DecimalField(max_digits=14, decimal_places=2)
    )
    spent = (
        Purchase.objects.filter(customer=OuterRef("pk"), occurred_at__gte=since)
        .order_by()
        .values("customer")
        .annotate(spent=Sum(net))
        .filter(spent__gte=Decimal(value.amount))
    )
    return Exists(spent)


def segment_conditions_register_loyalty() -> None:
    segment_condition_register(
        "tier",
        label=_("Tier"),
        value_type="integer_or_text",
        min_value=0,
        build=tier_is,
        help_text=_("The tier's rank (0 is the entry level) or its name."),
    )
    segment_condition_register(
        "tier_rank_at_least",
        label=_("Tier rank at least"),
        value_type="integer",
        min_value=0,
        build=tier_at_least,
    )
    segment_condition_register(
        "points_balance_at_least",
        label=_("Points balance at least"),
        value_type="integer",
        min_value=0,
        build=points_balance_at_least,
    )
    segment_condition_register(
        "points_balance_at_most",
        label=_("Points balance at most"),
        value_type="integer",
        min_value=0,
        build=points_balance_at_most,
    )
    segment_condition_register(
        "days_since_last_purchase_at_least",
        label=_("Days since the last purchase at least"),
        value_type="integer",
        min_value=1,
        build=days_since_last_purchase_at_least,
        help_text=_("Only customers who have bought something."),
    )
    segment_condition_register(
        "purchase_count_in_days_at_least",
        label=_("Purchases in the last N days at least"),
        value_type="count_in_days",
        build=purchase_count_in_days_at_least,
        help_text=_('For example {"count": 3, "days": 30}.'),
    )
    segment_condition_register(
        "spend_in_days_at_least",
        label=_("Spend in the last N days at least"),
        value_type="amount_in_days",
        build=spend_in_days_at_least,
        help_text=_('Net of refunds, for example {"amount": "100.00", "days": 90}.'),
    )
