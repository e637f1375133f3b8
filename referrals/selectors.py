"""Reads that matter: a member's referral summary and referrals, the funnel, the top referrers."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.db.models import Count, Q, QuerySet, Sum
from django.utils import timezone

from customers.models import Customer
from referrals.models import Referral, ReferralCode, ReferralLinkOpen
from referrals.services.codes import referral_link

Status = Referral.Status


@dataclass(frozen=True)
class ReferralSummary:
    code: str  # empty while the member has no code
    link: str  # empty with the code
    counts: dict[str, int]  # status -> referrals the member made
    total: int
    points_earned: int
    vouchers_earned: int


def _counts() -> dict[str, Count]:
    return {status: Count("pk", filter=Q(status=status)) for status in Status.values}


def referral_summary_for_customer(customer: Customer, *, code: ReferralCode | None = None) -> ReferralSummary:
    """The member's code and link, and their referrals counted by status, with the points and
    vouchers they earned. Reads only: a member without a code yet (``services.referral_code_for``
    makes it) gets an empty code and link. Two queries; one when the caller passes the member's
    ``code`` it holds already."""
    if code is None:
        code = ReferralCode.objects.filter(customer_id=customer.pk).first()
    elif code.customer_id != customer.pk:
        raise ValueError("the code is another member's")
    totals = Referral.objects.filter(referrer=customer).aggregate(
        **_counts(),
        points=Sum("referrer_points", filter=Q(status=Status.REWARDED)),
        vouchers=Count("referrer_voucher", filter=Q(status=Status.REWARDED)),
    )
    counts = {status: int(totals[status]) for status in Status.values}
    return ReferralSummary(
        code=code.code if code else "",
        link=referral_link(code.code) if code else "",
        counts=counts,
        total=sum(counts.values()),
        points_earned=int(totals["points"] or 0),
        vouchers_earned=int(totals["vouchers"]),
    )


def referrals_for_customer(customer: Customer) -> QuerySet[Referral]:
    """The referrals the member made, newest first, with the friend and the voucher earned."""
    return (
        Referral.objects.filter(referrer=customer)
        .select_related("friend", "referrer_voucher__reward")
        .order_by("-created_at", "-id")
    )


@dataclass(frozen=True)
class Funnel:
    start: datetime.date
    end: datetime.date
    links_opened: int
    signups: int
    qualified: int
    rewarded: int


def _day_range(start: datetime.date, end: datetime.date) -> tuple[datetime.datetime, datetime.datetime]:
    zone = timezone.get_current_timezone()
    begin = datetime.datetime.combine(start, datetime.time.min, tzinfo=zone)
    finish = datetime.datetime.combine(end + datetime.timedelta(days=1), datetime.time.min, tzinfo=zone)
    return begin, finish


def referral_funnel(*, start: datetime.date, end: datetime.date) -> Funnel:
    """From ``start`` to ``end`` (local days, both included): links opened, referred sign-ups,
    referrals that qualified (whatever became of them after) and referrals rewarded. Two queries."""
    begin, finish = _day_range(start, end)
    opens = ReferralLinkOpen.objects.filter(day__gte=start, day__lte=end).aggregate(total=Sum("opens"))["total"]
    counted = Referral.objects.aggregate(
        signups=Count("pk", filter=Q(created_at__gte=begin, created_at__lt=finish)),
        qualified=Count("pk", filter=Q(qualified_at__gte=begin, qualified_at__lt=finish)),
        rewarded=Count("pk", filter=Q(rewarded_at__gte=begin, rewarded_at__lt=finish)),
    )
    return Funnel(
        start=start,
        end=end,
        links_opened=int(opens or 0),
        signups=counted["signups"],
        qualified=counted["qualified"],
        rewarded=counted["rewarded"],
    )


@dataclass(frozen=True)
class TopReferrer:
    customer_id: int
    name: str
    email: str
    code: str
    signups: int
    rewarded: int
    points_earned: int


def top_referrers(*, start: datetime.date, end: datetime.date, limit: int = 10) -> list[TopReferrer]:
    """The members whose friends signed up from ``start`` to ``end``, most rewarded referrals
    first (then most sign-ups). One query."""
    begin, finish = _day_range(start, end)
    rows = (
        Referral.objects.filter(created_at__gte=begin, created_at__lt=finish)
        .values("referrer_id", "referrer__first_name", "referrer__last_name", "referrer__email", "code")
        .annotate(
            signups=Count("pk"),
            rewarded=Count("pk", filter=Q(status=Status.REWARDED)),
            points=Sum("referrer_points", filter=Q(status=Status.REWARDED)),
        )
        .order_by("-rewarded", "-signups", "referrer_id")[:limit]
    )
    return [
        TopReferrer(
            customer_id=row["referrer_id"],
            name=f"{row['referrer__first_name']} {row['referrer__last_name']}".strip(),
            email=row["referrer__email"],
            code=row["code"],
            signups=row["signups"],
            rewarded=row["rewarded"],
            points_earned=int(row["points"] or 0),
        )
        for row in rows
    ]
