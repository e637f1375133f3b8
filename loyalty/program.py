"""Read the programme settings, tiers and earning rules, cached briefly (they change rarely and
are read on every purchase)."""

from __future__ import annotations

from django.core.cache import cache

from loyalty.models import EarningRule, Program, StampCard, Tier

CACHE_SECONDS = 30
_PROGRAM_KEY = "loyalty:program:v1"
_TIERS_KEY = "loyalty:tiers:v1"
_RULES_KEY = "loyalty:rules:v1"
_STAMP_CARDS_KEY = "loyalty:stamp-cards:v1"


def program_get() -> Program:
    program = cache.get(_PROGRAM_KEY)
    if program is None:
        program, _created = Program.objects.get_or_create(pk=1)
        cache.set(_PROGRAM_KEY, program, CACHE_SECONDS)
    return program


def tiers_get() -> list[Tier]:
    """Every tier, lowest rank first."""
    tiers = cache.get(_TIERS_KEY)
    if tiers is None:
        tiers = list(Tier.objects.order_by("rank"))
        cache.set(_TIERS_KEY, tiers, CACHE_SECONDS)
    return tiers


def rules_get() -> list[EarningRule]:
    """Active earning rules with the ids of the tiers they are limited to (``tier_ids``)."""
    rules = cache.get(_RULES_KEY)
    if rules is None:
        rules = list(EarningRule.objects.filter(is_active=True).prefetch_related("tiers"))
        for rule in rules:
            rule.tier_ids = frozenset(tier.pk for tier in rule.tiers.all())
        cache.set(_RULES_KEY, rules, CACHE_SECONDS)
    return rules


def stamp_cards_get() -> list[StampCard]:
    """Active stamp cards with their rewards."""
    cards = cache.get(_STAMP_CARDS_KEY)
    if cards is None:
        cards = list(StampCard.objects.filter(is_active=True).select_related("reward"))
        cache.set(_STAMP_CARDS_KEY, cards, CACHE_SECONDS)
    return cards


def program_cache_clear() -> None:
    """Called when staff save settings, tiers, rules or stamp cards, so this process sees the
    change at once (other processes within CACHE_SECONDS)."""
    cache.delete_many([_PROGRAM_KEY, _TIERS_KEY, _RULES_KEY, _STAMP_CARDS_KEY])
