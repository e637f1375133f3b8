"""A worker killed (SIGKILL) in the middle of a thank-you batch and started again: every customer
thanked once, none twice, none left out.

A real Celery worker (prefork, two processes) runs on the test database with a real Redis broker
and sends through a real SMTP server (aiosmtpd, in this process). The kill lands mid-batch, at a
known point: one worker process is inside a thank-you, waiting for a customer row that another
transaction holds (as a busy checkout would); the other is in the middle of an SMTP conversation
(the server holds it at RCPT, as a slow server does); thank-yous and sends are still queued. A new
worker, the sweeps (as beat would run them) and Redis's redelivery of the two unacknowledged tasks
then finish the batch. Both layers are checked: one thank-you row per purchase, one delivered
e-mail per row, one thank-you gift per customer.
"""

from __future__ import annotations

import datetime
import itertools
import os
import signal
import time
from collections import Counter
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from campaigns.models import ThankYouSettings
from campaigns.services import THANK_YOU_PURPOSES, thank_you_key
from core.events import events_muted
from customers.default_templates import default_templates_load
from customers.models import Customer, Message, MessageTemplate, Partner
from customers.services import customer_register
from loyalty.models import LedgerEntry, Purchase
from tests.faults.conftest import second_connection, wait_until, waiting_for_a_lock
from tests.loyalty.factories import base_rate, purchase_make

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]

CUSTOMERS = 60  # one purchase each; the first half is queued before the worker starts
SMTP_HOLD_AFTER = 5  # the SMTP server holds the conversation that follows this many deliveries
SWEEPS = ("campaigns.tasks.thank_you_sweep_task", "customers.tasks.messages_sweep_task")


@pytest.fixture
def purchases() -> list[Purchase]:
    """One purchase for each of ``CUSTOMERS`` customers who agreed to e-mail, in three languages,
    recorded ten minutes ago with their events muted: the test enqueues the thank-yous itself,
    and the thank-you sweep sees them as due (it leaves the last minute to the events)."""
    base_rate()
    default_templates_load(MessageTemplate)  # an earlier transactional test may have flushed them
    ThankYouSettings.objects.update_or_create(
        pk=1, defaults={"delay_minutes": 0, "min_amount": Decimal("5.00"), "gift_points": 10, "gift_min_amount": 1}
    )
    partner = Partner.objects.create(name="POS")
    languages = itertools.cycle(["fi", "ru", "en"])
    ten_minutes_ago = timezone.now() - datetime.timedelta(minutes=10)
    made = []
    with events_muted():
        for index in range(CUSTOMERS):
            customer = customer_register(
                email=f"asiakas{index}@example.fi",
                first_name=f"Asiakas{index}",
                language=next(languages),
                email_consent=True,
            ).customer
            made.append(purchase_make(customer=customer, partner=partner, amount="24.60", occurred_at=ten_minutes_ago))
    Purchase.objects.update(created_at=ten_minutes_ago)
    return made


def thank_yous() -> Any:
    return Message.objects.filter(purpose__in=THANK_YOU_PURPOSES)


def test_a_worker_killed_mid_batch_thanks_every_customer_once(purchases, start_worker, smtp_server, broker, producer):
    server, _port = smtp_server
    _url, redis_client = broker
    first_half, second_half = purchases[: CUSTOMERS // 2], purchases[CUSTOMERS // 2 :]
    blocked = first_half[10]
    checkout = second_connection()

    def thank(batch: list[Purchase]) -> None:
        for purchase in batch:
            producer.send_task("campaigns.tasks.thank_you_task", kwargs={"purchase_id": purchase.pk})

    try:
        # A checkout holds one customer's row: the worker that thanks that customer waits for it.
        checkout.execute(f"SELECT 1 FROM {Customer._meta.db_table} WHERE id = %s FOR UPDATE", [blocked.customer_id])
        thank(first_half)
        first = start_worker()
        wait_until(lambda: len(server.delivered) > 0, seconds=120, what="the first e-mail")
        thank(second_half)  # queued behind the first half's sends
        wait_until(
            lambda: server.held == 1 and waiting_for_a_lock(),
            seconds=120,
            what="a send held by the SMTP server and a thank-you waiting for its customer",
        )

        os.killpg(first.pid, signal.SIGKILL)
        first.wait(timeout=30)
    finally:
        checkout.rollback()  # the checkout ends; the killed worker's transaction rolls back
        checkout.close()
        server.release()

    # The batch, as the kill left it: some thanked, some sent, two tasks taken and never acknowledged.
    in_flight = thank_yous().get(status=Message.Status.SENDING)
    thanked_at_kill = thank_yous().count()
    assert 0 < thanked_at_kill < CUSTOMERS
    assert not thank_yous().filter(idempotency_key=thank_you_key(blocked.pk)).exists()
    assert len(server.delivered) == SMTP_HOLD_AFTER
    assert redis_client.hlen("unacked") == 2

    start_worker()
    last_sweep = 0.0

    def sweep() -> None:  # what beat does, every few seconds here
        nonlocal last_sweep
        if time.monotonic() - last_sweep > 5:
            last_sweep = time.monotonic()
            for name in SWEEPS:
                producer.send_task(name)

    def finished() -> bool:
        sent = thank_yous().filter(status=Message.Status.SENT).count()
        settled = redis_client.llen("celery") == 0 and redis_client.hlen("unacked") == 0
        return sent == CUSTOMERS and len(server.delivered) >= CUSTOMERS and settled and last_sweep > 0

    wait_until(finished, seconds=240, what="the batch to finish after the restart", tick=sweep)

    expected = {thank_you_key(purchase.pk) for purchase in purchases}
    rows = list(thank_yous().values_list("idempotency_key", "status", "to_address"))
    assert sorted(key for key, _status, _to in rows) == sorted(expected)
    assert {status for _key, status, _to in rows} == {"sent"}
    delivered = server.keys()
    assert set(delivered) == expected
    assert [key for key, times in delivered.items() if times > 1] == []
    assert sorted(address for envelope in server.delivered for address in envelope.rcpt_tos) == sorted(
        to for _key, _status, to in rows
    )
    # The send the kill interrupted was taken again, once, after its lease ran out.
    in_flight.refresh_from_db()
    assert (in_flight.status, in_flight.attempts) == ("sent", 2)
    gifts = Counter(LedgerEntry.objects.filter(kind=LedgerEntry.Kind.GIFT).values_list("account__customer", flat=True))
    assert len(gifts) == CUSTOMERS
    assert set(gifts.values()) == {1}
