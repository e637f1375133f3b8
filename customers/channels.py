"""Delivery channels. E-mail goes through Django's mail backend (SMTP or an anymail provider in
production, files under var/mail/ by default); SMS through a provider interface whose
development provider writes files under var/sms/."""

from __future__ import annotations

import uuid
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


def email_send(message: Message, *, unsubscribe_url: str | None) -> str:
    """Send an e-mail; marketing mail carries List-Unsubscribe (one click, RFC 8058)."""
    headers = {"X-Vastavuoro-Message": message.idempotency_key}
    if unsubscribe_url:
        headers["List-Unsubscribe"] = f"<{unsubscribe_url}>"
        headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    email = EmailMultiAlternatives(subject=message.subject, body=message.body, to=[message.to_address], headers=headers)
    email.send(fail_silently=False)
    status = getattr(email, "anymail_status", None)  # set by anymail's provider backends
    return str(status.message_id) if status is not None and status.message_id else message.idempotency_key


def sms_send(message: Message) -> str:
    provider: SmsProvider = import_string(settings.SMS_PROVIDER)()
    return provider.send(to=message.to_address, body=message.body)
