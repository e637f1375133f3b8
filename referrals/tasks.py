"""Celery tasks of the referrals app: take ids, re-read, call one service; safe to run twice."""

from __future__ import annotations

import logging

from celery import shared_task

from referrals import services
from referrals.models import Referral

logger = logging.getLogger(__name__)


@shared_task(name="referrals.tasks.referral_purchase_task", acks_late=True)
def referral_purchase_task(*, customer_id: int) -> str | None:
    """A purchase of ``customer_id`` was recorded: if they are a referred friend whose referral
    waits for its qualifying purchase (or for its reward), qualify and reward it. Safe to run
    twice and in parallel: each step locks the referral and acts only from the state it expects.
    Returns the referral's status afterwards (None when the customer was not referred)."""
    referral_id = (
        Referral.objects.filter(friend_id=customer_id, status__in=[Referral.Status.PENDING, Referral.Status.QUALIFIED])
        .values_list("pk", flat=True)
        .first()
    )
    if referral_id is None:
        return None
    referral = services.referral_process(referral_id=referral_id)
    return referral.status if referral else None


@shared_task(name="referrals.tasks.referral_process_task", acks_late=True)
def referral_process_task(*, referral_id: int) -> str | None:
    """Qualify and reward one referral (from the sweep); safe to run twice."""
    referral = services.referral_process(referral_id=referral_id)
    return referral.status if referral else None


@shared_task(name="referrals.tasks.referral_claw_back_task", acks_late=True)
def referral_claw_back_task(*, purchase_id: int) -> str | None:
    """A refund of ``purchase_id`` was recorded: take back the referral rewards it qualified for
    when it is refunded in full inside the window. Safe to run twice."""
    referral = services.referral_claw_back(purchase_id=purchase_id)
    return referral.status if referral else None


@shared_task(name="referrals.tasks.referrals_sweep_task")
def referrals_sweep_task() -> dict[str, int]:
    """Every few minutes: qualify and reward referrals whose purchase event was lost, take back
    rewards whose refund event was lost, and close pending referrals whose window has passed."""
    to_process = services.referrals_to_process()
    for referral_id in to_process:
        referral_process_task.delay(referral_id=referral_id)
    to_claw_back = services.referrals_to_claw_back()
    for purchase_id in to_claw_back:
        referral_claw_back_task.delay(purchase_id=purchase_id)
    expired = services.referrals_expire()
    return {"processed": len(to_process), "clawed_back": len(to_claw_back), "expired": expired}
