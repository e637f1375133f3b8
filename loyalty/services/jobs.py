"""Nightly batch jobs, set-based and safe to run twice or at the same time.

Each works in batches of accounts: the batch's account rows are locked in primary-key order
(two runs queue behind each other instead of deadlocking), the state is re-read under the lock,
and the batch is written with a handful of bulk statements.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from core.events import emit_on_commit
from loyalty import signals
from loyalty.models import (
    LedgerEntry,
    LotConsumption,
    PendingPoints,
    PointsAccount,
    PointsLot,
    Program,
    TierChange,
    Voucher,
)
from loyalty.program import program_get, tiers_get
from loyalty.services.ledger import Kind, account_lock, entry_credit, expire_keys, expiry_for
from loyalty.services.tiers import qualifying_values, tier_for_value, tier_upgrade_if_qualified

BATCH_SIZE = 500


@dataclass(frozen=True)
class TierRunResult:
    upgraded: int
    downgraded: int
    grace_started: int
    grace_ended: int


def _locked_accounts(ids: list[int]) -> list[int]:
    return list(
        PointsAccount.objects.select_for_update().filter(pk__in=ids).order_by("pk").values_list("pk", flat=True)
    )


def points_expire_all(*, now: datetime.datetime | None = None, batch_size: int = BATCH_SIZE) -> int:
    """Expire every lot past its date: one ``expire`` entry per lot, pointing at the entry that made
    it. Returns the points expired."""
    now = now or timezone.now()
    total = 0
    after = 0
    while True:
        ids = list(
            PointsLot.objects.filter(remaining__gt=0, expires_at__lte=now, account_id__gt=after)
            .order_by("account_id")
            .values_list("account_id", flat=True)
            .distinct()[:batch_size]
        )
        if not ids:
            return total
        total += _expire_batch(ids, now)
        after = ids[-1]


@transaction.atomic
def _expire_batch(account_ids: list[int], now: datetime.datetime) -> int:
    _locked_accounts(account_ids)
    due = list(
        PointsLot.objects.filter(account_id__in=account_ids, remaining__gt=0, expires_at__lte=now).order_by(
            "account_id", "id"
        )
    )
    if not due:
        return 0
    balances = dict(PointsAccount.objects.filter(pk__in=account_ids).values_list("pk", "balance"))
    keys = expire_keys(due)
    entries: list[LedgerEntry] = []
    expired_by_account: defaultdict[int, int] = defaultdict(int)
    for lot in due:
        balances[lot.account_id] -= lot.remaining
        expired_by_account[lot.account_id] += lot.remaining
        entries.append(
            LedgerEntry(
                account_id=lot.account_id,
                kind=Kind.EXPIRE,
                amount=-lot.remaining,
                balance_after=balances[lot.account_id],
                reverses_id=lot.entry_id,
                idempotency_key=keys[lot.pk],
                reason="Points expired",
            )
        )
    LedgerEntry.objects.bulk_create(entries)
    LotConsumption.objects.bulk_create(
        [LotConsumption(entry=entry, lot=lot, points=lot.remaining) for entry, lot in zip(entries, due, strict=True)]
    )
    PointsLot.objects.filter(pk__in=[lot.pk for lot in due]).update(remaining=0)
    accounts = [PointsAccount(pk=pk, balance=balances[pk]) for pk in expired_by_account]
    PointsAccount.objects.bulk_update(accounts, ["balance"])
    last_entry = {entry.account_id: entry for entry in entries}
    customers = dict(PointsAccount.objects.filter(pk__in=list(expired_by_account)).values_list("pk", "customer_id"))
    for account_id, entry in last_entry.items():
        emit_on_commit(signals.points_changed, sender=LedgerEntry, customer_id=customers[account_id], entry_id=entry.pk)
    return sum(expired_by_account.values())


def tiers_evaluate_all(*, now: datetime.datetime | None = None, batch_size: int = BATCH_SIZE) -> TierRunResult:
    """Re-evaluate every account's tier on its rolling window: upgrade any that qualify higher;
    for one that no longer qualifies start a grace period, and downgrade it (to the tier it does
    qualify for) once the grace period is over; end the grace of one that qualifies again."""
    now = now or timezone.now()
    program = program_get()
    tiers = tiers_get()
    totals = [0, 0, 0, 0]
    if not tiers:
        return TierRunResult(0, 0, 0, 0)
    after = 0
    while True:
        ids = list(PointsAccount.objects.filter(pk__gt=after).order_by("pk").values_list("pk", flat=True)[:batch_size])
        if not ids:
            break
        for index, count in enumerate(_tiers_batch(program, tiers, ids, now)):
            totals[index] += count
        after = ids[-1]
    return TierRunResult(*totals)


@transaction.atomic
def _tiers_batch(program: Program, tiers: list, ids: list[int], now: datetime.datetime) -> tuple[int, int, int, int]:
    _locked_accounts(ids)
    values = qualifying_values(program, ids, now)
    by_pk = {tier.pk: tier for tier in tiers}
    accounts = list(PointsAccount.objects.filter(pk__in=ids).order_by("pk"))
    grace = datetime.timedelta(days=program.tier_grace_days)
    changed, changes, upgraded, downgraded, grace_started, grace_ended = [], [], 0, 0, 0, 0
    for account in accounts:
        value = values.get(account.pk, Decimal(0))
        target = tier_for_value(value, tiers)
        current = by_pk.get(account.tier_id) if account.tier_id else None
        current_rank = current.rank if current else -1
        target_rank = target.rank if target else -1
        if target is not None and target_rank > current_rank:
            changes.append(
                TierChange(
                    account=account,
                    from_tier=current,
                    to_tier=target,
                    reason=TierChange.Reason.UPGRADE,
                    qualifying_value=value,
                )
            )
            account.tier, account.tier_since, account.tier_grace_until = target, now, None
            upgraded += 1
        elif target_rank < current_rank:
            if account.tier_grace_until is None:
                account.tier_grace_until = now + grace
                grace_started += 1
            elif account.tier_grace_until <= now and target is not None:
                changes.append(
                    TierChange(
                        account=account,
                        from_tier=current,
                        to_tier=target,
                        reason=TierChange.Reason.DOWNGRADE,
                        qualifying_value=value,
                    )
                )
                account.tier, account.tier_since, account.tier_grace_until = target, now, None
                downgraded += 1
            else:
                continue
        elif account.tier_grace_until is not None:
            account.tier_grace_until = None
            grace_ended += 1
        else:
            continue
        changed.append(account)
    PointsAccount.objects.bulk_update(changed, ["tier", "tier_since", "tier_grace_until"])
    TierChange.objects.bulk_create(changes)
    for change in changes:
        emit_on_commit(
            signals.tier_changed,
            sender=PointsAccount,
            customer_id=change.account.customer_id,
            from_tier_id=change.from_tier_id,
            to_tier_id=change.to_tier_id,
            reason=change.reason,
        )
    return upgraded, downgraded, grace_started, grace_ended


def pending_points_release_due(*, now: datetime.datetime | None = None, batch_size: int = BATCH_SIZE) -> int:
    """Credit pending points whose return window has passed (upgrading the tier at once when they
    make it qualify). Returns how many were released; running it again releases nothing."""
    now = now or timezone.now()
    released = 0
    while True:
        due = list(
            PendingPoints.objects.filter(status=PendingPoints.Status.PENDING, available_at__lte=now)
            .order_by("account_id", "pk")
            .values_list("pk", flat=True)[:batch_size]
        )
        if not due:
            return released
        released += _release_batch(due, now)


@transaction.atomic
def _release_batch(pending_ids: list[int], now: datetime.datetime) -> int:
    program = program_get()
    # Lock the accounts first, in pk order, as every other writer does (a refund holds the account
    # and then touches its pending row); locking the pending rows first could deadlock with it.
    # Under the account locks the pending rows cannot change, so re-reading them is enough.
    _locked_accounts(sorted(set(PendingPoints.objects.filter(pk__in=pending_ids).values_list("account_id", flat=True))))
    rows = list(
        PendingPoints.objects.filter(pk__in=pending_ids, status=PendingPoints.Status.PENDING)
        .select_related("purchase")
        .order_by("account_id", "pk")
    )
    for row in rows:
        account = account_lock(row.purchase.customer_id)
        if row.points > 0:
            entry_credit(
                account=account,
                amount=row.points,
                kind=Kind.EARN,
                idempotency_key=f"purchase:{row.purchase_id}:earn",
                reason=f"Purchase {row.purchase.external_id}",
                expires_at=expiry_for(program, now),
                purchase=row.purchase,
            )
            # The points now count, so the purchase qualifies now: the same immediate upgrade a
            # purchase without pending points gets (not left for the nightly evaluation).
            tier_upgrade_if_qualified(program=program, account=account, now=now)
    PendingPoints.objects.filter(pk__in=[row.pk for row in rows]).update(status=PendingPoints.Status.RELEASED)
    return len(rows)


def vouchers_expire_due(*, now: datetime.datetime | None = None) -> int:
    """Mark issued vouchers past their date as expired (one UPDATE). Points are not returned."""
    now = now or timezone.now()
    return Voucher.objects.filter(status=Voucher.Status.ISSUED, expires_at__lte=now).update(
        status=Voucher.Status.EXPIRED
    )
