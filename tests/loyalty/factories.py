"""Loyalty test data. Staff-configured rows (tiers, earning rules, rewards, stamp cards) are plain
ORM rows; points only ever come from services (``purchase_record``, ``points_earn``), never from a
factory that sets a balance."""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import factory
from django.utils import timezone

from customers.models import Customer, Partner
from loyalty.earning import Line
from loyalty.models import EarningRule, Program, Purchase, Reward, StampCard, Tier
from loyalty.program import program_cache_clear
from loyalty.services import purchase_record


class TierFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tier

    name = factory.Sequence(lambda n: f"Tier {n}")
    rank = factory.Sequence(lambda n: n)
    threshold = Decimal(0)
    multiplier = Decimal("1.00")


class EarningRuleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = EarningRule

    name = factory.Sequence(lambda n: f"Rule {n}")
    kind = EarningRule.Kind.BASE_RATE
    points_per_unit = Decimal("1.00")


class RewardFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Reward

    name = factory.Sequence(lambda n: f"Reward {n}")
    kind = Reward.Kind.FIXED_DISCOUNT
    points_cost = 100
    value = Decimal("5.00")


class StampCardFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = StampCard

    name = factory.Sequence(lambda n: f"Stamp card {n}")
    category = "coffee"
    stamps_required = 10
    reward = factory.SubFactory(RewardFactory, kind=Reward.Kind.PRODUCT, points_cost=0, value=Decimal(0))


def program_set(**fields: Any) -> Program:
    """Change the programme settings as staff would, and drop the 30 s cache so services see it."""
    program, _created = Program.objects.update_or_create(pk=1, defaults=fields)
    program_cache_clear()
    return program


def base_rate(points_per_unit: str = "1") -> EarningRule:
    """The usual rule: points per euro. Clears the programme cache."""
    rule = EarningRuleFactory(name="Base", kind=EarningRule.Kind.BASE_RATE, points_per_unit=Decimal(points_per_unit))
    program_cache_clear()
    return rule


_purchase_numbers = iter(range(1, 10**9))


def purchase_make(
    *,
    customer: Customer,
    partner: Partner,
    amount: str | Decimal,
    external_id: str | None = None,
    lines: Sequence[Line] = (),
    occurred_at: datetime.datetime | None = None,
) -> Purchase:
    """Record a new purchase through the service (so points, lots and tiers come from the app)."""
    result = purchase_record(
        partner=partner,
        external_id=external_id or f"order-{next(_purchase_numbers)}",
        customer=customer,
        amount=Decimal(amount),
        currency="EUR",
        occurred_at=occurred_at or timezone.now(),
        lines=lines,
    )
    assert result.created
    return result.purchase


def points_grant(*, customer: Customer, points: int, key: str | None = None) -> None:
    """Give ``points`` as a bonus through ``points_earn`` (a lot that expires like earned points)."""
    from loyalty.models import LedgerEntry
    from loyalty.services import points_earn

    points_earn(
        customer=customer,
        amount=points,
        kind=LedgerEntry.Kind.BONUS,
        reason="Test bonus",
        idempotency_key=key or f"test-bonus:{next(_purchase_numbers)}",
    )
