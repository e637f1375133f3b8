"""The give-back answered: points for taking part in a survey whatever the answer (once), a
thank-you, and gratitude tasks for feedback and referrals."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from campaigns import listening, tasks
from campaigns.models import GratitudeAction, GratitudeRule, GratitudeTask, ThankYouSettings
from customers.feedback import feedback_submit
from customers.models import Feedback, Message
from loyalty.models import LedgerEntry, PointsAccount
from loyalty.program import program_cache_clear
from referrals.signals import referral_rewarded
from tests.customers.factories import CustomerFactory


@pytest.fixture(autouse=True)
def _program_cache_cleared() -> Iterator[None]:
    program_cache_clear()
    yield
    program_cache_clear()


@pytest.mark.parametrize("score", [1, 5])
@pytest.mark.django_db
def test_taking_part_is_rewarded_whatever_the_answer_once_and_the_record_shows_it(
    score, celery_eager, django_capture_on_commit_callbacks
):
    ThankYouSettings.objects.create(pk=1, feedback_reward_points=30)
    customer = CustomerFactory()
    with django_capture_on_commit_callbacks(execute=True):
        feedback = feedback_submit(customer=customer, source_key="purchase:1", scale="rating", score=score)
    feedback.refresh_from_db()
    assert feedback.reward_points == 30
    assert feedback.reward_entry_id == LedgerEntry.objects.get(kind="gift", amount=30).pk
    assert PointsAccount.objects.get(customer=customer).balance == 30
    message = Message.objects.get(purpose="feedback_thanks")
    assert (message.is_marketing, message.status) == (False, "sent")  # eager: delivered at once
    listening.feedback_reward_grant(feedback_id=feedback.pk)
    assert LedgerEntry.objects.filter(kind="gift").count() == 1
    assert Message.objects.count() == 1


@pytest.mark.django_db
def test_no_reward_when_the_business_set_none():
    ThankYouSettings.objects.create(pk=1, feedback_reward_points=0)
    customer = CustomerFactory()
    feedback = feedback_submit(customer=customer, source_key="portal", scale="nps", score=9)
    listening.feedback_reward_grant(feedback_id=feedback.pk)
    assert not LedgerEntry.objects.exists()
    assert listening.feedback_unrewarded() == []


@pytest.mark.django_db
def test_the_sweep_rewards_an_answer_whose_event_was_lost(celery_eager):
    import datetime

    from django.utils import timezone

    customer = CustomerFactory()
    feedback = feedback_submit(customer=customer, source_key="purchase:7", scale="rating", score=4)
    Feedback.objects.filter(pk=feedback.pk).update(created_at=timezone.now() - datetime.timedelta(minutes=10))
    assert tasks.feedback_sweep_task.apply().get() == 1
    assert Feedback.objects.get(pk=feedback.pk).reward_points == 25
    assert tasks.feedback_sweep_task.apply().get() == 0


@pytest.mark.django_db
def test_feedback_and_referrals_make_gratitude_tasks_once(celery_eager, django_capture_on_commit_callbacks):
    GratitudeRule.objects.create(name="Call after feedback", event="feedback", action=GratitudeAction.CALL)
    GratitudeRule.objects.create(name="Note for referrers", event="referral", action=GratitudeAction.HANDWRITTEN_NOTE)
    customer = CustomerFactory()
    feedback = feedback_submit(customer=customer, source_key="portal", scale="rating", score=2)
    listening.feedback_reward_grant(feedback_id=feedback.pk)
    listening.feedback_reward_grant(feedback_id=feedback.pk)
    with django_capture_on_commit_callbacks(execute=True):
        referral_rewarded.send(sender=None, referral_id=5, referrer_id=customer.pk, friend_id=0)
    referral_rewarded.send(sender=None, referral_id=5, referrer_id=customer.pk, friend_id=0)
    tasks_made = GratitudeTask.objects.order_by("source_key")
    assert [(t.source_key, t.action) for t in tasks_made] == [
        (f"feedback:{feedback.pk}", "call"),
        ("referral:5", "handwritten_note"),
    ]
