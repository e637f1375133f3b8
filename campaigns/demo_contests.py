"""Demo: a finished contest with entries from purchases, the portal and the free route, drawn and
recorded (the first winner accepted); an open contest to enter; and a "choose your gift" campaign
with some choices made. Everything goes through the real services; idempotent."""

from __future__ import annotations

import contextlib
import datetime
from decimal import Decimal

from django.conf import settings
from django.utils import timezone

from campaigns import choices, contests
from campaigns.models import Campaign, CampaignRecipient, ContestDraw, ContestWinner, GiftKind, GiftOption
from core.errors import DomainError
from customers.models import Customer, User
from loyalty.models import Purchase, Reward

FINISHED_CONTEST = "Autumn sweepstake: a weekend for two in Levi"
OPEN_CONTEST = "Winter coffee sweepstake"
CHOICE_CAMPAIGN = "Thank you for a great year: pick your gift"
DEMO_AUDIENCE = 40


def demo_contest_load() -> str:
    customers = list(Customer.objects.filter(status=Customer.Status.ACTIVE).order_by("pk")[:DEMO_AUDIENCE])
    if not customers:
        return "Contests: no customers, skipped."
    staff = User.objects.filter(username=settings.DEMO_STAFF_EMAIL).first()
    draw = _finished_contest_load(customers, staff)
    _open_contest_load(customers)
    chosen, awaiting = _choice_campaign_load(customers)
    drawn = (
        f"drawn from {draw.entrant_count} entrants ({draw.ticket_count} entries), "
        f"{len(draw.winner_ids)} winners, seed and entrant list hash recorded"
        if draw is not None
        else "not drawn"
    )
    return (
        f"Contests: '{FINISHED_CONTEST}' {drawn}; '{OPEN_CONTEST}' open for entries. "
        f"Gift choice: {chosen} chosen, {awaiting} waiting for a choice."
    )


def _contest_entries_load(campaign: Campaign, customers: list[Customer], *, portal: slice, free: slice) -> None:
    """Entries from the purchases in the window, then a few from the portal and the free route."""
    purchases = Purchase.objects.filter(customer__in=customers).order_by("pk")
    if campaign.starts_at is not None:
        purchases = purchases.filter(occurred_at__gte=campaign.starts_at)
    for purchase_id in purchases.values_list("pk", flat=True):
        contests.contest_entries_for_purchase(purchase_id=purchase_id)
    for customer in customers[portal]:
        try:
            contests.contest_enter_portal(campaign=campaign, customer=customer)
        except DomainError:
            continue
    for customer in customers[free]:
        try:
            contests.contest_enter_free(campaign=campaign, customer=customer)
        except DomainError:
            continue


def _finished_contest_load(customers: list[Customer], staff: User | None) -> ContestDraw | None:
    now = timezone.now()
    campaign, _created = Campaign.objects.get_or_create(
        name=FINISHED_CONTEST,
        kind=Campaign.Kind.CONTEST,
        defaults={
            "status": Campaign.Status.RUNNING,
            "details": "One entry for every 10 euros spent, one more from the portal, or a free entry.",
            "starts_at": now - datetime.timedelta(days=30),
            "holdout_percent": Decimal(0),
            "gift_kind": GiftKind.NONE,
            "entry_spend_unit": Decimal("10.00"),
            "prize_description": "A weekend for two in Levi",
            "winners_count": 3,
            "prize_points": 500,
            "accept_days": 14,
        },
    )
    draw = ContestDraw.objects.filter(campaign=campaign).first()
    if draw is None and campaign.status == Campaign.Status.RUNNING:
        _contest_entries_load(campaign, customers, portal=slice(0, 10), free=slice(6, 14))
        # The contest closes now (as staff would end it early) and is drawn by the demo staff user.
        Campaign.objects.filter(pk=campaign.pk, ends_at__isnull=True).update(ends_at=timezone.now())
        campaign.refresh_from_db()
        draw = contests.contest_draw(campaign=campaign, by=staff)
    if draw is None:
        return None
    first = ContestWinner.objects.filter(draw=draw, rank=1).first()
    if first is not None and first.status in (ContestWinner.Status.NOTIFIED, ContestWinner.Status.ACCEPTED):
        with contextlib.suppress(DomainError):  # a demo database older than the acceptance period
            contests.contest_winner_respond(winner=first, accept=True)
    return draw


def _open_contest_load(customers: list[Customer]) -> None:
    now = timezone.now()
    campaign, _created = Campaign.objects.get_or_create(
        name=OPEN_CONTEST,
        kind=Campaign.Kind.CONTEST,
        defaults={
            "status": Campaign.Status.RUNNING,
            "details": "Win a year of coffee: one entry for every 20 euros spent, or enter in the portal.",
            "starts_at": now - datetime.timedelta(days=7),
            "ends_at": now + datetime.timedelta(days=23),
            "holdout_percent": Decimal(0),
            "gift_kind": GiftKind.NONE,
            "entry_spend_unit": Decimal("20.00"),
            "prize_description": "A year of coffee (a cup a day)",
            "winners_count": 1,
            "accept_days": 14,
        },
    )
    if contests.contest_is_open(campaign, now):
        # The demo customer (the first) is left to enter from the portal.
        _contest_entries_load(campaign, customers, portal=slice(3, 9), free=slice(9, 12))


def _choice_campaign_load(customers: list[Customer]) -> tuple[int, int]:
    now = timezone.now()
    cost = Decimal("5.00")
    campaign, created = Campaign.objects.get_or_create(
        name=CHOICE_CAMPAIGN,
        kind=Campaign.Kind.GIFT,
        gift_kind=GiftKind.CHOICE,
        defaults={
            "status": Campaign.Status.RUNNING,
            "details": "Thank you for a great year with us. Pick the gift you like best.",
            "gift_description": "A thank-you gift of your choice",
            "holdout_percent": Decimal(0),
            "cost_per_gift": cost,
            "launched_at": now,
            "choice_deadline": now + datetime.timedelta(days=14),
            "is_surprise": False,
        },
    )
    rewards = {reward.kind: reward for reward in Reward.objects.filter(name__in=_REWARD_NAMES.values())}
    for kind, label, points, reward_kind in _OPTIONS:
        reward = rewards.get(reward_kind) if reward_kind else None
        if reward_kind and reward is None:
            continue  # the loyalty demo's catalogue is missing
        GiftOption.objects.get_or_create(
            campaign=campaign, kind=kind, defaults={"label": label, "points": points, "reward": reward}
        )
    audience = customers[:12]
    if created:
        CampaignRecipient.objects.bulk_create(
            [
                CampaignRecipient(
                    campaign=campaign,
                    customer=customer,
                    group=CampaignRecipient.Group.TREATED,
                    status=CampaignRecipient.Status.AWAITING_CHOICE,
                    cost=cost,
                )
                for customer in audience
            ],
            ignore_conflicts=True,
        )
        Campaign.objects.filter(pk=campaign.pk).update(
            audience_size=len(audience), allocated_count=len(audience), spent=cost * len(audience)
        )
    options = list(GiftOption.objects.filter(campaign=campaign).order_by("pk"))
    recipients = {recipient.customer_id: recipient for recipient in CampaignRecipient.objects.filter(campaign=campaign)}
    # The first customers (the demo login among them) still have their choice to make.
    for index, customer in enumerate(audience[4:10]):
        recipient = recipients.get(customer.pk)
        if recipient is None or not options:
            continue
        try:
            choices.gift_choose(recipient=recipient, option=options[index % len(options)], by_customer=True)
        except DomainError:
            continue
    statuses = CampaignRecipient.objects.filter(campaign=campaign)
    return (
        statuses.filter(status=CampaignRecipient.Status.GIVEN).count(),
        statuses.filter(status=CampaignRecipient.Status.AWAITING_CHOICE).count(),
    )


_REWARD_NAMES = {
    Reward.Kind.FIXED_DISCOUNT: "5 euro off your next purchase",
    Reward.Kind.FREE_SHIPPING: "Free shipping on a web order",
}
# kind, label, points, the catalogue reward's kind (for a voucher)
_OPTIONS = [
    (GiftOption.Kind.DISCOUNT, "5 euro off your next purchase", 0, Reward.Kind.FIXED_DISCOUNT),
    (GiftOption.Kind.FREE_SHIPPING, "Free shipping on your next web order", 0, Reward.Kind.FREE_SHIPPING),
    (GiftOption.Kind.BONUS_POINTS, "250 bonus points", 250, ""),
    (GiftOption.Kind.CASHBACK, "5 euro cashback, paid as 250 points", 250, ""),
]
