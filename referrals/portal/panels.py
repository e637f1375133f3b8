"""The referral panel on the portal home page, registered in ``ReferralsConfig.ready()``."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, IntegerField, OuterRef, Q, Subquery, Sum
from django.db.models.functions import Coalesce

from customers.models import Customer
from customers.portal.panels import register_home_panel
from referrals.models import Referral, ReferralCode
from referrals.services import referral_link


def home_panel_context(customer: Customer) -> dict[str, Any]:
    """The member's link (when they have a code: the referrals page makes it) and what their
    referrals earned. One query."""
    made = Referral.objects.filter(referrer=OuterRef("pk")).order_by().values("referrer")
    row = (
        Customer.objects.filter(pk=customer.pk)
        .values(
            code=Subquery(ReferralCode.objects.filter(customer=OuterRef("pk")).values("code")[:1]),
            total=Coalesce(Subquery(made.annotate(n=Count("pk")).values("n")), 0, output_field=IntegerField()),
            rewarded=Coalesce(
                Subquery(made.annotate(n=Count("pk", filter=Q(status=Referral.Status.REWARDED))).values("n")),
                0,
                output_field=IntegerField(),
            ),
            points=Coalesce(
                Subquery(
                    made.annotate(n=Sum("referrer_points", filter=Q(status=Referral.Status.REWARDED))).values("n")
                ),
                0,
                output_field=IntegerField(),
            ),
        )
        .first()
    ) or {"code": None, "total": 0, "rewarded": 0, "points": 0}
    return {**row, "link": referral_link(row["code"]) if row["code"] else ""}


def home_panel_register() -> None:
    register_home_panel(
        key="referrals", order=200, template="portal/referrals/_home_panel.html", context=home_panel_context
    )
