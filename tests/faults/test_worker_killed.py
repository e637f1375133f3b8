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

import asyncio
import datetime
import email
import email.policy
import itertools
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from celery import Celery
from django.db import connection
from django.utils import timezone

from campaigns.models import ThankYouSettings
from campaigns.services import THANK_YOU_PURPOSES, thank_you_key
from core.events import events_muted
from customers.default_templates import default_templates_load
from customers.models import Customer, Message, MessageTemplate, Partner
from customers.services import customer_register
from loyalty.models import LedgerEntry, Purchase
from tests.loyalty.factories import base_rate, purchase_make

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]
ROOT = Path(__file__).resolve().parents[2]

CUSTOMERS = 60  # one purchase each; the first half is queued before the worker starts
HOLD_AFTER = 5  # the SMTP server holds the conversation that follows this many deliveries
# The test worker's clock, short so that recovery takes seconds, in the production relation:
# time limit < message lease (a send is never taken from a live worker) < visibility timeout.
WORKER_SETTINGS = {
    "CELERY_TASK_SOFT_TIME_LIMIT": "10",
    "CELERY_TASK_TIME_LIMIT": "12",
    "MESSAGE_LEASE_SECONDS": "15",
    "CELERY_MAX_COUNTDOWN": "10",
    "CELERY_VISIBILITY_TIMEOUT": "20",
}
SWEEPS = ("campaigns.tasks.thank_you_sweep_task", "customers.tasks.messages_sweep_task")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(condition: Callable[[], bool], *, seconds: float, what: str, tick: Callable[[], None] | None = None):
    """Poll ``condition`` until it holds; fail with ``what`` at the deadline."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {seconds} s waiting for {what}")
        if tick is not None:
            tick()
        time.sleep(0.2)  # polling, with a deadline


class SlowSmtpServer:
    """Accepts every mail, at a server's pace, and holds the conversation that follows
    ``hold_after`` deliveries at RCPT until ``release()``: a mail is delivered only once the
    server has its DATA, so a client killed while held has delivered nothing."""

    def __init__(self, hold_after: int) -> None:
        self.hold_after = hold_after
        self.delivered: list[Envelope] = []
        self.held = 0
        self._lock = threading.Lock()
        self._released = threading.Event()

    def release(self) -> None:
        self._released.set()

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        await asyncio.sleep(0.02)  # a real server takes a moment
        with self._lock:
            hold = len(self.delivered) >= self.hold_after and not self._released.is_set()
            self.held += int(hold)
        while hold and not self._released.is_set():
            await asyncio.sleep(0.05)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        with self._lock:
            self.delivered.append(envelope)
        return "250 Message accepted for delivery"

    def keys(self) -> Counter[str]:
        """How many times each outbox message (by its key) was delivered."""
        with self._lock:
            envelopes = list(self.delivered)
        return Counter(
            str(email.message_from_bytes(bytes(envelope.content), policy=email.policy.default)["X-Vastavuoro-Message"])
            for envelope in envelopes
        )


@pytest.fixture
def smtp_server() -> Iterator[tuple[SlowSmtpServer, int]]:
    server = SlowSmtpServer(hold_after=HOLD_AFTER)
    controller = Controller(server, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield server, controller.port
    finally:
        server.release()
        controller.stop()


@pytest.fixture
def broker() -> Iterator[tuple[str, redis.Redis]]:
    """The test's Redis database, empty before and after."""
    url = os.environ["TEST_REDIS_URL"]
    client = redis.Redis.from_url(url)
    client.flushdb()
    try:
        yield url, client
    finally:
        client.flushdb()
        client.close()


@pytest.fixture
def start_worker(
    tmp_path: Path, broker: tuple[str, redis.Redis], smtp_server: tuple[SlowSmtpServer, int]
) -> Iterator[Callable[[], subprocess.Popen[bytes]]]:
    """Start real workers, each in its own process group; every one still running is stopped at
    the end, also when the test fails."""
    settings_dict = connection.settings_dict
    password = f":{settings_dict['PASSWORD']}" if settings_dict.get("PASSWORD") else ""
    env = {
        **os.environ,
        "DJANGO_ENV": "test",
        "DEBUG": "false",
        "DATABASE_URL": f"postgres://{settings_dict['USER']}{password}@{settings_dict['HOST']}:"
        f"{settings_dict['PORT']}/{settings_dict['NAME']}",
        "CELERY_BROKER_URL": broker[0],
        "CELERY_RESULT_BACKEND": "",
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "REDIS_URL": "",
        "EMAIL_URL": f"smtp://127.0.0.1:{smtp_server[1]}",
        "VAR_DIR": str(tmp_path),
        "LOG_LEVEL": "INFO",
        **WORKER_SETTINGS,
    }
    workers: list[subprocess.Popen[bytes]] = []
    logs = []

    def start() -> subprocess.Popen[bytes]:
        number = len(workers) + 1
        log = (tmp_path / f"worker-{number}.log").open("wb")
        logs.append(log)
        worker = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "--pool=prefork",
                "--concurrency=2",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "--loglevel=INFO",
                f"--hostname=killed-test-{number}@%h",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: the pool processes die with it
        )
        workers.append(worker)
        return worker

    try:
        yield start
    finally:
        for worker in workers:
            if worker.poll() is None:
                os.killpg(worker.pid, signal.SIGTERM)
                try:
                    worker.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(worker.pid, signal.SIGKILL)
                    worker.wait(timeout=30)
        for log in logs:
            log.close()
        for path in sorted(tmp_path.glob("worker-*.log")):  # pytest shows them when the test fails
            print(f"--- {path.name}", path.read_text(errors="replace")[-4000:], sep="\n")


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


@pytest.fixture
def producer(broker: tuple[str, redis.Redis]) -> Iterator[Celery]:
    """Sends tasks by name to the test's Redis, as the web processes and beat do. Not the current
    app: the suite's own app and its settings stay as they are."""
    client = Celery("worker-killed-test", broker=broker[0], set_as_current=False)
    client.conf.update(accept_content=["json"], task_serializer="json", broker_connection_retry_on_startup=True)
    try:
        yield client
    finally:
        client.close()


def test_a_worker_killed_mid_batch_thanks_every_customer_once(purchases, start_worker, smtp_server, broker, producer):
    server, _port = smtp_server
    _url, redis_client = broker
    first_half, second_half = purchases[: CUSTOMERS // 2], purchases[CUSTOMERS // 2 :]
    blocked = first_half[10]
    settings_dict = connection.settings_dict
    checkout = psycopg.connect(
        host=settings_dict["HOST"],
        port=settings_dict["PORT"],
        user=settings_dict["USER"],
        password=settings_dict.get("PASSWORD") or None,
        dbname=settings_dict["NAME"],
    )

    def thank(batch: list[Purchase]) -> None:
        for purchase in batch:
            producer.send_task("campaigns.tasks.thank_you_task", kwargs={"purchase_id": purchase.pk})

    def waiting_for_a_lock() -> bool:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            return cursor.fetchone()[0] > 0

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
    assert len(server.delivered) == HOLD_AFTER
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
