"""Referral tests: the loyalty programme cache is emptied around each test (its settings, tiers
and rules are cached for 30 s), ``clock`` freezes ``timezone.now`` like the loyalty tests' clock,
and the two referral messages have known templates (a transactional test may have flushed the
defaults the migrations load)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.utils import timezone

from customers.models import Language, MessagePurpose, MessageTemplate
from loyalty.program import program_cache_clear
from tests.loyalty.conftest import START, Clock

TEMPLATES = {
    MessagePurpose.REFERRAL_THANKS: (
        "Thank you, {first_name}!",
        "{friend_name} joined with your link {referral_link} and bought: you got {gift}. Balance {balance}. {link}",
    ),
    MessagePurpose.REFERRAL_WELCOME: (
        "Welcome, {first_name}!",
        "{friend_name} invited you: you got {gift} ({points} points, voucher {voucher_code}). Share: {referral_link}",
    ),
}


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


@pytest.fixture
def templates(db: None) -> None:
    for purpose, (subject, body) in TEMPLATES.items():
        for language in Language.values:
            MessageTemplate.objects.update_or_create(
                purpose=purpose, language=language, channel="email", defaults={"subject": subject, "body": body}
            )
