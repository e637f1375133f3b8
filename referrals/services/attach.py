"""Attach a new customer (the friend) to a member's referral code."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import timezone

from customers.errors import CustomerNotActive
from customers.models import Customer, Partner
from loyalty.models import Purchase
from referrals.errors import AlreadyReferred, NotANewCustomer, ReferralsClosed, SelfReferral, UnknownReferralCode
from referrals.fraud import NEW_CUSTOMER_WINDOW, emails_match, network_address_hash
from referrals.models import Referral
from referrals.program import referral_program_get
from referrals.services.codes import referral_code_find, referral_code_normalise


@dataclass(frozen=True)
class ReferralAttached:
    referral: Referral
    created: bool


def _existing(friend: Customer, code: str) -> ReferralAttached | None:
    existing = Referral.objects.select_related("referrer", "friend").filter(friend_id=friend.pk).first()
    if existing is None:
        return None
    if existing.code != code:
        raise AlreadyReferred(referral_code=existing.code)
    return ReferralAttached(referral=existing, created=False)


@transaction.atomic
def referral_attach(
    *,
    code: str,
    friend: Customer,
    source: str,
    partner: Partner | None = None,
    network_address: str = "",
    now: datetime.datetime | None = None,
) -> ReferralAttached:
    """Record that ``friend`` signed up with a member's ``code`` (any case, dashes ignored).

    Refusals, each writing nothing: ``UnknownReferralCode`` (no active member has the code),
    ``AlreadyReferred`` (the friend has a referral with another code), ``ReferralsClosed``,
    ``CustomerNotActive``, ``SelfReferral`` (the member's own code, or an e-mail that reaches the
    member's mailbox), ``NotANewCustomer`` (signed up over 24 hours ago, or has bought already).
    The same friend and code again returns the first referral (``created=False``), also when both
    arrive at once (the unique friend decides). The network address is kept only as a keyed hash,
    and not at all when it is private or loopback (``fraud.address_counted``)."""
    now = now or timezone.now()
    found = referral_code_find(code)
    if found is None:
        raise UnknownReferralCode(referral_code=referral_code_normalise(code))
    repeated = _existing(friend, found.code)
    if repeated is not None:
        return repeated
    program = referral_program_get()
    if not program.is_enabled:
        raise ReferralsClosed()
    friend = Customer.objects.get(pk=friend.pk)
    if friend.status != Customer.Status.ACTIVE:
        raise CustomerNotActive()
    referrer = found.customer
    if referrer.pk == friend.pk or emails_match(referrer.email, friend.email):
        raise SelfReferral()
    if friend.created_at < now - NEW_CUSTOMER_WINDOW or Purchase.objects.filter(customer_id=friend.pk).exists():
        raise NotANewCustomer()
    referral = Referral(
        referrer=referrer,
        friend=friend,
        code=found.code,
        source=source,
        partner=partner,
        address_hash=network_address_hash(network_address),
        window_ends_at=now + datetime.timedelta(days=program.qualifying_days),
    )
    try:
        with transaction.atomic():
            referral.save()
    except IntegrityError:  # attached meanwhile by a parallel request
        repeated = _existing(friend, found.code)
        if repeated is None:  # pragma: no cover - the integrity error was about something else
            raise
        return repeated
    return ReferralAttached(referral=referral, created=True)
