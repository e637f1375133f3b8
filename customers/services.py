"""Every write on customers, consents, tags, notes and partners goes through these functions."""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, cast

from django.conf import settings
from django.core import signing
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from customers.errors import CustomerErased, CustomerNotActive, EmailTaken, UnknownScope
from customers.models import (
    Channel,
    ConsentEvent,
    ConsentSource,
    Customer,
    Message,
    MessagePurpose,
    Partner,
    PartnerAPIKey,
    Scope,
    SignupSource,
    StaffNote,
    Tag,
    User,
)
from customers.outbox import message_queue
from customers.selectors import customer_get_by_email

PROFILE_FIELDS = (
    "first_name",
    "last_name",
    "phone",
    "birth_date",
    "language",
    "time_zone",
    "preferred_reward_kind",
)


def _profile_apply(customer: Customer, profile: dict[str, Any]) -> list[str]:
    """Set the given profile fields on ``customer``; returns the names that changed."""
    changed = []
    for field, given in profile.items():
        if field not in PROFILE_FIELDS:
            raise TypeError(f"unexpected customer field {field!r}")
        value = "" if given is None and field != "birth_date" else given
        if getattr(customer, field) != value:
            setattr(customer, field, value)
            changed.append(field)
    return changed


@dataclass(frozen=True)
class CustomerRegistration:
    customer: Customer
    created: bool


def _normalise_email(email: str) -> str:
    local, _, domain = email.strip().rpartition("@")
    return f"{local}@{domain.lower()}"


@transaction.atomic
def customer_register(
    *,
    email: str,
    source: str = SignupSource.API,
    partner: Partner | None = None,
    email_consent: bool | None = None,
    sms_consent: bool | None = None,
    tags: list[str] | None = None,
    **profile: Any,
) -> CustomerRegistration:
    """Create a customer, or return the one that already has this e-mail (case-insensitive).

    An existing customer is returned unchanged (``created=False``). Two concurrent calls with the
    same e-mail create one customer: the loser of the race hits the unique index on
    ``lower(email)`` and returns the winner's row. Consents given are recorded as consent events.
    """
    email = _normalise_email(email)
    existing = customer_get_by_email(email)
    if existing is not None:
        return CustomerRegistration(customer=existing, created=False)

    customer = Customer(email=email, signup_source=source, signup_partner=partner)
    _profile_apply(customer, profile)
    if customer.birth_date is not None:
        customer.birth_date_changed_at = timezone.now()
    customer.full_clean(validate_unique=False, validate_constraints=False)
    try:
        with transaction.atomic():
            customer.save()
    except IntegrityError:
        winner = customer_get_by_email(email)
        if winner is None:  # pragma: no cover - the integrity error was about something else
            raise
        return CustomerRegistration(customer=winner, created=False)

    consent_source = ConsentSource.PORTAL if source == SignupSource.PORTAL else ConsentSource.API
    if source == SignupSource.ADMIN:
        consent_source = ConsentSource.ADMIN
    if email_consent:
        customer_consent_set(
            customer=customer, channel=Channel.EMAIL, granted=True, source=consent_source, partner=partner
        )
    if sms_consent:
        customer_consent_set(
            customer=customer, channel=Channel.SMS, granted=True, source=consent_source, partner=partner
        )
    if tags:
        customer_tags_set(customer=customer, names=tags)
    return CustomerRegistration(customer=customer, created=True)


def _email_apply(customer: Customer, email: str) -> list[str]:
    """Set a new address (``EmailTaken`` when another customer has it); the fields changed."""
    email = _normalise_email(email)
    if email.lower() != customer.email.lower():
        other = customer_get_by_email(email)
        if other is not None and other.pk != customer.pk:
            raise EmailTaken()
    if email == customer.email:
        return []
    changed = ["email"]
    # A confirmed address confirms only itself: a new one (not a change of case) is unconfirmed.
    if email.lower() != customer.email.lower() and customer.email_verified_at is not None:
        customer.email_verified_at = None
        changed.append("email_verified_at")
    customer.email = email
    return changed


@transaction.atomic
def customer_update(
    *,
    customer: Customer,
    source: str,
    partner: Partner | None = None,
    by: User | None = None,
    email: str | None = None,
    email_consent: bool | None = None,
    sms_consent: bool | None = None,
    tags: list[str] | None = None,
    **profile: Any,
) -> Customer:
    """Update profile fields, consents and tags of an active customer.

    Only the fields passed change. A new e-mail that another customer has raises ``EmailTaken``
    and writes nothing; a new e-mail is no longer confirmed (``email_verified_at`` is cleared).
    Consent changes are recorded as consent events.
    """
    customer = Customer.objects.select_for_update().get(pk=customer.pk)
    if customer.status == Customer.Status.ERASED:
        raise CustomerErased()
    changed = _email_apply(customer, email) if email is not None else []
    changed += _profile_apply(customer, profile)
    if "birth_date" in changed:
        customer.birth_date_changed_at = timezone.now()
        changed.append("birth_date_changed_at")
    if changed:
        customer.full_clean(validate_unique=False, validate_constraints=False)
        try:
            with transaction.atomic():
                customer.save(update_fields=[*changed, "updated_at"])
        except IntegrityError as exc:
            raise EmailTaken() from exc
        if "email" in changed and customer.user_id:
            User.objects.filter(pk=customer.user_id).update(email=customer.email)
    for channel, granted in ((Channel.EMAIL, email_consent), (Channel.SMS, sms_consent)):
        if granted is not None:
            customer_consent_set(
                customer=customer, channel=channel, granted=granted, source=source, partner=partner, by=by
            )
    if tags is not None:
        customer_tags_set(customer=customer, names=tags)
    return customer


@transaction.atomic
def customer_consent_set(
    *,
    customer: Customer,
    channel: str,
    granted: bool,
    source: str,
    partner: Partner | None = None,
    by: User | None = None,
) -> bool:
    """Grant or withdraw consent for a channel; returns whether the state changed.

    A change writes a ``ConsentEvent`` (when, how, by whom) and moves the customer's current
    flag, which every outgoing message reads. Repeating the same state writes nothing.
    """
    flag = "email_consent" if channel == Channel.EMAIL else "sms_consent"
    now = timezone.now()
    updated = (
        Customer.objects.filter(pk=customer.pk)
        .exclude(**{flag: granted})
        .update(**{flag: granted, f"{flag}_at": now, "updated_at": now})
    )
    if not updated:
        return False
    ConsentEvent.objects.create(
        customer=customer, channel=channel, is_granted=granted, source=source, partner=partner, recorded_by=by
    )
    setattr(customer, flag, granted)
    setattr(customer, f"{flag}_at", now)
    customer.updated_at = now
    return True


def customer_tags_set(*, customer: Customer, names: list[str]) -> list[Tag]:
    """Replace the customer's tags with ``names``: matched case-insensitively, created when new."""
    wanted: dict[str, str] = {}
    for name in names:
        if name.strip():
            wanted.setdefault(name.strip().lower(), name.strip())  # the first spelling wins
    existing = {tag.name.lower(): tag for tag in Tag.objects.filter(name__lower__in=list(wanted))}
    for key, name in wanted.items():
        if key not in existing:
            try:
                with transaction.atomic():
                    existing[key] = Tag.objects.create(name=name)
            except IntegrityError:  # created meanwhile by a concurrent request
                existing[key] = Tag.objects.get(name__lower=key)
    tags = [existing[key] for key in wanted]
    customer.tags.set(tags)
    now = timezone.now()
    Customer.objects.filter(pk=customer.pk).update(updated_at=now)
    customer.updated_at = now
    return tags


def staff_note_add(*, customer: Customer, author: User, text: str) -> StaffNote:
    note = StaffNote(customer=customer, author=author, text=text.strip())
    note.full_clean()
    note.save()
    return note


@transaction.atomic
def customer_portal_login_ensure(*, customer: Customer, password: str | None = None) -> User:
    """Give the customer a portal login (username and e-mail are the customer's e-mail)."""
    if customer.status != Customer.Status.ACTIVE:
        raise CustomerNotActive()
    if customer.user_id:
        user = User.objects.get(pk=customer.user_id)
    else:
        user = User(
            username=f"customer-{customer.public_id}",
            email=customer.email,
            first_name=customer.first_name,
            last_name=customer.last_name,
        )
        user.set_unusable_password()
        user.save()
        Customer.objects.filter(pk=customer.pk).update(user=user)
        customer.user = user
    if password is not None:
        user.set_password(password)
        user.save(update_fields=["password"])
    return user


def scopes_parse(value: str | list[str]) -> list[str]:
    """Parse a comma-separated or listed set of scopes; unknown ones raise ``UnknownScope``."""
    items = value.split(",") if isinstance(value, str) else value
    scopes = sorted({item.strip() for item in items if item.strip()})
    unknown = [scope for scope in scopes if scope not in Scope.values]
    if unknown:
        raise UnknownScope(
            f"Unknown scope(s): {', '.join(unknown)}. Known: {', '.join(Scope.values)}.", unknown=unknown
        )
    return scopes


@transaction.atomic
def partner_key_create(
    *, partner: Partner, scopes: list[str], name: str = "default", expires_at: datetime.datetime | None = None
) -> tuple[PartnerAPIKey, str]:
    """Issue a new API key; returns the row and the plain key, which is shown once and never stored."""
    scopes = scopes_parse(scopes)
    api_key, key = PartnerAPIKey.objects.create_key(partner=partner, scopes=scopes, name=name, expiry_date=expires_at)
    return cast(PartnerAPIKey, api_key), key


def partner_key_revoke(*, api_key: PartnerAPIKey) -> None:
    """Revoke a key for good; requests with it get 401 from then on."""
    PartnerAPIKey.objects.filter(pk=api_key.pk).update(revoked=True)
    api_key.revoked = True


@transaction.atomic
def customer_interests_set(*, customer: Customer, interests: Iterable[Tag]) -> None:
    """Replace the customer's interests (tags customers may choose) with ``interests``; the
    staff-only tags stay as they are. Tags that are not interests are ignored."""
    chosen = {tag.pk for tag in interests if tag.is_interest}
    current = set(customer.tags.filter(is_interest=True).values_list("pk", flat=True))
    if chosen == current:
        return
    customer.tags.remove(*(current - chosen))
    customer.tags.add(*(chosen - current))
    now = timezone.now()
    Customer.objects.filter(pk=customer.pk).update(updated_at=now)
    customer.updated_at = now


def customer_tags_set_names(name: str) -> Tag:
    """The tag with this name (any case), created when missing."""
    tag = Tag.objects.filter(name__lower=name.strip().lower()).first()
    if tag is None:
        tag = Tag.objects.create(name=name.strip())
    return tag


# --- E-mail verification ---------------------------------------------------------------------------

EMAIL_VERIFY_SALT = "vastavuoro.portal.email-verify"


def email_verification_token_make(customer: Customer) -> str:
    """A signed token for the link that verifies ``customer``'s current address. It names the
    address, so a link sent before the address changed never verifies the new one; it expires
    after ``settings.EMAIL_VERIFY_MAX_AGE`` seconds."""
    payload = {"c": str(customer.public_id), "e": customer.email.lower()}
    return signing.dumps(payload, salt=EMAIL_VERIFY_SALT, compress=True)


def _email_verification_token_read(token: str) -> tuple[uuid.UUID, str] | None:
    try:
        data = signing.loads(token, salt=EMAIL_VERIFY_SALT, max_age=settings.EMAIL_VERIFY_MAX_AGE)
    except signing.BadSignature:  # forged, tampered or expired (SignatureExpired is one)
        return None
    if not isinstance(data, dict) or not isinstance(data.get("e"), str):
        return None
    try:
        return uuid.UUID(str(data.get("c"))), data["e"]
    except ValueError:
        return None


@transaction.atomic
def email_verification_send(*, customer: Customer, request_base_url: str) -> Message | None:
    """Queue the e-mail (purpose ``email_verify``, transactional) with a link that verifies the
    customer's address: ``request_base_url`` (the site as the visitor reached it; empty: the
    ``PUBLIC_BASE_URL``) plus ``/portal/verify/<token>/``. Returns the outbox row, or None and
    sends nothing when the address is verified already or the customer is not active.

    Each call makes a new link and queues a new message, so the callers limit how often a visitor
    may ask (``customers.portal.limits``). The message goes out after commit, through the outbox."""
    customer = Customer.objects.get(pk=customer.pk)
    if customer.email_verified_at is not None or customer.status != Customer.Status.ACTIVE:
        return None
    base_url = (request_base_url or settings.PUBLIC_BASE_URL).rstrip("/")
    link = base_url + reverse("portal:email-verify", args=[email_verification_token_make(customer)])
    return message_queue(
        customer=customer,
        purpose=MessagePurpose.EMAIL_VERIFY,
        idempotency_key=f"email-verify:{customer.public_id}:{uuid.uuid4().hex}",
        context={"link": link},
        is_marketing=False,
    )


@transaction.atomic
def customer_email_verify(*, customer: Customer) -> bool:
    """Record that the customer proved the address is theirs (they opened the verification link,
    a sign-in link, or a password reset link, all sent to it). Returns True when this call
    recorded it; a repeat changes nothing and returns False. From then on marketing e-mail is no
    longer held back for an unverified portal sign-up (``customers.outbox``)."""
    if customer.email_verified_at is not None:
        return False
    now = timezone.now()
    updated = Customer.objects.filter(pk=customer.pk, email_verified_at__isnull=True).update(
        email_verified_at=now, updated_at=now
    )
    if updated:
        customer.email_verified_at = now
        customer.updated_at = now
    return bool(updated)


def email_verification_confirm(*, token: str) -> Customer | None:
    """Verify the address a link from ``email_verification_send`` was made for. Returns the
    customer (verified now, or already before: opening the link again is harmless), or None when
    the token is forged, tampered with or expired, the customer is not active, or their address
    is no longer the one the link was sent to. Nothing is written then. One read, then at most
    the one conditional update of ``customer_email_verify``."""
    found = _email_verification_token_read(token)
    if found is None:
        return None
    public_id, email = found
    customer = Customer.objects.filter(public_id=public_id, status=Customer.Status.ACTIVE).first()
    if customer is None or customer.email.lower() != email:
        return None
    customer_email_verify(customer=customer)
    return customer
