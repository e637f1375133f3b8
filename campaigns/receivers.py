"""Reactions to the loyalty app's events: enqueue, nothing more."""

from __future__ import annotations

import logging
from typing import Any

logger = logging.getLogger(__name__)


def on_purchase_recorded(*, purchase_id: int, **kwargs: Any) -> None:
    """Schedule the thank-you and the gratitude tasks, each on its own: one failing enqueue never
    stops the other. If the broker is down, log it: the sweeps send the thank-you and make the
    gratitude tasks later."""
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


def on_purchase_recorded_contests(*, purchase_id: int, **kwargs: Any) -> None:
    """Enter the purchase in the running contests (one entry per amount spent). If the broker is
    down, log it: the contest entries sweep finds the purchase later."""
    from campaigns.tasks import contest_entries_for_purchase_task

    try:
        contest_entries_for_purchase_task.apply_async(kwargs={"purchase_id": purchase_id}, retry=False)
    except Exception:
        logger.warning("campaigns: could not enqueue the contest entries of purchase %s; the sweep will", purchase_id)


def on_feedback_given(*, feedback_id: int, **kwargs: Any) -> None:
    """Reward the survey answer (the sweep does it if the broker is down)."""
    from campaigns.tasks import feedback_reward_task

    try:
        feedback_reward_task.apply_async(kwargs={"feedback_id": feedback_id}, retry=False)
    except Exception:
        logger.warning("campaigns: could not enqueue the reward for feedback %s; the sweep will", feedback_id)


def on_referral_rewarded(*, referral_id: int, referrer_id: int, **kwargs: Any) -> None:
    """Connected by ``config.wiring`` (campaigns does not import referrals)."""
    from campaigns.tasks import referral_gratitude_task

    try:
        referral_gratitude_task.apply_async(
            kwargs={"referral_id": referral_id, "referrer_id": referrer_id}, retry=False
        )
    except Exception:
        logger.warning("campaigns: could not enqueue the gratitude tasks for referral %s", referral_id)
