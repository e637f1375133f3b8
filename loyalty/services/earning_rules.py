"""Earning rules other apps create: a special customer day is a multiplier for a window and a segment."""

from __future__ import annotations

import datetime
from decimal import Decimal

from django.db import transaction

from customers.models import Segment
from loyalty.models import EarningRule
from loyalty.program import program_cache_clear


@transaction.atomic
def special_days_rule_create(
    *, name: str, multiplier: Decimal, starts_at: datetime.datetime, ends_at: datetime.datetime, segment: Segment | None
) -> EarningRule:
    """Create an active special-days multiplier for ``[starts_at, ends_at)``, limited to the
    segment's members when one is given, and drop the cached rules so purchases see it at once."""
    rule = EarningRule(
        name=name[:100],
        kind=EarningRule.Kind.SPECIAL_DAYS,
        multiplier=multiplier,
        starts_at=starts_at,
        ends_at=ends_at,
        segment=segment,
    )
    rule.full_clean()
    rule.save()
    transaction.on_commit(program_cache_clear)
    return rule
