"""Stamp cards ("buy ten coffees, the eleventh is free")."""

from __future__ import annotations

from collections.abc import Sequence

from django.db.models import F

from customers.models import Customer
from loyalty.earning import Line
from loyalty.models import Program, Purchase, StampCard, StampProgress, Voucher
from loyalty.program import stamp_cards_get


def _matches(card: StampCard, line: Line) -> bool:
    if card.sku:
        return line.sku == card.sku
    return bool(card.category) and line.category.lower() == card.category.lower()


def stamps_collect(*, customer: Customer, purchase: Purchase, lines: Sequence[Line], program: Program) -> list[Voucher]:
    """Add a stamp per matching item to each active card; a full card issues its reward voucher and
    starts again. Caller holds the customer's points account lock (progress rows are not raced)."""
    from loyalty.services.rewards import voucher_issue

    if not lines:
        return []
    vouchers = []
    for card in stamp_cards_get():
        stamps = sum(line.quantity for line in lines if _matches(card, line))
        if not stamps:
            continue
        progress, _created = StampProgress.objects.get_or_create(card=card, customer=customer)
        total = progress.stamps + stamps
        completed, left = divmod(total, card.stamps_required)
        StampProgress.objects.filter(pk=progress.pk).update(stamps=left, completed=F("completed") + completed)
        for number in range(progress.completed + 1, progress.completed + completed + 1):
            vouchers.append(
                voucher_issue(
                    customer=customer,
                    reward=card.reward,
                    source=Voucher.Source.STAMP_CARD,
                    idempotency_key=f"stamp:{card.pk}:{customer.pk}:{number}",
                )
            )
    return vouchers
