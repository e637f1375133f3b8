"""The nightly jobs: points expiry, tier evaluation, voucher expiry. Each is safe to run twice,
and (on PostgreSQL) twice at the same time."""

from __future__ import annotations

import datetime
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import astuple
from decimal import Decimal
from typing import Any

import pytest
from dateutil.relativedelta import relativedelta
from django.db import connections

from customers.models import Customer
from loyalty import services
from loyalty.models import LedgerEntry, LotConsumption, PointsAccount, PointsLot, Tier, TierChange, Voucher
from loyalty.services.jobs import TierRunResult
from loyalty.verification import ledger_verify
from tests.customers.factories import CustomerFactory
from tests.loyalty.conftest import START, Clock
from tests.loyalty.factories import RewardFactory, TierFactory, base_rate, program_set, purchase_make

Kind = LedgerEntry.Kind


def grant(customer: Customer, amount: int, key: str) -> LedgerEntry:
    return services.points_earn(customer=customer, amount=amount, kind=Kind.GIFT, reason="Gift", idempotency_key=key)


def balances(*customers: Customer) -> list[int]:
    by_customer = dict(PointsAccount.objects.values_list("customer_id", "balance"))
    return [by_customer[customer.pk] for customer in customers]


def ledger_rows() -> tuple[int, int, int]:
    return LedgerEntry.objects.count(), LotConsumption.objects.count(), TierChange.objects.count()


# --- points_expire_all ------------------------------------------------------------------------


@pytest.mark.django_db
def test_expiry_takes_only_lots_past_their_date(clock: Clock):
    program_set(points_expiry_months=1)
    anna, bertta, cecilia = CustomerFactory(), CustomerFactory(), CustomerFactory()
    anna_old = grant(anna, 30, "anna-1")
    bertta_old = grant(bertta, 40, "bertta-1")
    services.reward_redeem(customer=bertta, reward=RewardFactory(points_cost=15), idempotency_key="redeem-1")
    spent = grant(cecilia, 10, "cecilia-spent")
    services.reward_redeem(customer=cecilia, reward=RewardFactory(points_cost=10), idempotency_key="redeem-2")
    program_set(points_expiry_months=0)
    grant(cecilia, 50, "cecilia-never")
    clock.advance(days=10)
    program_set(points_expiry_months=1)
    anna_new = grant(anna, 20, "anna-2")

    expired = services.points_expire_all(now=START + relativedelta(months=1))

    assert expired == 55
    assert balances(anna, bertta, cecilia) == [20, 0, 50]
    expiries = list(
        LedgerEntry.objects.filter(kind=Kind.EXPIRE)
        .order_by("id")
        .values_list("account__customer", "amount", "balance_after", "reverses", "idempotency_key")
    )
    anna_lot, bertta_lot = PointsLot.objects.get(entry=anna_old), PointsLot.objects.get(entry=bertta_old)
    assert expiries == [
        (anna.pk, -30, 20, anna_old.pk, f"expire:{anna_lot.pk}"),
        (bertta.pk, -25, 0, bertta_old.pk, f"expire:{bertta_lot.pk}"),
    ]
    assert PointsLot.objects.get(entry=spent).remaining == 0  # used up: nothing left to expire
    assert PointsLot.objects.get(entry=anna_new).remaining == 20
    for lot, points in ((anna_lot, 30), (bertta_lot, 25)):
        lot.refresh_from_db()
        assert lot.remaining == 0
        expire = LedgerEntry.objects.get(kind=Kind.EXPIRE, reverses=lot.entry)
        assert list(expire.consumptions.values_list("lot", "points")) == [(lot.pk, points)]
    assert ledger_verify() == []


@pytest.mark.django_db
def test_expiry_run_twice_is_the_same_as_once(clock: Clock):
    program_set(points_expiry_months=1)
    customers = [CustomerFactory() for _index in range(3)]
    for index, customer in enumerate(customers):
        grant(customer, 10 * (index + 1), f"gift-{index}")
    later = START + relativedelta(months=1, days=1)

    first = services.points_expire_all(now=later, batch_size=2)
    after_first = ledger_rows()
    second = services.points_expire_all(now=later, batch_size=2)

    assert (first, second) == (60, 0)
    assert ledger_rows() == after_first == (6, 3, 0)
    assert balances(*customers) == [0, 0, 0]
    assert ledger_verify() == []


@pytest.mark.django_db
def test_points_given_back_after_their_lot_expired_expire_again(clock: Clock):
    program_set(points_expiry_months=1)
    customer = CustomerFactory()
    gift = grant(customer, 100, "gift-1")
    voucher = services.reward_redeem(
        customer=customer, reward=RewardFactory(points_cost=40, voucher_valid_days=90), idempotency_key="redeem-1"
    ).voucher
    clock.advance(months=1)
    assert services.points_expire_all() == 60

    clock.advance(days=1)
    services.voucher_cancel(voucher=voucher)

    lot = PointsLot.objects.get(entry=gift)
    assert lot.remaining == 0
    assert list(
        LedgerEntry.objects.filter(account__customer=customer)
        .order_by("id")
        .values_list("kind", "amount", "balance_after", "idempotency_key")
    ) == [
        (Kind.GIFT, 100, 100, "gift-1"),
        (Kind.REDEEM, -40, 60, f"redeem:{voucher.pk}"),
        (Kind.EXPIRE, -60, 0, f"expire:{lot.pk}"),
        (Kind.REDEEM, 40, 40, f"redeem:{voucher.pk}:cancel"),
        (Kind.EXPIRE, -40, 0, f"expire:{lot.pk}:1"),
    ]
    assert services.points_expire_all() == 0
    assert balances(customer) == [0]
    assert ledger_verify() == []


@pytest.mark.django_db
def test_nothing_to_expire_returns_zero(clock: Clock):
    program_set(points_expiry_months=0)
    grant(CustomerFactory(), 10, "gift-1")

    assert services.points_expire_all(now=START + relativedelta(years=50)) == 0
    assert LedgerEntry.objects.filter(kind=Kind.EXPIRE).count() == 0


# --- tiers_evaluate_all -----------------------------------------------------------------------


@pytest.fixture
def tiers() -> dict[str, Tier]:
    program_set(tier_window_months=12, tier_grace_days=30)
    made = {
        "bronze": TierFactory(name="Bronze", rank=0, threshold=Decimal(0)),
        "silver": TierFactory(name="Silver", rank=1, threshold=Decimal(100)),
        "gold": TierFactory(name="Gold", rank=2, threshold=Decimal(500)),
    }
    base_rate()
    return made


def tier_of(customer: Customer) -> tuple[str | None, datetime.datetime | None, datetime.datetime | None]:
    account = PointsAccount.objects.select_related("tier").get(customer=customer)
    return (account.tier.name if account.tier else None, account.tier_since, account.tier_grace_until)


@pytest.mark.django_db
def test_missed_upgrades_are_made_once(clock: Clock, partner, tiers):
    shopper, gifted = CustomerFactory(), CustomerFactory()
    purchase_make(customer=shopper, partner=partner, amount="150.00")
    grant(gifted, 600, "gift-1")  # grants do not move tiers on the spot
    assert tier_of(gifted) == (None, None, None)
    clock.advance(days=1)

    first = services.tiers_evaluate_all()
    second = services.tiers_evaluate_all()

    assert first == TierRunResult(upgraded=1, downgraded=0, grace_started=0, grace_ended=0)
    assert second == TierRunResult(0, 0, 0, 0)
    assert tier_of(gifted) == ("Gold", START + relativedelta(days=1), None)
    assert tier_of(shopper) == ("Silver", START, None)
    change = TierChange.objects.get(account__customer=gifted)
    assert (change.from_tier, change.to_tier, change.reason, change.qualifying_value) == (
        None,
        tiers["gold"],
        TierChange.Reason.UPGRADE,
        Decimal(600),
    )


@pytest.mark.django_db
def test_lapsed_tier_gets_a_grace_period_then_a_downgrade(clock: Clock, partner, tiers):
    customer = CustomerFactory()
    purchase_make(customer=customer, partner=partner, amount="600.00")
    assert tier_of(customer) == ("Gold", START, None)
    lapsed = clock.advance(months=12, days=1)  # the purchase has left the 12-month window

    started = services.tiers_evaluate_all()
    again = services.tiers_evaluate_all()
    clock.advance(days=29)
    still_in_grace = services.tiers_evaluate_all()

    assert started == TierRunResult(upgraded=0, downgraded=0, grace_started=1, grace_ended=0)
    assert again == still_in_grace == TierRunResult(0, 0, 0, 0)
    assert tier_of(customer) == ("Gold", START, lapsed + datetime.timedelta(days=30))

    clock.advance(days=1)
    downgraded = services.tiers_evaluate_all()
    after = services.tiers_evaluate_all()

    assert downgraded == TierRunResult(upgraded=0, downgraded=1, grace_started=0, grace_ended=0)
    assert after == TierRunResult(0, 0, 0, 0)
    assert tier_of(customer) == ("Bronze", lapsed + datetime.timedelta(days=30), None)
    assert list(
        TierChange.objects.filter(account__customer=customer)
        .order_by("id")
        .values_list("from_tier__name", "to_tier__name", "reason", "qualifying_value")
    ) == [(None, "Gold", "upgrade", Decimal(600)), ("Gold", "Bronze", "downgrade", Decimal(0))]


@pytest.mark.django_db
def test_downgrade_goes_to_the_tier_still_qualified_for(clock: Clock, partner, tiers):
    customer = CustomerFactory()
    purchase_make(customer=customer, partner=partner, amount="600.00")
    clock.advance(months=6)
    purchase_make(customer=customer, partner=partner, amount="120.00")
    clock.advance(months=6, days=1)
    services.tiers_evaluate_all()
    clock.advance(days=30)

    result = services.tiers_evaluate_all()

    assert result.downgraded == 1
    assert tier_of(customer)[0] == "Silver"
    assert TierChange.objects.filter(account__customer=customer).order_by("id").last().qualifying_value == Decimal(120)


@pytest.mark.django_db
def test_requalifying_during_grace_ends_it(clock: Clock, partner, tiers):
    customer = CustomerFactory()
    purchase_make(customer=customer, partner=partner, amount="600.00")
    clock.advance(months=12, days=1)
    services.tiers_evaluate_all()
    clock.advance(days=10)
    grant(customer, 500, "gift-1")

    ended = services.tiers_evaluate_all()
    clock.advance(days=30)
    later = services.tiers_evaluate_all()

    assert ended == TierRunResult(upgraded=0, downgraded=0, grace_started=0, grace_ended=1)
    assert later == TierRunResult(0, 0, 0, 0)
    assert tier_of(customer) == ("Gold", START, None)
    assert TierChange.objects.filter(account__customer=customer).count() == 1


@pytest.mark.django_db
def test_a_qualifying_purchase_during_grace_ends_it_at_once(clock: Clock, partner, tiers):
    customer = CustomerFactory()
    purchase_make(customer=customer, partner=partner, amount="150.00")
    clock.advance(months=12, days=1)
    services.tiers_evaluate_all()
    assert tier_of(customer)[2] is not None

    purchase_make(customer=customer, partner=partner, amount="100.00")

    assert tier_of(customer) == ("Silver", START, None)


@pytest.mark.django_db
def test_without_tiers_the_evaluation_does_nothing(clock: Clock):
    grant(CustomerFactory(), 600, "gift-1")

    assert services.tiers_evaluate_all() == TierRunResult(0, 0, 0, 0)
    assert PointsAccount.objects.get().tier is None


# --- vouchers_expire_due ----------------------------------------------------------------------


@pytest.mark.django_db
def test_vouchers_past_their_date_expire_once_and_keep_their_points(clock: Clock, partner):
    customer = CustomerFactory()
    grant(customer, 100, "gift-1")
    short = RewardFactory(points_cost=10, voucher_valid_days=5)
    long = RewardFactory(points_cost=10, voucher_valid_days=6)
    due = services.reward_redeem(customer=customer, reward=short, idempotency_key="r-1").voucher
    used = services.reward_redeem(customer=customer, reward=short, idempotency_key="r-2").voucher
    services.voucher_use(code=used.code, partner=partner, order_id="ORDER-1")
    valid = services.reward_redeem(customer=customer, reward=long, idempotency_key="r-3").voucher
    clock.advance(days=5)

    assert services.vouchers_expire_due() == 1
    assert services.vouchers_expire_due() == 0

    statuses = dict(Voucher.objects.values_list("pk", "status"))
    assert statuses == {due.pk: "expired", used.pk: "redeemed", valid.pk: "issued"}
    assert balances(customer) == [70]


# --- the same jobs twice at the same time (PostgreSQL) ----------------------------------------


def _twice_at_once(call: Callable[[], Any]) -> list[Any]:
    """Run ``call`` in two threads released together; each thread has its own connection."""
    barrier = threading.Barrier(2)

    def run(_index: int) -> Any:
        try:
            barrier.wait(timeout=10)
            return call()
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=2) as pool:
        return list(pool.map(run, range(2)))


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_parallel_expiry_runs_expire_each_lot_once(clock: Clock):
    program_set(points_expiry_months=1)
    customers = [CustomerFactory() for _index in range(7)]
    for index, customer in enumerate(customers):
        grant(customer, 10 + index, f"gift-{index}")
    program_set(points_expiry_months=0)
    for index, customer in enumerate(customers):
        grant(customer, 5, f"keep-{index}")

    results = _twice_at_once(lambda: services.points_expire_all(now=START + relativedelta(months=1), batch_size=3))

    assert sum(results) == sum(10 + index for index in range(7))
    expiries = LedgerEntry.objects.filter(kind=Kind.EXPIRE)
    assert expiries.count() == 7
    assert sorted(expiries.values_list("reverses__idempotency_key", flat=True)) == sorted(
        f"gift-{index}" for index in range(7)
    )
    assert balances(*customers) == [5] * 7
    assert ledger_verify() == []


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_parallel_tier_runs_change_each_account_once(clock: Clock, partner, tiers):
    gifted = [CustomerFactory() for _index in range(4)]
    for index, customer in enumerate(gifted):
        grant(customer, 600, f"gift-{index}")
    lapsing = [CustomerFactory() for _index in range(3)]
    for customer in lapsing:
        purchase_make(customer=customer, partner=partner, amount="150.00")
    clock.advance(months=12, days=1)
    for index, customer in enumerate(gifted):
        grant(customer, 600, f"again-{index}")

    results = _twice_at_once(lambda: services.tiers_evaluate_all(batch_size=3))

    totals = TierRunResult(*(sum(values) for values in zip(*map(astuple, results), strict=True)))
    assert totals == TierRunResult(upgraded=4, downgraded=0, grace_started=3, grace_ended=0)
    assert TierChange.objects.filter(reason=TierChange.Reason.UPGRADE, to_tier=tiers["gold"]).count() == 4
    assert [tier_of(customer) for customer in gifted] == [("Gold", clock.now, None)] * 4
    assert [tier_of(customer) for customer in lapsing] == [
        ("Silver", START, clock.now + datetime.timedelta(days=30))
    ] * 3
