"""The broker is down while purchases arrive: a real web server whose broker refuses every
connection records the purchase (201); once the broker is back, the sweep finds the purchase that
was never thanked and the thank-you goes out, once."""

from __future__ import annotations

import datetime
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from campaigns import services as campaign_services
from campaigns.models import ThankYouSettings
from customers.default_templates import default_templates_load
from customers.models import Message, MessageTemplate, Partner
from customers.services import customer_register, partner_key_create
from loyalty.models import Purchase
from tests.loyalty.factories import base_rate

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def server_without_broker(tmp_path):
    """runserver on the test database, its broker a loopback port where nothing listens."""
    port = free_port()
    settings_dict = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_ENV": "development",
        "DEBUG": "false",
        "DATABASE_URL": f"postgres://{settings_dict['USER']}@{settings_dict['HOST']}:{settings_dict['PORT']}/"
        f"{settings_dict['NAME']}",
        "CELERY_BROKER_URL": f"redis://127.0.0.1:{free_port()}/0",  # closed: every connection refused
        "VAR_DIR": str(tmp_path),
        "LOG_LEVEL": "WARNING",
    }
    process = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2).close()
            break
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                pytest.fail("the web server did not start: " + process.communicate()[0].decode(errors="replace"))
            time.sleep(0.2)  # polling a starting server, with a deadline
    yield f"http://127.0.0.1:{port}"
    process.terminate()
    process.wait(timeout=30)


def test_purchases_are_recorded_while_the_broker_is_down_and_thanked_after(server_without_broker):
    base_rate()
    default_templates_load(MessageTemplate)  # an earlier transactional test may have flushed them
    ThankYouSettings.objects.create(pk=1, delay_minutes=0)
    partner = Partner.objects.create(name="POS")
    _row, key = partner_key_create(partner=partner, scopes=["purchases:write"])
    customer = customer_register(email="aino@example.fi", first_name="Aino", language="fi", email_consent=True).customer
    body = {
        "external_id": "K-1",
        "customer": str(customer.public_id),
        "amount": "24.60",
        "currency": "EUR",
        "occurred_at": timezone.now().isoformat(),
        "store": "Kallio",
    }
    request = urllib.request.Request(
        f"{server_without_broker}/api/v1/purchases/",
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Authorization": f"Api-Key {key}", "Content-Type": "application/json"},
    )

    with urllib.request.urlopen(request, timeout=30) as response:
        status, answer = response.status, json.loads(response.read())

    assert status == 201
    assert answer["points_earned"] == 24
    purchase = Purchase.objects.get(external_id="K-1")
    assert Message.objects.count() == 0  # the enqueue failed: nothing was sent

    # The broker is back: the sweep finds the unthanked purchase, the thank-you goes out once.
    later = timezone.now() + datetime.timedelta(minutes=5)
    assert campaign_services.thank_you_missing(now=later) == [purchase.pk]
    message = campaign_services.thank_you_send(purchase_id=purchase.pk)
    assert campaign_services.thank_you_missing(now=later) == []
    assert campaign_services.thank_you_send(purchase_id=purchase.pk).pk == message.pk
    assert (message.status, message.language) == ("pending", "fi")
    assert "Aino" in message.body
