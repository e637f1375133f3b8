"""Tier qualification: upgrade at once on a qualifying purchase, downgrade nightly after a grace period."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from dateutil.relativedelta import relativedelta
from django.db.models import DecimalField, F, IntegerField, OuterRef, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from core.events import emit_on_commit
from loyalty import signals
from loyalty.models import LedgerEntry, PointsAccount, Program, Purchase, Refund, Tier, TierChange
from loyalty.program import tiers_get
from loyalty.services.ledger import LIFETIME_KINDS as QUALIFYING_KINDS


def window_start(program: Program, now: datetime.datetime) -> datetime.datetime:
    return now - relativedelta(months=program.tier_window_months)


def qualifying_values(program: Program, account_ids: list[int], now: datetime.datetime) -> dict[int, Decimal]:
    """Each account's value in the rolling window, in one query whatever the number of accounts.

    Spend: money paid net of refunds. Points earned: the earning entries net of refund reversals,
    and net of the refunded points that could not be taken back because they were already spent
    (owed or written off: those never show as a negative entry). Never below zero.
    """
    since = window_start(program, now)
    value: Any
    if program.tier_measure == Program.TierMeasure.SPEND:
        spend = (
            Purchase.objects.filter(customer_id=OuterRef("customer_id"), occurred_at__gte=since)
            .order_by()
            .values("customer_id")
            .annotate(total=Sum(F("amount") - F("refunded_amount")))
            .values("total")
        )
        value = Coalesce(Subquery(spend, output_field=DecimalField()), Value(Decimal(0)), output_field=DecimalField())
    else:
        earned = (
            LedgerEntry.objects.filter(account_id=OuterRef("pk"), kind__in=QUALIFYING_KINDS, created_at__gte=since)
            .order_by()
            .values("account_id")
            .annotate(total=Sum("amount"))
            .values("total")
        )
        unrecovered = (
            Refund.objects.filter(purchase__customer_id=OuterRef("customer_id"), created_at__gte=since)
            .order_by()
            .values("purchase__customer_id")
            .annotate(total=Sum(F("points_owed") + F("points_written_off")))
            .values("total")
        )
        value = Coalesce(Subquery(earned, output_field=IntegerField()), Value(0)) - Coalesce(
            Subquery(unrecovered, output_field=IntegerField()), Value(0)
        )
    rows = PointsAccount.objects.filter(pk__in=account_ids).annotate(value=value).values_list("pk", "value")
    return {pk: max(Decimal(total), Decimal(0)) for pk, total in rows}


def qualifying_value(program: Program, account: PointsAccount, now: datetime.datetime | None = None) -> Decimal:
    """One account's value in the rolling window (see ``qualifying_values``). One query."""
    return qualifying_values(program, [account.pk], now or timezone.now()).get(account.pk, Decimal(0))


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


def tier_upgrade_if_qualified(
    *, program: Program, account: PointsAccount, now: datetime.datetime | None = None
) -> Tier | None:
    """After a purchase (or its pending points being released): upgrade at once when the window's
    value reaches a higher tier, and end any downgrade grace period the customer has earned their
    way out of. Caller holds the lock."""
    tiers = tiers_get()
    if not tiers:
        return account.tier
    following = tier_next(account.tier, tiers)
    if (
        account.tier_grace_until is None
        and program.tier_measure == Program.TierMeasure.POINTS_EARNED
        and (following is None or following.threshold > account.lifetime_earned)
    ):
        # The window's value never exceeds the lifetime total: no upgrade is possible, so the
        # purchase path skips the window query.
        return account.tier
    value = qualifying_value(program, account, now)
    reached = tier_for_value(value, tiers)
    current_rank = account.tier.rank if account.tier else -1
    if reached is not None and reached.rank > current_rank:
        tier_set(account=account, tier=reached, reason=TierChange.Reason.UPGRADE, value=value, now=now)
    elif account.tier_grace_until and reached is not None and reached.rank >= current_rank:
        PointsAccount.objects.filter(pk=account.pk).update(tier_grace_until=None)
        account.tier_grace_until = None
    return account.tier
