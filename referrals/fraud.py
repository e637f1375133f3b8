"""The fraud checks run before a referral is rewarded. Each returns whether its rule is broken;
``fraud_flags`` runs them all and returns the codes (``FraudFlag``) of those that are.

The monthly cap is checked apart, when rewarding, under the referrer's lock
(``referrals.services.rewards``): it depends on what parallel rewards did.
"""

from __future__ import annotations

import datetime

from django.db.models import Q
from django.utils.crypto import salted_hmac

from core.addresses import address_counted
from customers.models import Customer
from loyalty.models import Purchase
from referrals.models import FraudFlag, Referral, ReferralProgram

# A customer signed up more than this before the referral was made was a customer already.
NEW_CUSTOMER_WINDOW = datetime.timedelta(hours=24)
# A purchase may be stamped a little before the code was attached at the same checkout.
PURCHASE_TOLERANCE = datetime.timedelta(hours=1)

# Providers that deliver ``name+anything@`` to ``name@``, and those that also ignore dots.
PLUS_TAG_DOMAINS = frozenset(
    {
        "gmail.com",
        "googlemail.com",
        "outlook.com",
        "hotmail.com",
        "live.com",
        "msn.com",
        "icloud.com",
        "me.com",
        "mac.com",
        "fastmail.com",
        "fastmail.fm",
        "protonmail.com",
        "proton.me",
        "pm.me",
        "yandex.ru",
        "yandex.com",
        "ya.ru",
    }
)
DOTLESS_DOMAINS = frozenset({"gmail.com", "googlemail.com"})
DOMAIN_ALIASES = {"googlemail.com": "gmail.com"}


def email_canonical(email: str) -> str:
    """The mailbox an address reaches: lower case; a +tag dropped where the provider ignores it;
    dots dropped where the provider ignores them (Gmail)."""
    local, _at, domain = email.strip().lower().rpartition("@")
    domain = domain.rstrip(".")
    if domain in PLUS_TAG_DOMAINS:
        local = local.split("+", 1)[0]
    if domain in DOTLESS_DOMAINS:
        local = local.replace(".", "")
    return f"{local}@{DOMAIN_ALIASES.get(domain, domain)}"


def emails_match(first: str, second: str) -> bool:
    return bool(first and second) and email_canonical(first) == email_canonical(second)


def _name_key(customer: Customer) -> str:
    return " ".join(f"{customer.first_name} {customer.last_name}".casefold().split())


def names_match(first: Customer, second: Customer) -> bool:
    """Both have a first and a last name, and the full names are equal ignoring case and spaces."""
    both_full = all(part.strip() for part in (first.first_name, first.last_name, second.first_name, second.last_name))
    return both_full and _name_key(first) == _name_key(second)


def phones_match(first: str, second: str) -> bool:
    return bool(first.strip()) and "".join(first.split()) == "".join(second.split())


def network_address_hash(address: str) -> str:
    """A keyed hash of a network address: enough to count sign-ups from one address, not to read
    it. Empty for an address that is not counted (``address_counted``): such a sign-up skips the
    per-address velocity check, and only that check."""
    address = address_counted(address)
    if not address:
        return ""
    return salted_hmac("vastavuoro.referrals.network-address", address, algorithm="sha256").hexdigest()


def shared_purchase_details(referral: Referral, purchase: Purchase) -> list[str]:
    """The friend's purchase was paid, or shipped, with details (the partner's fingerprints) that
    also appear on a purchase of the referrer's."""
    flags = []
    for field, flag in (
        ("payment_fingerprint", FraudFlag.SHARED_PAYMENT),
        ("shipping_fingerprint", FraudFlag.SHARED_SHIPPING),
    ):
        value = getattr(purchase, field)
        if value and Purchase.objects.filter(customer_id=referral.referrer_id, **{field: value}).exists():
            flags.append(flag.value)
    return flags


def _velocity(referral: Referral, program: ReferralProgram, same: Q, limit: int) -> bool:
    """More than ``limit`` referred sign-ups matching ``same`` within the velocity window either
    side of this one (a burst is caught whole, not only from its ``limit + 1``-th sign-up on)."""
    window = datetime.timedelta(hours=program.velocity_hours)
    around = Referral.objects.filter(
        same, created_at__gte=referral.created_at - window, created_at__lte=referral.created_at + window
    )
    return around.count() > limit


def fraud_flags(*, referral: Referral, purchase: Purchase, program: ReferralProgram) -> list[str]:
    """Every rule the referral breaks, as ``FraudFlag`` codes (empty: it may be rewarded).
    ``referral`` comes with ``referrer`` and ``friend`` loaded. At most five small queries."""
    referrer, friend = referral.referrer, referral.friend
    flags = []
    if emails_match(referrer.email, friend.email):
        flags.append(FraudFlag.SAME_EMAIL.value)
    if phones_match(referrer.phone, friend.phone):
        flags.append(FraudFlag.SAME_PHONE.value)
    if names_match(referrer, friend):
        flags.append(FraudFlag.SAME_NAME.value)
    flags += shared_purchase_details(referral, purchase)
    if friend.created_at < referral.created_at - NEW_CUSTOMER_WINDOW:
        flags.append(FraudFlag.EXISTING_CUSTOMER.value)
    earlier = Purchase.objects.filter(customer_id=friend.pk, occurred_at__lt=referral.created_at - PURCHASE_TOLERANCE)
    if earlier.exists():
        flags.append(FraudFlag.PURCHASED_BEFORE.value)
    if _velocity(referral, program, Q(code=referral.code), program.velocity_max_per_code):
        flags.append(FraudFlag.CODE_VELOCITY.value)
    if referral.address_hash and _velocity(
        referral, program, Q(address_hash=referral.address_hash), program.velocity_max_per_address
    ):
        flags.append(FraudFlag.ADDRESS_VELOCITY.value)
    return flags
