"""Limits on the mail a visitor can make the portal send: fixed-window counters in the cache.

Two counters per kind of mail (``purpose``): one per customer (no mailbox gets more than
``PORTAL_MAIL_LIMIT_PER_ACCOUNT`` links of a kind per window, whoever asks) and one per network
address (one visitor cannot ask for more than ``PORTAL_MAIL_LIMIT_PER_CLIENT``, whatever
addresses they type). Private and loopback addresses are not counted (``address_counted``).
"""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest

from core.addresses import address_counted, client_address
from customers.models import Customer

MAGIC_LINK = "magic-link"
PASSWORD_RESET = "password-reset"
EMAIL_VERIFY = "email-verify"


def _key(purpose: str, kind: str, value: str) -> str:
    # Hashed: no address or e-mail in the cache's key space.
    digest = hashlib.sha256(f"{purpose}:{kind}:{value}".encode()).hexdigest()
    return f"portal-mail-limit:{digest}"


def _hit(key: str, limit: int) -> bool:
    """Count one use under ``key``; False once the window already holds ``limit`` uses."""
    window = settings.PORTAL_MAIL_LIMIT_WINDOW
    cache.add(key, 0, timeout=window)
    try:
        used = cache.incr(key)
    except ValueError:  # the window ended between add and incr: this use opens a new one
        cache.set(key, 1, timeout=window)
        used = 1
    return used <= limit


def client_allowed(request: HttpRequest, purpose: str) -> bool:
    """Count a request for ``purpose`` from the request's network address; False when that
    address has used up its window. Counted whether or not the e-mail typed has an account, so
    the answer says nothing about accounts."""
    address = address_counted(client_address(request))
    if not address:
        return True
    return _hit(_key(purpose, "client", address), settings.PORTAL_MAIL_LIMIT_PER_CLIENT)


def account_allowed(customer: Customer, purpose: str) -> bool:
    """Count one mail of ``purpose`` to ``customer``; False when they had their window's share."""
    return _hit(_key(purpose, "customer", str(customer.public_id)), settings.PORTAL_MAIL_LIMIT_PER_ACCOUNT)


def window_minutes() -> int:
    return max(1, -(-settings.PORTAL_MAIL_LIMIT_WINDOW // 60))
