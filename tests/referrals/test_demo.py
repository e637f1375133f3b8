"""The demo (``make run`` loads 300 members: the seven referrals of ``referrals.demo.FRIENDS``;
120 here, quicker, give the first three: a rewarded one and the one held for review first)."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from customers.models import Customer, Message
from loyalty.models import LedgerEntry, Purchase
from loyalty.verification import ledger_verify
from referrals.demo import FRIENDS
from referrals.models import Referral, ReferralLinkOpen


def _counts() -> tuple[int, ...]:
    return (
        Referral.objects.count(),
        Purchase.objects.filter(external_id__startswith="demo-referral-").count(),
        LedgerEntry.objects.filter(kind=LedgerEntry.Kind.REFERRAL).count(),
        Message.objects.filter(purpose__startswith="referral_").count(),
        sum(ReferralLinkOpen.objects.values_list("opens", flat=True)),
    )


@pytest.mark.django_db
def test_the_demo_has_rewarded_friends_and_one_in_review_and_is_idempotent(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    out = StringIO()
    call_command("load_demo", "--customers", "120", stdout=out)
    counts = _counts()

    call_command("load_demo", "--customers", "120", stdout=StringIO())

    assert _counts() == counts
    assert Customer.objects.count() == 120  # the friends are demo members: none is added
    # As many referrals as there are members without a purchase to play friends (at least three
    # here), each with the status its place in the plan gives it.
    made = Referral.objects.order_by("pk")
    planned = ["rewarded", "review", "rewarded", "pending", "rewarded", "rewarded", "pending"]
    assert 3 <= made.count() <= len(FRIENDS)
    assert list(made.values_list("status", flat=True)) == planned[: made.count()]
    held = Referral.objects.get(status="review")
    assert (held.flags, held.friend.phone) == (["same_phone"], held.referrer.phone)
    assert made.first().referrer.email == "aino.virtanen@example.fi"  # the portal demo login
    rewarded = made.filter(status="rewarded").count()
    assert Message.objects.filter(purpose="referral_thanks").count() == rewarded
    assert sum(ReferralLinkOpen.objects.values_list("opens", flat=True)) == 28 + (28 + 5)  # two members, five days
    assert f"Referrals: {rewarded} rewarded" in out.getvalue()
    assert "1 awaiting review" in out.getvalue()
    assert ledger_verify() == []
