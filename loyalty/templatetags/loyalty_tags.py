"""Statement lines in the customer's language: built from what caused an entry, not from the
stored English ``reason`` (which stays for staff and for adjustments written by staff)."""

from __future__ import annotations

from django import template
from django.utils.translation import gettext as _

from loyalty.models import LedgerEntry
from loyalty.services.rewards import voucher_code_display

register = template.Library()


FIXED_TEXTS = {
    LedgerEntry.Kind.EXPIRE: lambda: _("Points expired"),
    LedgerEntry.Kind.REPAY: lambda: _("Points owed from an earlier refund"),
    LedgerEntry.Kind.WRITE_OFF: lambda: _("Points already spent, written off"),
}


def _redemption(entry: LedgerEntry) -> str:
    voucher = entry.voucher
    if entry.amount > 0:
        return _("Voucher %(code)s cancelled, points returned") % {"code": voucher_code_display(voucher.code)}
    if voucher.reward is not None:
        return _("Reward: %(name)s") % {"name": voucher.reward.name}
    return _("Voucher %(code)s") % {"code": voucher_code_display(voucher.code)}


@register.filter
def statement_detail(entry: LedgerEntry) -> str:
    """What caused the entry, translated; the staff-written reason for adjustments and grants."""
    if entry.kind in FIXED_TEXTS:
        return FIXED_TEXTS[entry.kind]()
    if entry.kind == LedgerEntry.Kind.EARN and entry.purchase_id:
        return _("Purchase %(id)s") % {"id": entry.purchase.external_id}
    if entry.kind == LedgerEntry.Kind.REFUND and entry.refund_id:
        return _("Refund of purchase %(id)s") % {"id": entry.refund.purchase.external_id}
    if entry.kind == LedgerEntry.Kind.REDEEM and entry.voucher_id:
        return _redemption(entry)
    return entry.reason or ""
