"""The loyalty part of the partner API: points and ledger, purchases and refunds, the rewards
catalogue, redemptions and vouchers. Every refused path also asserts that nothing was written."""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest
from django.core.management import call_command
from django.urls import reverse
from drf_spectacular.drainage import GENERATOR_STATS
from rest_framework.test import APIClient

from customers.models import Customer, Partner, Scope, SignupSource
from loyalty import services
from loyalty.models import (
    EarningRule,
    LedgerEntry,
    PointsAccount,
    Program,
    Purchase,
    PurchaseLine,
    Refund,
    Reward,
    Voucher,
)
from loyalty.program import program_cache_clear
from tests.customers.factories import CustomerFactory
from tests.loyalty.conftest import START, Clock
from tests.loyalty.factories import (
    EarningRuleFactory,
    RewardFactory,
    TierFactory,
    base_rate,
    points_grant,
    program_set,
    purchase_make,
)

pytestmark = pytest.mark.django_db

PURCHASES = "/api/v1/purchases/"
REWARDS = "/api/v1/rewards/"
REDEMPTIONS = "/api/v1/redemptions/"
LOYALTY_SCOPES = [
    Scope.CUSTOMERS_READ,
    Scope.PURCHASES_WRITE,
    Scope.REWARDS_READ,
    Scope.REDEMPTIONS_WRITE,
    Scope.VOUCHERS_READ,
    Scope.VOUCHERS_WRITE,
]
CODE_PATTERN = re.compile(r"^[A-HJKMNP-Z2-9]{4}-[A-HJKMNP-Z2-9]{4}-[A-HJKMNP-Z2-9]{4}$")
# START (2026-03-10 10:00 UTC) and the times derived from it, as the API shows them (Helsinki).
NOW = "2026-03-10T12:00:00+02:00"
IN_30_DAYS = "2026-04-09T13:00:00+03:00"
IN_60_DAYS = "2026-05-09T13:00:00+03:00"
IN_24_MONTHS = "2028-03-10T12:00:00+02:00"


def loyalty_url(customer: Customer) -> str:
    return f"/api/v1/customers/{customer.public_id}/loyalty/"


def ledger_url(customer: Customer) -> str:
    return f"/api/v1/customers/{customer.public_id}/ledger/"


def refunds_url(external_id: str) -> str:
    return f"/api/v1/purchases/{external_id}/refunds/"


def voucher_url(code: str) -> str:
    return f"/api/v1/vouchers/{code}/"


def redeem_url(code: str) -> str:
    return f"/api/v1/vouchers/{code}/redeem/"


def display(code: str) -> str:
    return services.voucher_code_display(code)


def assert_problem(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status
    assert body["code"] == code
    assert body["type"].endswith(code)
    return body


def rows() -> dict[str, int]:
    """Row counts of everything a loyalty request can write."""
    models: list[Any] = [Customer, Purchase, PurchaseLine, Refund, LedgerEntry, PointsAccount, Voucher]
    return {model.__name__: model.objects.count() for model in models}


def balance_of(customer: Customer) -> int:
    return PointsAccount.objects.get(customer=customer).balance


def ledger_sum(customer: Customer) -> int:
    return sum(LedgerEntry.objects.filter(account__customer=customer).values_list("amount", flat=True))


def purchase_body(customer: Customer | None = None, /, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "external_id": "R-1001",
        "amount": "123.45",
        "currency": "EUR",
        "occurred_at": "2026-03-10T11:30:00+02:00",
    }
    if customer is not None:
        body["customer"] = str(customer.public_id)
    body.update(overrides)
    return body


@pytest.fixture
def api(make_api_client: Callable[..., APIClient], partner: Partner) -> APIClient:
    return make_api_client(LOYALTY_SCOPES, partner=partner)


@pytest.fixture
def other_api(make_api_client: Callable[..., APIClient]) -> APIClient:
    return make_api_client(LOYALTY_SCOPES, partner=Partner.objects.create(name="Verkkokauppa"))


@pytest.fixture
def programme() -> SimpleNamespace:
    """1 point per euro; Bronze from 0 points, Silver from 500 (x1.5), Gold from 2,000 (x2)."""
    base_rate("1")
    bronze = TierFactory(name="Bronze", rank=0, threshold=Decimal(0))
    silver = TierFactory(
        name="Silver",
        rank=1,
        threshold=Decimal(500),
        multiplier=Decimal("1.50"),
        perks="Free coffee\n  Early access to sales \n\n",
    )
    gold = TierFactory(name="Gold", rank=2, threshold=Decimal(2000), multiplier=Decimal("2.00"))
    program_cache_clear()
    return SimpleNamespace(bronze=bronze, silver=silver, gold=gold)


@pytest.fixture
def customer() -> Customer:
    return CustomerFactory(email="aino@example.fi")


@pytest.fixture
def coffee() -> Reward:
    return RewardFactory(name="Coffee", description="A cup of coffee", points_cost=100, value=Decimal("2.50"))


@pytest.fixture
def voucher(programme, partner, clock: Clock, customer, coffee) -> Voucher:
    """Aino bought for 600 EUR (Silver) and spent 100 points on a coffee voucher."""
    purchase_make(customer=customer, partner=partner, amount="600.00", external_id="P-1")
    return services.reward_redeem(customer=customer, reward=coffee, idempotency_key="test:coffee").voucher


# --- authentication and scopes ----------------------------------------------------------------

ENDPOINT_SCOPES = {
    "loyalty": Scope.CUSTOMERS_READ,
    "ledger": Scope.CUSTOMERS_READ,
    "purchase": Scope.PURCHASES_WRITE,
    "refund": Scope.PURCHASES_WRITE,
    "rewards": Scope.REWARDS_READ,
    "redemption": Scope.REDEMPTIONS_WRITE,
    "voucher": Scope.VOUCHERS_READ,
    "voucher_redeem": Scope.VOUCHERS_WRITE,
}


def call_endpoint(client: APIClient, name: str, voucher: Voucher) -> Any:
    """A valid request to each endpoint: with the right key it would read or write."""
    customer = voucher.customer
    calls: dict[str, tuple[str, str, dict[str, Any] | None]] = {
        "loyalty": ("get", loyalty_url(customer), None),
        "ledger": ("get", ledger_url(customer), None),
        "purchase": ("post", PURCHASES, purchase_body(customer, external_id="P-2")),
        "refund": ("post", refunds_url("P-1"), {"external_id": "RF-1", "amount": "10.00"}),
        "rewards": ("get", REWARDS, None),
        "redemption": (
            "post",
            REDEMPTIONS,
            {"external_id": "RD-1", "customer": str(customer.public_id), "reward": voucher.reward_id},
        ),
        "voucher": ("get", voucher_url(voucher.code), None),
        "voucher_redeem": ("post", redeem_url(voucher.code), {"order_id": "O-1"}),
    }
    method, url, body = calls[name]
    if method == "get":
        return client.get(url)
    return client.post(url, body, format="json")


@pytest.mark.parametrize("name", ENDPOINT_SCOPES)
def test_without_a_key_every_endpoint_is_401_and_writes_nothing(voucher, name):
    before = rows()

    response = call_endpoint(APIClient(), name, voucher)

    assert_problem(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"] == "Api-Key"
    assert rows() == before


@pytest.mark.parametrize("name", ENDPOINT_SCOPES)
def test_a_key_without_the_scope_is_403_and_writes_nothing(make_api_client, voucher, name):
    scope = ENDPOINT_SCOPES[name]
    client = make_api_client([other for other in Scope.values if other != scope])
    before = rows()

    response = call_endpoint(client, name, voucher)

    body = assert_problem(response, 403, "missing_scope")
    assert scope in body["detail"]
    assert rows() == before
    voucher.refresh_from_db()
    assert (voucher.status, voucher.redeemed_order_id) == (Voucher.Status.ISSUED, "")
    assert Purchase.objects.get().refunded_amount == Decimal(0)


@pytest.mark.parametrize("name", ENDPOINT_SCOPES)
def test_a_key_with_only_the_endpoint_scope_is_enough(make_api_client, voucher, name):
    expected = {"purchase": 201, "refund": 201, "redemption": 201}.get(name, 200)

    response = call_endpoint(make_api_client([ENDPOINT_SCOPES[name]]), name, voucher)

    assert response.status_code == expected, response.content


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("get", PURCHASES),
        ("get", REDEMPTIONS),
        ("post", REWARDS),
        ("delete", "/api/v1/vouchers/AAAA-BBBB-CCCC/"),
        ("get", "/api/v1/vouchers/AAAA-BBBB-CCCC/redeem/"),
        ("get", "/api/v1/purchases/P-1/refunds/"),
    ],
)
def test_another_method_is_405_problem(api, method, url):
    assert_problem(getattr(api, method)(url), 405, "method_not_allowed")


@pytest.mark.parametrize(
    ("body", "content_type", "status", "code"),
    [
        ("{not json", "application/json", 400, "malformed_json"),
        ("external_id=R-1", "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
        ("[1, 2]", "application/json", 400, "invalid"),
    ],
)
def test_malformed_bodies_are_problems_and_write_nothing(api, customer, body, content_type, status, code):
    before = rows()

    assert_problem(api.generic("POST", PURCHASES, body, content_type=content_type), status, code)
    assert_problem(api.generic("POST", REDEMPTIONS, body, content_type=content_type), status, code)
    assert rows() == before


# --- GET /customers/{id}/loyalty/ ---------------------------------------------------------------


def test_loyalty_of_a_customer_without_points_shows_the_entry_tier(api, programme, clock, customer):
    response = api.get(loyalty_url(customer))

    assert response.status_code == 200
    assert response.json() == {
        "balance": 0,
        "pending_points": 0,
        "points_owed": 0,
        "lifetime_earned": 0,
        "tier": {"name": "Bronze", "rank": 0, "multiplier": "1.00", "perks": []},
        "tier_since": None,
        "tier_grace_until": None,
        "next_tier": {"name": "Silver", "threshold": "500.00"},
        "qualification": {
            "measure": "points_earned",
            "window_months": 12,
            "value": "0.00",
            "needed_for_next": "500.00",
            "progress_percent": 0,
        },
        "expiring": {"points": 0, "before": IN_30_DAYS},
    }
    assert PointsAccount.objects.count() == 0  # a read creates nothing


def test_loyalty_shows_balance_tier_and_progress_to_the_next_tier(api, programme, partner, clock, customer):
    purchase_make(customer=customer, partner=partner, amount="600.00")

    response = api.get(loyalty_url(customer))

    assert response.status_code == 200
    assert response.json() == {
        "balance": 600,
        "pending_points": 0,
        "points_owed": 0,
        "lifetime_earned": 600,
        "tier": {"name": "Silver", "rank": 1, "multiplier": "1.50", "perks": ["Free coffee", "Early access to sales"]},
        "tier_since": NOW,
        "tier_grace_until": None,
        "next_tier": {"name": "Gold", "threshold": "2000.00"},
        "qualification": {
            "measure": "points_earned",
            "window_months": 12,
            "value": "600.00",
            "needed_for_next": "1400.00",
            "progress_percent": 6,  # (600 - 500) / (2000 - 500), rounded down
        },
        "expiring": {"points": 0, "before": IN_30_DAYS},
    }


def test_loyalty_measured_by_spend_shows_money(api, programme, partner, clock, customer):
    program_set(tier_measure=Program.TierMeasure.SPEND, tier_window_months=6)
    purchase_make(customer=customer, partner=partner, amount="123.45")

    body = api.get(loyalty_url(customer)).json()

    assert body["qualification"] == {
        "measure": "spend",
        "window_months": 6,
        "value": "123.45",
        "needed_for_next": "376.55",
        "progress_percent": 24,
    }
    assert (body["tier"]["name"], body["next_tier"]) == ("Bronze", {"name": "Silver", "threshold": "500.00"})


def test_loyalty_at_the_top_tier_has_no_next_tier(api, programme, partner, clock, customer):
    purchase_make(customer=customer, partner=partner, amount="2500.00")

    body = api.get(loyalty_url(customer)).json()

    assert body["tier"] == {"name": "Gold", "rank": 2, "multiplier": "2.00", "perks": []}
    assert body["next_tier"] is None
    assert body["qualification"]["needed_for_next"] is None
    assert body["qualification"]["progress_percent"] == 100


def test_loyalty_shows_points_about_to_expire_and_the_downgrade_grace(api, programme, partner, clock, customer):
    purchase_make(customer=customer, partner=partner, amount="600.00")  # Silver; the points expire in 24 months
    clock.advance(months=23, days=10)  # 2028-02-20: the points expire on 2028-03-10, within the 30-day warning
    services.tiers_evaluate_all()  # nothing earned in the last 12 months: a 30-day grace before the downgrade

    body = api.get(loyalty_url(customer)).json()

    assert body["balance"] == 600
    assert body["expiring"] == {"points": 600, "before": "2028-03-21T12:00:00+02:00"}
    assert body["tier"]["name"] == "Silver"
    assert body["tier_grace_until"] == "2028-03-21T12:00:00+02:00"
    assert body["qualification"]["value"] == "0.00"
    assert body["qualification"]["needed_for_next"] == "2000.00"
    assert body["qualification"]["progress_percent"] == 0


def test_pending_points_are_shown_apart_from_the_balance(api, programme, clock, customer):
    program_set(pending_points_enabled=True, return_window_days=14)

    purchase = api.post(PURCHASES, purchase_body(customer), format="json")

    assert purchase.status_code == 201
    assert (purchase.json()["points_earned"], purchase.json()["points_pending"]) == (123, True)
    assert purchase.json()["balance_after"] == 0
    body = api.get(loyalty_url(customer)).json()
    assert (body["balance"], body["pending_points"], body["lifetime_earned"]) == (0, 123, 0)


def test_loyalty_of_an_unknown_customer_is_404_naming_it(api):
    unknown = "5b1e0c36-6a4b-4a1b-9d7e-2f1c1f0a9e11"

    body = assert_problem(api.get(f"/api/v1/customers/{unknown}/loyalty/"), 404, "customer_not_found")

    assert body["customer"] == unknown
    assert_problem(api.get("/api/v1/customers/not-a-uuid/loyalty/"), 404, "not_found")


def test_loyalty_uses_a_constant_number_of_queries(api, programme, partner, clock, customer, django_assert_num_queries):
    purchase_make(customer=customer, partner=partner, amount="600.00")
    api.get(loyalty_url(customer))  # warms the programme cache and the key's last-used stamp

    # key, customer, account with its tier, window value, expiring lots, pending points
    with django_assert_num_queries(6):
        first = api.get(loyalty_url(customer))
    assert first.json()["balance"] == 600

    for number in range(9):
        points_grant(customer=customer, points=10, key=f"bonus-{number}")
    with django_assert_num_queries(6):
        tenth = api.get(loyalty_url(customer))
    assert tenth.json()["balance"] == 690
    assert LedgerEntry.objects.count() == 10


# --- GET /customers/{id}/ledger/ ----------------------------------------------------------------


def test_ledger_lists_the_customers_entries_newest_first(api, programme, partner, clock, customer, coffee):
    purchase = purchase_make(customer=customer, partner=partner, amount="300.00", external_id="P-1")
    voucher = services.reward_redeem(customer=customer, reward=coffee, idempotency_key="test:coffee").voucher
    services.refund_record(purchase=purchase, external_id="RF-1", amount=Decimal("30.00"))
    purchase_make(customer=CustomerFactory(), partner=partner, amount="50.00")  # someone else's
    earn, redeem, refund = LedgerEntry.objects.filter(account__customer=customer).order_by("id")

    response = api.get(ledger_url(customer))

    assert response.status_code == 200
    assert response.json() == {
        "next": None,
        "previous": None,
        "results": [
            {
                "id": refund.pk,
                "kind": "refund",
                "amount": -30,
                "balance_after": 170,
                "reason": "Refund RF-1 of purchase P-1",
                "created_at": NOW,
                "expires_at": None,
                "purchase": None,
                "voucher": None,
                "reverses": earn.pk,
            },
            {
                "id": redeem.pk,
                "kind": "redeem",
                "amount": -100,
                "balance_after": 200,
                "reason": "Reward: Coffee",
                "created_at": NOW,
                "expires_at": None,
                "purchase": None,
                "voucher": display(voucher.code),
                "reverses": None,
            },
            {
                "id": earn.pk,
                "kind": "earn",
                "amount": 300,
                "balance_after": 300,
                "reason": "Purchase P-1",
                "created_at": NOW,
                "expires_at": IN_24_MONTHS,
                "purchase": "P-1",
                "voucher": None,
                "reverses": None,
            },
        ],
    }
    assert balance_of(customer) == ledger_sum(customer) == 170


def test_ledger_pages_with_a_cursor(api, clock, customer):
    for number in range(1, 6):
        points_grant(customer=customer, points=number)

    first = api.get(ledger_url(customer), {"page_size": 2}).json()
    second = api.get(first["next"]).json()
    third = api.get(second["next"]).json()

    assert [entry["amount"] for entry in first["results"]] == [5, 4]
    assert [entry["amount"] for entry in second["results"]] == [3, 2]
    assert [entry["amount"] for entry in third["results"]] == [1]
    assert third["next"] is None
    assert first["previous"] is None


def test_ledger_of_an_unknown_customer_is_404(api):
    unknown = "5b1e0c36-6a4b-4a1b-9d7e-2f1c1f0a9e11"

    body = assert_problem(api.get(f"/api/v1/customers/{unknown}/ledger/"), 404, "customer_not_found")

    assert body["customer"] == unknown


def test_ledger_uses_a_constant_number_of_queries(
    api, programme, partner, clock, customer, coffee, django_assert_num_queries
):
    purchase_make(customer=customer, partner=partner, amount="600.00", external_id="P-1")
    api.get(ledger_url(customer))  # the key's last-used stamp is written on first use only

    # key, customer, one page of entries with their purchases and vouchers
    with django_assert_num_queries(3):
        first = api.get(ledger_url(customer))
    assert len(first.json()["results"]) == 1

    for number in range(4):
        purchase_make(customer=customer, partner=partner, amount="10.00", external_id=f"P-{number + 2}")
        services.reward_redeem(customer=customer, reward=coffee, idempotency_key=f"test:coffee:{number}")
    points_grant(customer=customer, points=5)
    with django_assert_num_queries(3):
        tenth = api.get(ledger_url(customer))
    results = tenth.json()["results"]
    assert len(results) == 10
    assert sum(1 for entry in results if entry["voucher"]) == 4
    assert sum(1 for entry in results if entry["purchase"]) == 5


# --- POST /purchases/ -----------------------------------------------------------------------------


def test_purchase_for_a_customer_id_is_201_with_its_points(api, programme, clock, customer):
    response = api.post(
        PURCHASES, purchase_body(customer, currency="eur", store="Helsinki 1", channel="web"), format="json"
    )

    assert response.status_code == 201
    assert response.json() == {
        "id": "R-1001",
        "customer": str(customer.public_id),
        "amount": "123.45",
        "currency": "EUR",
        "occurred_at": "2026-03-10T11:30:00+02:00",
        "store": "Helsinki 1",
        "channel": "web",
        "points_earned": 123,
        "points_pending": False,
        "balance_after": 123,
        "tier_after": "Bronze",
        "earn_breakdown": [{"rule": "Base", "kind": "base_rate", "points": 123}],
        "recorded_at": NOW,
    }
    purchase = Purchase.objects.get()
    assert (purchase.partner, purchase.customer, purchase.external_id) == (api.partner, customer, "R-1001")
    entry = LedgerEntry.objects.get()
    assert (entry.kind, entry.amount, entry.purchase) == ("earn", 123, purchase)
    assert balance_of(customer) == 123


def test_purchase_with_lines_earns_line_bonuses_and_keeps_the_lines(api, programme, clock, customer):
    EarningRuleFactory(name="Coffee bonus", kind=EarningRule.Kind.CATEGORY_BONUS, category="coffee", points_per_unit=2)
    program_cache_clear()
    lines = [
        {"sku": "ESP-1", "category": "Coffee", "quantity": 2, "unit_price": "3.50"},
        {"sku": "BUN-1", "quantity": 1, "unit_price": 4},
    ]

    response = api.post(PURCHASES, purchase_body(customer, amount="11.00", lines=lines), format="json")

    assert response.status_code == 201
    assert response.json()["points_earned"] == 25
    assert response.json()["earn_breakdown"] == [
        {"rule": "Base", "kind": "base_rate", "points": 11},
        {"rule": "Coffee bonus", "kind": "category", "points": 14},
    ]
    assert list(PurchaseLine.objects.order_by("id").values_list("sku", "category", "quantity", "unit_price")) == [
        ("ESP-1", "Coffee", 2, Decimal("3.50")),
        ("BUN-1", "", 1, Decimal("4.00")),
    ]


def test_purchase_that_reaches_a_tier_reports_it_and_the_next_one_earns_more(api, programme, clock, customer):
    first = api.post(PURCHASES, purchase_body(customer, external_id="R-1", amount="600"), format="json")
    second = api.post(PURCHASES, purchase_body(customer, external_id="R-2", amount="100"), format="json")

    assert (first.json()["tier_after"], first.json()["balance_after"]) == ("Silver", 600)
    assert second.json()["earn_breakdown"] == [
        {"rule": "Base", "kind": "base_rate", "points": 100},
        {"rule": "Silver", "kind": "tier", "points": 50},
    ]
    assert (second.json()["points_earned"], second.json()["balance_after"]) == (150, 750)


def test_purchase_by_email_registers_a_new_customer_once(api, programme, clock):
    first = api.post(PURCHASES, purchase_body(customer_email="Uusi.Asiakas@Example.FI"), format="json")
    again = api.post(PURCHASES, purchase_body(customer_email="uusi.asiakas@EXAMPLE.fi"), format="json")

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    customer = Customer.objects.get()
    assert first.json()["customer"] == str(customer.public_id)
    assert customer.email == "Uusi.Asiakas@example.fi"
    assert (customer.signup_source, customer.signup_partner) == (SignupSource.API, api.partner)
    assert (Purchase.objects.count(), LedgerEntry.objects.count()) == (1, 1)


def test_purchase_by_the_email_of_a_known_customer_is_theirs(api, programme, clock, customer):
    response = api.post(PURCHASES, purchase_body(customer_email="AINO@example.fi"), format="json")

    assert response.status_code == 201
    assert response.json()["customer"] == str(customer.public_id)
    assert Customer.objects.count() == 1
    assert balance_of(customer) == 123


@pytest.mark.parametrize(
    "variant",
    [
        {},
        {"amount": 123.45},
        {"amount": "0123.45"},
        {"currency": "eur"},
        {"occurred_at": "2026-03-10T09:30:00Z"},
        {"occurred_at": "2026-03-10T10:30:00+01:00"},
        {"channel": "store", "store": "", "lines": []},
    ],
)
def test_repeated_purchase_is_200_with_the_same_body_and_writes_nothing(api, programme, clock, customer, variant):
    first = api.post(PURCHASES, purchase_body(customer), format="json")
    before = rows()

    again = api.post(PURCHASES, purchase_body(customer, **variant), format="json")

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert rows() == before
    assert balance_of(customer) == 123


@pytest.mark.parametrize(
    "change",
    [
        {"amount": "123.46"},
        {"occurred_at": "2026-03-10T11:31:00+02:00"},
        {"store": "Tampere"},
        {"channel": "web"},
        {"lines": [{"sku": "ESP-1", "quantity": 1, "unit_price": "3.50"}]},
        {"customer": "other"},
    ],
)
def test_same_external_id_with_another_payload_is_409_and_writes_nothing(api, programme, clock, customer, change):
    api.post(PURCHASES, purchase_body(customer), format="json")
    if change.get("customer") == "other":
        change = {"customer": str(CustomerFactory().public_id)}
    before = rows()

    response = api.post(PURCHASES, purchase_body(customer, **change), format="json")

    body = assert_problem(response, 409, "idempotency_conflict")
    assert body["external_id"] == "R-1001"
    assert rows() == before
    assert Purchase.objects.get().amount == Decimal("123.45")


def test_same_external_id_at_another_partner_is_another_purchase(api, other_api, programme, clock, customer):
    mine = api.post(PURCHASES, purchase_body(customer), format="json")
    theirs = other_api.post(PURCHASES, purchase_body(customer), format="json")

    assert (mine.status_code, theirs.status_code) == (201, 201)
    assert (mine.json()["balance_after"], theirs.json()["balance_after"]) == (123, 246)
    assert sorted(Purchase.objects.values_list("partner__name", flat=True)) == ["Kahvila POS", "Verkkokauppa"]


def test_purchase_for_an_unknown_customer_is_404_naming_it(api, programme, clock):
    unknown = "5b1e0c36-6a4b-4a1b-9d7e-2f1c1f0a9e11"
    before = rows()

    body = assert_problem(
        api.post(PURCHASES, {**purchase_body(), "customer": unknown}, format="json"), 404, "customer_not_found"
    )

    assert body["customer"] == unknown
    assert rows() == before


@pytest.mark.parametrize("by_email", [False, True])
@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"currency": "USD"}, "unknown_currency"),
        ({"occurred_at": "2026-03-10T12:10:00+02:00"}, "occurred_in_future"),  # ten minutes ahead
    ],
)
def test_purchase_refused_by_the_programme_is_400_and_writes_nothing(api, programme, clock, by_email, change, code):
    known = CustomerFactory()
    who = {"customer_email": "new@example.fi"} if by_email else {"customer": str(known.public_id)}
    before = rows()

    body = assert_problem(api.post(PURCHASES, {**purchase_body(), **who, **change}, format="json"), 400, code)

    assert rows() == before  # the customer given by e-mail was not registered either
    if code == "unknown_currency":
        assert (body["currency"], body["accepted"]) == ("USD", ["EUR"])


@pytest.mark.parametrize("status", [Customer.Status.BLOCKED, Customer.Status.ERASED])
def test_purchase_of_a_blocked_or_erased_customer_is_409(api, programme, clock, customer, status):
    Customer.objects.filter(pk=customer.pk).update(status=status)
    before = rows()

    assert_problem(api.post(PURCHASES, purchase_body(customer), format="json"), 409, "customer_not_active")
    assert rows() == before


LINE = {"sku": "ESP-1", "quantity": 1, "unit_price": "3.50"}


@pytest.mark.parametrize(
    ("change", "field", "code"),
    [
        ({"amount": "0"}, "amount", "min_value"),
        ({"amount": "-5.00"}, "amount", "min_value"),
        ({"amount": "12.345"}, "amount", "max_decimal_places"),
        ({"amount": "12345678901.00"}, "amount", "max_digits"),
        ({"amount": "abc"}, "amount", "invalid"),
        ({"amount": "NaN"}, "amount", "invalid"),
        ({"amount": True}, "amount", "invalid"),
        ({"amount": None}, "amount", "null"),
        ({"currency": "EURO"}, "currency", "max_length"),
        ({"currency": "E1R"}, "currency", "invalid"),
        ({"currency": 978}, "currency", "invalid"),
        ({"occurred_at": "2026-03-10T11:30:00"}, "occurred_at", "naive"),
        ({"occurred_at": "2026-03-10"}, "occurred_at", "naive"),
        ({"occurred_at": "yesterday"}, "occurred_at", "invalid"),
        ({"occurred_at": 1773135000}, "occurred_at", "invalid"),
        ({"occurred_at": "1999-12-31T23:59:59+00:00"}, "occurred_at", "too_old"),
        ({"occurred_at": "0001-01-01T00:00:00+14:00"}, "occurred_at", "overflow"),
        ({"external_id": ""}, "external_id", "blank"),
        ({"external_id": "x" * 101}, "external_id", "max_length"),
        ({"external_id": "R-1\n2"}, "external_id", "invalid_characters"),
        ({"external_id": "R-1\x002"}, "external_id", "null_characters_not_allowed"),
        ({"external_id": 1001}, "external_id", "invalid"),
        ({"customer": "not-a-uuid"}, "customer", "invalid"),
        ({"customer": 12}, "customer", "invalid"),
        ({"customer": None}, "customer", "null"),
        ({"customer_email": "aino@example.fi"}, "customer", "customer_ambiguous"),
        ({"channel": "phone"}, "channel", "invalid_choice"),
        ({"store": "x" * 101}, "store", "max_length"),
        ({"payment_fingerprint": "x" * 65}, "payment_fingerprint", "max_length"),
        ({"lines": "ESP-1"}, "lines", "not_a_list"),
        ({"lines": [LINE] * 501}, "lines", "max_length"),
        ({"lines": [LINE, {**LINE, "quantity": 0}]}, "lines.1.quantity", "min_value"),
        ({"lines": [{**LINE, "quantity": 2.5}]}, "lines.0.quantity", "invalid"),
        ({"lines": [{**LINE, "unit_price": "-1.00"}]}, "lines.0.unit_price", "min_value"),
        ({"lines": [{"quantity": 1, "unit_price": "1.00"}]}, "lines.0.sku", "required"),
        ({"lines": [{**LINE, "colour": "red"}]}, "lines.0.colour", "unknown_field"),
        ({"discount": "5.00"}, "discount", "unknown_field"),
    ],
)
def test_bad_purchase_input_is_400_naming_the_field_and_writes_nothing(
    api, programme, clock, customer, change, field, code
):
    before = rows()

    response = api.post(PURCHASES, purchase_body(customer, **change), format="json")

    body = assert_problem(response, 400, "invalid")
    assert field in body["errors"], body
    assert code in [error["code"] for error in body["errors"][field]], body
    assert rows() == before


@pytest.mark.parametrize("missing", ["external_id", "amount", "currency", "occurred_at"])
def test_purchase_without_a_required_field_is_400(api, programme, clock, customer, missing):
    body = purchase_body(customer)
    del body[missing]

    problem = assert_problem(api.post(PURCHASES, body, format="json"), 400, "invalid")

    assert problem["errors"][missing] == [{"code": "required", "message": "This field is required."}]
    assert Purchase.objects.count() == 0


def test_purchase_without_a_customer_is_400(api, programme, clock):
    problem = assert_problem(api.post(PURCHASES, purchase_body(), format="json"), 400, "invalid")

    assert [error["code"] for error in problem["errors"]["customer"]] == ["customer_required"]
    assert rows()["Purchase"] == 0


# --- POST /purchases/{id}/refunds/ --------------------------------------------------------------


def test_partial_refunds_reverse_points_pro_rata_and_add_up(api, programme, partner, clock, customer):
    purchase_make(customer=customer, partner=partner, amount="100.00", external_id="P-1")  # 100 points

    responses = [
        api.post(refunds_url("P-1"), {"external_id": f"RF-{number}", "amount": amount}, format="json")
        for number, amount in enumerate(["33.33", "33.33", "33.34"], start=1)
    ]

    assert [response.status_code for response in responses] == [201, 201, 201]
    assert responses[0].json() == {
        "id": "RF-1",
        "purchase": "P-1",
        "amount": "33.33",
        "points_reversed": 33,  # 100 x 33.33 / 100, rounded down
        "points_owed": 0,
        "points_written_off": 0,
        "recorded_at": NOW,
    }
    # counted on the refunded total (66.66 -> 66, then all 100), so the three add up to the 100 earned
    assert [response.json()["points_reversed"] for response in responses] == [33, 33, 34]
    assert balance_of(customer) == ledger_sum(customer) == 0
    assert Purchase.objects.get().refunded_amount == Decimal("100.00")
    before = rows()
    fourth = api.post(refunds_url("P-1"), {"external_id": "RF-4", "amount": "0.01"}, format="json")
    assert assert_problem(fourth, 400, "refund_exceeds_purchase")["remaining"] == "0.00"
    assert rows() == before


def test_repeated_refund_is_200_with_the_same_body_and_another_amount_is_409(api, programme, partner, clock, customer):
    purchase_make(customer=customer, partner=partner, amount="200.00", external_id="P-1")
    first = api.post(refunds_url("P-1"), {"external_id": "RF-1", "amount": "50"}, format="json")
    before = rows()

    again = api.post(refunds_url("P-1"), {"external_id": "RF-1", "amount": "50.00"}, format="json")
    other = api.post(refunds_url("P-1"), {"external_id": "RF-1", "amount": "60.00"}, format="json")

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert assert_problem(other, 409, "idempotency_conflict")["external_id"] == "RF-1"
    assert rows() == before
    assert (Purchase.objects.get().refunded_amount, balance_of(customer)) == (Decimal("50.00"), 150)


def test_refund_larger_than_the_purchase_is_400_and_writes_nothing(api, programme, partner, clock, customer):
    purchase_make(customer=customer, partner=partner, amount="50.00", external_id="P-1")
    before = rows()

    response = api.post(refunds_url("P-1"), {"external_id": "RF-1", "amount": "50.01"}, format="json")

    assert assert_problem(response, 400, "refund_exceeds_purchase")["remaining"] == "50.00"
    assert rows() == before
    assert (Purchase.objects.get().refunded_amount, balance_of(customer)) == (Decimal(0), 50)


@pytest.mark.parametrize(
    ("policy", "owed", "written_off"),
    [(Program.OverspendPolicy.OWE, 150, 0), (Program.OverspendPolicy.WRITE_OFF, 0, 150)],
)
def test_refund_of_points_already_spent_is_owed_or_written_off(
    api, programme, partner, clock, customer, policy, owed, written_off
):
    program_set(refund_overspend_policy=policy)
    purchase_make(customer=customer, partner=partner, amount="200.00", external_id="P-1")
    services.reward_redeem(
        customer=customer, reward=RewardFactory(points_cost=150), idempotency_key="test:spend"
    )  # 50 points left

    response = api.post(refunds_url("P-1"), {"external_id": "RF-1", "amount": "200.00"}, format="json")

    assert response.status_code == 201
    body = response.json()
    assert (body["points_reversed"], body["points_owed"], body["points_written_off"]) == (50, owed, written_off)
    summary = api.get(loyalty_url(customer)).json()
    assert (summary["balance"], summary["points_owed"]) == (0, owed)
    assert balance_of(customer) == ledger_sum(customer) == 0


def test_a_fully_refunded_purchase_no_longer_counts_towards_the_tier(api, programme, partner, clock, customer):
    """``qualifying_value`` is documented as "points earned (net of refunds)"; points of a refunded
    purchase that were already spent (so owed, not taken back) must not keep qualifying."""
    purchase_make(customer=customer, partner=partner, amount="600.00", external_id="P-1")  # Silver
    services.reward_redeem(customer=customer, reward=RewardFactory(points_cost=500), idempotency_key="test:spend")

    refund = api.post(refunds_url("P-1"), {"external_id": "RF-1", "amount": "600.00"}, format="json")

    assert (refund.json()["points_reversed"], refund.json()["points_owed"]) == (100, 500)
    qualification = api.get(loyalty_url(customer)).json()["qualification"]
    assert qualification["value"] == "0.00"
    assert qualification["needed_for_next"] == "2000.00"


@pytest.mark.parametrize(
    ("path_id", "code"),
    [
        ("P-9", "purchase_not_found"),  # another partner's
        ("nope", "purchase_not_found"),
        ("x" * 101, "not_found"),  # longer than any external id: no route
        ("P-9%00", "not_found"),  # a NUL character: no route (PostgreSQL would refuse it)
    ],
)
def test_refund_of_an_unknown_or_another_partners_purchase_is_404(
    api, other_api, programme, clock, customer, path_id, code
):
    purchase_make(customer=customer, partner=other_api.partner, amount="50.00", external_id="P-9")
    before = rows()

    response = api.post(refunds_url(path_id), {"external_id": "RF-1", "amount": "10.00"}, format="json")

    body = assert_problem(response, 404, code)
    if code == "purchase_not_found":
        assert body["purchase"] == path_id
    assert rows() == before
    assert Purchase.objects.get().refunded_amount == Decimal(0)


def test_an_external_id_with_slashes_works_in_the_refund_path(api, programme, clock, customer):
    assert api.post(PURCHASES, purchase_body(customer, external_id="2026/0001"), format="json").status_code == 201

    first = api.post("/api/v1/purchases/2026/0001/refunds/", {"external_id": "RF/1", "amount": "3.45"}, format="json")
    again = api.post("/api/v1/purchases/2026%2F0001/refunds/", {"external_id": "RF/1", "amount": "3.45"}, format="json")

    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["purchase"] == "2026/0001"
    assert again.json() == first.json()


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        ({"external_id": "RF-1", "amount": "0"}, "amount", "min_value"),
        ({"external_id": "RF-1", "amount": "-1"}, "amount", "min_value"),
        ({"external_id": "RF-1", "amount": "1.001"}, "amount", "max_decimal_places"),
        ({"external_id": "RF-1"}, "amount", "required"),
        ({"amount": "1.00"}, "external_id", "required"),
        ({"external_id": "x" * 101, "amount": "1.00"}, "external_id", "max_length"),
        ({"external_id": "RF-1", "amount": "1.00", "reason": "broken"}, "reason", "unknown_field"),
    ],
)
def test_bad_refund_input_is_400_and_writes_nothing(api, programme, partner, clock, customer, body, field, code):
    purchase_make(customer=customer, partner=partner, amount="50.00", external_id="P-1")
    before = rows()

    problem = assert_problem(api.post(refunds_url("P-1"), body, format="json"), 400, "invalid")

    assert code in [error["code"] for error in problem["errors"][field]], problem
    assert rows() == before


# --- GET /rewards/ ------------------------------------------------------------------------------


@pytest.fixture
def catalogue(programme, clock) -> dict[str, Reward]:
    """Three rewards on offer, and four that are not (inactive, sold out, ended, not started)."""
    rewards = {
        "coffee": RewardFactory(name="Coffee", points_cost=100, value=Decimal("2.50")),
        "bag": RewardFactory(
            name="Tote bag",
            description="Organic cotton",
            kind=Reward.Kind.GIFT,
            points_cost=300,
            value=Decimal(0),
            stock=5,
            min_tier=programme.silver,
            valid_until=START + datetime.timedelta(days=28),
            voucher_valid_days=30,
        ),
        "sample": RewardFactory(name="Sample", kind=Reward.Kind.SAMPLE, points_cost=50, value=Decimal(0)),
    }
    RewardFactory(name="Retired", points_cost=10, is_active=False)
    RewardFactory(name="Sold out", points_cost=10, stock=0)
    RewardFactory(name="Ended", points_cost=10, valid_until=START)
    RewardFactory(name="Coming", points_cost=10, valid_from=START.replace(day=11))
    return rewards


def test_catalogue_lists_what_can_be_redeemed_now_cheapest_first(api, catalogue):
    response = api.get(REWARDS)

    assert response.status_code == 200
    body = response.json()
    assert [reward["name"] for reward in body] == ["Sample", "Coffee", "Tote bag"]
    assert body[2] == {
        "id": catalogue["bag"].pk,
        "name": "Tote bag",
        "description": "Organic cotton",
        "kind": "gift",
        "points_cost": 300,
        "value": "0.00",
        "stock": 5,
        "min_tier": "Silver",
        "valid_until": "2026-04-07T13:00:00+03:00",
        "voucher_valid_days": 30,
    }
    assert body[1]["min_tier"] is None
    assert body[1]["stock"] is None


@pytest.mark.parametrize(
    ("spent", "names"),
    [
        (None, []),  # no points at all
        ("150.00", ["Sample", "Coffee"]),  # Bronze, 150 points: the bag is for Silver and costs 300
        ("600.00", ["Sample", "Coffee", "Tote bag"]),
    ],
)
def test_catalogue_for_a_customer_shows_what_they_may_and_can_redeem(api, catalogue, partner, customer, spent, names):
    if spent:
        purchase_make(customer=customer, partner=partner, amount=spent)

    response = api.get(REWARDS, {"customer": str(customer.public_id)})

    assert response.status_code == 200
    assert [reward["name"] for reward in response.json()] == names


def test_catalogue_for_an_unknown_or_malformed_customer_is_a_problem(api, catalogue):
    unknown = "5b1e0c36-6a4b-4a1b-9d7e-2f1c1f0a9e11"

    body = assert_problem(api.get(REWARDS, {"customer": unknown}), 404, "customer_not_found")
    assert body["customer"] == unknown
    bad = assert_problem(api.get(REWARDS, {"customer": "aino"}), 400, "invalid")
    assert [error["code"] for error in bad["errors"]["customer"]] == ["invalid"]


def test_catalogue_uses_a_constant_number_of_queries(api, catalogue, partner, customer, django_assert_num_queries):
    purchase_make(customer=customer, partner=partner, amount="600.00")
    api.get(REWARDS)

    with django_assert_num_queries(2):  # key, rewards with their tiers
        assert len(api.get(REWARDS).json()) == 3
    with django_assert_num_queries(4):  # key, customer, account with its tier, rewards
        assert len(api.get(REWARDS, {"customer": str(customer.public_id)}).json()) == 3

    for number in range(7):
        RewardFactory(name=f"Extra {number}", points_cost=400 + number, min_tier=catalogue["bag"].min_tier)
    with django_assert_num_queries(2):
        assert len(api.get(REWARDS).json()) == 10
    with django_assert_num_queries(4):
        assert len(api.get(REWARDS, {"customer": str(customer.public_id)}).json()) == 10


# --- POST /redemptions/ -------------------------------------------------------------------------


def redemption_body(customer: Customer, reward: Reward, external_id: str = "RD-1") -> dict[str, Any]:
    return {"external_id": external_id, "customer": str(customer.public_id), "reward": reward.pk}


@pytest.fixture
def silver_customer(programme, partner, clock, customer) -> Customer:
    purchase_make(customer=customer, partner=partner, amount="600.00", external_id="P-1")
    return customer


def test_redemption_spends_points_and_returns_the_voucher(api, silver_customer, coffee):
    response = api.post(REDEMPTIONS, redemption_body(silver_customer, coffee), format="json")

    assert response.status_code == 201
    voucher = Voucher.objects.get()
    assert response.json() == {
        "code": display(voucher.code),
        "status": "issued",
        "is_valid": True,
        "kind": "fixed_discount",
        "value": "2.50",
        "currency": "EUR",
        "source": "redemption",
        "reward": {"id": coffee.pk, "name": "Coffee"},
        "points_spent": 100,
        "customer": str(silver_customer.public_id),
        "issued_at": NOW,
        "expires_at": IN_60_DAYS,
        "redeemed_at": None,
        "order_id": None,
    }
    assert CODE_PATTERN.match(response.json()["code"])
    assert (voucher.issued_by, voucher.idempotency_key) == (api.partner, f"partner:{api.partner.pk}:redemption:RD-1")
    entry = LedgerEntry.objects.latest("id")
    assert (entry.kind, entry.amount, entry.voucher) == ("redeem", -100, voucher)
    assert balance_of(silver_customer) == ledger_sum(silver_customer) == 500


def test_repeated_redemption_is_200_with_the_same_voucher_and_writes_nothing(api, silver_customer, coffee):
    first = api.post(REDEMPTIONS, redemption_body(silver_customer, coffee), format="json")
    before = rows()

    again = api.post(REDEMPTIONS, redemption_body(silver_customer, coffee), format="json")

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert rows() == before
    assert balance_of(silver_customer) == 500


@pytest.mark.parametrize("change", ["reward", "customer"])
def test_same_redemption_id_with_another_payload_is_409(api, silver_customer, coffee, change):
    api.post(REDEMPTIONS, redemption_body(silver_customer, coffee), format="json")
    reward = RewardFactory(points_cost=10) if change == "reward" else coffee
    who = CustomerFactory() if change == "customer" else silver_customer
    before = rows()

    response = api.post(REDEMPTIONS, redemption_body(who, reward), format="json")

    assert_problem(response, 409, "idempotency_conflict")
    assert rows() == before


def test_same_redemption_id_at_another_partner_is_another_redemption(api, other_api, silver_customer, coffee):
    mine = api.post(REDEMPTIONS, redemption_body(silver_customer, coffee), format="json")
    theirs = other_api.post(REDEMPTIONS, redemption_body(silver_customer, coffee), format="json")

    assert (mine.status_code, theirs.status_code) == (201, 201)
    assert mine.json()["code"] != theirs.json()["code"]
    assert balance_of(silver_customer) == 400


@pytest.mark.parametrize(
    ("reward_fields", "code"),
    [
        ({"points_cost": 601}, "insufficient_points"),
        ({"points_cost": 100, "stock": 0}, "out_of_stock"),
        ({"points_cost": 100, "min_tier": "gold"}, "not_eligible"),
        ({"points_cost": 100, "is_active": False}, "reward_unavailable"),
        ({"points_cost": 100, "valid_until": START}, "reward_unavailable"),
        ({"points_cost": 100, "valid_from": START.replace(day=11)}, "reward_unavailable"),
    ],
)
def test_refused_redemption_is_409_and_writes_nothing(api, programme, silver_customer, reward_fields, code):
    if reward_fields.get("min_tier") == "gold":
        reward_fields = {**reward_fields, "min_tier": programme.gold}
    reward = RewardFactory(**reward_fields)
    before = rows()

    body = assert_problem(api.post(REDEMPTIONS, redemption_body(silver_customer, reward), format="json"), 409, code)

    assert rows() == before
    assert balance_of(silver_customer) == 600
    reward.refresh_from_db()
    assert reward.stock == reward_fields.get("stock")
    if code == "insufficient_points":
        assert (body["needed"], body["balance"]) == (601, 600)


def test_redemption_for_a_blocked_customer_is_409(api, silver_customer, coffee):
    Customer.objects.filter(pk=silver_customer.pk).update(status=Customer.Status.BLOCKED)
    before = rows()

    assert_problem(
        api.post(REDEMPTIONS, redemption_body(silver_customer, coffee), format="json"), 409, "customer_not_active"
    )
    assert rows() == before


def test_redemption_of_an_unknown_reward_or_customer_is_404_naming_it(api, silver_customer, coffee):
    unknown = "5b1e0c36-6a4b-4a1b-9d7e-2f1c1f0a9e11"
    before = rows()

    no_reward = api.post(REDEMPTIONS, {**redemption_body(silver_customer, coffee), "reward": 999_999}, format="json")
    no_customer = api.post(
        REDEMPTIONS, {**redemption_body(silver_customer, coffee), "customer": unknown}, format="json"
    )

    assert assert_problem(no_reward, 404, "reward_not_found")["reward"] == 999_999
    assert assert_problem(no_customer, 404, "customer_not_found")["customer"] == unknown
    assert rows() == before


@pytest.mark.parametrize(
    ("change", "field", "code"),
    [
        ({"external_id": "x" * 81}, "external_id", "max_length"),
        ({"external_id": ""}, "external_id", "blank"),
        ({"customer": 12}, "customer", "invalid"),
        ({"customer": "aino@example.fi"}, "customer", "invalid"),
        ({"reward": "coffee"}, "reward", "invalid"),
        ({"reward": 0}, "reward", "min_value"),
        ({"reward": 2**63}, "reward", "max_value"),
        ({"reward": None}, "reward", "null"),
        ({"points": 100}, "points", "unknown_field"),
    ],
)
def test_bad_redemption_input_is_400_and_writes_nothing(api, silver_customer, coffee, change, field, code):
    before = rows()

    response = api.post(REDEMPTIONS, {**redemption_body(silver_customer, coffee), **change}, format="json")

    problem = assert_problem(response, 400, "invalid")
    assert code in [error["code"] for error in problem["errors"][field]], problem
    assert rows() == before


def test_a_redemption_id_of_80_characters_fits_the_idempotency_key(api, silver_customer, coffee):
    external_id = "x" * 80

    response = api.post(REDEMPTIONS, redemption_body(silver_customer, coffee, external_id=external_id), format="json")

    assert response.status_code == 201
    assert Voucher.objects.get().idempotency_key == f"partner:{api.partner.pk}:redemption:{external_id}"


# --- GET /vouchers/{code}/ and POST /vouchers/{code}/redeem/ ------------------------------------


def voucher_json(voucher: Voucher, **changes: Any) -> dict[str, Any]:
    body = {
        "code": display(voucher.code),
        "status": "issued",
        "is_valid": True,
        "kind": "fixed_discount",
        "value": "2.50",
        "currency": "EUR",
        "source": "redemption",
        "reward": {"id": voucher.reward_id, "name": "Coffee"},
        "points_spent": 100,
        "customer": str(voucher.customer.public_id),
        "issued_at": NOW,
        "expires_at": IN_60_DAYS,
        "redeemed_at": None,
        "order_id": None,
    }
    body.update(changes)
    return body


@pytest.mark.parametrize(
    "form",
    [
        display,
        lambda code: code,
        lambda code: display(code).lower(),
        lambda code: code.lower(),
        lambda code: f"{code[:6]}%20{code[6:]}",
    ],
)
def test_voucher_is_validated_by_its_code_in_any_form(api, voucher, form):
    response = api.get(voucher_url(form(voucher.code)))

    assert response.status_code == 200
    assert response.json() == voucher_json(voucher)


@pytest.mark.parametrize("code", ["AAAA-BBBB-CCCC", "----", "%00", "x" * 300, "%F0%9F%98%80", "..."])
def test_unknown_voucher_code_is_404(api, voucher, code):
    assert_problem(api.get(voucher_url(code)), 404, "voucher_not_found")
    assert_problem(api.post(redeem_url(code), {"order_id": "O-1"}, format="json"), 404, "voucher_not_found")


def test_using_a_voucher_is_200_and_a_repeat_for_the_same_order_too(api, voucher):
    first = api.post(redeem_url(display(voucher.code)), {"order_id": "O-1"}, format="json")
    again = api.post(redeem_url(voucher.code.lower()), {"order_id": "O-1"}, format="json")

    used = voucher_json(voucher, status="redeemed", is_valid=False, redeemed_at=NOW, order_id="O-1")
    assert (first.status_code, first.json()) == (200, used)
    assert (again.status_code, again.json()) == (200, used)
    assert api.get(voucher_url(voucher.code)).json() == used
    voucher.refresh_from_db()
    assert (voucher.status, voucher.redeemed_by, voucher.redeemed_order_id) == ("redeemed", api.partner, "O-1")


def test_a_used_voucher_for_another_order_is_409_and_changes_nothing(api, voucher):
    api.post(redeem_url(voucher.code), {"order_id": "O-1"}, format="json")

    response = api.post(redeem_url(voucher.code), {"order_id": "O-2"}, format="json")

    assert_problem(response, 409, "voucher_already_used")
    voucher.refresh_from_db()
    assert (voucher.status, voucher.redeemed_order_id) == ("redeemed", "O-1")


@pytest.mark.parametrize("nightly_job_ran", [False, True])
def test_an_expired_voucher_is_not_valid_and_cannot_be_used(api, voucher, clock, nightly_job_ran):
    clock.advance(days=60)  # the very moment it expires
    if nightly_job_ran:
        assert services.vouchers_expire_due() == 1

    shown = api.get(voucher_url(voucher.code)).json()
    response = api.post(redeem_url(voucher.code), {"order_id": "O-1"}, format="json")

    assert (shown["status"], shown["is_valid"]) == ("expired" if nightly_job_ran else "issued", False)
    assert assert_problem(response, 409, "voucher_expired")["expired_at"] == "2026-05-09T10:00:00+00:00"
    voucher.refresh_from_db()
    assert (voucher.redeemed_at, voucher.redeemed_order_id) == (None, "")


def test_a_voucher_a_minute_before_expiry_can_be_used(api, voucher, clock):
    clock.advance(days=59, hours=23, minutes=59)

    assert api.get(voucher_url(voucher.code)).json()["is_valid"] is True
    assert api.post(redeem_url(voucher.code), {"order_id": "O-1"}, format="json").status_code == 200


def test_a_cancelled_voucher_is_not_valid_and_cannot_be_used(api, voucher):
    services.voucher_cancel(voucher=voucher)

    shown = api.get(voucher_url(voucher.code)).json()
    response = api.post(redeem_url(voucher.code), {"order_id": "O-1"}, format="json")

    assert (shown["status"], shown["is_valid"]) == ("cancelled", False)
    assert_problem(response, 409, "voucher_cancelled")
    voucher.refresh_from_db()
    assert (voucher.status, voucher.redeemed_order_id) == ("cancelled", "")


def test_a_voucher_is_usable_at_any_partner_until_one_uses_it_then_it_is_theirs(api, other_api, voucher):
    assert other_api.get(voucher_url(voucher.code)).status_code == 200

    used = other_api.post(redeem_url(voucher.code), {"order_id": "W-7"}, format="json")

    assert used.status_code == 200
    assert_problem(api.get(voucher_url(voucher.code)), 404, "voucher_not_found")
    assert_problem(api.post(redeem_url(voucher.code), {"order_id": "W-7"}, format="json"), 404, "voucher_not_found")
    assert other_api.get(voucher_url(voucher.code)).json()["order_id"] == "W-7"
    voucher.refresh_from_db()
    assert (voucher.redeemed_by, voucher.redeemed_order_id) == (other_api.partner, "W-7")


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        ({}, "order_id", "required"),
        ({"order_id": ""}, "order_id", "blank"),
        ({"order_id": "x" * 101}, "order_id", "max_length"),
        ({"order_id": 17}, "order_id", "invalid"),
        ({"order_id": "O-1", "amount": "5.00"}, "amount", "unknown_field"),
    ],
)
def test_bad_voucher_use_input_is_400_and_changes_nothing(api, voucher, body, field, code):
    problem = assert_problem(api.post(redeem_url(voucher.code), body, format="json"), 400, "invalid")

    assert code in [error["code"] for error in problem["errors"][field]], problem
    voucher.refresh_from_db()
    assert (voucher.status, voucher.redeemed_order_id) == ("issued", "")


def test_voucher_validation_uses_a_constant_number_of_queries(api, voucher, django_assert_num_queries):
    api.get(voucher_url(voucher.code))

    with django_assert_num_queries(2):  # key, voucher with its customer and reward
        assert api.get(voucher_url(voucher.code)).status_code == 200


# --- the whole walk -----------------------------------------------------------------------------


def test_a_customer_signs_up_by_buying_earns_a_tier_redeems_and_uses_a_voucher(api, programme, clock, coffee):
    first = api.post(PURCHASES, purchase_body(customer_email="Eero@Example.fi", amount="250.00"), format="json")
    assert (first.status_code, first.json()["points_earned"], first.json()["tier_after"]) == (201, 250, "Bronze")
    customer = Customer.objects.get(public_id=first.json()["customer"])
    second = api.post(
        PURCHASES,
        purchase_body(customer, external_id="R-1002", amount="300.00", occurred_at="2026-03-10T11:45:00+02:00"),
        format="json",
    )
    assert (second.status_code, second.json()["balance_after"], second.json()["tier_after"]) == (201, 550, "Silver")

    summary = api.get(loyalty_url(customer)).json()
    assert (summary["balance"], summary["tier"]["name"], summary["next_tier"]["name"]) == (550, "Silver", "Gold")
    assert [reward["name"] for reward in api.get(REWARDS, {"customer": str(customer.public_id)}).json()] == ["Coffee"]

    redemption = api.post(REDEMPTIONS, redemption_body(customer, coffee, external_id="RD-9"), format="json")
    assert redemption.status_code == 201
    code = redemption.json()["code"]
    checkout = api.get(voucher_url(code.replace("-", "").lower())).json()
    assert (checkout["is_valid"], checkout["value"], checkout["customer"]) == (True, "2.50", str(customer.public_id))

    used = api.post(redeem_url(code), {"order_id": "O-555"}, format="json")
    assert (used.status_code, used.json()["status"], used.json()["order_id"]) == (200, "redeemed", "O-555")
    assert api.get(voucher_url(code)).json()["is_valid"] is False

    ledger = api.get(ledger_url(customer)).json()["results"]
    assert [(entry["kind"], entry["amount"], entry["balance_after"]) for entry in ledger] == [
        ("redeem", -100, 450),
        ("earn", 300, 550),
        ("earn", 250, 250),
    ]
    assert api.get(loyalty_url(customer)).json()["balance"] == 450
    assert balance_of(customer) == ledger_sum(customer) == 450


# --- OpenAPI schema -----------------------------------------------------------------------------


def test_schema_documents_every_loyalty_endpoint(client):
    schema = client.get(reverse("api-schema"), HTTP_ACCEPT="application/json").json()

    paths = schema["paths"]
    documented = {
        path: set(paths.get(path, {})) & {"get", "post", "patch", "delete"}
        for path in (
            "/api/v1/customers/{public_id}/loyalty/",
            "/api/v1/customers/{public_id}/ledger/",
            "/api/v1/purchases/",
            "/api/v1/purchases/{external_id}/refunds/",
            "/api/v1/rewards/",
            "/api/v1/redemptions/",
            "/api/v1/vouchers/{code}/",
            "/api/v1/vouchers/{code}/redeem/",
        )
    }
    assert documented == {
        "/api/v1/customers/{public_id}/loyalty/": {"get"},
        "/api/v1/customers/{public_id}/ledger/": {"get"},
        "/api/v1/purchases/": {"post"},
        "/api/v1/purchases/{external_id}/refunds/": {"post"},
        "/api/v1/rewards/": {"get"},
        "/api/v1/redemptions/": {"post"},
        "/api/v1/vouchers/{code}/": {"get"},
        "/api/v1/vouchers/{code}/redeem/": {"post"},
    }
    purchase = paths["/api/v1/purchases/"]["post"]
    assert set(purchase["responses"]) == {"200", "201", "400", "401", "403", "404", "409"}
    assert purchase["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "PurchaseCreateInputRequest"
    )
    ledger = paths["/api/v1/customers/{public_id}/ledger/"]["get"]
    assert ledger["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "PaginatedLedgerEntryOutputList"
    )
    assert {parameter["name"] for parameter in ledger["parameters"]} == {"public_id", "cursor", "page_size"}
    assert {parameter["name"] for parameter in paths["/api/v1/rewards/"]["get"]["parameters"]} == {"customer"}


def test_schema_generates_without_warnings(tmp_path):
    GENERATOR_STATS.reset()  # warnings are remembered process-wide; count only this run's

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))

    assert "/api/v1/vouchers/{code}/redeem/" in (tmp_path / "schema.yaml").read_text()


@pytest.mark.django_db
def test_the_purchase_path_runs_a_fixed_small_number_of_statements(make_api_client, django_assert_num_queries):
    """Every statement on the purchase path costs (Python CPU is the bottleneck): pin them.

    New purchase: key, customer, repeat check, account lock, first-purchase check (a first-purchase
    rule exists), savepoint + insert + release, lines, ledger entry, lot, balance update, and the
    transaction's begin/commit on PostgreSQL (SQLite: BEGIN IMMEDIATE + COMMIT are counted too).
    A repeat: key, customer, and the repeat check (the id, then the stored row) inside its
    (begin/commit) transaction.
    """
    base_rate()
    EarningRuleFactory(name="Welcome", kind="first_purchase", bonus_points=100)
    api = make_api_client(["purchases:write"])
    customer = CustomerFactory()
    body = {
        "external_id": "Q-1",
        "customer": str(customer.public_id),
        "amount": "12.80",
        "currency": "EUR",
        "occurred_at": "2026-11-01T12:00:00+02:00",
        "lines": [{"sku": "ESP-1", "category": "coffee", "quantity": 2, "unit_price": "3.20"}],
    }
    api.post("/api/v1/purchases/", {**body, "external_id": "warm-up"}, format="json")

    with django_assert_num_queries(14):
        first = api.post("/api/v1/purchases/", body, format="json")
    with django_assert_num_queries(6):
        again = api.post("/api/v1/purchases/", body, format="json")

    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json() == again.json()
