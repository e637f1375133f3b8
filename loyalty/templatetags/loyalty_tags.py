"""Statement lines in the customer's language: built from what caused an entry, not from the
stored English ``reason`` (which stays for staff and for adjustments written by staff).

Grants from the apps above loyalty (campaigns, referrals) are told apart by their kind and the
prefix of their idempotency key, so loyalty needs none of their code. A name those apps put in
the reason (a campaign's, a friend's, a purchase's) is taken back out of it when the reason has
the shape the app writes, and the line is still translated without it when it does not."""

from __future__ import annotations

from collections.abc import Callable

from django import template
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from loyalty.models import LedgerEntry, Voucher
from loyalty.services.rewards import voucher_code_display

register = template.Library()

Kind = LedgerEntry.Kind
Describe = Callable[[LedgerEntry, list[str]], str]

FIXED_TEXTS: dict[str, Callable[[], str]] = {
    Kind.EXPIRE: lambda: _("Points expired"),
    Kind.REPAY: lambda: _("Points owed from an earlier refund"),
    Kind.WRITE_OFF: lambda: _("Points already spent, written off"),
}

# When no key prefix below matches: never the English reason for a grant.
GRANT_TEXTS: dict[str, Callable[[], str]] = {
    Kind.GIFT: lambda: _("A gift from us"),
    Kind.BIRTHDAY: lambda: _("Birthday gift"),
    Kind.REFERRAL: lambda: _("Referral reward"),
    Kind.BONUS: lambda: _("Bonus points"),
}


def _between(reason: str, start: str, end: str = "") -> str:
    """The name an app put in its English ``reason`` between ``start`` and ``end``, or "" when the
    reason does not have that shape."""
    if len(reason) > len(start) + len(end) and reason.startswith(start) and reason.endswith(end):
        return reason[len(start) : len(reason) - len(end)].strip()
    return ""


def _campaign_gift(entry: LedgerEntry, key: list[str]) -> str:
    # ``campaign:<campaign>:<customer>``: a launch writes the campaign's name as the reason, a
    # gift choice "Gift from campaign <name>: <option label>"; both are staff-entered.
    name = _between(entry.reason, "Gift from campaign ") or entry.reason.strip()
    return _("Gift: %(campaign)s") % {"campaign": name} if name else _("A gift from us")


def _contest_prize(entry: LedgerEntry, key: list[str]) -> str:
    # ``contest-prize:<winner>``, reason "Contest prize: <campaign name>"
    name = _between(entry.reason, "Contest prize: ")
    return _("Contest prize: %(campaign)s") % {"campaign": name} if name else _("Contest prize")


def _thank_you_gift(entry: LedgerEntry, key: list[str]) -> str:
    # ``thank-you-gift:<purchase>``, reason "Thank-you gift for purchase <external id>"
    purchase = _between(entry.reason, "Thank-you gift for purchase ")
    if purchase:
        return _("Thank-you gift for purchase %(id)s") % {"id": purchase}
    return _("Thank-you gift for your purchase")


def _birthday(entry: LedgerEntry, key: list[str]) -> str:
    # ``birthday:<customer>:<year>``
    year = key[2] if len(key) > 2 and key[2].isdigit() else ""
    return _("Birthday gift %(year)s") % {"year": year} if year else _("Birthday gift")


def _referral_claw_back(entry: LedgerEntry) -> str:
    # ``referral:<referral>:<side>:claw-back``, reason "Referral taken back: purchase <id> refunded"
    purchase = _between(entry.reason, "Referral taken back: purchase ", " refunded")
    if purchase:
        return _("Referral reward taken back: purchase %(id)s refunded") % {"id": purchase}
    return _("Referral reward taken back")


def _referrer_reward(entry: LedgerEntry) -> str:
    # ``referral:<referral>:referrer``, reason "Referral: <friend> joined and bought"
    friend = _between(entry.reason, "Referral: ", " joined and bought")
    if friend:
        return _("Reward for referring %(friend)s") % {"friend": friend}
    return _("Reward for referring a friend")


def _friend_reward(entry: LedgerEntry) -> str:
    # ``referral:<referral>:friend``, reason "Welcome: referred by <referrer>"
    referrer = _between(entry.reason, "Welcome: referred by ")
    if referrer:
        return _("Welcome gift: referred by %(friend)s") % {"friend": referrer}
    return _("Welcome gift for joining through a friend")


def _referral(entry: LedgerEntry, key: list[str]) -> str:
    if key[-1] == "claw-back":
        return _referral_claw_back(entry)
    side = key[2] if len(key) > 2 else ""
    if side == "referrer":
        return _referrer_reward(entry)
    if side == "friend":
        return _friend_reward(entry)
    return _("Referral reward")


# (kind, first part of the idempotency key): the keys campaigns and referrals grant under.
KEY_TEXTS: dict[tuple[str, str], Describe] = {
    (Kind.GIFT, "campaign"): _campaign_gift,
    (Kind.GIFT, "contest-prize"): _contest_prize,
    (Kind.GIFT, "thank-you-gift"): _thank_you_gift,
    (Kind.GIFT, "feedback"): lambda entry, key: _("Thank you for your feedback"),
    (Kind.GIFT, "win-back"): lambda entry, key: _("A gift to welcome you back"),
    (Kind.BIRTHDAY, "birthday"): _birthday,
    (Kind.REFERRAL, "referral"): _referral,
}


def _owed(entry: LedgerEntry) -> str:
    # The zero-point note of ``points_reverse``: "<n> points already spent: owed, ..."
    points = entry.reason.split(" ", 1)[0]
    if points.isdigit():
        return ngettext(
            "%(points)s point already spent: owed, repaid from future earnings",
            "%(points)s points already spent: owed, repaid from future earnings",
            int(points),
        ) % {"points": points}
    return _("Points already spent: owed, repaid from future earnings")


def _redemption(voucher: Voucher, amount: int) -> str:
    if amount > 0:
        return _("Voucher %(code)s cancelled, points returned") % {"code": voucher_code_display(voucher.code)}
    if voucher.reward is not None:
        return _("Reward: %(name)s") % {"name": voucher.reward.name}
    return _("Voucher %(code)s") % {"code": voucher_code_display(voucher.code)}


def _own_cause(entry: LedgerEntry) -> str | None:
    """The line for loyalty's own causes: a purchase, a refund, a voucher; None for the others."""
    if entry.kind == Kind.EARN and entry.purchase_id and entry.purchase is not None:
        return _("Purchase %(id)s") % {"id": entry.purchase.external_id}
    if entry.kind == Kind.REFUND and entry.refund_id and entry.refund is not None:
        return _("Refund of purchase %(id)s") % {"id": entry.refund.purchase.external_id}
    if entry.kind == Kind.REDEEM and entry.voucher_id and entry.voucher is not None:
        return _redemption(entry.voucher, entry.amount)
    return None


def _grant(entry: LedgerEntry, key: list[str]) -> str:
    describe = KEY_TEXTS.get((entry.kind, key[0]))
    if describe is not None:
        return describe(entry, key)
    if entry.kind in GRANT_TEXTS:
        return GRANT_TEXTS[entry.kind]()
    return entry.reason


@register.filter
def statement_detail(entry: LedgerEntry) -> str:
    """What caused the entry, translated; the staff-written reason for adjustments. Reads only the
    entry and the rows ``ledger_for_customer`` selects with it: no query."""
    if entry.kind in FIXED_TEXTS:
        return FIXED_TEXTS[entry.kind]()
    if entry.kind == Kind.ADJUST:
        return entry.reason
    key = entry.idempotency_key.split(":")
    if key[-1] == "owed":
        return _owed(entry)
    return _own_cause(entry) or _grant(entry, key)
