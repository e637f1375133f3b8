"""Points given or taken outside purchases: gifts, birthdays, referrals, staff adjustments."""

from __future__ import annotations

import uuid

from django.db import transaction
from django.utils import timezone

from core.errors import DomainError
from customers.models import Customer, User
from loyalty.models import LedgerEntry
from loyalty.program import program_get
from loyalty.services.ledger import Kind, account_lock, entry_credit, entry_debit, expiry_for
from loyalty.services.purchases import points_reverse

GRANT_KINDS = (Kind.BONUS, Kind.GIFT, Kind.BIRTHDAY, Kind.REFERRAL, Kind.ADJUST)


@transaction.atomic
def points_earn(
    *, customer: Customer, amount: int, kind: str, reason: str, idempotency_key: str, created_by: User | None = None
) -> LedgerEntry:
    """Grant ``amount`` points once per ``idempotency_key`` (a repeat returns the first entry).

    Used by birthday rewards, gifts, referrals and bonuses: the points expire like earned points.
    """
    if amount <= 0:
        raise DomainError("Points granted must be positive.", code="invalid_points")
    if kind not in GRANT_KINDS:
        raise DomainError("Unknown kind of grant.", code="invalid_kind")
    existing = LedgerEntry.objects.filter(idempotency_key=idempotency_key).first()
    if existing is not None:
        return existing
    account = account_lock(customer)
    existing = LedgerEntry.objects.filter(idempotency_key=idempotency_key).first()
    if existing is not None:
        return existing
    program = program_get()
    return entry_credit(
        account=account,
        amount=amount,
        kind=kind,
        idempotency_key=idempotency_key,
        reason=reason,
        expires_at=expiry_for(program, timezone.now()),
        created_by=created_by,
    )


@transaction.atomic
def points_adjust(*, customer: Customer, amount: int, reason: str, by: User) -> LedgerEntry:
    """A staff correction: add (amount > 0) or take (amount < 0) points, with a required reason.
    Taking more than the balance is ``InsufficientPoints`` and writes nothing."""
    reason = reason.strip()
    if not reason:
        raise DomainError("Say why the points are adjusted.", code="reason_required")
    if amount == 0:
        raise DomainError("The adjustment must not be zero.", code="invalid_points")
    account = account_lock(customer)
    key = f"adjust:{uuid.uuid4()}"
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
    is owed or written off by the programme's policy. Returns the reversing entry, if any."""
    existing = LedgerEntry.objects.filter(idempotency_key=idempotency_key).first()
    if existing is not None:
        return existing
    account = account_lock(entry.account.customer_id)
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
    return LedgerEntry.objects.filter(idempotency_key__startswith=idempotency_key).order_by("id").first()
