"""Reactions to the loyalty app's events: enqueue, nothing more."""

from __future__ import annotations

import logging
from typing import Any

logger = logging.getLogger(__name__)


def on_purchase_recorded(*, purchase_id: int, **kwargs: Any) -> None:
    """Schedule the thank-you and the gratitude tasks, each on its own: one failing enqueue never
    stops the other. If the broker is down, log it: the sweep sends the thank-you later (gratitude
    tasks have no sweep yet)."""
    from campaigns.services import thank_you_delay_seconds
    from campaigns.tasks import gratitude_task_for_purchase_task, thank_you_task

    try:
        thank_you_task.apply_async(
            kwargs={"purchase_id": purchase_id}, countdown=thank_you_delay_seconds(), retry=False
        )
    except Exception:  # the purchase is recorded; the sweep finds its thank-you
        logger.warning("campaigns: could not enqueue the thank-you for purchase %s; the sweep will", purchase_id)
    try:
        gratitude_task_for_purchase_task.apply_async(kwargs={"purchase_id": purchase_id}, retry=False)
    except Exception:
        logger.warning("campaigns: could not enqueue the gratitude rules for purchase %s", purchase_id)
