"""Referral codes and links: made lazily, unique, read aloud without ambiguity; link opens counted."""

from __future__ import annotations

import datetime

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone

from customers.models import Customer
from loyalty import services as loyalty_services
from referrals.models import ReferralCode, ReferralLinkOpen

# Voucher codes' alphabet (no 0/O, 1/I/L): a code read aloud or typed from a screenshot is never
# ambiguous. 31**8 ~ 8.5e11 codes: collisions are rare, and retried.
CODE_ALPHABET = loyalty_services.CODE_ALPHABET
CODE_LENGTH = 8
CODE_ATTEMPTS = 8
CODE_MAX_LENGTH = 16  # ReferralCode.code's column: a longer input cannot be a code


def referral_code_generate() -> str:
    return loyalty_services.code_generate(CODE_LENGTH)


def referral_code_normalise(code: str) -> str:
    """Any case, spaces and dashes: ``ab3k-7mqz`` -> ``AB3K7MQZ``."""
    return loyalty_services.code_normalise(code)[:CODE_MAX_LENGTH]


def referral_code_for(customer: Customer) -> ReferralCode:
    """The member's code, made on first use. A new code that collides with another member's is
    drawn again; two calls at once for the same member return the same row (the unique member
    decides). Raises ``RuntimeError`` only if ``CODE_ATTEMPTS`` draws in a row collide."""
    existing = ReferralCode.objects.filter(customer_id=customer.pk).first()
    if existing is not None:
        return existing
    for _attempt in range(CODE_ATTEMPTS):
        try:
            with transaction.atomic():
                return ReferralCode.objects.create(customer_id=customer.pk, code=referral_code_generate())
        except IntegrityError:
            existing = ReferralCode.objects.filter(customer_id=customer.pk).first()
            if existing is not None:  # made meanwhile for this member
                return existing
    raise RuntimeError("could not draw a free referral code")


def referral_code_find(code: str) -> ReferralCode | None:
    """The code of an active member (any case, dashes and spaces ignored), or None."""
    normalised = referral_code_normalise(code)
    if not normalised:
        return None
    return (
        ReferralCode.objects.select_related("customer")
        .filter(code=normalised, customer__status=Customer.Status.ACTIVE)
        .first()
    )


def referral_link(code: str) -> str:
    """The absolute link that opens the portal's sign-up with the code filled in."""
    return settings.PUBLIC_BASE_URL.rstrip("/") + reverse("referrals_portal:link", args=[code])


def referral_link_open(*, code: str, day: datetime.date | None = None) -> ReferralCode | None:
    """Count one opening of a code's link on ``day`` (today, local), and return the code; None,
    counting nothing, for an unknown code. One UPDATE ... SET opens = opens + 1 on the day's
    counter row (inserted the first time; a parallel first insert falls back to the update)."""
    found = referral_code_find(code)
    if found is None:
        return None
    day = day or timezone.localdate()
    counters = ReferralLinkOpen.objects.filter(code=found, day=day)
    if not counters.update(opens=F("opens") + 1):
        try:
            with transaction.atomic():
                ReferralLinkOpen.objects.create(code=found, day=day, opens=1)
        except IntegrityError:  # the first open of the day, counted meanwhile by another request
            counters.update(opens=F("opens") + 1)
    return found
