"""The outbox through Django's real SMTP backend to a real SMTP server (aiosmtpd on 127.0.0.1):
what a mail provider receives, and its one-click unsubscribe working end to end."""

from __future__ import annotations

import email
import email.policy
import socket
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from django.test import Client

from customers.models import Channel, ConsentEvent, ConsentSource, Customer, Message
from customers.outbox import message_deliver, message_queue, unsubscribe_url
from customers.services import customer_consent_set
from tests.customers.factories import CustomerFactory

CONTEXT = {"points": 18, "balance": 540, "amount": "18.40 EUR", "store": "Kallio", "gift": "", "survey_link": ""}


class RecordingHandler:
    """Keeps every envelope the server accepts, and wakes whoever waits for one."""

    def __init__(self) -> None:
        self.envelopes: list[Envelope] = []
        self.arrived = threading.Condition()

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        with self.arrived:
            self.envelopes.append(envelope)
            self.arrived.notify_all()
        return "250 Message accepted for delivery"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def smtp_server(settings: Any) -> Iterator[RecordingHandler]:
    handler = RecordingHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=_free_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = controller.port
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 10
    try:
        yield handler
    finally:
        controller.stop()


def _received(handler: RecordingHandler, count: int, deadline_seconds: float = 5.0) -> list[Envelope]:
    """The envelopes once ``count`` have arrived or the deadline passed (the controller accepts
    the DATA before the SMTP session returns, so they are usually there already)."""
    with handler.arrived:
        handler.arrived.wait_for(lambda: len(handler.envelopes) >= count, timeout=deadline_seconds)
        return list(handler.envelopes)


@pytest.fixture
def aino(db: None) -> Customer:
    customer = CustomerFactory(email="aino@example.fi", first_name="Aino", language="fi")
    customer_consent_set(customer=customer, channel=Channel.EMAIL, granted=True, source=ConsentSource.PORTAL)
    return customer


def test_a_finnish_thank_you_arrives_once_and_its_one_click_link_unsubscribes(smtp_server, aino, settings):
    settings.PUBLIC_BASE_URL = "https://asiakaskanta.kahvila-esimerkki.fi"
    message = message_queue(
        customer=aino, purpose="thank_you", idempotency_key="thank-you:1", context=CONTEXT, is_marketing=True
    )

    assert message_deliver(message.pk) is not None
    assert message_deliver(message.pk) is None

    (envelope,) = _received(smtp_server, 1)
    assert envelope.rcpt_tos == ["aino@example.fi"]
    raw = bytes(envelope.original_content or envelope.content)
    received = email.message_from_bytes(raw, policy=email.policy.default)
    assert received["To"] == "aino@example.fi"
    assert received["Subject"] == "Kiitos, Aino!"
    body = received.get_content().replace("\r\n", "\n")
    assert body.startswith("Hei Aino,\n\nkiitos, että kävit tänään luonamme (Kallio).")
    assert body.rstrip("\n") == Message.objects.get(pk=message.pk).body
    assert received["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    # The header as the provider reads it: one line, the URL verbatim, no encoded words.
    link = unsubscribe_url(aino)
    header_lines = [line for line in raw.split(b"\r\n\r\n")[0].split(b"\r\n") if line.startswith(b"List-Unsubscribe:")]
    assert header_lines == [f"List-Unsubscribe: <{link}>".encode()]
    assert received["List-Unsubscribe"] == f"<{link}>"
    assert link in body
    assert Message.objects.get(pk=message.pk).status == "sent"

    # The mail provider's one-click request: a bare POST, no cookies, no CSRF token.
    url = received["List-Unsubscribe"].strip("<>")
    assert urlsplit(url).netloc == "asiakaskanta.kahvila-esimerkki.fi"
    response = Client(enforce_csrf_checks=True).post(
        urlsplit(url).path, data="List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded"
    )

    assert response.status_code == 200
    aino.refresh_from_db()
    assert aino.email_consent is False
    assert list(ConsentEvent.objects.filter(customer=aino, is_granted=False).values_list("channel", "source")) == [
        ("email", "unsubscribe")
    ]


def test_a_transactional_mail_arrives_without_unsubscribe_headers(smtp_server, aino):
    message = message_queue(
        customer=aino,
        purpose="voucher_issued",
        idempotency_key="voucher:1",
        context={"voucher_code": "ABCD-EFGH-JKMN", "gift": "5 €"},
        is_marketing=False,
    )

    message_deliver(message.pk)

    (envelope,) = _received(smtp_server, 1)
    received = email.message_from_bytes(bytes(envelope.content), policy=email.policy.default)
    assert received["Subject"] == "Kuponkisi on valmis, Aino"
    assert "ABCD-EFGH-JKMN (5 €)" in received.get_content()
    assert received["List-Unsubscribe"] is None
    assert received["List-Unsubscribe-Post"] is None


def test_an_smtp_server_that_refuses_leaves_the_message_pending(settings, aino):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = _free_port()  # nothing listens there
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_TIMEOUT = 5
    message = message_queue(
        customer=aino, purpose="thank_you", idempotency_key="thank-you:1", context=CONTEXT, is_marketing=True
    )

    with pytest.raises(ConnectionRefusedError):
        message_deliver(message.pk)

    message.refresh_from_db()
    assert (message.status, message.attempts) == ("pending", 1)
    assert message.error.startswith("ConnectionRefusedError: ")
