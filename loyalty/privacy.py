"""The loyalty section of a customer's data export, and what erasure does to loyalty data.

Registered in ``LoyaltyConfig.ready()`` (``customers.privacy`` knows nothing of loyalty). The
export holds the points account (balance, tier), every purchase with its lines and refunds, the
whole ledger, vouchers, tier changes and stamp cards. Erasure keeps all of it for the books
(purchase totals, ledger entries and balances: ``verify_ledger`` still adds up), cancels the
vouchers still open (their points go back to the account, by ``voucher_cancel``) and drops the
payment and shipping fingerprints of the purchases, which are derived from personal details.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch, Sum

from customers.models import Customer
from customers.privacy import iso, money, register_privacy_section
from loyalty import services
from loyalty.errors import VoucherNotCancellable
from loyalty.models import (
    LedgerEntry,
    PendingPoints,
    PointsAccount,
    Purchase,
    PurchaseLine,
    Refund,
    StampProgress,
    TierChange,
    Voucher,
)


def _account(customer: Customer) -> dict[str, Any] | None:
    account = PointsAccount.objects.select_related("tier").filter(customer=customer).first()
    if account is None:
        return None
    pending = PendingPoints.objects.filter(account=account, status=PendingPoints.Status.PENDING).aggregate(
        total=Sum("points")
    )["total"]
    return {
        "balance": account.balance,
        "pending_points": int(pending or 0),
        "points_owed": account.owed,
        "lifetime_earned": account.lifetime_earned,
        "tier": account.tier.name if account.tier else None,
        "in_tier_since": iso(account.tier_since),
        "downgrade_grace_until": iso(account.tier_grace_until),
    }


def _purchases(customer: Customer) -> list[dict[str, Any]]:
    purchases = (
        Purchase.objects.filter(customer=customer)
        .select_related("partner")
        .prefetch_related(
            Prefetch("lines", queryset=PurchaseLine.objects.order_by("id")),
            Prefetch("refunds", queryset=Refund.objects.order_by("created_at", "id")),
        )
        .order_by("occurred_at", "id")
    )
    return [
        {
            "partner": purchase.partner.name,
            "external_id": purchase.external_id,
            "occurred_at": iso(purchase.occurred_at),
            "amount": money(purchase.amount),
            "currency": purchase.currency,
            "refunded_amount": money(purchase.refunded_amount),
            "store": purchase.store,
            "channel": purchase.channel,
            "points_earned": purchase.points_earned,
            "points_pending": purchase.points_pending,
            "lines": [
                {
                    "sku": line.sku,
                    "category": line.category,
                    "quantity": line.quantity,
                    "unit_price": money(line.unit_price),
                }
                for line in purchase.lines.all()
            ],
            "refunds": [
                {
                    "external_id": refund.external_id,
                    "amount": money(refund.amount),
                    "points_reversed": refund.points_reversed,
                    "points_owed": refund.points_owed,
                    "points_written_off": refund.points_written_off,
                    "recorded_at": iso(refund.created_at),
                }
                for refund in purchase.refunds.all()
            ],
        }
        for purchase in purchases
    ]


def _ledger(customer: Customer) -> list[dict[str, Any]]:
    entries = LedgerEntry.objects.filter(account__customer=customer).order_by("id")
    return [
        {
            "at": iso(entry.created_at),
            "kind": entry.kind,
            "points": entry.amount,
            "balance_after": entry.balance_after,
            "reason": entry.reason,
            "expires_at": iso(entry.expires_at),
        }
        for entry in entries
    ]


def _vouchers(customer: Customer) -> list[dict[str, Any]]:
    vouchers = Voucher.objects.filter(customer=customer).select_related("reward").order_by("issued_at", "id")
    return [
        {
            "code": services.voucher_code_display(voucher.code),
            "reward": voucher.reward.name if voucher.reward else None,
            "kind": voucher.kind,
            "value": money(voucher.value),
            "currency": voucher.currency,
            "status": voucher.status,
            "source": voucher.source,
            "points_spent": voucher.points_spent,
            "issued_at": iso(voucher.issued_at),
            "expires_at": iso(voucher.expires_at),
            "used_at": iso(voucher.redeemed_at),
            "cancelled_at": iso(voucher.cancelled_at),
        }
        for voucher in vouchers
    ]


def _tier_changes(customer: Customer) -> list[dict[str, Any]]:
    changes = (
        TierChange.objects.filter(account__customer=customer)
        .select_related("from_tier", "to_tier")
        .order_by("created_at", "id")
    )
    return [
        {
            "from": change.from_tier.name if change.from_tier else None,
            "to": change.to_tier.name,
            "reason": change.reason,
            "at": iso(change.created_at),
        }
        for change in changes
    ]


def _stamp_cards(customer: Customer) -> list[dict[str, Any]]:
    progress = StampProgress.objects.filter(customer=customer).select_related("card").order_by("card_id")
    return [
        {
            "card": row.card.name,
            "stamps": row.stamps,
            "stamps_for_a_reward": row.card.stamps_required,
            "rewards_completed": row.completed,
        }
        for row in progress
    ]


def loyalty_data_export(customer: Customer) -> dict[str, Any]:
    """The customer's loyalty data. Nine queries (one without an account), whatever the number of
    purchases, entries or vouchers."""
    return {
        "account": _account(customer),
        "purchases": _purchases(customer),
        "ledger": _ledger(customer),
        "vouchers": _vouchers(customer),
        "tier_changes": _tier_changes(customer),
        "stamp_cards": _stamp_cards(customer),
    }


def loyalty_data_erase(customer: Customer) -> None:
    """Cancel the customer's open vouchers (``voucher_cancel``: the points spent come back, the
    reward's stock too) and clear the purchases' payment and shipping fingerprints. Purchases,
    refunds and the ledger stay as they are. A voucher that can no longer be cancelled (past its
    date, used meanwhile) is left as it is; a second run finds nothing open and changes nothing.

    Holds the points account (when there is one; none is made) from the start: every writer
    takes it before the customer row and the rows below it (a feedback reward locks the account,
    then the answer, then the customer), and so must erasure, which locks the customer next."""
    list(PointsAccount.objects.select_for_update().filter(customer_id=customer.pk).values_list("pk", flat=True))
    for voucher in Voucher.objects.filter(customer=customer, status=Voucher.Status.ISSUED).order_by("pk"):
        try:
            services.voucher_cancel(voucher=voucher)
        except VoucherNotCancellable:
            continue
    Purchase.objects.filter(customer=customer).exclude(payment_fingerprint="", shipping_fingerprint="").update(
        payment_fingerprint="", shipping_fingerprint=""
    )


def privacy_section_register() -> None:
    register_privacy_section(key="loyalty", order=100, export=loyalty_data_export, erase=loyalty_data_erase)
