"""The points calculation (``loyalty.earning``), pure: unsaved rules and tiers, no database."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loyalty.earning import EarnResult, Line, earn_calculate
from loyalty.models import EarningRule, Tier

Kind = EarningRule.Kind
AT = datetime.datetime(2026, 6, 15, 12, 0, tzinfo=datetime.UTC)
SILVER = Tier(pk=1, name="Silver", rank=1, multiplier=Decimal("1.50"))
GOLD = Tier(pk=2, name="Gold", rank=2, multiplier=Decimal("2.00"))


def rule(kind: str, *, tiers: frozenset[int] = frozenset(), **fields: Any) -> EarningRule:
    """An unsaved rule, with ``tier_ids`` set as ``rules_get`` does."""
    made = EarningRule(name=fields.pop("name", kind), kind=kind, **fields)
    made.tier_ids = tiers
    return made


def calculate(
    amount: str,
    rules: list[EarningRule],
    *,
    lines: tuple[Line, ...] = (),
    tier: Tier | None = None,
    at: datetime.datetime = AT,
    local_month: int = 6,
    birth_date: datetime.date | None = None,
    first: bool = False,
    point_value: str = "0.01",
) -> EarnResult:
    return earn_calculate(
        amount=Decimal(amount),
        lines=lines,
        occurred_at=at,
        local_month=local_month,
        rules=rules,
        tier=tier,
        point_value=Decimal(point_value),
        birth_date=birth_date,
        is_first_purchase=first,
    )


def shares(result: EarnResult) -> list[tuple[str, str, int]]:
    return [(share.rule, share.kind, share.points) for share in result.shares]


def test_base_rate_earns_points_per_currency_unit():
    result = calculate("25.00", [rule(Kind.BASE_RATE, points_per_unit=Decimal("2"))])

    assert result.points == 50
    assert shares(result) == [("base_rate", "base_rate", 50)]


def test_several_base_rates_add_up():
    rules = [
        rule(Kind.BASE_RATE, name="Base", points_per_unit=Decimal("1")),
        rule(Kind.BASE_RATE, name="Launch", points_per_unit=Decimal("0.5")),
    ]

    result = calculate("40.00", rules)

    assert result.points == 60
    assert shares(result) == [("Base", "base_rate", 40), ("Launch", "base_rate", 20)]


def test_inactive_rule_earns_nothing():
    result = calculate("40.00", [rule(Kind.BASE_RATE, points_per_unit=Decimal("1"), is_active=False)])

    assert result.points == 0
    assert result.shares == ()


def test_no_rules_earn_nothing():
    assert calculate("99.00", []) == EarnResult(points=0, shares=())


def test_category_bonus_counts_matching_lines_case_insensitively():
    lines = (
        Line(sku="ESP-1", category="Coffee", quantity=2, unit_price=Decimal("3.50")),
        Line(sku="BUN-1", category="bakery", quantity=1, unit_price=Decimal("3.00")),
    )
    rules = [
        rule(Kind.BASE_RATE, name="Base", points_per_unit=Decimal("1")),
        rule(Kind.CATEGORY_BONUS, name="Coffee", category="coffee", points_per_unit=Decimal("3")),
    ]

    result = calculate("10.00", rules, lines=lines)

    assert shares(result) == [("Base", "base_rate", 10), ("Coffee", "category", 21)]
    assert result.points == 31


def test_sku_bonus_matches_the_exact_sku_only():
    lines = (
        Line(sku="MUG-1", category="home", quantity=2, unit_price=Decimal("10.00")),
        Line(sku="mug-1", category="home", quantity=1, unit_price=Decimal("10.00")),
    )

    result = calculate(
        "30.00", [rule(Kind.SKU_BONUS, name="Mug", sku="MUG-1", points_per_unit=Decimal("2"))], lines=lines
    )

    assert shares(result) == [("Mug", "sku", 40)]
    assert result.points == 40


def test_bonus_with_no_matching_line_adds_no_share():
    lines = (Line(sku="TEA-1", category="tea", quantity=1, unit_price=Decimal("4.00")),)

    result = calculate(
        "4.00", [rule(Kind.CATEGORY_BONUS, category="coffee", points_per_unit=Decimal("5"))], lines=lines
    )

    assert result == EarnResult(points=0, shares=())


def test_tier_multiplier_applies_to_base_and_bonuses():
    lines = (Line(sku="ESP-1", category="coffee", quantity=1, unit_price=Decimal("10.00")),)
    rules = [
        rule(Kind.BASE_RATE, name="Base", points_per_unit=Decimal("1")),
        rule(Kind.CATEGORY_BONUS, name="Coffee", category="coffee", points_per_unit=Decimal("1")),
    ]

    result = calculate("20.00", rules, lines=lines, tier=SILVER)

    assert shares(result) == [("Base", "base_rate", 20), ("Coffee", "category", 10), ("Silver", "tier", 15)]
    assert result.points == 45


def test_tier_with_multiplier_one_adds_no_share():
    result = calculate("20.00", [rule(Kind.BASE_RATE, points_per_unit=Decimal("1"))], tier=Tier(pk=3, name="Basic"))

    assert shares(result) == [("base_rate", "base_rate", 20)]


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (datetime.datetime(2026, 6, 1, 0, 0, tzinfo=datetime.UTC), 40),  # the first instant counts
        (datetime.datetime(2026, 6, 7, 23, 59, tzinfo=datetime.UTC), 40),
        (datetime.datetime(2026, 5, 31, 23, 59, tzinfo=datetime.UTC), 20),  # before
        (datetime.datetime(2026, 6, 8, 0, 0, tzinfo=datetime.UTC), 20),  # the end is exclusive
    ],
)
def test_special_days_multiply_only_inside_their_window(at: datetime.datetime, expected: int):
    rules = [
        rule(Kind.BASE_RATE, name="Base", points_per_unit=Decimal("1")),
        rule(
            Kind.SPECIAL_DAYS,
            name="Double week",
            multiplier=Decimal("2"),
            starts_at=datetime.datetime(2026, 6, 1, tzinfo=datetime.UTC),
            ends_at=datetime.datetime(2026, 6, 8, tzinfo=datetime.UTC),
        ),
    ]

    assert calculate("20.00", rules, at=at).points == expected


@pytest.mark.parametrize(("tier", "expected"), [(GOLD, 120), (SILVER, 45), (None, 30)])
def test_special_days_limited_to_a_tier(tier: Tier | None, expected: int):
    rules = [
        rule(Kind.BASE_RATE, name="Base", points_per_unit=Decimal("1")),
        rule(Kind.SPECIAL_DAYS, name="Gold days", multiplier=Decimal("2"), tiers=frozenset({GOLD.pk})),
    ]

    # Gold: 30 x 2 (tier) x 2 (gold days); Silver: 30 x 1.5, not open to it; none: the base.
    assert calculate("30.00", rules, tier=tier).points == expected


@pytest.mark.parametrize(
    ("birth_date", "local_month", "expected"),
    [
        (datetime.date(1990, 6, 30), 6, 30),
        (datetime.date(1990, 7, 1), 6, 20),
        (datetime.date(1990, 7, 1), 7, 30),  # 30 June 21:30 UTC is already July in Helsinki
        (None, 6, 20),
    ],
)
def test_birthday_month_follows_the_local_month(birth_date: datetime.date | None, local_month: int, expected: int):
    rules = [
        rule(Kind.BASE_RATE, name="Base", points_per_unit=Decimal("1")),
        rule(Kind.BIRTHDAY_MONTH, name="Birthday", multiplier=Decimal("1.5")),
    ]
    at = datetime.datetime(2026, 6, 30, 21, 30, tzinfo=datetime.UTC)

    assert calculate("20.00", rules, at=at, birth_date=birth_date, local_month=local_month).points == expected


@pytest.mark.parametrize(("point_value", "expected"), [("0.01", 300), ("0.05", 60), ("1", 3)])
def test_cashback_turns_money_into_points_at_the_point_value(point_value: str, expected: int):
    result = calculate("60.00", [rule(Kind.CASHBACK, name="Cashback", percent=Decimal("5"))], point_value=point_value)

    assert shares(result) == [("Cashback", "cashback", expected)]
    assert result.points == expected


def test_cashback_is_not_multiplied():
    rules = [
        rule(Kind.CASHBACK, name="Cashback", percent=Decimal("1")),
        rule(Kind.SPECIAL_DAYS, name="Double", multiplier=Decimal("2")),
    ]

    result = calculate("100.00", rules, tier=GOLD)

    assert shares(result) == [("Cashback", "cashback", 100)]


@pytest.mark.parametrize(("first", "expected"), [(True, 110), (False, 10)])
def test_first_purchase_bonus_only_on_the_first_purchase(first: bool, expected: int):
    rules = [
        rule(Kind.BASE_RATE, name="Base", points_per_unit=Decimal("1")),
        rule(Kind.FIRST_PURCHASE, name="Welcome", bonus_points=100),
    ]

    assert calculate("10.00", rules, first=first).points == expected


def test_stacking_order_with_every_rule():
    """The rules come in the database's order (kind, name), as ``rules_get`` returns them; the
    shares follow the documented order all the same.

    Base 100.5 + coffee 18 + mug 100 = 218.5; x1.5 tier (+109.25) = 327.75; x2 special days
    (+327.75) = 655.5; x1.1 birthday (+65.55) = 721.05; + cashback 2% of 100.50 at 0.01 = 201;
    + first purchase 50 = 972.05 -> 972. Shares round down (970) and "rounding" adds the 2."""
    lines = (
        Line(sku="ESP-1", category="coffee", quantity=2, unit_price=Decimal("4.50")),
        Line(sku="MUG-1", category="home", quantity=1, unit_price=Decimal("20.00")),
        Line(sku="BAG-1", category="home", quantity=1, unit_price=Decimal("71.50")),
    )
    rules = [
        rule(Kind.BASE_RATE, name="Base", points_per_unit=Decimal("1")),
        rule(Kind.BIRTHDAY_MONTH, name="Birthday", multiplier=Decimal("1.1")),
        rule(Kind.CASHBACK, name="Cashback", percent=Decimal("2")),
        rule(Kind.CATEGORY_BONUS, name="Coffee", category="coffee", points_per_unit=Decimal("2")),
        rule(Kind.FIRST_PURCHASE, name="Welcome", bonus_points=50),
        rule(Kind.SKU_BONUS, name="Mug", sku="MUG-1", points_per_unit=Decimal("5")),
        rule(Kind.SPECIAL_DAYS, name="Double days", multiplier=Decimal("2")),
    ]
    assert [made.kind for made in rules] == sorted(made.kind for made in rules)

    result = calculate("100.50", rules, lines=lines, tier=SILVER, birth_date=datetime.date(1985, 6, 2), first=True)

    assert shares(result) == [
        ("Base", "base_rate", 100),
        ("Coffee", "category", 18),
        ("Mug", "sku", 100),
        ("Silver", "tier", 109),
        ("Double days", "special_days", 327),
        ("Birthday", "birthday_month", 65),
        ("Cashback", "cashback", 201),
        ("Welcome", "first_purchase", 50),
        ("rounding", "rounding", 2),
    ]
    assert result.points == 972
    assert result.breakdown()[-1] == {"rule": "rounding", "kind": "rounding", "points": 2}


@pytest.mark.parametrize(("amount", "expected"), [("9.99", 9), ("0.99", 0), ("10.00", 10)])
def test_total_is_rounded_down(amount: str, expected: int):
    assert calculate(amount, [rule(Kind.BASE_RATE, points_per_unit=Decimal("1"))]).points == expected


def test_rounding_line_collects_the_fractions_of_every_share():
    rules = [
        rule(Kind.BASE_RATE, name="A", points_per_unit=Decimal("0.5")),
        rule(Kind.BASE_RATE, name="B", points_per_unit=Decimal("0.5")),
    ]

    result = calculate("3.00", rules)

    assert shares(result) == [("A", "base_rate", 1), ("B", "base_rate", 1), ("rounding", "rounding", 1)]
    assert result.points == 3


money = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("5000"), places=2)
rates = st.decimals(min_value=Decimal(0), max_value=Decimal("20"), places=2)
factors = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("5"), places=2)

rule_strategy = st.one_of(
    st.builds(lambda value: rule(Kind.BASE_RATE, points_per_unit=value), rates),
    st.builds(lambda value: rule(Kind.CATEGORY_BONUS, category="coffee", points_per_unit=value), rates),
    st.builds(lambda value: rule(Kind.SKU_BONUS, sku="MUG-1", points_per_unit=value), rates),
    st.builds(lambda value: rule(Kind.SPECIAL_DAYS, multiplier=value), factors),
    st.builds(lambda value: rule(Kind.BIRTHDAY_MONTH, multiplier=value), factors),
    st.builds(
        lambda value: rule(Kind.CASHBACK, percent=value),
        st.decimals(min_value=Decimal(0), max_value=Decimal("100"), places=2),
    ),
    st.builds(lambda value: rule(Kind.FIRST_PURCHASE, bonus_points=value), st.integers(0, 10_000)),
)
line_strategy = st.builds(
    Line,
    sku=st.sampled_from(["MUG-1", "ESP-1", "BAG-1"]),
    category=st.sampled_from(["coffee", "home", ""]),
    quantity=st.integers(1, 30),
    unit_price=money,
)


@settings(max_examples=300, deadline=None)
@given(
    amount=money,
    rules=st.lists(rule_strategy, max_size=8),
    lines=st.lists(line_strategy, max_size=5),
    tier=st.sampled_from([None, SILVER, GOLD, Tier(pk=4, name="Low", rank=0, multiplier=Decimal("0.37"))]),
    first=st.booleans(),
    point_value=st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("10"), places=4),
)
def test_shares_always_add_up_to_a_non_negative_total(
    amount: Decimal,
    rules: list[EarningRule],
    lines: list[Line],
    tier: Tier | None,
    first: bool,
    point_value: Decimal,
):
    result = earn_calculate(
        amount=amount,
        lines=lines,
        occurred_at=AT,
        local_month=6,
        rules=rules,
        tier=tier,
        point_value=point_value,
        birth_date=datetime.date(1990, 6, 1),
        is_first_purchase=first,
    )

    assert result.points >= 0
    assert sum(share.points for share in result.shares) == result.points
    assert "rounding" not in [share.kind for share in result.shares[:-1]]
