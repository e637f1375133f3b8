"""Tier qualification: upgrade at once on a qualifying purchase, downgrade nightly after a grace period."""

from __future__ import annotations

import datetime
from decimal import Decimal

from dateutil.relativedelta import relativedelta
from django.db.models import DecimalField, F, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from core.events import emit_on_commit
from loyalty import signals
from loyalty.models import LedgerEntry, PointsAccount, Program, Purchase, Tier, TierChange
from loyalty.program import tiers_get
from loyalty.services.ledger import LIFETIME_KINDS as QUALIFYING_KINDS


def window_start(program: Program, now: datetime.datetime) -> datetime.datetime:
    return now - relativedelta(months=program.tier_window_months)


def qualifying_value(program: Program, account: PointsAccount, now: datetime.datetime | None = None) -> Decimal:
    """Points earned (net of refunds), or spend net of refunds, in the rolling window. One query."""
    since = window_start(program, now or timezone.now())
    if program.tier_measure == Program.TierMeasure.SPEND:
        total = Purchase.objects.filter(customer_id=account.customer_id, occurred_at__gte=since).aggregate(
            value=Coalesce(Sum(F("amount") - F("refunded_amount")), Value(Decimal(0)), output_field=DecimalField())
        )["value"]
    else:
        total = LedgerEntry.objects.filter(account=account, kind__in=QUALIFYING_KINDS, created_at__gte=since).aggregate(
            value=Coalesce(Sum("amount"), 0)
        )["value"]
    return Decimal(total)


def tier_for_value(value: Decimal, tiers: list[Tier] | None = None) -> Tier | None:
    """The highest tier whose threshold ``value`` reaches."""
    reached = None
    for tier in tiers if tiers is not None else tiers_get():
        if value >= tier.threshold:
            reached = tier
    return reached


def tier_next(current: Tier | None, tiers: list[Tier] | None = None) -> Tier | None:
    for tier in tiers if tiers is not None else tiers_get():
        if current is None or tier.rank > current.rank:
            return tier
    return None


def tier_set(
    *, account: PointsAccount, tier: Tier, reason: str, value: Decimal, now: datetime.datetime | None = None
) -> None:
    """Move the account to ``tier`` and keep the history. Caller holds the account lock."""
    now = now or timezone.now()
    previous = account.tier
    PointsAccount.objects.filter(pk=account.pk).update(tier=tier, tier_since=now, tier_grace_until=None)
    TierChange.objects.create(account=account, from_tier=previous, to_tier=tier, reason=reason, qualifying_value=value)
    account.tier, account.tier_since, account.tier_grace_until = tier, now, None
    emit_on_commit(
        signals.tier_changed,
        sender=PointsAccount,
        customer_id=account.customer_id,
        from_tier_id=getattr(previous, "pk", None),
        to_tier_id=tier.pk,
        reason=reason,
    )


def tier_upgrade_if_qualified(*, program: Program, account: PointsAccount) -> Tier | None:
    """After a purchase: upgrade at once when the window's value reaches a higher tier, and end
    any downgrade grace period the customer has earned their way out of. Caller holds the lock."""
    tiers = tiers_get()
    if not tiers:
        return account.tier
    value = qualifying_value(program, account)
    reached = tier_for_value(value, tiers)
    current_rank = account.tier.rank if account.tier else -1
    if reached is not None and reached.rank > current_rank:
        tier_set(account=account, tier=reached, reason=TierChange.Reason.UPGRADE, value=value)
    elif account.tier_grace_until and reached is not None and reached.rank >= current_rank:
        PointsAccount.objects.filter(pk=account.pk).update(tier_grace_until=None)
        account.tier_grace_until = None
    return account.tier
