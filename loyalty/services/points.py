"""Points given or taken outside purchases: gifts, birthdays, referrals, staff adjustments."""

from __future__ import annotations

import uuid

from django.db import IntegrityError, transaction
from django.utils import timezone

from core.errors import DomainError
from customers.models import Customer, User
from loyalty.errors import PayloadConflict
from loyalty.models import LedgerEntry
from loyalty.program import program_get
from loyalty.services.ledger import Kind, account_lock, entry_credit, entry_debit, expiry_for
from loyalty.services.purchases import points_reverse

GRANT_KINDS = (Kind.BONUS, Kind.GIFT, Kind.BIRTHDAY, Kind.REFERRAL, Kind.ADJUST)


def _existing_grant(*, idempotency_key: str, customer: Customer, amount: int, kind: str) -> LedgerEntry | None:
    existing = LedgerEntry.objects.select_related("account").filter(idempotency_key=idempotency_key).first()
    if existing is None:
        return None
    if (existing.account.customer_id, existing.amount, existing.kind) != (customer.pk, amount, kind):
        raise PayloadConflict(idempotency_key=idempotency_key)
    return existing


@transaction.atomic
def points_earn(
    *, customer: Customer, amount: int, kind: str, reason: str, idempotency_key: str, created_by: User | None = None
) -> LedgerEntry:
    """Grant ``amount`` points once per ``idempotency_key``: a repeat returns the first entry; the
    key already used for another customer, amount or kind is ``PayloadConflict`` (also when both
    arrive at the same time: they lock different accounts, and the unique key decides).

    Used by birthday rewards, gifts, referrals and bonuses: the points expire like earned points.
    """
    if amount <= 0:
        raise DomainError("Points granted must be positive.", code="invalid_points")
    if kind not in GRANT_KINDS:
        raise DomainError("Unknown kind of grant.", code="invalid_kind")

    def find() -> LedgerEntry | None:
        return _existing_grant(idempotency_key=idempotency_key, customer=customer, amount=amount, kind=kind)

    existing = find()
    if existing is not None:
        return existing
    account = account_lock(customer)
    existing = find()
    if existing is not None:
        return existing
    program = program_get()
    try:
        with transaction.atomic():
            return entry_credit(
                account=account,
                amount=amount,
                kind=kind,
                idempotency_key=idempotency_key,
                reason=reason,
                expires_at=expiry_for(program, timezone.now()),
                created_by=created_by,
            )
    except IntegrityError:
        existing = find()
        if existing is None:  # pragma: no cover - the integrity error was something else
            raise
        return existing


@transaction.atomic
def points_adjust(
    *, customer: Customer, amount: int, reason: str, by: User, idempotency_key: str | None = None
) -> LedgerEntry:
    """A staff correction: add (amount > 0) or take (amount < 0) points, with a required reason.
    Taking more than the balance is ``InsufficientPoints`` and writes nothing. With an
    ``idempotency_key`` (the admin form's nonce) a second submit returns the first entry."""
    reason = reason.strip()
    if not reason:
        raise DomainError("Say why the points are adjusted.", code="reason_required")
    if amount == 0:
        raise DomainError("The adjustment must not be zero.", code="invalid_points")
    key = f"adjust:{idempotency_key or uuid.uuid4()}"
    account = account_lock(customer)
    existing = LedgerEntry.objects.filter(idempotency_key=key).first()
    if existing is not None:
        return existing
    if amount > 0:
        return entry_credit(
            account=account,
            amount=amount,
            kind=Kind.ADJUST,
            idempotency_key=key,
            reason=reason,
            expires_at=expiry_for(program_get(), timezone.now()),
            created_by=by,
        )
    return entry_debit(
        account=account, amount=-amount, kind=Kind.ADJUST, idempotency_key=key, reason=reason, created_by=by
    )


@transaction.atomic
def points_claw_back(*, entry: LedgerEntry, reason: str, idempotency_key: str) -> LedgerEntry | None:
    """Take back a grant (a referral reward after a refund), once per key. What was already spent
    is owed or written off by the programme's policy. Returns the reversing entry: the debit, or
    when nothing was left to take, the zero-point note that records the points owed or written off.
    A repeat returns the same entry and writes nothing."""
    # ``points_reverse`` writes the debit under the key itself and the note under a suffixed key;
    # when the whole grant was spent only the note exists, so both count as "already done".
    keys = [idempotency_key, f"{idempotency_key}:owed", f"{idempotency_key}:write-off"]
    existing = LedgerEntry.objects.filter(idempotency_key__in=keys).order_by("id").first()
    if existing is not None:
        return existing
    account = account_lock(entry.account.customer_id)
    existing = LedgerEntry.objects.filter(idempotency_key__in=keys).order_by("id").first()
    if existing is not None:  # a parallel twin won the lock
        return existing
    entry = LedgerEntry.objects.select_related("lot").get(pk=entry.pk)
    points_reverse(
        account=account,
        entry=entry,
        points=entry.amount,
        kind=entry.kind,
        program=program_get(),
        idempotency_key=idempotency_key,
        reason=reason,
    )
    return LedgerEntry.objects.filter(idempotency_key__in=keys).order_by("id").first()
