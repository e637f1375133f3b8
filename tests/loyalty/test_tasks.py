"""The scheduled tasks and the verify_ledger command: thin wrappers, checked end to end."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from loyalty import services, tasks
from loyalty.models import LedgerEntry, PointsAccount, Voucher
from tests.customers.factories import CustomerFactory, PartnerFactory
from tests.loyalty.factories import RewardFactory, base_rate, program_set, purchase_make


@pytest.fixture
def earned(db, clock):
    program_set(points_expiry_months=1)
    base_rate()
    customer = CustomerFactory()
    purchase_make(customer=customer, partner=PartnerFactory(), amount="50.00")
    return customer


@pytest.mark.django_db
def test_nightly_tasks_expire_points_and_vouchers_once(earned, clock):
    voucher = services.reward_redeem(
        customer=earned, reward=RewardFactory(points_cost=10), idempotency_key="t-1"
    ).voucher
    clock.advance(months=3)

    assert tasks.points_expire_task() == 40
    assert tasks.points_expire_task() == 0
    assert tasks.vouchers_expire_task() == 1
    assert PointsAccount.objects.get(customer=earned).balance == 0
    voucher.refresh_from_db()
    assert voucher.status == Voucher.Status.EXPIRED
    assert LedgerEntry.objects.filter(kind=LedgerEntry.Kind.EXPIRE).count() == 1


@pytest.mark.django_db
def test_tier_and_pending_tasks_report_what_they_did(earned):
    assert tasks.tiers_evaluate_task() == {"upgraded": 0, "downgraded": 0, "grace_started": 0, "grace_ended": 0}
    assert tasks.pending_points_release_task() == 0


@pytest.mark.django_db
def test_verify_ledger_passes_on_a_sound_ledger(earned):
    out = StringIO()

    call_command("verify_ledger", stdout=out)

    assert "The ledger adds up" in out.getvalue()


@pytest.mark.django_db
def test_verify_ledger_fails_when_a_balance_was_changed_behind_the_ledger(earned):
    with connection.cursor() as cursor:
        cursor.execute("UPDATE loyalty_pointsaccount SET balance = balance + 7")
    err = StringIO()

    with pytest.raises(CommandError, match=r"does not add up: 2 problem"):
        call_command("verify_ledger", stderr=err)
    assert "balance" in err.getvalue()  # against the entries and against the lots
