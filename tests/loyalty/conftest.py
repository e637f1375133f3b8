"""Loyalty tests: the programme settings, tiers and rules are cached for 30 s in the process-wide
cache, so every test starts (and ends) with an empty cache and sees exactly the rows it made.

``clock`` freezes ``django.utils.timezone.now`` (which the services, ``auto_now_add`` fields and
the jobs all read), so expiry dates, windows and grace periods are asserted exactly, and time is
moved with ``clock.advance(...)`` instead of sleeping."""

from __future__ import annotations

import datetime
from collections.abc import Iterator

import pytest
from dateutil.relativedelta import relativedelta
from django.utils import timezone

from loyalty.program import program_cache_clear

START = datetime.datetime(2026, 3, 10, 10, 0, tzinfo=datetime.UTC)


class Clock:
    def __init__(self, now: datetime.datetime) -> None:
        self.now = now

    def __call__(self) -> datetime.datetime:
        return self.now

    def advance(self, **delta: int) -> datetime.datetime:
        """``advance(days=3)``, ``advance(months=6)`` (calendar months, as the programme counts)."""
        self.now += relativedelta(**delta)  # type: ignore[arg-type]
        return self.now


@pytest.fixture(autouse=True)
def _program_cache_cleared() -> Iterator[None]:
    program_cache_clear()
    yield
    program_cache_clear()


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    frozen = Clock(START)
    monkeypatch.setattr(timezone, "now", frozen)
    return frozen
