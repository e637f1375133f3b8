"""The event receivers enqueue (and survive a broker that is down), the tasks are safe to run twice,
and the sweep finds what the events missed."""

from __future__ import annotations

from decimal import Decimal

import pytest

from loyalty import services as loyalty_services
from loyalty.models import LedgerEntry
from referrals import receivers, tasks
from referrals.models import Referral
from tests.customers.factories import PartnerFactory
from tests.loyalty.factories import base_rate
from tests.referrals.factories import buy, member, program_set, refer

pytestmark = pytest.mark.django_db


@pytest.fixture
def setup(db):
    base_rate()
    program_set()
    aino = member(first_name="Aino")
    referral = refer(aino)
    return aino, referral, PartnerFactory()


def test_a_recorded_purchase_enqueues_the_friends_task(setup, monkeypatch, django_capture_on_commit_callbacks):
    _aino, referral, partner = setup
    enqueued = []
    monkeypatch.setattr(tasks.referral_purchase_task, "apply_async", lambda **kw: enqueued.append(kw))

    with django_capture_on_commit_callbacks(execute=True):
        buy(referral.friend, partner, "30.00")

    assert enqueued == [{"kwargs": {"customer_id": referral.friend_id}, "retry": False}]


def test_a_recorded_refund_enqueues_the_claw_back(setup, monkeypatch, django_capture_on_commit_callbacks):
    _aino, referral, partner = setup
    purchase = buy(referral.friend, partner, "30.00")
    enqueued = []
    monkeypatch.setattr(tasks.referral_claw_back_task, "apply_async", lambda **kw: enqueued.append(kw))

    with django_capture_on_commit_callbacks(execute=True):
        loyalty_services.refund_record(purchase=purchase, external_id="RF-1", amount=Decimal("30.00"))

    assert enqueued == [{"kwargs": {"purchase_id": purchase.pk}, "retry": False}]


@pytest.mark.parametrize(
    ("receiver", "task", "kwargs"),
    [
        (receivers.on_purchase_recorded, "referral_purchase_task", {"purchase_id": 7, "customer_id": 8}),
        (receivers.on_purchase_refunded, "referral_claw_back_task", {"purchase_id": 7, "refund_id": 9}),
    ],
)
def test_the_receivers_survive_a_broker_that_is_down(monkeypatch, caplog, receiver, task, kwargs):
    def broker_down(*args, **kwargs):
        raise ConnectionRefusedError("broker down")

    monkeypatch.setattr(getattr(tasks, task), "apply_async", broker_down)

    receiver(**kwargs)

    assert "the sweep will" in caplog.text


def test_the_purchase_task_rewards_once_however_often_it_runs(setup):
    _aino, referral, partner = setup
    buy(referral.friend, partner, "30.00")

    results = [tasks.referral_purchase_task(customer_id=referral.friend_id) for _ in range(3)]

    assert results == ["rewarded", None, None]  # then nothing waits for this friend any more
    assert LedgerEntry.objects.filter(kind=LedgerEntry.Kind.REFERRAL).count() == 2


def test_the_purchase_task_ignores_customers_who_were_not_referred(setup):
    aino, _referral, partner = setup
    buy(aino, partner, "30.00")

    assert tasks.referral_purchase_task(customer_id=aino.pk) is None


def test_the_sweep_task_enqueues_lost_work_and_closes_expired_referrals(setup, monkeypatch, clock):
    aino, referral, partner = setup
    lost = refer(aino)
    Referral.objects.filter(pk__in=[referral.pk, lost.pk]).update(created_at=clock.now)
    buy(lost.friend, partner, "30.00")
    clock.advance(minutes=5)
    processed = []
    monkeypatch.setattr(tasks.referral_process_task, "delay", lambda **kw: processed.append(kw))

    assert tasks.referrals_sweep_task() == {"processed": 1, "clawed_back": 0, "expired": 0}
    assert processed == [{"referral_id": lost.pk}]
    assert tasks.referral_process_task(referral_id=lost.pk) == "rewarded"


def test_the_claw_back_task_is_safe_to_run_twice(setup):
    _aino, referral, partner = setup
    purchase = buy(referral.friend, partner, "30.00")
    tasks.referral_purchase_task(customer_id=referral.friend_id)
    loyalty_services.refund_record(purchase=purchase, external_id="RF-1", amount=Decimal("30.00"))

    assert [tasks.referral_claw_back_task(purchase_id=purchase.pk) for _ in range(2)] == ["rejected", "rejected"]
    assert list(
        LedgerEntry.objects.filter(kind=LedgerEntry.Kind.REFERRAL).order_by("pk").values_list("amount", flat=True)
    ) == [200, 100, -200, -100]
