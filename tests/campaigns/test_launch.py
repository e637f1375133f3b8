"""Launching a gift campaign: validation, preview, the audience snapshot with a seeded holdout, and
gifts given in batches that never pass the stock, the budget or a customer's gift limits."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from django.db import connections
from django.utils import timezone

from campaigns import launch, tasks
from campaigns.models import Campaign, CampaignRecipient, GiftKind, GiftPolicy
from core.errors import DomainError
from customers.models import Customer, Message, Segment
from customers.services import customer_consent_set
from loyalty.models import EarningRule, LedgerEntry, PointsAccount, Voucher
from loyalty.program import program_cache_clear
from tests.customers.factories import CustomerFactory, PartnerFactory
from tests.loyalty.factories import RewardFactory, base_rate, purchase_make


@pytest.fixture(autouse=True)
def _program_cache_cleared() -> Iterator[None]:
    program_cache_clear()
    yield
    program_cache_clear()


def customers_make(count: int) -> list[Customer]:
    return CustomerFactory.create_batch(count)


def campaign_make(**fields: object) -> Campaign:
    defaults: dict[str, object] = {
        "name": "Autumn thank-you",
        "gift_kind": GiftKind.POINTS,
        "gift_points": 50,
        "holdout_percent": Decimal("20"),
    }
    defaults.update(fields)
    return Campaign.objects.create(**defaults)


def launch_and_give(campaign: Campaign) -> None:
    for batch in launch.campaign_launch(campaign_id=campaign.pk):
        launch.campaign_batch_give(campaign_id=campaign.pk, recipient_ids=batch)


@pytest.mark.django_db
def test_a_launch_snapshots_the_audience_with_an_exact_holdout_and_gives_the_treated_their_points():
    customers_make(50)
    campaign = campaign_make()
    launch_and_give(campaign)
    campaign.refresh_from_db()
    assert (campaign.status, campaign.audience_size, campaign.holdout_size) == ("completed", 50, 10)
    recipients = CampaignRecipient.objects.filter(campaign=campaign)
    assert recipients.filter(group="holdout", status="held_out").count() == 10
    assert recipients.filter(group="treated", status="given", points=50).count() == 40
    assert LedgerEntry.objects.filter(kind="gift", amount=50).count() == 40
    holdout_ids = set(recipients.filter(group="holdout").values_list("customer_id", flat=True))
    assert not LedgerEntry.objects.filter(account__customer_id__in=holdout_ids).exists()
    assert Message.objects.filter(purpose="campaign_gift").count() == 40
    assert campaign.allocated_count == 40


@pytest.mark.django_db
def test_the_holdout_is_drawn_from_the_stored_seed_so_a_relaunch_draws_the_same_set():
    customers_make(40)
    first = campaign_make(holdout_percent=Decimal("25"))
    second = campaign_make(holdout_percent=Decimal("25"))
    Campaign.objects.filter(pk=second.pk).update(holdout_seed=first.holdout_seed)
    launch.campaign_launch(campaign_id=first.pk)
    launch.campaign_launch(campaign_id=second.pk)

    def held(campaign: Campaign) -> set[int]:
        return set(
            CampaignRecipient.objects.filter(campaign=campaign, group="holdout").values_list("customer_id", flat=True)
        )

    assert held(first) == held(second)
    assert len(held(first)) == 10
    third = campaign_make(holdout_percent=Decimal("25"))
    launch.campaign_launch(campaign_id=third.pk)
    assert held(third) != held(first)  # another seed, another draw (1 in C(40,10) to collide)


@pytest.mark.django_db
def test_a_segment_audience_is_refreshed_and_snapshotted_at_launch():
    inside = customers_make(6)
    customers_make(4)
    segment = Segment.objects.create(name="Picked", kind=Segment.Kind.STATIC)
    from customers.segments import segment_members_add

    segment_members_add(segment=segment, emails=[c.email for c in inside])
    campaign = campaign_make(segment=segment, holdout_percent=Decimal("0"))
    launch_and_give(campaign)
    got = set(CampaignRecipient.objects.filter(campaign=campaign).values_list("customer_id", flat=True))
    assert got == {c.pk for c in inside}
    # joining the segment later changes nothing: the audience was snapshotted
    late = CustomerFactory()
    segment_members_add(segment=segment, emails=[late.email])
    assert not CampaignRecipient.objects.filter(campaign=campaign, customer=late).exists()


@pytest.mark.django_db
def test_preview_shows_sizes_and_the_projected_cost_limited_by_stock_or_budget():
    customers_make(30)
    campaign = campaign_make(cost_per_gift=Decimal("2.50"), holdout_percent=Decimal("10"))
    preview = launch.campaign_preview(campaign)
    assert (preview.audience, preview.holdout, preview.treated, preview.gifts) == (30, 3, 27, 27)
    assert preview.projected_cost == Decimal("67.50")
    assert preview.limited_by == ""
    campaign.stock = 5
    assert (launch.campaign_preview(campaign).gifts, launch.campaign_preview(campaign).limited_by) == (5, "stock")
    campaign.stock, campaign.budget = None, Decimal("20.00")
    preview = launch.campaign_preview(campaign)
    assert (preview.gifts, preview.projected_cost, preview.limited_by) == (8, Decimal("20.00"), "budget")


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"budget": Decimal("1.00"), "cost_per_gift": Decimal("2.00")}, "budget"),
        ({"holdout_percent": Decimal("60")}, "holdout_percent"),
        ({"holdout_percent": Decimal("-1")}, "holdout_percent"),
        ({"gift_points": 0}, "gift_points"),
        ({"gift_kind": GiftKind.VOUCHER}, "gift_reward"),
        ({"gift_kind": GiftKind.SAMPLE, "gift_description": "Tea sampler"}, "introduces_skus"),
    ],
)
@pytest.mark.django_db
def test_a_campaign_that_cannot_work_is_refused_with_the_reason_and_nothing_launched(fields, field):
    customers_make(3)
    campaign = campaign_make(**fields) if field != "holdout_percent" else campaign_make()
    if field == "holdout_percent":
        campaign.holdout_percent = fields["holdout_percent"]
    assert field in launch.campaign_problems(campaign)
    if field == "holdout_percent":
        return  # the database refuses to store it at all (next test)
    with pytest.raises(launch.CampaignInvalid) as raised:
        launch.campaign_launch(campaign_id=campaign.pk)
    assert raised.value.code == "campaign_invalid"
    assert field in raised.value.details["fields"]
    campaign.refresh_from_db()
    assert campaign.status == "draft"
    assert not CampaignRecipient.objects.exists()


@pytest.mark.django_db
def test_an_end_before_the_start_and_a_holdout_over_50_are_refused_by_the_database_too():
    from django.db import IntegrityError, transaction

    now = timezone.now()
    with pytest.raises(IntegrityError), transaction.atomic():
        campaign_make(starts_at=now, ends_at=now - datetime.timedelta(days=1))
    with pytest.raises(IntegrityError), transaction.atomic():
        campaign_make(holdout_percent=Decimal("51"))
    campaign = Campaign(name="x", starts_at=now, ends_at=now - datetime.timedelta(hours=1))
    assert "ends_at" in launch.campaign_problems(campaign)


@pytest.mark.django_db
def test_a_running_campaign_is_not_launched_again():
    customers_make(3)
    campaign = campaign_make()
    launch_and_give(campaign)
    with pytest.raises(launch.CampaignNotLaunchable):
        launch.campaign_launch(campaign_id=campaign.pk)
    assert CampaignRecipient.objects.count() == 3


@pytest.mark.django_db
def test_a_batch_run_twice_gives_nothing_twice():
    customers_make(10)
    campaign = campaign_make(holdout_percent=Decimal("0"))
    (batch,) = launch.campaign_launch(campaign_id=campaign.pk)
    first = launch.campaign_batch_give(campaign_id=campaign.pk, recipient_ids=batch)
    second = launch.campaign_batch_give(campaign_id=campaign.pk, recipient_ids=batch)
    assert (first.given, second.given) == (10, 0)
    assert LedgerEntry.objects.filter(kind="gift").count() == 10
    assert Message.objects.count() == 10


@pytest.mark.django_db
def test_stock_and_budget_stop_allocation_and_mark_who_got_nothing():
    customers_make(10)
    stocked = campaign_make(holdout_percent=Decimal("0"), stock=4)
    launch_and_give(stocked)
    statuses = launch.count_by_status(stocked)
    assert statuses == {"given": 4, "out_of_stock": 6}
    budgeted = campaign_make(
        holdout_percent=Decimal("0"), cost_per_gift=Decimal("3"), budget=Decimal("10"), is_surprise=False
    )
    launch_and_give(budgeted)
    budgeted.refresh_from_db()
    assert launch.count_by_status(budgeted) == {"given": 3, "over_budget": 7}
    assert budgeted.spent == Decimal("9.00")


@pytest.mark.django_db
def test_the_per_customer_cap_keeps_surprise_gifts_special_across_campaigns():
    GiftPolicy.objects.update_or_create(pk=1, defaults={"max_gifts": 2, "max_value": Decimal("100")})
    customers_make(3)
    for _ in range(3):
        launch_and_give(campaign_make(holdout_percent=Decimal("0"), cost_per_gift=Decimal("5")))
    third = Campaign.objects.order_by("pk").last()
    assert launch.count_by_status(third) == {"over_cap": 3}
    GiftPolicy.objects.filter(pk=1).update(max_gifts=10, max_value=Decimal("12"))
    fourth = campaign_make(holdout_percent=Decimal("0"), cost_per_gift=Decimal("5"))
    launch_and_give(fourth)
    assert launch.count_by_status(fourth) == {"over_cap": 3}  # 5 + 5 + 5 > 12
    routine = campaign_make(holdout_percent=Decimal("0"), cost_per_gift=Decimal("5"), is_surprise=False)
    launch_and_give(routine)
    assert launch.count_by_status(routine) == {"given": 3}


@pytest.mark.django_db
def test_a_voucher_gift_is_issued_once_and_a_sample_is_allocated_for_shipping():
    customers_make(4)
    reward = RewardFactory(kind="free_shipping")
    vouchers = campaign_make(holdout_percent=Decimal("0"), gift_kind=GiftKind.VOUCHER, gift_reward=reward)
    launch_and_give(vouchers)
    assert Voucher.objects.filter(reward=reward, source="gift").count() == 4
    sample = campaign_make(
        kind=Campaign.Kind.SAMPLE,
        holdout_percent=Decimal("0"),
        gift_kind=GiftKind.SAMPLE,
        gift_description="Rooibos sampler",
        introduces_skus=["TEA-ROOIBOS-250"],
        cost_per_gift=Decimal("1.20"),
    )
    launch_and_give(sample)
    assert CampaignRecipient.objects.filter(campaign=sample, shipment="allocated").count() == 4
    assert Message.objects.filter(purpose="sample").count() == 4


@pytest.mark.django_db
def test_the_gift_goes_to_every_treated_member_and_the_message_only_within_consent():
    consenting, silent = customers_make(2)
    customer_consent_set(customer=consenting, channel="email", granted=True, source="portal")
    campaign = campaign_make(holdout_percent=Decimal("0"))
    launch_and_give(campaign)
    assert PointsAccount.objects.get(customer=silent).balance == 50
    sent = Message.objects.get(customer=consenting)
    assert sent.status == "pending"
    assert Message.objects.get(customer=silent).suppressed_reason == "no_consent"
    assert "Autumn thank-you" in sent.body


@pytest.mark.django_db
def test_a_special_day_multiplies_points_for_the_treated_in_its_window_only():
    base_rate("1")
    partner = PartnerFactory()
    customers_make(20)
    now = timezone.now()
    campaign = campaign_make(
        kind=Campaign.Kind.SPECIAL_DAY,
        gift_kind=GiftKind.NONE,
        gift_points=0,
        points_multiplier=Decimal("3"),
        starts_at=now - datetime.timedelta(days=2),
        ends_at=now - datetime.timedelta(hours=1),
        holdout_percent=Decimal("25"),
    )
    launch_and_give(campaign)
    campaign.refresh_from_db()
    assert campaign.status == "running"
    rule = EarningRule.objects.get(pk=campaign.earning_rule_id)
    assert (rule.kind, rule.multiplier, rule.segment.member_count) == ("special_days", Decimal("3.00"), 15)
    treated = CampaignRecipient.objects.filter(campaign=campaign, group="treated").first().customer
    held = CampaignRecipient.objects.filter(campaign=campaign, group="holdout").first().customer
    inside = now - datetime.timedelta(days=1)
    assert purchase_make(customer=treated, partner=partner, amount="10", occurred_at=inside).points_earned == 30
    assert purchase_make(customer=held, partner=partner, amount="10", occurred_at=inside).points_earned == 10
    assert purchase_make(customer=treated, partner=partner, amount="10", occurred_at=now).points_earned == 10
    assert Message.objects.filter(purpose="special_day").count() == 15
    assert launch.campaigns_finish_due(now=now) == 1


@pytest.mark.django_db
def test_the_sweep_launches_due_campaigns_and_resumes_lost_batches(celery_eager):
    customers_make(5)
    now = timezone.now()
    due = campaign_make(status="scheduled", starts_at=now - datetime.timedelta(minutes=1), holdout_percent=Decimal("0"))
    tasks.campaigns_sweep_task.apply()
    due.refresh_from_db()
    assert (due.status, due.allocated_count) == ("completed", 5)
    stalled = campaign_make(holdout_percent=Decimal("0"))
    launch.campaign_launch(campaign_id=stalled.pk, now=now - datetime.timedelta(hours=1))  # its batches were lost
    busy = campaign_make(holdout_percent=Decimal("0"))
    launch.campaign_launch(campaign_id=busy.pk, now=now - datetime.timedelta(hours=1))
    Campaign.objects.filter(pk=stalled.pk).update(updated_at=now - datetime.timedelta(hours=1))  # no progress since
    assert launch.count_by_status(stalled) == {"pending": 5}
    tasks.campaigns_sweep_task.apply()
    assert launch.count_by_status(stalled) == {"given": 5}
    assert launch.count_by_status(busy) == {"pending": 5}  # a batch ran a moment ago: left to its workers


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_stock_of_100_for_1000_customers_on_several_workers_gives_exactly_100():
    Customer.objects.bulk_create([Customer(email=f"many{n}@example.fi", first_name="M") for n in range(1000)])
    campaign = campaign_make(holdout_percent=Decimal("0"), stock=100, gift_points=5)
    batches = launch.campaign_launch(campaign_id=campaign.pk)
    assert len(batches) == 5

    def give(batch: list[int]) -> int:
        try:
            return launch.campaign_batch_give(campaign_id=campaign.pk, recipient_ids=batch).given
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=5) as pool:
        given = sum(pool.map(give, batches))
    campaign.refresh_from_db()
    assert given == 100
    assert campaign.allocated_count == 100
    assert CampaignRecipient.objects.filter(campaign=campaign, status="given").count() == 100
    assert LedgerEntry.objects.filter(kind="gift").count() == 100
    assert campaign.status == "completed"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_per_customer_cap_holds_when_two_campaigns_launch_at_once():
    GiftPolicy.objects.update_or_create(pk=1, defaults={"max_gifts": 1, "max_value": Decimal("100")})
    Customer.objects.bulk_create([Customer(email=f"cap{n}@example.fi", first_name="C") for n in range(300)])
    first = campaign_make(holdout_percent=Decimal("0"), cost_per_gift=Decimal("1"))
    second = campaign_make(holdout_percent=Decimal("0"), cost_per_gift=Decimal("1"))
    jobs = [(first.pk, batch) for batch in launch.campaign_launch(campaign_id=first.pk)]
    jobs += [(second.pk, batch) for batch in launch.campaign_launch(campaign_id=second.pk)]

    def give(job: tuple[int, list[int]]) -> int:
        try:
            return launch.campaign_batch_give(campaign_id=job[0], recipient_ids=job[1]).given
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=4) as pool:
        given = sum(pool.map(give, jobs))
    assert given == 300
    per_customer = CampaignRecipient.objects.filter(status="given").values("customer").distinct().count()
    assert per_customer == 300
    assert CampaignRecipient.objects.filter(status="over_cap").count() == 300


@pytest.mark.django_db
def test_a_test_send_goes_only_to_the_staff_address_and_writes_nothing(mailoutbox):
    customers_make(2)
    campaign = campaign_make(details="Double points all weekend.")
    subject = launch.campaign_test_send(campaign=campaign, to="staff@vastavuoro.local")
    assert subject.startswith("[TEST]")
    assert [m.to for m in mailoutbox] == [["staff@vastavuoro.local"]]
    assert "Double points all weekend." in mailoutbox[0].body
    assert not Message.objects.exists()
    assert not CampaignRecipient.objects.exists()


@pytest.mark.django_db
def test_cancel_only_before_launch():
    campaign = campaign_make()
    launch.campaign_cancel(campaign=campaign)
    campaign.refresh_from_db()
    assert campaign.status == "cancelled"
    with pytest.raises(DomainError):
        launch.campaign_launch(campaign_id=campaign.pk)


@pytest.mark.django_db
def test_launching_a_contest_opens_it_for_entries_without_a_snapshot():
    from campaigns.contests import contest_enter

    customer = CustomerFactory()
    now = timezone.now()
    contest = campaign_make(
        kind=Campaign.Kind.CONTEST,
        gift_points=0,
        prize_description="A weekend in Levi",
        ends_at=now + datetime.timedelta(days=7),
    )
    assert launch.campaign_launch(campaign_id=contest.pk) == []
    contest.refresh_from_db()
    assert (contest.status, contest.audience_size) == ("running", 0)
    entry = contest_enter(campaign=contest, customer=customer, source="free", source_key="free", tickets=1)
    assert (entry.entry.tickets, entry.created) == (1, True)
    no_prize = campaign_make(kind=Campaign.Kind.CONTEST, gift_points=0)
    assert set(launch.campaign_problems(no_prize)) == {"ends_at", "prize_description"}


@pytest.mark.django_db
def test_a_choice_campaign_with_an_option_missing_its_gift_is_refused_at_launch():
    from campaigns.models import GiftOption

    customers_make(2)
    campaign = campaign_make(gift_kind=GiftKind.CHOICE, choice_deadline=timezone.now() + datetime.timedelta(days=7))
    GiftOption.objects.create(campaign=campaign, kind="bonus_points", label="Bonus points", points=0)
    GiftOption.objects.create(campaign=campaign, kind="free_shipping", label="Free shipping")
    with pytest.raises(launch.CampaignInvalid) as raised:
        launch.campaign_launch(campaign_id=campaign.pk)
    assert raised.value.details["fields"]["gift_kind"] == [
        "The option Bonus points has no points set.",
        "The option Free shipping has no reward set.",
    ]
    assert not CampaignRecipient.objects.exists()
