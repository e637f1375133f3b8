"""The demo's month of automation history: thank-yous, birthdays, win-back offers and gratitude
tasks of the last 30 days, made by the real services at their past moments, recorded as sent then
and never mailed today; a second load adds nothing. And the outbox service that records them."""

from __future__ import annotations

import datetime
import itertools
from collections import Counter
from collections.abc import Iterator
from io import StringIO

import pytest
from django.conf import settings as django_settings
from django.core import mail
from django.core.cache import cache
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone

from campaigns.models import BirthdayReward, GratitudeTask, WinBackOffer
from customers.default_templates import default_templates_load
from customers.models import Channel, ConsentSource, Customer, Message, MessageTemplate
from customers.outbox import message_deliver, message_queue, message_record_past
from customers.services import customer_consent_set
from loyalty.models import LedgerEntry, Purchase
from loyalty.program import program_cache_clear
from loyalty.verification import ledger_verify
from tests.customers.factories import CustomerFactory

THANK_YOU_DELAY_CACHE_KEY = "campaigns:thank-you-delay"
HISTORY_PURPOSES = ["thank_you", "thank_you_first", "birthday", "win_back"]
CONTEXT = {"points": 18, "balance": 540, "amount": "18.40 EUR", "store": "Kallio", "gift": "", "survey_link": ""}


@pytest.fixture(autouse=True)
def _caches_cleared() -> Iterator[None]:
    """The demo's programme, tiers, rules and thank-you delay are cached for 30 s: drop them, so
    that the tests after these do not see rows that were rolled back."""
    program_cache_clear()
    cache.delete(THANK_YOU_DELAY_CACHE_KEY)
    yield
    program_cache_clear()
    cache.delete(THANK_YOU_DELAY_CACHE_KEY)


def local(day: datetime.date, hour: int = 0, minute: int = 0) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time(hour, minute), tzinfo=timezone.get_default_timezone())


def history() -> dict[str, list[tuple]]:
    """Every row the history writes, with the fields a second load could change."""
    return {
        "messages": list(
            Message.objects.filter(purpose__in=HISTORY_PURPOSES)
            .order_by("pk")
            .values_list("idempotency_key", "status", "suppressed_reason", "created_at", "sent_at", "attempts")
        ),
        "birthdays": list(BirthdayReward.objects.order_by("pk").values_list("customer", "year", "created_at")),
        "win_back": list(WinBackOffer.objects.order_by("pk").values_list("customer", "lapse_started", "created_at")),
        "tasks": list(
            GratitudeTask.objects.order_by("pk").values_list("rule", "purchase", "status", "created_at", "done_at")
        ),
        "gifts": list(
            LedgerEntry.objects.filter(kind=LedgerEntry.Kind.GIFT).order_by("pk").values_list("idempotency_key")
        ),
    }


def load_demo(customers: int = 80) -> str:
    out = StringIO()
    call_command("load_demo", "--customers", str(customers), stdout=out)
    return out.getvalue()


def test_a_second_load_adds_nothing_to_the_history(db, settings, tmp_path):
    settings.VAR_DIR = tmp_path
    load_demo()
    first = history()

    load_demo()

    assert history() == first
    assert all(first.values())  # there was history to repeat
    assert ledger_verify() == []


def test_the_demo_holds_a_month_of_automation_history_never_mailed(db, settings, tmp_path):
    settings.VAR_DIR = tmp_path

    output = load_demo()

    today = timezone.localdate()
    assert "Campaign history, the last 30 days: " in output
    assert_thank_yous(start=local(today - datetime.timedelta(days=30)), end=local(today))
    assert_birthdays_and_win_back(today=today)
    assert_gratitude_tasks(today=today)
    history_messages = Message.objects.filter(purpose__in=HISTORY_PURPOSES)
    assert not history_messages.filter(status__in=["pending", "sending"]).exists()
    # What the send task enqueued with each of them would do now: nothing.
    assert {message_deliver(pk) for pk in history_messages.values_list("pk", flat=True)} == {None}
    assert mail.outbox == []


def assert_thank_yous(*, start: datetime.datetime, end: datetime.datetime) -> None:
    """A thank-you right after each purchase of the month (delay 0), in the customer's language,
    sent, or not sent for want of consent; the cooldown as at each purchase."""
    thank_yous = Message.objects.filter(purpose__in=["thank_you", "thank_you_first"]).select_related("customer")
    assert thank_yous.count() > 10
    purchases = Purchase.objects.in_bulk([int(message.idempotency_key.split(":")[1]) for message in thank_yous])
    for message in thank_yous:
        purchase = purchases[int(message.idempotency_key.split(":")[1])]
        assert start <= message.created_at == message.send_after == purchase.occurred_at < end
        assert message.language == message.customer.language
        if message.status == "sent":
            assert (message.sent_at, message.attempts, bool(message.subject)) == (message.created_at, 1, True)
        else:
            assert (message.status, message.body) == ("suppressed", "")
            assert message.suppressed_reason in {"no_consent", "frequency_cap"}
            assert message.customer.email_consent is (message.suppressed_reason != "no_consent")
    assert Counter(thank_yous.values_list("status", flat=True)).keys() == {"sent", "suppressed"}
    assert set(thank_yous.values_list("language", flat=True)) == {"en", "fi", "ru"}
    sent = thank_yous.filter(status="sent")
    for customer_id in set(sent.values_list("customer", flat=True)):
        times = sorted(sent.filter(customer=customer_id).values_list("created_at", flat=True))
        assert all(later - earlier >= datetime.timedelta(days=14) for earlier, later in itertools.pairwise(times))


def assert_birthdays_and_win_back(*, today: datetime.date) -> None:
    """Birthdays that fell in the month, rewarded at the send hour; win-back offers at the daily
    run's 10:30, each to a customer then 90 days without a purchase."""
    rewards = list(BirthdayReward.objects.select_related("message", "customer"))
    assert len(rewards) > 2
    for reward in rewards:
        assert today - datetime.timedelta(days=30) <= reward.birthday < today
        born = reward.customer.birth_date
        assert (reward.birthday.month, reward.birthday.day) == (born.month, born.day)
        assert reward.created_at == reward.message.created_at == local(reward.birthday, 9)
        assert reward.message.status in {"sent", "suppressed"}
    offers = list(WinBackOffer.objects.select_related("message"))
    assert len(offers) > 2
    for offer in offers:
        at = offer.created_at.astimezone(timezone.get_default_timezone())
        assert today - datetime.timedelta(days=30) <= at.date() < today
        assert (at.time(), offer.message.created_at) == (datetime.time(10, 30), offer.created_at)
        assert (at.date() - offer.lapse_started).days >= 90


def assert_gratitude_tasks(*, today: datetime.date) -> None:
    """Tasks for the demo staff user, made with their purchase; the older past-due ones closed on
    their due day, done or skipped, the rest open."""
    tasks = list(GratitudeTask.objects.select_related("assignee", "purchase", "done_by"))
    assert {task.assignee.username for task in tasks} == {django_settings.DEMO_STAFF_EMAIL}
    for task in tasks:
        assert task.created_at == task.purchase.occurred_at
        if task.status == "open":
            assert (task.done_at, task.done_by) == (None, None)
        else:
            assert (task.done_by, task.done_at) == (task.assignee, local(task.due_on, 14))
            assert task.due_on < today
            assert task.outcome_note
    assert Counter(task.status for task in tasks).keys() == {"done", "skipped", "open"}


# --- The outbox: a message of the past ----------------------------------------------------------


@pytest.fixture
def aino(db):
    default_templates_load(MessageTemplate)
    customer = CustomerFactory(email="aino@example.fi", first_name="Aino", language="fi")
    customer_consent_set(customer=customer, channel=Channel.EMAIL, granted=True, source=ConsentSource.PORTAL)
    return customer


def queue(customer: Customer, key: str, *, is_marketing: bool = True) -> Message:
    return message_queue(
        customer=customer, purpose="thank_you", idempotency_key=key, context=CONTEXT, is_marketing=is_marketing
    )


def test_a_message_of_the_past_is_recorded_as_sent_then_and_never_mailed(
    aino, settings, django_capture_on_commit_callbacks
):
    from celery import current_app

    at = timezone.now() - datetime.timedelta(days=10)
    settings.CELERY_TASK_ALWAYS_EAGER = True
    current_app.conf.task_always_eager = True
    try:
        with django_capture_on_commit_callbacks(execute=True) as callbacks, transaction.atomic():
            recorded = message_record_past(message=queue(aino, "thank-you:1"), at=at)
    finally:
        current_app.conf.task_always_eager = False

    assert len(callbacks) == 1  # the send task was enqueued, ran, and found nothing to send
    assert mail.outbox == []
    assert (recorded.status, recorded.created_at, recorded.send_after, recorded.sent_at, recorded.attempts) == (
        "sent",
        at,
        at,
        at,
        1,
    )
    assert recorded.subject == "Kiitos, Aino!"
    assert recorded.provider_id == ""


def test_the_frequency_cap_is_counted_over_the_week_before_the_moment(aino, settings):
    settings.MARKETING_CAP_COUNT = 2
    settings.MARKETING_CAP_DAYS = 7
    at = timezone.now() - datetime.timedelta(days=20)
    for days, key in ((9, "old"), (6, "a"), (1, "b")):  # the first is out of the week
        message_record_past(message=queue(aino, key), at=at - datetime.timedelta(days=days))
    message_record_past(message=queue(aino, "transactional", is_marketing=False), at=at - datetime.timedelta(days=2))

    capped = message_record_past(message=queue(aino, "capped"), at=at)
    earlier = message_record_past(message=queue(aino, "earlier"), at=at - datetime.timedelta(days=7, hours=1))

    assert (capped.status, capped.suppressed_reason, capped.created_at, capped.body) == (
        "suppressed",
        "frequency_cap",
        at,
        "",
    )
    assert (earlier.status, earlier.created_at) == ("sent", at - datetime.timedelta(days=7, hours=1))


def test_a_suppressed_message_moves_to_its_moment_and_a_repeat_changes_nothing(aino):
    customer_consent_set(customer=aino, channel=Channel.EMAIL, granted=False, source=ConsentSource.PORTAL)
    at = timezone.now() - datetime.timedelta(days=3)
    suppressed = message_record_past(message=queue(aino, "no-consent"), at=at)
    sent_now = queue(aino, "transactional", is_marketing=False)
    assert message_deliver(sent_now.pk) is not None
    before = list(Message.objects.order_by("pk").values())

    message_record_past(message=suppressed, at=at)
    message_record_past(message=sent_now, at=at)

    assert (suppressed.status, suppressed.suppressed_reason, suppressed.created_at) == ("suppressed", "no_consent", at)
    assert suppressed.send_after == at
    assert list(Message.objects.order_by("pk").values()) == before
