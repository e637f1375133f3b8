"""A worker killed (SIGKILL) in the middle of a campaign's fan-out and started again: the campaign
completes with no customer rewarded or messaged twice, none left out, never past its stock, and the
holdout is the set its stored seed draws.

450 customers who agreed to e-mail, a 10 % holdout, a 10-point gift with a stock of 300: the 405
treated fall into three batches (200, 200, 5). A real worker (prefork, two processes) gives the first
batch; the second is taken and held at a customer row that another transaction locks (a busy
checkout), so the kill lands inside it; the third is queued. A new worker and Redis's redelivery of
the unacknowledged tasks then finish the campaign: the stock runs out inside the second batch.
"""

from __future__ import annotations

import hashlib
import os
import signal
import time
from collections import Counter
from decimal import Decimal

import pytest
from django.utils import timezone

from campaigns import launch
from campaigns.models import Campaign, CampaignRecipient, GiftKind
from customers.default_templates import default_templates_load
from customers.models import Customer, Language, Message, MessageTemplate
from loyalty.models import LedgerEntry
from tests.faults.conftest import second_connection, wait_until, waiting_for_a_lock
from tests.loyalty.factories import base_rate

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]

CUSTOMERS = 450
STOCK = 300
SWEEPS = ("customers.tasks.messages_sweep_task",)


@pytest.fixture
def campaign() -> Campaign:
    base_rate()
    default_templates_load(MessageTemplate)  # an earlier transactional test may have flushed them
    now = timezone.now()
    languages = [Language.FINNISH, Language.RUSSIAN, Language.ENGLISH]
    Customer.objects.bulk_create(
        [
            Customer(
                email=f"lahja{n}@example.fi",
                first_name=f"Lahja{n}",
                language=languages[n % 3],
                email_consent=True,
                email_consent_at=now,
            )
            for n in range(CUSTOMERS)
        ]
    )
    return Campaign.objects.create(
        name="Winter thank-you",
        gift_kind=GiftKind.POINTS,
        gift_points=10,
        holdout_percent=Decimal("10"),
        stock=STOCK,
        is_surprise=False,
    )


def seeded_holdout(campaign: Campaign) -> set[int]:
    """The holdout as anyone can recompute it from the stored seed: the audience ranked by
    MD5(seed:customer id), the first 10 %."""
    ranked = sorted(
        Customer.objects.values_list("pk", flat=True),
        key=lambda pk: (hashlib.md5(f"{campaign.holdout_seed}:{pk}".encode()).hexdigest(), pk),
    )
    return set(ranked[: CUSTOMERS // 10])


def test_a_worker_killed_mid_launch_completes_the_campaign_once_for_everyone(
    campaign, start_worker, smtp_server, broker, producer
):
    server, _port = smtp_server
    _url, redis_client = broker
    batches = launch.campaign_launch(campaign_id=campaign.pk)  # the admin's launch: snapshot and holdout
    assert [len(batch) for batch in batches] == [200, 200, 5]
    blocked = CampaignRecipient.objects.get(pk=batches[1][50]).customer_id

    def enqueue(batch: list[int]) -> None:
        producer.send_task(
            "campaigns.tasks.campaign_batch_task", kwargs={"campaign_id": campaign.pk, "recipient_ids": batch}
        )

    def given() -> int:
        return CampaignRecipient.objects.filter(campaign=campaign, status=CampaignRecipient.Status.GIVEN).count()

    checkout = second_connection()
    try:
        checkout.execute(f"SELECT 1 FROM {Customer._meta.db_table} WHERE id = %s FOR UPDATE", [blocked])
        first = start_worker()
        enqueue(batches[0])
        wait_until(lambda: given() == 200, seconds=120, what="the first batch")
        enqueue(batches[1])
        enqueue(batches[2])
        wait_until(waiting_for_a_lock, seconds=120, what="the second batch to wait for its busy customer")
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(timeout=30)
    finally:
        checkout.rollback()  # the checkout ends; the killed worker's transaction rolls back
        checkout.close()

    # As the kill left it: the first batch given, the second rolled back, nothing past it.
    assert given() == 200
    assert CampaignRecipient.objects.filter(campaign=campaign, status="pending").count() == 205
    assert Campaign.objects.get(pk=campaign.pk).status == Campaign.Status.RUNNING

    start_worker()
    last_sweep = 0.0

    def sweep() -> None:  # what beat does, every few seconds here
        nonlocal last_sweep
        if time.monotonic() - last_sweep > 5:
            last_sweep = time.monotonic()
            for name in SWEEPS:
                producer.send_task(name)

    def finished() -> bool:
        done = Campaign.objects.filter(pk=campaign.pk, status=Campaign.Status.COMPLETED).exists()
        sent = Message.objects.filter(purpose="campaign_gift", status=Message.Status.SENT).count()
        settled = redis_client.llen("celery") == 0 and redis_client.hlen("unacked") == 0
        return done and sent == STOCK and len(server.delivered) >= STOCK and settled

    wait_until(finished, seconds=240, what="the campaign to complete after the restart", tick=sweep)

    campaign.refresh_from_db()
    recipients = CampaignRecipient.objects.filter(campaign=campaign)
    assert (campaign.audience_size, campaign.holdout_size, campaign.allocated_count) == (CUSTOMERS, 45, STOCK)
    assert set(recipients.filter(group="holdout").values_list("customer_id", flat=True)) == seeded_holdout(campaign)
    assert Counter(recipients.values_list("status", flat=True)) == {"given": 300, "out_of_stock": 105, "held_out": 45}
    given_to = set(recipients.filter(status="given").values_list("customer_id", flat=True))
    gifts = Counter(LedgerEntry.objects.filter(kind=LedgerEntry.Kind.GIFT).values_list("account__customer", flat=True))
    assert set(gifts) == given_to
    assert set(gifts.values()) == {1}
    keys = [launch.recipient_key(campaign.pk, customer_id) for customer_id in given_to]
    rows = Message.objects.filter(purpose="campaign_gift")
    assert sorted(rows.values_list("idempotency_key", flat=True)) == sorted(keys)
    delivered = server.keys()
    assert set(delivered) == set(keys)
    assert [key for key, times in delivered.items() if times > 1] == []
