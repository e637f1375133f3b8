"""The loyalty section of the data export (account, purchases with lines and refunds, the ledger,
vouchers, tier changes, stamp cards) and what erasure does to loyalty data: open vouchers
cancelled with their points back, fingerprints dropped, purchases and the ledger kept."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from customers.models import Customer
from customers.privacy import ErasureSource, customer_erase
from loyalty.earning import Line
from loyalty.errors import CustomerInactive
from loyalty.models import LedgerEntry, PointsAccount, Purchase, Reward, Voucher
from loyalty.privacy import loyalty_data_erase, loyalty_data_export
from loyalty.services import purchase_record, refund_record, reward_redeem, voucher_use
from loyalty.verification import ledger_verify
from tests.customers.factories import CustomerFactory, PartnerFactory
from tests.loyalty.conftest import START, Clock
from tests.loyalty.factories import RewardFactory, StampCardFactory, TierFactory, base_rate, purchase_make

COFFEE = Line(sku="LATTE", category="coffee", quantity=3, unit_price=Decimal("5.00"))


@pytest.fixture
def programme(db: None) -> dict[str, object]:
    base_rate()
    TierFactory(name="Bronze", rank=0, threshold=Decimal(0))
    TierFactory(name="Silver", rank=1, threshold=Decimal(100))
    return {
        "partner": PartnerFactory(name="Kahvila"),
        "reward": RewardFactory(name="Free cake", points_cost=40, value=Decimal("4.00"), stock=5),
        "card": StampCardFactory(name="Coffee card", category="coffee", stamps_required=10),
    }


def test_export_holds_the_account_purchases_ledger_vouchers_tiers_and_stamps(programme, clock: Clock):
    customer = CustomerFactory()
    purchase = purchase_make(customer=customer, partner=programme["partner"], amount="150.00", lines=[COFFEE])
    refund_record(purchase=purchase, external_id="R-1", amount=Decimal("50.00"))
    reward_redeem(customer=customer, reward=programme["reward"], idempotency_key="cake-1")

    data = loyalty_data_export(customer)

    assert data["account"] == {
        "balance": 60,
        "pending_points": 0,
        "points_owed": 0,
        "lifetime_earned": 100,
        "tier": "Silver",
        "in_tier_since": START.isoformat(),
        "downgrade_grace_until": None,
    }
    (exported,) = data["purchases"]
    assert exported["external_id"] == purchase.external_id
    assert (exported["amount"], exported["refunded_amount"], exported["points_earned"]) == ("150.00", "50.00", 150)
    assert exported["lines"] == [{"sku": "LATTE", "category": "coffee", "quantity": 3, "unit_price": "5.00"}]
    assert [(refund["external_id"], refund["amount"], refund["points_reversed"]) for refund in exported["refunds"]] == [
        ("R-1", "50.00", 50)
    ]
    assert [(entry["kind"], entry["points"], entry["balance_after"]) for entry in data["ledger"]] == [
        ("earn", 150, 150),
        ("refund", -50, 100),
        ("redeem", -40, 60),
    ]
    assert [(voucher["reward"], voucher["status"], voucher["points_spent"]) for voucher in data["vouchers"]] == [
        ("Free cake", "issued", 40)
    ]
    assert [(change["from"], change["to"]) for change in data["tier_changes"]] == [(None, "Silver")]
    assert data["stamp_cards"] == [
        {"card": "Coffee card", "stamps": 3, "stamps_for_a_reward": 10, "rewards_completed": 0}
    ]


def test_export_of_a_customer_without_an_account_is_empty(db):
    assert loyalty_data_export(CustomerFactory()) == {
        "account": None,
        "purchases": [],
        "ledger": [],
        "vouchers": [],
        "tier_changes": [],
        "stamp_cards": [],
    }


def test_export_reads_nine_queries_whatever_the_history(programme, clock: Clock, django_assert_num_queries):
    customer = CustomerFactory()
    purchase_make(customer=customer, partner=programme["partner"], amount="50.00", lines=[COFFEE])
    with CaptureQueriesContext(connection) as few:
        loyalty_data_export(customer)
    for number in range(3):
        purchase = purchase_make(customer=customer, partner=programme["partner"], amount="60.00", lines=[COFFEE])
        refund_record(purchase=purchase, external_id=f"R-{number}", amount=Decimal("1.00"))
        reward_redeem(customer=customer, reward=programme["reward"], idempotency_key=f"cake-{number}")

    # account, pending points, purchases, their lines, their refunds, ledger, vouchers, tier
    # changes, stamp cards
    with django_assert_num_queries(9):
        data = loyalty_data_export(customer)

    assert len(few.captured_queries) == 9
    assert len(data["purchases"]) == 4
    assert len(data["vouchers"]) == 4  # three redeemed, one from the full stamp card


def test_erase_cancels_open_vouchers_only_and_gives_their_points_back(programme, clock: Clock):
    customer = CustomerFactory()
    purchase_make(customer=customer, partner=programme["partner"], amount="100.00")
    used = reward_redeem(customer=customer, reward=programme["reward"], idempotency_key="cake-1").voucher
    voucher_use(code=used.code, partner=programme["partner"], order_id="ORDER-9")
    kept_open = reward_redeem(customer=customer, reward=programme["reward"], idempotency_key="cake-2").voucher
    assert PointsAccount.objects.get(customer=customer).balance == 20

    loyalty_data_erase(customer)

    statuses = dict(Voucher.objects.filter(customer=customer).values_list("pk", "status"))
    assert statuses == {used.pk: Voucher.Status.REDEEMED, kept_open.pk: Voucher.Status.CANCELLED}
    assert PointsAccount.objects.get(customer=customer).balance == 60
    assert Reward.objects.get(pk=programme["reward"].pk).stock == 4  # the cancelled one's unit is back
    assert ledger_verify() == []


def test_erase_leaves_a_voucher_past_its_date_as_it_is(programme, clock: Clock):
    customer = CustomerFactory()
    purchase_make(customer=customer, partner=programme["partner"], amount="100.00")
    voucher = reward_redeem(customer=customer, reward=programme["reward"], idempotency_key="cake-1").voucher
    clock.now = voucher.expires_at + datetime.timedelta(minutes=1)

    loyalty_data_erase(customer)

    voucher.refresh_from_db()
    assert voucher.status == Voucher.Status.ISSUED  # the nightly expiry marks it; expiry returns no points
    assert PointsAccount.objects.get(customer=customer).balance == 60


def test_erase_drops_the_fingerprints_and_keeps_the_purchase(programme, clock: Clock):
    customer = CustomerFactory()
    purchase = purchase_record(
        partner=programme["partner"],
        external_id="WEB-1",
        customer=customer,
        amount=Decimal("80.00"),
        currency="EUR",
        occurred_at=START,
        payment_fingerprint="card-hash",
        shipping_fingerprint="address-hash",
    ).purchase
    entries = list(LedgerEntry.objects.filter(account__customer=customer).values_list("pk", "amount"))

    loyalty_data_erase(customer)
    loyalty_data_erase(customer)

    purchase.refresh_from_db()
    assert (purchase.payment_fingerprint, purchase.shipping_fingerprint) == ("", "")
    assert (purchase.external_id, purchase.amount, purchase.points_earned) == ("WEB-1", Decimal("80.00"), 80)
    assert list(LedgerEntry.objects.filter(account__customer=customer).values_list("pk", "amount")) == entries


def test_erased_customer_keeps_the_books_and_cannot_buy_or_redeem(programme, clock: Clock):
    customer = CustomerFactory()
    purchase_make(customer=customer, partner=programme["partner"], amount="100.00")
    reward_redeem(customer=customer, reward=programme["reward"], idempotency_key="cake-1")

    customer_erase(customer=customer, source=ErasureSource.ADMIN)

    customer.refresh_from_db()
    assert customer.status == Customer.Status.ERASED
    assert Purchase.objects.filter(customer=customer).count() == 1
    assert loyalty_data_export(customer)["account"]["balance"] == 100
    assert ledger_verify() == []
    with pytest.raises(CustomerInactive):
        purchase_make(customer=customer, partner=programme["partner"], amount="10.00")
    with pytest.raises(CustomerInactive):
        reward_redeem(customer=customer, reward=programme["reward"], idempotency_key="cake-2")
    assert (Purchase.objects.filter(customer=customer).count(), Voucher.objects.filter(customer=customer).count()) == (
        1,
        1,
    )
