"""The campaigns section of the data export (campaigns taken part in, birthday rewards, win-back
offers, contest entries and wins, gratitude tasks) and what erasure does to campaign data: rows
kept for the reports, tracking codes and outcome notes gone, open gratitude tasks skipped."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from campaigns import contests
from campaigns.birthdays import birthday_reward_grant
from campaigns.gratitude import gratitude_task_close, gratitude_tasks_for_purchase
from campaigns.launch import campaign_batch_give, campaign_launch
from campaigns.models import (
    BirthdaySettings,
    Campaign,
    CampaignRecipient,
    GiftKind,
    GratitudeAction,
    GratitudeRule,
    GratitudeTask,
    WinBackSettings,
)
from campaigns.privacy import campaigns_data_erase, campaigns_data_export
from campaigns.shipments import shipment_update
from campaigns.win_back import win_back_offer_make
from customers.models import Customer, User
from customers.privacy import ErasureSource, customer_erase
from customers.services import customer_register
from loyalty.program import program_cache_clear
from tests.customers.factories import PartnerFactory
from tests.loyalty.conftest import Clock
from tests.loyalty.factories import base_rate, purchase_make

START = datetime.datetime(2026, 10, 1, 9, 0, tzinfo=datetime.UTC)


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


@pytest.fixture
def staff(db: None) -> User:
    return User.objects.create_user(username="helmi", password="x", is_staff=True)


def member(email: str = "aino@example.fi") -> Customer:
    customer = customer_register(email=email, first_name="Aino", language="en", email_consent=True).customer
    # Given long ago: the birthday is not held back as a freshly changed date.
    Customer.objects.filter(pk=customer.pk).update(
        birth_date=datetime.date(1990, 10, 1), birth_date_changed_at=START - datetime.timedelta(days=400)
    )
    customer.refresh_from_db()
    return customer


def history(customer: Customer, staff: User, clock: Clock) -> None:
    """One of everything campaigns keep about a customer, made through the services."""
    base_rate()
    partner = PartnerFactory(name="Kahvila")
    # A purchase 100 days ago: a lapse for the win-back offer, and a first purchase and a big
    # order for the two gratitude rules (one task closed with a note, one left open).
    GratitudeRule.objects.create(name="First", event="first_purchase", action=GratitudeAction.CALL)
    GratitudeRule.objects.create(
        name="Big", event="big_order", action=GratitudeAction.HANDWRITTEN_NOTE, min_amount=Decimal("50.00")
    )
    purchase = purchase_make(
        customer=customer, partner=partner, amount="80.00", occurred_at=START - datetime.timedelta(days=100)
    )
    call, _note = sorted(gratitude_tasks_for_purchase(purchase_id=purchase.pk), key=lambda task: task.action)
    gratitude_task_close(task=call, by=staff, status="done", note="Aino told me about her new puppy")
    WinBackSettings.objects.update_or_create(pk=1, defaults={"gift_points": 30})
    win_back_offer_make(customer=customer)
    BirthdaySettings.objects.update_or_create(pk=1, defaults={"gift_points": 100})
    birthday_reward_grant(customer=customer, year=2026)
    sample = Campaign.objects.create(
        name="Dark roast sample",
        kind=Campaign.Kind.SAMPLE,
        gift_kind=GiftKind.SAMPLE,
        gift_description="Juhla Mokka sample",
        introduces_skus=["JM-500"],
        holdout_percent=Decimal(0),
    )
    for batch in campaign_launch(campaign_id=sample.pk):
        campaign_batch_give(campaign_id=sample.pk, recipient_ids=batch)
    recipient = CampaignRecipient.objects.get(campaign=sample, customer=customer)
    shipment_update(recipient=recipient, status=CampaignRecipient.Shipment.SHIPPED, tracking_code="JJFI6542")
    contest = Campaign.objects.create(
        name="Autumn sweepstake",
        kind=Campaign.Kind.CONTEST,
        status=Campaign.Status.RUNNING,
        starts_at=START - datetime.timedelta(days=1),
        ends_at=START + datetime.timedelta(days=1),
        prize_description="A weekend in Levi",
        winners_count=1,
    )
    contests.contest_enter(campaign=contest, customer=customer, source="portal", source_key="portal", tickets=1)
    clock.now = START + datetime.timedelta(days=2)
    contests.contest_draw(campaign=contest, seed="5eed" * 16)


def test_export_holds_every_campaign_row_of_the_customer(db, staff, clock):
    aino = member()
    history(aino, staff, clock)
    member("olga@example.ru")  # joins after the sample and the draw: nothing of hers to show

    data = campaigns_data_export(aino)

    assert [
        (row["campaign"], row["group"], row["status"], row["shipment"], row["tracking_code"])
        for row in data["campaigns"]
    ] == [("Dark roast sample", "treated", "given", "shipped", "JJFI6542")]
    assert [(row["year"], row["birthday"], row["points"]) for row in data["birthday_rewards"]] == [
        (2026, "2026-10-01", 100)
    ]
    assert [(row["last_purchase_before_the_lapse"], row["points"]) for row in data["win_back_offers"]] == [
        ("2026-06-23", 30)
    ]
    assert [(row["contest"], row["source"], row["entries"]) for row in data["contest_entries"]] == [
        ("Autumn sweepstake", "portal", 1)
    ]
    assert [(row["contest"], row["rank"], row["status"], row["prize"]) for row in data["contest_wins"]] == [
        ("Autumn sweepstake", 1, "notified", "A weekend in Levi")
    ]
    assert sorted((row["action"], row["status"], row["outcome_note"]) for row in data["gratitude_tasks"]) == [
        ("call", "done", "Aino told me about her new puppy"),
        ("handwritten_note", "open", ""),
    ]


def test_export_reads_six_queries_whatever_the_history(db, staff, clock, django_assert_num_queries):
    aino = member()
    with CaptureQueriesContext(connection) as empty:
        campaigns_data_export(aino)
    history(aino, staff, clock)

    with django_assert_num_queries(6):
        campaigns_data_export(aino)

    assert len(empty.captured_queries) == 6


def test_erase_keeps_the_rows_and_removes_notes_and_tracking_codes(db, staff, clock):
    aino = member()
    history(aino, staff, clock)

    campaigns_data_erase(aino)

    data = campaigns_data_export(aino)
    assert [(row["status"], row["tracking_code"], row["shipment"]) for row in data["campaigns"]] == [
        ("given", "", "shipped")
    ]
    assert sorted((row["action"], row["status"], row["outcome_note"]) for row in data["gratitude_tasks"]) == [
        ("call", "done", ""),
        ("handwritten_note", "skipped", ""),
    ]
    assert GratitudeTask.objects.get(customer=aino, action="handwritten_note").done_at == clock.now
    assert (len(data["birthday_rewards"]), len(data["win_back_offers"]), len(data["contest_entries"])) == (1, 1, 1)
    assert len(data["contest_wins"]) == 1


def test_erase_twice_changes_nothing_more_and_spares_other_customers(db, staff, clock):
    aino = member()
    history(aino, staff, clock)
    olga = member("olga@example.ru")
    GratitudeTask.objects.create(
        rule=GratitudeRule.objects.get(name="First"),
        customer=olga,
        source_key="manual:1",
        action=GratitudeAction.CALL,
        due_on=START.date(),
        outcome_note="Olga asked for decaf",
    )
    campaigns_data_erase(aino)
    rows = list(GratitudeTask.objects.order_by("pk").values())
    recipients = list(CampaignRecipient.objects.order_by("pk").values())

    campaigns_data_erase(aino)

    assert list(GratitudeTask.objects.order_by("pk").values()) == rows
    assert list(CampaignRecipient.objects.order_by("pk").values()) == recipients
    assert GratitudeTask.objects.get(customer=olga).outcome_note == "Olga asked for decaf"


def test_an_erased_customer_gets_no_more_birthday_or_win_back_gifts(db, staff, clock):
    aino = member()
    history(aino, staff, clock)

    customer_erase(customer=aino, source=ErasureSource.ADMIN)

    clock.now = START + datetime.timedelta(days=400)
    assert birthday_reward_grant(customer=aino, year=2027) is None
    assert win_back_offer_make(customer=aino) is None
