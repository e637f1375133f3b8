"""Demo loyalty programme: tiers, earning rules, a stamp card, rewards and a year of purchases.
Idempotent: purchases have fixed external ids, so a second run records nothing new."""

from __future__ import annotations

import datetime
import random
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from core.errors import DomainError
from core.events import events_muted
from customers.demo import DEMO_CUSTOMER_EMAIL
from customers.models import Customer, Partner
from loyalty import services
from loyalty.earning import Line
from loyalty.models import EarningRule, Program, Purchase, Reward, StampCard, Tier, Voucher
from loyalty.program import program_cache_clear

CATALOGUE = [
    # sku, category, unit price
    ("ESP-1", "coffee", Decimal("3.20")),
    ("CAP-1", "coffee", Decimal("4.10")),
    ("LAT-1", "coffee", Decimal("4.50")),
    ("TEA-1", "tea", Decimal("3.00")),
    ("KOR-1", "pastries", Decimal("3.80")),
    ("PIR-1", "pastries", Decimal("2.90")),
    ("BEAN-500", "beans", Decimal("14.90")),
    ("MUG-1", "design", Decimal("24.00")),
]


def _programme() -> tuple[list[Tier], list[Reward]]:
    Program.objects.get_or_create(pk=1)
    tiers = [
        Tier.objects.get_or_create(rank=0, defaults={"name": "Bronze", "threshold": 0, "perks": "Birthday treat"})[0],
        Tier.objects.get_or_create(
            rank=1,
            defaults={
                "name": "Silver",
                "threshold": 500,
                "multiplier": Decimal("1.25"),
                "perks": "Birthday treat\nFree delivery on web orders\nEarly access to new roasts",
            },
        )[0],
        Tier.objects.get_or_create(
            rank=2,
            defaults={
                "name": "Gold",
                "threshold": 1500,
                "multiplier": Decimal("1.50"),
                "perks": "Birthday treat\nFree delivery\nPrivate tastings\nExclusive offers",
            },
        )[0],
    ]
    now = timezone.now()
    rules = [
        ("1 point per euro", EarningRule.Kind.BASE_RATE, {"points_per_unit": Decimal(1)}),
        (
            "Coffee lovers: +1 point per euro on coffee",
            EarningRule.Kind.CATEGORY_BONUS,
            {"points_per_unit": Decimal(1), "category": "coffee"},
        ),
        ("Welcome: 100 points on the first purchase", EarningRule.Kind.FIRST_PURCHASE, {"bonus_points": 100}),
        ("Birthday month: double points", EarningRule.Kind.BIRTHDAY_MONTH, {"multiplier": Decimal(2)}),
        (
            "Kiitos week: triple points for Gold",
            EarningRule.Kind.SPECIAL_DAYS,
            {
                "multiplier": Decimal(3),
                "starts_at": now + datetime.timedelta(days=10),
                "ends_at": now + datetime.timedelta(days=17),
            },
        ),
    ]
    for name, kind, fields in rules:
        rule, created = EarningRule.objects.get_or_create(name=name, defaults={"kind": kind, **fields})
        if created and kind == EarningRule.Kind.SPECIAL_DAYS:
            rule.tiers.set([tiers[2]])
    free_coffee, _created = Reward.objects.get_or_create(
        name="A coffee on us (stamp card)",
        defaults={"kind": Reward.Kind.PRODUCT, "points_cost": 0, "is_active": False, "voucher_valid_days": 90},
    )
    StampCard.objects.get_or_create(
        name="Coffee card: buy 10, the 11th is on us",
        defaults={"category": "coffee", "stamps_required": 10, "reward": free_coffee},
    )
    rewards = []
    for name, kind, cost, value, extra in [
        ("Coffee sample: our new Ethiopian roast", Reward.Kind.SAMPLE, 150, Decimal(0), {"stock": 200}),
        ("Free shipping on a web order", Reward.Kind.FREE_SHIPPING, 300, Decimal("5.90"), {}),
        ("5 euro off your next purchase", Reward.Kind.FIXED_DISCOUNT, 500, Decimal(5), {}),
        ("15 % off beans", Reward.Kind.PERCENT_DISCOUNT, 800, Decimal(15), {}),
        ("Vastavuoro tote bag", Reward.Kind.GIFT, 1200, Decimal(12), {"stock": 25}),
        ("Private tasting for two", Reward.Kind.GIFT, 2000, Decimal(40), {"min_tier": tiers[2], "stock": 8}),
    ]:
        rewards.append(
            Reward.objects.get_or_create(
                name=name, defaults={"kind": kind, "points_cost": cost, "value": value, **extra}
            )[0]
        )
    program_cache_clear()
    return tiers, rewards


DEMO_SEGMENTS = [
    ("Coffee lovers", "Everyone tagged coffee.", "all", [{"condition": "tag", "value": "coffee"}]),
    (
        "Lapsed regulars",
        "Bought at least 3 times in a year, but not in the last 60 days.",
        "all",
        [
            {"condition": "purchase_count_in_days_at_least", "value": {"count": 3, "days": 365}},
            {"condition": "days_since_last_purchase_at_least", "value": 60},
        ],
    ),
    ("Gold and Silver", "Our most loyal members.", "all", [{"condition": "tier_rank_at_least", "value": 1}]),
    (
        "Finnish speakers who opted in",
        "For the Finnish newsletter.",
        "all",
        [
            {"condition": "language", "value": "fi"},
            {"condition": "email_consent", "value": True},
        ],
    ),
]


def _demo_segments() -> int:
    from customers.models import Segment
    from customers.segments import segment_refresh

    for name, description, match, rules in DEMO_SEGMENTS:
        segment, _created = Segment.objects.get_or_create(
            name=name, defaults={"description": description, "match": match, "rules": rules}
        )
        segment_refresh(segment=segment)
    return len(DEMO_SEGMENTS)


def demo_loyalty_load() -> str:
    """A year of purchases for the demo customers, some refunds and redemptions. Past history:
    recorded with events muted, so no thank-you goes out today for a purchase of last spring."""
    with events_muted():
        summary = _demo_history()
    return f"{summary} {_demo_segments()} segments."


def _demo_history() -> str:
    rng = random.Random(11)  # noqa: S311 - repeatable demo data, not a secret
    _tiers, rewards = _programme()
    partners = list(Partner.objects.order_by("pk")[:2])
    if not partners:
        return "Loyalty demo: no partners, skipped."
    now = timezone.now()
    recorded = redeemed = 0
    customers = list(Customer.objects.filter(status=Customer.Status.ACTIVE).order_by("pk"))
    for customer in customers:
        visits = rng.choice([0, 1, 2, 3, 5, 8, 12, 20])
        if customer.email == DEMO_CUSTOMER_EMAIL:
            visits = 24  # the portal demo login has a story to show
        recorded_for_customer = 0
        for visit in range(visits):
            items = [rng.choice(CATALOGUE) for _ in range(rng.randint(1, 4))]
            lines = [
                Line(sku=sku, category=category, quantity=rng.randint(1, 3), unit_price=price)
                for sku, category, price in items
            ]
            amount = sum((line.total for line in lines), Decimal(0))
            occurred_at = now - datetime.timedelta(days=rng.randint(1, 365), minutes=rng.randint(0, 600))
            partner = rng.choice(partners)
            external_id = f"demo-{customer.pk}-{visit}"
            refund_it = rng.random() < 0.04
            try:
                with transaction.atomic():
                    result = services.purchase_record(
                        partner=partner,
                        external_id=external_id,
                        customer=customer,
                        amount=amount,
                        currency="EUR",
                        occurred_at=occurred_at,
                        lines=lines,
                        store=rng.choice(["Kamppi", "Kallio", "Web"]),
                        channel=Purchase.Channel.STORE,
                    )
            except DomainError:
                continue
            recorded += result.created
            recorded_for_customer += result.created
            if refund_it and result.created:
                services.refund_record(purchase=result.purchase, external_id=f"{external_id}-r", amount=amount / 2)
        affordable = [reward for reward in rewards if reward.min_tier is None and reward.points_cost <= 600]
        reward = rng.choice(affordable) if visits >= 8 and affordable else None
        # Redeem only on the load that recorded the history: on a re-run, points given since (gifts,
        # referrals) could let an attempt that failed the first time succeed, adding a redemption.
        if reward is not None and recorded_for_customer:
            try:
                outcome = services.reward_redeem(
                    customer=customer, reward=reward, idempotency_key=f"demo-redeem-{customer.pk}"
                )
                redeemed += outcome.created
            except DomainError:
                pass
    used = Voucher.objects.filter(status=Voucher.Status.ISSUED, idempotency_key__startswith="demo-redeem-").first()
    if used is not None and partners:
        services.voucher_use(code=used.code, partner=partners[0], order_id="demo-order-1")
    return f"Loyalty: {recorded} purchases recorded, {redeemed} rewards redeemed ({Purchase.objects.count()} in all)."
