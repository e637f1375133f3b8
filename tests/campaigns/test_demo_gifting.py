from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from campaigns.demo_gifting import GIFT_NAME, SAMPLE_NAME, SPECIAL_DAY_NAME
from campaigns.effect import campaign_effect
from campaigns.models import Campaign, CampaignRecipient
from customers.models import Message
from loyalty.models import Purchase
from loyalty.verification import ledger_verify


@pytest.mark.django_db
def test_the_demo_has_a_finished_gift_campaign_whose_effect_shows_and_a_rerun_adds_nothing(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    out = StringIO()
    call_command("load_demo", "--customers", "40", stdout=out)
    gift = Campaign.objects.get(name=GIFT_NAME)
    assert gift.status == "completed"
    assert (gift.audience_size, gift.holdout_size) == (40, 8)
    effect = campaign_effect(gift)
    thirty = effect.windows[0]
    assert thirty.is_complete
    assert (thirty.treated.size, thirty.holdout.size) == (32, 8)
    assert thirty.rate_uplift is not None
    assert thirty.rate_uplift.low < thirty.rate_uplift.estimate < thirty.rate_uplift.high
    sample = Campaign.objects.get(name=SAMPLE_NAME)
    assert CampaignRecipient.objects.filter(campaign=sample, shipment="delivered").count() == sample.allocated_count
    assert campaign_effect(sample).windows[1].treated.sample_conversion is not None
    assert Campaign.objects.get(name=SPECIAL_DAY_NAME).status == "scheduled"
    # The gifts' messages belong to the launch 100 days ago: recorded then, none waiting to be mailed.
    gift_messages = Message.objects.filter(idempotency_key__startswith=f"campaign:{gift.pk}:")
    assert gift_messages.exists()
    assert not gift_messages.filter(status="pending").exists()
    assert set(gift_messages.values_list("created_at__date", flat=True)) == {gift.launched_at.date()}
    assert "Gift campaigns:" in out.getvalue()
    counts = (Campaign.objects.count(), CampaignRecipient.objects.count(), Purchase.objects.count())

    call_command("load_demo", "--customers", "40", stdout=StringIO())

    assert (Campaign.objects.count(), CampaignRecipient.objects.count(), Purchase.objects.count()) == counts
    assert ledger_verify() == []
