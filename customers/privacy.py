"""Privacy rights: everything held about a customer as one export, and erasure of their personal data.

``customers`` knows nothing of points, campaigns or referrals, so each app above it registers a
section from its ``AppConfig.ready()`` (``register_privacy_section``): an ``export`` callable that
returns that app's data about one customer (JSON-ready: strings, numbers, booleans, lists and
dicts; dates, decimals and UUIDs are serialised by ``customer_data_export_json``) and, optionally,
an ``erase`` callable that removes or anonymises that app's personal data about them while
keeping what the books need (ledger entries, purchase totals, referral rows).

``customer_data_export`` builds the whole export (the customers app's own sections first, then
the registered ones in ``order``) with a constant number of queries whatever the customer's
history. ``customer_erase`` runs every registered eraser and then anonymises the customer row,
its consents, tags, notes, messages, feedback and complaints and its portal login, in one
transaction; running it again changes nothing more.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from customers.models import (
    Channel,
    Complaint,
    ConsentEvent,
    ConsentSource,
    Customer,
    Feedback,
    Message,
    Segment,
    SegmentMember,
    StaffNote,
    User,
)
from customers.services import customer_consent_set

ExportCallable = Callable[[Customer], dict[str, Any] | list[Any]]
EraseCallable = Callable[[Customer], None]

EXPORT_FORMAT = "vastavuoro-customer-data"
EXPORT_VERSION = 1
# What replaces a text that must stay non-empty (a closed complaint keeps a resolution).
ERASED_TEXT = "[erased]"
ERASED_EMAIL_DOMAIN = "invalid"  # RFC 2606: never a real mailbox
SUPPRESSED_ERASED = "customer_erased"

# The keys of the customers app's own sections; a registered section may not take one.
CORE_KEYS = frozenset(
    {
        "export",
        "profile",
        "consent_history",
        "segments",
        "staff_notes",
        "messages",
        "feedback",
        "complaints",
    }
)


class ErasureSource(models.TextChoices):
    """Who asked for an erasure: recorded in the note left on the customer's page."""

    PORTAL = "portal", _("The customer, in the portal")
    ADMIN = "admin", _("Staff, in the admin")
    COMMAND = "command", _("A management command")


# --- the registry ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class PrivacySection:
    key: str
    order: int
    export: ExportCallable
    erase: EraseCallable | None


_sections: dict[str, PrivacySection] = {}


def register_privacy_section(
    *, key: str, order: int, export: ExportCallable, erase: EraseCallable | None = None
) -> None:
    """Add an app's section to the export and, with ``erase``, to erasure. Exports come in
    ``order`` (ties by ``key``); erasers run in the reverse order, the higher apps first, so
    erasure takes each app's rows before the points account and the account before the customer
    row: the order every writer takes them (a referral reward locks the referral, then the
    accounts, then the customer), so erasure never deadlocks with one. Lower apps take lower
    orders (loyalty 100, campaigns 200, referrals 300).

    ``export`` gets one customer and must read only that customer's rows, with a constant number
    of queries. ``erase`` runs inside ``customer_erase``'s transaction, must keep what the books
    need and must be safe to run twice. Registering a key again replaces the section, so a
    ``ready()`` that runs twice adds nothing; a key of the customers app's own sections is a
    configuration error."""
    if key in CORE_KEYS:
        raise ImproperlyConfigured(f"Privacy section {key!r} is one of the customers app's own sections.")
    _sections[key] = PrivacySection(key=key, order=order, export=export, erase=erase)


def privacy_sections() -> list[PrivacySection]:
    """The registered sections, in export and erasure order."""
    return sorted(_sections.values(), key=lambda section: (section.order, section.key))


# --- export ---------------------------------------------------------------------------------------


def iso(value: datetime.date | datetime.datetime | None) -> str | None:
    """A date or a moment as ISO 8601 (moments in UTC with their offset), None as None."""
    return None if value is None else value.isoformat()


def money(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _profile(customer: Customer) -> dict[str, Any]:
    return {
        "public_id": str(customer.public_id),
        "email": customer.email,
        "email_verified_at": iso(customer.email_verified_at),
        "first_name": customer.first_name,
        "last_name": customer.last_name,
        "phone": customer.phone,
        "birth_date": iso(customer.birth_date),
        "language": customer.language,
        "time_zone": customer.time_zone,
        "status": customer.status,
        "signup_source": customer.signup_source,
        "signed_up_through": customer.signup_partner.name if customer.signup_partner else None,
        "signed_up_at": iso(customer.created_at),
        "updated_at": iso(customer.updated_at),
        "preferred_reward_kind": customer.preferred_reward_kind,
        "email_consent": customer.email_consent,
        "email_consent_changed_at": iso(customer.email_consent_at),
        "sms_consent": customer.sms_consent,
        "sms_consent_changed_at": iso(customer.sms_consent_at),
        "tags": sorted(tag.name for tag in customer.tags.all()),
        "has_portal_login": customer.user_id is not None,
    }


def _consent_history(customer: Customer) -> list[dict[str, Any]]:
    events = ConsentEvent.objects.filter(customer=customer).select_related("partner").order_by("recorded_at", "id")
    return [
        {
            "channel": event.channel,
            "granted": event.is_granted,
            "source": event.source,
            "partner": event.partner.name if event.partner else None,
            "recorded_at": iso(event.recorded_at),
        }
        for event in events
    ]


def _segments(customer: Customer) -> list[dict[str, Any]]:
    members = SegmentMember.objects.filter(customer=customer).select_related("segment").order_by("added_at", "id")
    return [{"segment": member.segment.name, "added_at": iso(member.added_at)} for member in members]


def _staff_notes(customer: Customer) -> list[dict[str, Any]]:
    # The note is about the customer; who wrote it is the staff member's own data, left out.
    notes = StaffNote.objects.filter(customer=customer).order_by("created_at", "id")
    return [{"text": note.text, "created_at": iso(note.created_at)} for note in notes]


def _messages(customer: Customer) -> list[dict[str, Any]]:
    messages = Message.objects.filter(customer=customer).order_by("created_at", "id")
    return [
        {
            "purpose": message.purpose,
            "channel": message.channel,
            "marketing": message.is_marketing,
            "status": message.status,
            "not_sent_because": message.suppressed_reason,
            "to": message.to_address,
            "language": message.language,
            "subject": message.subject,
            "body": message.body,
            "created_at": iso(message.created_at),
            "sent_at": iso(message.sent_at),
        }
        for message in messages
    ]


def _feedback(customer: Customer) -> list[dict[str, Any]]:
    answers = Feedback.objects.filter(customer=customer).order_by("created_at", "id")
    return [
        {
            "survey": answer.source_key,
            "scale": answer.scale,
            "score": answer.score,
            "comment": answer.comment,
            "language": answer.language,
            "reward_points": answer.reward_points,
            "created_at": iso(answer.created_at),
        }
        for answer in answers
    ]


def _complaints(customer: Customer) -> list[dict[str, Any]]:
    complaints = Complaint.objects.filter(customer=customer).order_by("created_at", "id")
    return [
        {
            "subject": complaint.subject,
            "description": complaint.description,
            "status": complaint.status,
            "source": complaint.source,
            "resolution": complaint.resolution,
            "created_at": iso(complaint.created_at),
            "closed_at": iso(complaint.resolved_at),
        }
        for complaint in complaints
    ]


def customer_data_export(customer: Customer) -> dict[str, Any]:
    """Everything held about ``customer``: the profile (with tags), the consent history, segment
    memberships, staff notes, messages, feedback and complaints, then every registered section
    under its key. Reads only this customer's rows; a constant number of queries (eight here,
    plus each section's own constant share), whatever the number of rows."""
    customer = Customer.objects.select_related("signup_partner").prefetch_related("tags").get(pk=customer.pk)
    data: dict[str, Any] = {
        "export": {
            "format": EXPORT_FORMAT,
            "version": EXPORT_VERSION,
            "generated_at": iso(timezone.now()),
            "customer": str(customer.public_id),
        },
        "profile": _profile(customer),
        "consent_history": _consent_history(customer),
        "segments": _segments(customer),
        "staff_notes": _staff_notes(customer),
        "messages": _messages(customer),
        "feedback": _feedback(customer),
        "complaints": _complaints(customer),
    }
    for section in privacy_sections():
        data[section.key] = section.export(customer)
    return data


def customer_data_export_json(customer: Customer) -> str:
    """``customer_data_export`` as indented JSON (UTF-8 text, not escaped to ASCII)."""
    return json.dumps(customer_data_export(customer), cls=DjangoJSONEncoder, ensure_ascii=False, indent=2)


def customer_data_filename(*, customer: Customer | None = None, day: datetime.date | None = None) -> str:
    """``vastavuoro-data-<date>.json``, dated today in the programme's time zone; with
    ``customer`` (staff export several) ``vastavuoro-data-<public id>-<date>.json``."""
    who = f"{customer.public_id}-" if customer is not None else ""
    return f"vastavuoro-data-{who}{(day or timezone.localdate()).isoformat()}.json"


# --- erasure --------------------------------------------------------------------------------------


def erased_email(customer: Customer) -> str:
    """The address an erased customer keeps: unique (their public id) and never deliverable."""
    return f"erased-{customer.public_id}@{ERASED_EMAIL_DOMAIN}"


def _erasure_note(source: str) -> str:
    # Stored text, like a ledger reason: written once, read by staff on the customer's page.
    if source == ErasureSource.PORTAL:
        return "Personal data erased at the customer's request (portal)."
    if source == ErasureSource.ADMIN:
        return "Personal data erased by staff (admin)."
    return "Personal data erased (management command)."


def _profile_erase(customer: Customer, now: datetime.datetime) -> None:
    blank: dict[str, Any] = {
        "email": erased_email(customer),
        "email_verified_at": None,
        "first_name": "",
        "last_name": "",
        "phone": "",
        "birth_date": None,
        "birth_date_changed_at": None,
        "time_zone": "",
        "preferred_reward_kind": "",
        "status": Customer.Status.ERASED,
    }
    changed = {name: value for name, value in blank.items() if getattr(customer, name) != value}
    if not changed:
        return
    Customer.objects.filter(pk=customer.pk).update(**changed, updated_at=now)
    for name, value in changed.items():
        setattr(customer, name, value)
    customer.updated_at = now


def _segments_leave(customer: Customer) -> None:
    """Leave every segment; the counts of the segments left go down at once (a refresh would
    recount them anyway: erased customers are never members)."""
    segment_ids = list(SegmentMember.objects.filter(customer=customer).values_list("segment_id", flat=True))
    if not segment_ids:
        return
    SegmentMember.objects.filter(customer=customer).delete()
    Segment.objects.filter(pk__in=segment_ids, member_count__gt=0).update(member_count=F("member_count") - 1)


def _messages_erase(customer: Customer) -> None:
    """Nothing waiting goes out (marketing or not: there is no one to send it to), and no copy of
    what was sent is kept; purpose, channel, status and dates stay for the records."""
    Message.objects.filter(customer=customer, status=Message.Status.PENDING).update(
        status=Message.Status.SUPPRESSED, suppressed_reason=SUPPRESSED_ERASED, lease_until=None
    )
    Message.objects.filter(customer=customer).exclude(to_address="", subject="", body="", error="").update(
        to_address="", subject="", body="", error=""
    )


def _feedback_erase(customer: Customer, now: datetime.datetime) -> None:
    """Comments go, scores stay (they count in the averages). Open complaints are closed, since
    nobody can be answered any more; every complaint loses its texts."""
    Feedback.objects.filter(customer=customer).exclude(comment="").update(comment="", updated_at=now)
    Complaint.objects.filter(customer=customer, resolved_at__isnull=True).update(
        status=Complaint.Status.REJECTED, resolved_at=now, resolution=ERASED_TEXT, updated_at=now
    )
    Complaint.objects.filter(customer=customer).exclude(
        subject=ERASED_TEXT, description="", resolution=ERASED_TEXT
    ).update(subject=ERASED_TEXT, description="", resolution=ERASED_TEXT, updated_at=now)


def _login_erase(customer: Customer, *, first_time: bool) -> None:
    """Deactivate the portal login. A new unusable password changes the session hash, so every
    session of the login ends at its next request (an inactive user is not signed in either);
    magic links check ``is_active`` and ``last_login`` and stop working too."""
    if customer.user_id is None:
        return
    user = User.objects.get(pk=customer.user_id)
    fields = [
        name
        for name, value in (("is_active", False), ("email", ""), ("first_name", ""), ("last_name", ""))
        if getattr(user, name) != value
    ]
    for name in fields:
        setattr(user, name, False if name == "is_active" else "")
    if first_time or user.has_usable_password():
        user.set_unusable_password()
        fields.append("password")
    if fields:
        user.save(update_fields=fields)


@transaction.atomic
def customer_erase(*, customer: Customer, by: User | None = None, source: str) -> Customer:
    """Erase a customer's personal data (the right to erasure), keeping what the books need.

    In one transaction: every registered eraser runs first, the highest app first (referrals and
    campaigns clear their texts and close what is open, then loyalty cancels the open vouchers),
    taking the rows in the order every other writer takes them (see ``register_privacy_section``).
    Then, holding the customer row: the e-mail becomes ``erased-<public id>@invalid``; names,
    phone, birth date, time zone and preferred reward are cleared; both marketing consents are
    withdrawn (``ConsentEvent`` rows, source ``erasure``, by ``by``); tags and segment memberships
    go; waiting messages are suppressed and every message loses its address and text; feedback
    comments and complaint texts are cleared and open complaints closed; the portal login is
    deactivated with an unusable password (its sessions end); the status becomes ``erased``.
    The first erasure also replaces the staff notes with one note saying who asked and how.

    Purchases, refunds, ledger entries and points stay: ``verify_ledger`` still adds up.
    Running it again changes nothing more (each step only touches what is not erased yet), so
    it also cleans up anything written for the customer after a first erasure. Returns the
    customer as it now is. ``source`` is an ``ErasureSource``; another value is a ``ValueError``.
    """
    if source not in ErasureSource.values:
        raise ValueError(f"unknown erasure source {source!r}")
    for section in reversed(privacy_sections()):
        if section.erase is not None:
            section.erase(customer)

    customer = Customer.objects.select_for_update().get(pk=customer.pk)
    now = timezone.now()
    first_time = customer.email != erased_email(customer)
    if first_time:
        StaffNote.objects.filter(customer=customer).delete()
        StaffNote.objects.create(customer=customer, author=by, text=_erasure_note(source))
    _profile_erase(customer, now)
    for channel in (Channel.EMAIL, Channel.SMS):
        customer_consent_set(customer=customer, channel=channel, granted=False, source=ConsentSource.ERASURE, by=by)
    if customer.tags.exists():
        customer.tags.clear()
    _segments_leave(customer)
    _messages_erase(customer)
    _feedback_erase(customer, now)
    _login_erase(customer, first_time=first_time)
    return customer
