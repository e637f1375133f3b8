"""Reads that matter: a customer's loyalty summary, statement, rewards and vouchers."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Q, QuerySet, Sum
from django.utils import timezone

from customers.models import Customer
from loyalty.models import LedgerEntry, PendingPoints, PointsAccount, PointsLot, Purchase, Reward, Tier, Voucher
from loyalty.program import program_get, tiers_get
from loyalty.services.tiers import qualifying_value, tier_next


@dataclass(frozen=True)
class LoyaltySummary:
    balance: int
    pending: int
    owed: int
    lifetime_earned: int
    tier: Tier | None
    tier_since: datetime.datetime | None
    tier_grace_until: datetime.datetime | None
    next_tier: Tier | None
    measure: str
    qualifying_value: Decimal
    needed_for_next: Decimal | None
    progress_percent: int
    expiring_points: int
    expiring_before: datetime.datetime
    window_months: int


def loyalty_summary_for_customer(customer: Customer) -> LoyaltySummary:
    """Balance, pending points, tier and progress to the next one, and points expiring soon.
    A constant number of queries (account, window value, expiring lots, pending), tiers cached."""
    program = program_get()
    now = timezone.now()
    account = PointsAccount.objects.select_related("tier").filter(customer=customer).first()
    tiers = tiers_get()
    expiring_before = now + datetime.timedelta(days=program.expiry_warning_days)
    if account is None:
        entry = tiers[0] if tiers and tiers[0].threshold == 0 else None
        following = tier_next(entry, tiers)
        return LoyaltySummary(
            balance=0,
            pending=0,
            owed=0,
            lifetime_earned=0,
            tier=entry,
            tier_since=None,
            tier_grace_until=None,
            next_tier=following,
            measure=program.tier_measure,
            qualifying_value=Decimal(0),
            needed_for_next=following.threshold if following else None,
            progress_percent=0,
            expiring_points=0,
            expiring_before=expiring_before,
            window_months=program.tier_window_months,
        )
    value = qualifying_value(program, account, now)
    following = tier_next(account.tier, tiers)
    floor = account.tier.threshold if account.tier else Decimal(0)
    if following is None:
        needed, percent = None, 100
    else:
        needed = max(following.threshold - value, Decimal(0))
        span = following.threshold - floor
        percent = 100 if span <= 0 else int(max(min((value - floor) / span * 100, Decimal(100)), Decimal(0)))
    expiring = PointsLot.objects.filter(account=account, remaining__gt=0, expires_at__lte=expiring_before).aggregate(
        total=Sum("remaining")
    )["total"]
    pending = PendingPoints.objects.filter(account=account, status=PendingPoints.Status.PENDING).aggregate(
        total=Sum("points")
    )["total"]
    return LoyaltySummary(
        balance=account.balance,
        pending=int(pending or 0),
        owed=account.owed,
        lifetime_earned=account.lifetime_earned,
        tier=account.tier,
        tier_since=account.tier_since,
        tier_grace_until=account.tier_grace_until,
        next_tier=following,
        measure=program.tier_measure,
        qualifying_value=value,
        needed_for_next=needed,
        progress_percent=percent,
        expiring_points=int(expiring or 0),
        expiring_before=expiring_before,
        window_months=program.tier_window_months,
    )


def ledger_for_customer(customer: Customer) -> QuerySet[LedgerEntry]:
    """The customer's statement, newest first."""
    return (
        LedgerEntry.objects.filter(account__customer=customer)
        .select_related("purchase", "voucher__reward", "refund__purchase")
        .order_by("-id")
    )


def purchases_for_customer(customer: Customer) -> QuerySet[Purchase]:
    return Purchase.objects.filter(customer=customer).order_by("-occurred_at", "-id")


def vouchers_for_customer(customer: Customer) -> QuerySet[Voucher]:
    return Voucher.objects.filter(customer=customer).select_related("reward").order_by("-issued_at", "-id")


def rewards_available(*, now: datetime.datetime | None = None) -> QuerySet[Reward]:
    """The catalogue as it stands: active, inside its validity window, in stock."""
    now = now or timezone.now()
    return (
        Reward.objects.filter(is_active=True)
        .filter(Q(valid_from__isnull=True) | Q(valid_from__lte=now))
        .filter(Q(valid_until__isnull=True) | Q(valid_until__gt=now))
        .filter(Q(stock__isnull=True) | Q(stock__gt=0))
        .select_related("min_tier")
        .order_by("points_cost", "id")
    )


def rewards_for_customer(customer: Customer, *, affordable_only: bool = False) -> QuerySet[Reward]:
    """Rewards this customer may redeem: open to their tier, and (optionally) within their balance."""
    account = PointsAccount.objects.select_related("tier").filter(customer=customer).first()
    rank = account.tier.rank if account and account.tier else -1
    rewards = rewards_available().filter(Q(min_tier__isnull=True) | Q(min_tier__rank__lte=rank))
    if affordable_only:
        rewards = rewards.filter(points_cost__lte=account.balance if account else 0)
    return rewards
