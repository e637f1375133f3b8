from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from loyalty.models import EarningRule, LedgerEntry, Purchase, Reward, Tier, Voucher
from loyalty.verification import ledger_verify


@pytest.mark.django_db
def test_load_demo_builds_a_programme_with_a_year_of_purchases_and_is_idempotent(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    out = StringIO()
    call_command("load_demo", "--customers", "25", stdout=out)
    counts = (Purchase.objects.count(), LedgerEntry.objects.count(), Voucher.objects.count())

    call_command("load_demo", "--customers", "25", stdout=StringIO())

    assert list(Tier.objects.order_by("rank").values_list("name", flat=True)) == ["Bronze", "Silver", "Gold"]
    assert EarningRule.objects.filter(is_active=True).count() == 5
    assert Reward.objects.filter(is_active=True).count() == 6
    assert counts[0] > 50
    assert "Loyalty:" in out.getvalue()
    assert (Purchase.objects.count(), LedgerEntry.objects.count(), Voucher.objects.count()) == counts
    assert ledger_verify() == []
