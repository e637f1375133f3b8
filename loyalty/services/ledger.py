"""The points ledger: the only code that inserts ``LedgerEntry`` rows or moves a balance.

Every function here expects to run inside ``transaction.atomic`` with the account row locked
(``account_lock``); the public services in this package take care of that.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence

from dateutil.relativedelta import relativedelta
from django.db import IntegrityError, transaction
from django.db.models import Count, F
from django.utils import timezone

from core.events import emit_on_commit
from customers.models import Customer, User
from loyalty import signals
from loyalty.errors import InsufficientPoints
from loyalty.models import LedgerEntry, LotConsumption, PointsAccount, PointsLot, Program, Purchase, Refund, Voucher

Kind = LedgerEntry.Kind
# Kinds that count as points earned (lifetime earned, tier qualification); refund reversals subtract.
EARNING_KINDS = (Kind.EARN, Kind.BONUS, Kind.GIFT, Kind.BIRTHDAY, Kind.REFERRAL)
LIFETIME_KINDS = (*EARNING_KINDS, Kind.REFUND)


def account_lock(customer: Customer | int) -> PointsAccount:
    """The customer's points account, created if missing, locked (``SELECT ... FOR UPDATE``)."""
    customer_id = customer if isinstance(customer, int) else customer.pk
    # ``of=("self",)``: lock the account row only. The tier is a nullable join (LEFT OUTER JOIN),
    # and PostgreSQL refuses FOR UPDATE on the nullable side of an outer join.
    locked = PointsAccount.objects.select_for_update(of=("self",)).select_related("tier")
    account = locked.filter(customer_id=customer_id).first()
    if account is None:
        try:
            with transaction.atomic():
                PointsAccount.objects.create(customer_id=customer_id)
        except IntegrityError:  # created by a concurrent transaction: lock that one
            pass
        account = locked.get(customer_id=customer_id)
    return account


def accounts_lock(customer_ids: Sequence[int]) -> list[PointsAccount]:
    """The customers' points accounts, created where missing (one statement), locked in account
    id order: the order every multi-account lock takes, and accounts before customer rows (as
    ``points_earn`` followed by a message does), so two batches can wait but never deadlock."""
    PointsAccount.objects.bulk_create(
        [PointsAccount(customer_id=customer_id) for customer_id in customer_ids], ignore_conflicts=True
    )
    locked = PointsAccount.objects.select_for_update(of=("self",)).filter(customer_id__in=list(customer_ids))
    return list(locked.order_by("pk"))


def expiry_for(program: Program, at: datetime.datetime) -> datetime.datetime | None:
    if not program.points_expiry_months:
        return None
    return at + relativedelta(months=program.points_expiry_months)


def _emit_points_changed(account: PointsAccount, entry: LedgerEntry) -> None:
    emit_on_commit(signals.points_changed, sender=LedgerEntry, customer_id=account.customer_id, entry_id=entry.pk)


def entry_credit(
    *,
    account: PointsAccount,
    amount: int,
    kind: str,
    idempotency_key: str,
    reason: str = "",
    expires_at: datetime.datetime | None = None,
    purchase: Purchase | None = None,
    voucher: Voucher | None = None,
    created_by: User | None = None,
) -> LedgerEntry:
    """Add ``amount`` (> 0) points as a new lot. Points owed from earlier refunds are repaid first,
    by a ``repay`` entry taken from the new lot. Caller holds the account lock."""
    assert amount > 0, "a credit is positive"
    balance = account.balance + amount
    entry = LedgerEntry.objects.create(
        account=account,
        kind=kind,
        amount=amount,
        balance_after=balance,
        reason=reason[:255],
        idempotency_key=idempotency_key,
        expires_at=expires_at,
        purchase=purchase,
        voucher=voucher,
        created_by=created_by,
    )
    lot = PointsLot.objects.create(
        account=account, entry=entry, initial=amount, remaining=amount, expires_at=expires_at
    )
    earned = amount if kind in LIFETIME_KINDS else 0
    repay = min(account.owed, amount)
    if repay:
        balance -= repay
        repayment = LedgerEntry.objects.create(
            account=account,
            kind=Kind.REPAY,
            amount=-repay,
            balance_after=balance,
            reverses=entry,
            reason="Points owed from an earlier refund",
            idempotency_key=f"{idempotency_key}:repay",
        )
        LotConsumption.objects.create(entry=repayment, lot=lot, points=repay)
        PointsLot.objects.filter(pk=lot.pk).update(remaining=amount - repay)
    PointsAccount.objects.filter(pk=account.pk).update(
        balance=F("balance") + amount - repay, lifetime_earned=F("lifetime_earned") + earned, owed=F("owed") - repay
    )
    account.balance = balance
    account.lifetime_earned += earned
    account.owed -= repay
    _emit_points_changed(account, entry)
    return entry


def _consume(account: PointsAccount, points: int, *, first_lot: PointsLot | None = None) -> list[tuple[PointsLot, int]]:
    """Take ``points`` from open lots: ``first_lot`` first, then the nearest expiry, oldest first."""
    taken: list[tuple[PointsLot, int]] = []
    needed = points
    if first_lot is not None and first_lot.remaining > 0:
        take = min(first_lot.remaining, needed)
        taken.append((first_lot, take))
        needed -= take
    if needed:
        lots = (
            PointsLot.objects.filter(account=account, remaining__gt=0)
            .exclude(pk=first_lot.pk if first_lot is not None else 0)
            .order_by(F("expires_at").asc(nulls_last=True), "id")
        )
        for lot in lots.iterator(chunk_size=200):
            take = min(lot.remaining, needed)
            taken.append((lot, take))
            needed -= take
            if not needed:
                break
    assert not needed, "the balance covers the lots"
    return taken


def entry_debit(
    *,
    account: PointsAccount,
    amount: int,
    kind: str,
    idempotency_key: str,
    reason: str = "",
    reverses: LedgerEntry | None = None,
    first_lot: PointsLot | None = None,
    purchase: Purchase | None = None,
    refund: Refund | None = None,
    voucher: Voucher | None = None,
    created_by: User | None = None,
) -> LedgerEntry:
    """Take ``amount`` (> 0) points, consuming lots nearest to expiry first (``first_lot`` before
    all when given). ``InsufficientPoints`` when the balance does not cover it, writing nothing.
    Caller holds the account lock."""
    assert amount > 0, "a debit amount is given as a positive number"
    if account.balance < amount:
        raise InsufficientPoints(needed=amount, balance=account.balance)
    taken = _consume(account, amount, first_lot=first_lot)
    balance = account.balance - amount
    entry = LedgerEntry.objects.create(
        account=account,
        kind=kind,
        amount=-amount,
        balance_after=balance,
        reason=reason[:255],
        idempotency_key=idempotency_key,
        reverses=reverses,
        purchase=purchase,
        refund=refund,
        voucher=voucher,
        created_by=created_by,
    )
    _take_from_lots(entry, taken)
    earned = amount if kind in LIFETIME_KINDS else 0
    PointsAccount.objects.filter(pk=account.pk).update(
        balance=F("balance") - amount, lifetime_earned=F("lifetime_earned") - earned
    )
    account.balance = balance
    account.lifetime_earned -= earned
    _emit_points_changed(account, entry)
    return entry


def _take_from_lots(entry: LedgerEntry, taken: Sequence[tuple[PointsLot, int]]) -> None:
    LotConsumption.objects.bulk_create([LotConsumption(entry=entry, lot=lot, points=points) for lot, points in taken])
    for lot, points in taken:
        lot.remaining -= points
    PointsLot.objects.bulk_update([lot for lot, _points in taken], ["remaining"])


def entry_restore(
    *, account: PointsAccount, debit: LedgerEntry, kind: str, idempotency_key: str, reason: str = ""
) -> LedgerEntry:
    """Give back what ``debit`` took, into the very lots it took from (their expiry unchanged)."""
    consumptions = list(LotConsumption.objects.filter(entry=debit).select_related("lot"))
    amount = sum(consumption.points for consumption in consumptions)
    assert amount == -debit.amount
    balance = account.balance + amount
    entry = LedgerEntry.objects.create(
        account=account,
        kind=kind,
        amount=amount,
        balance_after=balance,
        reason=reason[:255],
        idempotency_key=idempotency_key,
        reverses=debit,
        voucher=debit.voucher,
    )
    lots = []
    for consumption in consumptions:
        consumption.lot.remaining += consumption.points
        lots.append(consumption.lot)
    PointsLot.objects.bulk_update(lots, ["remaining"])
    PointsAccount.objects.filter(pk=account.pk).update(balance=F("balance") + amount)
    account.balance = balance
    _emit_points_changed(account, entry)
    return entry


def entry_note(
    *, account: PointsAccount, kind: str, idempotency_key: str, reason: str, reverses: LedgerEntry | None = None
) -> LedgerEntry:
    """A zero-point entry that explains something on the statement (a write-off)."""
    return LedgerEntry.objects.create(
        account=account,
        kind=kind,
        amount=0,
        balance_after=account.balance,
        reason=reason[:255],
        idempotency_key=idempotency_key,
        reverses=reverses,
    )


def expire_keys(lots: Sequence[PointsLot]) -> dict[int, str]:
    """The idempotency key of each lot's next expiry: ``expire:<lot>`` the first time. A lot can
    expire again when points are given back into it after its date (a voucher cancelled after the
    points it spent expired): that expiry is ``expire:<lot>:<n>``, n counting the earlier ones.
    One GROUP BY query. Caller holds the lots' account locks, so the count cannot move."""
    earlier = dict(
        LotConsumption.objects.filter(lot_id__in=[lot.pk for lot in lots], entry__kind=Kind.EXPIRE)
        .values("lot_id")
        .annotate(count=Count("id"))
        .values_list("lot_id", "count")
    )
    return {lot.pk: f"expire:{lot.pk}:{earlier[lot.pk]}" if earlier.get(lot.pk) else f"expire:{lot.pk}" for lot in lots}


def lots_expire_due(account: PointsAccount, *, now: datetime.datetime | None = None) -> int:
    """Expire this account's lots that are past their date (one ``expire`` entry per lot, pointing
    at the entry that made the lot). Returns the points expired. Caller holds the account lock;
    the nightly job does the same for many accounts at once."""
    now = now or timezone.now()
    due = list(PointsLot.objects.filter(account=account, remaining__gt=0, expires_at__lte=now).order_by("id"))
    if not due:
        return 0
    balance = account.balance
    keys = expire_keys(due)
    entries = []
    for lot in due:
        balance -= lot.remaining
        entries.append(
            LedgerEntry(
                account=account,
                kind=Kind.EXPIRE,
                amount=-lot.remaining,
                balance_after=balance,
                reverses_id=lot.entry_id,
                idempotency_key=keys[lot.pk],
                reason="Points expired",
            )
        )
    LedgerEntry.objects.bulk_create(entries)
    LotConsumption.objects.bulk_create(
        [LotConsumption(entry=entry, lot=lot, points=lot.remaining) for entry, lot in zip(entries, due, strict=True)]
    )
    expired = account.balance - balance
    PointsLot.objects.filter(pk__in=[lot.pk for lot in due]).update(remaining=0)
    PointsAccount.objects.filter(pk=account.pk).update(balance=F("balance") - expired)
    account.balance = balance
    _emit_points_changed(account, entries[-1])
    return expired
