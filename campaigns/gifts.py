"""The give-first gift of an automation (birthday, win-back): points, a voucher, or both, each
granted once by the automation's key, and described in the customer's language for the message."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.utils import translation
from django.utils.translation import gettext as _

from customers import outbox
from customers.models import Customer
from loyalty import services as loyalty_services
from loyalty.models import PointsAccount, Reward, Voucher


@dataclass(frozen=True)
class GiftGranted:
    points: int
    voucher: Voucher | None
    text: str  # what the gift is, in the customer's language, for the {gift} placeholder
    balance: int
    tier: str


def gift_describe(*, customer: Customer, points: int, voucher: Voucher | None) -> str:
    """``50 bonus points``, ``a voucher for Free coffee (code ABCD-EFGH-JKMN)``, or both."""
    with translation.override(customer.language):
        if voucher is not None:
            values = {
                "points": points,
                "reward": voucher.reward.name if voucher.reward else "",
                "code": loyalty_services.voucher_code_display(voucher.code),
            }
            if points:
                return _("%(points)s bonus points and a voucher for %(reward)s (code %(code)s)") % values
            return _("a voucher for %(reward)s (code %(code)s)") % values
        if points:
            return _("%(points)s bonus points") % {"points": points}
        return _("our warmest wishes")


def gift_grant(
    *, customer: Customer, points: int, reward: Reward | None, kind: str, reason: str, idempotency_key: str
) -> GiftGranted:
    """Grant the points (``points_earn``) and issue the voucher, each once per ``idempotency_key``:
    a repeat returns what the first call granted. Call inside the automation's transaction, after
    its own once-only row is written."""
    if points:
        loyalty_services.points_earn(
            customer=customer, amount=points, kind=kind, reason=reason, idempotency_key=idempotency_key
        )
    voucher = None
    if reward is not None:
        voucher = Voucher.objects.select_related("reward").filter(idempotency_key=idempotency_key).first()
        if voucher is None:
            voucher = loyalty_services.voucher_issue(
                customer=customer, reward=reward, source=Voucher.Source.GIFT, idempotency_key=idempotency_key
            )
    account = PointsAccount.objects.select_related("tier").filter(customer=customer).first()
    return GiftGranted(
        points=points,
        voucher=voucher,
        text=gift_describe(customer=customer, points=points, voucher=voucher),
        balance=account.balance if account else 0,
        tier=account.tier.name if account and account.tier else "",
    )


def gift_grant_and_announce(
    *,
    record: Any,
    customer: Customer,
    points: int,
    reward: Reward | None,
    kind: str,
    reason: str,
    purpose: str,
    idempotency_key: str,
) -> Any:
    """Grant a gift (once, by key) and queue its marketing message (once, by the same key), then
    link both to ``record`` (a BirthdayReward or WinBackOffer, already saved as the once-only
    guard). The gift goes to every member; the outbox sends the message only within consent."""
    gift = gift_grant(
        customer=customer, points=points, reward=reward, kind=kind, reason=reason, idempotency_key=idempotency_key
    )
    record.voucher = gift.voucher
    record.message = outbox.message_queue(
        customer=customer,
        purpose=purpose,
        idempotency_key=idempotency_key,
        context={
            "gift": gift.text,
            "points": gift.points,
            "balance": gift.balance,
            "tier": gift.tier,
            "voucher_code": gift.voucher.code if gift.voucher else "",
        },
        is_marketing=True,
    )
    record.save(update_fields=["voucher", "message"])
    return record
