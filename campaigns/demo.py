"""Demo: thank-you messages go out at once, so the tour shows one in var/mail/ within a minute;
birthday gifts grow with the tier (Gold adds a coffee voucher); win-back after 90 quiet days."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings

from campaigns.models import (
    BirthdayGift,
    BirthdaySettings,
    GratitudeAction,
    GratitudeRule,
    ThankYouSettings,
    WinBackSettings,
)
from customers.models import User
from loyalty.models import Reward, Tier

# tier name -> birthday points, and whether a free coffee voucher comes with them
BIRTHDAY_GIFTS = {"Bronze": (100, False), "Silver": (200, False), "Gold": (300, True)}


def demo_campaigns_load() -> str:
    ThankYouSettings.objects.get_or_create(
        pk=1, defaults={"delay_minutes": 0, "gift_points": 50, "gift_min_amount": Decimal("100.00")}
    )
    _birthdays_and_win_back_load()
    _gratitude_rules_load()
    return (
        "Campaigns: thank-you messages go out right after each purchase (see var/mail/); "
        "birthday gifts per tier and win-back offers are on; first purchases and big orders "
        "make gratitude tasks for the demo staff user."
    )


def _birthdays_and_win_back_load() -> None:
    """Birthday settings with a gift per tier (existing gifts, perhaps edited, stay as they are)."""
    config, _created = BirthdaySettings.objects.get_or_create(pk=1, defaults={"send_hour": 9, "gift_points": 100})
    coffee = Reward.objects.filter(name="A coffee on us (stamp card)").first()
    for tier in Tier.objects.filter(name__in=BIRTHDAY_GIFTS):
        points, with_coffee = BIRTHDAY_GIFTS[tier.name]
        BirthdayGift.objects.get_or_create(
            tier=tier, defaults={"settings": config, "points": points, "reward": coffee if with_coffee else None}
        )
    WinBackSettings.objects.get_or_create(pk=1, defaults={"inactive_days": 90, "gift_points": 150})


def _gratitude_rules_load() -> None:
    """Two gratitude rules for the demo staff user (existing rules, perhaps edited, stay as they are)."""
    staff = User.objects.filter(username=settings.DEMO_STAFF_EMAIL).first()
    GratitudeRule.objects.get_or_create(
        name="Welcome note",
        defaults={
            "event": GratitudeRule.Event.FIRST_PURCHASE,
            "action": GratitudeAction.HANDWRITTEN_NOTE,
            "assignee": staff,
            "due_in_days": 3,
        },
    )
    GratitudeRule.objects.get_or_create(
        name="Thank-you call for a big order",
        defaults={
            "event": GratitudeRule.Event.BIG_ORDER,
            "min_amount": Decimal("100.00"),
            "action": GratitudeAction.CALL,
            "assignee": staff,
            "due_in_days": 2,
        },
    )
