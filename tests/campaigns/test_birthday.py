"""Birthday rewards: due on the local birthday (or N days ahead) from the send hour, 29 February
on 28 February in common years, not after a recent birth date change; granted once per customer and
year to every member, the greeting only within consent."""

from __future__ import annotations

import datetime
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.db import connections, transaction
from django.urls import reverse
from django.utils import timezone

from campaigns import birthdays, tasks
from campaigns.models import BirthdayGift, BirthdayReward, BirthdaySettings
from customers.models import Channel, ConsentSource, Customer, Message, User
from customers.outbox import message_deliver
from customers.services import customer_consent_set, customer_register, customer_update
from loyalty import services as loyalty_services
from loyalty.models import LedgerEntry, TierChange, Voucher
from loyalty.program import program_cache_clear
from tests.customers.factories import CustomerFactory
from tests.loyalty.conftest import Clock
from tests.loyalty.factories import RewardFactory, TierFactory

HELSINKI = ZoneInfo("Europe/Helsinki")


def at(year: int, month: int, day: int, hour: int = 10, zone: ZoneInfo = HELSINKI) -> datetime.datetime:
    return datetime.datetime(year, month, day, hour, 0, tzinfo=zone)


@pytest.fixture(autouse=True)
def _program_cache_cleared() -> Iterator[None]:
    program_cache_clear()
    yield
    program_cache_clear()


@pytest.fixture
def clock(monkeypatch):
    frozen = Clock(at(2026, 1, 5))
    monkeypatch.setattr(timezone, "now", frozen)
    return frozen


@pytest.fixture
def config(db):
    return BirthdaySettings.objects.create(pk=1, days_ahead=0, send_hour=9, gift_points=100)


def member(email: str, birth_date: datetime.date, *, consent: bool = True, **profile) -> Customer:
    """A customer who gave their birth date long ago (no change recorded)."""
    customer = CustomerFactory(email=email, birth_date=birth_date, **profile)
    if consent:
        customer_consent_set(customer=customer, channel=Channel.EMAIL, granted=True, source=ConsentSource.ADMIN)
    return customer


def due_on(now: datetime.datetime) -> list[tuple[str, datetime.date]]:
    return list(birthdays.birthdays_due(now=now).values_list("email", "birthday_on"))


# --- who is due -------------------------------------------------------------------------------


@pytest.mark.parametrize(("hour", "expected"), [(8, []), (9, [("aino@example.fi", datetime.date(2026, 3, 10))])])
def test_a_birthday_is_due_from_the_send_hour_of_the_local_day(config, hour, expected):
    member("aino@example.fi", datetime.date(1990, 3, 10))
    member("ville@example.fi", datetime.date(1990, 3, 11))

    assert due_on(at(2026, 3, 10, hour)) == expected


@pytest.mark.parametrize(
    ("local_day", "expected"),
    [
        (datetime.date(2027, 2, 28), [datetime.date(2027, 2, 28)]),  # common year: on 28 February
        (datetime.date(2027, 3, 1), []),
        (datetime.date(2028, 2, 28), []),  # leap year: on the day itself
        (datetime.date(2028, 2, 29), [datetime.date(2028, 2, 29)]),
    ],
)
def test_a_29_february_birthday_is_celebrated_on_28_february_in_common_years(config, local_day, expected):
    member("leap@example.fi", datetime.date(1996, 2, 29))
    member("feb28@example.fi", datetime.date(1995, 2, 27))

    due = due_on(at(local_day.year, local_day.month, local_day.day))

    assert [day for email, day in due if email == "leap@example.fi"] == expected
    assert [email for email, _day in due if email != "leap@example.fi"] == []


def test_the_customers_own_time_zone_decides_the_day_and_the_hour(config):
    member("helsinki@example.fi", datetime.date(1990, 3, 10))
    member("newyork@example.com", datetime.date(1990, 3, 10), time_zone="America/New_York")
    member("tokyo@example.jp", datetime.date(1990, 3, 11), time_zone="Asia/Tokyo")
    utc = datetime.UTC

    # 10:00 in Helsinki is 04:00 in New York (before the send hour) and 17:00 in Tokyo (the 10th).
    assert due_on(datetime.datetime(2026, 3, 10, 8, tzinfo=utc)) == [
        ("helsinki@example.fi", datetime.date(2026, 3, 10))
    ]
    # 10:00 in New York; Tokyo is at 00:00 on the 11th, before its send hour.
    assert [email for email, _day in due_on(datetime.datetime(2026, 3, 10, 14, tzinfo=utc))] == [
        "helsinki@example.fi",
        "newyork@example.com",
    ]
    # 09:00 on the 11th in Tokyo; in Helsinki and New York it is still the 10th, but Tokyo's birthday is the 11th.
    assert ("tokyo@example.jp", datetime.date(2026, 3, 11)) in due_on(datetime.datetime(2026, 3, 11, 0, tzinfo=utc))


def test_an_unknown_time_zone_counts_as_the_programmes(config):
    customer = member("odd@example.fi", datetime.date(1990, 3, 10))
    Customer.objects.filter(pk=customer.pk).update(time_zone="Mars/Olympus")

    assert due_on(at(2026, 3, 10, 9)) == [("odd@example.fi", datetime.date(2026, 3, 10))]


def test_days_ahead_rewards_before_the_birthday_even_across_the_new_year(config):
    config.days_ahead = 3
    config.save()
    member("march@example.fi", datetime.date(1990, 3, 13))
    member("january@example.fi", datetime.date(1985, 1, 2))

    assert due_on(at(2026, 3, 10)) == [("march@example.fi", datetime.date(2026, 3, 13))]
    assert due_on(at(2026, 12, 30)) == [("january@example.fi", datetime.date(2027, 1, 2))]


@pytest.mark.parametrize(("days_since_set", "is_due"), [(10, False), (30, True), (45, True)])
def test_a_birth_date_set_in_the_last_30_days_earns_nothing_yet(config, clock, days_since_set, is_due):
    birthday = at(2026, 3, 10)
    clock.now = birthday - datetime.timedelta(days=days_since_set)
    customer = customer_register(email="new@example.fi", first_name="Uusi", birth_date=datetime.date(1990, 3, 10))
    clock.now = birthday

    assert bool(due_on(birthday)) is is_due
    granted = birthdays.birthday_reward_grant(customer=customer.customer, year=2026)
    assert (granted is not None) is is_due
    assert LedgerEntry.objects.filter(kind=LedgerEntry.Kind.BIRTHDAY).count() == int(is_due)


def test_moving_the_birth_date_restarts_the_30_days(config, clock):
    customer = member("mover@example.fi", datetime.date(1990, 6, 1))
    clock.now = at(2026, 3, 1)
    customer_update(customer=customer, source="admin", birth_date=datetime.date(1990, 3, 10))

    assert due_on(at(2026, 3, 10)) == []


def test_blocked_rewarded_and_switched_off_are_not_due(config):
    member("blocked@example.fi", datetime.date(1990, 3, 10), status=Customer.Status.BLOCKED)
    rewarded = member("rewarded@example.fi", datetime.date(1990, 3, 10))
    BirthdayReward.objects.create(customer=rewarded, year=2026, birthday=datetime.date(2026, 3, 10))
    member("nobirthday@example.fi", None)

    assert due_on(at(2026, 3, 10)) == []
    member("due@example.fi", datetime.date(1990, 3, 10))
    config.is_enabled = False
    config.save()
    assert due_on(at(2026, 3, 10)) == []


def test_the_due_query_is_one_query_plus_the_time_zones(config, django_assert_num_queries):
    for index in range(3):
        member(f"m{index}@example.fi", datetime.date(1990, 3, 10), time_zone=["", "America/New_York", "UTC"][index])
    birthdays.birthday_settings()

    with django_assert_num_queries(3):  # settings, time zones in use, the customers
        assert len(due_on(at(2026, 3, 10, 23))) == 3


# --- granting ----------------------------------------------------------------------------------


def test_the_reward_is_granted_once_and_the_greeting_is_personal(config, clock):
    clock.now = at(2026, 3, 10)
    customer = member("aino@example.fi", datetime.date(1990, 3, 10), first_name="Aino", language="fi")

    first = birthdays.birthday_reward_grant(customer=customer, year=2026)
    again = birthdays.birthday_reward_grant(customer=customer, year=2026)

    assert first is not None
    assert again is None
    assert BirthdayReward.objects.count() == 1
    entry = LedgerEntry.objects.get(kind=LedgerEntry.Kind.BIRTHDAY)
    assert (entry.amount, entry.idempotency_key) == (100, f"birthday:{customer.pk}:2026")
    message = Message.objects.get()
    assert (message.purpose, message.idempotency_key, message.status) == (
        "birthday",
        f"birthday:{customer.pk}:2026",
        "pending",
    )
    assert message.subject == "Hyvää syntymäpäivää, Aino!"
    assert "100" in message.body
    assert "Dear customer" not in message.body
    assert first.message == message
    assert message_deliver(message.pk) is not None
    assert [email.to for email in mail.outbox] == [["aino@example.fi"]]


def test_without_consent_the_points_are_granted_and_the_greeting_is_not_sent(config, clock):
    clock.now = at(2026, 3, 10)
    customer = member("ville@example.fi", datetime.date(1990, 3, 10), consent=False)

    granted = birthdays.birthday_reward_grant(customer=customer, year=2026)

    assert granted.points == 100
    assert LedgerEntry.objects.filter(kind=LedgerEntry.Kind.BIRTHDAY, amount=100).count() == 1
    message = Message.objects.get()
    assert (message.status, message.suppressed_reason) == ("suppressed", "no_consent")
    assert message_deliver(message.pk) is None
    assert mail.outbox == []


def test_each_tier_gets_its_own_gift_and_others_the_default(config, clock):
    clock.now = at(2026, 3, 10)
    silver, gold = TierFactory(name="Silver", rank=1), TierFactory(name="Gold", rank=2)
    coffee = RewardFactory(name="A coffee on us", points_cost=0)
    BirthdayGift.objects.create(settings=config, tier=gold, points=300, reward=coffee)
    BirthdayGift.objects.create(settings=config, tier=silver, points=0, reward=coffee)
    golden = member("gold@example.fi", datetime.date(1990, 3, 10), first_name="Kulta", language="en")
    silvery = member("silver@example.fi", datetime.date(1990, 3, 10), language="en")
    member("plain@example.fi", datetime.date(1990, 3, 10))
    for customer, tier in [(golden, gold), (silvery, silver)]:
        with transaction.atomic():
            account = loyalty_services.account_lock(customer)
            loyalty_services.tier_set(account=account, tier=tier, reason=TierChange.Reason.STAFF, value=Decimal(0))

    rewards = {
        customer.email: birthdays.birthday_reward_grant(customer=customer, year=2026)
        for customer in Customer.objects.all()
    }

    assert {email: reward.points for email, reward in rewards.items()} == {
        "gold@example.fi": 300,
        "silver@example.fi": 0,
        "plain@example.fi": 100,
    }
    assert rewards["plain@example.fi"].voucher is None
    voucher = Voucher.objects.get(customer=golden)
    assert (voucher.source, voucher.reward, voucher.idempotency_key) == ("gift", coffee, f"birthday:{golden.pk}:2026")
    assert rewards["gold@example.fi"].voucher == voucher
    body = rewards["gold@example.fi"].message.body
    assert "300 bonus points and a voucher for A coffee on us" in body
    assert loyalty_services.voucher_code_display(voucher.code) in body
    assert "a voucher for A coffee on us" in rewards["silver@example.fi"].message.body
    assert LedgerEntry.objects.filter(kind=LedgerEntry.Kind.BIRTHDAY).count() == 2  # silver: no points, no entry


def test_a_29_february_birthday_is_recorded_on_28_february_in_a_common_year(config, clock):
    clock.now = at(2027, 2, 28)
    customer = member("leap@example.fi", datetime.date(1996, 2, 29))

    granted = birthdays.birthday_reward_grant(customer=customer, year=2027)

    assert granted.birthday == datetime.date(2027, 2, 28)


def test_a_switched_off_automation_or_a_blocked_customer_gets_nothing(config, clock):
    clock.now = at(2026, 3, 10)
    blocked = member("blocked@example.fi", datetime.date(1990, 3, 10), status=Customer.Status.BLOCKED)
    assert birthdays.birthday_reward_grant(customer=blocked, year=2026) is None
    config.is_enabled = False
    config.save()
    active = member("active@example.fi", datetime.date(1990, 3, 10))
    assert birthdays.birthday_reward_grant(customer=active, year=2026) is None
    assert (BirthdayReward.objects.count(), LedgerEntry.objects.count(), Message.objects.count()) == (0, 0, 0)


# --- the hourly task ---------------------------------------------------------------------------


def test_the_hourly_task_fans_out_batches_and_a_second_run_rewards_nobody_again(config, clock, monkeypatch):
    clock.now = at(2026, 3, 10, 9)
    for index in range(5):
        member(f"m{index}@example.fi", datetime.date(1990 + index, 3, 10))
    member("tomorrow@example.fi", datetime.date(1990, 3, 11))
    batches = []

    def run_now(**kwargs):
        batches.append(kwargs["due"])
        return tasks.birthdays_batch_task(**kwargs)

    monkeypatch.setattr(tasks, "BATCH_SIZE", 2)
    monkeypatch.setattr(tasks.birthdays_batch_task, "delay", run_now)

    assert tasks.birthdays_task() == 5
    assert [len(batch) for batch in batches] == [2, 2, 1]
    assert all(year == 2026 for batch in batches for _customer_id, year in batch)
    assert tasks.birthdays_task() == 0
    assert BirthdayReward.objects.count() == LedgerEntry.objects.count() == Message.objects.count() == 5

    clock.now = at(2026, 3, 11, 8)
    assert tasks.birthdays_task() == 0  # before the send hour
    clock.now = at(2026, 3, 11, 9)
    assert tasks.birthdays_task() == 1


def test_a_failing_customer_does_not_stop_the_batch(config, clock, monkeypatch, caplog):
    clock.now = at(2026, 3, 10, 9)
    first = member("first@example.fi", datetime.date(1990, 3, 10))
    second = member("second@example.fi", datetime.date(1990, 3, 10))
    real_grant = birthdays.birthday_reward_grant

    def grant(*, customer, year, now=None):
        if customer.pk == first.pk:
            raise RuntimeError("SMTP template store down")
        return real_grant(customer=customer, year=year, now=now)

    monkeypatch.setattr(birthdays, "birthday_reward_grant", grant)

    assert tasks.birthdays_batch_task(due=[[first.pk, 2026], [second.pk, 2026], [987654, 2026]]) == 1
    assert list(BirthdayReward.objects.values_list("customer", flat=True)) == [second.pk]
    assert "the next run retries" in caplog.text


# --- admin -------------------------------------------------------------------------------------


@pytest.fixture
def admin_client(client, db):
    client.force_login(User.objects.create_superuser(username="boss", email="boss@example.fi", password="x"))
    return client


def test_the_settings_open_as_one_page_with_the_gifts_per_tier(admin_client, config):
    TierFactory(name="Gold", rank=2)

    response = admin_client.get(reverse("admin:campaigns_birthdaysettings_changelist"))
    page = admin_client.get(response.url)

    assert response.url == reverse("admin:campaigns_birthdaysettings_change", args=[1])
    assert page.status_code == 200
    assert b"gifts-TOTAL_FORMS" in page.content
    assert admin_client.get(reverse("admin:campaigns_birthdaysettings_add")).status_code == 403


def test_the_rewards_list_is_read_only_with_a_fixed_number_of_queries(
    admin_client, config, clock, django_assert_num_queries
):
    clock.now = at(2026, 3, 10)
    for index in range(3):
        birthdays.birthday_reward_grant(customer=member(f"m{index}@example.fi", datetime.date(1990, 3, 10)), year=2026)
    url = reverse("admin:campaigns_birthdayreward_changelist")
    admin_client.get(url)

    with django_assert_num_queries(8):
        response = admin_client.get(url)

    assert response.status_code == 200
    assert response.context["cl"].result_count == 3
    reward = BirthdayReward.objects.first()
    assert admin_client.post(reverse("admin:campaigns_birthdayreward_delete", args=[reward.pk])).status_code == 403


# --- two workers at once (PostgreSQL) ----------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_granting_at_once_reward_the_birthday_once(clock, monkeypatch):
    from customers import tasks as customer_tasks

    monkeypatch.setattr(customer_tasks.message_send_task, "apply_async", lambda **kwargs: None)
    clock.now = at(2026, 3, 10)
    BirthdaySettings.objects.create(pk=1, gift_points=100)
    customer = member("aino@example.fi", datetime.date(1990, 3, 10))
    barrier = threading.Barrier(2)

    def grant(_index: int) -> bool:
        try:
            barrier.wait(timeout=10)
            return birthdays.birthday_reward_grant(customer=customer, year=2026) is not None
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = sorted(pool.map(grant, range(2)))

    assert results == [False, True]
    assert BirthdayReward.objects.count() == 1
    assert LedgerEntry.objects.filter(kind=LedgerEntry.Kind.BIRTHDAY).count() == 1
    assert Message.objects.filter(purpose="birthday").count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_hourly_job_run_by_two_workers_at_once_rewards_each_customer_once(clock, monkeypatch):
    from customers import tasks as customer_tasks

    monkeypatch.setattr(customer_tasks.message_send_task, "apply_async", lambda **kwargs: None)
    clock.now = at(2026, 3, 10, 12)
    BirthdaySettings.objects.create(pk=1, gift_points=100)
    for index in range(8):
        member(f"m{index}@example.fi", datetime.date(1990, 3, 10))
    due = [[customer_id, 2026] for customer_id in Customer.objects.values_list("pk", flat=True)]
    barrier = threading.Barrier(2)

    def run(_index: int) -> int:
        try:
            barrier.wait(timeout=10)
            return tasks.birthdays_batch_task(due=due)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(run, range(2)))

    assert sum(results) == 8
    assert BirthdayReward.objects.count() == 8
    assert LedgerEntry.objects.filter(kind=LedgerEntry.Kind.BIRTHDAY).count() == 8
    assert Message.objects.filter(purpose="birthday").count() == 8


def test_the_demo_gives_each_tier_a_birthday_gift_and_is_idempotent(db):
    from campaigns.demo import demo_campaigns_load

    for rank, name in enumerate(["Bronze", "Silver", "Gold"]):
        TierFactory(name=name, rank=rank)
    coffee = RewardFactory(name="A coffee on us (stamp card)", points_cost=0)

    demo_campaigns_load()
    demo_campaigns_load()

    gifts = [
        (gift.tier.name, gift.points, gift.reward) for gift in BirthdayGift.objects.select_related("tier", "reward")
    ]
    assert gifts == [("Bronze", 100, None), ("Silver", 200, None), ("Gold", 300, coffee)]
    assert BirthdaySettings.objects.get().is_enabled
