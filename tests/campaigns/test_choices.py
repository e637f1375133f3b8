"""Let the customer choose: one occasion, several gift kinds of equal cost; the customer picks before
the deadline (and the pick becomes their stated preference), else their preference is given by
default; every choice is granted once, whatever the double clicks, retries and races."""

from __future__ import annotations

import datetime
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from unittest import mock

import pytest
from django.db import connections
from django.utils import timezone

from campaigns import choices, tasks
from campaigns.models import Campaign, CampaignRecipient, GiftKind, GiftOption
from customers.models import Customer
from customers.services import customer_register
from loyalty.models import LedgerEntry, PointsAccount, Reward, Voucher
from loyalty.program import program_cache_clear
from tests.loyalty.conftest import Clock
from tests.loyalty.factories import RewardFactory

START = datetime.datetime(2026, 11, 2, 9, 0, tzinfo=datetime.UTC)
DEADLINE = START + datetime.timedelta(days=14)


@pytest.fixture(autouse=True)
def _program_cache_cleared() -> Iterator[None]:
    program_cache_clear()
    yield
    program_cache_clear()


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    frozen = Clock(START)
    monkeypatch.setattr(timezone, "now", frozen)
    return frozen


def member(email: str = "aino@example.fi", **profile: object) -> Customer:
    defaults = {"first_name": "Aino", "language": "en"}
    return customer_register(email=email, **{**defaults, **profile}).customer  # type: ignore[arg-type]


def choice_campaign_make(
    *, name: str = "Thank you for a great year", deadline: datetime.datetime = DEADLINE, kinds: tuple[str, ...] = ()
) -> Campaign:
    """A launched choice campaign with four options of equal cost (discount first)."""
    campaign = Campaign.objects.create(
        name=name,
        gift_kind=GiftKind.CHOICE,
        status=Campaign.Status.RUNNING,
        holdout_percent=Decimal(0),
        cost_per_gift=Decimal("5.00"),
        launched_at=START,
        choice_deadline=deadline,
    )
    discount = RewardFactory(name=f"5 EUR off ({name})", kind=Reward.Kind.FIXED_DISCOUNT, points_cost=0)
    shipping = RewardFactory(name=f"Free shipping ({name})", kind=Reward.Kind.FREE_SHIPPING, points_cost=0)
    options = {
        "discount": {"label": "5 EUR off", "reward": discount},
        "free_shipping": {"label": "Free shipping", "reward": shipping},
        "bonus_points": {"label": "250 bonus points", "points": 250},
        "cashback": {"label": "5 EUR cashback as 200 points", "points": 200},
    }
    for kind in kinds or tuple(options):
        GiftOption.objects.create(campaign=campaign, kind=kind, **options[kind])
    return campaign


def awaiting(campaign: Campaign, customer: Customer) -> CampaignRecipient:
    """A treated recipient as the launch leaves them: stock and budget reserved, waiting."""
    return CampaignRecipient.objects.create(
        campaign=campaign,
        customer=customer,
        group=CampaignRecipient.Group.TREATED,
        status=CampaignRecipient.Status.AWAITING_CHOICE,
        cost=Decimal("5.00"),
        given_at=START,
    )


def option(campaign: Campaign, kind: str) -> GiftOption:
    return GiftOption.objects.get(campaign=campaign, kind=kind)


def granted() -> tuple[list[tuple[str, str, int]], list[tuple[str, str, str]]]:
    """Every gift written: ledger entries and vouchers, by key."""
    return (
        list(LedgerEntry.objects.order_by("pk").values_list("idempotency_key", "kind", "amount")),
        list(Voucher.objects.order_by("pk").values_list("idempotency_key", "source", "reward__name")),
    )


def preference(customer: Customer) -> str:
    return Customer.objects.get(pk=customer.pk).preferred_reward_kind


@pytest.fixture
def campaign(db: None, clock: Clock) -> Campaign:
    return choice_campaign_make()


# --- The customer's choice -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "ledger", "voucher", "recorded"),
    [
        ("bonus_points", [("gift", 250)], None, "bonus_points"),
        ("cashback", [("gift", 200)], None, "bonus_points"),
        ("discount", [], "5 EUR off (Thank you for a great year)", "discount"),
        ("free_shipping", [], "Free shipping (Thank you for a great year)", "free_shipping"),
    ],
)
def test_a_choice_before_the_deadline_grants_that_gift_and_becomes_the_preference(
    campaign, clock, kind, ledger, voucher, recorded
):
    customer = member(preferred_reward_kind="gift")
    recipient = awaiting(campaign, customer)
    clock.advance(days=3)

    given = choices.gift_choose(recipient=recipient, option=option(campaign, kind), by_customer=True)

    key = f"campaign:{campaign.pk}:{customer.pk}"
    entries, vouchers = granted()
    assert [(entry_kind, amount) for _key, entry_kind, amount in entries] == ledger
    assert all(entry_key == key for entry_key, _kind, _amount in entries)
    assert vouchers == ([(key, "gift", voucher)] if voucher else [])
    assert (given.status, given.option.kind, given.chosen_at, given.chosen_by_customer, given.given_at) == (
        "given",
        kind,
        clock.now,
        True,
        clock.now,
    )
    assert given.points == sum(amount for *_rest, amount in ledger)
    assert (given.voucher is not None) == (voucher is not None)
    assert preference(customer) == recorded
    stored = CampaignRecipient.objects.get(pk=recipient.pk)
    assert (stored.status, stored.option_id, stored.voucher_id, stored.points) == (
        "given",
        given.option_id,
        given.voucher_id,
        given.points,
    )


def test_choosing_again_grants_nothing_more(campaign):
    customer = member()
    recipient = awaiting(campaign, customer)
    points = option(campaign, "bonus_points")

    choices.gift_choose(recipient=recipient, option=points, by_customer=True)
    again = choices.gift_choose(recipient=recipient, option=points, by_customer=True)
    with pytest.raises(choices.GiftAlreadyChosen):
        choices.gift_choose(recipient=recipient, option=option(campaign, "discount"), by_customer=True)

    assert again.option_id == points.pk
    assert granted() == ([(f"campaign:{campaign.pk}:{customer.pk}", "gift", 250)], [])
    assert PointsAccount.objects.get(customer=customer).balance == 250


def test_after_the_deadline_the_customer_cannot_choose(campaign, clock):
    customer = member(preferred_reward_kind="free_shipping")
    recipient = awaiting(campaign, customer)
    clock.now = DEADLINE
    choices.gift_choose(
        recipient=awaiting(campaign, member("eero@example.fi")), option=option(campaign, "discount"), by_customer=True
    )
    before = granted()
    clock.now = DEADLINE + datetime.timedelta(seconds=1)

    with pytest.raises(choices.GiftChoiceDeadlinePassed) as refused:
        choices.gift_choose(recipient=recipient, option=option(campaign, "bonus_points"), by_customer=True)

    assert refused.value.code == "gift_choice_deadline_passed"
    assert granted() == before
    recipient.refresh_from_db()
    assert (recipient.status, recipient.option_id, recipient.chosen_at) == ("awaiting_choice", None, None)
    assert preference(customer) == "free_shipping"


@pytest.mark.parametrize(
    "status",
    [
        CampaignRecipient.Status.PENDING,
        CampaignRecipient.Status.HELD_OUT,
        CampaignRecipient.Status.OUT_OF_STOCK,
        CampaignRecipient.Status.SKIPPED,
    ],
)
def test_only_a_recipient_awaiting_a_choice_can_choose(campaign, status):
    recipient = awaiting(campaign, member())
    CampaignRecipient.objects.filter(pk=recipient.pk).update(status=status)

    with pytest.raises(choices.GiftChoiceClosed):
        choices.gift_choose(recipient=recipient, option=option(campaign, "bonus_points"), by_customer=True)

    assert granted() == ([], [])
    assert CampaignRecipient.objects.get(pk=recipient.pk).status == status


def test_an_option_of_another_campaign_is_refused(campaign):
    other = choice_campaign_make(name="Another occasion")
    recipient = awaiting(campaign, member())

    with pytest.raises(choices.GiftOptionInvalid):
        choices.gift_choose(recipient=recipient, option=option(other, "bonus_points"), by_customer=True)

    assert granted() == ([], [])


def test_an_option_without_its_points_or_reward_is_refused(campaign):
    recipient = awaiting(campaign, member())
    GiftOption.objects.filter(campaign=campaign, kind="bonus_points").update(points=0)
    GiftOption.objects.filter(campaign=campaign, kind="discount").update(reward=None)

    for kind in ("bonus_points", "discount"):
        with pytest.raises(choices.GiftOptionInvalid):
            choices.gift_choose(recipient=recipient, option=option(campaign, kind), by_customer=True)

    assert granted() == ([], [])
    assert CampaignRecipient.objects.get(pk=recipient.pk).status == "awaiting_choice"


def test_a_choice_made_for_the_customer_leaves_their_preference(campaign):
    customer = member(preferred_reward_kind="free_shipping")
    recipient = awaiting(campaign, customer)

    given = choices.gift_choose(recipient=recipient, option=option(campaign, "cashback"), by_customer=False)

    assert (given.status, given.chosen_by_customer) == ("given", False)
    assert preference(customer) == "free_shipping"


# --- The default after the deadline --------------------------------------------------------------


def test_after_the_deadline_each_recipient_gets_their_preference_or_the_first_option(campaign, clock):
    wants_shipping = awaiting(campaign, member("shipping@example.fi", preferred_reward_kind="free_shipping"))
    wants_gift = awaiting(campaign, member("gift@example.fi", preferred_reward_kind="gift"))  # not offered
    no_preference = awaiting(campaign, member("none@example.fi"))
    chose = awaiting(campaign, member("chose@example.fi", preferred_reward_kind="discount"))
    choices.gift_choose(recipient=chose, option=option(campaign, "cashback"), by_customer=True)
    later = choice_campaign_make(name="Later occasion")
    Campaign.objects.filter(pk=later.pk).update(choice_deadline=DEADLINE + datetime.timedelta(days=7))
    awaiting(later, member("later@example.fi"))
    no_options = Campaign.objects.create(name="No options", gift_kind=GiftKind.CHOICE, choice_deadline=DEADLINE)
    awaiting(no_options, member("empty@example.fi"))

    assert choices.gift_choices_default_due() == []
    clock.now = DEADLINE + datetime.timedelta(minutes=1)
    due = choices.gift_choices_default_due()

    assert due == [
        (wants_shipping.pk, option(campaign, "free_shipping").pk),
        (wants_gift.pk, option(campaign, "discount").pk),
        (no_preference.pk, option(campaign, "discount").pk),
    ]
    assert choices.gift_choices_default_give(pairs=due) == 3
    assert choices.gift_choices_default_give(pairs=due) == 0
    given = CampaignRecipient.objects.filter(pk__in=[pk for pk, _option in due]).order_by("pk")
    assert list(given.values_list("status", "option__kind", "chosen_by_customer", "chosen_at")) == [
        ("given", "free_shipping", False, clock.now),
        ("given", "discount", False, clock.now),
        ("given", "discount", False, clock.now),
    ]
    assert preference(no_preference.customer) == ""
    assert preference(wants_gift.customer) == "gift"
    assert choices.gift_choices_default_due() == []


def test_the_default_task_fans_out_batches_and_the_batch_task_gives(campaign, clock, monkeypatch):
    recipients = [awaiting(campaign, member(f"m{index}@example.fi")) for index in range(5)]
    clock.now = DEADLINE + datetime.timedelta(hours=1)
    monkeypatch.setattr(tasks, "BATCH_SIZE", 2)

    with mock.patch.object(tasks.gift_choices_default_batch_task, "delay") as delay:
        assert tasks.gift_choices_default_task() == 5
    batches = [call.kwargs["pairs"] for call in delay.call_args_list]
    assert [len(batch) for batch in batches] == [2, 2, 1]

    assert sum(tasks.gift_choices_default_batch_task(pairs=batch) for batch in batches) == 5
    assert tasks.gift_choices_default_batch_task(pairs=batches[0]) == 0
    assert set(
        CampaignRecipient.objects.filter(pk__in=[r.pk for r in recipients]).values_list("status", flat=True)
    ) == {"given"}
    assert Voucher.objects.count() == 5  # the first option (discount), once each


def test_a_customer_no_longer_active_gets_nothing_by_default(campaign, clock):
    recipient = awaiting(campaign, member())
    Campaign.objects.filter(pk=campaign.pk).update(allocated_count=1, spent=Decimal("5.00"))  # as launched
    Customer.objects.filter(pk=recipient.customer_id).update(status=Customer.Status.BLOCKED)
    clock.now = DEADLINE + datetime.timedelta(hours=1)

    assert choices.gift_choices_default_give(pairs=choices.gift_choices_default_due()) == 0

    assert CampaignRecipient.objects.get(pk=recipient.pk).status == "skipped"
    campaign.refresh_from_db()
    assert (campaign.allocated_count, campaign.spent) == (0, Decimal("0.00"))  # the reservation returned
    assert granted() == ([], [])
    assert choices.gift_choices_default_due() == []


def test_a_failing_default_is_logged_and_left_for_the_next_run(campaign, clock, caplog):
    recipient = awaiting(campaign, member())
    clock.now = DEADLINE + datetime.timedelta(hours=1)

    with mock.patch.object(choices, "gift_grant", side_effect=RuntimeError("voucher service down")):
        assert choices.gift_choices_default_give(pairs=choices.gift_choices_default_due()) == 0

    assert "the next run retries" in caplog.text
    assert CampaignRecipient.objects.get(pk=recipient.pk).status == "awaiting_choice"
    assert choices.gift_choices_default_due() == [(recipient.pk, option(campaign, "discount").pk)]


# --- Concurrency (PostgreSQL) --------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("same_option", [True, False])
def test_two_choices_at_once_grant_one_gift(monkeypatch, same_option):
    from customers import tasks as customer_tasks

    monkeypatch.setattr(customer_tasks.message_send_task, "apply_async", lambda **kwargs: None)
    campaign = choice_campaign_make(deadline=timezone.now() + datetime.timedelta(days=1))
    customer = member()
    recipient = awaiting(campaign, customer)
    picks = [option(campaign, "bonus_points"), option(campaign, "bonus_points" if same_option else "cashback")]
    barrier = threading.Barrier(2)

    def choose(index: int) -> object:
        try:
            barrier.wait(timeout=10)
            return choices.gift_choose(recipient=recipient, option=picks[index], by_customer=True)
        except choices.GiftAlreadyChosen as refused:
            return refused
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(choose, range(2)))

    chosen = CampaignRecipient.objects.get(pk=recipient.pk)
    refused = [result for result in results if isinstance(result, choices.GiftAlreadyChosen)]
    assert len(refused) == (0 if same_option else 1)
    assert LedgerEntry.objects.filter(account__customer=customer).count() == 1
    entry = LedgerEntry.objects.get(account__customer=customer)
    assert (entry.idempotency_key, entry.amount) == (f"campaign:{campaign.pk}:{customer.pk}", chosen.option.points)
    assert PointsAccount.objects.get(customer=customer).balance == chosen.points == chosen.option.points
