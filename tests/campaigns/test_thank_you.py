"""The thank-you after a purchase: from the event or the sweep, once, personal, within consent."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.core import mail
from django.utils import timezone

from campaigns import receivers, services, tasks
from campaigns.models import ThankYouSettings
from customers.models import Message
from customers.outbox import message_deliver
from customers.services import customer_register
from loyalty.models import LedgerEntry
from tests.customers.factories import PartnerFactory
from tests.loyalty.factories import base_rate, purchase_make


@pytest.fixture
def config(db):
    base_rate()
    return ThankYouSettings.objects.create(pk=1, delay_minutes=0, min_amount=Decimal("5.00"), cooldown_days=14)


@pytest.fixture
def aino(db):
    return customer_register(email="aino@example.fi", first_name="Aino", language="fi", email_consent=True).customer


def test_a_purchase_is_thanked_once_in_the_customers_language(config, aino):
    purchase = purchase_make(customer=aino, partner=PartnerFactory(), amount="18.40")

    first = services.thank_you_send(purchase_id=purchase.pk)
    again = services.thank_you_send(purchase_id=purchase.pk)

    assert first is not None
    assert again.pk == first.pk
    assert Message.objects.count() == 1
    assert first.purpose == "thank_you_first"
    assert first.language == "fi"
    assert "Aino" in first.body
    assert "Kiitos" in first.subject or "Tervetuloa" in first.subject
    assert message_deliver(first.pk) is not None
    assert [email.to for email in mail.outbox] == [["aino@example.fi"]]


def test_the_second_purchase_gets_the_usual_thank_you_after_the_cooldown(config, aino):
    partner = PartnerFactory()
    earlier = purchase_make(
        customer=aino, partner=partner, amount="10.00", occurred_at=timezone.now() - datetime.timedelta(days=30)
    )
    services.thank_you_send(purchase_id=earlier.pk, now=timezone.now() - datetime.timedelta(days=30))
    Message.objects.update(created_at=timezone.now() - datetime.timedelta(days=30))
    later = purchase_make(customer=aino, partner=partner, amount="12.00")

    message = services.thank_you_send(purchase_id=later.pk)

    assert message.purpose == "thank_you"


def test_within_the_cooldown_the_customer_is_not_thanked_again(config, aino):
    partner = PartnerFactory()
    services.thank_you_send(purchase_id=purchase_make(customer=aino, partner=partner, amount="10.00").pk)

    assert services.thank_you_send(purchase_id=purchase_make(customer=aino, partner=partner, amount="11.00").pk) is None
    assert Message.objects.count() == 1


@pytest.mark.parametrize(("amount", "enabled"), [("4.99", True), ("50.00", False)])
def test_small_purchases_and_a_switched_off_automation_send_nothing(config, aino, amount, enabled):
    config.is_enabled = enabled
    config.save()
    purchase = purchase_make(customer=aino, partner=PartnerFactory(), amount=amount)

    assert services.thank_you_send(purchase_id=purchase.pk) is None
    assert Message.objects.count() == 0


def test_without_consent_the_thank_you_is_recorded_as_not_sent(config):
    customer = customer_register(email="ville@example.fi", first_name="Ville", language="fi").customer
    purchase = purchase_make(customer=customer, partner=PartnerFactory(), amount="20.00")

    message = services.thank_you_send(purchase_id=purchase.pk)

    assert (message.status, message.suppressed_reason) == ("suppressed", "no_consent")
    assert message_deliver(message.pk) is None
    assert mail.outbox == []


def test_a_big_purchase_earns_the_thank_you_gift_once(config, aino):
    config.gift_points = 50
    config.gift_min_amount = Decimal("100.00")
    config.save()
    purchase = purchase_make(customer=aino, partner=PartnerFactory(), amount="120.00")

    message = services.thank_you_send(purchase_id=purchase.pk)
    services.thank_you_send(purchase_id=purchase.pk)

    gifts = LedgerEntry.objects.filter(kind=LedgerEntry.Kind.GIFT)
    assert [gift.amount for gift in gifts] == [50]
    assert "50" in message.body


def test_the_sweep_finds_purchases_whose_event_was_lost(config, aino):
    purchase = purchase_make(customer=aino, partner=PartnerFactory(), amount="18.40")
    later = timezone.now() + datetime.timedelta(minutes=5)

    assert services.thank_you_missing(now=later) == [purchase.pk]
    services.thank_you_send(purchase_id=purchase.pk)
    assert services.thank_you_missing(now=later) == []


@pytest.mark.parametrize("reason", ["cooldown", "refunded", "old receipt"])
def test_the_sweep_leaves_alone_what_the_thank_you_would_skip(config, aino, reason):
    partner = PartnerFactory()
    now = timezone.now()
    if reason == "cooldown":
        services.thank_you_send(purchase_id=purchase_make(customer=aino, partner=partner, amount="18.40").pk)
    purchase = purchase_make(
        customer=aino,
        partner=partner,
        amount="18.40",
        occurred_at=now - datetime.timedelta(hours=72) if reason == "old receipt" else now,
    )
    if reason == "refunded":
        from loyalty.services import refund_record

        refund_record(purchase=purchase, external_id="r-1", amount=Decimal("18.40"))
    later = now + datetime.timedelta(minutes=5)

    assert services.thank_you_send(purchase_id=purchase.pk, now=later) is None  # what the task would do
    assert services.thank_you_missing(now=later) == []  # so the sweep does not pick it again


def test_the_sweep_task_enqueues_and_the_task_thanks(config, aino, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    from celery import current_app

    current_app.conf.task_always_eager = True
    try:
        purchase = purchase_make(customer=aino, partner=PartnerFactory(), amount="18.40")
        Message.objects.all().delete()  # the on-commit enqueue ran eagerly too; pretend it was lost
        from loyalty.models import Purchase

        Purchase.objects.filter(pk=purchase.pk).update(created_at=timezone.now() - datetime.timedelta(minutes=5))

        assert tasks.thank_you_sweep_task() == 1
    finally:
        current_app.conf.task_always_eager = False
    assert Message.objects.filter(idempotency_key=f"thank-you:{purchase.pk}").count() == 1


def test_the_receiver_survives_a_broker_that_is_down(config, monkeypatch, caplog):
    def broker_down(*args, **kwargs):
        raise ConnectionRefusedError("broker down")

    monkeypatch.setattr(tasks.thank_you_task, "apply_async", broker_down)

    receivers.on_purchase_recorded(purchase_id=12345)

    assert "the sweep will" in caplog.text


def test_an_old_purchase_sent_late_is_not_thanked(config, aino):
    purchase = purchase_make(
        customer=aino, partner=PartnerFactory(), amount="30.00", occurred_at=timezone.now() - datetime.timedelta(days=3)
    )

    assert services.thank_you_send(purchase_id=purchase.pk) is None
    assert Message.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_demo_history_is_recorded_without_reactions(monkeypatch):
    from core.events import events_muted

    seen = []
    monkeypatch.setattr(receivers, "on_purchase_recorded", lambda **kwargs: seen.append(kwargs))
    from loyalty.signals import purchase_recorded

    purchase_recorded.connect(receivers.on_purchase_recorded, dispatch_uid="test.seen")
    try:
        base_rate()
        customer = customer_register(email="x@example.fi").customer
        with events_muted():
            purchase_make(customer=customer, partner=PartnerFactory(), amount="10.00")
        assert seen == []
        purchase_make(customer=customer, partner=PartnerFactory(), amount="11.00")
        assert len(seen) == 1
    finally:
        purchase_recorded.disconnect(dispatch_uid="test.seen")


@pytest.mark.django_db
@pytest.mark.parametrize("model_name", ["thankyousettings", "birthdaysettings", "winbacksettings"])
def test_each_automations_settings_open_on_their_single_row(client, model_name):
    from django.urls import reverse

    from customers.models import User

    client.force_login(User.objects.create_superuser(username="boss", password="x"))

    response = client.get(reverse(f"admin:campaigns_{model_name}_changelist"))

    assert response.status_code == 302
    assert response["Location"] == reverse(f"admin:campaigns_{model_name}_change", args=[1])
    assert client.get(response["Location"]).status_code == 200
