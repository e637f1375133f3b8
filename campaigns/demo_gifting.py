"""Demo: a finished gift campaign with a holdout whose purchases show a real effect, a sample
campaign that introduced a full-size product, and a special customer day on the calendar.

Built through the real launch and batch services (back-dated), with the customers' return visits
recorded as purchases: the treated come back more often than the holdout, so the admin's report
shows a positive uplift with its interval. Idempotent: a campaign already there is left alone.
"""

from __future__ import annotations

import datetime
import random
from decimal import Decimal

from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from campaigns import launch
from campaigns.models import Campaign, CampaignRecipient, GiftKind
from core.errors import DomainError
from core.events import events_muted
from customers.models import Message, Partner
from customers.outbox import message_record_past
from loyalty import services as loyalty_services
from loyalty.earning import Line
from loyalty.models import Purchase

GIFT_NAME = "Autumn thank-you: 200 points"
SAMPLE_NAME = "Rooibos sample with beans orders"
SPECIAL_DAY_NAME = "Double points weekend"


def demo_gifting_load() -> str:
    partner = Partner.objects.order_by("pk").first()
    if partner is None:
        return "Gift campaigns demo: no partner, skipped."
    with events_muted():
        gift = _finished_gift_campaign(partner)
        sample = _sample_campaign(partner)
        _special_day()
    return (
        f"Gift campaigns: '{gift.name}' (audience {gift.audience_size}, holdout {gift.holdout_size}) shows its "
        f"reciprocation effect in the admin; '{sample.name}' shows the sample-to-full-size conversion."
    )


def _launch_back_dated(campaign: Campaign, at: datetime.datetime) -> Campaign:
    with transaction.atomic():
        batches = launch.campaign_launch(campaign_id=campaign.pk, now=at)
        for batch in batches:
            launch.campaign_batch_give(campaign_id=campaign.pk, recipient_ids=batch, now=at)
        # The gift messages went out back then: recorded as sent at the launch, never mailed today.
        queued = Message.objects.filter(idempotency_key__startswith=f"campaign:{campaign.pk}:")
        for message in queued.order_by("pk"):
            message_record_past(message=message, at=at)
    campaign.refresh_from_db()
    return campaign


def _return_visits(
    campaign: Campaign, partner: Partner, *, treated_rate: float, holdout_rate: float, sku: str, price: Decimal
) -> None:
    """Purchases after the launch: a share of each group comes back within 60 days."""
    rng = random.Random(campaign.name)  # noqa: S311 - repeatable demo data, whatever the ids
    assert campaign.launched_at is not None
    # Only customers who had bought before come back: members without a purchase stay so (the
    # referrals demo casts them as the friends who have yet to make a first purchase).
    earlier = Purchase.objects.filter(customer=OuterRef("customer_id"), occurred_at__lt=campaign.launched_at)
    rows = (
        CampaignRecipient.objects.filter(campaign=campaign)
        .exclude(status__in=[CampaignRecipient.Status.OUT_OF_STOCK, CampaignRecipient.Status.OVER_CAP])
        .filter(Exists(earlier))
    )
    now = timezone.now()
    for recipient in rows.select_related("customer").order_by("pk"):
        rate = treated_rate if recipient.group == CampaignRecipient.Group.TREATED else holdout_rate
        if rng.random() >= rate:
            continue
        occurred_at = campaign.launched_at + datetime.timedelta(days=rng.randint(1, 60), hours=rng.randint(0, 9))
        if occurred_at >= now:
            continue
        quantity = rng.randint(1, 3)
        try:
            loyalty_services.purchase_record(
                partner=partner,
                external_id=f"demo-campaign-{campaign.pk}-{recipient.customer_id}",
                customer=recipient.customer,
                amount=price * quantity,
                currency="EUR",
                occurred_at=occurred_at,
                lines=[Line(sku=sku, category="", quantity=quantity, unit_price=price)],
                store=rng.choice(["Kamppi", "Kallio", "Web"]),
                channel=Purchase.Channel.STORE,
            )
        except DomainError:
            continue


def _finished_gift_campaign(partner: Partner) -> Campaign:
    existing = Campaign.objects.filter(name=GIFT_NAME).first()
    if existing is not None:
        return existing
    campaign = Campaign.objects.create(
        name=GIFT_NAME,
        kind=Campaign.Kind.GIFT,
        details="A small thank-you for being with us this autumn.",
        holdout_percent=Decimal("20"),
        gift_kind=GiftKind.POINTS,
        gift_points=200,
        budget=Decimal("500.00"),
        holdout_seed="demo-autumn-gift",
    )
    campaign = _launch_back_dated(campaign, timezone.now() - datetime.timedelta(days=100))
    _return_visits(campaign, partner, treated_rate=0.45, holdout_rate=0.25, sku="LAT-1", price=Decimal("4.50"))
    return campaign


def _sample_campaign(partner: Partner) -> Campaign:
    existing = Campaign.objects.filter(name=SAMPLE_NAME).first()
    if existing is not None:
        return existing
    campaign = Campaign.objects.create(
        name=SAMPLE_NAME,
        kind=Campaign.Kind.SAMPLE,
        details="Try our new rooibos; the full 250 g pack is in every store.",
        holdout_percent=Decimal("25"),
        gift_kind=GiftKind.SAMPLE,
        gift_description="Rooibos tea sampler (3 bags)",
        introduces_skus=["ROOIBOS-250"],
        cost_per_gift=Decimal("0.90"),
        stock=120,
        is_surprise=False,
        holdout_seed="demo-rooibos-sample",
    )
    campaign = _launch_back_dated(campaign, timezone.now() - datetime.timedelta(days=70))
    CampaignRecipient.objects.filter(campaign=campaign, shipment=CampaignRecipient.Shipment.ALLOCATED).update(
        shipment=CampaignRecipient.Shipment.DELIVERED
    )
    _return_visits(campaign, partner, treated_rate=0.30, holdout_rate=0.05, sku="ROOIBOS-250", price=Decimal("7.90"))
    return campaign


def _special_day() -> None:
    if Campaign.objects.filter(name=SPECIAL_DAY_NAME).exists():
        return
    today = timezone.localdate()
    saturday = today + datetime.timedelta(days=(5 - today.weekday()) % 7 or 7)
    starts = timezone.make_aware(datetime.datetime.combine(saturday, datetime.time(8)))
    Campaign.objects.create(
        name=SPECIAL_DAY_NAME,
        kind=Campaign.Kind.SPECIAL_DAY,
        status=Campaign.Status.SCHEDULED,
        details="Every purchase earns double points all weekend.",
        gift_kind=GiftKind.NONE,
        holdout_percent=Decimal("10"),
        points_multiplier=Decimal("2"),
        starts_at=starts,
        ends_at=starts + datetime.timedelta(days=2),
        is_surprise=False,
    )
