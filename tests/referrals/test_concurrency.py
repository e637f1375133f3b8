"""Referrals under real parallel transactions on PostgreSQL: a purchase event delivered twice at
once, two qualifying purchases at once, the monthly cap under parallel qualifications, and one
friend attached with two codes at once. Each reward is granted once per side; no database error
reaches anyone."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django.db import connections

from core.errors import DomainError
from customers.models import Message
from loyalty.models import LedgerEntry, PointsAccount
from loyalty.verification import ledger_verify
from referrals import services, tasks
from referrals.models import Referral
from tests.customers.factories import PartnerFactory
from tests.loyalty.factories import base_rate
from tests.referrals.factories import buy, member, program_set, refer

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

WORKERS = 6


def _parallel(call: Callable[[int], Any], count: int = WORKERS) -> list[Any]:
    """Run ``call(index)`` in ``count`` threads released together; each result, or the domain
    error's code."""
    barrier = threading.Barrier(count)

    def run(index: int) -> Any:
        try:
            barrier.wait(timeout=10)
            return call(index)
        except DomainError as error:
            return error.code
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(run, range(count)))


def referral_entries() -> list[tuple[int, int]]:
    return sorted(
        LedgerEntry.objects.filter(kind=LedgerEntry.Kind.REFERRAL).values_list("account__customer_id", "amount")
    )


@pytest.fixture
def partner(transactional_db):
    base_rate()
    program_set(referrer_points=200, friend_points=100)
    return PartnerFactory()


def test_the_same_purchase_event_delivered_at_once_rewards_each_side_once(partner):
    aino = member(first_name="Aino")
    referral = refer(aino)
    buy(referral.friend, partner, "30.00")

    results = _parallel(lambda _index: tasks.referral_purchase_task(customer_id=referral.friend_id))

    assert results.count("rewarded") >= 1
    assert set(results) <= {"rewarded", None}
    assert referral_entries() == sorted([(aino.pk, 200), (referral.friend_id, 100)])
    assert Message.objects.filter(idempotency_key__startswith=f"referral:{referral.pk}:").count() == 2
    assert Referral.objects.get().status == Referral.Status.REWARDED
    assert ledger_verify() == []


def test_two_qualifying_purchases_at_once_reward_each_side_once(partner):
    aino = member(first_name="Aino")
    referral = refer(aino)

    def purchase_then_event(index: int) -> Any:
        buy(referral.friend, partner, "30.00", external_id=f"POS-{index}")
        return tasks.referral_purchase_task(customer_id=referral.friend_id)

    results = _parallel(purchase_then_event, count=2)

    assert "rewarded" in results
    assert referral_entries() == sorted([(aino.pk, 200), (referral.friend_id, 100)])
    assert PointsAccount.objects.get(customer=aino).balance == 200
    assert ledger_verify() == []


def test_the_monthly_cap_holds_with_parallel_qualifications(partner):
    program_set(referrer_points=200, friend_points=100, monthly_cap=2, velocity_max_per_code=50)
    aino = member(first_name="Aino")
    referrals = [refer(aino) for _ in range(WORKERS)]
    for referral in referrals:
        buy(referral.friend, partner, "30.00")

    results = _parallel(lambda index: services.referral_process(referral_id=referrals[index].pk).status)

    assert Counter(results) == {"rewarded": 2, "review": WORKERS - 2}
    assert PointsAccount.objects.get(customer=aino).balance == 400
    assert Referral.objects.filter(status="review", flags=["monthly_cap"]).count() == WORKERS - 2
    assert ledger_verify() == []


def test_one_friend_attached_with_different_codes_at_once_gets_one_referral(partner):
    referrers = [member() for _ in range(WORKERS)]
    codes = [services.referral_code_for(referrer).code for referrer in referrers]
    friend = member()

    results = _parallel(lambda index: services.referral_attach(code=codes[index], friend=friend, source="api").created)

    assert Counter(results) == {True: 1, "already_referred": WORKERS - 1}
    assert Referral.objects.count() == 1


def test_the_same_attach_at_once_is_one_referral(partner):
    code = services.referral_code_for(member()).code
    friend = member()

    results = _parallel(lambda _index: services.referral_attach(code=code, friend=friend, source="api").referral.pk)

    assert len(set(results)) == 1
    assert Referral.objects.count() == 1


def test_staff_approval_and_a_repeated_event_at_once_reward_once(partner):
    from customers.models import User

    aino = member(first_name="Aino")
    friend = member(phone=aino.phone)
    referral = refer(aino, friend)
    buy(friend, partner, "30.00")
    services.referral_process(referral_id=referral.pk)
    staff = User.objects.create_user(username="reviewer", is_staff=True)

    def act(index: int) -> Any:
        if index == 0:
            return services.referral_approve(referral=referral, by=staff, note="Known family").status
        return tasks.referral_process_task(referral_id=referral.pk)

    results = _parallel(act, count=3)

    assert results[0] == "rewarded"
    assert referral_entries() == sorted([(aino.pk, 200), (friend.pk, 100)])
