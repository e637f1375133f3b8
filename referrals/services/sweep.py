"""What the periodic sweep finds from the data, whatever events were lost: referrals to qualify,
to reward, to take back, and pending ones whose window has passed. Each a single query."""

from __future__ import annotations

import datetime

from django.db.models import DateTimeField, Exists, ExpressionWrapper, F, OuterRef, Subquery, Value
from django.utils import timezone

from loyalty.models import Purchase, Refund
from referrals.fraud import PURCHASE_TOLERANCE
from referrals.models import Referral
from referrals.program import referral_program_get

# Leave the event's own task time to act before the sweep does the same (harmless, but wasteful).
SWEEP_GRACE = datetime.timedelta(minutes=2)
# A purchase may reach us a little after the window's end (a till offline for a while).
EXPIRY_GRACE = datetime.timedelta(days=1)


def _qualifying_purchases() -> Exists:
    program = referral_program_get()
    start = ExpressionWrapper(OuterRef("created_at") - Value(PURCHASE_TOLERANCE), output_field=DateTimeField())
    return Exists(
        Purchase.objects.filter(
            customer_id=OuterRef("friend_id"),
            occurred_at__gte=start,
            occurred_at__lte=OuterRef("window_ends_at"),
        )
        .alias(net=F("amount") - F("refunded_amount"))
        .filter(net__gte=program.min_purchase)
    )


def referrals_to_process(*, now: datetime.datetime | None = None, limit: int = 500) -> list[int]:
    """Pending referrals whose friend has a qualifying purchase recorded over ``SWEEP_GRACE`` ago,
    and qualified referrals left unrewarded that long (their task was lost or died)."""
    now = now or timezone.now()
    if not referral_program_get().is_enabled:
        return []
    settled = now - SWEEP_GRACE
    pending = (
        Referral.objects.filter(status=Referral.Status.PENDING, created_at__lte=settled)
        .filter(_qualifying_purchases())
        .values_list("pk", flat=True)
    )
    qualified = Referral.objects.filter(status=Referral.Status.QUALIFIED, qualified_at__lte=settled).values_list(
        "pk", flat=True
    )
    return sorted({*pending[:limit], *qualified[:limit]})[:limit]


def referrals_to_claw_back(*, limit: int = 500) -> list[int]:
    """The qualifying purchases, refunded in full by a refund recorded inside the window, of
    referrals that still stand (their refund event was lost)."""
    last_refund = Refund.objects.filter(purchase_id=OuterRef("qualifying_purchase_id")).order_by("-created_at", "-pk")
    return list(
        Referral.objects.filter(
            status__in=[Referral.Status.QUALIFIED, Referral.Status.REVIEW, Referral.Status.REWARDED],
            qualifying_purchase__refunded_amount__gte=F("qualifying_purchase__amount"),
        )
        .annotate(refunded_at=Subquery(last_refund.values("created_at")[:1]))
        .filter(refunded_at__lte=F("window_ends_at"))
        .order_by("pk")
        .values_list("qualifying_purchase_id", flat=True)[:limit]
    )


def referrals_expire(*, now: datetime.datetime | None = None) -> int:
    """Reject, with the reason ``window_expired``, pending referrals whose window ended over a day
    ago without a qualifying purchase. One UPDATE; a row a task holds is waited for and then
    re-checked by the database (still pending?). Returns how many were rejected."""
    now = now or timezone.now()
    return (
        Referral.objects.filter(status=Referral.Status.PENDING, window_ends_at__lt=now - EXPIRY_GRACE)
        .exclude(_qualifying_purchases())
        .update(status=Referral.Status.REJECTED, reason=Referral.Reason.WINDOW_EXPIRED, rejected_at=now, updated_at=now)
    )
