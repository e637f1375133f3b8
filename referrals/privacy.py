"""The referrals section of a customer's data export, and what erasure does to referral data.

Registered in ``ReferralsConfig.ready()``. The export holds the member's code and how often its
link was opened, the referrals they made (each friend by first name and initial only, as the
portal shows them) and the referral that brought them in.

Erasure keeps every referral row for the books (who was rewarded what, and when); the erased
side then shows as erased (no name: the customer row is anonymised) and the staff note and the
hashed network address go. Referrals still open (pending, awaiting review, qualified) are closed
as rejected with a note: an erased member can no longer buy or be rewarded. The code row stays
(referrals keep the code they used); it no longer opens anything, as only active members' codes do.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q, Sum
from django.utils import timezone

from customers.models import Customer
from customers.privacy import iso, register_privacy_section
from loyalty.models import Voucher
from loyalty.services import voucher_code_display
from referrals.models import Referral, ReferralCode, ReferralLinkOpen
from referrals.services import friend_display_name, referral_link

OPEN_STATUSES = (Referral.Status.PENDING, Referral.Status.REVIEW, Referral.Status.QUALIFIED)
# Stored on the rows erasure closes, like a ledger reason: data for staff, not page text.
ERASURE_NOTE = "Closed: a member's account was erased."


def _person(customer: Customer) -> dict[str, Any]:
    erased = customer.status == Customer.Status.ERASED
    return {"name": None if erased else friend_display_name(customer) or None, "erased": erased}


def _voucher(voucher: Voucher | None) -> str | None:
    return voucher_code_display(voucher.code) if voucher is not None else None


def _code(customer: Customer) -> dict[str, Any] | None:
    code = ReferralCode.objects.filter(customer=customer).first()
    if code is None:
        return None
    opens = ReferralLinkOpen.objects.filter(code=code).aggregate(total=Sum("opens"))["total"]
    return {
        "code": code.code,
        "link": referral_link(code.code),
        "created_at": iso(code.created_at),
        "link_opens": int(opens or 0),
    }


def _referral(referral: Referral, *, points: int, voucher: Voucher | None) -> dict[str, Any]:
    return {
        "code": referral.code,
        "status": referral.status,
        "reason": referral.reason,
        "fraud_checks_flagged": list(referral.flags),
        "source": referral.source,
        "signed_up_at": iso(referral.created_at),
        "qualifying_purchase_by": iso(referral.window_ends_at),
        "qualified_at": iso(referral.qualified_at),
        "rewarded_at": iso(referral.rewarded_at),
        "rejected_at": iso(referral.rejected_at),
        "points": points,
        "voucher": _voucher(voucher),
    }


def referrals_data_export(customer: Customer) -> dict[str, Any]:
    """The customer's referral data. Four queries (three without a code), whatever the rows."""
    made = (
        Referral.objects.filter(referrer=customer)
        .select_related("friend", "referrer_voucher")
        .order_by("created_at", "id")
    )
    referred = Referral.objects.filter(friend=customer).select_related("referrer", "friend_voucher").first()
    return {
        "code": _code(customer),
        "referrals_made": [
            {
                "friend": _person(referral.friend),
                **_referral(referral, points=referral.referrer_points, voucher=referral.referrer_voucher),
            }
            for referral in made
        ],
        "referred_by": None
        if referred is None
        else {
            "referrer": _person(referred.referrer),
            **_referral(referred, points=referred.friend_points, voucher=referred.friend_voucher),
        },
    }


def referrals_data_erase(customer: Customer) -> None:
    """Close the open referrals on either side of the customer (rejected, with ``ERASURE_NOTE``),
    clear the staff notes of their other referrals and the hashed sign-up address. Rows,
    statuses, points and vouchers stay. Set-based; a second run matches no row."""
    now = timezone.now()
    theirs = Referral.objects.filter(Q(referrer=customer) | Q(friend=customer))
    theirs.filter(status__in=OPEN_STATUSES).update(
        status=Referral.Status.REJECTED, rejected_at=now, note=ERASURE_NOTE, updated_at=now
    )
    theirs.exclude(note__in=["", ERASURE_NOTE]).update(note="", updated_at=now)
    Referral.objects.filter(friend=customer).exclude(address_hash="").update(address_hash="", updated_at=now)


def privacy_section_register() -> None:
    register_privacy_section(key="referrals", order=300, export=referrals_data_export, erase=referrals_data_erase)
