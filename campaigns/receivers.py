"""Reactions to the loyalty app's events: enqueue, nothing more."""

from __future__ import annotations

import logging
from typing import Any

logger = logging.getLogger(__name__)


def on_purchase_recorded(*, purchase_id: int, **kwargs: Any) -> None:
    """Schedule the thank-you. If the broker is down, log it: the sweep sends it later."""
    from campaigns.services import thank_you_delay_seconds
    from campaigns.tasks import thank_you_task

    try:
        delay = thank_you_delay_seconds()
        thank_you_task.apply_async(kwargs={"purchase_id": purchase_id}, countdown=delay, retry=False)
    except Exception:  # the purchase is recorded; the sweep finds its thank-you
        logger.warning("campaigns: could not enqueue the thank-you for purchase %s; the sweep will", purchase_id)
