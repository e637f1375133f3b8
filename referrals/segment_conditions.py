"""The segment condition over referrals, registered in ``customers.segments`` from
``ReferralsConfig.ready()``: an ``Exists`` correlated with the customer, so a segment mixing it
with other conditions stays one SQL query."""

from __future__ import annotations

from django.db.models import Count, Exists, OuterRef, Q
from django.utils.translation import gettext_lazy as _

from customers.segments import segment_condition_register
from referrals.models import Referral


def referrals_rewarded_at_least(count: int) -> Q | Exists:
    """Members with at least ``count`` rewarded referrals (friends who joined and bought)."""
    if count <= 0:
        return Q(pk__isnull=False)  # everyone: no referrals is at least 0
    rewarded = (
        Referral.objects.filter(referrer=OuterRef("pk"), status=Referral.Status.REWARDED)
        .order_by()
        .values("referrer")
        .annotate(rewarded=Count("pk"))
        .filter(rewarded__gte=count)
    )
    return Exists(rewarded)


def segment_conditions_register_referrals() -> None:
    segment_condition_register(
        "referrals_rewarded_at_least",
        label=_("Rewarded referrals at least"),
        value_type="integer",
        min_value=0,
        build=referrals_rewarded_at_least,
        help_text=_("Friends who joined with the member's link and made a qualifying purchase."),
    )
