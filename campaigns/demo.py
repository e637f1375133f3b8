"""Demo: thank-you messages go out at once, so the tour shows one in var/mail/ within a minute."""

from __future__ import annotations

from decimal import Decimal

from campaigns.models import ThankYouSettings


def demo_campaigns_load() -> str:
    ThankYouSettings.objects.get_or_create(
        pk=1, defaults={"delay_minutes": 0, "gift_points": 50, "gift_min_amount": Decimal("100.00")}
    )
    return "Campaigns: thank-you messages go out right after each purchase (see var/mail/)."
