"""The services under real parallel transactions on PostgreSQL: one idempotency key sent for
several customers at once locks different accounts, so the unique key alone decides; the losers
get the domain's answer (``PayloadConflict``), never a database error, and nothing else is written."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django.db import connections

from loyalty import services
from loyalty.errors import PayloadConflict
from loyalty.models import LedgerEntry, PointsAccount, PointsLot, Reward, Voucher
from loyalty.verification import ledger_verify
from tests.customers.factories import CustomerFactory
from tests.loyalty.conftest import Clock
from tests.loyalty.factories import RewardFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

Kind = LedgerEntry.Kind
WORKERS = 6


def _parallel(call: Callable[[int], Any], count: int = WORKERS) -> list[Any]:
    """Run ``call(index)`` in ``count`` threads released together; return each result or the
    exception's class name."""
    barrier = threading.Barrier(count)

    def run(index: int) -> Any:
        try:
            barrier.wait(timeout=10)
            return call(index)
        except PayloadConflict as error:
            return type(error).__name__
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(run, range(count)))


def test_one_redemption_key_for_several_customers_at_once(clock: Clock):
    customers = [CustomerFactory() for _index in range(WORKERS)]
    for index, customer in enumerate(customers):
        services.points_earn(customer=customer, amount=500, kind=Kind.GIFT, reason="Gift", idempotency_key=f"g-{index}")
    reward = RewardFactory(points_cost=100, stock=10)

    results = _parallel(
        lambda index: services.reward_redeem(customer=customers[index], reward=reward, idempotency_key="RD-1").created
    )

    assert Counter(results) == {True: 1, "PayloadConflict": WORKERS - 1}
    assert Voucher.objects.count() == 1
    assert Reward.objects.get(pk=reward.pk).stock == 9
    assert sorted(PointsAccount.objects.values_list("balance", flat=True)) == [400] + [500] * (WORKERS - 1)
    assert ledger_verify() == []


def test_one_grant_key_for_several_customers_at_once(clock: Clock):
    customers = [CustomerFactory() for _index in range(WORKERS)]

    def earn(index: int) -> Any:
        entry = services.points_earn(
            customer=customers[index], amount=50, kind=Kind.REFERRAL, reason="Referral", idempotency_key="ref-1"
        )
        return entry.account.customer_id == customers[index].pk

    results = _parallel(earn)

    assert Counter(results) == {True: 1, "PayloadConflict": WORKERS - 1}
    assert LedgerEntry.objects.count() == PointsLot.objects.count() == 1
    assert list(PointsAccount.objects.values_list("balance", flat=True)) == [50]  # the losers wrote nothing
    assert ledger_verify() == []


def test_the_same_grant_repeated_at_once_is_granted_once(clock: Clock):
    customer = CustomerFactory()

    results = _parallel(
        lambda _index: (
            services.points_earn(
                customer=customer, amount=50, kind=Kind.BIRTHDAY, reason="Birthday", idempotency_key="birthday:2026"
            ).pk
        )
    )

    assert len(set(results)) == 1
    assert PointsAccount.objects.get().balance == 50
    assert ledger_verify() == []


def test_the_same_claw_back_at_once_takes_the_points_once(clock: Clock):
    customer = CustomerFactory()
    grant = services.points_earn(
        customer=customer, amount=80, kind=Kind.REFERRAL, reason="Referral", idempotency_key="ref-1"
    )
    services.reward_redeem(customer=customer, reward=RewardFactory(points_cost=50), idempotency_key="RD-1")

    results = _parallel(
        lambda _index: services.points_claw_back(entry=grant, reason="Refunded", idempotency_key="claw:1").pk
    )

    assert len(set(results)) == 1
    account = PointsAccount.objects.get()
    assert (account.balance, account.owed) == (0, 50)
    assert ledger_verify() == []
