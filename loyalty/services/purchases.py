"""Purchases and refunds: record them once, earn or reverse points by the ledger's rules."""

from __future__ import annotations

import datetime
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Sum
from django.utils import timezone

from core.errors import DomainError
from core.events import emit_on_commit
from customers.models import Customer, Partner, SegmentMember
from loyalty import signals
from loyalty.earning import Line, earn_calculate
from loyalty.errors import CustomerInactive, PayloadConflict, RefundExceedsPurchase, UnknownCurrency
from loyalty.models import (
    EarningRule,
    LedgerEntry,
    PendingPoints,
    PointsAccount,
    Program,
    Purchase,
    PurchaseLine,
    Refund,
)
from loyalty.program import program_get, rules_get
from loyalty.services.ledger import Kind, account_lock, entry_credit, entry_debit, entry_note, expiry_for
from loyalty.services.stamps import stamps_collect
from loyalty.services.tiers import tier_upgrade_if_qualified

FUTURE_TOLERANCE = datetime.timedelta(minutes=5)


@dataclass(frozen=True)
class PurchaseResult:
    purchase: Purchase
    created: bool


@dataclass(frozen=True)
class RefundResult:
    refund: Refund
    created: bool


def _hash(payload: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def purchase_payload_hash(
    *,
    customer: Customer,
    amount: Decimal,
    currency: str,
    occurred_at: datetime.datetime,
    lines: Sequence[Line],
    store: str,
    channel: str,
) -> str:
    return _hash(
        {
            "customer": str(customer.public_id),
            "amount": str(amount.quantize(Decimal("0.01"))),
            "currency": currency.upper(),
            "occurred_at": occurred_at.astimezone(datetime.UTC).isoformat(),
            "lines": [
                [line.sku, line.category, line.quantity, str(line.unit_price.quantize(Decimal("0.01")))]
                for line in lines
            ],
            "store": store,
            "channel": channel,
        }
    )


def _existing_purchase(partner: Partner, external_id: str, payload_hash: str) -> PurchaseResult | None:
    # The common case is a new purchase: look for just the id first, load the row only on a repeat.
    found = Purchase.objects.filter(partner=partner, external_id=external_id).values_list("pk", flat=True).first()
    if found is None:
        return None
    existing = Purchase.objects.select_related("tier_after", "customer").get(pk=found)
    if existing.payload_hash != payload_hash:
        raise PayloadConflict(external_id=external_id)
    return PurchaseResult(purchase=existing, created=False)


@transaction.atomic
def purchase_record(
    *,
    partner: Partner,
    external_id: str,
    customer: Customer,
    amount: Decimal,
    currency: str,
    occurred_at: datetime.datetime,
    lines: Sequence[Line] = (),
    store: str = "",
    channel: str = Purchase.Channel.STORE,
    payment_fingerprint: str = "",
    shipping_fingerprint: str = "",
) -> PurchaseResult:
    """Record a purchase once per (partner, external_id) and earn its points.

    Repeating it with the same payload returns the first purchase (``created=False``); another
    payload under the same id raises ``PayloadConflict`` (409). Holds the customer's points
    account lock, so a customer's purchases are recorded one at a time. Earned points expire per
    the programme; with pending points on they wait out the return window first. Upgrades the
    tier at once when the purchase qualifies, collects stamps, and emits ``purchase_recorded``
    (and ``points_changed``, ``tier_changed``, ``voucher_issued``) on commit.
    """
    payload_hash = purchase_payload_hash(
        customer=customer,
        amount=amount,
        currency=currency,
        occurred_at=occurred_at,
        lines=lines,
        store=store,
        channel=channel,
    )
    repeated = _existing_purchase(partner, external_id, payload_hash)
    if repeated is not None:
        return repeated
    program = program_get()
    if currency.upper() != program.currency:
        raise UnknownCurrency(f"Purchases are in {program.currency}.", currency=currency, accepted=[program.currency])
    if amount <= 0:
        raise DomainError("The amount must be positive.", code="invalid_amount")
    now = timezone.now()
    if occurred_at > now + FUTURE_TOLERANCE:
        raise DomainError("The purchase time is in the future.", code="occurred_in_future")
    if customer.status != Customer.Status.ACTIVE:
        raise CustomerInactive()

    account = account_lock(customer)
    rules = rules_get()
    # Only a first-purchase rule needs to know; skip the query when the programme has none.
    is_first = any(rule.kind == EarningRule.Kind.FIRST_PURCHASE for rule in rules) and (
        not Purchase.objects.filter(customer=customer).exists()
    )
    local_month = occurred_at.astimezone(ZoneInfo(settings.TIME_ZONE)).month
    segment_ids = _segments_of(customer, rules, occurred_at)
    result = earn_calculate(
        amount=amount,
        lines=lines,
        occurred_at=occurred_at,
        local_month=local_month,
        rules=rules,
        tier=account.tier,
        point_value=program.point_value,
        birth_date=customer.birth_date,
        is_first_purchase=is_first,
        segment_ids=segment_ids,
    )
    try:
        with transaction.atomic():
            purchase = Purchase.objects.create(
                partner=partner,
                external_id=external_id,
                customer=customer,
                amount=amount,
                currency=currency.upper(),
                occurred_at=occurred_at,
                store=store,
                channel=channel,
                payload_hash=payload_hash,
                points_earned=result.points,
                earn_breakdown=result.breakdown(),
                payment_fingerprint=payment_fingerprint,
                shipping_fingerprint=shipping_fingerprint,
                points_pending=program.pending_points_enabled and result.points > 0,
                # What the balance will be once the points are credited (owed points repaid first).
                balance_after=account.balance
                + (0 if program.pending_points_enabled else result.points - min(account.owed, result.points)),
                tier_after=account.tier,
            )
    except IntegrityError:  # the same external id, recorded meanwhile for another customer
        repeated = _existing_purchase(partner, external_id, payload_hash)
        if repeated is None:  # pragma: no cover - the integrity error was something else
            raise
        return repeated
    if lines:
        PurchaseLine.objects.bulk_create(
            [
                PurchaseLine(
                    purchase=purchase,
                    sku=line.sku,
                    category=line.category,
                    quantity=line.quantity,
                    unit_price=line.unit_price,
                )
                for line in lines
            ]
        )
    if purchase.points_pending:
        PendingPoints.objects.create(
            account=account,
            purchase=purchase,
            points=result.points,
            available_at=now + datetime.timedelta(days=program.return_window_days),
        )
    elif result.points:
        entry_credit(
            account=account,
            amount=result.points,
            kind=Kind.EARN,
            idempotency_key=f"purchase:{purchase.pk}:earn",
            reason=f"Purchase {external_id}",
            expires_at=expiry_for(program, now),
            purchase=purchase,
        )
    tier = tier_upgrade_if_qualified(program=program, account=account)
    stamps_collect(customer=customer, purchase=purchase, lines=lines, program=program)
    if tier != purchase.tier_after or purchase.balance_after != account.balance:
        Purchase.objects.filter(pk=purchase.pk).update(tier_after=tier, balance_after=account.balance)
        purchase.tier_after, purchase.balance_after = tier, account.balance
    emit_on_commit(signals.purchase_recorded, sender=Purchase, purchase_id=purchase.pk, customer_id=customer.pk)
    return PurchaseResult(purchase=purchase, created=True)


def _segments_of(customer: Customer, rules: list[EarningRule], at: datetime.datetime) -> frozenset[int]:
    """The segments, among those a rule active at ``at`` is limited to, that the customer is in:
    no query unless such a rule is running (a special customer day for a segment)."""
    limited = {
        rule.segment_id
        for rule in rules
        if rule.segment_id is not None
        and (rule.starts_at is None or rule.starts_at <= at)
        and (rule.ends_at is None or at < rule.ends_at)
    }
    if not limited:
        return frozenset()
    members = SegmentMember.objects.filter(customer=customer, segment_id__in=limited)
    return frozenset(members.values_list("segment_id", flat=True))


def _reversed_so_far(purchase: Purchase) -> int:
    totals = Refund.objects.filter(purchase=purchase).aggregate(
        reversed=Sum(F("points_reversed") + F("points_owed") + F("points_written_off"))
    )
    return int(totals["reversed"] or 0)


@transaction.atomic
def refund_record(*, purchase: Purchase, external_id: str, amount: Decimal) -> RefundResult:
    """Refund all or part of a purchase once per (purchase, external_id), reversing its points
    pro rata (cumulatively, so partial refunds add up to exactly the points earned).

    Points still pending are simply cancelled. Reversed points come first from the purchase's own
    lot, then from the rest of the balance; points already spent are carried as points owed or
    written off with a visible entry, as the programme says. ``RefundExceedsPurchase`` when the
    amount is more than what remains; a repeat returns the first refund, another amount under the
    same id is ``PayloadConflict``.
    """
    payload_hash = _hash({"amount": str(amount.quantize(Decimal("0.01")))})
    account = account_lock(purchase.customer_id)
    existing = Refund.objects.filter(purchase=purchase, external_id=external_id).first()
    if existing is not None:
        if existing.payload_hash != payload_hash:
            raise PayloadConflict(external_id=external_id)
        return RefundResult(refund=existing, created=False)
    purchase = Purchase.objects.select_for_update().get(pk=purchase.pk)
    if amount <= 0:
        raise DomainError("The amount must be positive.", code="invalid_amount")
    if amount > purchase.remaining_amount:
        raise RefundExceedsPurchase(remaining=str(purchase.remaining_amount))
    program = program_get()
    refunded = purchase.refunded_amount + amount
    target = int((Decimal(purchase.points_earned) * refunded / purchase.amount).to_integral_value(ROUND_DOWN))
    if refunded == purchase.amount:
        target = purchase.points_earned
    to_reverse = max(target - _reversed_so_far(purchase), 0)
    refund = Refund.objects.create(purchase=purchase, external_id=external_id, amount=amount, payload_hash=payload_hash)
    Purchase.objects.filter(pk=purchase.pk).update(refunded_amount=refunded)
    purchase.refunded_amount = refunded

    pending = PendingPoints.objects.filter(purchase=purchase, status=PendingPoints.Status.PENDING).first()
    if to_reverse and pending is not None:
        left = pending.points - to_reverse
        PendingPoints.objects.filter(pk=pending.pk).update(
            points=max(left, 0), status=PendingPoints.Status.PENDING if left > 0 else PendingPoints.Status.CANCELLED
        )
        refund.points_reversed = to_reverse
    elif to_reverse:
        earn = LedgerEntry.objects.select_related("lot").get(idempotency_key=f"purchase:{purchase.pk}:earn")
        taken, owed, written_off = points_reverse(
            account=account,
            entry=earn,
            points=to_reverse,
            kind=Kind.REFUND,
            program=program,
            idempotency_key=f"refund:{refund.pk}",
            reason=f"Refund {external_id} of purchase {purchase.external_id}",
            refund=refund,
        )
        refund.points_reversed, refund.points_owed, refund.points_written_off = taken, owed, written_off
    Refund.objects.filter(pk=refund.pk).update(
        points_reversed=refund.points_reversed,
        points_owed=refund.points_owed,
        points_written_off=refund.points_written_off,
    )
    emit_on_commit(
        signals.purchase_refunded,
        sender=Purchase,
        purchase_id=purchase.pk,
        refund_id=refund.pk,
        customer_id=purchase.customer_id,
    )
    return RefundResult(refund=refund, created=True)


def points_reverse(
    *,
    account: PointsAccount,
    entry: LedgerEntry,
    points: int,
    kind: str,
    program: Program,
    idempotency_key: str,
    reason: str,
    refund: Refund | None = None,
) -> tuple[int, int, int]:
    """Take back ``points`` of a credit ``entry``: from its own lot first, then from the balance.
    What the balance cannot cover (already spent) is owed or written off by the programme's
    policy. Returns (taken, owed, written off). Caller holds the account lock."""
    taken = min(points, account.balance)
    if taken:
        entry_debit(
            account=account,
            amount=taken,
            kind=kind,
            idempotency_key=idempotency_key,
            reason=reason,
            reverses=entry,
            first_lot=getattr(entry, "lot", None),
            refund=refund,
        )
    shortfall = points - taken
    owed = written_off = 0
    if shortfall and program.refund_overspend_policy == Program.OverspendPolicy.OWE:
        owed = shortfall
        PointsAccount.objects.filter(pk=account.pk).update(owed=F("owed") + owed)
        account.owed += owed
        entry_note(
            account=account,
            kind=kind,
            idempotency_key=f"{idempotency_key}:owed",
            reverses=entry,
            reason=f"{owed} points already spent: owed, repaid from future earnings",
        )
    elif shortfall:
        written_off = shortfall
        entry_note(
            account=account,
            kind=Kind.WRITE_OFF,
            idempotency_key=f"{idempotency_key}:write-off",
            reverses=entry,
            reason=f"{written_off} points already spent: written off",
        )
    return taken, owed, written_off
