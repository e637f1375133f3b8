"""``ledger_verify``: re-derives every cached number set-based, and names what does not match.
Corruption is simulated with UPDATEs behind the ledger's back, as a bad migration or a manual
SQL fix would do."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import F

from customers.models import Customer
from loyalty import services
from loyalty.models import LedgerEntry, PointsAccount, PointsLot
from loyalty.verification import ledger_verify
from tests.customers.factories import CustomerFactory
from tests.loyalty.conftest import Clock
from tests.loyalty.factories import RewardFactory, base_rate, program_set, purchase_make

pytestmark = pytest.mark.django_db
Kind = LedgerEntry.Kind


def busy_customer(partner, label: str) -> Customer:
    """A customer whose ledger has every kind of movement: earn, refund, redeem, cancel, adjust,
    grant, expiry and a repayment of owed points."""
    customer = CustomerFactory()
    purchase = purchase_make(customer=customer, partner=partner, amount="100.00")
    voucher = services.reward_redeem(
        customer=customer, reward=RewardFactory(points_cost=30), idempotency_key=f"{label}-redeem-1"
    ).voucher
    services.voucher_cancel(voucher=voucher)
    services.reward_redeem(customer=customer, reward=RewardFactory(points_cost=60), idempotency_key=f"{label}-redeem-2")
    services.refund_record(purchase=purchase, external_id=f"{label}-refund", amount=Decimal("100.00"))  # owes 60
    services.points_earn(customer=customer, amount=80, kind=Kind.GIFT, reason="Gift", idempotency_key=f"{label}-gift")
    return customer


def account_of(customer: Customer) -> PointsAccount:
    return PointsAccount.objects.get(customer=customer)


@contextmanager
def check_constraints_off(table: str, constraint: str) -> Iterator[None]:
    """Let a row break a CHECK constraint, to simulate corruption the database itself let in
    (SQLite: a pragma for this connection; PostgreSQL: drop it inside the test's transaction,
    which is rolled back at the end)."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("PRAGMA ignore_check_constraints = ON")
        else:
            # Django's foreign keys are deferred; their pending checks must run before an ALTER.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute(f'ALTER TABLE "{table}" DROP CONSTRAINT "{constraint}"')
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
    try:
        yield
    finally:
        if connection.vendor == "sqlite":
            with connection.cursor() as cursor:
                cursor.execute("PRAGMA ignore_check_constraints = OFF")


def test_empty_ledger_verifies():
    assert ledger_verify() == []


def test_a_ledger_built_by_the_services_verifies(clock: Clock, partner):
    base_rate()
    program_set(points_expiry_months=1)
    customers = [busy_customer(partner, f"c{index}") for index in range(3)]
    clock.advance(months=1)
    services.points_expire_all()

    assert [account_of(customer).balance for customer in customers] == [0, 0, 0]
    assert LedgerEntry.objects.filter(kind=Kind.REPAY).count() == 3
    assert LedgerEntry.objects.filter(kind=Kind.EXPIRE).count() == 3
    assert ledger_verify() == []


def test_tampered_balance_is_reported(clock: Clock, partner):
    base_rate()
    healthy = busy_customer(partner, "healthy")
    tampered = busy_customer(partner, "tampered")
    account = account_of(tampered)
    PointsAccount.objects.filter(pk=account.pk).update(balance=F("balance") + 500)

    assert ledger_verify() == [
        f"account {account.pk} (customer {tampered.pk}): balance 520 != sum of ledger entries 20",
        f"account {account.pk} (customer {tampered.pk}): balance 520 != points remaining in lots 20",
    ]
    assert account_of(healthy).balance == 20


def test_tampered_lifetime_earned_is_reported(clock: Clock, partner):
    base_rate()
    customer = busy_customer(partner, "c")
    account = account_of(customer)
    PointsAccount.objects.filter(pk=account.pk).update(lifetime_earned=1000)

    assert ledger_verify() == [
        f"account {account.pk} (customer {customer.pk}): lifetime earned 1000 != sum of earning entries 140"
    ]


def test_tampered_entry_is_reported(clock: Clock, partner):
    base_rate()
    customer = busy_customer(partner, "c")
    account = account_of(customer)
    LedgerEntry.objects.filter(account=account, kind=Kind.EARN).update(amount=99)

    assert ledger_verify() == [
        f"account {account.pk} (customer {customer.pk}): balance 20 != sum of ledger entries 19",
        f"account {account.pk} (customer {customer.pk}): lifetime earned 140 != sum of earning entries 139",
    ]


def test_tampered_lot_is_reported(clock: Clock, partner):
    base_rate()
    customer = busy_customer(partner, "c")
    account = account_of(customer)
    lot = PointsLot.objects.get(account=account, entry__kind=Kind.GIFT)
    PointsLot.objects.filter(pk=lot.pk).update(remaining=F("remaining") - 5)

    assert ledger_verify() == [
        f"account {account.pk} (customer {customer.pk}): balance 20 != points remaining in lots 15"
    ]


def test_negative_lot_is_reported(clock: Clock, partner):
    base_rate()
    customer = busy_customer(partner, "c")
    account = account_of(customer)
    lot = PointsLot.objects.get(account=account, entry__kind=Kind.EARN)

    with check_constraints_off("loyalty_pointslot", "loyalty_lot_remaining_in_range"):
        PointsLot.objects.filter(pk=lot.pk).update(remaining=-7)
        problems = ledger_verify()

    assert problems == [
        f"account {account.pk} (customer {customer.pk}): balance 20 != points remaining in lots 13",
        f"lot {lot.pk} of account {account.pk}: remaining -7 is outside 0..100",
    ]


def test_verification_is_set_based(clock: Clock, partner, django_assert_num_queries):
    base_rate()
    for index in range(2):
        busy_customer(partner, f"a{index}")
    with django_assert_num_queries(2):
        assert ledger_verify() == []

    for index in range(4):
        busy_customer(partner, f"b{index}")
    with django_assert_num_queries(2):
        assert ledger_verify() == []
