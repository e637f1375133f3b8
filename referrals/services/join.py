"""Joining through the portal, with or without a friend's code: the use case that spans apps starts
here and calls down (``customers.services`` for the member and the login, then the referral)."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from customers import services as customer_services
from customers.errors import EmailTaken
from customers.models import Customer, SignupSource, User
from referrals.models import Referral
from referrals.services.attach import referral_attach


@dataclass(frozen=True)
class Joined:
    customer: Customer
    user: User
    referral: Referral | None


@transaction.atomic
def member_join(
    *,
    email: str,
    password: str,
    first_name: str,
    last_name: str,
    language: str,
    email_consent: bool,
    code: str = "",
    network_address: str = "",
) -> Joined:
    """Register a new member with a portal login (the password already validated), and attach
    them to ``code`` when one is given. All or nothing: an e-mail that has an account already is
    ``EmailTaken``, a refused code (``SelfReferral``, ``UnknownReferralCode``, ...) raises its
    error, and either way no customer, login or referral is left behind. The caller signs the
    member in (a later e-mail verification step fits between the two)."""
    registration = customer_services.customer_register(
        email=email,
        source=SignupSource.REFERRAL if code else SignupSource.PORTAL,
        first_name=first_name,
        last_name=last_name,
        language=language,
        email_consent=email_consent,
    )
    if not registration.created:
        raise EmailTaken()
    customer = registration.customer
    user = customer_services.customer_portal_login_ensure(customer=customer, password=password)
    referral = None
    if code:
        referral = referral_attach(
            code=code, friend=customer, source=Referral.Source.PORTAL, network_address=network_address
        ).referral
    return Joined(customer=customer, user=user, referral=referral)
