"""The outbox: a message is a row first (once per key, in the customer's language, within consent
and the frequency cap), enqueued after commit, then claimed and sent exactly once."""

from __future__ import annotations

import contextlib
import datetime
import email.policy
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from smtplib import SMTPServerDisconnected
from typing import Any
from unittest import mock

import pytest
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.db import connections
from django.urls import reverse
from django.utils import timezone

from customers import tasks
from customers.default_templates import DEFAULT_TEMPLATES, default_templates_load
from customers.models import Channel, ConsentSource, Customer, Message, MessageTemplate, User
from customers.outbox import (
    message_claim,
    message_deliver,
    message_queue,
    messages_due,
    unsubscribe_token_check,
    unsubscribe_url,
)
from customers.services import customer_consent_set
from tests.customers.factories import CustomerFactory

CONTEXT = {
    "points": 18,
    "balance": 540,
    "amount": "18.40 EUR",
    "store": "Kallio",
    "gift": "",
    "survey_link": "https://kanta.example.fi/portal/",
}
SUBJECTS = {"en": "Thank you, Aino!", "fi": "Kiitos, Aino!", "ru": "Спасибо, Aino!"}
LEASE = datetime.timedelta(seconds=300)


@pytest.fixture(autouse=True)
def _five_minute_lease(settings):
    """The timings below are written for a five-minute lease, whatever the default is."""
    settings.MESSAGE_LEASE_SECONDS = 300


MESSAGE_CHANGELIST_URL = reverse("admin:customers_message_changelist")


class BrokenEmailBackend(BaseEmailBackend):
    """An SMTP server that hangs up on every message."""

    def send_messages(self, email_messages: Any) -> int:
        raise SMTPServerDisconnected("Connection unexpectedly closed")


class RefusingEmailBackend(BaseEmailBackend):
    """An SMTP server that refuses the recipient, naming the address in the error."""

    def send_messages(self, email_messages: Any) -> int:
        from smtplib import SMTPRecipientsRefused

        raise SMTPRecipientsRefused({email_messages[0].to[0]: (550, b"no such user")})


class RecordingSmsProvider:
    sent: list[tuple[str, str]] = []

    def send(self, *, to: str, body: str) -> str:
        self.sent.append((to, body))
        return f"sms-{len(self.sent)}"


@pytest.fixture(autouse=True)
def enqueued(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """What reached the broker: the on-commit enqueues of ``message_send_task``."""
    calls: list[dict[str, Any]] = []
    lock = threading.Lock()

    def record(*args: Any, **kwargs: Any) -> None:
        with lock:
            calls.append(kwargs)

    monkeypatch.setattr(tasks.message_send_task, "apply_async", record)
    return calls


def customer_make(*, email_consent: bool = True, sms_consent: bool = False, **fields: Any) -> Customer:
    """A customer as the app makes one: the row, then consents through the service."""
    customer = CustomerFactory(**{"first_name": "Aino", "email": "aino@example.fi", "language": "fi", **fields})
    if email_consent:
        customer_consent_set(customer=customer, channel=Channel.EMAIL, granted=True, source=ConsentSource.ADMIN)
    if sms_consent:
        customer_consent_set(customer=customer, channel=Channel.SMS, granted=True, source=ConsentSource.ADMIN)
    return customer


def queue(customer: Customer, key: str = "thank-you:1", **overrides: Any) -> Message:
    arguments: dict[str, Any] = {
        "customer": customer,
        "purpose": "thank_you",
        "idempotency_key": key,
        "context": CONTEXT,
        "is_marketing": True,
        **overrides,
    }
    return message_queue(**arguments)


def voucher(customer: Customer, key: str = "voucher:1") -> Message:
    return queue(customer, key, purpose="voucher_issued", is_marketing=False, context={"voucher_code": "ABCD-EFGH"})


def row(message: Message) -> dict[str, Any]:
    return Message.objects.filter(pk=message.pk).values(
        "status", "suppressed_reason", "attempts", "error", "lease_until"
    )[0]


@pytest.fixture
def aino(db: None) -> Customer:
    return customer_make()


# --- message_queue: language and text --------------------------------------------------------------


@pytest.mark.parametrize("language", ["en", "fi", "ru"])
def test_the_message_is_written_in_the_customers_language(db, language, settings, django_capture_on_commit_callbacks):
    settings.PUBLIC_BASE_URL = "https://kanta.example.fi"
    customer = customer_make(language=language)
    before = timezone.now()

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        message = queue(customer)

    message.refresh_from_db()
    link = unsubscribe_url(customer)
    assert (message.status, message.suppressed_reason, message.language) == ("pending", "", language)
    assert (message.to_address, message.channel, message.is_marketing) == ("aino@example.fi", "email", True)
    assert message.subject == SUBJECTS[language]
    assert message.body == DEFAULT_TEMPLATES[("thank_you", language)][1].format(
        **{**CONTEXT, "first_name": "Aino", "unsubscribe_link": link}
    )
    assert before <= message.send_after <= timezone.now()
    assert message.attempts == 0
    assert len(callbacks) == 1


@pytest.mark.parametrize("how", ["deleted", "inactive"])
def test_without_a_template_in_the_customers_language_english_is_used(aino, how):
    finnish = MessageTemplate.objects.filter(purpose="thank_you", language="fi", channel="email")
    if how == "deleted":
        finnish.delete()
    else:
        finnish.update(is_active=False)

    message = queue(aino)

    assert (message.status, message.language, message.subject) == ("pending", "en", "Thank you, Aino!")
    assert message.body.startswith("Hi Aino,\n\nthank you for visiting us at Kallio today.")


def test_without_any_template_the_message_is_suppressed(aino, django_capture_on_commit_callbacks):
    MessageTemplate.objects.filter(purpose="thank_you").delete()

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        message = queue(aino)

    assert (message.status, message.suppressed_reason, message.language) == ("suppressed", "no_template", "fi")
    assert (message.subject, message.body) == ("", "")
    assert callbacks == []


def test_an_sms_without_an_sms_template_is_suppressed(db):
    customer = customer_make(email_consent=False, sms_consent=True, phone="+358401234567")

    message = queue(customer, channel=Channel.SMS)

    assert (message.status, message.suppressed_reason, message.to_address) == (
        "suppressed",
        "no_template",
        "+358401234567",
    )


def test_a_line_break_in_the_name_does_not_reach_the_subject(db):
    customer = customer_make(first_name="Aino\r\nBcc: everyone@example.com")

    message = queue(customer)
    message_deliver(message.pk)

    assert message.subject == "Kiitos, Aino Bcc: everyone@example.com!"
    assert [email.subject for email in mail.outbox] == ["Kiitos, Aino Bcc: everyone@example.com!"]
    assert [email.recipients() for email in mail.outbox] == [["aino@example.fi"]]


# --- message_queue: consent, cap, suppression ------------------------------------------------------


def test_marketing_without_consent_is_suppressed_and_nothing_is_enqueued(db, django_capture_on_commit_callbacks):
    customer = customer_make(email_consent=False)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        message = queue(customer)

    assert row(message) == {
        "status": "suppressed",
        "suppressed_reason": "no_consent",
        "attempts": 0,
        "error": "",
        "lease_until": None,
    }
    assert (message.subject, message.body) == ("", "")
    assert callbacks == []
    assert message_deliver(message.pk) is None
    assert mail.outbox == []


@pytest.mark.parametrize(
    ("fields", "channel", "reason"),
    [
        ({"status": "blocked"}, Channel.EMAIL, "customer_not_active"),
        ({"status": "erased"}, Channel.EMAIL, "customer_not_active"),
        ({"phone": ""}, Channel.SMS, "no_address"),
    ],
)
def test_a_customer_who_cannot_be_reached_is_suppressed(db, fields, channel, reason, enqueued):
    customer = customer_make(sms_consent=True, **fields)

    message = queue(customer, channel=channel)

    assert (message.status, message.suppressed_reason) == ("suppressed", reason)
    assert enqueued == []


def test_over_the_frequency_cap_marketing_is_suppressed(aino, settings, django_capture_on_commit_callbacks):
    settings.MARKETING_CAP_COUNT = 2
    settings.MARKETING_CAP_DAYS = 7

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        first = queue(aino, "m:1")
        message_deliver(first.pk)  # a sent message counts as much as a waiting one
        second = queue(aino, "m:2")
        third = queue(aino, "m:3")

    assert [(row(m)["status"], row(m)["suppressed_reason"]) for m in (first, second, third)] == [
        ("sent", ""),
        ("pending", ""),
        ("suppressed", "frequency_cap"),
    ]
    assert len(callbacks) == 2
    assert Message.objects.filter(customer=aino).count() == 3


def test_messages_older_than_the_cap_window_do_not_count(aino, settings):
    settings.MARKETING_CAP_COUNT = 1
    settings.MARKETING_CAP_DAYS = 7
    old = queue(aino, "m:old")
    # Eight days pass.
    Message.objects.filter(pk=old.pk).update(created_at=timezone.now() - datetime.timedelta(days=8))

    assert queue(aino, "m:new").status == "pending"
    assert queue(aino, "m:newer").suppressed_reason == "frequency_cap"


def test_suppressed_and_failed_messages_do_not_count_towards_the_cap(aino, settings):
    settings.MARKETING_CAP_COUNT = 1
    settings.MESSAGE_MAX_ATTEMPTS = 1
    settings.EMAIL_BACKEND = "tests.customers.test_outbox.BrokenEmailBackend"
    failed = queue(aino, "m:failed")
    with pytest.raises(SMTPServerDisconnected):
        message_deliver(failed.pk)
    customer_consent_set(customer=aino, channel=Channel.EMAIL, granted=False, source=ConsentSource.PORTAL)
    suppressed = queue(aino, "m:no-consent")
    customer_consent_set(customer=aino, channel=Channel.EMAIL, granted=True, source=ConsentSource.PORTAL)

    message = queue(aino, "m:now")

    assert [row(m)["status"] for m in (failed, suppressed)] == ["failed", "suppressed"]
    assert (message.status, message.suppressed_reason) == ("pending", "")


def test_transactional_messages_need_no_consent_and_are_not_capped(aino, settings, enqueued):
    settings.MARKETING_CAP_COUNT = 1
    queue(aino, "m:1")
    assert queue(aino, "m:2").suppressed_reason == "frequency_cap"
    customer_consent_set(customer=aino, channel=Channel.EMAIL, granted=False, source=ConsentSource.PORTAL)

    first = voucher(aino, "voucher:1")
    second = voucher(aino, "voucher:2")

    assert [(m.status, m.suppressed_reason, m.is_marketing) for m in (first, second)] == [
        ("pending", "", False),
        ("pending", "", False),
    ]
    assert first.subject == "Kuponkisi on valmis, Aino"
    assert "ABCD-EFGH" in first.body


def test_the_same_key_twice_makes_one_message(aino, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        first = queue(aino, "thank-you:7")
        again = queue(aino, "thank-you:7", purpose="voucher_issued", context={"store": "Other"})

    assert again.pk == first.pk
    assert (again.purpose, again.subject) == ("thank_you", "Kiitos, Aino!")
    assert Message.objects.count() == 1
    assert len(callbacks) == 1


@pytest.mark.parametrize("base", ["https://kanta.example.fi", "https://kanta.example.fi/"])
def test_marketing_mail_carries_an_absolute_unsubscribe_link(aino, settings, base):
    settings.PUBLIC_BASE_URL = base

    message = queue(aino)

    links = re.findall(r"https://kanta\.example\.fi/portal/unsubscribe/[^/\s]+/", message.body)
    assert len(links) == 1
    assert message.body.endswith(links[0])
    token = links[0].split("/")[-2]
    assert unsubscribe_token_check(token) == (aino, "email")


def test_transactional_mail_has_no_unsubscribe_link(aino):
    message = voucher(aino)

    assert "unsubscribe" not in message.body


# --- enqueue after commit --------------------------------------------------------------------------


def test_one_enqueue_is_registered_for_a_pending_message(aino, django_capture_on_commit_callbacks, enqueued):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        message = queue(aino)

    assert len(callbacks) == 1
    assert enqueued == []  # nothing before the commit
    callbacks[0]()
    assert enqueued == [{"kwargs": {"message_id": message.pk}, "countdown": 0, "retry": False}]


def test_no_enqueue_is_registered_for_a_suppressed_message(db, django_capture_on_commit_callbacks, enqueued):
    customer = customer_make(email_consent=False)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        queue(customer)

    assert callbacks == []
    assert enqueued == []


@pytest.mark.parametrize(
    ("delay", "countdown"),
    [
        (datetime.timedelta(hours=-1), 0),
        (datetime.timedelta(days=30), 60 * 60 * 6),  # longer waits are the sweeper's to pick up
    ],
)
def test_a_later_message_is_enqueued_with_its_countdown_capped(
    aino, django_capture_on_commit_callbacks, enqueued, settings, delay, countdown
):
    settings.CELERY_MAX_COUNTDOWN = 60 * 60 * 6

    with django_capture_on_commit_callbacks(execute=True):
        message = queue(aino, send_after=timezone.now() + delay)

    assert enqueued == [{"kwargs": {"message_id": message.pk}, "countdown": countdown, "retry": False}]


def test_a_broker_that_is_down_at_commit_leaves_the_message_to_the_sweeper(
    aino, django_capture_on_commit_callbacks, monkeypatch, caplog
):
    def broker_down(*args: Any, **kwargs: Any) -> None:
        raise ConnectionRefusedError("broker down")

    monkeypatch.setattr(tasks.message_send_task, "apply_async", broker_down)

    with django_capture_on_commit_callbacks(execute=True):
        message = queue(aino, send_after=timezone.now() - datetime.timedelta(minutes=5))

    assert row(message)["status"] == "pending"
    assert f"could not enqueue message {message.pk}" in caplog.text
    assert messages_due() == [message.pk]


# --- message_deliver --------------------------------------------------------------------------------


def test_deliver_sends_exactly_once(aino):
    message = queue(aino)

    sent = message_deliver(message.pk)
    again = message_deliver(message.pk)

    assert sent is not None
    assert again is None
    assert len(mail.outbox) == 1
    message.refresh_from_db()
    assert (message.status, message.attempts, message.lease_until, message.error) == ("sent", 1, None, "")
    assert message.provider_id == "thank-you:1"
    assert message.sent_at is not None
    email = mail.outbox[0]
    assert (email.to, email.subject, email.body) == (["aino@example.fi"], "Kiitos, Aino!", message.body)


def test_marketing_mail_has_one_click_unsubscribe_headers(aino, settings):
    settings.PUBLIC_BASE_URL = "https://kanta.example.fi"
    message = queue(aino)

    message_deliver(message.pk)

    link = unsubscribe_url(aino)
    headers = mail.outbox[0].extra_headers
    assert headers == {
        "X-Vastavuoro-Message": "thank-you:1",
        "List-Unsubscribe": f"<{link}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
    assert link in message.body


def test_the_unsubscribe_header_is_one_line_and_never_encoded(aino, settings):
    """Mail providers ignore an RFC 2047-encoded List-Unsubscribe; the URL is too long for 78
    columns and has no place to fold, so it must go out whole on one line (RFC 5322 allows 998)."""
    settings.PUBLIC_BASE_URL = "https://asiakaskanta.kahvila-esimerkki.fi"
    message = queue(aino)
    message_deliver(message.pk)

    raw = mail.outbox[0].message(policy=email.policy.SMTP).as_bytes().decode()

    lines = [line for line in raw.split("\r\n\r\n")[0].split("\r\n") if line.startswith("List-Unsubscribe:")]
    assert lines == [f"List-Unsubscribe: <{unsubscribe_url(aino)}>"]
    assert len(lines[0]) > 78


def test_transactional_mail_has_no_unsubscribe_headers(aino):
    message = voucher(aino)

    message_deliver(message.pk)

    assert mail.outbox[0].extra_headers == {"X-Vastavuoro-Message": "voucher:1"}


def test_consent_withdrawn_after_queueing_stops_marketing_at_send_time(aino):
    message = queue(aino)
    customer_consent_set(customer=aino, channel=Channel.EMAIL, granted=False, source=ConsentSource.UNSUBSCRIBE)

    assert message_deliver(message.pk) is None

    assert mail.outbox == []
    assert row(message) == {
        "status": "suppressed",
        "suppressed_reason": "no_consent",
        "attempts": 1,
        "error": "",
        "lease_until": None,
    }


def test_consent_withdrawn_after_queueing_does_not_stop_a_transactional_message(aino):
    message = voucher(aino)
    customer_consent_set(customer=aino, channel=Channel.EMAIL, granted=False, source=ConsentSource.UNSUBSCRIBE)

    assert message_deliver(message.pk) is not None
    assert len(mail.outbox) == 1


@pytest.mark.parametrize("make", [queue, voucher])
def test_a_customer_blocked_after_queueing_gets_nothing(aino, make):
    message = make(aino)
    Customer.objects.filter(pk=aino.pk).update(status=Customer.Status.BLOCKED)

    assert message_deliver(message.pk) is None

    assert mail.outbox == []
    assert (row(message)["status"], row(message)["suppressed_reason"]) == ("suppressed", "customer_not_active")


def test_a_failing_backend_leaves_the_message_pending_then_failed(aino, settings):
    settings.EMAIL_BACKEND = "tests.customers.test_outbox.BrokenEmailBackend"
    settings.MESSAGE_MAX_ATTEMPTS = 3
    message = queue(aino)
    start = timezone.now()

    with pytest.raises(SMTPServerDisconnected):
        message_deliver(message.pk, now=start)

    error = "SMTPServerDisconnected: Connection unexpectedly closed"
    assert row(message) == {
        "status": "pending",
        "suppressed_reason": "",
        "attempts": 1,
        "error": error,
        "lease_until": None,
    }
    # Backing off: not before 30 s, then 60 s after the second failure.
    assert Message.objects.get(pk=message.pk).send_after == start + datetime.timedelta(seconds=30)
    assert message_deliver(message.pk, now=start + datetime.timedelta(seconds=29)) is None
    with pytest.raises(SMTPServerDisconnected):
        message_deliver(message.pk, now=start + datetime.timedelta(seconds=30))
    assert Message.objects.get(pk=message.pk).send_after == start + datetime.timedelta(seconds=90)
    assert row(message)["attempts"] == 2
    with pytest.raises(SMTPServerDisconnected):
        message_deliver(message.pk, now=start + datetime.timedelta(seconds=90))

    assert row(message) == {
        "status": "failed",
        "suppressed_reason": "",
        "attempts": 3,
        "error": error,
        "lease_until": None,
    }
    assert message_deliver(message.pk, now=start + datetime.timedelta(days=1)) is None
    assert messages_due(now=start + datetime.timedelta(days=1)) == []
    assert mail.outbox == []


def test_the_sweeper_waits_for_the_backoff_of_a_failed_send(aino, settings):
    settings.EMAIL_BACKEND = "tests.customers.test_outbox.BrokenEmailBackend"
    message = queue(aino)
    start = timezone.now()
    with pytest.raises(SMTPServerDisconnected):
        message_deliver(message.pk, now=start)

    # Due again at +30 s; the sweeper's grace of 60 s comes on top, for the task's own retry.
    assert messages_due(now=start + datetime.timedelta(seconds=89)) == []
    assert messages_due(now=start + datetime.timedelta(seconds=90)) == [message.pk]


def test_a_message_whose_sender_keeps_dying_fails_after_the_maximum_attempts(aino, settings):
    settings.MESSAGE_MAX_ATTEMPTS = 3
    message = queue(aino)
    moment = timezone.now()
    for _attempt in range(3):  # each claim's worker is killed mid-send; the lease runs out
        assert message_claim(message.pk, now=moment) is not None
        moment += LEASE + datetime.timedelta(seconds=1)

    assert message_deliver(message.pk, now=moment) is None

    assert mail.outbox == []
    assert row(message) == {
        "status": "failed",
        "suppressed_reason": "",
        "attempts": 4,
        "error": "Gave up: the sender stopped without finishing 3 times.",
        "lease_until": None,
    }
    assert messages_due(now=moment + datetime.timedelta(days=1)) == []


def test_a_message_due_later_is_not_sent_early(aino):
    message = queue(aino, send_after=timezone.now() + datetime.timedelta(hours=1))

    assert message_deliver(message.pk) is None
    assert message_deliver(message.pk, now=timezone.now() + datetime.timedelta(hours=1, seconds=1)) is not None
    assert len(mail.outbox) == 1


def test_an_sms_goes_through_the_sms_provider(db, settings):
    settings.SMS_PROVIDER = "tests.customers.test_outbox.RecordingSmsProvider"
    RecordingSmsProvider.sent = []
    template = MessageTemplate(
        purpose="voucher_issued", language="fi", channel="sms", body="{first_name}: {voucher_code}"
    )
    template.full_clean()
    template.save()
    customer = customer_make(email_consent=False, phone="+358401234567")
    message = queue(
        customer, "sms:1", purpose="voucher_issued", is_marketing=False, channel="sms", context={"voucher_code": "AB"}
    )

    assert message_deliver(message.pk) is not None

    assert RecordingSmsProvider.sent == [("+358401234567", "Aino: AB")]
    assert Message.objects.get(pk=message.pk).provider_id == "sms-1"
    assert mail.outbox == []


# --- message_claim and messages_due ----------------------------------------------------------------


def test_a_sending_row_is_claimable_again_only_after_its_lease_expires(aino):
    message = queue(aino)
    start = timezone.now()
    first = message_claim(message.pk, now=start)
    assert first is not None
    assert (first.status, first.attempts, first.lease_until) == ("sending", 1, start + LEASE)

    assert message_claim(message.pk, now=start + LEASE) is None  # not yet expired
    again = message_claim(message.pk, now=start + LEASE + datetime.timedelta(seconds=1))

    assert again is not None
    assert (again.status, again.attempts) == ("sending", 2)
    assert again.lease_until == start + LEASE * 2 + datetime.timedelta(seconds=1)


@pytest.mark.parametrize("status", ["sent", "suppressed"])
def test_a_finished_row_is_never_claimed(db, status):
    customer = customer_make(email_consent=status == "sent")
    message = queue(customer)
    message_deliver(message.pk)

    assert message_claim(message.pk, now=timezone.now() + datetime.timedelta(days=1)) is None
    assert row(message)["status"] == status


def test_messages_due_finds_lost_enqueues_and_expired_leases_not_fresh_rows(aino, settings):
    settings.MARKETING_CAP_COUNT = 10
    now = timezone.now()
    minute = datetime.timedelta(minutes=1)
    lost = queue(aino, "lost", send_after=now - 2 * minute)
    fresh = queue(aino, "fresh", send_after=now - datetime.timedelta(seconds=30))
    later = queue(aino, "later", send_after=now + minute)
    crashed = queue(aino, "crashed", send_after=now - 10 * minute)
    message_claim(crashed.pk, now=now - 10 * minute)  # its worker died; the lease ran out 5 min ago
    working = queue(aino, "working", send_after=now - 2 * minute)
    message_claim(working.pk, now=now - minute)  # its worker is still at it
    done = queue(aino, "done", send_after=now - 2 * minute)
    message_deliver(done.pk)

    assert messages_due(now=now) == [crashed.pk, lost.pk]
    assert messages_due(now=now, grace_seconds=0) == [crashed.pk, lost.pk, fresh.pk]
    assert messages_due(now=now, limit=1) == [crashed.pk]
    assert later.pk not in messages_due(now=now + 2 * minute - datetime.timedelta(seconds=1))
    assert later.pk in messages_due(now=now + 2 * minute)


# --- tasks -----------------------------------------------------------------------------------------


def test_the_send_task_sends_once(aino):
    message = queue(aino)

    assert tasks.message_send_task(message_id=message.pk) is True
    assert tasks.message_send_task(message_id=message.pk) is False
    assert len(mail.outbox) == 1


def test_the_send_task_retries_when_the_row_is_due_again(aino, settings):
    settings.EMAIL_BACKEND = "tests.customers.test_outbox.BrokenEmailBackend"
    message = queue(aino)

    with (
        mock.patch.object(tasks.message_send_task, "retry", side_effect=RuntimeError("retry")) as retry,
        pytest.raises(RuntimeError, match="retry"),
    ):
        tasks.message_send_task(message_id=message.pk)

    (call,) = retry.call_args_list
    assert isinstance(call.kwargs["exc"], SMTPServerDisconnected)
    assert 29 <= call.kwargs["countdown"] <= 30
    assert row(message)["status"] == "pending"


@pytest.mark.parametrize("attempts", [1, 5])
def test_a_failed_send_logs_no_address(aino, settings, caplog, attempts):
    settings.EMAIL_BACKEND = "tests.customers.test_outbox.RefusingEmailBackend"
    settings.MESSAGE_MAX_ATTEMPTS = attempts
    message = queue(aino)
    retrying = mock.patch.object(tasks.message_send_task, "retry", side_effect=RuntimeError("retry"))

    with retrying as retry, caplog.at_level("INFO"), contextlib.suppress(RuntimeError):
        tasks.message_send_task(message_id=message.pk)

    logged = caplog.text + "".join(str(call.kwargs["exc"]) for call in retry.call_args_list)
    assert f"message {message.pk}: SMTPRecipientsRefused" in logged
    assert aino.email not in logged


def test_the_send_task_stops_when_the_message_has_failed_for_good(aino, settings):
    settings.EMAIL_BACKEND = "tests.customers.test_outbox.BrokenEmailBackend"
    settings.MESSAGE_MAX_ATTEMPTS = 1
    message = queue(aino)

    with mock.patch.object(tasks.message_send_task, "retry") as retry:
        assert tasks.message_send_task(message_id=message.pk) is False

    assert retry.call_count == 0
    assert row(message)["status"] == "failed"


def test_the_sweep_enqueues_the_due_messages(aino, monkeypatch):
    lost = queue(aino, "lost", send_after=timezone.now() - datetime.timedelta(minutes=5))
    queue(aino, "fresh")
    delayed: list[dict[str, Any]] = []
    monkeypatch.setattr(tasks.message_send_task, "delay", lambda **kwargs: delayed.append(kwargs))

    assert tasks.messages_sweep_task() == 1

    assert delayed == [{"message_id": lost.pk}]


# --- admin -----------------------------------------------------------------------------------------


@pytest.fixture
def staff_client(client, db):
    client.force_login(User.objects.create_superuser(username="boss", email="boss@vastavuoro.test", password="x"))
    return client


@pytest.mark.parametrize("count", [2, 12])
def test_the_message_changelist_has_a_constant_number_of_queries(
    staff_client, settings, django_assert_num_queries, count
):
    settings.MARKETING_CAP_COUNT = 100
    for index in range(count):
        customer = customer_make(email=f"c{index}@example.fi", first_name=f"Asiakas{index}")
        queue(customer, f"m:{index}")

    with django_assert_num_queries(4):
        response = staff_client.get(MESSAGE_CHANGELIST_URL)

    assert response.status_code == 200
    assert len(response.context["cl"].result_list) == count
    assert "Asiakas0" in response.content.decode()


def test_the_customer_page_shows_the_customers_messages(staff_client, aino):
    queue(aino)
    voucher(aino)
    other = customer_make(email="other@example.fi", first_name="Bertta")
    queue(other, "other")

    response = staff_client.get(reverse("admin:customers_customer_change", args=[aino.pk]))

    assert response.status_code == 200
    html = response.content.decode()
    assert "Kiitos, Aino!" in html
    assert "Kuponkisi on valmis, Aino" in html
    assert "Kiitos, Bertta!" not in html
    (inline,) = [i for i in response.context["inline_admin_formsets"] if i.formset.model is Message]
    assert sorted(form.instance.idempotency_key for form in inline.formset.forms) == ["thank-you:1", "voucher:1"]


# --- concurrency (real threads on PostgreSQL) ------------------------------------------------------


def _parallel(call: Any, count: int) -> list[Any]:
    barrier = threading.Barrier(count)

    def run(index: int) -> Any:
        try:
            barrier.wait(timeout=10)
            return call(index)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(run, range(count)))


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_eight_workers_delivering_one_message_send_it_once(enqueued):
    default_templates_load(MessageTemplate)  # a transactional test starts from an emptied database
    message = queue(customer_make())
    assert len(enqueued) == 1

    results = _parallel(lambda _index: message_deliver(message.pk), 8)

    assert sum(result is not None for result in results) == 1
    assert len(mail.outbox) == 1
    assert row(message)["status"] == "sent"
    assert row(message)["attempts"] == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_parallel_marketing_messages_stop_at_the_cap(settings, enqueued):
    default_templates_load(MessageTemplate)
    settings.MARKETING_CAP_COUNT = 3
    customer = customer_make()

    messages = _parallel(lambda index: queue(customer, f"m:{index}"), 6)

    assert (
        sorted((m.status, m.suppressed_reason) for m in messages)
        == [("pending", "")] * 3 + [("suppressed", "frequency_cap")] * 3
    )
    assert Message.objects.filter(customer=customer, status="pending").count() == 3
    assert sorted(call["kwargs"]["message_id"] for call in enqueued) == sorted(
        m.pk for m in messages if m.status == "pending"
    )


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_parallel_queueing_under_one_key_makes_one_message(enqueued):
    default_templates_load(MessageTemplate)
    customer = customer_make()

    messages = _parallel(lambda _index: queue(customer, "thank-you:1"), 8)

    assert len({m.pk for m in messages}) == 1
    assert Message.objects.count() == 1
    assert len(enqueued) == 1
