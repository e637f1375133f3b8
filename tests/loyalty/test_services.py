"""The loyalty write services: purchases, refunds, pending points, rewards, vouchers, stamp cards,
grants and adjustments, tiers. Every refused path also asserts that nothing was written."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import pytest
from dateutil.relativedelta import relativedelta

from core.errors import DomainError
from customers.models import Customer, Partner, User
from loyalty import services
from loyalty.earning import Line
from loyalty.errors import (
    CustomerInactive,
    InsufficientPoints,
    NotEligible,
    OutOfStock,
    PayloadConflict,
    RefundExceedsPurchase,
    RewardUnavailable,
    UnknownCurrency,
    VoucherAlreadyUsed,
    VoucherCancelled,
    VoucherExpired,
    VoucherNotCancellable,
    VoucherNotFound,
)
from loyalty.models import (
    EarningRule,
    LedgerEntry,
    LotConsumption,
    PendingPoints,
    PointsAccount,
    PointsLot,
    Program,
    Purchase,
    Refund,
    Reward,
    StampProgress,
    TierChange,
    Voucher,
)
from loyalty.selectors import loyalty_summary_for_customer
from tests.customers.factories import CustomerFactory, PartnerFactory
from tests.loyalty.conftest import START, Clock
from tests.loyalty.factories import (
    EarningRuleFactory,
    RewardFactory,
    StampCardFactory,
    TierFactory,
    base_rate,
    program_set,
    purchase_make,
)

pytestmark = pytest.mark.django_db
Kind = LedgerEntry.Kind


def rows() -> dict[str, int]:
    """Row counts of everything a loyalty write can touch."""
    models: list[Any] = [
        Purchase,
        Refund,
        LedgerEntry,
        PointsLot,
        LotConsumption,
        PointsAccount,
        PendingPoints,
        Voucher,
        TierChange,
        StampProgress,
    ]
    return {model.__name__: model.objects.count() for model in models}


def account_of(customer: Customer) -> PointsAccount:
    return PointsAccount.objects.get(customer=customer)


def entries_of(customer: Customer) -> list[tuple[str, int, int]]:
    return list(
        LedgerEntry.objects.filter(account__customer=customer)
        .order_by("id")
        .values_list("kind", "amount", "balance_after")
    )


def grant(customer: Customer, amount: int, key: str, kind: str = Kind.GIFT) -> LedgerEntry:
    return services.points_earn(customer=customer, amount=amount, kind=kind, reason="Test grant", idempotency_key=key)


def record(customer: Customer, partner: Partner, **overrides: Any) -> services.PurchaseResult:
    arguments: dict[str, Any] = {
        "partner": partner,
        "external_id": "R-1",
        "customer": customer,
        "amount": Decimal("12.34"),
        "currency": "EUR",
        "occurred_at": START - datetime.timedelta(hours=1),
    }
    arguments.update(overrides)
    return services.purchase_record(**arguments)


@pytest.fixture
def customer() -> Customer:
    return CustomerFactory()


@pytest.fixture
def staff() -> User:
    return User.objects.create_user(username="staff", password="x", is_staff=True)


# --- purchase_record --------------------------------------------------------------------------


def test_purchase_earns_points_into_a_lot_that_expires_per_the_programme(clock: Clock, partner, customer):
    program_set(points_expiry_months=6)
    base_rate()

    result = record(customer, partner)

    purchase = result.purchase
    assert result.created is True
    assert (purchase.points_earned, purchase.balance_after, purchase.points_pending) == (12, 12, False)
    assert purchase.earn_breakdown == [{"rule": "Base", "kind": "base_rate", "points": 12}]
    entry = LedgerEntry.objects.get()
    assert (entry.kind, entry.amount, entry.balance_after, entry.purchase_id) == (Kind.EARN, 12, 12, purchase.pk)
    assert entry.idempotency_key == f"purchase:{purchase.pk}:earn"
    assert entry.expires_at == datetime.datetime(2026, 9, 10, 10, 0, tzinfo=datetime.UTC)
    lot = PointsLot.objects.get()
    assert (lot.entry_id, lot.initial, lot.remaining, lot.expires_at) == (entry.pk, 12, 12, entry.expires_at)
    account = account_of(customer)
    assert (account.balance, account.lifetime_earned, account.owed) == (12, 12, 0)


def test_points_never_expire_when_the_programme_says_zero_months(clock: Clock, partner, customer):
    program_set(points_expiry_months=0)
    base_rate()

    record(customer, partner)

    assert PointsLot.objects.get().expires_at is None
    assert LedgerEntry.objects.get().expires_at is None


def test_repeated_purchase_returns_the_first_and_writes_nothing(clock: Clock, partner, customer):
    base_rate()
    first = record(customer, partner).purchase
    before = rows()

    again = record(customer, partner)

    assert again.created is False
    assert again.purchase.pk == first.pk
    assert rows() == before
    assert account_of(customer).balance == 12


@pytest.mark.parametrize(
    "change",
    [
        {"amount": Decimal("12.35")},
        {"occurred_at": START - datetime.timedelta(hours=2)},
        {"store": "Kamppi"},
        {"lines": [Line(sku="ESP-1", category="coffee", quantity=1, unit_price=Decimal("12.34"))]},
    ],
)
def test_same_external_id_with_another_payload_is_a_conflict_and_writes_nothing(
    clock: Clock, partner, customer, change: dict[str, Any]
):
    base_rate()
    record(customer, partner)
    before = rows()

    with pytest.raises(PayloadConflict) as error:
        record(customer, partner, **change)

    assert error.value.code == "idempotency_conflict"
    assert error.value.details == {"external_id": "R-1"}
    assert rows() == before


def test_same_external_id_for_another_customer_is_a_conflict(clock: Clock, partner, customer):
    record(customer, partner)

    with pytest.raises(PayloadConflict):
        record(CustomerFactory(), partner)

    assert Purchase.objects.get().customer_id == customer.pk


def test_same_external_id_at_another_partner_is_another_purchase(clock: Clock, partner, customer):
    base_rate()
    record(customer, partner)

    result = record(customer, PartnerFactory(name="Web shop"))

    assert result.created is True
    assert account_of(customer).balance == 24


@pytest.mark.parametrize(
    ("change", "error_class", "code"),
    [
        ({"currency": "SEK"}, UnknownCurrency, "unknown_currency"),
        ({"amount": Decimal("0.00")}, DomainError, "invalid_amount"),
        ({"amount": Decimal("-5.00")}, DomainError, "invalid_amount"),
        ({"occurred_at": START + datetime.timedelta(minutes=5, seconds=1)}, DomainError, "occurred_in_future"),
    ],
)
def test_invalid_purchase_is_refused_and_writes_nothing(
    clock: Clock, partner, customer, django_capture_on_commit_callbacks, change, error_class, code
):
    base_rate()

    with django_capture_on_commit_callbacks() as callbacks, pytest.raises(error_class) as error:
        record(customer, partner, **change)

    assert error.value.code == code
    assert set(rows().values()) == {0}
    assert callbacks == []


def test_lower_case_currency_is_accepted(clock: Clock, partner, customer):
    result = record(customer, partner, currency="eur")

    assert result.purchase.currency == "EUR"


def test_purchase_a_few_minutes_ahead_is_clock_skew_and_accepted(clock: Clock, partner, customer):
    result = record(customer, partner, occurred_at=START + datetime.timedelta(minutes=5))

    assert result.created is True


@pytest.mark.parametrize("status", [Customer.Status.BLOCKED, Customer.Status.ERASED])
def test_purchase_of_a_blocked_or_erased_customer_is_refused(
    clock: Clock, partner, django_capture_on_commit_callbacks, status
):
    base_rate()
    customer = CustomerFactory(status=status)

    with django_capture_on_commit_callbacks() as callbacks, pytest.raises(CustomerInactive):
        record(customer, partner)

    assert set(rows().values()) == {0}
    assert callbacks == []


def test_purchase_emits_its_events_after_commit(clock: Clock, partner, customer, django_capture_on_commit_callbacks):
    from loyalty import signals

    base_rate()
    received: list[tuple[str, dict[str, Any]]] = []

    def listen(name: str):
        def receiver(sender: type, **ids: Any) -> None:
            received.append((name, ids))

        return receiver

    recorded, changed = listen("purchase_recorded"), listen("points_changed")
    signals.purchase_recorded.connect(recorded)
    signals.points_changed.connect(changed)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            purchase = record(customer, partner).purchase
            assert received == []
    finally:
        signals.purchase_recorded.disconnect(recorded)
        signals.points_changed.disconnect(changed)

    entry = LedgerEntry.objects.get()
    assert received == [
        ("points_changed", {"signal": signals.points_changed, "customer_id": customer.pk, "entry_id": entry.pk}),
        (
            "purchase_recorded",
            {"signal": signals.purchase_recorded, "purchase_id": purchase.pk, "customer_id": customer.pk},
        ),
    ]


def test_first_purchase_bonus_is_given_once(clock: Clock, partner, customer):
    base_rate()
    EarningRuleFactory(name="Welcome", kind=EarningRule.Kind.FIRST_PURCHASE, bonus_points=100)

    first = purchase_make(customer=customer, partner=partner, amount="10.00")
    second = purchase_make(customer=customer, partner=partner, amount="10.00")

    assert (first.points_earned, second.points_earned) == (110, 10)
    assert account_of(customer).balance == 120


def test_birthday_month_is_the_local_month_of_the_purchase(clock: Clock, partner):
    base_rate()
    EarningRuleFactory(name="Birthday", kind=EarningRule.Kind.BIRTHDAY_MONTH, multiplier=Decimal("2"))
    customer = CustomerFactory(birth_date=datetime.date(1990, 3, 20))
    clock.now = datetime.datetime(2026, 4, 1, 12, 0, tzinfo=datetime.UTC)

    # 31 March 21:30 UTC is 1 April 00:30 in Helsinki: not the birthday month any more.
    late = purchase_make(
        customer=customer,
        partner=partner,
        amount="10.00",
        occurred_at=datetime.datetime(2026, 3, 31, 21, 30, tzinfo=datetime.UTC),
    )
    early = purchase_make(
        customer=customer,
        partner=partner,
        amount="10.00",
        occurred_at=datetime.datetime(2026, 3, 31, 20, 30, tzinfo=datetime.UTC),
    )

    assert (late.points_earned, early.points_earned) == (10, 20)


# --- tiers on purchases -----------------------------------------------------------------------


def test_qualifying_purchase_upgrades_the_tier_at_once_with_history(clock: Clock, partner, customer):
    base_rate()
    bronze = TierFactory(name="Bronze", rank=0, threshold=Decimal(0))
    silver = TierFactory(name="Silver", rank=1, threshold=Decimal(100), multiplier=Decimal("1.5"))
    TierFactory(name="Gold", rank=2, threshold=Decimal(500), multiplier=Decimal(2))

    first = purchase_make(customer=customer, partner=partner, amount="50.00")
    clock.advance(days=1)
    second = purchase_make(customer=customer, partner=partner, amount="60.00")
    third = purchase_make(customer=customer, partner=partner, amount="10.00")

    assert (first.tier_after, second.tier_after, third.tier_after) == (bronze, silver, silver)
    # The purchase that reaches Silver still earns at Bronze; the next earns at Silver.
    assert (first.points_earned, second.points_earned, third.points_earned) == (50, 60, 15)
    account = account_of(customer)
    assert (account.tier, account.tier_since, account.tier_grace_until) == (silver, START + relativedelta(days=1), None)
    history = list(
        TierChange.objects.filter(account=account)
        .order_by("id")
        .values_list("from_tier__name", "to_tier__name", "reason", "qualifying_value")
    )
    assert history == [
        (None, "Bronze", TierChange.Reason.UPGRADE, Decimal(50)),
        ("Bronze", "Silver", TierChange.Reason.UPGRADE, Decimal(110)),
    ]


def test_spend_measured_tiers_count_money_net_of_refunds(clock: Clock, partner, customer):
    program_set(tier_measure=Program.TierMeasure.SPEND)
    TierFactory(name="Bronze", rank=0, threshold=Decimal(0))
    TierFactory(name="Silver", rank=1, threshold=Decimal("100.00"))
    first = purchase_make(customer=customer, partner=partner, amount="80.00")
    services.refund_record(purchase=first, external_id="RF-1", amount=Decimal("30.00"))

    second = purchase_make(customer=customer, partner=partner, amount="49.99")
    third = purchase_make(customer=customer, partner=partner, amount="0.01")

    assert (second.tier_after.name, third.tier_after.name) == ("Bronze", "Silver")
    assert TierChange.objects.get(to_tier__name="Silver").qualifying_value == Decimal("100.00")


# --- pending points ---------------------------------------------------------------------------


@pytest.fixture
def pending_programme() -> Program:
    base_rate()
    return program_set(pending_points_enabled=True, return_window_days=14, points_expiry_months=12)


def test_pending_points_are_not_in_the_balance(clock: Clock, partner, customer, pending_programme):
    purchase = purchase_make(customer=customer, partner=partner, amount="100.00")

    assert (purchase.points_earned, purchase.points_pending, purchase.balance_after) == (100, True, 0)
    pending = PendingPoints.objects.get()
    assert (pending.points, pending.status, pending.available_at) == (
        100,
        PendingPoints.Status.PENDING,
        START + datetime.timedelta(days=14),
    )
    assert LedgerEntry.objects.count() == 0
    assert account_of(customer).balance == 0
    summary = loyalty_summary_for_customer(customer)
    assert (summary.balance, summary.pending) == (0, 100)


def test_refunds_inside_the_return_window_reduce_then_cancel_pending_points(
    clock: Clock, partner, customer, pending_programme
):
    purchase = purchase_make(customer=customer, partner=partner, amount="100.00")

    partial = services.refund_record(purchase=purchase, external_id="RF-1", amount=Decimal("40.00")).refund
    pending = PendingPoints.objects.get()
    assert (pending.points, pending.status) == (60, PendingPoints.Status.PENDING)
    assert (partial.points_reversed, partial.points_owed, partial.points_written_off) == (40, 0, 0)

    rest = services.refund_record(purchase=purchase, external_id="RF-2", amount=Decimal("60.00")).refund
    pending.refresh_from_db()
    assert (pending.points, pending.status) == (0, PendingPoints.Status.CANCELLED)
    assert rest.points_reversed == 60
    assert LedgerEntry.objects.count() == 0
    assert services.pending_points_release_due(now=START + datetime.timedelta(days=30)) == 0
    assert account_of(customer).balance == 0


def test_pending_points_are_released_once_after_the_window(clock: Clock, partner, customer, pending_programme):
    purchase = purchase_make(customer=customer, partner=partner, amount="100.00")
    services.refund_record(purchase=purchase, external_id="RF-1", amount=Decimal("25.00"))

    assert services.pending_points_release_due(now=START + datetime.timedelta(days=14, seconds=-1)) == 0
    clock.advance(days=14)
    assert services.pending_points_release_due() == 1
    assert services.pending_points_release_due() == 0

    entry = LedgerEntry.objects.get()
    assert (entry.kind, entry.amount, entry.purchase_id) == (Kind.EARN, 75, purchase.pk)
    assert entry.expires_at == START + relativedelta(days=14, months=12)
    assert PendingPoints.objects.get().status == PendingPoints.Status.RELEASED
    account = account_of(customer)
    assert (account.balance, account.lifetime_earned) == (75, 75)


def test_released_points_upgrade_the_tier_at_once(clock: Clock, partner, customer, pending_programme):
    TierFactory(name="Bronze", rank=0, threshold=Decimal(0))
    TierFactory(name="Silver", rank=1, threshold=Decimal(100))
    purchase = purchase_make(customer=customer, partner=partner, amount="100.00")
    assert purchase.tier_after.name == "Bronze"  # pending points do not count yet
    clock.advance(days=14)

    services.pending_points_release_due()

    account = account_of(customer)
    assert (account.tier.name, account.tier_since) == ("Silver", START + relativedelta(days=14))
    assert list(
        TierChange.objects.order_by("id").values_list("from_tier__name", "to_tier__name", "qualifying_value")
    ) == [(None, "Bronze", Decimal(0)), ("Bronze", "Silver", Decimal(100))]


def test_refund_after_release_reverses_the_released_points(clock: Clock, partner, customer, pending_programme):
    purchase = purchase_make(customer=customer, partner=partner, amount="100.00")
    services.refund_record(purchase=purchase, external_id="RF-1", amount=Decimal("25.00"))
    clock.advance(days=15)
    services.pending_points_release_due()

    refund = services.refund_record(purchase=purchase, external_id="RF-2", amount=Decimal("75.00")).refund

    assert refund.points_reversed == 75
    assert entries_of(customer) == [(Kind.EARN, 75, 75), (Kind.REFUND, -75, 0)]
    account = account_of(customer)
    assert (account.balance, account.lifetime_earned) == (0, 0)


# --- refund_record ----------------------------------------------------------------------------


@pytest.fixture
def seventy_points(clock: Clock, partner, customer) -> Purchase:
    """A 10.00 purchase at 7 points per euro: 70 points."""
    base_rate("7")
    return purchase_make(customer=customer, partner=partner, amount="10.00")


def test_partial_refunds_reverse_pro_rata_and_add_up_to_the_points_earned(customer, seventy_points):
    amounts = ["3.33", "3.33", "3.34"]

    refunds = [
        services.refund_record(purchase=seventy_points, external_id=f"RF-{index}", amount=Decimal(amount)).refund
        for index, amount in enumerate(amounts)
    ]

    # Cumulative targets: floor(70 x 3.33 / 10) = 23, floor(70 x 6.66 / 10) = 46, then all 70.
    assert [refund.points_reversed for refund in refunds] == [23, 23, 24]
    assert entries_of(customer) == [
        (Kind.EARN, 70, 70),
        (Kind.REFUND, -23, 47),
        (Kind.REFUND, -23, 24),
        (Kind.REFUND, -24, 0),
    ]
    earn = LedgerEntry.objects.get(kind=Kind.EARN)
    assert set(LedgerEntry.objects.filter(kind=Kind.REFUND).values_list("reverses", flat=True)) == {earn.pk}
    assert [entry.refund_id for entry in LedgerEntry.objects.filter(kind=Kind.REFUND).order_by("id")] == [
        refund.pk for refund in refunds
    ]
    seventy_points.refresh_from_db()
    assert seventy_points.refunded_amount == Decimal("10.00")
    account = account_of(customer)
    assert (account.balance, account.lifetime_earned, account.owed) == (0, 0, 0)
    assert PointsLot.objects.get().remaining == 0


def test_full_refund_reverses_every_point(customer, seventy_points):
    refund = services.refund_record(purchase=seventy_points, external_id="RF-1", amount=Decimal("10.00")).refund

    assert (refund.points_reversed, refund.points_owed, refund.points_written_off) == (70, 0, 0)
    assert entries_of(customer) == [(Kind.EARN, 70, 70), (Kind.REFUND, -70, 0)]


@pytest.mark.parametrize("amount", ["10.01", "100.00"])
def test_refund_larger_than_the_purchase_is_refused_and_writes_nothing(customer, seventy_points, amount):
    before = rows()

    with pytest.raises(RefundExceedsPurchase) as error:
        services.refund_record(purchase=seventy_points, external_id="RF-1", amount=Decimal(amount))

    assert error.value.details == {"remaining": "10.00"}
    assert rows() == before
    seventy_points.refresh_from_db()
    assert seventy_points.refunded_amount == Decimal(0)


def test_refund_larger_than_what_remains_is_refused_and_writes_nothing(customer, seventy_points):
    services.refund_record(purchase=seventy_points, external_id="RF-1", amount=Decimal("6.00"))
    before = rows()

    with pytest.raises(RefundExceedsPurchase) as error:
        services.refund_record(purchase=seventy_points, external_id="RF-2", amount=Decimal("4.01"))

    assert error.value.details == {"remaining": "4.00"}
    assert rows() == before
    assert account_of(customer).balance == 28


@pytest.mark.parametrize("amount", ["0.00", "-1.00"])
def test_refund_of_nothing_is_refused(customer, seventy_points, amount):
    before = rows()

    with pytest.raises(DomainError) as error:
        services.refund_record(purchase=seventy_points, external_id="RF-1", amount=Decimal(amount))

    assert error.value.code == "invalid_amount"
    assert rows() == before


def test_repeated_refund_returns_the_first_and_another_amount_is_a_conflict(customer, seventy_points):
    first = services.refund_record(purchase=seventy_points, external_id="RF-1", amount=Decimal("5.00"))
    before = rows()

    again = services.refund_record(purchase=seventy_points, external_id="RF-1", amount=Decimal("5.00"))
    with pytest.raises(PayloadConflict):
        services.refund_record(purchase=seventy_points, external_id="RF-1", amount=Decimal("4.00"))

    assert (first.created, again.created, again.refund.pk) == (True, False, first.refund.pk)
    assert rows() == before
    assert account_of(customer).balance == 35


def test_refunded_points_already_spent_are_owed_and_repaid_from_the_next_earnings(clock: Clock, partner, customer):
    base_rate()
    reward = RewardFactory(points_cost=80)
    purchase = purchase_make(customer=customer, partner=partner, amount="100.00")
    services.reward_redeem(customer=customer, reward=reward, idempotency_key="redeem-1")

    refund = services.refund_record(purchase=purchase, external_id="RF-1", amount=Decimal("100.00")).refund

    assert (refund.points_reversed, refund.points_owed, refund.points_written_off) == (20, 80, 0)
    account = account_of(customer)
    # Lifetime keeps the 80 owed points: only the 20 still in the balance became a ``refund``
    # entry, so the owed ones keep counting towards tiers. Today's behaviour, pinned; whether
    # owed points should leave the tier value is a product decision.
    assert (account.balance, account.owed, account.lifetime_earned) == (0, 80, 80)
    note = LedgerEntry.objects.get(idempotency_key=f"refund:{refund.pk}:owed")
    assert (note.kind, note.amount, note.reverses_id) == (Kind.REFUND, 0, LedgerEntry.objects.get(kind=Kind.EARN).pk)

    purchase_make(customer=customer, partner=partner, amount="50.00")
    purchase_make(customer=customer, partner=partner, amount="50.00")

    assert entries_of(customer)[4:] == [
        (Kind.EARN, 50, 50),
        (Kind.REPAY, -50, 0),
        (Kind.EARN, 50, 50),
        (Kind.REPAY, -30, 20),
    ]
    repay = LedgerEntry.objects.filter(kind=Kind.REPAY).order_by("id").last()
    assert repay.reverses.kind == Kind.EARN
    assert list(repay.consumptions.values_list("lot__entry", "points")) == [(repay.reverses_id, 30)]
    account = account_of(customer)
    assert (account.balance, account.owed) == (20, 0)
    assert PointsLot.objects.get(entry=repay.reverses).remaining == 20


def test_refunded_points_already_spent_are_written_off_with_a_visible_entry(clock: Clock, partner, customer):
    program_set(refund_overspend_policy=Program.OverspendPolicy.WRITE_OFF)
    base_rate()
    reward = RewardFactory(points_cost=80)
    purchase = purchase_make(customer=customer, partner=partner, amount="100.00")
    services.reward_redeem(customer=customer, reward=reward, idempotency_key="redeem-1")

    refund = services.refund_record(purchase=purchase, external_id="RF-1", amount=Decimal("100.00")).refund

    assert (refund.points_reversed, refund.points_owed, refund.points_written_off) == (20, 0, 80)
    write_off = LedgerEntry.objects.get(kind=Kind.WRITE_OFF)
    assert (write_off.amount, write_off.balance_after, write_off.reason) == (
        0,
        0,
        "80 points already spent: written off",
    )
    purchase_make(customer=customer, partner=partner, amount="50.00")
    account = account_of(customer)
    assert (account.balance, account.owed) == (50, 0)
    assert LedgerEntry.objects.filter(kind=Kind.REPAY).count() == 0


def test_refund_takes_the_purchase_own_lot_first(clock: Clock, partner, customer):
    base_rate()
    gift = grant(customer, 30, "gift-1")
    program_set(points_expiry_months=36)  # the purchase's lot expires after the gift's
    purchase = purchase_make(customer=customer, partner=partner, amount="50.00")

    services.refund_record(purchase=purchase, external_id="RF-1", amount=Decimal("20.00"))

    assert PointsLot.objects.get(entry=gift).remaining == 30
    assert PointsLot.objects.get(entry__purchase=purchase).remaining == 30


# --- reward_redeem ----------------------------------------------------------------------------


@pytest.fixture
def hundred_points(clock: Clock, customer) -> LedgerEntry:
    return grant(customer, 100, "gift-100")


def test_redeem_spends_points_and_issues_a_voucher(clock: Clock, customer, partner, hundred_points):
    reward = RewardFactory(points_cost=60, value=Decimal("5.00"), voucher_valid_days=30, stock=3)

    result = services.reward_redeem(customer=customer, reward=reward, idempotency_key="redeem-1", partner=partner)

    voucher = result.voucher
    assert result.created is True
    assert (voucher.status, voucher.points_spent, voucher.value, voucher.currency) == (
        Voucher.Status.ISSUED,
        60,
        Decimal("5.00"),
        "EUR",
    )
    assert (voucher.issued_by, voucher.source, voucher.expires_at) == (
        partner,
        Voucher.Source.REDEMPTION,
        START + datetime.timedelta(days=30),
    )
    assert len(voucher.code) == 12
    debit = LedgerEntry.objects.get(kind=Kind.REDEEM)
    assert (debit.amount, debit.balance_after, debit.voucher_id) == (-60, 40, voucher.pk)
    reward.refresh_from_db()
    assert reward.stock == 2
    assert account_of(customer).balance == 40


def test_redeem_without_enough_points_is_refused_and_writes_nothing(clock: Clock, customer, hundred_points):
    reward = RewardFactory(points_cost=101, stock=5)
    before = rows()

    with pytest.raises(InsufficientPoints) as error:
        services.reward_redeem(customer=customer, reward=reward, idempotency_key="redeem-1")

    assert error.value.details == {"needed": 101, "balance": 100}
    assert rows() == before
    reward.refresh_from_db()
    assert reward.stock == 5


def test_redeem_counts_only_points_not_yet_expired_and_refusing_writes_nothing(clock: Clock, customer):
    program_set(points_expiry_months=1)
    grant(customer, 100, "gift-old")
    clock.advance(months=1)  # the gift expires now, though the nightly job has not run
    grant(customer, 50, "gift-new")
    reward = RewardFactory(points_cost=60)
    before = rows()

    with pytest.raises(InsufficientPoints) as error:
        services.reward_redeem(customer=customer, reward=reward, idempotency_key="redeem-1")

    assert error.value.details == {"needed": 60, "balance": 50}
    assert rows() == before
    assert account_of(customer).balance == 150


def test_redeem_out_of_stock_is_refused_and_writes_nothing(clock: Clock, customer, hundred_points):
    reward = RewardFactory(points_cost=10, stock=1)
    services.reward_redeem(customer=customer, reward=reward, idempotency_key="redeem-1")
    before = rows()

    with pytest.raises(OutOfStock):
        services.reward_redeem(customer=customer, reward=reward, idempotency_key="redeem-2")

    assert rows() == before
    reward.refresh_from_db()
    assert reward.stock == 0
    assert account_of(customer).balance == 90


def test_redeem_below_the_reward_tier_is_refused(clock: Clock, customer, hundred_points):
    TierFactory(name="Bronze", rank=0)
    gold = TierFactory(name="Gold", rank=1, threshold=Decimal(1000))
    reward = RewardFactory(points_cost=10, min_tier=gold)
    before = rows()

    with pytest.raises(NotEligible) as error:
        services.reward_redeem(customer=customer, reward=reward, idempotency_key="redeem-1")

    assert error.value.details == {"reward": reward.pk, "tier": "Gold"}
    assert rows() == before


def test_redeem_at_the_reward_tier_is_allowed(clock: Clock, partner, customer):
    base_rate()
    gold = TierFactory(name="Gold", rank=0, threshold=Decimal(50))
    purchase_make(customer=customer, partner=partner, amount="60.00")
    reward = RewardFactory(points_cost=10, min_tier=gold)

    assert services.reward_redeem(customer=customer, reward=reward, idempotency_key="redeem-1").created is True


@pytest.mark.parametrize(
    "window",
    [
        {"is_active": False},
        {"valid_from": START + datetime.timedelta(seconds=1)},
        {"valid_until": START},
    ],
)
def test_redeem_outside_the_reward_window_is_refused(clock: Clock, customer, hundred_points, window):
    reward = RewardFactory(points_cost=10, **window)
    before = rows()

    with pytest.raises(RewardUnavailable):
        services.reward_redeem(customer=customer, reward=reward, idempotency_key="redeem-1")

    assert rows() == before


def test_redeem_for_a_blocked_customer_is_refused(clock: Clock, customer, hundred_points):
    reward = RewardFactory(points_cost=10)
    Customer.objects.filter(pk=customer.pk).update(status=Customer.Status.BLOCKED)
    customer.refresh_from_db()
    before = rows()

    with pytest.raises(CustomerInactive):
        services.reward_redeem(customer=customer, reward=reward, idempotency_key="redeem-1")

    assert rows() == before


def test_repeated_redemption_returns_the_first_voucher(clock: Clock, customer, hundred_points):
    reward = RewardFactory(points_cost=30, stock=10)
    first = services.reward_redeem(customer=customer, reward=reward, idempotency_key="redeem-1")
    before = rows()

    again = services.reward_redeem(customer=customer, reward=reward, idempotency_key="redeem-1")
    with pytest.raises(PayloadConflict):
        services.reward_redeem(customer=customer, reward=RewardFactory(points_cost=1), idempotency_key="redeem-1")

    assert (again.created, again.voucher.pk) == (False, first.voucher.pk)
    assert rows() == before
    reward.refresh_from_db()
    assert reward.stock == 9
    assert account_of(customer).balance == 70


def test_redeem_consumes_the_lots_nearest_to_expiry_first(clock: Clock, customer):
    program_set(points_expiry_months=24)
    late = grant(customer, 50, "gift-late")
    program_set(points_expiry_months=0)
    never = grant(customer, 50, "gift-never")
    program_set(points_expiry_months=6)
    soon = grant(customer, 50, "gift-soon")
    clock.advance(days=1)
    next_soon = grant(customer, 10, "gift-next-soon")

    services.reward_redeem(customer=customer, reward=RewardFactory(points_cost=80), idempotency_key="redeem-1")

    remaining = {lot.entry_id: lot.remaining for lot in PointsLot.objects.all()}
    assert remaining == {late.pk: 30, never.pk: 50, soon.pk: 0, next_soon.pk: 0}
    debit = LedgerEntry.objects.get(kind=Kind.REDEEM)
    assert list(debit.consumptions.order_by("id").values_list("lot__entry", "points")) == [
        (soon.pk, 50),
        (next_soon.pk, 10),
        (late.pk, 20),
    ]


# --- voucher_use ------------------------------------------------------------------------------


@pytest.fixture
def voucher(clock: Clock, customer, hundred_points) -> Voucher:
    reward = RewardFactory(points_cost=40, stock=5, voucher_valid_days=10)
    return services.reward_redeem(customer=customer, reward=reward, idempotency_key="redeem-1").voucher


def test_voucher_is_used_once_and_the_same_order_repeats(clock: Clock, partner, voucher):
    display = services.voucher_code_display(voucher.code).lower()

    used, first = services.voucher_use(code=display, partner=partner, order_id="ORDER-1")
    again, repeated = services.voucher_use(code=voucher.code, partner=partner, order_id="ORDER-1")

    assert (first, repeated) == (True, False)
    voucher.refresh_from_db()
    assert (voucher.status, voucher.redeemed_by, voucher.redeemed_order_id, voucher.redeemed_at) == (
        Voucher.Status.REDEEMED,
        partner,
        "ORDER-1",
        START,
    )
    assert used.pk == again.pk == voucher.pk


def test_voucher_used_for_another_order_is_a_conflict(clock: Clock, partner, voucher):
    services.voucher_use(code=voucher.code, partner=partner, order_id="ORDER-1")

    with pytest.raises(VoucherAlreadyUsed):
        services.voucher_use(code=voucher.code, partner=partner, order_id="ORDER-2")

    voucher.refresh_from_db()
    assert voucher.redeemed_order_id == "ORDER-1"


def test_voucher_another_partner_used_is_not_found(clock: Clock, partner, voucher):
    other = PartnerFactory(name="Web shop")
    services.voucher_use(code=voucher.code, partner=partner, order_id="ORDER-1")

    with pytest.raises(VoucherNotFound):
        services.voucher_use(code=voucher.code, partner=other, order_id="ORDER-1")
    with pytest.raises(VoucherNotFound):
        services.voucher_get_for_partner(code=voucher.code, partner=other)

    assert services.voucher_get_for_partner(code=voucher.code, partner=partner).pk == voucher.pk


def test_unknown_voucher_is_not_found(clock: Clock, partner, voucher):
    with pytest.raises(VoucherNotFound):
        services.voucher_use(code="AAAA-BBBB-CCCC", partner=partner, order_id="ORDER-1")


def test_expired_voucher_is_refused(clock: Clock, partner, voucher):
    clock.advance(days=10)

    with pytest.raises(VoucherExpired):
        services.voucher_use(code=voucher.code, partner=partner, order_id="ORDER-1")

    voucher.refresh_from_db()
    assert voucher.status == Voucher.Status.ISSUED


def test_voucher_marked_expired_is_refused(clock: Clock, partner, voucher):
    Voucher.objects.filter(pk=voucher.pk).update(status=Voucher.Status.EXPIRED)

    with pytest.raises(VoucherExpired):
        services.voucher_use(code=voucher.code, partner=partner, order_id="ORDER-1")


def test_cancelled_voucher_is_refused(clock: Clock, partner, voucher):
    services.voucher_cancel(voucher=voucher)

    with pytest.raises(VoucherCancelled):
        services.voucher_use(code=voucher.code, partner=partner, order_id="ORDER-1")


# --- voucher_cancel ---------------------------------------------------------------------------


def test_cancelled_voucher_returns_points_into_the_same_lots_and_the_stock(clock: Clock, customer):
    program_set(points_expiry_months=6)
    soon = grant(customer, 30, "gift-soon")
    program_set(points_expiry_months=12)
    late = grant(customer, 50, "gift-late")
    reward = RewardFactory(points_cost=40, stock=2)
    voucher = services.reward_redeem(customer=customer, reward=reward, idempotency_key="redeem-1").voucher
    assert {lot.entry_id: lot.remaining for lot in PointsLot.objects.all()} == {soon.pk: 0, late.pk: 40}
    clock.advance(days=1)

    cancelled = services.voucher_cancel(voucher=voucher)

    assert cancelled.status == Voucher.Status.CANCELLED
    voucher.refresh_from_db()
    assert (voucher.status, voucher.cancelled_at) == (Voucher.Status.CANCELLED, START + relativedelta(days=1))
    lots = {lot.entry_id: (lot.remaining, lot.expires_at) for lot in PointsLot.objects.all()}
    assert lots == {
        soon.pk: (30, START + relativedelta(months=6)),
        late.pk: (50, START + relativedelta(months=12)),
    }
    debit = LedgerEntry.objects.get(kind=Kind.REDEEM, amount__lt=0)
    restore = LedgerEntry.objects.get(kind=Kind.REDEEM, amount__gt=0)
    assert (restore.amount, restore.balance_after, restore.reverses_id, restore.voucher_id) == (
        40,
        80,
        debit.pk,
        voucher.pk,
    )
    assert PointsLot.objects.count() == 2  # no new lot: the points went home
    reward.refresh_from_db()
    assert reward.stock == 2
    account = account_of(customer)
    assert (account.balance, account.lifetime_earned) == (80, 80)


@pytest.mark.parametrize("status", [Voucher.Status.REDEEMED, Voucher.Status.EXPIRED, Voucher.Status.CANCELLED])
def test_only_an_issued_voucher_can_be_cancelled(clock: Clock, voucher, status):
    Voucher.objects.filter(pk=voucher.pk).update(status=status)
    before = rows()

    with pytest.raises(VoucherNotCancellable) as error:
        services.voucher_cancel(voucher=voucher)

    assert error.value.details == {"status": status}
    assert rows() == before
    assert Reward.objects.get(pk=voucher.reward_id).stock == 4


def test_voucher_past_its_date_cannot_be_cancelled_before_the_nightly_job_marks_it(clock: Clock, customer, voucher):
    clock.advance(days=10)
    before = rows()

    with pytest.raises(VoucherNotCancellable) as error:
        services.voucher_cancel(voucher=voucher)

    assert error.value.details == {"status": Voucher.Status.EXPIRED}
    assert rows() == before
    assert account_of(customer).balance == 60
    assert Reward.objects.get(pk=voucher.reward_id).stock == 4


def test_cancelling_twice_returns_the_points_once(clock: Clock, customer, voucher):
    services.voucher_cancel(voucher=voucher)

    with pytest.raises(VoucherNotCancellable):
        services.voucher_cancel(voucher=voucher)

    assert account_of(customer).balance == 100
    voucher.reward.refresh_from_db()
    assert voucher.reward.stock == 5


def test_cancelling_a_stamp_card_voucher_gives_no_stock_back(clock: Clock, partner, customer):
    card = StampCardFactory(stamps_required=1, reward=RewardFactory(points_cost=0, stock=7))
    purchase_make(
        customer=customer,
        partner=partner,
        amount="3.00",
        lines=[Line(sku="ESP-1", category="coffee", quantity=1, unit_price=Decimal("3.00"))],
    )
    voucher = Voucher.objects.get(source=Voucher.Source.STAMP_CARD)

    services.voucher_cancel(voucher=voucher)

    card.reward.refresh_from_db()
    assert card.reward.stock == 7  # issuing it took none
    assert LedgerEntry.objects.filter(kind=Kind.REDEEM).count() == 0


# --- stamp cards ------------------------------------------------------------------------------


def coffees(count: int) -> list[Line]:
    return [Line(sku="ESP-1", category="Coffee", quantity=count, unit_price=Decimal("3.00"))]


def test_ten_coffees_earn_one_voucher(clock: Clock, partner, customer):
    card = StampCardFactory(stamps_required=10)

    for _number in range(9):
        purchase_make(customer=customer, partner=partner, amount="3.00", lines=coffees(1))
    assert Voucher.objects.count() == 0
    purchase_make(customer=customer, partner=partner, amount="3.00", lines=coffees(1))

    voucher = Voucher.objects.get()
    assert (voucher.source, voucher.reward_id, voucher.points_spent, voucher.customer_id) == (
        Voucher.Source.STAMP_CARD,
        card.reward_id,
        0,
        customer.pk,
    )
    assert voucher.idempotency_key == f"stamp:{card.pk}:{customer.pk}:1"
    progress = StampProgress.objects.get()
    assert (progress.stamps, progress.completed) == (0, 1)


def test_stamp_progress_carries_over(clock: Clock, partner, customer):
    StampCardFactory(stamps_required=10)

    purchase_make(customer=customer, partner=partner, amount="21.00", lines=coffees(7))
    purchase_make(customer=customer, partner=partner, amount="15.00", lines=coffees(5))

    assert Voucher.objects.count() == 1
    progress = StampProgress.objects.get()
    assert (progress.stamps, progress.completed) == (2, 1)


def test_many_items_at_once_fill_several_cards(clock: Clock, partner, customer):
    card = StampCardFactory(stamps_required=10)
    purchase_make(customer=customer, partner=partner, amount="3.00", lines=coffees(1))
    purchase_make(customer=customer, partner=partner, amount="3.00", lines=coffees(9))

    purchase_make(
        customer=customer,
        partner=partner,
        amount="80.00",
        lines=[*coffees(25), Line(sku="BUN-1", category="bakery", quantity=4, unit_price=Decimal("1.25"))],
    )

    assert sorted(Voucher.objects.values_list("idempotency_key", flat=True)) == [
        f"stamp:{card.pk}:{customer.pk}:{number}" for number in (1, 2, 3)
    ]
    progress = StampProgress.objects.get()
    assert (progress.stamps, progress.completed) == (5, 3)


def test_stamps_are_collected_per_customer_and_only_for_matching_items(clock: Clock, partner, customer):
    StampCardFactory(stamps_required=3)
    other = CustomerFactory()

    purchase_make(customer=customer, partner=partner, amount="6.00", lines=coffees(2))
    purchase_make(
        customer=other,
        partner=partner,
        amount="9.00",
        lines=[*coffees(1), Line(sku="TEA-1", category="tea", quantity=5, unit_price=Decimal("1.00"))],
    )

    assert dict(StampProgress.objects.values_list("customer_id", "stamps")) == {customer.pk: 2, other.pk: 1}
    assert Voucher.objects.count() == 0


# --- points_earn, points_adjust, points_claw_back ---------------------------------------------


def test_points_earn_is_idempotent_by_key(clock: Clock, customer):
    first = grant(customer, 25, "birthday:2026", kind=Kind.BIRTHDAY)
    before = rows()

    again = grant(customer, 25, "birthday:2026", kind=Kind.BIRTHDAY)

    assert again.pk == first.pk
    assert rows() == before
    account = account_of(customer)
    assert (account.balance, account.lifetime_earned) == (25, 25)
    assert (first.kind, first.amount, first.expires_at) == (Kind.BIRTHDAY, 25, START + relativedelta(months=24))


@pytest.mark.parametrize(
    "change", [{"amount": 26}, {"kind": Kind.GIFT}, {"customer": "other"}], ids=["amount", "kind", "customer"]
)
def test_points_earn_key_reused_with_another_payload_is_a_conflict(clock: Clock, customer, change):
    grant(customer, 25, "birthday:2026", kind=Kind.BIRTHDAY)
    before = rows()
    arguments: dict[str, Any] = {"customer": customer, "amount": 25, "kind": Kind.BIRTHDAY} | change
    if arguments["customer"] == "other":
        arguments["customer"] = CustomerFactory()

    with pytest.raises(PayloadConflict) as error:
        grant(arguments["customer"], arguments["amount"], "birthday:2026", kind=arguments["kind"])

    assert error.value.details == {"idempotency_key": "birthday:2026"}
    assert rows() == before


@pytest.mark.parametrize(
    ("amount", "kind", "code"),
    [(0, Kind.GIFT, "invalid_points"), (-5, Kind.GIFT, "invalid_points"), (5, Kind.EARN, "invalid_kind")],
)
def test_points_earn_refuses_bad_grants(clock: Clock, customer, amount, kind, code):
    with pytest.raises(DomainError) as error:
        grant(customer, amount, "grant-1", kind=kind)

    assert error.value.code == code
    assert set(rows().values()) == {0}


def test_staff_adjustment_adds_and_takes_points_with_a_reason(clock: Clock, customer, staff):
    added = services.points_adjust(customer=customer, amount=40, reason="  Goodwill  ", by=staff)
    taken = services.points_adjust(customer=customer, amount=-15, reason="Duplicate gift", by=staff)

    assert [(e.kind, e.amount, e.balance_after, e.reason, e.created_by) for e in (added, taken)] == [
        (Kind.ADJUST, 40, 40, "Goodwill", staff),
        (Kind.ADJUST, -15, 25, "Duplicate gift", staff),
    ]
    account = account_of(customer)
    assert (account.balance, account.lifetime_earned) == (25, 0)
    assert PointsLot.objects.get().remaining == 25


@pytest.mark.parametrize(
    ("amount", "reason", "code"),
    [(10, "", "reason_required"), (10, "   ", "reason_required"), (0, "Why", "invalid_points")],
)
def test_staff_adjustment_needs_a_reason_and_an_amount(clock: Clock, customer, staff, amount, reason, code):
    with pytest.raises(DomainError) as error:
        services.points_adjust(customer=customer, amount=amount, reason=reason, by=staff)

    assert error.value.code == code
    assert set(rows().values()) == {0}


def test_staff_cannot_take_more_than_the_balance(clock: Clock, customer, staff, hundred_points):
    before = rows()

    with pytest.raises(InsufficientPoints):
        services.points_adjust(customer=customer, amount=-101, reason="Fraud", by=staff)

    assert rows() == before
    assert account_of(customer).balance == 100


def test_claw_back_takes_a_grant_back_once(clock: Clock, customer):
    reward = grant(customer, 60, "referral:1", kind=Kind.REFERRAL)
    grant(customer, 10, "gift-1")

    reversal = services.points_claw_back(entry=reward, reason="Referral refunded", idempotency_key="claw:1")
    again = services.points_claw_back(entry=reward, reason="Referral refunded", idempotency_key="claw:1")

    assert (reversal.kind, reversal.amount, reversal.balance_after, reversal.reverses_id) == (
        Kind.REFERRAL,
        -60,
        10,
        reward.pk,
    )
    assert again.pk == reversal.pk
    account = account_of(customer)
    assert (account.balance, account.lifetime_earned, account.owed) == (10, 10, 0)


def test_claw_back_of_spent_points_owes_them_once(clock: Clock, customer):
    reward = grant(customer, 60, "referral:1", kind=Kind.REFERRAL)
    services.reward_redeem(customer=customer, reward=RewardFactory(points_cost=50), idempotency_key="redeem-1")

    reversal = services.points_claw_back(entry=reward, reason="Referral refunded", idempotency_key="claw:1")
    before = rows()
    again = services.points_claw_back(entry=reward, reason="Referral refunded", idempotency_key="claw:1")

    assert (reversal.amount, reversal.reverses_id) == (-10, reward.pk)
    assert again.pk == reversal.pk
    assert rows() == before
    account = account_of(customer)
    assert (account.balance, account.owed) == (0, 50)


def test_claw_back_of_a_fully_spent_grant_is_idempotent(clock: Clock, customer):
    reward = grant(customer, 60, "referral:1", kind=Kind.REFERRAL)
    services.reward_redeem(customer=customer, reward=RewardFactory(points_cost=60), idempotency_key="redeem-1")

    note = services.points_claw_back(entry=reward, reason="Referral refunded", idempotency_key="claw:1")
    before = rows()
    again = services.points_claw_back(entry=reward, reason="Referral refunded", idempotency_key="claw:1")

    assert note is not None
    assert (note.amount, note.idempotency_key) == (0, "claw:1:owed")
    assert again.pk == note.pk
    assert rows() == before
    assert account_of(customer).owed == 60


def test_claw_back_keys_are_not_prefixes_of_each_other(clock: Clock, customer):
    first = grant(customer, 5, "referral:1", kind=Kind.REFERRAL)
    tenth = grant(customer, 7, "referral:10", kind=Kind.REFERRAL)
    services.points_claw_back(entry=tenth, reason="Refunded", idempotency_key="claw:10")

    reversal = services.points_claw_back(entry=first, reason="Refunded", idempotency_key="claw:1")

    assert (reversal.amount, reversal.reverses_id, reversal.idempotency_key) == (-5, first.pk, "claw:1")
    assert account_of(customer).balance == 0
