"""Win-back: a give-first offer to customers with no purchase in N days, once per lapse; a customer
who comes back and lapses again gets another. The gift goes to everyone, the message within consent."""

from __future__ import annotations

import datetime
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.db import connections
from django.urls import reverse
from django.utils import timezone

from campaigns import tasks, win_back
from campaigns.models import WinBackOffer, WinBackSettings
from customers.models import Customer, Message, User
from customers.outbox import message_deliver
from customers.services import customer_register
from loyalty import services as loyalty_services
from loyalty.models import LedgerEntry, Voucher
from loyalty.program import program_cache_clear
from tests.customers.factories import PartnerFactory
from tests.loyalty.conftest import Clock
from tests.loyalty.factories import RewardFactory, base_rate, purchase_make

HELSINKI = ZoneInfo("Europe/Helsinki")
START = datetime.datetime(2026, 1, 5, 10, 0, tzinfo=HELSINKI)


@pytest.fixture(autouse=True)
def _program_cache_cleared() -> Iterator[None]:
    program_cache_clear()
    yield
    program_cache_clear()


@pytest.fixture
def clock(monkeypatch):
    frozen = Clock(START)
    monkeypatch.setattr(timezone, "now", frozen)
    return frozen


@pytest.fixture
def config(db):
    base_rate()
    return WinBackSettings.objects.create(pk=1, inactive_days=90, gift_points=150)


def gifts():
    return LedgerEntry.objects.filter(kind=LedgerEntry.Kind.GIFT)


def shopper(email: str = "aino@example.fi", *, consent: bool = True, **profile) -> Customer:
    defaults = {"first_name": "Aino", "language": "en"}
    return customer_register(email=email, email_consent=consent, **{**defaults, **profile}).customer


def buy(customer: Customer, **kwargs) -> None:
    purchase_make(customer=customer, partner=PartnerFactory(name="Kahvila"), amount="12.00", **kwargs)


def lapsed_now() -> list[tuple[str, datetime.date]]:
    return list(win_back.customers_lapsed().values_list("email", "lapse_started"))


@pytest.mark.parametrize(("days", "expected"), [(89, []), (90, []), (91, [("aino@example.fi", START.date())])])
def test_a_customer_is_lapsed_after_n_days_without_a_purchase(config, clock, days, expected):
    buy(shopper())
    customer_register(email="never@example.fi")  # never bought: not lapsed

    clock.advance(days=days)

    assert lapsed_now() == expected


def test_the_offer_is_made_once_per_lapse_and_again_after_a_new_lapse(config, clock):
    customer = shopper()
    buy(customer)
    clock.advance(days=91)

    first = win_back.win_back_offer_make(customer=customer)
    again = win_back.win_back_offer_make(customer=customer)

    assert first is not None
    assert again is None
    assert lapsed_now() == []
    assert [(gift.amount, gift.idempotency_key) for gift in gifts()] == [(150, f"win-back:{customer.pk}:2026-01-05")]
    message = Message.objects.get(purpose="win_back")
    assert (message.idempotency_key, message.status, first.message) == (
        f"win-back:{customer.pk}:2026-01-05",
        "pending",
        message,
    )
    assert message.subject == "We miss you, Aino"
    assert "150 bonus points" in message.body

    clock.advance(days=10)
    buy(customer)  # back again
    assert win_back.win_back_offer_make(customer=customer) is None  # came back: no lapse
    clock.advance(days=91)
    comeback = clock.now - datetime.timedelta(days=91)

    assert lapsed_now() == [("aino@example.fi", comeback.astimezone(HELSINKI).date())]
    second = win_back.win_back_offer_make(customer=customer)
    assert second.lapse_started == comeback.astimezone(HELSINKI).date()
    assert WinBackOffer.objects.count() == gifts().count() == Message.objects.filter(purpose="win_back").count() == 2


def test_the_lapse_is_named_by_the_local_date_of_the_last_purchase(config, clock):
    clock.now = datetime.datetime(2026, 1, 6, 6, 0, tzinfo=datetime.UTC)
    customer = shopper()
    buy(customer, occurred_at=datetime.datetime(2026, 1, 5, 23, 30, tzinfo=datetime.UTC))  # 01:30 on the 6th
    clock.advance(days=100)

    assert lapsed_now() == [("aino@example.fi", datetime.date(2026, 1, 6))]
    offer = win_back.win_back_offer_make(customer=customer)
    assert offer.lapse_started == datetime.date(2026, 1, 6)
    assert lapsed_now() == []


def test_without_consent_the_gift_is_given_and_the_message_is_not_sent(config, clock):
    customer = shopper(consent=False)
    buy(customer)
    clock.advance(days=91)

    offer = win_back.win_back_offer_make(customer=customer)

    assert offer.points == 150
    assert gifts().count() == 1
    assert (offer.message.status, offer.message.suppressed_reason) == ("suppressed", "no_consent")
    assert message_deliver(offer.message.pk) is None
    assert mail.outbox == []


def test_a_voucher_gift_is_issued_once_and_named_in_the_finnish_message(config, clock):
    config.gift_points = 0
    config.gift_reward = RewardFactory(name="Kahvi meiltä", points_cost=0)
    config.save()
    customer = shopper(language="fi", first_name="Ville")
    buy(customer)
    clock.advance(days=91)

    offer = win_back.win_back_offer_make(customer=customer)
    win_back.win_back_offer_make(customer=customer)

    voucher = Voucher.objects.get()
    assert (voucher.source, offer.voucher, offer.points) == ("gift", voucher, 0)
    assert gifts().count() == 0
    assert offer.message.subject == "Meillä on ikävä sinua, Ville"
    assert loyalty_services.voucher_code_display(voucher.code) in offer.message.body
    assert message_deliver(offer.message.pk) is not None
    assert [email.to for email in mail.outbox] == [["aino@example.fi"]]


def test_blocked_customers_and_a_switched_off_automation_get_nothing(config, clock):
    blocked = shopper("blocked@example.fi")
    buy(blocked)
    Customer.objects.filter(pk=blocked.pk).update(status=Customer.Status.BLOCKED)
    active = shopper("active@example.fi")
    buy(active)
    clock.advance(days=91)

    assert lapsed_now() == [("active@example.fi", START.date())]
    assert win_back.win_back_offer_make(customer=blocked) is None
    config.is_enabled = False
    config.save()
    assert lapsed_now() == []
    assert win_back.win_back_offer_make(customer=active) is None
    assert (WinBackOffer.objects.count(), gifts().count(), Message.objects.count()) == (0, 0, 0)


def test_the_lapsed_query_is_one_query(config, clock, django_assert_num_queries):
    for index in range(3):
        buy(shopper(f"m{index}@example.fi"))
    clock.advance(days=91)
    win_back.win_back_settings()

    with django_assert_num_queries(2):  # settings, the customers
        assert len(lapsed_now()) == 3


def test_the_daily_task_fans_out_batches_and_a_second_run_offers_nothing(config, clock, monkeypatch):
    for index in range(5):
        buy(shopper(f"m{index}@example.fi"))
    recent = shopper("recent@example.fi")
    clock.advance(days=91)
    buy(recent)
    batches = []

    def run_now(**kwargs):
        batches.append(kwargs["customer_ids"])
        return tasks.win_back_batch_task(**kwargs)

    monkeypatch.setattr(tasks, "BATCH_SIZE", 2)
    monkeypatch.setattr(tasks.win_back_batch_task, "delay", run_now)

    assert tasks.win_back_task() == 5
    assert [len(batch) for batch in batches] == [2, 2, 1]
    assert tasks.win_back_task() == 0
    assert WinBackOffer.objects.count() == gifts().count() == Message.objects.filter(purpose="win_back").count() == 5


def test_a_failing_customer_does_not_stop_the_batch(config, clock, monkeypatch, caplog):
    first, second = shopper("first@example.fi"), shopper("second@example.fi")
    buy(first)
    buy(second)
    clock.advance(days=91)
    real_make = win_back.win_back_offer_make

    def make(*, customer, now=None):
        if customer.pk == first.pk:
            raise RuntimeError("boom")
        return real_make(customer=customer, now=now)

    monkeypatch.setattr(win_back, "win_back_offer_make", make)

    assert tasks.win_back_batch_task(customer_ids=[first.pk, second.pk, 987654]) == 1
    assert list(WinBackOffer.objects.values_list("customer", flat=True)) == [second.pk]
    assert "the next run retries" in caplog.text


@pytest.fixture
def admin_client(client, db):
    client.force_login(User.objects.create_superuser(username="boss", email="boss@example.fi", password="x"))
    return client


def test_the_admin_edits_the_one_settings_row_and_lists_offers_read_only(
    admin_client, config, clock, django_assert_num_queries
):
    response = admin_client.get(reverse("admin:campaigns_winbacksettings_changelist"))
    assert response.url == reverse("admin:campaigns_winbacksettings_change", args=[1])
    assert admin_client.get(response.url).status_code == 200
    for index in range(3):
        customer = shopper(f"m{index}@example.fi")
        buy(customer)
    clock.advance(days=91)
    win_back.win_back_offers_make(customer_ids=Customer.objects.values_list("pk", flat=True))
    url = reverse("admin:campaigns_winbackoffer_changelist")
    admin_client.get(url)

    with django_assert_num_queries(7):
        page = admin_client.get(url)

    assert page.context["cl"].result_count == 3
    offer = WinBackOffer.objects.first()
    assert admin_client.post(reverse("admin:campaigns_winbackoffer_delete", args=[offer.pk])).status_code == 403


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_at_once_make_one_offer(clock, monkeypatch):
    from customers import tasks as customer_tasks

    monkeypatch.setattr(customer_tasks.message_send_task, "apply_async", lambda **kwargs: None)
    base_rate()
    WinBackSettings.objects.create(pk=1, inactive_days=90, gift_points=150)
    customer = shopper()
    buy(customer)
    clock.advance(days=91)
    barrier = threading.Barrier(2)

    def make(_index: int) -> bool:
        try:
            barrier.wait(timeout=10)
            return win_back.win_back_offer_make(customer=customer) is not None
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = sorted(pool.map(make, range(2)))

    assert results == [False, True]
    assert WinBackOffer.objects.count() == gifts().count() == Message.objects.filter(purpose="win_back").count() == 1
