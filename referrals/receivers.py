"""Reactions to the loyalty app's events: enqueue, nothing more. A lost enqueue (the broker is
down) is logged; the referrals sweep finds the referral from the data later."""

from __future__ import annotations

import logging
from typing import Any

logger = logging.getLogger(__name__)


def on_purchase_recorded(*, purchase_id: int, customer_id: int, **kwargs: Any) -> None:
    from referrals.tasks import referral_purchase_task

    try:
        referral_purchase_task.apply_async(kwargs={"customer_id": customer_id}, retry=False)
    except Exception:
        logger.warning("referrals: could not enqueue purchase %s; the sweep will qualify it", purchase_id)


def on_purchase_refunded(*, purchase_id: int, **kwargs: Any) -> None:
    from referrals.tasks import referral_claw_back_task

    try:
        referral_claw_back_task.apply_async(kwargs={"purchase_id": purchase_id}, retry=False)
    except Exception:
        logger.warning("referrals: could not enqueue refund of purchase %s; the sweep will take it back", purchase_id)
