"""Every write on customers, consents, tags, notes and partners goes through these functions."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any, cast

from django.db import IntegrityError, transaction
from django.utils import timezone

from customers.errors import CustomerErased, CustomerNotActive, EmailTaken, UnknownScope
from customers.models import (
    Channel,
    ConsentEvent,
    ConsentSource,
    Customer,
    Partner,
    PartnerAPIKey,
    Scope,
    SignupSource,
    StaffNote,
    Tag,
    User,
)
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
    and writes nothing. Consent changes are recorded as consent events.
    """
    customer = Customer.objects.select_for_update().get(pk=customer.pk)
    if customer.status == Customer.Status.ERASED:
        raise CustomerErased()
    changed: list[str] = []
    if email is not None:
        email = _normalise_email(email)
        if email.lower() != customer.email.lower():
            other = customer_get_by_email(email)
            if other is not None and other.pk != customer.pk:
                raise EmailTaken()
        if email != customer.email:
            customer.email = email
            changed.append("email")
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


def customer_tags_set_names(name: str) -> Tag:
    """The tag with this name (any case), created when missing."""
    tag = Tag.objects.filter(name__lower=name.strip().lower()).first()
    if tag is None:
        tag = Tag.objects.create(name=name.strip())
    return tag
