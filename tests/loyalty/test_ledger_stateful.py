"""Random sequences of everything that moves points, for a few customers, with the ledger's
invariants checked after every step (a hypothesis state machine).

Isolation: pytest-django's ``db`` fixture wraps the *test function* in one transaction, but
hypothesis runs many examples (each a fresh machine) inside that one call, so on its own every
example would see the rows of the ones before. Each machine therefore opens its own savepoint
(``transaction.atomic()``) in ``__init__`` and, in ``teardown`` (which hypothesis calls after every
example, failing or not), marks it for rollback and leaves it: every example starts from the same
empty database. The services' own ``atomic`` blocks nest inside as savepoints, so a refused
service rolls back just its own work, as it does in production.

Time is a frozen clock (``django.utils.timezone.now``) that the machine moves forward, so lots
really expire, grace periods run out, and vouchers go past their date.
"""

from __future__ import annotations

import datetime
from dataclasses import astuple
from decimal import Decimal
from typing import Any

import pytest
from dateutil.relativedelta import relativedelta
from django.db import transaction
from django.db.models import F, Max, Q, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from customers.models import Customer, Partner, User
from loyalty import services
from loyalty.earning import Line
from loyalty.errors import (
    InsufficientPoints,
    OutOfStock,
    RefundExceedsPurchase,
    VoucherExpired,
    VoucherNotCancellable,
)
from loyalty.models import LedgerEntry, PendingPoints, PointsAccount, PointsLot, Program, Purchase, Refund, Voucher
from loyalty.program import program_cache_clear
from loyalty.services.ledger import LIFETIME_KINDS
from loyalty.verification import ledger_verify
from tests.customers.factories import CustomerFactory
from tests.loyalty.conftest import START, Clock
from tests.loyalty.factories import RewardFactory, StampCardFactory, TierFactory, base_rate, program_set

Kind = LedgerEntry.Kind
CUSTOMERS = 3


def _snapshot() -> tuple[Any, ...]:
    """Everything a refused write must leave untouched."""
    return (
        LedgerEntry.objects.count(),
        PointsLot.objects.aggregate(total=Sum("remaining"))["total"],
        list(PointsAccount.objects.order_by("pk").values_list("balance", "owed", "lifetime_earned")),
        Voucher.objects.count(),
        Refund.objects.count(),
    )


class LedgerMachine(RuleBasedStateMachine):
    checks = 0  # how many times the invariants were checked, over all examples
    clock: Clock  # set by the test, shared with the patched ``timezone.now``

    def __init__(self) -> None:
        super().__init__()
        self._savepoint = transaction.atomic()
        self._savepoint.__enter__()
        self.clock.now = START
        program_cache_clear()
        program_set(points_expiry_months=2, return_window_days=7, tier_window_months=3, tier_grace_days=10)
        base_rate()
        TierFactory(name="Bronze", rank=0, threshold=Decimal(0))
        TierFactory(name="Silver", rank=1, threshold=Decimal(200), multiplier=Decimal("1.5"))
        # Vouchers outlive points (365 days against 2 months), so a voucher can be cancelled after
        # the points it spent have expired.
        self.rewards = [
            RewardFactory(points_cost=30, voucher_valid_days=365),
            RewardFactory(points_cost=75, stock=3, voucher_valid_days=365),
        ]
        StampCardFactory(stamps_required=3)
        program_cache_clear()
        self.partner = Partner.objects.create(name="POS")
        self.staff = User.objects.create_user(username="staff", password="x", is_staff=True)
        self.customers: list[Customer] = [CustomerFactory() for _index in range(CUSTOMERS)]
        self.counter = 0
        self.purchases: list[int] = []
        self.grant_keys: list[str] = []

    def teardown(self) -> None:
        try:
            assert ledger_verify() == []
        finally:
            transaction.set_rollback(True)
            self._savepoint.__exit__(None, None, None)
            program_cache_clear()

    def _next(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}-{self.counter}"

    @initialize(cents=st.lists(st.integers(100, 40_000), min_size=CUSTOMERS, max_size=CUSTOMERS))
    def first_purchases(self, cents: list[int]) -> None:
        """Every customer starts with a purchase, so refunds and redemptions have something to work on."""
        for customer, amount in enumerate(cents):
            self.purchase(customer=customer, cents=amount, coffees=0)

    # --- time -------------------------------------------------------------------------------

    @rule(days=st.integers(1, 40))
    def night(self, days: int) -> None:
        """Time passes, then the nightly jobs run (twice: a repeated run must change nothing)."""
        self.clock.advance(days=days)
        services.points_expire_all()
        services.pending_points_release_due()
        services.tiers_evaluate_all()
        services.vouchers_expire_due()
        after = _snapshot()
        assert services.points_expire_all() == 0
        assert astuple(services.tiers_evaluate_all()) == (0, 0, 0, 0)
        assert services.pending_points_release_due() == 0
        assert services.vouchers_expire_due() == 0
        assert _snapshot() == after

    @rule(months=st.integers(1, 4))
    def expire_ahead(self, months: int) -> None:
        """The expiry job with a "now" in the future: lots are expired early, and points given
        back into them later (a cancelled voucher) must be expirable again."""
        services.points_expire_all(now=self.clock.now + relativedelta(months=months))

    # --- programme --------------------------------------------------------------------------

    @rule(policy=st.sampled_from(Program.OverspendPolicy.values), pending=st.booleans())
    def reconfigure(self, policy: str, pending: bool) -> None:
        program_set(refund_overspend_policy=policy, pending_points_enabled=pending)

    # --- purchases and refunds --------------------------------------------------------------

    @rule(customer=st.integers(0, CUSTOMERS - 1), cents=st.integers(1, 40_000), coffees=st.integers(0, 4))
    def purchase(self, customer: int, cents: int, coffees: int) -> None:
        lines = [Line(sku="ESP-1", category="coffee", quantity=coffees, unit_price=Decimal("3.00"))] if coffees else []
        tier = PointsAccount.objects.filter(customer=self.customers[customer]).values_list("tier__multiplier").first()
        multiplier = tier[0] if tier and tier[0] is not None else Decimal(1)
        result = services.purchase_record(
            partner=self.partner,
            external_id=self._next("order"),
            customer=self.customers[customer],
            amount=Decimal(cents) / 100,
            currency="EUR",
            occurred_at=self.clock.now - datetime.timedelta(minutes=1),
            lines=lines,
        )
        assert result.created
        assert result.purchase.points_earned == int(Decimal(cents) / 100 * multiplier)
        self.purchases.append(result.purchase.pk)

    @rule(data=st.data(), size=st.sampled_from(["part", "rest", "too much"]))
    def refund(self, data: st.DataObject, size: str) -> None:
        purchase = Purchase.objects.get(pk=data.draw(st.sampled_from(self.purchases)))
        remaining = int(purchase.remaining_amount * 100)
        before = _snapshot()
        if size == "too much":
            with pytest.raises(RefundExceedsPurchase):
                services.refund_record(
                    purchase=purchase,
                    external_id=self._next("refund"),
                    amount=Decimal(remaining + data.draw(st.integers(1, 1000))) / 100,
                )
            assert _snapshot() == before
            return
        if not remaining:
            return
        cents = remaining if size == "rest" else data.draw(st.integers(1, remaining))
        result = services.refund_record(
            purchase=purchase, external_id=self._next("refund"), amount=Decimal(cents) / 100
        )
        assert result.created

    # --- rewards and vouchers ---------------------------------------------------------------

    @rule(customer=st.integers(0, CUSTOMERS - 1), reward=st.integers(0, 1))
    def redeem(self, customer: int, reward: int) -> None:
        before = _snapshot()
        try:
            result = services.reward_redeem(
                customer=self.customers[customer], reward=self.rewards[reward], idempotency_key=self._next("redeem")
            )
        except (InsufficientPoints, OutOfStock):
            assert _snapshot() == before
        else:
            assert result.voucher.points_spent == self.rewards[reward].points_cost

    @rule(data=st.data(), cancel=st.booleans())
    def settle_voucher(self, data: st.DataObject, cancel: bool) -> None:
        """Cancel an issued voucher (its points go back home), or use it at checkout."""
        issued = list(Voucher.objects.filter(status=Voucher.Status.ISSUED).order_by("pk"))
        if not issued:
            return
        voucher = data.draw(st.sampled_from(issued))
        if cancel and voucher.expires_at <= self.clock.now:
            before = _snapshot()
            with pytest.raises(VoucherNotCancellable):
                services.voucher_cancel(voucher=voucher)
            assert _snapshot() == before
            return
        if cancel:
            services.voucher_cancel(voucher=voucher)
            voucher.refresh_from_db()
            assert voucher.status == Voucher.Status.CANCELLED
            return
        if voucher.expires_at <= self.clock.now:
            with pytest.raises(VoucherExpired):
                services.voucher_use(code=voucher.code, partner=self.partner, order_id=self._next("checkout"))
            return
        _used, created = services.voucher_use(code=voucher.code, partner=self.partner, order_id=self._next("checkout"))
        assert created

    # --- grants and staff -------------------------------------------------------------------

    @rule(
        customer=st.integers(0, CUSTOMERS - 1),
        amount=st.integers(1, 150),
        kind=st.sampled_from([Kind.GIFT, Kind.BIRTHDAY, Kind.REFERRAL, Kind.BONUS]),
    )
    def grant(self, customer: int, amount: int, kind: str) -> None:
        key = self._next("grant")
        entry = services.points_earn(
            customer=self.customers[customer], amount=amount, kind=kind, reason="Random grant", idempotency_key=key
        )
        self.grant_keys.append(key)
        before = _snapshot()
        again = services.points_earn(
            customer=self.customers[customer], amount=amount, kind=kind, reason="Random grant", idempotency_key=key
        )
        assert again.pk == entry.pk
        assert _snapshot() == before

    @precondition(lambda self: bool(self.grant_keys))
    @rule(data=st.data())
    def claw_back(self, data: st.DataObject) -> None:
        key = data.draw(st.sampled_from(self.grant_keys))
        entry = LedgerEntry.objects.get(idempotency_key=key)
        first = services.points_claw_back(entry=entry, reason="Clawed back", idempotency_key=f"claw:{key}")
        before = _snapshot()
        again = services.points_claw_back(entry=entry, reason="Clawed back", idempotency_key=f"claw:{key}")
        assert first is not None
        assert again is not None
        assert again.pk == first.pk
        assert _snapshot() == before

    @rule(customer=st.integers(0, CUSTOMERS - 1), amount=st.integers(-200, 200).filter(bool))
    def adjust(self, customer: int, amount: int) -> None:
        before = _snapshot()
        try:
            services.points_adjust(customer=self.customers[customer], amount=amount, reason="Random", by=self.staff)
        except InsufficientPoints:
            assert amount < 0
            assert _snapshot() == before

    # --- invariants -------------------------------------------------------------------------

    @invariant()
    def balances_match_entries_and_lots(self) -> None:
        """Re-derived independently of ``ledger_verify`` (which is checked at the end of each run)."""
        LedgerMachine.checks += 1
        entries = dict(
            LedgerEntry.objects.values("account").annotate(total=Sum("amount")).values_list("account", "total")
        )
        lifetime = dict(
            LedgerEntry.objects.filter(kind__in=LIFETIME_KINDS)
            .values("account")
            .annotate(total=Sum("amount"))
            .values_list("account", "total")
        )
        lots = dict(
            PointsLot.objects.values("account").annotate(total=Sum("remaining")).values_list("account", "total")
        )
        newest = dict(
            LedgerEntry.objects.filter(
                pk__in=LedgerEntry.objects.values("account").annotate(last=Max("pk")).values("last")
            ).values_list("account", "balance_after")
        )
        for pk, balance, owed, lifetime_earned in PointsAccount.objects.values_list(
            "pk", "balance", "owed", "lifetime_earned"
        ):
            assert balance == entries.get(pk, 0) == lots.get(pk, 0), pk
            assert balance >= 0
            assert owed >= 0
            assert lifetime_earned == lifetime.get(pk, 0)
            assert newest.get(pk, 0) == balance
        assert not PointsLot.objects.filter(Q(remaining__lt=0) | Q(remaining__gt=F("initial"))).exists()

    @invariant()
    def refunds_reverse_exactly_what_was_earned(self) -> None:
        purchases = Purchase.objects.annotate(
            reversed_points=Coalesce(
                Sum(F("refunds__points_reversed") + F("refunds__points_owed") + F("refunds__points_written_off")),
                0,
            )
        ).values_list("pk", "amount", "refunded_amount", "points_earned", "reversed_points")
        for pk, amount, refunded, earned, reversed_points in purchases:
            assert reversed_points <= earned, pk
            if refunded == amount:
                assert reversed_points == earned, pk
        assert not PendingPoints.objects.filter(
            status=PendingPoints.Status.PENDING, purchase__refunded_amount=F("purchase__amount")
        ).exists()


@pytest.mark.django_db
def test_ledger_invariants_hold_under_random_operations(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock(START)
    monkeypatch.setattr(timezone, "now", clock)
    LedgerMachine.clock = clock
    LedgerMachine.checks = 0
    run_state_machine_as_test(
        LedgerMachine,
        settings=settings(
            max_examples=40,
            stateful_step_count=30,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
    assert LedgerMachine.checks >= 40  # the invariants ran after every step of every example
