"""How many points a purchase earns, and why. Pure: no database access.

Stacking order (each step works on the result of the one before):

1. **Base**: amount x the base rate (points per currency unit; several active base rates add up).
2. **Category and product bonuses**: for each matching line, line total x the rule's points per
   unit, added to the base.
3. **Multipliers**, applied to base + bonuses, multiplied together: the tier's multiplier, every
   special-days rule active at the purchase time (and open to the customer's tier and segment), and the
   birthday-month rule when the purchase falls in the customer's birth month.
4. **Cashback**: the amount x percent / 100, turned into points at the programme's point value;
   added after the multipliers (cashback is money back, not multiplied).
5. **First purchase bonus**: fixed points, added last.

The total is rounded down to whole points. Each rule's share is reported in the breakdown; shares
are rounded down too, and a last "rounding" line (the leftover fractions) makes them add up exactly.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from typing import Any

from loyalty.models import EarningRule, Tier

ZERO = Decimal(0)


@dataclass(frozen=True)
class Line:
    sku: str
    category: str
    quantity: int
    unit_price: Decimal

    @property
    def total(self) -> Decimal:
        return self.unit_price * self.quantity


@dataclass(frozen=True)
class Share:
    rule: str
    kind: str
    points: int

    def as_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "kind": self.kind, "points": self.points}


@dataclass(frozen=True)
class EarnResult:
    points: int
    shares: tuple[Share, ...]

    def breakdown(self) -> list[dict[str, Any]]:
        return [share.as_dict() for share in self.shares]


def _whole(value: Decimal) -> int:
    return int(value.to_integral_value(rounding=ROUND_DOWN))


def _active(rule: EarningRule, at: datetime.datetime, tier: Tier | None, segment_ids: frozenset[int]) -> bool:
    if rule.starts_at and at < rule.starts_at:
        return False
    if rule.ends_at and at >= rule.ends_at:
        return False
    if rule.segment_id is not None and rule.segment_id not in segment_ids:
        return False
    tier_ids = getattr(rule, "tier_ids", None)
    if tier_ids is None:
        tier_ids = frozenset(t.pk for t in rule.tiers.all())
    return not tier_ids or (tier is not None and tier.pk in tier_ids)


def _line_matches(rule: EarningRule, line: Line) -> bool:
    if rule.kind == EarningRule.Kind.CATEGORY_BONUS:
        return bool(rule.category) and line.category.lower() == rule.category.lower()
    return bool(rule.sku) and line.sku == rule.sku


def earn_calculate(
    *,
    amount: Decimal,
    lines: Sequence[Line],
    occurred_at: datetime.datetime,
    local_month: int,
    rules: Iterable[EarningRule],
    tier: Tier | None,
    point_value: Decimal,
    birth_date: datetime.date | None,
    is_first_purchase: bool,
    segment_ids: frozenset[int] = frozenset(),
) -> EarnResult:
    """The points ``amount`` earns under ``rules``; see the module docstring for the order.
    ``segment_ids``: the segments the customer is in, among those rules are limited to."""
    active = [rule for rule in rules if rule.is_active and _active(rule, occurred_at, tier, segment_ids)]
    shares: list[Share] = []
    exact: list[Decimal] = []

    def add(rule: str, kind: str, value: Decimal) -> None:
        if value:
            shares.append(Share(rule, kind, _whole(value)))
            exact.append(value)

    base = ZERO
    for rule in (r for r in active if r.kind == EarningRule.Kind.BASE_RATE):
        value = amount * rule.points_per_unit
        base += value
        add(rule.name, rule.kind, value)
    # The documented order, whatever order the rules come in (the database sorts them by kind,
    # which would put the birthday month before special days and change the shares).
    bonuses = [r for r in active if r.kind == EarningRule.Kind.CATEGORY_BONUS]
    bonuses += [r for r in active if r.kind == EarningRule.Kind.SKU_BONUS]
    for rule in bonuses:
        value = sum((line.total * rule.points_per_unit for line in lines if _line_matches(rule, line)), ZERO)
        base += value
        add(rule.name, rule.kind, value)

    multipliers: list[tuple[str, str, Decimal]] = []
    if tier is not None and tier.multiplier != 1:
        multipliers.append((tier.name, "tier", tier.multiplier))
    multipliers += [(r.name, r.kind, r.multiplier) for r in active if r.kind == EarningRule.Kind.SPECIAL_DAYS]
    if birth_date is not None and birth_date.month == local_month:
        multipliers += [(r.name, r.kind, r.multiplier) for r in active if r.kind == EarningRule.Kind.BIRTHDAY_MONTH]
    running = base
    for name, kind, factor in multipliers:
        value = running * (factor - 1)
        running += value
        add(name, kind, value)

    for rule in (r for r in active if r.kind == EarningRule.Kind.CASHBACK):
        add(rule.name, rule.kind, amount * rule.percent / 100 / point_value)
    if is_first_purchase:
        for rule in (r for r in active if r.kind == EarningRule.Kind.FIRST_PURCHASE):
            add(rule.name, rule.kind, Decimal(rule.bonus_points))

    total = max(_whole(sum(exact, ZERO)), 0)
    difference = total - sum(share.points for share in shares)
    if difference:
        shares.append(Share("rounding", "rounding", difference))
    return EarnResult(points=total, shares=tuple(shares))
