"""Demo referrals for `make run`: members whose friends joined and bought (rewarded), friends who
have not bought yet (pending), and one suspicious friend (the referrer's phone) in the review queue.
Idempotent: the friends are always the same demo members, purchases have fixed ids, and each step
acts only once."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.db.models import Case, Count, Exists, OuterRef, When
from django.utils import timezone

from core.errors import DomainError
from core.events import events_muted
from customers import services as customer_services
from customers.demo import DEMO_CUSTOMER_EMAIL
from customers.models import ConsentSource, Customer, Partner, SignupSource
from loyalty import services as loyalty_services
from loyalty.models import Purchase, Voucher
from referrals import services
from referrals.models import Referral, ReferralLinkOpen, ReferralProgram


@dataclass(frozen=True)
class DemoFriend:
    referrer: int  # index into the demo referrers (0 is the portal demo login)
    purchase: Decimal | None  # the first purchase after joining; None: not bought yet
    same_phone: bool = False  # the referrer's phone: the fraud check holds it for review


# In this order: a small demo (few members without a purchase to play friends) still shows a
# rewarded referral and the review queue.
FRIENDS = [
    DemoFriend(0, Decimal("32.40")),
    DemoFriend(3, Decimal("60.00"), same_phone=True),
    DemoFriend(0, Decimal("54.90")),
    DemoFriend(0, None),
    DemoFriend(1, Decimal("27.80")),
    DemoFriend(2, Decimal("41.00")),
    DemoFriend(1, None),
]
# Link opens per day (days ago -> opens) for the funnel.
LINK_OPENS = {0: 4, 1: 7, 3: 5, 6: 9, 12: 3}
PURCHASE_PREFIX = "demo-referral-"


def _settled(customer: Customer) -> bool:
    """The loyalty demo redeems a reward for a member with 8 or more visits, on every load until
    it succeeds: a referral reward must not be what tips a later load into redeeming."""
    visits = Purchase.objects.filter(customer=customer).exclude(external_id__startswith=PURCHASE_PREFIX).count()
    return visits < 8 or Voucher.objects.filter(customer=customer, source=Voucher.Source.REDEMPTION).exists()


def _referrers() -> list[Customer]:
    """The portal demo login and the first three other demo members with a phone."""
    candidates = (
        Customer.objects.active()
        .filter(signup_source=SignupSource.DEMO)
        .exclude(phone="")
        .order_by(Case(When(email=DEMO_CUSTOMER_EMAIL, then=0), default=1), "pk")
    )
    chosen: list[Customer] = []
    for customer in candidates[:40]:
        if _settled(customer):
            chosen.append(customer)
        if len(chosen) == 4:
            break
    return chosen


def _friends(referrers: list[Customer]) -> list[Customer]:
    """The demo members who play the friends: those the loyalty demo gave no purchase (the same
    ones on every run: its history is repeatable), in id order. They signed up in this demo load,
    so they are new customers; no demo customer is added (the customers demo counts them)."""
    other_purchases = Purchase.objects.filter(customer=OuterRef("pk")).exclude(external_id__startswith=PURCHASE_PREFIX)
    return list(
        Customer.objects.active()
        .filter(signup_source=SignupSource.DEMO)
        .exclude(pk__in=[referrer.pk for referrer in referrers])
        .exclude(Exists(other_purchases))
        .order_by("pk")[: len(FRIENDS)]
    )


def demo_referrals_load() -> str:
    """Past history, with events muted like the loyalty demo: the friends' purchases thank nobody
    today; the referral rewards (and their two messages) are granted by the services directly."""
    ReferralProgram.objects.get_or_create(pk=1)
    referrers = _referrers()
    partner = Partner.objects.order_by("pk").first()
    if len(referrers) < 4 or partner is None:
        return "Referrals demo: not enough demo customers, skipped."
    with events_muted():
        for number, (plan, friend) in enumerate(zip(FRIENDS, _friends(referrers), strict=False), start=1):
            _friend_load(number, plan, friend, referrers[plan.referrer], partner)
        _link_opens(referrers)
    counts = dict(Referral.objects.values_list("status").annotate(count=Count("pk")).order_by())
    return (
        f"Referrals: {counts.get(Referral.Status.REWARDED, 0)} rewarded, "
        f"{counts.get(Referral.Status.PENDING, 0)} pending, "
        f"{counts.get(Referral.Status.REVIEW, 0)} awaiting review (admin: Referrals awaiting review)."
    )


def _friend_load(number: int, plan: DemoFriend, friend: Customer, referrer: Customer, partner: Partner) -> None:
    code = services.referral_code_for(referrer).code
    try:
        with transaction.atomic():
            if plan.same_phone and friend.phone != referrer.phone:
                customer_services.customer_update(customer=friend, source=ConsentSource.IMPORT, phone=referrer.phone)
            referral = services.referral_attach(code=code, friend=friend, source=Referral.Source.DEMO).referral
    except DomainError:  # demo data loaded long ago: these members are no longer new
        return
    if plan.purchase is None:
        return
    if not Purchase.objects.filter(customer=friend).exists():
        with transaction.atomic():
            loyalty_services.purchase_record(
                partner=partner,
                external_id=f"{PURCHASE_PREFIX}{number}",
                customer=friend,
                amount=plan.purchase,
                currency="EUR",
                occurred_at=timezone.now(),
                store="Kallio",
            )
    services.referral_process(referral_id=referral.pk)


def _link_opens(referrers: list[Customer]) -> None:
    today = timezone.localdate()
    for index, referrer in enumerate(referrers[:2]):
        code = services.referral_code_for(referrer)
        for days_ago, opens in LINK_OPENS.items():
            ReferralLinkOpen.objects.update_or_create(
                code=code, day=today - datetime.timedelta(days=days_ago), defaults={"opens": opens + index}
            )
