"""Real parallel API requests on PostgreSQL: each thread has its own connection and transaction,
and all of them start together at a barrier. Idempotency keys, row locks and conditional updates
must hold: one purchase, never a negative balance, never an oversold reward or a twice-used voucher."""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import pytest
from django.db import connections
from django.db.models import Sum
from rest_framework.test import APIClient

from customers.models import Customer, Partner
from customers.services import partner_key_create
from loyalty.models import LedgerEntry, PointsAccount, Purchase, Refund, Voucher
from tests.customers.factories import CustomerFactory
from tests.loyalty.factories import RewardFactory, base_rate, points_grant, purchase_make

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

PURCHASES = "/api/v1/purchases/"
REDEMPTIONS = "/api/v1/redemptions/"
SCOPES = ["purchases:write", "redemptions:write", "vouchers:read", "vouchers:write"]


def _parallel(call: Callable[[int], Any], count: int) -> list[Any]:
    barrier = threading.Barrier(count)

    def run(index: int) -> Any:
        try:
            barrier.wait(timeout=30)
            return call(index)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(run, range(count)))


def _client(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    client.raise_request_exception = False  # a 500 is an answer to count, not a crash of the thread
    return client


def _statuses(responses: list[Any]) -> Counter[tuple[int, str | None]]:
    """(status, problem code) of each answer: ``(201, None)``, ``(409, "insufficient_points")``."""
    return Counter(
        (response.status_code, response.json().get("code") if response.status_code >= 400 else None)
        for response in responses
    )


def _ledger_sum(customer: Customer) -> int:
    return LedgerEntry.objects.filter(account__customer=customer).aggregate(total=Sum("amount"))["total"] or 0


@pytest.fixture
def key() -> str:
    partner = Partner.objects.create(name="POS")
    _row, secret = partner_key_create(partner=partner, scopes=SCOPES)
    _client(secret).get("/api/v1/vouchers/NONE/")  # the key's last-used stamp is written now, not in the race
    return secret


@pytest.mark.parametrize("by_email", [False, True])
def test_parallel_posts_of_one_purchase_record_it_once_and_answer_alike(key, by_email):
    base_rate("1")
    customer = CustomerFactory(email="aino@example.fi")
    who = {"customer_email": "new@example.fi"} if by_email else {"customer": str(customer.public_id)}
    body = {
        "external_id": "R-1001",
        "amount": "123.45",
        "currency": "EUR",
        "occurred_at": "2026-01-10T11:30:00+02:00",
        **who,
    }

    responses = _parallel(lambda index: _client(key).post(PURCHASES, body, format="json"), 20)

    assert _statuses(responses) == {(201, None): 1, (200, None): 19}
    assert len({json.dumps(response.json(), sort_keys=True) for response in responses}) == 1
    assert Purchase.objects.count() == 1
    assert LedgerEntry.objects.filter(kind=LedgerEntry.Kind.EARN).count() == 1
    assert Customer.objects.count() == (2 if by_email else 1)
    buyer = Purchase.objects.get().customer
    assert PointsAccount.objects.get(customer=buyer).balance == _ledger_sum(buyer) == 123


def test_parallel_posts_of_one_external_id_with_two_payloads_keep_the_first(key):
    base_rate("1")
    customer = CustomerFactory()

    def post(index: int) -> Any:
        body = {
            "external_id": "R-1001",
            "customer": str(customer.public_id),
            "amount": "10.00" if index % 2 else "20.00",
            "currency": "EUR",
            "occurred_at": "2026-01-10T11:30:00+02:00",
        }
        return _client(key).post(PURCHASES, body, format="json")

    responses = _parallel(post, 20)

    assert _statuses(responses) == {(201, None): 1, (200, None): 9, (409, "idempotency_conflict"): 10}
    purchase = Purchase.objects.get()
    winner = next(response for response in responses if response.status_code == 201)
    assert str(purchase.amount) == winner.json()["amount"]
    assert all(
        response.json()["amount"] == winner.json()["amount"] for response in responses if response.status_code == 200
    )
    assert PointsAccount.objects.get().balance == _ledger_sum(customer) == purchase.points_earned


def test_the_same_external_id_with_another_amount_is_409_and_changes_nothing(key):
    base_rate("1")
    customer = CustomerFactory()
    body = {
        "external_id": "R-1001",
        "customer": str(customer.public_id),
        "amount": "10.00",
        "currency": "EUR",
        "occurred_at": "2026-01-10T11:30:00+02:00",
    }
    client = _client(key)

    first = client.post(PURCHASES, body, format="json")
    other = client.post(PURCHASES, {**body, "amount": "11.00"}, format="json")

    assert first.status_code == 201
    assert (other.status_code, other.json()["code"]) == (409, "idempotency_conflict")
    assert (Purchase.objects.get().amount, PointsAccount.objects.get().balance) == (Decimal("10.00"), 10)
    assert LedgerEntry.objects.count() == 1


def test_parallel_redemptions_never_spend_more_than_the_balance(key):
    customer = CustomerFactory()
    points_grant(customer=customer, points=1050)
    reward = RewardFactory(points_cost=100)

    def redeem(index: int) -> Any:
        body = {"external_id": f"RD-{index}", "customer": str(customer.public_id), "reward": reward.pk}
        return _client(key).post(REDEMPTIONS, body, format="json")

    responses = _parallel(redeem, 20)

    assert _statuses(responses) == {(201, None): 10, (409, "insufficient_points"): 10}
    assert Voucher.objects.count() == 10
    assert PointsAccount.objects.get().balance == _ledger_sum(customer) == 50
    redeemed = LedgerEntry.objects.filter(kind=LedgerEntry.Kind.REDEEM).order_by("id")
    assert list(redeemed.values_list("balance_after", flat=True)) == list(range(950, 0, -100))
    assert not LedgerEntry.objects.filter(balance_after__lt=0).exists()


@pytest.mark.parametrize("count", [2, 10])
def test_parallel_uses_of_one_voucher_for_different_orders_let_one_win(key, count):
    customer = CustomerFactory()
    points_grant(customer=customer, points=100)
    reward = RewardFactory(points_cost=100)
    created = _client(key).post(
        REDEMPTIONS, {"external_id": "RD-1", "customer": str(customer.public_id), "reward": reward.pk}, format="json"
    )
    code = created.json()["code"]

    responses = _parallel(
        lambda index: _client(key).post(f"/api/v1/vouchers/{code}/redeem/", {"order_id": f"O-{index}"}, format="json"),
        count,
    )

    assert _statuses(responses) == {(200, None): 1, (409, "voucher_already_used"): count - 1}
    winner = next(response for response in responses if response.status_code == 200)
    voucher = Voucher.objects.get()
    assert (voucher.status, voucher.redeemed_order_id) == (Voucher.Status.REDEEMED, winner.json()["order_id"])


def test_parallel_redemptions_of_a_reward_in_short_stock_never_oversell_it(key):
    customers = [CustomerFactory() for _ in range(12)]
    for customer in customers:
        points_grant(customer=customer, points=500)
    reward = RewardFactory(points_cost=100, stock=3)

    def redeem(index: int) -> Any:
        body = {"external_id": f"RD-{index}", "customer": str(customers[index].public_id), "reward": reward.pk}
        return _client(key).post(REDEMPTIONS, body, format="json")

    responses = _parallel(redeem, len(customers))

    assert _statuses(responses) == {(201, None): 3, (409, "out_of_stock"): 9}
    reward.refresh_from_db()
    assert (reward.stock, Voucher.objects.count()) == (0, 3)
    balances = sorted(PointsAccount.objects.values_list("balance", flat=True))
    assert balances == [400] * 3 + [500] * 9
    for customer in customers:
        assert PointsAccount.objects.get(customer=customer).balance == _ledger_sum(customer)


def test_parallel_repeats_of_one_redemption_issue_one_voucher(key):
    customer = CustomerFactory()
    points_grant(customer=customer, points=1000)
    reward = RewardFactory(points_cost=100)
    body = {"external_id": "RD-1", "customer": str(customer.public_id), "reward": reward.pk}

    responses = _parallel(lambda index: _client(key).post(REDEMPTIONS, body, format="json"), 10)

    assert _statuses(responses) == {(201, None): 1, (200, None): 9}
    assert len({json.dumps(response.json(), sort_keys=True) for response in responses}) == 1
    assert Voucher.objects.count() == 1
    assert PointsAccount.objects.get().balance == _ledger_sum(customer) == 900


def test_parallel_redemptions_under_one_id_for_different_customers_are_conflicts_not_errors(key):
    """One partner sends one redemption id for several customers at once (a POS bug, or a replay):
    the first wins, the others are 409 ``idempotency_conflict``, and nothing else is written."""
    customers = [CustomerFactory() for _ in range(8)]
    for customer in customers:
        points_grant(customer=customer, points=500)
    reward = RewardFactory(points_cost=100, stock=100)

    def redeem(index: int) -> Any:
        body = {"external_id": "RD-1", "customer": str(customers[index].public_id), "reward": reward.pk}
        return _client(key).post(REDEMPTIONS, body, format="json")

    responses = _parallel(redeem, len(customers))

    assert _statuses(responses) == {(201, None): 1, (409, "idempotency_conflict"): 7}
    reward.refresh_from_db()
    assert (Voucher.objects.count(), reward.stock) == (1, 99)
    assert sorted(PointsAccount.objects.values_list("balance", flat=True)) == [400] + [500] * 7


def test_parallel_refunds_never_refund_more_than_the_purchase(key):
    base_rate("1")
    customer = CustomerFactory()
    partner = Partner.objects.get(name="POS")
    purchase_make(customer=customer, partner=partner, amount="100.00", external_id="P-1")

    def refund(index: int) -> Any:
        # even threads repeat one refund; odd ones each try to refund 60 of the 100 under their own id
        body = (
            {"external_id": "RF-A", "amount": "60.00"}
            if index % 2 == 0
            else {"external_id": f"RF-{index}", "amount": "60.00"}
        )
        return _client(key).post("/api/v1/purchases/P-1/refunds/", body, format="json")

    responses = _parallel(refund, 10)

    refund = Refund.objects.get()  # 60 of 100 refunded: no second refund of 60 fits
    assert Purchase.objects.get().refunded_amount == Decimal("60.00")
    if refund.external_id == "RF-A":  # the repeated refund won: its repeats are 200, the others refused
        assert _statuses(responses) == {(201, None): 1, (200, None): 4, (400, "refund_exceeds_purchase"): 5}
    else:
        assert _statuses(responses) == {(201, None): 1, (400, "refund_exceeds_purchase"): 9}
    assert PointsAccount.objects.get().balance == _ledger_sum(customer) == 40
