"""The gifts and contests panel on the portal home page. ``portal_panels_register`` is called from
``CampaignsConfig.ready()``."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from campaigns import choices, contests
from customers.models import Customer
from customers.portal.panels import register_home_panel


def home_panel_context(customer: Customer) -> dict[str, Any]:
    """How many gifts wait for this customer's choice, contests are open, and wins wait for an
    answer. Three queries."""
    now = timezone.now()
    return {
        "awaiting": choices.gifts_awaiting_choice_for_customer(customer, now=now).count(),
        "contests": contests.contests_open_for_customer(customer, now=now).count(),
        "wins": contests.contest_wins_awaiting_answer_for_customer(customer, now=now).count(),
    }


def portal_panels_register() -> None:
    register_home_panel(
        key="campaigns", order=200, template="portal/campaigns/_home_panel.html", context=home_panel_context
    )
