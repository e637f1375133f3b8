"""Qualify a referral on the friend's purchase, reward both sides once, take the rewards back
after a full refund, and the staff's review.

States: ``pending`` -> (qualifying purchase; the fraud checks) -> ``qualified`` or ``review``;
``qualified`` -> (the monthly cap, under the referrer's lock) -> ``rewarded`` or ``review``;
``review`` -> (staff) -> ``rewarded`` (approve) or ``rejected`` (reject). Every step locks the
referral row and returns early unless the state still calls for it, so the purchase event, a
repeated delivery, the sweep and a staff click can all run at once and each reward is granted once
(and by its own idempotency key as well).
"""

from __future__ import annotations

import datetime
import logging
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from core.errors import DomainError
from core.events import emit_on_commit
from customers import outbox
from customers.models import Customer, MessagePurpose, User
from loyalty import services as loyalty_services
from loyalty.models import LedgerEntry, PointsAccount, Purchase, Refund, Reward, Voucher
from referrals import signals
from referrals.errors import ReasonRequired, ReferralNotReviewable
from referrals.fraud import PURCHASE_TOLERANCE, fraud_flags
from referrals.models import FraudFlag, Referral, ReferralProgram, ReferralTierReward
from referrals.program import referral_program_get
from referrals.services.codes import referral_code_for, referral_link

logger = logging.getLogger(__name__)


def reward_key(referral_id: int, side: str) -> str:
    """The idempotency key of one side's reward (``referrer`` or ``friend``): its ledger entry,
    its voucher and its message are all made once under it."""
    return f"referral:{referral_id}:{side}"


def _locked(referral_id: int) -> Referral | None:
    return (
        Referral.objects.select_for_update(of=("self",))
        .select_related("referrer", "friend")
        .filter(pk=referral_id)
        .first()
    )


def qualifying_purchase_find(referral: Referral, program: ReferralProgram) -> Purchase | None:
    """The friend's first purchase at or above the minimum (net of refunds) from sign-up to the
    end of the window, or None."""
    return (
        Purchase.objects.filter(
            customer_id=referral.friend_id,
            occurred_at__gte=referral.created_at - PURCHASE_TOLERANCE,
            occurred_at__lte=referral.window_ends_at,
        )
        .alias(net=F("amount") - F("refunded_amount"))
        .filter(net__gte=program.min_purchase)
        .order_by("occurred_at", "pk")
        .first()
    )


@transaction.atomic
def referral_qualify(*, referral_id: int, now: datetime.datetime | None = None) -> Referral | None:
    """Move a pending referral whose friend has a qualifying purchase to ``qualified``, or to
    ``review`` with the fraud checks that flagged it. Nothing happens (the referral is returned
    as it is) when it is not pending, has no qualifying purchase yet, or the programme is closed.
    Holds the referral's row lock; repeating it changes nothing."""
    now = now or timezone.now()
    referral = _locked(referral_id)
    if referral is None or referral.status != Referral.Status.PENDING:
        return referral
    program = referral_program_get()
    if not program.is_enabled:
        return referral
    purchase = qualifying_purchase_find(referral, program)
    if purchase is None:
        return referral
    referral.flags = fraud_flags(referral=referral, purchase=purchase, program=program)
    referral.status = Referral.Status.REVIEW if referral.flags else Referral.Status.QUALIFIED
    referral.qualifying_purchase = purchase
    referral.qualified_at = now
    referral.save(update_fields=["flags", "status", "qualifying_purchase", "qualified_at", "updated_at"])
    return referral


def _month_start(now: datetime.datetime) -> datetime.datetime:
    local = now.astimezone(ZoneInfo(settings.TIME_ZONE))
    return local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def _referrer_reward(referrer: Customer, program: ReferralProgram) -> tuple[int, Reward | None]:
    """The referrer's tier's own reward when it has one, else the programme's."""
    tier_id = PointsAccount.objects.filter(customer=referrer).values_list("tier_id", flat=True).first()
    own = None
    if tier_id is not None:
        own = ReferralTierReward.objects.select_related("referrer_reward").filter(tier_id=tier_id).first()
    if own is not None:
        return own.referrer_points, own.referrer_reward
    return program.referrer_points, program.referrer_reward


# _grant and _gift_describe mirror campaigns.gifts (gift_grant, gift_describe) on purpose: the two
# apps may not import each other. Keep them as narrow as they are: the grant only, no account read.
@dataclass(frozen=True)
class _Granted:
    points: int
    voucher: Voucher | None


def _grant(*, customer: Customer, points: int, reward: Reward | None, key: str, reason: str) -> _Granted:
    if points:
        loyalty_services.points_earn(
            customer=customer, amount=points, kind=LedgerEntry.Kind.REFERRAL, reason=reason, idempotency_key=key
        )
    voucher = None
    if reward is not None:
        voucher = Voucher.objects.select_related("reward").filter(idempotency_key=key).first()
        if voucher is None:
            voucher = loyalty_services.voucher_issue(
                customer=customer, reward=reward, source=Voucher.Source.GIFT, idempotency_key=key
            )
    return _Granted(points=points, voucher=voucher)


def _gift_describe(customer: Customer, granted: _Granted) -> str:
    """What a side received, in the customer's language: ``100 bonus points``, ``a voucher for
    Free coffee (code ABCD-EFGH-JKMN)``, or both."""
    with translation.override(customer.language):
        if granted.voucher is not None:
            values = {
                "points": granted.points,
                "reward": granted.voucher.reward.name if granted.voucher.reward else "",
                "code": loyalty_services.voucher_code_display(granted.voucher.code),
            }
            if granted.points:
                return _("%(points)s bonus points and a voucher for %(reward)s (code %(code)s)") % values
            return _("a voucher for %(reward)s (code %(code)s)") % values
        if granted.points:
            return _("%(points)s bonus points") % {"points": granted.points}
        return _("our warmest thanks")


def friend_display_name(customer: Customer) -> str:
    """How one side of a referral is shown to the other: the first name and the last name's
    initial ("Mikko V."), never more."""
    initial = customer.last_name.strip()[:1].upper()
    first = customer.first_name.strip()
    if first and initial:
        return f"{first} {initial}."
    return first or (f"{initial}." if initial else "")


def _balance(customer: Customer) -> int:
    return PointsAccount.objects.filter(customer=customer).values_list("balance", flat=True).first() or 0


def _announce(*, referral: Referral, customer: Customer, other: Customer, granted: _Granted, purpose: str) -> None:
    """Queue one side's message: a reward notice, so transactional (no marketing consent needed)."""
    portal = settings.PUBLIC_BASE_URL.rstrip("/")
    is_referrer = purpose == MessagePurpose.REFERRAL_THANKS
    outbox.message_queue(
        customer=customer,
        purpose=purpose,
        idempotency_key=reward_key(referral.pk, "thanks" if is_referrer else "welcome"),
        context={
            "friend_name": friend_display_name(other),
            "points": granted.points,
            "balance": _balance(customer),
            "gift": _gift_describe(customer, granted),
            "voucher_code": loyalty_services.voucher_code_display(granted.voucher.code) if granted.voucher else "",
            "referral_link": referral_link(referral_code_for(customer).code),
            "link": portal + reverse("referrals_portal:mine" if is_referrer else "portal:home"),
        },
        is_marketing=False,
    )


def _reward(referral: Referral, program: ReferralProgram, *, now: datetime.datetime, cap: bool) -> Referral:
    """Reward a qualified referral (its row locked by the caller): lock both sides' points
    accounts in id order (the referrer's serialises the monthly cap), check the cap unless
    ``cap`` is False, grant each side once, queue both messages, emit ``referral_rewarded``."""
    for customer_id in sorted({referral.referrer_id, referral.friend_id}):
        loyalty_services.account_lock(customer_id)
    if cap and program.monthly_cap:
        rewarded = Referral.objects.filter(
            referrer_id=referral.referrer_id, status=Referral.Status.REWARDED, rewarded_at__gte=_month_start(now)
        ).count()
        if rewarded >= program.monthly_cap:
            referral.status = Referral.Status.REVIEW
            referral.flags = [*referral.flags, FraudFlag.MONTHLY_CAP.value]
            referral.save(update_fields=["status", "flags", "updated_at"])
            return referral
    referrer, friend = referral.referrer, referral.friend
    referrer_points, referrer_reward = _referrer_reward(referrer, program)
    for_referrer = _grant(
        customer=referrer,
        points=referrer_points,
        reward=referrer_reward,
        key=reward_key(referral.pk, "referrer"),
        reason=f"Referral: {friend_display_name(friend)} joined and bought",
    )
    for_friend = _grant(
        customer=friend,
        points=program.friend_points,
        reward=program.friend_reward,
        key=reward_key(referral.pk, "friend"),
        reason=f"Welcome: referred by {friend_display_name(referrer)}",
    )
    referral.status = Referral.Status.REWARDED
    referral.rewarded_at = now
    referral.referrer_points, referral.friend_points = for_referrer.points, for_friend.points
    referral.referrer_voucher, referral.friend_voucher = for_referrer.voucher, for_friend.voucher
    referral.save(
        update_fields=[
            "status",
            "rewarded_at",
            "referrer_points",
            "friend_points",
            "referrer_voucher",
            "friend_voucher",
            "updated_at",
        ]
    )
    _announce(
        referral=referral,
        customer=referrer,
        other=friend,
        granted=for_referrer,
        purpose=MessagePurpose.REFERRAL_THANKS,
    )
    _announce(
        referral=referral, customer=friend, other=referrer, granted=for_friend, purpose=MessagePurpose.REFERRAL_WELCOME
    )
    emit_on_commit(
        signals.referral_rewarded,
        sender=Referral,
        referral_id=referral.pk,
        referrer_id=referral.referrer_id,
        friend_id=referral.friend_id,
    )
    return referral


@transaction.atomic
def referral_reward(*, referral_id: int, now: datetime.datetime | None = None) -> Referral | None:
    """Reward a qualified referral: both sides' points (ledger kind ``referral``) and vouchers,
    the referrer's thank-you and the friend's welcome through the outbox, ``referral_rewarded``
    on commit. A referrer at the monthly cap sends it to ``review`` (``monthly_cap``) instead.
    Returns the referral as it is when it is not qualified (already rewarded: a repeat) or the
    programme is closed."""
    now = now or timezone.now()
    referral = _locked(referral_id)
    if referral is None or referral.status != Referral.Status.QUALIFIED:
        return referral
    program = referral_program_get()
    if not program.is_enabled:
        return referral
    return _reward(referral, program, now=now, cap=True)


def referral_process(*, referral_id: int, now: datetime.datetime | None = None) -> Referral | None:
    """Qualify, then reward, each in its own transaction (what the task and the sweep run)."""
    referral = referral_qualify(referral_id=referral_id, now=now)
    if referral is not None and referral.status == Referral.Status.QUALIFIED:
        referral = referral_reward(referral_id=referral_id, now=now)
    return referral


def _reason_clean(note: str) -> str:
    note = note.strip()
    if not note:
        raise ReasonRequired()
    return note


@transaction.atomic
def referral_approve(*, referral: Referral, by: User, note: str, now: datetime.datetime | None = None) -> Referral:
    """Staff approve a referral awaiting review: it is rewarded at once, the monthly cap waived
    (the staff member decided). The reason is required and recorded with who and when.
    ``ReferralNotReviewable`` when it is not awaiting review."""
    now = now or timezone.now()
    note = _reason_clean(note)
    locked = _locked(referral.pk)
    if locked is None or locked.status != Referral.Status.REVIEW:
        raise ReferralNotReviewable(status=locked.status if locked else None)
    locked.status = Referral.Status.QUALIFIED
    locked.note, locked.reviewed_by, locked.reviewed_at = note, by, now
    locked.save(update_fields=["status", "note", "reviewed_by", "reviewed_at", "updated_at"])
    return _reward(locked, referral_program_get(), now=now, cap=False)


@transaction.atomic
def referral_reject(*, referral: Referral, by: User, note: str, now: datetime.datetime | None = None) -> Referral:
    """Staff reject a referral that is pending, qualified or awaiting review: nothing is granted,
    the reason is recorded. ``ReferralNotReviewable`` for a rewarded or rejected one."""
    now = now or timezone.now()
    note = _reason_clean(note)
    locked = _locked(referral.pk)
    reviewable = (Referral.Status.PENDING, Referral.Status.QUALIFIED, Referral.Status.REVIEW)
    if locked is None or locked.status not in reviewable:
        raise ReferralNotReviewable(status=locked.status if locked else None)
    locked.status, locked.reason = Referral.Status.REJECTED, Referral.Reason.STAFF
    locked.note, locked.reviewed_by, locked.reviewed_at, locked.rejected_at = note, by, now, now
    locked.save(update_fields=["status", "reason", "note", "reviewed_by", "reviewed_at", "rejected_at", "updated_at"])
    return locked


def _claw_back_side(referral: Referral, side: str, voucher: Voucher | None, reason: str) -> None:
    key = reward_key(referral.pk, side)
    entry = LedgerEntry.objects.filter(idempotency_key=key).first()
    if entry is not None:
        loyalty_services.points_claw_back(entry=entry, reason=reason, idempotency_key=f"{key}:claw-back")
    if voucher is not None:
        try:
            loyalty_services.voucher_cancel(voucher=voucher)
        except DomainError:  # used or expired already: the voucher stays as it is
            logger.info("referrals: voucher %s of referral %s was not cancellable", voucher.pk, referral.pk)


@transaction.atomic
def referral_claw_back(*, purchase_id: int, now: datetime.datetime | None = None) -> Referral | None:
    """After a refund of a referral's qualifying purchase: a full refund recorded inside the
    qualifying window takes both rewards back by new ledger entries (what was already spent is
    owed or written off, by the programme's policy), cancels unused reward vouchers, and ends the
    referral ``rejected`` (``refunded``). A referral not yet rewarded is rejected the same way,
    with nothing to take back. A partial refund, or one after the window, changes nothing.
    Holds the referral's row lock; repeating it changes nothing."""
    now = now or timezone.now()
    referral_id = Referral.objects.filter(qualifying_purchase_id=purchase_id).values_list("pk", flat=True).first()
    referral = _locked(referral_id) if referral_id is not None else None
    active = (Referral.Status.QUALIFIED, Referral.Status.REVIEW, Referral.Status.REWARDED)
    if referral is None or referral.status not in active:
        return referral
    purchase = Purchase.objects.get(pk=purchase_id)
    last_refund = Refund.objects.filter(purchase=purchase).order_by("-created_at", "-pk").first()
    if purchase.refunded_amount < purchase.amount or last_refund is None:
        return referral
    if last_refund.created_at > referral.window_ends_at:
        return referral
    fields = ["status", "reason", "rejected_at", "updated_at"]
    if referral.status == Referral.Status.REWARDED:
        for customer_id in sorted({referral.referrer_id, referral.friend_id}):
            loyalty_services.account_lock(customer_id)
        reason = f"Referral taken back: purchase {purchase.external_id} refunded"
        _claw_back_side(referral, "referrer", referral.referrer_voucher, reason)
        _claw_back_side(referral, "friend", referral.friend_voucher, reason)
        referral.clawed_back_at = now
        fields.append("clawed_back_at")
    referral.status, referral.reason, referral.rejected_at = Referral.Status.REJECTED, Referral.Reason.REFUNDED, now
    referral.save(update_fields=fields)
    return referral
