"""The loyalty panel on the portal home page, registered in ``LoyaltyConfig.ready()``."""

from __future__ import annotations

import math
from typing import Any

from customers.models import Customer
from customers.portal.panels import register_home_panel
from loyalty import selectors
from loyalty.models import Program
from loyalty.portal.views import vouchers_shown
from loyalty.program import program_get

LATEST_VOUCHERS = 3


def home_panel_context(customer: Customer) -> dict[str, Any]:
    """Balance, tier, progress to the next tier, expiring and pending points, the latest vouchers.
    Five queries (the summary's four and the vouchers), the programme and tiers being cached."""
    summary = selectors.loyalty_summary_for_customer(customer)
    return {
        "summary": summary,
        # What is still needed, rounded up: "0 points to Gold" must never show while Gold is not reached.
        "to_next": None if summary.needed_for_next is None else math.ceil(summary.needed_for_next),
        "is_by_spend": summary.measure == Program.TierMeasure.SPEND,
        "currency": program_get().currency,
        "vouchers": vouchers_shown(selectors.vouchers_for_customer(customer)[:LATEST_VOUCHERS]),
    }


def home_panel_register() -> None:
    register_home_panel(
        key="loyalty", order=100, template="portal/loyalty/_home_panel.html", context=home_panel_context
    )
