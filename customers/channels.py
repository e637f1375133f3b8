"""Delivery channels. E-mail goes through Django's mail backend (SMTP or an anymail provider in
production, files under var/mail/ by default); SMS through a provider interface whose
development provider writes files under var/sms/."""

from __future__ import annotations

import uuid
from email.policy import EmailPolicy
from pathlib import Path
from typing import Protocol

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.utils.module_loading import import_string

from customers.models import Message


class SmsProvider(Protocol):
    def send(self, *, to: str, body: str) -> str:
        """Send one SMS; returns the provider's id. Raises on failure."""


class FileSmsProvider:
    """Development SMS: one file per message under ``SMS_FILE_PATH``."""

    def send(self, *, to: str, body: str) -> str:
        folder = Path(settings.SMS_FILE_PATH)
        folder.mkdir(parents=True, exist_ok=True)
        provider_id = uuid.uuid4().hex
        (folder / f"{provider_id}.txt").write_text(f"To: {to}\n\n{body}\n", encoding="utf-8")
        return provider_id


class OneLineHeader(str):
    """A header value written whole on one line (up to RFC 5322's 998 characters).

    Python's e-mail policies fold at 78 columns; a value with no whitespace to fold at, such as
    ``<https://.../unsubscribe/long-token/>``, would be turned into RFC 2047 encoded words, which
    are not allowed in List-Unsubscribe (RFC 2369): Gmail and others then ignore the header and
    one-click unsubscribe is lost. Django passes a ``str`` subclass through unchanged, and the
    e-mail package folds any value that has a ``name`` and a ``fold()`` with that ``fold()``.
    """

    name: str

    def __new__(cls, name: str, value: str) -> OneLineHeader:
        if "\r" in value or "\n" in value:
            raise ValueError("Header values may not contain line breaks.")
        header = super().__new__(cls, value)
        header.name = name
        return header

    def __reduce__(self) -> tuple[type[OneLineHeader], tuple[str, str]]:  # copies and pickles keep the name
        return (OneLineHeader, (self.name, str(self)))

    def fold(self, *, policy: EmailPolicy) -> str:
        return policy.header_factory(self.name, str(self)).fold(policy=policy.clone(max_line_length=998))


def email_send(message: Message, *, unsubscribe_url: str | None) -> str:
    """Send an e-mail; marketing mail carries List-Unsubscribe (one click, RFC 8058)."""
    headers: dict[str, str] = {"X-Vastavuoro-Message": message.idempotency_key}
    if unsubscribe_url:
        headers["List-Unsubscribe"] = OneLineHeader("List-Unsubscribe", f"<{unsubscribe_url}>")
        headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    email = EmailMultiAlternatives(subject=message.subject, body=message.body, to=[message.to_address], headers=headers)
    email.send(fail_silently=False)
    status = getattr(email, "anymail_status", None)  # set by anymail's provider backends
    return str(status.message_id) if status is not None and status.message_id else message.idempotency_key


def sms_send(message: Message) -> str:
    provider: SmsProvider = import_string(settings.SMS_PROVIDER)()
    return provider.send(to=message.to_address, body=message.body)
