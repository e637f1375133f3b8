"""Rewards, vouchers and stamp cards: spend points once, use a voucher once, cancel to get points back."""

from __future__ import annotations

import datetime
import hashlib
import secrets
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from core.events import emit_on_commit
from customers.models import Customer, Partner, User
from loyalty import signals
from loyalty.errors import (
    CustomerInactive,
    InsufficientPoints,
    NotEligible,
    OutOfStock,
    PayloadConflict,
    RewardUnavailable,
    VoucherAlreadyUsed,
    VoucherCancelled,
    VoucherExpired,
    VoucherNotCancellable,
    VoucherNotFound,
)
from loyalty.models import LedgerEntry, PointsAccount, Reward, Voucher
from loyalty.program import program_get
from loyalty.services.ledger import Kind, account_lock, entry_debit, entry_restore, lots_expire_due

# No 0/O, 1/I/L: a code read aloud or typed from paper is never ambiguous. Vouchers and referral
# codes share it. 31**12 ~ 7.9e17 voucher codes.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 12


def code_generate(length: int) -> str:
    """A random code of ``length`` characters from ``CODE_ALPHABET`` (``secrets``: not guessable)."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(length))


def code_normalise(code: str) -> str:
    """A code as typed, in the stored form: any case, dashes and spaces (anything but ASCII
    letters and digits) dropped: ``abcd-efgh-jkmn`` -> ``ABCDEFGHJKMN``."""
    return "".join(char for char in code.upper() if char.isascii() and char.isalnum())


def voucher_code_generate() -> str:
    return code_generate(CODE_LENGTH)


def voucher_code_normalise(code: str) -> str:
    """Accept any case, dashes and spaces: ``abcd-efgh-jkmn`` -> ``ABCDEFGHJKMN``."""
    return code_normalise(code)


def voucher_code_display(code: str) -> str:
    return "-".join(code[index : index + 4] for index in range(0, len(code), 4))


@dataclass(frozen=True)
class RedemptionResult:
    voucher: Voucher
    created: bool


def _redemption_hash(customer: Customer, reward: Reward) -> str:
    return hashlib.sha256(f"{customer.public_id}:{reward.pk}".encode()).hexdigest()


def _existing_redemption(idempotency_key: str, payload_hash: str) -> RedemptionResult | None:
    voucher = Voucher.objects.select_related("reward", "customer").filter(idempotency_key=idempotency_key).first()
    if voucher is None:
        return None
    if voucher.payload_hash != payload_hash:
        raise PayloadConflict()
    return RedemptionResult(voucher=voucher, created=False)


def voucher_issue(
    *,
    customer: Customer,
    reward: Reward,
    source: str,
    idempotency_key: str,
    points_spent: int = 0,
    partner: Partner | None = None,
    payload_hash: str = "",
    now: datetime.datetime | None = None,
) -> Voucher:
    """Create a voucher for ``reward`` (no points move here) and emit ``voucher_issued``."""
    now = now or timezone.now()
    voucher = Voucher.objects.create(
        code=voucher_code_generate(),
        customer=customer,
        reward=reward,
        kind=reward.kind,
        value=reward.value,
        currency=program_get().currency,
        source=source,
        points_spent=points_spent,
        issued_by=partner,
        idempotency_key=idempotency_key,
        payload_hash=payload_hash,
        expires_at=now + datetime.timedelta(days=reward.voucher_valid_days),
    )
    emit_on_commit(signals.voucher_issued, sender=Voucher, voucher_id=voucher.pk, customer_id=customer.pk)
    return voucher


@transaction.atomic
def reward_redeem(
    *, customer: Customer, reward: Reward, idempotency_key: str, partner: Partner | None = None
) -> RedemptionResult:
    """Spend the customer's points on ``reward`` and issue its voucher, once per idempotency key.

    Checks, in order: the customer is active; the reward is active, in its validity window, open
    to the customer's tier, and in stock; the balance (after expiring due points) covers the cost.
    Each refusal is a domain error (409) and writes nothing. Stock is taken with a conditional
    update, so parallel redemptions never oversell it. A repeat returns the first voucher
    (``created=False``); the key reused for another customer or reward is ``PayloadConflict``,
    also when both arrive at the same time.
    """
    payload_hash = _redemption_hash(customer, reward)
    repeated = _existing_redemption(idempotency_key, payload_hash)
    if repeated is not None:
        return repeated
    if customer.status != Customer.Status.ACTIVE:
        raise CustomerInactive()
    account = account_lock(customer)
    repeated = _existing_redemption(idempotency_key, payload_hash)  # a parallel twin may have won the lock
    if repeated is not None:
        return repeated
    now = timezone.now()
    reward = Reward.objects.select_related("min_tier").get(pk=reward.pk)
    if (
        not reward.is_active
        or (reward.valid_from and now < reward.valid_from)
        or (reward.valid_until and now >= reward.valid_until)
    ):
        raise RewardUnavailable(reward=reward.pk)
    if reward.min_tier and (account.tier is None or account.tier.rank < reward.min_tier.rank):
        raise NotEligible(reward=reward.pk, tier=reward.min_tier.name)
    lots_expire_due(account, now=now)
    if account.balance < reward.points_cost:
        raise InsufficientPoints(needed=reward.points_cost, balance=account.balance)
    if reward.stock is not None and not Reward.objects.filter(pk=reward.pk, stock__gt=0).update(stock=F("stock") - 1):
        raise OutOfStock(reward=reward.pk)
    try:
        with transaction.atomic():
            voucher = voucher_issue(
                customer=customer,
                reward=reward,
                source=Voucher.Source.REDEMPTION,
                idempotency_key=idempotency_key,
                points_spent=reward.points_cost,
                partner=partner,
                payload_hash=payload_hash,
                now=now,
            )
    except IntegrityError:
        # The same key, redeemed meanwhile for another customer (whose account lock we do not
        # hold): that one won. Another payload is ``PayloadConflict``; the same one returns it,
        # undoing what this call did (the stock, any expiry).
        repeated = _existing_redemption(idempotency_key, payload_hash)
        if repeated is None:  # pragma: no cover - the integrity error was something else
            raise
        transaction.set_rollback(True)
        return repeated
    if reward.points_cost:
        entry_debit(
            account=account,
            amount=reward.points_cost,
            kind=Kind.REDEEM,
            idempotency_key=f"redeem:{voucher.pk}",
            reason=f"Reward: {reward.name}",
            voucher=voucher,
        )
    return RedemptionResult(voucher=voucher, created=True)


def voucher_get_for_partner(*, code: str, partner: Partner) -> Voucher:
    """The voucher with this code, as a partner may see it: a voucher another partner has used is
    that partner's, and this one gets ``VoucherNotFound`` (404)."""
    voucher = (
        Voucher.objects.select_related("customer", "reward", "redeemed_by")
        .filter(code=voucher_code_normalise(code))
        .first()
    )
    if voucher is None or (voucher.redeemed_by_id is not None and voucher.redeemed_by_id != partner.pk):
        raise VoucherNotFound()
    return voucher


@transaction.atomic
def voucher_use(*, code: str, partner: Partner, order_id: str) -> tuple[Voucher, bool]:
    """Use a voucher for an order at checkout. The same partner and order again: (voucher, False).
    Another order: ``VoucherAlreadyUsed``; expired or cancelled: 409; unknown: 404."""
    voucher = Voucher.objects.select_for_update().filter(code=voucher_code_normalise(code)).first()
    if voucher is None or (voucher.redeemed_by_id is not None and voucher.redeemed_by_id != partner.pk):
        raise VoucherNotFound()
    if voucher.status == Voucher.Status.REDEEMED:
        if voucher.redeemed_order_id == order_id:
            return voucher, False
        raise VoucherAlreadyUsed()
    if voucher.status == Voucher.Status.CANCELLED:
        raise VoucherCancelled()
    now = timezone.now()
    if voucher.status == Voucher.Status.EXPIRED or voucher.expires_at <= now:
        raise VoucherExpired(expired_at=voucher.expires_at.isoformat())
    Voucher.objects.filter(pk=voucher.pk).update(
        status=Voucher.Status.REDEEMED, redeemed_at=now, redeemed_by=partner, redeemed_order_id=order_id
    )
    voucher.status, voucher.redeemed_at, voucher.redeemed_by, voucher.redeemed_order_id = (
        Voucher.Status.REDEEMED,
        now,
        partner,
        order_id,
    )
    emit_on_commit(signals.voucher_redeemed, sender=Voucher, voucher_id=voucher.pk, customer_id=voucher.customer_id)
    return voucher, True


@transaction.atomic
def voucher_cancel(*, voucher: Voucher, by: User | None = None) -> Voucher:
    """Cancel an unused voucher: the points spent on it return to the lots they came from, with
    those lots' expiry (points returned into a lot already past its date expire at once, with an
    ``expire`` entry), and the reward's stock is given back. Only an issued voucher still inside
    its validity can be cancelled (``VoucherNotCancellable``, nothing written): one past its date
    is expired whether or not the nightly job has marked it yet, and expiry returns no points."""
    account: PointsAccount = account_lock(voucher.customer_id)
    voucher = Voucher.objects.select_for_update().get(pk=voucher.pk)
    now = timezone.now()
    if voucher.status == Voucher.Status.ISSUED and voucher.expires_at <= now:
        raise VoucherNotCancellable(status=Voucher.Status.EXPIRED)
    if voucher.status != Voucher.Status.ISSUED:
        raise VoucherNotCancellable(status=voucher.status)
    Voucher.objects.filter(pk=voucher.pk).update(status=Voucher.Status.CANCELLED, cancelled_at=now)
    voucher.status = Voucher.Status.CANCELLED
    debit = LedgerEntry.objects.filter(idempotency_key=f"redeem:{voucher.pk}").first()
    if debit is not None:
        entry_restore(
            account=account,
            debit=debit,
            kind=Kind.REDEEM,
            idempotency_key=f"redeem:{voucher.pk}:cancel",
            reason=f"Voucher {voucher_code_display(voucher.code)} cancelled",
        )
        lots_expire_due(account, now=now)
    # Only a redemption took a unit of stock (stamp-card and gift vouchers never did); a reward
    # with unlimited stock (NULL) has nothing to give back.
    if voucher.source == Voucher.Source.REDEMPTION and voucher.reward_id:
        Reward.objects.filter(pk=voucher.reward_id, stock__isnull=False).update(stock=F("stock") + 1)
    return voucher
